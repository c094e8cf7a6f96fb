"""State shared by several processes through the database (issue 19): versions that invalidate process
caches (`core.versions`), and rate limits / failed-login counts kept in PostgreSQL (`kotapintar+postgresql://`)
so that a second web process refuses what the first one counted."""

from __future__ import annotations

from typing import Any

import pytest
from limits import parse
from limits.strategies import MovingWindowRateLimiter
from sqlalchemy import event

from kotapintar.core.access.throttle import ACCOUNT_FAILURES, LoginThrottle, counter_storage
from kotapintar.core.db.database import Database
from kotapintar.core.versions import VersionedCache, bump, current, pinned


def test_a_bump_in_one_process_reloads_the_cache_of_another(db: Database) -> None:
    other = Database(db.url)  # another process: its own engine and pool
    loads: list[int] = []

    def loader(d: Database) -> int:
        loads.append(current(d, "catalog"))
        return len(loads)

    cache = VersionedCache("catalog", loader)
    units_before = current(db, "units")  # another name: the demo city's set-up has bumped it already
    try:
        assert current(db, "catalog") == 0
        assert cache.get(other) == 1 and cache.get(other) == 1  # cached while the version stays
        with db.transaction() as uow:
            assert bump(uow, "catalog") == 1
            assert cache.get(other) == 1, "not visible before the commit"
        assert cache.get(other) == 2 and loads == [0, 1]
        with db.transaction() as uow:
            bump(uow, "catalog")
            bump(uow, "catalog")
        assert current(other, "catalog") == 3 and current(other, "units") == units_before
    finally:
        other.dispose()


def test_a_pinned_unit_of_work_reads_the_versions_once_and_the_next_one_sees_a_bump(db: Database) -> None:
    other = Database(db.url)  # another process
    cache = VersionedCache(("catalog", "regions"), lambda d: current(d, "catalog"))
    reads: list[str] = []

    @event.listens_for(other.engine, "before_cursor_execute")
    def _count(_c: Any, _cur: Any, statement: str, *_a: Any) -> None:
        if "shared_versions" in statement:
            reads.append(statement)

    try:
        assert cache.get(other) == 0
        reads.clear()
        with other.reading() as uow, pinned(other, uow):
            assert cache.get(other) == 0 and cache.get(other) == 0 and cache.get(other, "k", lambda: 5) == 5
        assert len(reads) == 1, "one read of the versions for the whole unit of work"
        with db.transaction() as uow:
            bump(uow, "catalog")
        with other.reading() as uow, pinned(other, uow):
            assert cache.get(other) == 1, "a bump committed elsewhere is seen by the next unit of work"
        assert cache.get(db) == 1 and cache.get(other) == 1  # unpinned (and other databases) read as before
    finally:
        other.dispose()


def _pg_counter_url(db: Database) -> str:
    return db.url.replace("postgresql+psycopg", "kotapintar+postgresql", 1)


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_failed_logins_counted_by_one_process_block_the_other(db: Database) -> None:
    first = LoginThrottle(counter_storage(_pg_counter_url(db)))
    second = LoginThrottle(counter_storage(_pg_counter_url(db)))  # its own engine: another web process
    try:
        for _ in range(ACCOUNT_FAILURES):
            assert second.blocked_for("operator", None) is None
            first.failed("operator", None)
        blocked = second.blocked_for("Operator ", None)
        assert blocked is not None and blocked[0] == "login-account"
        assert 1 <= blocked[1] <= 15 * 60
        assert second.blocked_for("admin", None) is None
    finally:
        first.reset()


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_the_postgres_window_admits_exactly_the_limit(db: Database) -> None:
    storage = counter_storage(_pg_counter_url(db))
    assert storage is not None and storage.check()
    limiter = MovingWindowRateLimiter(storage)
    item = parse("3/minute")
    assert [limiter.hit(item, "ip", "10.0.0.1") for _ in range(5)] == [True, True, True, False, False]
    assert limiter.hit(item, "ip", "10.0.0.2")
    reset_at, remaining = limiter.get_window_stats(item, "ip", "10.0.0.1")
    assert remaining == 0 and reset_at > 0
    storage.reset()
    assert limiter.hit(item, "ip", "10.0.0.1")
