"""Team key digests: HMAC-SHA256 of a team's API key under a secret the operator keeps in each region.

Why keyed: an unsalted SHA-256 of a key ships inside the router's bundle, so a leaked bundle lets
anyone test guesses offline. With HMAC the digest is worthless without the secret, which lives in
Secrets Manager (one secret per region, or one replicated secret) and is read by the router at
cold start; the spec names it (``team_key_secret``) and stores only the digests.

Stdlib only: this module is packaged into the router Lambda.
"""

from __future__ import annotations

import hashlib
import hmac
import re

MIN_SECRET_BYTES = 32  # 256 bits, the size of the HMAC-SHA256 output (RFC 2104 §3: at least L bytes)
DIGEST = re.compile(r"^[0-9a-f]{64}$")


def check_secret(secret: bytes) -> bytes:
    """`secret` when it is long enough to key the digests; ValueError naming the minimum otherwise."""
    if len(secret) < MIN_SECRET_BYTES:
        raise ValueError(
            f"the team-key secret has {len(secret)} bytes; use at least {MIN_SECRET_BYTES} "
            "(e.g. `openssl rand -base64 48`)"
        )
    return secret


def key_digest(key: str, secret: bytes) -> str:
    """Lowercase hex HMAC-SHA256 of `key` (UTF-8) under `secret`: what the spec stores instead of the key.

    A key holding a lone surrogate (no real key does) is encoded with surrogatepass, so it is refused
    like any wrong key instead of raising."""
    return hmac.new(check_secret(secret), key.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()
