"""`drkit keys digest`: the spec's key_digest, with the secret on stdin and never in argv."""

from __future__ import annotations

import hashlib
import hmac
import io
import sys
from pathlib import Path
from typing import Any

import pytest

from drkit.cli import main
from drkit.core.keys import key_digest

SECRET = b"Zm9yIHRlc3RzIG9ubHk6IGEgNDgtYnl0ZSB0ZWFtLWtleSBzZWNyZXQhIQ=="


class _Stdin:
    """sys.stdin with a binary buffer, as a pipe gives it."""

    def __init__(self, data: bytes) -> None:
        self.buffer = io.BytesIO(data)

    def isatty(self) -> bool:
        return False


def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], argv: list[str], stdin: bytes) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "stdin", _Stdin(stdin))
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_digest_is_rfc2104_hmac_sha256_of_the_key_under_the_piped_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    key_file = tmp_path / "card-auth.key"
    key_file.write_text("card-auth-key-0001\n")
    # `aws ... --output text` ends the secret with a newline: one is dropped, as from the key file.
    code, out, err = run(monkeypatch, capsys, ["keys", "digest", "--key-file", str(key_file)], SECRET + b"\n")
    assert (code, err) == (0, "")
    assert out == hmac.new(SECRET, b"card-auth-key-0001", hashlib.sha256).hexdigest() + "\n"
    assert out.strip() == key_digest("card-auth-key-0001", SECRET)  # what the router computes


def test_the_secret_cannot_be_given_as_an_argument(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["keys", "digest", "--key-file", "k", "--secret", SECRET.decode()])
    assert exc.value.code == 2
    assert "unrecognized arguments: --secret" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("key_text", "stdin", "message"),
    [
        ("k1", b"short", "drkit: error: stdin: the team-key secret has 5 bytes; use at least 32 (e.g. `openssl rand -base64 48`)\n"),
        ("k1", b"x" * 70_000, "drkit: error: stdin (the team-key secret): more than 65536 bytes; valid: at most 65536\n"),
        ("two words", SECRET, "the key must be one line of 1-4096 printable ASCII characters without spaces"),
        ("", SECRET, "the key must be one line of 1-4096 printable ASCII characters without spaces"),
    ],
    ids=["short secret", "oversized secret", "key with a space", "empty key"],
)
def test_bad_inputs_are_one_line_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], key_text: str, stdin: bytes, message: str
) -> None:
    key_file = tmp_path / "team.key"
    key_file.write_text(key_text)
    code, out, err = run(monkeypatch, capsys, ["keys", "digest", "--key-file", str(key_file)], stdin)
    assert (code, out) == (2, "")
    assert message in err and err.count("\n") == 1


def test_key_file_dash_is_refused_because_stdin_is_the_secret(monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    code, _, err = run(monkeypatch, capsys, ["keys", "digest", "--key-file", "-"], SECRET)
    assert code == 2 and "--key-file: '-' is not allowed, stdin carries the secret" in err
