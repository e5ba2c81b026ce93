"""`drkit keys digest --key-file PATH < secret`: the spec's `key_digest` of a team key.

The digest is HMAC-SHA256 of the key under the deployment's team-key secret (drkit/core/keys.py),
the same function the router runs. Neither the key nor the secret is ever an argument (argv is
visible to every user of the machine in `ps` and lands in shell history): the secret comes on
stdin, e.g. straight from Secrets Manager, and the key from a file or a process substitution::

    aws secretsmanager get-secret-value --secret-id drkit/fraud-tier1/team-keys \\
        --query SecretString --output text | drkit keys digest --key-file card-auth.key

Only the digest is written to stdout.
"""

from __future__ import annotations

import argparse
import sys
from typing import BinaryIO

from drkit.core.errors import DrkitError
from drkit.core.keys import check_secret, key_digest

SECRET_MAX_BYTES = 65_536  # Secrets Manager's SecretString limit (CreateSecret API reference)
KEY_MAX_BYTES = 4096  # a header value; API Gateway caps a request's headers at 10 KB


def _one_line(data: bytes) -> bytes:
    """`data` without one trailing newline (what `--output text`, echo and editors add)."""
    for ending in (b"\r\n", b"\n"):
        if data.endswith(ending):
            return data[: -len(ending)]
    return data


def read_capped(stream: BinaryIO, limit: int, what: str) -> bytes:
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise DrkitError(f"{what}: more than {limit} bytes; valid: at most {limit}")
    return _one_line(data)


def read_key(path: str) -> str:
    """The team key in `path`: one line of printable ASCII (it travels in the x-drkit-key header)."""
    if path == "-":
        raise DrkitError("--key-file: '-' is not allowed, stdin carries the secret; give a file or <(command)")
    try:
        with open(path, "rb") as handle:
            raw = read_capped(handle, KEY_MAX_BYTES, f"--key-file {path}")
    except OSError as exc:
        raise DrkitError(f"--key-file {path}: {exc.strerror or exc}") from None
    if not raw or any(b < 0x21 or b > 0x7E for b in raw):
        raise DrkitError(
            f"--key-file {path}: the key must be one line of 1-{KEY_MAX_BYTES} printable ASCII characters without spaces "
            "(it is sent as the x-drkit-key header)"
        )
    return raw.decode("ascii")


def run(args: argparse.Namespace, stdin: BinaryIO | None = None) -> int:
    stream = stdin if stdin is not None else sys.stdin.buffer
    if stdin is None and sys.stdin.isatty():
        raise DrkitError("stdin: the team-key secret must be piped in (e.g. from `aws secretsmanager get-secret-value`)")
    key = read_key(args.key_file)
    secret = read_capped(stream, SECRET_MAX_BYTES, "stdin (the team-key secret)")
    try:
        check_secret(secret)
    except ValueError as exc:
        raise DrkitError(f"stdin: {exc}") from None
    print(key_digest(key, secret))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    keys = subparsers.add_parser("keys", help="team key digests for the spec's teams[].key_digest")
    actions = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    digest = actions.add_parser(
        "digest",
        help="HMAC-SHA256 of a team key under the team-key secret (secret on stdin, never an argument)",
        description="Print the key_digest of the key in --key-file, keyed by the secret read from stdin.",
    )
    digest.add_argument("--key-file", required=True, help="file holding the team key (one line); <(cmd) works too")
    digest.set_defaults(func=run)
