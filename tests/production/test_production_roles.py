"""Process roles on PostgreSQL with real processes (issue 19): three `kotapintar run worker` copies fire
every due SOP timer exactly once although one of them is killed with SIGKILL in the middle of a batch; a
worker stops cleanly on SIGTERM; two notifier copies share the work through an advisory lock."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from kotapintar.core.db.database import Database
from kotapintar.core.db.leader import LeaderLock
from kotapintar.core.settings import Settings
from tests.sop.test_sop_runtime_timers import LADDER, count, escalations, open_complaint

pytestmark = [pytest.mark.multiprocess]


def _env(url: str, tmp: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "KOTAPINTAR_DATABASE_URL": url,
        "KOTAPINTAR_ENVIRONMENT": "test",
        "KOTAPINTAR_MEDIA_DIR": str(tmp / "media"),
        "KOTAPINTAR_SCHEDULER_INTERVAL_S": "0.2",
        **extra,
    }


def _named(url: str, name: str) -> str:
    """The URL with a libpq application_name, so the test can see that process's sessions."""
    return make_url(url).update_query_dict({"application_name": name}).render_as_string(hide_password=False)


def _waiting_timers(db: Database) -> int:
    with db.reading() as uow:
        return int(uow.session.scalar(text("SELECT count(*) FROM timers")) or 0)


def _fired_events(db: Database) -> int:
    with db.reading() as uow:
        return int(uow.session.scalar(text("SELECT count(*) FROM events WHERE type = 'task_reminded'")) or 0)


def _in_transaction(db: Database, name: str) -> bool:
    """Whether the process named `name` has a transaction open right now (it is inside a batch)."""
    with db.reading() as uow:
        found = uow.session.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = :n AND xact_start IS NOT NULL "
                "AND state IN ('active', 'idle in transaction')"
            ),
            {"n": name},
        )
    return bool(found)


def _worker(url: str, tmp: Path, name: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "kotapintar", "run", "worker"],
        env=_env(_named(url, name), tmp, KOTAPINTAR_SCHEDULER_BATCH="10"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_three_workers_fire_each_timer_once_across_a_kill_9_mid_batch(
    db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    case_ids = [open_complaint(db, settings, monkeypatch) for _ in range(120)]
    assert _waiting_timers(db) == len(case_ids)  # one waiting timer per case; each firing sets the next
    victim = _worker(db.url, tmp_path, "kp-victim")
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # wait until the victim is inside a batch, after a first commit
            if _fired_events(db) > 0 and _in_transaction(db, "kp-victim"):
                break
            time.sleep(0.005)
        else:
            victim.kill()
            pytest.fail(
                f"no batch seen: {_fired_events(db)} fired, {_waiting_timers(db)} waiting, {victim.communicate()[1][-3000:]}"
            )
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)
        assert _waiting_timers(db) > 0, "the killed worker left work behind"
    finally:
        if victim.poll() is None:
            victim.kill()
    others = [_worker(db.url, tmp_path, f"kp-worker-{i}") for i in range(3)]
    try:
        deadline = time.monotonic() + 240
        while _waiting_timers(db) > 0 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _waiting_timers(db) == 0, "every due timer fired"
    finally:
        for proc in others:
            proc.send_signal(signal.SIGTERM)
        outs = [proc.communicate(timeout=30) for proc in others]
    for proc, (out, err) in zip(others, outs, strict=True):
        assert proc.returncode == 0, err[-2000:]  # SIGTERM: a clean stop, exit 0
        assert "kotapintar worker stopped" in out
    for case_id in case_ids:  # 2 reminders and 3 escalation rungs per case, each exactly once
        rungs = escalations(db, case_id)
        assert Counter(rungs) == Counter({(1, LADDER[1]): 1, (2, LADDER[2]): 1, (3, LADDER[3]): 1}), rungs
        assert count(db, case_id, "task_reminded") == 2


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_one_advisory_lock_holder_among_processes_and_takeover_when_it_dies(db: Database) -> None:
    code = (
        "import sys, time\n"
        "from kotapintar.core.db.database import Database\n"
        "from kotapintar.core.db.leader import LeaderLock\n"
        "lock = LeaderLock(Database(sys.argv[1]), 'notifier')\n"
        "print('held' if lock.held() else 'standby', flush=True)\n"
        "time.sleep(60)\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", code, db.url], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        here = LeaderLock(db, "notifier")
        assert not here.held(), "a second copy stands by while the first holds the lock"
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
        deadline = time.monotonic() + 10
        while not here.held():
            assert time.monotonic() < deadline, "the standby never took over"
            time.sleep(0.1)
        here.release()
    finally:
        if holder.poll() is None:
            holder.kill()


def test_unknown_role_is_refused_with_the_roles_named() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "kotapintar", "run", "mailer"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert "web, worker, ingest, notifier, all" in done.stderr
