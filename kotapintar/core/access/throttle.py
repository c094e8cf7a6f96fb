"""Brute-force protection of the login: failed attempts counted per account and per address.

After `ACCOUNT_FAILURES` wrong passwords for one username (or `ADDRESS_FAILURES` from one address) within
`WINDOW`, every login of that account (address) is refused with 429 and Retry-After until the window moves
on, even with the right password; the refusal is logged as an event (`login_throttled`). Counts live in
memory (`limits`, one process); a deployment with several web processes gives them a shared storage.
"""

from __future__ import annotations

import hashlib
import math
import time
from functools import lru_cache

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

from kotapintar.core.db import counters as _pg_counters  # registers kotapintar+postgresql:// (issue 19)
from kotapintar.core.errors import DomainError

ACCOUNT_FAILURES = 5
ADDRESS_FAILURES = 20
WINDOW = "15 minutes"


class LoginThrottled(DomainError):
    """Too many failed logins for this account or from this address; `retry_after_s` says when to retry."""

    code = "login_throttled"
    http_status = 429


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()[:32]


class LoginThrottle:
    """Moving windows of failed logins per account and per address."""

    def __init__(self, storage: Storage | None = None) -> None:
        self.storage = storage or MemoryStorage()
        self.strategy = MovingWindowRateLimiter(self.storage)
        self.account = parse(f"{ACCOUNT_FAILURES}/{WINDOW}")
        self.address = parse(f"{ADDRESS_FAILURES}/{WINDOW}")

    def _keys(self, username: str, address: str | None) -> list[tuple[RateLimitItem, str, str]]:
        keys: list[tuple[RateLimitItem, str, str]] = [
            (self.account, "login-account", _digest(username.strip().lower()))
        ]
        if address:
            keys.append((self.address, "login-address", _digest(address)))
        return keys

    def blocked_for(self, username: str, address: str | None) -> tuple[str, int] | None:
        """(scope, seconds to wait) when this login must be refused now, else None."""
        for item, scope, key in self._keys(username, address):
            if not self.strategy.test(item, scope, key):
                reset_at, _ = self.strategy.get_window_stats(item, scope, key)
                return scope, max(1, math.ceil(reset_at - time.time()))
        return None

    def failed(self, username: str, address: str | None) -> None:
        """Count one failed attempt."""
        for item, scope, key in self._keys(username, address):
            self.strategy.hit(item, scope, key)

    def reset(self) -> None:
        """Forget every count (tests, or an administrator after an incident)."""
        self.storage.reset()


def login_throttle(storage_url: str = "memory://") -> LoginThrottle:
    """The process-wide login throttle of a storage (`memory://` or a shared one such as `redis://…`)."""
    return _login_throttle(storage_url)


@lru_cache(maxsize=4)
def _login_throttle(storage_url: str) -> LoginThrottle:
    # One instance per URL, however the caller spelled the call (lru_cache keys on the arguments given).
    return LoginThrottle(counter_storage(storage_url))


def counter_storage(url: str) -> Storage | None:
    """The `limits` storage of a URL (None: this process's memory); redis:// needs the `redis` extra;
    kotapintar+postgresql://… keeps the counts in the application's PostgreSQL database."""
    assert _pg_counters.SCHEME
    if url == "memory://":
        return None
    storage = storage_from_string(url)
    if not isinstance(storage, Storage):
        raise ValueError(f"{url} is not a synchronous limits storage")
    return storage
