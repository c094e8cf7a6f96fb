"""Intake throughput: reports submitted through the service layer vs raw single-row inserts, same database.

    .venv/bin/python benchmarks/intake.py [--n 2000] [--postgres URL]

Prints reports/s, p50/p99 latency and the ratio to the raw rate of one-row transactions measured in the
same run on the same database (PostgreSQL too when --postgres or KOTAPINTAR_TEST_POSTGRES_URL is set).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url

from kotapintar.app.reference import load_demo_city
from kotapintar.cases.schemas import ReportIn
from kotapintar.core.access.actors import channel_actor, system_actor
from kotapintar.core.db.database import Database
from kotapintar.core.db.migrate import upgrade
from kotapintar.core.settings import Settings
from kotapintar.intake.submit import submit_report


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


def reports(db: Database, settings: Settings, n: int) -> tuple[float, list[float]]:
    """Full intake: validate, locate, case + report + reporter + two chained events, one transaction."""
    actor = channel_actor("api")
    latencies = []
    start = time.perf_counter()
    for i in range(n):
        body = ReportIn(
            service_code="jalan_rusak",
            description=f"Jalan berlubang besar di depan pasar nomor {i}",
            lon=114.39 + (i % 50) * 0.001,
            lat=-3.0 - (i % 40) * 0.001,
            reporter={"name": "Budi", "phone": "+6281234567890"},
            client_ref=f"bench-{i}",
        )
        t0 = time.perf_counter()
        submit_report(db, actor, body, settings=settings)
        latencies.append(time.perf_counter() - t0)
    elapsed = time.perf_counter() - start
    return n / elapsed, latencies


def run(label: str, url: str, n: int) -> None:
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
    rate, lat = reports(db, settings, n)
    print(f"[{label}] n={n}")
    print(
        f"  raw single-row transactions: {raw_rate:8.0f}/s  p50 {percentile(raw_lat, 0.5) * 1000:6.2f} ms  p99 {percentile(raw_lat, 0.99) * 1000:6.2f} ms"
    )
    print(
        f"  submit_report (full intake): {rate:8.0f}/s  p50 {percentile(lat, 0.5) * 1000:6.2f} ms  p99 {percentile(lat, 0.99) * 1000:6.2f} ms"
    )
    print(f"  ratio reports/raw: {rate / raw_rate:.2f}  (mean latency {statistics.mean(lat) * 1000:.2f} ms)")
    db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--postgres", default=os.environ.get("KOTAPINTAR_TEST_POSTGRES_URL"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run("sqlite", f"sqlite:///{Path(tmp) / 'bench.db'}", args.n)
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
            )
        finally:
            with admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
    else:
        print("[postgresql] skipped: set --postgres URL or KOTAPINTAR_TEST_POSTGRES_URL")


if __name__ == "__main__":
    main()
