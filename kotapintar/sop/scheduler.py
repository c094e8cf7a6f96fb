"""The timer scheduler: fires due SOP timers exactly once, across restarts and several worker processes.

Timers are fired in batches, one transaction per batch: claim up to `BATCH_SIZE` due rows (PostgreSQL
`FOR UPDATE SKIP LOCKED`, SQLite's writer lock), give each case's engine `TimerFired`, apply its commands,
delete the rows, commit. The deletes commit with the effects, so a crash before commit leaves the timers to
fire later and a commit means they never fire again. A batch that fails is replayed one timer per
transaction, so one bad timer is isolated and retried later with a growing delay (it is never lost).
"""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from kotapintar.cases.lifecycle import CaseStatus
from kotapintar.cases.repository import CaseRepository
from kotapintar.core.access.actors import system_actor
from kotapintar.core.db.database import Database
from kotapintar.core.db.uow import UnitOfWork
from kotapintar.core.events.types import utcnow
from kotapintar.core.http.metrics import TIMER_LAG_SECONDS, TIMERS_FIRED
from kotapintar.sop.engine import CaseCancelled, TimerFired
from kotapintar.sop.models import SopInstance, Timer
from kotapintar.sop.repository import ClaimedTimer, SopRepository
from kotapintar.sop.runtime import _NOT_PENDING, BatchInstance, SopBatch, feed_event

log = logging.getLogger(__name__)

SCHEDULER = system_actor("scheduler")
RETRY_DELAY = timedelta(seconds=30)
MAX_RETRY_DELAY = timedelta(hours=1)
BATCH_SIZE = 200  # timers claimed and fired per transaction
PG_THREADS = 2  # connections firing a burst at once on PostgreSQL (see run_due_timers)
_FINAL = frozenset({CaseStatus.CLOSED, CaseStatus.REJECTED, CaseStatus.MERGED})


@dataclass
class FireResult:
    """What one run of the scheduler did."""

    fired: int = 0
    failed: int = 0
    lags: list[float] | None = None


def _fire_claimed(
    uow: UnitOfWork,
    repo: SopRepository,
    timer: Timer | ClaimedTimer,
    now: datetime,
    batch: SopBatch | None = None,
) -> bool:
    """Give one claimed timer to its case's SOP (or stop the SOP of a case that ended outside it).

    With `batch`, the instance and case come from the batch's loads and the writes wait for its flush.
    False when the timer must wait: another transaction holds its case's SOP instance (PostgreSQL). The
    scheduler holds the timer row already, and a command holding the instance may be about to write this
    timer, so it skips the instance rather than wait for it (no lock cycle); the timer fires in a later run.
    """
    key = str((timer.payload or {}).get("sop_key") or "")
    case_id = timer.case_id
    if case_id is None or not key:
        return True
    inst: SopInstance | BatchInstance | None
    if batch is not None:
        if case_id in batch.busy:
            return False
        inst = batch.instances.get(case_id)
        case = batch.cases.get(case_id)
    else:
        inst = repo.instance(case_id, for_update=True, skip_locked=True)
        if inst is None and repo.existing_instances([case_id]):
            return False
        case = uow.repo(CaseRepository).get(case_id) if inst is not None else None
    if inst is None or case is None:
        return True
    if CaseStatus(case.status) in _FINAL and inst.status in ("running", "awaiting_closure"):
        # The case ended outside the SOP (rejected, merged, closed by hand): stop its SOP.
        final = case.status if case.status in ("rejected", "merged") else "rejected"
        if case.status == "closed":
            if isinstance(inst, BatchInstance):
                inst.close(now)
            else:
                inst.status = "closed"
            if batch is not None:
                batch.writer.flush()  # timers this batch started or cancelled are in the table first
            for other in repo.timers_for_case(case_id):
                if other.id == timer.id:
                    continue
                if batch is not None:
                    batch.writer.cancel_timer(other.key)  # also tells the batch not to fire it later
                else:
                    repo.finish_timer(other)
        else:
            feed_event(
                uow,
                SCHEDULER.name,
                case_id,
                lambda _s: CaseCancelled(at=now, reason="kasus diakhiri", final_status=final),
                now,
                batch=batch,
            )
    else:
        feed_event(
            uow,
            SCHEDULER.name,
            case_id,
            lambda _s: TimerFired(at=now, actor=SCHEDULER.name, key=key),
            now,
            batch=batch,
        )
    return True


def _still_due(batch: SopBatch, timer: ClaimedTimer, now: datetime) -> bool:
    """Whether a claimed timer still waits, due by `now`, after the batch's earlier firings of its case
    (one of them may have cancelled or moved it; those writes are still queued in the batch's writer)."""
    pending = batch.writer.pending_timer(timer.key)
    if pending is _NOT_PENDING:
        return True
    return pending is not None and pending["due_at"] <= now


def _fire_one(db: Database, now: datetime, lags: list[float] | None) -> tuple[bool, int | None, str | None]:
    """Claim and fire one due timer; (found, id of a failed timer, error). Not found also when the one
    claimed must wait (its SOP instance is held by another transaction): the caller stops for this run."""
    claimed_id: int | None = None
    try:
        with db.transaction() as uow:
            repo = SopRepository(uow.session)
            timer = repo.claim_due_timer(now)
            if timer is None:
                return False, None, None
            claimed_id = timer.id
            if not _fire_claimed(uow, repo, timer, now):
                return False, None, None
            if lags is not None:
                lags.append((utcnow() - timer.due_at).total_seconds())
            repo.finish_timer(timer)
        return True, None, None
    except Exception as exc:
        log.exception("timer %s failed", claimed_id)
        return True, claimed_id, f"{type(exc).__name__}: {exc}"


def _fire_batch(
    db: Database,
    now: datetime,
    size: int,
    lags: list[float] | None,
    on_full: Callable[[], None] | None = None,
) -> tuple[int, int]:
    """Claim up to `size` due timers in one transaction, fire them all, delete them, commit once.

    Returns (claimed, fired). The rows stay locked (PostgreSQL `FOR UPDATE SKIP LOCKED`) until the commit,
    so other workers skip them, and a worker killed mid-batch commits nothing: its timers fire later in
    another worker. The batch's SOP instances and cases are then locked in ascending case id, skipping
    those another transaction holds (their timers stay for a later run): holding timer rows, the scheduler
    never waits for a row lock a task command may hold while it waits for those timers (issue 19).
    A timer that an earlier one of the same case cancelled or moved within the batch is left alone, as the
    one-at-a-time path would have done. Any failure rolls the whole batch back (the event chains' anchors
    are held in the unit of work, so a partial rollback is not safe); the caller then fires those timers one
    at a time to isolate the bad one. `on_full` is called as soon as a full batch is claimed (more may wait).
    """
    with db.transaction() as uow:
        repo = SopRepository(uow.session)
        claimed = repo.claim_due_timer_rows(now, size)
        if not claimed:
            return 0, 0
        if on_full is not None and len(claimed) >= size:
            on_full()
        claimed.sort(key=lambda t: (t.case_id or 0, t.due_at, t.id))
        # Instances, cases, tasks and chain anchors of the whole batch: one query each, locked in order.
        batch = SopBatch.load(uow, [t.case_id for t in claimed if t.case_id is not None])
        seen_cases: set[int] = set()
        fired: list[int] = []
        due_ats: list[datetime] = []
        for timer in claimed:
            if timer.case_id in seen_cases and not _still_due(batch, timer, now):
                continue
            if not _fire_claimed(uow, repo, timer, now, batch):
                continue  # its instance is busy: the timer stays, claimed again by a later run
            if timer.case_id is not None:
                seen_cases.add(timer.case_id)
            due_ats.append(timer.due_at)
            fired.append(timer.id)
        batch.writer.flush()
        batch.write_rows(uow)
        repo.finish_timer_ids(fired)
    committed = utcnow()  # due -> committed: when the firing became visible to everyone
    batch_lags = [(committed - due).total_seconds() for due in due_ats]
    for lag in batch_lags:
        TIMER_LAG_SECONDS.observe(lag)
    TIMERS_FIRED.inc(len(batch_lags))
    if lags is not None:
        lags.extend(batch_lags)
    return len(claimed), len(fired)


def _fire_singly(db: Database, at: datetime, count: int, result: FireResult) -> None:
    """The one-transaction-per-timer path: isolates a failing timer and schedules its retry."""
    for _ in range(count):
        found, failed_id, error = _fire_one(db, at, result.lags)
        if not found:
            return
        if failed_id is None:
            result.fired += 1
            continue
        result.failed += 1
        with db.transaction() as uow:
            repo = SopRepository(uow.session)
            attempts = repo.timer_attempts(failed_id)
            if attempts is None:
                continue
            delay = min(RETRY_DELAY * (2 ** min(attempts, 10)), MAX_RETRY_DELAY)
            repo.retry_timer(failed_id, at + delay)
            log.warning("timer %s retried at %s: %s", failed_id, at + delay, error)


class _Run:
    """One `run_due_timers` call shared by its threads: the budget of timers left to claim and the counts."""

    def __init__(
        self, db: Database, now: datetime | None, limit: int, batch_size: int, lags: list[float] | None
    ):
        self.db, self.now, self.limit, self.batch_size = db, now, limit, batch_size
        self.result = FireResult(lags=lags)
        self.reserved = 0  # timers claimed or being claimed by the threads, not yet counted in result
        self.done = False
        self.lock = threading.Lock()

    def reserve(self) -> int:
        """How many timers the calling thread may claim now (0: stop)."""
        with self.lock:
            if self.done:
                return 0
            left = self.limit - self.result.fired - self.result.failed - self.reserved
            size = min(self.batch_size, left)
            if size <= 0:
                return 0
            self.reserved += size
            return size

    def loop(self, on_full: Callable[[], None] | None = None) -> None:
        """Claim and fire batches until nothing is due, the budget is spent or another thread found the end."""
        while (size := self.reserve()) > 0:
            at = self.now or utcnow()
            failed_batch = False
            try:
                claimed, fired = _fire_batch(self.db, at, size, self.result.lags, on_full)
            except Exception:
                log.exception("a batch of timers failed; firing them one at a time")
                failed_batch, claimed, fired = True, 0, 0
            if failed_batch:
                singly = FireResult(lags=self.result.lags)
                _fire_singly(self.db, at, size, singly)
                with self.lock:
                    self.reserved -= size
                    self.result.fired += singly.fired
                    self.result.failed += singly.failed
                continue
            with self.lock:
                self.reserved -= size
                self.result.fired += fired
                # Nothing claimed: nothing more is due. Nothing fired: only timers moved by others in the
                # batch, or of busy instances: nothing more to do now.
                if claimed == 0 or fired == 0:
                    self.done = True


def run_due_timers(
    db: Database,
    now: datetime | None = None,
    limit: int = 1000,
    *,
    lags: list[float] | None = None,
    batch_size: int = BATCH_SIZE,
    threads: int | None = None,
) -> FireResult:
    """Fire up to `limit` timers due at `now` (default: the clock) in batches; returns counts.

    Timers that fall due while firing (e.g. the next escalation rung when `now` is far ahead) fire in the
    same run. Safe to run from several processes at once: each timer fires exactly once.

    On PostgreSQL a burst is fired by `threads` (default 2) connections at once, batches claimed with
    `SKIP LOCKED` as separate workers would: while one batch waits for the database (its writes, its
    commit), the next one is already being decided. The second thread starts only once a full batch was
    claimed (a burst). SQLite has one writer at a time, so it stays one thread.
    """
    if threads is None:
        threads = PG_THREADS if db.engine.dialect.name == "postgresql" else 1
    run = _Run(db, now, limit, batch_size, lags)
    helpers: list[threading.Thread] = []

    def helper() -> None:
        try:
            run.loop()
        except Exception:  # the database went away mid-run, say: the caller's thread meets it too
            log.exception("a timer thread stopped")

    def start_helpers() -> None:
        if helpers or threads <= 1:
            return
        for n in range(threads - 1):
            thread = threading.Thread(target=helper, name=f"kp-timers-{n + 1}", daemon=True)
            helpers.append(thread)
            thread.start()

    try:
        run.loop(start_helpers)
    finally:
        with run.lock:
            run.done = True  # the helpers stop after their current batch, also when this thread failed
        for thread in helpers:
            thread.join()
    return run.result


def next_due(db: Database) -> datetime | None:
    """When the next timer falls due."""
    with db.reading() as uow:
        return SopRepository(uow.session).next_due()


def run_scheduler(
    db: Database,
    stop: threading.Event,
    *,
    interval_s: float = 1.0,
    batch: int = 500,
) -> None:
    """The scheduler loop: fire what is due, then sleep until the next due time (at most `interval_s`).

    It first freezes the objects the process holds by now (`gc.freeze()`: modules, the app, caches; a
    quarter of a million of them): they live as long as the process, and the full collections a burst of
    timers triggers otherwise walk them all, about 0.15 s of CPU per 1,000 timers (issue 19).
    """
    gc.collect()  # garbage of the start-up is freed first, not frozen with the rest
    gc.freeze()
    while not stop.is_set():
        try:
            upcoming = next_due(db)  # a read first: no write lock (SQLite) while nothing is due
            if upcoming is not None and upcoming <= utcnow():
                result = run_due_timers(db, limit=batch)
                if result.fired + result.failed >= batch:
                    continue
                upcoming = next_due(db)
        except Exception:
            log.exception("scheduler run failed")
            upcoming = None
        wait = interval_s
        if upcoming is not None:
            wait = max(0.0, min(interval_s, (upcoming - utcnow()).total_seconds()))
        stop.wait(wait)


def start_scheduler_thread(db: Database, interval_s: float = 1.0) -> tuple[threading.Thread, threading.Event]:
    """Run the scheduler loop in a daemon thread of this process (used by `kotapintar serve`)."""
    stop = threading.Event()
    thread = threading.Thread(
        target=run_scheduler,
        args=(db, stop),
        kwargs={"interval_s": interval_s},
        name="kp-scheduler",
        daemon=True,
    )
    thread.start()
    return thread, stop
