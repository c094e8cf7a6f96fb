"""Retention of raw sensor readings by dropping whole monthly partitions (PostgreSQL, issue 19).

`kotapintar sensors retention` deletes old readings row by row; on a partitioned `sensor_observations`
(migration 0017) a month whose every reading is past retention can instead go in one `DROP TABLE`. What the
row-by-row retention keeps must be kept here too: the 1-minute rollups of the readings about to go are
materialised first, in the same transaction (hourly and daily rollups were written at ingest).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text

from kotapintar.core.access.actors import Actor
from kotapintar.core.access.roles import Permission
from kotapintar.core.db.database import Database
from kotapintar.core.db.partitions import SENSOR_READINGS, Partition, drop_before
from kotapintar.core.settings import Settings, get_settings
from kotapintar.core.zones import local_zone
from kotapintar.sensors.engine.quality import EXCLUDING_MASK
from kotapintar.sensors.engine.rollup import Resolution, bucket_rows
from kotapintar.sensors.repository import SensorRepository


@dataclass(frozen=True)
class DroppedMonth:
    """One month of readings dropped: its partition and how many readings it held."""

    partition: Partition
    readings: int


def drop_old_readings(
    db: Database, actor: Actor, cutoff: datetime, *, settings: Settings | None = None
) -> list[DroppedMonth]:
    """Drop every month of raw readings entirely older than `cutoff`, after materialising its 1-minute
    rollups. Readings in the DEFAULT partition stay (the row-by-row retention handles them)."""
    actor.require(Permission.MANAGE_CATALOGUE)
    zone = local_zone((settings or get_settings()).timezone)
    dropped: list[DroppedMonth] = []
    with db.transaction() as uow:
        repo = SensorRepository(uow.session)
        conn = uow.session.connection()

        def materialise(partition: Partition) -> None:
            assert partition.start is not None and partition.end is not None  # month partitions only
            series = conn.execute(text(f'SELECT DISTINCT device_id, attribute FROM "{partition.name}"')).all()  # noqa: S608
            for device_id, attribute in series:
                going = repo.clean_micros(
                    device_id, attribute, partition.start, partition.end, excluding_mask=EXCLUDING_MASK
                )
                repo.merge_rollups(
                    [
                        (d, a, Resolution.MINUTE.value, at, count, low, high, total, mean)
                        for d, a, at, count, low, high, mean, total in bucket_rows(
                            going, Resolution.MINUTE, day_tz=zone
                        )
                    ]
                )
            readings = conn.execute(text(f'SELECT count(*) FROM "{partition.name}"')).scalar_one()  # noqa: S608
            dropped.append(DroppedMonth(partition, int(readings)))

        drop_before(conn, SENSOR_READINGS, cutoff, materialise)
    return dropped
