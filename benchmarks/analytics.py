"""Accountability figures at scale: /supervisor, /analitik and /beranda against one hand-written SQL aggregate.

Fills a migrated database (the demo city loaded) with N cases spread over a year, 1–2 tasks each with
realistic states and times (some late, some escalated, some cancelled), two log events per case, and a
112 incident timeline (7 events and a unit assignment) on 3 % of the cases. Then, in the same run, times:
  limit       one hand-written GROUP BY over tasks per agency (count, late, on time) — the floor,
  supervisor  GET /supervisor?hari=365 (the figures table, the backlog, escalations),
  analytics   GET /analitik?hari=365 (league, breakdown, weekly trend, time to scene, hotspots),
  scoreboard  GET /beranda?hari=365 (the public board),
  report      GET /analitik/laporan.csv (the previous month's report: every table computed, one served),
each the median of `--repeat` requests, and the ratio of each to the limit.

    python benchmarks/analytics.py                         # 20 000 cases, SQLite (about a minute)
    python benchmarks/analytics.py --backend postgres      # needs KOTAPINTAR_TEST_POSTGRES_URL
    python benchmarks/analytics.py --cases 1000000 --backend both   # `make bench-analytics`
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from kotapintar.analytics.service import rebuild_rollup  # noqa: E402
from kotapintar.app.reference import load_demo_city  # noqa: E402
from kotapintar.app.web import create_app  # noqa: E402
from kotapintar.core.access.actors import system_actor  # noqa: E402
from kotapintar.core.db.database import Database  # noqa: E402
from kotapintar.core.db.migrate import upgrade  # noqa: E402
from kotapintar.core.settings import Settings  # noqa: E402

SERVICES = ("jalan_rusak", "drainase", "lampu_jalan", "pohon_tumbang", "banjir", "kebakaran", "darurat_medis")
AGENCY = {
    "jalan_rusak": "pupr",
    "drainase": "pupr",
    "lampu_jalan": "dishub",
    "pohon_tumbang": "dlh",
    "banjir": "bpbd",
    "kebakaran": "damkar",
    "darurat_medis": "dinkes",
}
CHANNELS = ("web", "sms", "whatsapp", "telegram", "api", "112")
KECAMATAN = ("62.03.01", "62.03.02", "62.03.03", "62.03.04", "62.03.05")
PASSWORD = "kotapintar-demo"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
Row = tuple[Any, ...]

CASE_COLUMNS = (
    "id", "ticket", "service_code", "priority", "status", "title", "description", "lon", "lat", "h3_cell",
    "region_code", "kecamatan_code", "agency_code", "channel", "confidential", "created_at", "updated_at",
    "resolved_at",
)  # fmt: skip
TASK_COLUMNS = (
    "case_id", "step_id", "title", "agency_code", "status", "created_at", "due_at", "accepted_at",
    "completed_at", "data",
)  # fmt: skip
EVENT_COLUMNS = (
    "stream", "case_id", "seq", "type", "actor", "occurred_at", "payload", "prev_hash", "hash",
)  # fmt: skip
ASSIGNMENT_COLUMNS = ("unit_code", "case_id", "kind", "dispatched_at", "dispatched_by")


def _case_rows(n: int, now: datetime, rng: random.Random, created: list[datetime]) -> Iterator[Row]:
    """The cases (the same random sequence as the row-by-row fill this replaced: the same data)."""
    import h3

    for i in range(1, n + 1):
        service = SERVICES[i % len(SERVICES)]
        at = now - timedelta(seconds=rng.randint(3600, 365 * 86400))
        created.append(at)
        lon, lat = 114.2 + rng.random() * 0.4, -3.2 + rng.random() * 0.4
        resolved = at + timedelta(hours=rng.randint(1, 200)) if i % 3 == 0 else None
        yield (
            i, f"B-{i}", service, "P3", "in_progress", service, "benchmark", lon, lat,
            h3.latlng_to_cell(lat, lon, 9), KECAMATAN[i % 5] + f".200{i % 9}", KECAMATAN[i % 5],
            AGENCY[service], "112" if i % 33 == 0 else CHANNELS[i % 5], False, at, at, resolved,
        )  # fmt: skip


def _task_rows(n: int, created: list[datetime], rng: random.Random) -> Iterator[Row]:
    for i in range(1, n + 1):
        for k in range(1 + (i % 2)):
            at = created[i - 1] + timedelta(minutes=k * 30)
            due = at + timedelta(hours=rng.choice((4, 24, 72)))
            roll = rng.random()
            status = (
                "done"
                if roll < 0.7
                else "escalated"
                if roll < 0.78
                else "cancelled"
                if roll < 0.83
                else "in_progress"
                if roll < 0.93
                else "pending"
            )
            accepted = at + timedelta(seconds=rng.randint(60, 7200)) if status != "pending" else None
            done = at + timedelta(seconds=rng.randint(1800, 5 * 86400)) if status == "done" else None
            agency = AGENCY[SERVICES[i % len(SERVICES)]]
            yield (i, "tangani", "Tangani", agency, status, at, due, accepted, done, {})


def _event_rows(n: int, created: list[datetime], rng: random.Random) -> Iterator[Row]:
    for i in range(1, n + 1):
        at = created[i - 1]
        steps: list[tuple[float, str, dict[str, Any]]] = [
            (0, "report_received", {}),
            (60, "case_verified", {}),
        ]
        if i % 33 == 0:
            unit = f"DMK-0{1 + i % 3}"
            answer, dispatch = rng.randint(3, 30), rng.randint(30, 180)
            turnout, travel = rng.randint(30, 150), rng.randint(120, 1500)
            steps = [
                (0, "call_received", {}),
                (answer, "call_answered", {}),
                (answer + 5, "case_created", {}),
                (answer + dispatch, "unit_dispatched", {"unit": unit}),
                (answer + dispatch + turnout, "unit_en_route", {"unit": unit}),
                (answer + dispatch + turnout + travel, "unit_on_scene", {"unit": unit}),
                (answer + dispatch + turnout + travel + 1800, "unit_cleared", {"unit": unit}),
            ]
        for seq, (offset, type_, payload) in enumerate(steps, start=1):
            yield (
                f"case:{i}",
                i,
                seq,
                type_,
                "bench",
                at + timedelta(seconds=offset),
                payload,
                "0" * 64,
                "0" * 64,
            )


def _assignment_rows(n: int, created: list[datetime]) -> Iterator[Row]:
    for i in range(33, n + 1, 33):
        yield (f"DMK-0{1 + i % 3}", i, "primary", created[i - 1], "bench")


def _sqlite_value(value: Any) -> Any:
    """What SQLAlchemy would store on SQLite: naive UTC text with microseconds, JSON text, 0/1."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, dict):
        return json.dumps(value)
    if isinstance(value, bool):
        return int(value)
    return value


def _copy(conn: Any, table: str, columns: Sequence[str], rows: Iterator[Row]) -> None:
    """Bulk-load rows: PostgreSQL COPY FROM STDIN (psycopg), SQLite one executemany of plain tuples —
    not SQLAlchemy's per-row parameter processing, which made a 200,000-case fill take 2–5 minutes."""
    raw = conn.connection.driver_connection
    names = ", ".join(columns)
    if conn.dialect.name == "postgresql":
        with raw.cursor() as cur, cur.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(tuple(json.dumps(v) if isinstance(v, dict) else v for v in row))
        return
    marks = ", ".join("?" for _ in columns)
    raw.executemany(
        f"INSERT INTO {table} ({names}) VALUES ({marks})",
        (tuple(_sqlite_value(v) for v in row) for row in rows),
    )


def fill(db: Database, n: int, now: datetime) -> float:
    """Insert the history in bulk; returns the seconds it took."""
    rng = random.Random(15)
    started = time.perf_counter()
    created: list[datetime] = []
    with db.engine.begin() as conn:
        _copy(conn, "cases", CASE_COLUMNS, _case_rows(n, now, rng, created))
        _copy(conn, "tasks", TASK_COLUMNS, _task_rows(n, created, rng))
        _copy(conn, "events", EVENT_COLUMNS, _event_rows(n, created, rng))
        _copy(conn, "unit_assignments", ASSIGNMENT_COLUMNS, _assignment_rows(n, created))
        if conn.dialect.name == "postgresql":  # the ids were given: move the sequence past them
            conn.execute(text("SELECT setval(pg_get_serial_sequence('cases', 'id'), :n)"), {"n": n})
    return time.perf_counter() - started


def fill_rollup(db: Database) -> float:
    """Fill the analytics rollup from the inserted rows (`kotapintar analytics rebuild`, the SQL the
    commands use incrementally), then VACUUM ANALYZE (what autovacuum does after a load: statistics and,
    on PostgreSQL, the visibility map index-only scans need); returns the seconds it took."""
    started = time.perf_counter()
    rebuild_rollup(db)
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE" if conn.dialect.name == "postgresql" else "ANALYZE"))
    return time.perf_counter() - started


LIMIT_SQL = """
SELECT agency_code, count(*),
       sum(CASE WHEN status IN ('pending','accepted','in_progress','escalated') AND due_at < :now THEN 1 ELSE 0 END),
       sum(CASE WHEN status = 'done' AND completed_at <= due_at THEN 1 ELSE 0 END)
FROM tasks WHERE created_at >= :since GROUP BY agency_code
"""


def _median_time(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def _login(app: Any) -> TestClient:
    client = TestClient(app)
    token = CSRF.search(client.get("/masuk").text)
    assert token
    r = client.post(
        "/masuk",
        data={"username": "supervisor", "password": PASSWORD, "csrf_token": token.group(1)},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text[:300]
    return client


def measure(url: str, n: int, repeat: int, tmp: Path) -> dict[str, float]:
    """Fill one database and time the surfaces against the limit."""
    db = Database(url)
    upgrade(db.engine)
    load_demo_city(db, system_actor("benchmark"))
    now = datetime.now(UTC).replace(microsecond=0)
    fill_s = fill(db, n, now)
    rollup_s = fill_rollup(db)
    since = now - timedelta(days=365)
    params = {"now": now, "since": since}
    if db.engine.dialect.name == "sqlite":
        params = {
            "now": now.replace(tzinfo=None).isoformat(sep=" "),
            "since": since.replace(tzinfo=None).isoformat(sep=" "),
        }

    def limit() -> None:
        with db.engine.connect() as conn:
            conn.execute(text(LIMIT_SQL), params).all()

    settings = Settings(
        environment="test", database_url=url, media_dir=tmp / "media", demo_report_interval_s=0
    )
    app = create_app(settings, db=db)
    client = _login(app)

    def page(path: str) -> Callable[[], None]:
        def run() -> None:
            r = client.get(path)
            assert r.status_code == 200, (path, r.status_code, r.text[:300])

        return run

    figures = {"fill_s": fill_s, "rollup_s": rollup_s, "limit": _median_time(limit, repeat)}
    for name, path in (
        ("supervisor", "/supervisor?hari=365"),
        ("analytics", "/analitik?hari=365"),
        ("scoreboard", "/beranda?hari=365"),
        ("report", "/analitik/laporan.csv?tabel=instansi"),
    ):
        page(path)()  # warm the template cache
        figures[name] = _median_time(page(path), repeat)
    db.dispose()
    return figures


def _postgres_url() -> tuple[str, Callable[[], None]]:
    server = os.environ.get("KOTAPINTAR_TEST_POSTGRES_URL")
    if not server:
        raise SystemExit(
            "KOTAPINTAR_TEST_POSTGRES_URL is not set (postgresql+psycopg://user@host:5432/postgres)"
        )
    name = f"kp_bench_analytics_scale_{uuid.uuid4().hex[:8]}"
    admin = Database(server)
    with admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return make_url(server).set(database=name).render_as_string(hide_password=False), drop


def main() -> None:
    """Run the benchmark and print one line per surface."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=int, default=20_000)
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="sqlite")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    backends = ("sqlite", "postgres") if args.backend == "both" else (args.backend,)
    for backend in backends:
        with tempfile.TemporaryDirectory() as tmp_name:
            tmp = Path(tmp_name)
            drop: Callable[[], None] = lambda: None  # noqa: E731
            if backend == "sqlite":
                url = f"sqlite:///{tmp / 'bench.db'}"
            else:
                url, drop = _postgres_url()
            try:
                figures = measure(url, args.cases, args.repeat, tmp)
            finally:
                drop()
        base = figures["limit"]
        print(
            f"{backend}: {args.cases:,} cases, filled in {figures['fill_s']:.1f} s, "
            f"rollup rebuilt in {figures['rollup_s']:.1f} s"
        )
        print(f"  limit (hand-written GROUP BY)  {base * 1000:9.1f} ms")
        for name in ("supervisor", "analytics", "scoreboard", "report"):
            value = figures[name]
            print(f"  {name:<30} {value * 1000:9.1f} ms  {value / base:6.1f}× the limit")


if __name__ == "__main__":
    main()
