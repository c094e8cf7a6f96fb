"""Checking that a webhook really comes from the provider: HMAC-SHA256 signatures and shared secrets."""

from __future__ import annotations

import hashlib
import hmac


def hmac_sha256_hex(secret: str, body: bytes) -> str:
    """Hex HMAC-SHA256 of the raw request body."""
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def valid_hmac(secret: str | None, body: bytes, given: str | None, *, prefix: str = "") -> bool:
    """True when `given` (optionally `sha256=`-prefixed) is the body's HMAC; False without a secret."""
    if not secret or not given:
        return False
    given = given.strip()
    if prefix:
        if not given.startswith(prefix):
            return False
        given = given[len(prefix) :]
    return hmac.compare_digest(hmac_sha256_hex(secret, body), given.lower())


def valid_secret(secret: str | None, given: str | None) -> bool:
    """True when a shared secret header matches (constant-time); False without a configured secret."""
    return bool(secret) and given is not None and hmac.compare_digest(str(secret), given)
