"""Versions of shared state in the database: one process changes reference data and bumps its version, every
other process sees the new number and reloads (issue 19). Replaces per-process TTLs, which leave each web
process stale for up to the TTL and different from its neighbours.

    bump(uow, "catalog")            # in the transaction that changed the catalogue
    current(db, "catalog")          # the number now (0 when never bumped)
    cache = VersionedCache("catalog", loader)   # cache.get(db): reloads when the version moved

`VersionedCache` asks the database for the version at most every `check_s` seconds (one indexed primary-key
read), so a change is seen everywhere within that time without restarting anything.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from kotapintar.core.db.database import Database
from kotapintar.core.db.shared_models import SharedVersion
from kotapintar.core.db.uow import UnitOfWork
from kotapintar.core.events.types import utcnow

T = TypeVar("T")


def bump(uow: UnitOfWork, name: str) -> int:
    """Move the version of `name` on, in the caller's transaction (visible to others when it commits)."""
    session = uow.session
    now = utcnow()
    moved = session.execute(
        update(SharedVersion)
        .where(SharedVersion.name == name)
        .values(version=SharedVersion.version + 1, changed_at=now)
        .returning(SharedVersion.version)
    ).scalar()
    if moved is not None:
        return int(moved)
    try:
        with session.begin_nested():
            session.add(SharedVersion(name=name, version=1, changed_at=now))
        return 1
    except IntegrityError:  # another process created it at the same moment: move it on
        return bump(uow, name)


def current(db: Database | UnitOfWork, name: str) -> int:
    """The version of `name` now (0 when never bumped)."""
    if isinstance(db, UnitOfWork):
        return int(db.session.scalar(select(SharedVersion.version).where(SharedVersion.name == name)) or 0)
    with db.reading() as uow:
        return current(uow, name)


class VersionedCache(Generic[T]):
    """One value per process, reloaded by `loader` when the named version in the database has moved."""

    def __init__(self, name: str, loader: Callable[[Database], T], check_s: float = 1.0) -> None:
        self.name, self.loader, self.check_s = name, loader, check_s
        self._lock = threading.Lock()
        self._value: T | None = None
        self._version = -1
        self._checked = 0.0

    def get(self, db: Database) -> T:
        """The cached value, reloaded first when another process bumped the version."""
        now = time.monotonic()
        if self._value is not None and now - self._checked < self.check_s:
            return self._value
        with self._lock:
            version = current(db, self.name)
            self._checked = now
            if self._value is None or version != self._version:
                self._value, self._version = self.loader(db), version
            return self._value

    def invalidate(self) -> None:
        """Drop the value in this process (the next `get` reloads)."""
        with self._lock:
            self._value, self._version = None, -1
