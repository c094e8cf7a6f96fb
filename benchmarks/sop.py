"""Benchmark: SOP timers fired by the scheduler with many open timers in the database.

With N open timers in the `timers` table (most due far in the future), M timers of real SOP instances fall due
at the same moment; `run_due_timers` fires them (batches of 200 per transaction: claim, load the batch's
instances/cases/tasks, engine, one UPDATE per table, delete; on PostgreSQL two connections at once). As a
worker does (`run_scheduler` freezes the start-up objects for the garbage collector), the set-up's objects
are frozen before firing. Reported: the lag from due time to committed firing
(p50/p99) and timers/s. Baseline in the same run, on the same database: the
raw rate of claiming-and-deleting timer rows (one row per transaction, and batched), without any SOP work.
SQLite always; PostgreSQL too when KOTAPINTAR_TEST_POSTGRES_URL is set (a scratch database is created).

    python benchmarks/sop.py                 # quick (default): N=10,000 open, M=1,000 due
    python benchmarks/sop.py --open 100000   # the scale of issue 19: 1,000 due among 100,000 open
    python benchmarks/sop.py --full          # N=100,000 open, M=10,000 due

Targets (issue 19 item 3): p99 due→fired < 1 s, and a rate at least that of one-row claim+delete.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

from sqlalchemy import insert, text, update
from sqlalchemy.engine import make_url

from kotapintar.app.reference import load_agencies, load_services
from kotapintar.app.wiring import wire
from kotapintar.cases.repository import CaseRepository
from kotapintar.catalog.repository import ServiceRepository
from kotapintar.core.access.actors import system_actor
from kotapintar.core.db.database import Database
from kotapintar.core.db.migrate import upgrade
from kotapintar.core.events.types import utcnow
from kotapintar.sop.library import publish_shipped_sops
from kotapintar.sop.models import Timer
from kotapintar.sop.repository import SopRepository
from kotapintar.sop.runtime import start_case_sop
from kotapintar.sop.scheduler import run_due_timers

ACTOR = system_actor("bench")
SERVICES = ("jalan_rusak", "sampah", "lampu_jalan", "drainase")


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _prepare(db: Database, open_timers: int, due: int) -> None:
    """Reference data, `due` cases with a running SOP (one waiting timer each), filler timers up to N."""
    upgrade(db.engine)
    load_agencies(db, ACTOR)
    load_services(db, ACTOR)
    publish_shipped_sops(db, ACTOR)
    opened = utcnow() - timedelta(minutes=5)
    made = 0
    while made < due:
        with db.transaction() as uow:
            for _ in range(min(250, due - made)):
                service = SERVICES[made % len(SERVICES)]
                case_id, _ticket = uow.repo(CaseRepository).insert_with_ticket(
                    "BENCH",
                    opened.year,
                    service_code=service,
                    priority="P3",
                    status="received",
                    title="bench",
                    description="bench",
                    lon=None,
                    lat=None,
                    h3_cell=None,
                    address=None,
                    region_code=None,
                    kecamatan_code=None,
                    agency_code=uow.repo(ServiceRepository).get(service).agency_code,  # type: ignore[union-attr]
                    channel="api",
                    confidential=False,
                    created_at=opened,
                    updated_at=opened,
                )
                start_case_sop(uow, ACTOR, case_id, None, opened)
                made += 1
    far = utcnow() + timedelta(days=365)
    filler = open_timers - due
    with db.transaction() as uow:
        for start in range(0, filler, 5000):
            uow.session.execute(
                insert(Timer),
                [
                    {
                        "key": f"bench:filler:{i}",
                        "kind": "due",
                        "case_id": None,
                        "task_id": None,
                        "due_at": far + timedelta(seconds=i),
                        "payload": {},
                        "created_at": opened,
                        "attempts": 0,
                    }
                    for i in range(start, min(filler, start + 5000))
                ],
            )


def _fire(db: Database, due: int) -> tuple[float, list[float], int, float]:
    """Make every SOP timer due now, then fire them; returns seconds, lags, fired count, CPU seconds of
    this process (on a shared machine, fired / CPU seconds is the rate one idle core would reach)."""
    with db.transaction() as uow:
        moment = utcnow()
        uow.session.execute(update(Timer).where(Timer.case_id.is_not(None)).values(due_at=moment))
    lags: list[float] = []
    started, cpu = time.perf_counter(), time.process_time()
    fired = 0
    while fired < due:
        result = run_due_timers(db, limit=due - fired, lags=lags)
        if result.fired == 0:
            break
        fired += result.fired
    return time.perf_counter() - started, lags, fired, time.process_time() - cpu


def _baseline(db: Database, rows: int) -> tuple[float, float]:
    """Claim-and-delete rate of plain due rows: one per transaction, and in batches of 500."""
    moment = utcnow() - timedelta(seconds=1)

    def fill(tag: str) -> None:
        with db.transaction() as uow:
            uow.session.execute(
                insert(Timer),
                [
                    {
                        "key": f"bench:{tag}:{i}",
                        "kind": "due",
                        "case_id": None,
                        "task_id": None,
                        "due_at": moment,
                        "payload": {},
                        "created_at": moment,
                        "attempts": 0,
                    }
                    for i in range(rows)
                ],
            )

    fill("single")
    started = time.perf_counter()
    while True:
        with db.transaction() as uow:
            repo = SopRepository(uow.session)
            timer = repo.claim_due_timer(utcnow())
            if timer is None or timer.case_id is not None or timer.due_at > utcnow():
                break
            repo.finish_timer(timer)
    single = rows / (time.perf_counter() - started)
    fill("batch")
    started = time.perf_counter()
    while True:
        with db.transaction() as uow:
            if SopRepository(uow.session).claim_and_delete(utcnow(), 500) == 0:
                break
    batched = rows / (time.perf_counter() - started)
    return single, batched


def run(label: str, db: Database, open_timers: int, due: int) -> None:
    """One backend: prepare, fire, baseline, print."""
    t0 = time.perf_counter()
    _prepare(db, open_timers, due)
    with db.reading() as uow:
        waiting = uow.session.scalar(text("SELECT count(*) FROM timers"))
    print(f"[{label}] prepared {due} SOP cases, {waiting} open timers in {time.perf_counter() - t0:.1f} s")
    gc.collect()
    gc.freeze()  # as `run_scheduler` does when a worker starts: the set-up's objects are not walked again
    seconds, lags, fired, cpu = _fire(db, due)
    gc.unfreeze()
    rate = fired / seconds
    print(
        f"[{label}] fired {fired} due timers in {seconds:.2f} s: {rate:,.0f} timers/s; "
        f"lag due→fired p50 {statistics.median(lags):.2f} s, p99 {_pct(lags, 0.99):.2f} s, "
        f"max {max(lags):.2f} s; {cpu:.2f} s CPU in this process ({fired / cpu:,.0f} timers per CPU second)"
    )
    single, batched = _baseline(db, due)
    print(
        f"[{label}] baseline claim+delete: {single:,.0f} rows/s (one per transaction), "
        f"{batched:,.0f} rows/s (batches of 500)"
    )
    print(
        f"[{label}] ratio scheduler / baseline: {rate / single:.2f} of one-row transactions, "
        f"{rate / batched:.3f} of batched deletes"
    )
    p99 = _pct(lags, 0.99)
    print(
        f"[{label}] targets: p99 < 1 s {'met' if p99 < 1 else 'NOT met'} ({p99:.2f} s); "
        f"rate ≥ one-row claim+delete {'met' if rate >= single else 'NOT met'} ({rate / single:.2f}×)"
    )


def main() -> None:
    """Run on SQLite, then PostgreSQL when configured."""
    wire()  # the hooks production runs (SOP, analytics rollup refresh), so their cost is measured
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--open", type=int, default=10_000, help="open timers in the table (default 10,000)")
    parser.add_argument("--due", type=int, default=1_000, help="SOP timers due at once (default 1,000)")
    parser.add_argument("--full", action="store_true", help="100,000 open, 10,000 due")
    args = parser.parse_args()
    open_timers, due = (100_000, 10_000) if args.full else (args.open, args.due)
    if due < 1 or open_timers < due:
        parser.error("--due must be at least 1 and --open at least --due")
    print(f"SOP timer benchmark: {open_timers:,} open timers, {due:,} due at once")
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{Path(tmp) / 'bench.db'}")
        try:
            run("sqlite", db, open_timers, due)
        finally:
            db.dispose()
    server = os.environ.get("KOTAPINTAR_TEST_POSTGRES_URL")
    if not server:
        print("[postgresql] skipped: KOTAPINTAR_TEST_POSTGRES_URL is not set")
        return
    name = f"kp_bench_{uuid.uuid4().hex[:8]}"
    admin = Database(server)
    with admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    db = Database(make_url(server).set(database=name).render_as_string(hide_password=False))
    try:
        run("postgresql", db, open_timers, due)
    finally:
        db.dispose()
        with admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
