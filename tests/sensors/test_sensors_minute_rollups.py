"""1-minute rollups: computed from the raw readings while they are kept, materialised by retention before the
raw readings go, deleted after a year; hourly rollups are written by ingest and stay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kotapintar.core.access.actors import system_actor
from kotapintar.core.db.database import Database
from kotapintar.core.settings import Settings
from kotapintar.sensors import devices as sensor_devices
from kotapintar.sensors import ingest as sensor_ingest
from kotapintar.sensors import queries as sensor_queries
from kotapintar.sensors.engine.payloads import Reading

GAUGE = "KPS-ARG-03"


def rain(start: datetime, values: list[float]) -> list[Reading]:
    """A rain gauge reporting every 30 seconds."""
    return [
        Reading(start + timedelta(seconds=30 * i), GAUGE, "precipitation", v, "mm")
        for i, v in enumerate(values)
    ]


def minutes(db: Database, settings: Settings, start: datetime, end: datetime) -> list[tuple[str, int, float]]:
    body = sensor_queries.device_series(db, GAUGE, start=start, end=end, resolution="1m", settings=settings)
    return [(p["t"], p["count"], p["mean"]) for p in body["points"]]


def test_minute_buckets_of_clean_readings_before_and_after_retention(
    db: Database, settings: Settings
) -> None:
    sensor_devices.load_demo_devices(db, system_actor("tests"))
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    old = now - timedelta(days=100)
    values = [
        0.2,
        0.4,
        0.6,
        5000.0,
        1.0,
        1.1,
    ]  # 5000 mm in 30 s is out of range: kept, flagged, not rolled up
    sensor_ingest.ingest_readings(db, rain(old, values), received_at=now, settings=settings)
    window = (old - timedelta(minutes=5), old + timedelta(minutes=5))

    before = minutes(db, settings, *window)
    assert [count for _t, count, _mean in before] == [2, 1, 2]
    assert [mean for _t, _count, mean in before] == pytest.approx([0.3, 0.6, 1.05])
    hourly = sensor_queries.device_series(
        db, GAUGE, start=old - timedelta(hours=1), end=now, resolution="1h", settings=settings
    )
    assert sum(p["count"] for p in hourly["points"]) == 5

    deleted = sensor_ingest.apply_retention(db, system_actor("tests"), now=now, settings=settings)
    assert deleted["raw"] == 6
    raw = sensor_queries.device_series(db, GAUGE, start=window[0], end=window[1], settings=settings)
    assert raw["points"] == []
    assert minutes(db, settings, *window) == before  # materialised: the same buckets without the raw data
    sensor_ingest.apply_retention(db, system_actor("tests"), now=now, settings=settings)
    assert minutes(db, settings, *window) == before  # a second run adds nothing

    # A late reading for a materialised minute joins its bucket.
    sensor_ingest.ingest_readings(
        db, [Reading(old + timedelta(seconds=45), GAUGE, "precipitation", 0.3, "mm")], settings=settings
    )
    first = minutes(db, settings, *window)[0]
    assert first[1] == 3 and first[2] == pytest.approx(0.3)


def test_minute_buckets_older_than_a_year_are_deleted_hourly_stay(db: Database, settings: Settings) -> None:
    sensor_devices.load_demo_devices(db, system_actor("tests"))
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    ancient = now - timedelta(days=400)
    sensor_ingest.ingest_readings(db, rain(ancient, [0.5, 0.7]), received_at=now, settings=settings)
    sensor_ingest.apply_retention(db, system_actor("tests"), now=now - timedelta(days=200), settings=settings)
    span = (ancient - timedelta(minutes=1), ancient + timedelta(minutes=1))
    assert [count for _t, count, _m in minutes(db, settings, *span)] == [2]  # materialised, raw gone
    deleted = sensor_ingest.apply_retention(db, system_actor("tests"), now=now, settings=settings)
    assert deleted["1m"] == 1
    assert minutes(db, settings, *span) == []
    hourly = sensor_queries.device_series(
        db, GAUGE, start=ancient - timedelta(hours=1), end=ancient + timedelta(hours=1), resolution="1h"
    )
    assert [p["count"] for p in hourly["points"]] == [2]


@pytest.mark.parametrize(("zone", "days"), [("Asia/Jakarta", 1), ("Asia/Makassar", 2)])
def test_daily_rollups_cut_at_the_citys_own_midnight(
    db: Database, settings: Settings, zone: str, days: int
) -> None:
    """Rain at 22:30 and 23:30 WIB is one WIB day, but 23:30 and 00:30 WITA are two days in a WITA kabupaten
    (settings.timezone): daily rollups must not cut at the WIB midnight everywhere (issue 13)."""
    local = settings.model_copy(update={"timezone": zone})
    sensor_devices.load_demo_devices(db, system_actor("tests"))
    day = (datetime.now(UTC) - timedelta(days=2)).replace(hour=15, minute=30, second=0, microsecond=0)
    readings = [
        Reading(day, GAUGE, "precipitation", 0.4, "mm"),
        Reading(day + timedelta(hours=1), GAUGE, "precipitation", 0.6, "mm"),
    ]
    sensor_ingest.ingest_readings(db, readings, received_at=day + timedelta(hours=2), settings=local)
    body = sensor_queries.device_series(
        db, GAUGE, start=day - timedelta(days=1), end=day + timedelta(days=1), resolution="1d", settings=local
    )
    assert len(body["points"]) == days
    assert sum(p["count"] for p in body["points"]) == 2
