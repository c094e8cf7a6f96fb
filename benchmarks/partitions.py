"""Monthly partitions (migration 0017) against plain tables, same server, same rows, same run.

    .venv/bin/python benchmarks/partitions.py [--events 300000] [--readings 600000] [--postgres URL]

Two databases get the same events and sensor readings spread over 24 months (bulk-loaded by SQL: the
chains are not valid hash chains, only the shape and size matter here). One stays at 0016 (plain tables),
the other is upgraded to 0017 (the copy is timed). Then rounds alternate between the two (a load change on
a shared machine hits both alike): event appends through the log's own append, the outbox tail
(`after(id)`), one stream's events, a case timeline (by case_id). Last, the retention of the oldest month of
readings — `apply_retention` (row by row) on the plain table against `drop_old_readings` (one DROP) on the
partitioned one, both writing the 1-minute rollups first. Prints medians and partitioned/plain ratios.
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.engine import make_url

from kotapintar.core.access.actors import system_actor
from kotapintar.core.db import partitions as parts
from kotapintar.core.db.database import Database
from kotapintar.core.db.migrate import upgrade
from kotapintar.core.settings import Settings
from kotapintar.sensors.ingest import apply_retention
from kotapintar.sensors.partitions import drop_old_readings

MONTHS = 24
STREAMS = 5000


def _load(db: Database, events: int, readings: int, start: datetime) -> None:
    span = (parts.add_months(start, MONTHS) - start).total_seconds()
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO events (stream, seq, type, actor, occurred_at, payload, prev_hash, hash) "
                "SELECT 'bench:' || (g % :s), g / :s + 1, 'note', 'bench', "
                "  :t0 + make_interval(secs => g * :step), '{\"n\": 1}', repeat('0', 64), md5(g::text) || md5(g::text) "
                "FROM generate_series(0, :n - 1) g"
            ),
            {"s": STREAMS, "t0": start, "step": span / events, "n": events},
        )
        conn.execute(
            text(
                "INSERT INTO sensor_observations (device_id, attribute, observed_at, received_at, value, flags) "
                "SELECT 'dev-' || (g % 20), 'level', :t0 + make_interval(secs => g * :step), "
                "  :t0 + make_interval(secs => g * :step), random(), 0 FROM generate_series(0, :n - 1) g"
            ),
            {"t0": start, "step": span / readings, "n": readings},
        )
        conn.execute(text("ANALYZE"))


def _timed(action: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    action()
    return time.perf_counter() - t0


def _queries(db: Database, label: str, round_: int) -> dict[str, float]:
    """One round of the hot-path operations on `db`; seconds per operation."""
    now = datetime.now(UTC)

    def append() -> None:
        for i in range(20):
            with db.transaction() as uow:
                uow.events.append(
                    stream=f"new:{label}:{round_}:{i}", case_id=None, type="note", actor="b", at=now
                )

    with db.reading() as uow:
        last = uow.events.last_id()

    def tail() -> object:
        with db.reading() as uow:
            return uow.events.after(last - 300, 500)

    def stream() -> object:
        with db.reading() as uow:
            return uow.events.stream_events(f"bench:{round_ * 37 % STREAMS}")

    def case_timeline() -> object:  # by case_id (an index without the partition key)
        with db.reading() as uow:
            return uow.events.for_case(round_)

    return {
        "event append, one transaction (ms)": _timed(append) / 20 * 1000,
        "outbox tail after(id) 300 events (ms)": _timed(tail) * 1000,
        "one stream's events in seq order (ms)": _timed(stream) * 1000,
        "case timeline by case_id (ms)": _timed(case_timeline) * 1000,
    }


def _retention(db: Database, label: str, settings: Settings, cutoff: datetime) -> float:
    """Seconds to remove the oldest month of readings with its 1-minute rollups written first."""
    actor = system_actor("bench")
    now = datetime.now(UTC)
    t0 = time.perf_counter()
    if label == "partitioned":
        gone = drop_old_readings(db, actor, cutoff, settings=settings)
        assert len(gone) == 1, gone
    else:  # the row-by-row retention with the same cutoff (its setting is in days)
        days = (now - cutoff).total_seconds() / 86400
        apply_retention(
            db, actor, now=now, settings=settings.model_copy(update={"sensor_raw_retention_days": days})
        )
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--readings", type=int, default=600_000)
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--postgres", default=os.environ.get("KOTAPINTAR_TEST_POSTGRES_URL"))
    args = parser.parse_args()
    if not args.postgres:
        print(
            "skipped: partitions exist on PostgreSQL only; set --postgres URL or KOTAPINTAR_TEST_POSTGRES_URL"
        )
        return
    admin = Database(args.postgres)
    names = {label: f"kp_bench_{label}_{uuid.uuid4().hex[:6]}" for label in ("plain", "partitioned")}
    start = parts.add_months(parts.month_start(datetime.now(UTC)), -MONTHS + 1)
    cutoff = parts.add_months(start, 1)  # the oldest month lies wholly before it
    dbs: dict[str, Database] = {}
    results: dict[str, dict[str, list[float]]] = {label: {} for label in names}
    try:
        for label, name in names.items():
            with admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            url = make_url(args.postgres).set(database=name).render_as_string(hide_password=False)
            db = dbs[label] = Database(url)
            upgrade(db.engine, "0016_indicators_values")
            _load(db, args.events, args.readings, start)
            if label == "partitioned":
                results[label]["migration 0017, copy into partitions (s)"] = [
                    _timed(functools.partial(upgrade, db.engine))
                ]
        # Interleaved rounds: a load change on the (shared) machine hits both tables alike.
        for round_ in range(args.rounds):
            for label, db in dbs.items():
                for key, value in _queries(db, label, round_).items():
                    results[label].setdefault(key, []).append(value)
        for label, db in dbs.items():
            settings = Settings(database_url=db.url, demo_report_interval_s=0)
            key = "retention: oldest month of readings (s)"
            results[label][key] = [_retention(db, label, settings, cutoff)]
            with db.engine.connect() as conn:  # DELETE leaves dead rows for VACUUM; DROP gives the space back
                size = conn.execute(
                    text(
                        "SELECT coalesce((SELECT sum(pg_total_relation_size(relid)) FROM "
                        "pg_partition_tree('sensor_observations')), pg_total_relation_size('sensor_observations'))"
                    )
                ).scalar_one()
            results[label]["readings on disk after retention (MB)"] = [int(size) / 2**20]
    finally:
        for db in dbs.values():
            db.dispose()
        with admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for name in names.values():
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    print(
        f"{args.events:,} events and {args.readings:,} readings over {MONTHS} months; medians of {args.rounds} rounds"
    )
    print(f"{'':52} {'plain':>10} {'partitioned':>12} {'ratio':>7}")
    for key, values in results["partitioned"].items():
        plain = statistics.median(results["plain"][key]) if key in results["plain"] else None
        part = statistics.median(values)
        ratio = f"{part / plain:7.2f}" if plain else "      -"
        plain_text = f"{plain:10.3f}" if plain is not None else "         -"
        print(f"{key:52} {plain_text} {part:12.3f} {ratio}")


if __name__ == "__main__":
    main()
