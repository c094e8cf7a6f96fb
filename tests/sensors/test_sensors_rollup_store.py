"""Rollup merging in the store: the fast paths (SQLite UPSERT, PostgreSQL COPY + ON CONFLICT) and the
portable ORM path for other databases add partial buckets up the same way."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kotapintar.core.db.database import Database
from kotapintar.sensors.repository import SensorRepository

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def batch(
    values: list[float], device: str
) -> list[tuple[str, str, str, datetime, int, float, float, float, float]]:
    """Two hourly buckets of one device from the given values (alternating buckets)."""
    out = []
    for hour in range(2):
        mine = values[hour::2]
        total = sum(mine)
        out.append(
            (
                device,
                "waterLevel",
                "1h",
                T0 + timedelta(hours=hour),
                len(mine),
                min(mine),
                max(mine),
                total,
                total / len(mine),
            )
        )
    return out


def test_fast_and_portable_merges_store_the_same_buckets(db: Database) -> None:
    with db.transaction() as uow:
        repo = SensorRepository(uow.session)
        repo.merge_rollups(batch([1.0, 2.0, 3.0, 4.0], "FAST"))
        repo.merge_rollups(batch([0.5, 6.0], "FAST"))
        repo._merge_rollups_portable(batch([1.0, 2.0, 3.0, 4.0], "PORTABLE"))
        repo._merge_rollups_portable(batch([0.5, 6.0], "PORTABLE"))
    with db.reading() as uow:
        repo = SensorRepository(uow.session)
        end = T0 + timedelta(hours=3)
        fast = [
            (b.count, b.min, b.max, b.total, b.mean)
            for b in repo.rollups("FAST", "waterLevel", "1h", T0, end)
        ]
        portable = [
            (b.count, b.min, b.max, b.total, b.mean)
            for b in repo.rollups("PORTABLE", "waterLevel", "1h", T0, end)
        ]
    assert fast == portable
    assert fast[0][:4] == (3, 0.5, 3.0, 4.5) and fast[0][4] == pytest.approx(1.5)  # 1.0, 3.0 then 0.5
    assert fast[1][:4] == (3, 2.0, 6.0, 12.0) and fast[1][4] == pytest.approx(4.0)  # 2.0, 4.0 then 6.0
