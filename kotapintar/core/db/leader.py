"""One holder among many processes: a PostgreSQL session advisory lock kept on a connection of its own.

Work that must run in exactly one copy at a time although any number of copies are started (the notifier's
outbox cursor, the MQTT unit subscriber) runs while its process holds the lock. When the holder dies its
connection closes, the server releases the lock and a standby copy takes over on its next try. SQLite is
one machine and, by the settings' promise, one process: the lock is always granted there.
"""

from __future__ import annotations

import hashlib
import logging

from sqlalchemy import Connection, text

from kotapintar.core.db.database import Database

log = logging.getLogger(__name__)


def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory-lock key for `name`."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True)


class LeaderLock:
    """`held()` is True while this process holds the named lock (taking it when free)."""

    def __init__(self, db: Database, name: str) -> None:
        self.db, self.name, self.key = db, name, lock_key(f"kotapintar:{name}")
        self._conn: Connection | None = None

    def held(self) -> bool:
        """Hold the lock: keep it when held (checking the connection is alive), take it when free."""
        if not self.db.is_postgres:
            return True
        try:
            if self._conn is not None:
                self._conn.execute(text("SELECT 1"))
                self._conn.commit()
                return True
            conn = self.db.engine.connect()
            got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self.key}).scalar())
            conn.commit()
            if not got:
                conn.close()
                return False
            self._conn = conn
            log.info("holding the %s lock", self.name)
            return True
        except Exception:  # the server went away: the lock went with the connection
            log.warning("lost the %s lock (database unreachable)", self.name)
            self._drop()
            return False

    def release(self) -> None:
        """Give the lock up (closing the connection releases it)."""
        self._drop()

    def _drop(self) -> None:
        if self._conn is not None:
            try:
                self._conn.invalidate()
                self._conn.close()
            except Exception:  # already broken
                log.debug("closing the %s lock connection failed", self.name, exc_info=True)
            self._conn = None
