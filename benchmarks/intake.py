"""Intake throughput: reports submitted through the service layer vs two baselines, same database.

    .venv/bin/python benchmarks/intake.py [--n 2000] [--rounds 10] [--postgres URL]

Baselines measured in the same run on the same database (PostgreSQL too when --postgres or
KOTAPINTAR_TEST_POSTGRES_URL is set):
- raw: one-row transactions into a plain table (the database's own transactional insert rate);
- floor (issue 19 item 4): the rows one report writes in this data model (reporter, case, report, SOP
  instance, tasks, timers, chained events, chain anchor), copied from a case the service just opened and
  written by hand-written SQL in one transaction, plus one classifier call. Nothing can open a case with
  its SOP for less; the target is submit_report ≥ 0.5× this floor.
The reports are spread over the map so each opens a new case (the path the floor copies). The service and
the floor alternate in `--rounds` blocks, so on a shared (loaded) machine both are measured under the same
load.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import os
import statistics
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import h3
from sqlalchemy import text
from sqlalchemy.engine import make_url

from kotapintar.app.reference import load_demo_city
from kotapintar.app.wiring import wire
from kotapintar.cases.schemas import ReportIn
from kotapintar.core.access.actors import channel_actor, system_actor
from kotapintar.core.db.database import Database
from kotapintar.core.db.migrate import upgrade
from kotapintar.core.settings import Settings
from kotapintar.intake.submit import H3_RESOLUTION, submit_report
from kotapintar.triage.classify.model import Classifier


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def raw_inserts(db: Database, n: int) -> tuple[float, list[float]]:
    """One row per transaction into a plain table: the database's own transactional insert rate."""
    with db.engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS bench_raw"))
        conn.execute(text("CREATE TABLE bench_raw (id INTEGER PRIMARY KEY, body TEXT, lon FLOAT, lat FLOAT)"))
    latencies = []
    start = time.perf_counter()
    for i in range(n):
        t0 = time.perf_counter()
        with db.engine.begin() as conn:
            conn.execute(
                text("INSERT INTO bench_raw (id, body, lon, lat) VALUES (:i, :b, :x, :y)"),
                {"i": i, "b": "jalan berlubang besar di depan pasar", "x": 114.39, "y": -3.0},
            )
        latencies.append(time.perf_counter() - t0)
    elapsed = time.perf_counter() - start
    with db.engine.begin() as conn:
        conn.execute(text("DROP TABLE bench_raw"))
    return n / elapsed, latencies


@dataclass
class Tally:
    """Wall time, CPU time and latencies of one side, summed over its rounds."""

    count: int = 0
    elapsed: float = 0.0
    cpu: float = 0.0
    latencies: list[float] = field(default_factory=list)

    def add(self, count: int, elapsed: float, cpu: float, latencies: list[float]) -> None:
        self.count += count
        self.elapsed += elapsed
        self.cpu += cpu
        self.latencies += latencies

    @property
    def rate(self) -> float:
        return self.count / self.elapsed

    @property
    def cpu_per_item(self) -> float:
        return self.cpu / self.count


def reports(db: Database, settings: Settings, indexes: range, tally: Tally) -> None:
    """Full intake: validate, locate, case + report + reporter + two chained events, one transaction."""
    actor = channel_actor("api")
    latencies = []
    start, cpu = time.perf_counter(), time.process_time()
    for i in indexes:
        body = ReportIn(
            service_code="jalan_rusak",
            description=f"Jalan berlubang besar di depan pasar nomor {i}",
            lon=114.39 + (i % 40) * 0.004,  # ~440 m apart: no report duplicates another
            lat=-3.0 - (i // 40 % 40) * 0.004,
            reporter={"name": "Budi", "phone": "+6281234567890"},
            client_ref=f"bench-{i}",
        )
        t0 = time.perf_counter()
        submit_report(db, actor, body, settings=settings)
        latencies.append(time.perf_counter() - t0)
    tally.add(len(indexes), time.perf_counter() - start, time.process_time() - cpu, latencies)


def _template(db: Database) -> dict[str, list[dict[str, object]]]:
    """Every row the newest case opened by `reports()` wrote, by table (read as the driver returns them)."""
    with db.engine.connect() as conn:
        case_id = conn.execute(text("SELECT max(case_id) FROM sop_instances")).scalar_one()

        def rows(sql: str, **params: object) -> list[dict[str, object]]:
            return [dict(r._mapping) for r in conn.execute(text(sql), params)]

        reports = rows("SELECT * FROM reports WHERE case_id = :c", c=case_id)
        return {
            "cases": rows("SELECT * FROM cases WHERE id = :c", c=case_id),
            "reporters": rows("SELECT * FROM reporters WHERE id = :r", r=reports[0]["reporter_id"]),
            "reports": reports,
            "sop_instances": rows("SELECT * FROM sop_instances WHERE case_id = :c", c=case_id),
            "tasks": rows("SELECT * FROM tasks WHERE case_id = :c ORDER BY id", c=case_id),
            "timers": rows("SELECT * FROM timers WHERE case_id = :c ORDER BY id", c=case_id),
            "events": rows("SELECT * FROM events WHERE case_id = :c ORDER BY seq", c=case_id),
            "event_streams": rows("SELECT * FROM event_streams WHERE stream = :s", s=f"case:{case_id}"),
        }


def _sql_value(value: object) -> object:
    return json.dumps(value) if isinstance(value, dict | list) else value


def floor(
    db: Database,
    settings: Settings,
    indexes: range,
    tally: Tally,
    template: dict[str, list[dict[str, object]]],
) -> None:
    """The same rows as one opened case, by hand-written INSERTs in one transaction, plus one classifier call."""
    inserts = {
        table: text(
            f"INSERT INTO {table} ({', '.join(c for c in rows[0] if c != 'id')}) "
            f"VALUES ({', '.join(':' + c for c in rows[0] if c != 'id')})"
            + (" RETURNING id" if table in ("cases", "reporters", "tasks") else "")
        )
        for table, rows in template.items()
        if rows
    }
    classifier = Classifier.load()
    # The floor's cases sit 0.3° west of the service's reports (same kind of values, computed once): rounds
    # alternate, and a floor case among the service's reports would turn its duplicate search into merges.
    case = template["cases"][0]
    lon, lat = float(case["lon"]) - 0.3, float(case["lat"])  # type: ignore[arg-type]
    aside: dict[str, object] = {"lon": lon, "lat": lat, "h3_cell": h3.latlng_to_cell(lat, lon, H3_RESOLUTION)}
    latencies = []
    start, cpu = time.perf_counter(), time.process_time()
    for i in indexes:
        description = f"Jalan berlubang besar di depan pasar nomor {i}"
        t0 = time.perf_counter()
        classifier.classify(description, threshold=settings.triage_review_threshold)
        with db.engine.begin() as conn:

            def put(table: str, row: dict[str, object], **changes: object) -> int | None:
                values = {k: _sql_value(v) for k, v in row.items() if k != "id"} | changes
                result = conn.execute(inserts[table], values)
                return int(result.scalar_one()) if table in ("cases", "reporters", "tasks") else None

            reporter_id = put("reporters", template["reporters"][0])
            case_id = put(
                "cases", template["cases"][0], ticket=f"FLOOR-{i}", description=description, **aside
            )
            put(
                "reports",
                template["reports"][0],
                **{k: v for k, v in aside.items() if k != "h3_cell"},
                case_id=case_id,
                reporter_id=reporter_id,
                description=description,
                idempotency_key=f"floor-{i}",
            )
            put("sop_instances", template["sop_instances"][0], case_id=case_id)
            task_ids = {row["id"]: put("tasks", row, case_id=case_id) for row in template["tasks"]}
            for row in template["timers"]:
                key = f"floor:{i}:{row['key']}"
                put("timers", row, key=key, case_id=case_id, task_id=task_ids.get(row["task_id"]))
            stream, prev = f"case:{case_id}", "0" * 64
            events = [{k: _sql_value(v) for k, v in row.items() if k != "id"} for row in template["events"]]
            for event in events:  # the chain: each hash over the previous one and the content
                digest = hashlib.sha256(f"{prev}\n{event['type']}{event['payload']}".encode()).hexdigest()
                event.update(stream=stream, case_id=case_id, prev_hash=prev, hash=digest)
                prev = digest
            conn.execute(inserts["events"], events)
            put("event_streams", template["event_streams"][0], stream=stream, last_hash=prev)
        latencies.append(time.perf_counter() - t0)
    tally.add(len(indexes), time.perf_counter() - start, time.process_time() - cpu, latencies)


def run(label: str, url: str, n: int, rounds: int) -> None:
    db = Database(url)
    upgrade(db.engine)
    load_demo_city(db, system_actor("bench"), with_users=False)
    settings = Settings(database_url=url, demo_report_interval_s=0)
    submit_report(
        db,
        channel_actor("api"),
        ReportIn(service_code="sampah", description="pemanasan", lon=114.39, lat=-3.0),
        settings=settings,
    )
    raw_rate, raw_lat = raw_inserts(db, n)
    # The service and the floor take turns in `rounds` blocks, so on a shared machine both see the same
    # load (one long run after the other compared two different machines); the floor copies the rows of
    # the newest case the service opened in the first block.
    served, floored = Tally(), Tally()
    template: dict[str, list[dict[str, object]]] = {}
    bounds = [n * r // rounds for r in range(rounds + 1)]
    for lo, hi in itertools.pairwise(bounds):
        reports(db, settings, range(lo, hi), served)
        template = template or _template(db)
        floor(db, settings, range(lo, hi), floored, template)
    rate, lat, cpu = served.rate, served.latencies, served.cpu_per_item
    floor_rate, floor_lat, floor_cpu = floored.rate, floored.latencies, floored.cpu_per_item
    rows_per_case = sum(len(rows) for rows in template.values())
    print(f"[{label}] n={n} in {rounds} alternating rounds")
    print(
        f"  raw single-row transactions: {raw_rate:8.0f}/s  p50 {percentile(raw_lat, 0.5) * 1000:6.2f} ms  p99 {percentile(raw_lat, 0.99) * 1000:6.2f} ms"
    )
    print(
        f"  submit_report (full intake): {rate:8.0f}/s  p50 {percentile(lat, 0.5) * 1000:6.2f} ms  p99 {percentile(lat, 0.99) * 1000:6.2f} ms"
    )
    print(
        f"  floor ({rows_per_case} rows by hand-written SQL, one transaction, + classifier): {floor_rate:8.0f}/s  "
        f"p50 {percentile(floor_lat, 0.5) * 1000:6.2f} ms  p99 {percentile(floor_lat, 0.99) * 1000:6.2f} ms"
    )
    print(f"  ratio reports/raw: {rate / raw_rate:.2f}  (mean latency {statistics.mean(lat) * 1000:.2f} ms)")
    ratio = rate / floor_rate
    print(f"  ratio reports/floor: {ratio:.2f}  (target ≥ 0.5: {'met' if ratio >= 0.5 else 'NOT met'})")
    # CPU of this process per report: on a shared machine a steadier comparison than the wall clock
    # (on SQLite nearly all the work is in this process; on PostgreSQL the server's share is not counted).
    print(
        f"  CPU per report in this process: submit_report {cpu * 1000:.2f} ms, floor {floor_cpu * 1000:.2f} ms "
        f"(ratio {floor_cpu / cpu:.2f})"
    )
    db.dispose()


def main() -> None:
    wire()  # the hooks production runs (SOP, analytics rollup refresh), so their cost is measured
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument(
        "--rounds", type=int, default=10, help="blocks in which the service and the floor alternate"
    )
    parser.add_argument("--postgres", default=os.environ.get("KOTAPINTAR_TEST_POSTGRES_URL"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run("sqlite", f"sqlite:///{Path(tmp) / 'bench.db'}", args.n, args.rounds)
    if args.postgres:
        name = f"kp_bench_{uuid.uuid4().hex[:8]}"
        admin = Database(args.postgres)
        with admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            run(
                "postgresql",
                make_url(args.postgres).set(database=name).render_as_string(hide_password=False),
                args.n,
                args.rounds,
            )
        finally:
            with admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
    else:
        print("[postgresql] skipped: set --postgres URL or KOTAPINTAR_TEST_POSTGRES_URL")


if __name__ == "__main__":
    main()
