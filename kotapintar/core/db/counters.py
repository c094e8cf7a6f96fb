"""A `limits` storage in the application's PostgreSQL database (issue 19): rate limits and failed-login
counts shared by every web process without Redis.

`rate_limit_storage_url = kotapintar+postgresql://user:pass@host:5432/db` (the database URL with this
scheme). Moving windows only (what the login throttle and the report limits use): each hit is a row; a
check counts the rows of the key inside the window under a transaction-scoped advisory lock on the key, so
two processes cannot both take the last slot. Old rows are deleted as keys are hit.
"""

from __future__ import annotations

import time
from typing import Any

from limits.storage import MovingWindowSupport, Storage
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from kotapintar.core.db.leader import lock_key

SCHEME = "kotapintar+postgresql"


class PostgresCounterStorage(Storage, MovingWindowSupport):
    """Moving-window rate-limit entries as rows of `rate_limit_hits`."""

    STORAGE_SCHEME = [SCHEME]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: Any) -> None:
        url = make_url((uri or "").replace(SCHEME, "postgresql+psycopg", 1))
        self.engine: Engine = create_engine(url, pool_size=5, max_overflow=5, pool_pre_ping=True)
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        """Errors of the database driver."""
        return SQLAlchemyError

    def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        """Take `amount` entries of the window when there is room; False when the limit is reached."""
        if amount > limit:
            return False
        now = time.time()
        with self.engine.begin() as conn:
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": lock_key(f"limits:{key}")})
            conn.execute(
                text("DELETE FROM rate_limit_hits WHERE key = :key AND at <= :old"),
                {"key": key, "old": now - expiry},
            )
            used = conn.execute(
                text("SELECT count(*) FROM rate_limit_hits WHERE key = :key"), {"key": key}
            ).scalar_one()
            if used + amount > limit:
                return False
            conn.execute(
                text("INSERT INTO rate_limit_hits (key, at) VALUES (:key, :at)"),
                [{"key": key, "at": now}] * amount,
            )
        return True

    def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        """(start of the window = the oldest entry in it, entries in it)."""
        now = time.time()
        with self.engine.connect() as conn:
            oldest, count = conn.execute(
                text("SELECT min(at), count(*) FROM rate_limit_hits WHERE key = :key AND at > :old"),
                {"key": key, "old": now - expiry},
            ).one()
        return (float(oldest), int(count)) if count else (now, 0)

    # Fixed-window operations: not used by Kotapintar's moving windows; kept honest rather than faked.
    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        """Add `amount` entries now and return the entries in the window."""
        with self.engine.begin() as conn:
            conn.execute(
                text("INSERT INTO rate_limit_hits (key, at) VALUES (:key, :at)"),
                [{"key": key, "at": time.time()}] * amount,
            )
        return self.get_moving_window(key, 0, expiry)[1]

    def get(self, key: str) -> int:
        """Entries ever counted for `key` (not yet deleted)."""
        with self.engine.connect() as conn:
            return int(
                conn.execute(
                    text("SELECT count(*) FROM rate_limit_hits WHERE key = :key"), {"key": key}
                ).scalar_one()
            )

    def get_expiry(self, key: str) -> float:
        """Moving windows have no single expiry: now."""
        return time.time()

    def check(self) -> bool:
        """Whether the database answers."""
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except SQLAlchemyError:
            return False

    def reset(self) -> int | None:
        """Forget every count."""
        with self.engine.begin() as conn:
            return int(conn.execute(text("DELETE FROM rate_limit_hits")).rowcount or 0)

    def clear(self, key: str) -> None:
        """Forget the counts of `key`."""
        with self.engine.begin() as conn:
            conn.execute(text("DELETE FROM rate_limit_hits WHERE key = :key"), {"key": key})
