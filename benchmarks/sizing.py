"""Figures for docs/scaling.md's sizing model (issue 19), measured on this machine on PostgreSQL:
reports/s through the full intake (one process), events per report, and bytes stored per report
(all tables and indexes, after VACUUM), from a scratch database.

    KOTAPINTAR_TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres \
        python benchmarks/sizing.py [--n 500]
"""

from __future__ import annotations

import argparse
import os
import time
import uuid

from sqlalchemy import text
from sqlalchemy.engine import make_url

from kotapintar.app.reference import load_demo_city
from kotapintar.app.wiring import wire
from kotapintar.core.access.actors import system_actor
from kotapintar.core.db.database import Database
from kotapintar.core.db.migrate import upgrade
from kotapintar.core.settings import Settings

_SIZE = "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r'"


def measure(url: str, n: int) -> None:
    """Load the demo city, measure the size, submit n reports, measure again."""
    import sys

    sys.path.insert(0, os.path.dirname(__file__))
    from intake import reports  # the same report stream as benchmarks/intake.py

    db = Database(url)
    upgrade(db.engine)
    load_demo_city(db, system_actor("bench"), with_users=False)
    settings = Settings(
        database_url=url, rate_limit_per_ip="1000000/minute", rate_limit_per_phone="1000000/hour"
    )

    def size_and_events() -> tuple[int, int]:
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
            return int(conn.execute(text(_SIZE)).scalar_one()), int(
                conn.execute(text("SELECT count(*) FROM events")).scalar_one()
            )

    size0, events0 = size_and_events()
    started = time.perf_counter()
    rate, _lat = reports(db, settings, n)
    elapsed = time.perf_counter() - started
    size1, events1 = size_and_events()
    print(f"[postgresql] {n} reports in {elapsed:.1f} s: {rate:.0f} reports/s in one process")
    print(f"[postgresql] events per report: {(events1 - events0) / n:.1f}")
    print(f"[postgresql] bytes stored per report (all tables + indexes): {(size1 - size0) / n:,.0f}")
    db.dispose()


def main() -> None:
    """Run on a scratch PostgreSQL database."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=500)
    server = os.environ.get("KOTAPINTAR_TEST_POSTGRES_URL")
    args = parser.parse_args()
    if not server:
        print("set KOTAPINTAR_TEST_POSTGRES_URL")
        return
    wire()
    name = f"kp_size_{uuid.uuid4().hex[:8]}"
    admin = Database(server)
    with admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        measure(make_url(server).set(database=name).render_as_string(hide_password=False), args.n)
    finally:
        with admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
