"""Versions of shared state in the database: one process changes reference data and bumps its version, every
other process sees the new number and reloads (issue 19). Replaces per-process TTLs, which leave each web
process stale for up to the TTL and different from its neighbours.

    bump(uow, "catalog")            # in the transaction that changed the catalogue
    current(db, "catalog")          # the number now (0 when never bumped)
    cache = VersionedCache(CATALOGUE, loader)   # cache.get(db): reloads when the version moved

`VersionedCache` reads its versions on every `get` (one indexed query on a table of a few rows, about what
a connection checkout costs), so the request after a commit sees the change in every process: there is no
TTL to wait out. Only data staff can change needs this; shipped files and compiled code stay cached for
the life of the process.

A unit of work that consults several caches (intake asks the catalogue, the triage context and the region
index twice for one report) pins the versions once instead, in a transaction it opens anyway:

    with db.reading() as uow, pinned(db, uow):
        ...                                     # every cache.get(db) in here uses that one read

The pin lives for that block only (a context variable: per thread and per task), so the next request reads
the versions again and still sees a bump another process committed just before it (issue 19 item 4: on
PostgreSQL each separate version read cost a connection checkout, BEGIN, SELECT and ROLLBACK).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Hashable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Generic, TypeVar

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kotapintar.core.db.database import Database
from kotapintar.core.db.shared_models import SharedVersion
from kotapintar.core.db.uow import UnitOfWork
from kotapintar.core.events.types import utcnow

T = TypeVar("T")

# The kinds of reference data whose changes every process must see at once (issue 21): the region index, the
# triage context (agencies and services), units, and the stored road network.
REGIONS = "regions"
CATALOGUE = "catalogue"
UNITS = "units"
ROADS = "roads"
# Sensor devices (registered, re-keyed, disabled) and what triage learns besides the catalogue: imported
# places and routing overrides (issue 19).
SENSORS = "sensors"
TRIAGE = "triage"


def _session(where: UnitOfWork | Session) -> Session:
    return where.session if isinstance(where, UnitOfWork) else where


def bump(uow: UnitOfWork | Session, name: str) -> int:
    """Move the version of `name` on, in the caller's transaction (visible to others when it commits)."""
    session = _session(uow)
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


def current(db: Database | UnitOfWork | Session, name: str) -> int:
    """The version of `name` now (0 when never bumped)."""
    if not isinstance(db, Database):
        return int(_session(db).scalar(select(SharedVersion.version).where(SharedVersion.name == name)) or 0)
    with db.reading() as uow:
        return current(uow, name)


def current_many(db: Database | UnitOfWork | Session, names: Sequence[str]) -> tuple[int, ...]:
    """The versions of `names` in one query, in the order given (0 for a name never bumped)."""
    if isinstance(db, Database):
        with db.reading() as uow:
            return current_many(uow, names)
    rows = _session(db).execute(
        select(SharedVersion.name, SharedVersion.version).where(SharedVersion.name.in_(list(names)))
    )
    found = {name: int(version) for name, version in rows}
    return tuple(found.get(name, 0) for name in names)


def current_all(db: Database | UnitOfWork | Session) -> dict[str, int]:
    """Every version there is, in one query (the table holds a row per kind of shared data: a few rows)."""
    if isinstance(db, Database):
        with db.reading() as uow:
            return current_all(uow)
    rows = _session(db).execute(select(SharedVersion.name, SharedVersion.version))
    return {name: int(version) for name, version in rows}


# The versions pinned for the unit of work running in this thread or task: (database, versions by name).
_pinned: ContextVar[tuple[Database, dict[str, int]] | None] = ContextVar("kp_pinned_versions", default=None)


@contextmanager
def pinned(db: Database, where: UnitOfWork | Session | None = None) -> Iterator[dict[str, int]]:
    """Read the versions once (in `where`'s transaction when given) and let every `VersionedCache.get(db)`
    inside the block use them instead of reading them again.

    For one request or command that asks several caches: one query instead of one short transaction per
    `get`. Cross-process invalidation is unchanged between units of work (each pins afresh); inside the
    block a bump committed meanwhile is seen by the next unit of work, as it would have been a moment later.
    A block nested in another re-reads (and pins) the versions; other databases are not affected.
    """
    found = current_all(where if where is not None else db)
    token = _pinned.set((db, found))
    try:
        yield found
    finally:
        _pinned.reset(token)


def _stamp(db: Database, names: tuple[str, ...]) -> tuple[int, ...]:
    """The versions of `names` for `db`: the pinned ones inside `pinned(db)`, else read now."""
    pin = _pinned.get()
    if pin is not None and pin[0] is db:
        return tuple(pin[1].get(name, 0) for name in names)
    return current_many(db, names)


class VersionedCache(Generic[T]):
    """Values built from the database, kept per `Database` (and per `key`) until one of `names` moves.

    Keyed by the `Database` object, not its URL: two in-memory SQLite databases share a URL, and a test that
    runs two app instances on one PostgreSQL database gets two independent caches, like two processes.
    """

    def __init__(self, names: str | Sequence[str], loader: Callable[[Database], T] | None = None) -> None:
        self.names: tuple[str, ...] = (names,) if isinstance(names, str) else tuple(names)
        self.loader = loader
        self._lock = threading.Lock()  # guards the dictionaries
        self._loading = threading.Lock()  # one build at a time: a miss under load builds once, not per thread
        self._values: weakref.WeakKeyDictionary[Database, dict[Hashable, tuple[tuple[int, ...], T]]] = (
            weakref.WeakKeyDictionary()
        )

    def get(self, db: Database, key: Hashable = None, load: Callable[[], T] | None = None) -> T:
        """The value of `db` (and `key`), built by `load` (default: the cache's loader) when missing or when
        another process (or this one) bumped one of the versions since it was built (the versions pinned by
        an enclosing `pinned(db)`, else read now)."""
        stamp = _stamp(db, self.names)
        hit = self._hit(db, key, stamp)
        if hit is not None:
            return hit[1]
        with self._loading:
            hit = self._hit(db, key, stamp)
            if hit is not None:
                return hit[1]
            if load is None:
                if self.loader is None:
                    raise TypeError("VersionedCache.get needs `load` when the cache has no loader")
                value = self.loader(db)
            else:
                value = load()
            with self._lock:
                # The versions were read before the data, so the data is at least as new as the stamp: a
                # change committed in between only causes one more rebuild on the next get.
                self._values.setdefault(db, {})[key] = (stamp, value)
        return value

    def _hit(self, db: Database, key: Hashable, stamp: tuple[int, ...]) -> tuple[tuple[int, ...], T] | None:
        with self._lock:
            hit = self._values.get(db, {}).get(key)
        return hit if hit is not None and hit[0] == stamp else None

    def invalidate(self, db: Database | None = None) -> None:
        """Drop the values of `db` (every database when None) in this process; the next `get` rebuilds."""
        with self._lock:
            if db is None:
                self._values.clear()
            else:
                self._values.pop(db, None)
