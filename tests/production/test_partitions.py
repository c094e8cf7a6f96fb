"""Monthly partitions of `events` and sensor readings on PostgreSQL (issue 19, item 6; migration 0017).

One database of this module's own is migrated to 0016, given events in several months (one hash chain
spanning them) and readings in several months, then upgraded: every row must come through unchanged, land in
its month's partition, and `kotapintar audit verify` must stay clean. Then what operators do with it:
`kotapintar db partitions` makes months ahead (moving rows that waited in DEFAULT), drops old months of
readings (their 1-minute rollups kept) and refuses to touch the event log. On SQLite the migration is a
no-op and the command says there is nothing to do.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import insert, text
from sqlalchemy.engine import make_url
from typer.testing import CliRunner, Result

from kotapintar.app import cli
from kotapintar.core.db import partitions as parts
from kotapintar.core.db.database import Database
from kotapintar.core.db.migrate import alembic_config, upgrade
from kotapintar.core.errors import ValidationFailed
from kotapintar.core.events.audit import verify_log
from kotapintar.core.settings import get_settings
from kotapintar.sensors.models import SensorObservation
from tests.conftest import skip_or_fail

BEFORE = "0016_indicators_values"
NOW = datetime.now(UTC)
THIS_MONTH = parts.month_start(NOW)


def _month(offset: int, day: int = 10) -> datetime:
    """Noon on `day` of the month `offset` months from this one (UTC)."""
    return parts.add_months(THIS_MONTH, offset).replace(day=day, hour=12)


def _cli(db: Database, tmp: Path, *args: str) -> Result:
    """The real CLI in this process, pointed at `db`."""
    env = {"KOTAPINTAR_DATABASE_URL": db.url, "KOTAPINTAR_ENVIRONMENT": "test"}
    env["KOTAPINTAR_MEDIA_DIR"] = str(tmp / "media")
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(cli.app, list(args), env=env)
    finally:
        get_settings.cache_clear()


def _append(db: Database, stream: str, times: list[datetime]) -> None:
    """Events on one chain at the given times, through the log's own append (one transaction each)."""
    for n, at in enumerate(times):
        with db.transaction() as uow:
            uow.events.append(
                stream=stream,
                case_id=None,
                type="note",
                actor="tests",
                at=at,
                payload={"n": n, "at": str(at)},
            )


def _readings(db: Database, device: str, times: list[datetime]) -> None:
    rows = [
        {
            "device_id": device,
            "attribute": "level",
            "observed_at": at,
            "received_at": at,
            "value": float(i),
            "flags": 0,
        }
        for i, at in enumerate(times)
    ]
    with db.transaction() as uow:
        uow.session.execute(insert(SensorObservation), rows)


def _events(db: Database) -> list[tuple[Any, ...]]:
    with db.engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                text("SELECT id, stream, seq, occurred_at, hash, prev_hash FROM events ORDER BY id")
            )
        ]


def _where(db: Database, table: str, condition: str = "TRUE") -> dict[str, int]:
    """Rows per partition (tableoid) of `table`."""
    with db.engine.connect() as conn:
        rows = conn.execute(
            text(f"SELECT tableoid::regclass::text, count(*) FROM {table} WHERE {condition} GROUP BY 1")
        ).all()
    return {str(name): int(count) for name, count in rows}


def _relkind(db: Database, table: str) -> str:
    with db.engine.connect() as conn:
        return str(
            conn.execute(
                text("SELECT relkind FROM pg_class WHERE oid = to_regclass(:t)"), {"t": table}
            ).scalar()
        )


@dataclass
class Upgraded:
    """The module's database after 0016 → rows → 0017, and what it held before the upgrade."""

    db: Database
    events_before: list[tuple[Any, ...]]
    readings_before: int


@pytest.fixture(scope="module")
def upgraded() -> Iterator[Upgraded]:
    server = os.environ.get("KOTAPINTAR_TEST_POSTGRES_URL")
    if not server:
        skip_or_fail("KOTAPINTAR_TEST_POSTGRES_URL is not set: PostgreSQL tests skipped")
    assert server is not None
    name = f"kp_part_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = Database(server)
    with admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    db = Database(make_url(server).set(database=name).render_as_string(hide_password=False))
    try:
        upgrade(db.engine, BEFORE)
        # One chain across five months (a case open for months), another wholly in an old month.
        _append(
            db, "test:long", [_month(-4), _month(-3), _month(-3, 20), _month(-2), _month(-1), _month(0, 1)]
        )
        _append(db, "test:old", [_month(-4, 2), _month(-4, 3)])
        for device in ("awlr-1", "awlr-2"):
            _readings(db, device, [_month(m, d) for m in (-4, -3, -2, -1) for d in (5, 6, 7)])
        events_before = _events(db)
        upgrade(db.engine)
        yield Upgraded(db, events_before, readings_before=24)
    finally:
        db.dispose()
        with admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_upgrade_keeps_every_row_in_its_month_and_the_chain_verifies(
    upgraded: Upgraded, tmp_path: Path
) -> None:
    db = upgraded.db
    assert _relkind(db, "events") == "p" and _relkind(db, "sensor_observations") == "p"
    assert _events(db) == upgraded.events_before  # ids, hashes and times unchanged
    landed = _where(db, "events")
    for offset, count in ((-4, 3), (-3, 2), (-2, 1), (-1, 1)):
        assert landed[parts.partition_name("events", _month(offset))] == count
    assert landed.get("events_default", 0) == 0
    readings = _where(db, "sensor_observations")
    assert sum(readings.values()) == upgraded.readings_before
    assert readings[parts.partition_name("sensor_observations", _month(-4))] == 6
    with db.engine.connect() as conn:
        made = {p.name for p in parts.partitions(conn, "events")}
        keys: dict[str, str] = dict(
            conn.execute(
                text(
                    "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                    "WHERE conrelid = 'events'::regclass"
                )
            ).all()
        )
    # Contiguous months from the oldest row to three ahead, and DEFAULT.
    assert {parts.partition_name("events", _month(m)) for m in range(-4, 4)} | {"events_default"} == made
    assert keys["pk_events"] == "PRIMARY KEY (id, occurred_at)"
    assert keys["uq_events_stream_seq"] == "UNIQUE (stream, seq, occurred_at)"
    assert keys["fk_events_case_id_cases"].startswith("FOREIGN KEY (case_id) REFERENCES cases(id)")
    assert verify_log(db).ok
    done = _cli(db, tmp_path, "audit", "verify")
    assert done.exit_code == 0 and "no tampering found" in done.output, done.output


def test_new_events_continue_the_ids_and_land_in_their_month_or_default(upgraded: Upgraded) -> None:
    db = upgraded.db
    last = max(row[0] for row in _events(db))
    _append(db, "test:long", [NOW])  # the chain goes on after the upgrade
    _append(db, "test:clock", [datetime(1970, 1, 1, tzinfo=UTC)])  # no month for it: DEFAULT, never an error
    with db.engine.connect() as conn:
        fresh = conn.execute(
            text("SELECT id, stream, tableoid::regclass::text FROM events WHERE id > :l ORDER BY id"),
            {"l": last},
        ).all()
    assert [(r[1], r[2]) for r in fresh] == [
        ("test:long", parts.partition_name("events", THIS_MONTH)),
        ("test:clock", "events_default"),
    ]
    assert fresh[0][0] > last  # the id sequence carried over
    result = verify_log(db)
    assert result.ok, result.problems


def test_making_months_ahead_moves_rows_waiting_in_default(upgraded: Upgraded, tmp_path: Path) -> None:
    db = upgraded.db
    later = _month(7)  # beyond the three months the migration made
    _readings(db, "awlr-later", [later])
    _append(db, "test:later", [later])
    assert _where(db, "sensor_observations", "device_id = 'awlr-later'") == {"sensor_observations_default": 1}
    done = _cli(db, tmp_path, "db", "partitions", "--ahead", "7")
    assert done.exit_code == 0, done.output
    month = parts.partition_name("sensor_observations", later)
    assert f"made {parts.partition_name('events', _month(4))}" in done.output
    assert _where(db, "sensor_observations", "device_id = 'awlr-later'") == {month: 1}
    assert _where(db, "events", "stream = 'test:later'") == {parts.partition_name("events", later): 1}
    assert verify_log(db).ok
    again = _cli(db, tmp_path, "db", "partitions", "--ahead", "7")
    assert "events: months ahead already made" in again.output
    assert "events: 12 months" in again.output  # -4 … +7


def test_old_months_of_readings_are_dropped_with_their_minute_rollups_kept(
    upgraded: Upgraded, tmp_path: Path
) -> None:
    db = upgraded.db
    cutoff = parts.add_months(THIS_MONTH, -2)  # months -4 and -3 lie wholly before it
    done = _cli(db, tmp_path, "db", "partitions", "--drop-older-than", cutoff.date().isoformat())
    assert done.exit_code == 0, done.output
    gone = [parts.partition_name("sensor_observations", _month(m)) for m in (-4, -3)]
    for name in gone:
        assert f"dropped {name} (6 readings; 1-minute rollups kept)" in done.output
    left = _where(db, "sensor_observations", "device_id LIKE 'awlr-_'")
    assert set(left) == {parts.partition_name("sensor_observations", _month(m)) for m in (-2, -1)}
    assert sum(left.values()) == 12
    with db.engine.connect() as conn:
        minutes = conn.execute(
            text("SELECT count(*) FROM sensor_rollups WHERE resolution = '1m' AND bucket_start < :c"),
            {"c": cutoff},
        ).scalar_one()
        names = {p.name for p in parts.partitions(conn, "sensor_observations")}
    assert minutes == 12 and not names & set(gone)
    # The event log of the same months is untouched and still verifies.
    assert _where(db, "events", "stream = 'test:old'") == {parts.partition_name("events", _month(-4)): 2}
    assert verify_log(db).ok


def test_event_months_are_never_dropped(upgraded: Upgraded) -> None:
    with upgraded.db.engine.begin() as conn, pytest.raises(parts.PartitionError, match="audit verify"):
        parts.drop_before(conn, parts.EVENTS, NOW + timedelta(days=3650))
    assert _where(upgraded.db, "events", "stream = 'test:old'") != {}


def test_bad_ages_are_refused_with_what_to_write(upgraded: Upgraded, tmp_path: Path) -> None:
    done = _cli(upgraded.db, tmp_path, "db", "partitions", "--drop-older-than", "lama")
    assert done.exit_code == 2 and "write e.g. 90d" in done.output


def test_backup_and_restore_of_partitioned_tables(upgraded: Upgraded, tmp_path: Path) -> None:
    """`pg_restore --clean` alone cannot drop partitions' inherited keys: the restore must still replace
    everything, and a damaged backup must leave the database as it was."""
    db = upgraded.db
    file = tmp_path / "kp.backup"
    assert _cli(db, tmp_path, "backup", str(file)).exit_code == 0
    before = _events(db)
    _append(db, "test:after-backup", [NOW])
    broken = tmp_path / "broken.backup"
    broken.write_bytes(file.read_bytes()[: file.stat().st_size * 2 // 3])
    db.dispose()
    refused = _cli(db, tmp_path, "restore", "--yes", str(broken))
    assert refused.exit_code == 2 and "error:" in refused.output
    assert len(_events(db)) == len(before) + 1  # nothing of the damaged restore was committed
    db.dispose()
    done = _cli(db, tmp_path, "restore", "--yes", str(file))
    assert done.exit_code == 0, done.output
    assert _events(db) == before and _relkind(db, "events") == "p"
    assert parts.partition_name("events", _month(-4)) in _where(db, "events")
    assert verify_log(db).ok


def test_downgrade_restores_plain_tables_with_every_row(upgraded: Upgraded) -> None:
    db = upgraded.db
    before = _events(db)
    cfg = alembic_config(db.url)
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, BEFORE)
    assert _relkind(db, "events") == "r" and _relkind(db, "sensor_observations") == "r"
    assert _events(db) == before and verify_log(db).ok
    with db.engine.connect() as conn:
        pk = conn.execute(
            text("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'pk_events'")
        ).scalar_one()
    assert pk == "PRIMARY KEY (id)"
    _append(db, "test:plain-again", [NOW])  # the id sequence went back with the table
    again = _events(db)
    assert again[:-1] == before and again[-1][0] > before[-1][0]
    upgrade(db.engine)
    assert _relkind(db, "events") == "p" and _events(db) == again and verify_log(db).ok
    _append(db, "test:plain-again", [NOW])
    assert _events(db)[-1][0] > again[-1][0]


def test_cutoffs_of_ages() -> None:
    at = datetime(2026, 3, 31, 8, tzinfo=UTC)
    assert parts.cutoff_of("90d", at) == at - timedelta(days=90)
    assert parts.cutoff_of("2w", at) == at - timedelta(days=14)
    assert parts.cutoff_of("1m", at) == datetime(2026, 2, 28, 8, tzinfo=UTC)
    assert parts.cutoff_of("1y", at) == datetime(2025, 3, 31, 8, tzinfo=UTC)
    assert parts.cutoff_of("2026-01-01", at) == datetime(2026, 1, 1, tzinfo=UTC)
    for bad in ("0d", "-3d", "soon", "2026-13-01"):
        with pytest.raises(ValidationFailed):
            parts.cutoff_of(bad, at)


def test_on_sqlite_nothing_is_partitioned_and_the_command_says_so(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'plain.db'}")
    upgrade(db.engine)
    _append(db, "test:a", [_month(-2), NOW])
    with db.engine.begin() as conn:
        assert not parts.is_partitioned(conn, "events") and parts.partitions(conn, "events") == []
        assert parts.ensure_ahead(conn, parts.EVENTS, 3, NOW) == []
        version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    head = ScriptDirectory.from_config(alembic_config(str(db.engine.url))).get_current_head()
    assert version == head  # migrated past 0017 (a no-op here) to the head
    assert verify_log(db).ok
    done = _cli(db, tmp_path, "db", "partitions")
    assert done.exit_code == 0 and "nothing to do" in done.output
    refused = _cli(db, tmp_path, "db", "partitions", "--drop-older-than", "90d")
    assert refused.exit_code == 2 and "kotapintar sensors retention" in refused.output
    db.dispose()
