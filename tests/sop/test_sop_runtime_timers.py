"""Timers survive restarts and fire exactly once: each escalation rung once, also across a new process and
with two worker processes at once (SQLite and PostgreSQL)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text, update

from kotapintar.cases.models import Case
from kotapintar.cases.repository import TaskRepository
from kotapintar.core.access.actors import channel_actor
from kotapintar.core.db.database import Database
from kotapintar.core.settings import Settings
from kotapintar.intake import submit as report_intake
from kotapintar.sop.models import Timer
from kotapintar.sop.repository import SopRepository
from kotapintar.sop.scheduler import FireResult, run_due_timers
from tests.sop.test_sop_runtime_flow import distinct_report

WIB = timedelta(hours=7)
# Monday 5 January 2026, 09:00 WIB: verification due (3 hari kerja) Thursday 8 January 16:00 WIB.
OPENED = datetime(2026, 1, 5, 9, 0, tzinfo=UTC) - WIB
LADDER = {1: "diskominfo.supervisor", 2: "diskominfo.head", 3: "setda.sekda"}


def open_complaint(db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(report_intake, "utcnow", lambda: OPENED)
    try:
        return report_intake.submit_report(
            db, channel_actor("web"), distinct_report("jalan_rusak"), settings=settings
        ).case_id
    finally:
        monkeypatch.undo()


def escalations(db: Database, case_id: int) -> list[tuple[int, str]]:
    with db.reading() as uow:
        return [
            (e.payload["rung"], e.payload["to"])
            for e in uow.events.for_case(case_id)
            if e.type == "task_escalated"
        ]


def count(db: Database, case_id: int, type_: str) -> int:
    with db.reading() as uow:
        return sum(1 for e in uow.events.for_case(case_id) if e.type == type_)


def test_late_task_escalates_each_rung_once_across_a_restart(
    db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    case_id = open_complaint(db, settings, monkeypatch)
    due = datetime(2026, 1, 8, 16, 0, tzinfo=UTC) - WIB
    # Before the due time: only the two reminders (50 %, 80 %).
    run_due_timers(db, now=due - timedelta(minutes=1))
    assert count(db, case_id, "task_reminded") == 2
    assert escalations(db, case_id) == []
    run_due_timers(db, now=due + timedelta(minutes=1))
    assert escalations(db, case_id) == [(1, LADDER[1])]
    run_due_timers(db, now=due + timedelta(minutes=2))  # firing again changes nothing
    assert escalations(db, case_id) == [(1, LADDER[1])]
    # "Server restart": the first process is gone; a new Database (new engine, new pool) takes over.
    url = db.url
    db.dispose()
    restarted = Database(url)
    try:
        with restarted.reading() as uow:
            timers = SopRepository(uow.session).timers_for_case(case_id)
        assert [t.kind for t in timers] == ["escalation"], "the next rung waits as a row"
        result = run_due_timers(restarted, now=due + timedelta(days=30))
        assert result.failed == 0
        assert escalations(restarted, case_id) == [(1, LADDER[1]), (2, LADDER[2]), (3, LADDER[3])]
        assert count(restarted, case_id, "task_reminded") == 2
        run_due_timers(restarted, now=due + timedelta(days=60))
        assert len(escalations(restarted, case_id)) == 3
        with restarted.reading() as uow:
            task = next(t for t in uow.repo(TaskRepository).for_case(case_id) if t.step_id == "verifikasi")
            assert task.status == "escalated"
            assert SopRepository(uow.session).timers_for_case(case_id) == []
    finally:
        restarted.dispose()


@pytest.mark.slow
def test_two_worker_processes_fire_each_escalation_exactly_once(
    db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    case_ids = [open_complaint(db, settings, monkeypatch) for _ in range(4)]
    env = {
        **os.environ,
        "KOTAPINTAR_DATABASE_URL": db.url,
        "KOTAPINTAR_ENVIRONMENT": "test",
        "KOTAPINTAR_MEDIA_DIR": str(tmp_path / "media"),
    }
    # The cases opened in January 2026: by the real clock every rung is long due. Two workers race.
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "kotapintar", "worker", "--once"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [w.communicate(timeout=180) for w in workers]
    for worker, (_out, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, err[-2000:]
    fired = [int(out.split()[1]) for out, _ in outputs]
    assert sum(fired) == 6 * len(case_ids), fired  # 2 reminders, due, 3 escalations per case
    for case_id in case_ids:
        rungs = escalations(db, case_id)
        assert Counter(rungs) == Counter({(1, LADDER[1]): 1, (2, LADDER[2]): 1, (3, LADDER[3]): 1}), rungs
        assert count(db, case_id, "task_reminded") == 2
    with db.reading() as uow:
        assert all(SopRepository(uow.session).timers_for_case(c) == [] for c in case_ids)


def test_scheduler_thread_of_serve_fires_due_timers(
    db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    from kotapintar.sop.scheduler import start_scheduler_thread

    case_id = open_complaint(db, settings, monkeypatch)
    thread, stop = start_scheduler_thread(db, interval_s=0.1)
    try:
        deadline = time.monotonic() + 60
        while len(escalations(db, case_id)) < 3 and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not thread.is_alive()
    assert escalations(db, case_id) == [(1, LADDER[1]), (2, LADDER[2]), (3, LADDER[3])]


def test_a_batch_fires_nothing_for_a_case_closed_outside_its_sop(
    db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Staff closed the case by hand: the batch that claims its timers stops the SOP and reminds no one."""
    closed = open_complaint(db, settings, monkeypatch)
    running = open_complaint(db, settings, monkeypatch)
    with db.transaction() as uow:
        uow.session.execute(update(Case).where(Case.id == closed).values(status="closed"))
    result = run_due_timers(db, now=OPENED + timedelta(days=60))
    assert result.failed == 0
    assert count(db, closed, "task_reminded") == 0 and escalations(db, closed) == []
    assert count(db, running, "task_reminded") == 2  # the other case of the same batch went on
    assert [rung for rung, _to in escalations(db, running)] == [1, 2, 3]
    with db.reading() as uow:
        repo = SopRepository(uow.session)
        assert repo.timers_for_case(closed) == []
        instance = repo.instance(closed)
        assert instance is not None and instance.status == "closed"


def test_scheduler_skips_an_instance_a_command_holds_instead_of_dead_locking(
    db: Database, backend: str, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A task command locks the SOP instance, then writes the case's timers; the scheduler holds timer rows
    when it comes to the instance. It must skip the instance (not wait: that was a lock cycle), leave the
    timers, and fire them once the command committed."""
    if backend == "sqlite":
        pytest.skip("row locks: SQLite has one writer at a time, so no lock cycle can form")
    case_id = open_complaint(db, settings, monkeypatch)
    before_due = datetime(2026, 1, 8, 16, 0, tzinfo=UTC) - WIB - timedelta(minutes=1)
    results: list[FireResult] = []
    with db.transaction() as uow:  # the command, between its instance lock and its timer writes
        uow.session.execute(text("SET LOCAL lock_timeout = '5s'"))
        assert SopRepository(uow.session).instance(case_id, for_update=True) is not None
        scheduler = threading.Thread(target=lambda: results.append(run_due_timers(db, now=before_due)))
        scheduler.start()
        scheduler.join(timeout=20)
        assert not scheduler.is_alive(), "the scheduler waited for the instance the command holds"
        assert results[0].fired == 0 and results[0].failed == 0
        # The command writes the case's timers: none is held by the scheduler any more (else lock_timeout).
        uow.session.execute(update(Timer).where(Timer.case_id == case_id).values(attempts=Timer.attempts))
    assert count(db, case_id, "task_reminded") == 0
    result = run_due_timers(db, now=before_due)
    assert result.failed == 0
    assert count(db, case_id, "task_reminded") == 2  # both reminders, once each, after the command
