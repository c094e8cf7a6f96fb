"""All SQL of the SOP runtime: published versions, instances, SOP tasks and the durable timers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table, delete, func, insert, select, update
from sqlalchemy.orm import Session, make_transient_to_detached

from kotapintar.cases.models import Case, Task
from kotapintar.sop.models import SopInstance, SopVersion, Timer

_TASKS: Table = Task.__table__  # type: ignore[assignment]
_INSERT_TASK = insert(_TASKS).returning(_TASKS.c.id)


class SopRepository:
    """SOP versions, SOP instances, SOP tasks by key, and timers (claimed by the scheduler)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.is_postgres = session.get_bind().dialect.name == "postgresql"

    # versions -------------------------------------------------------------------------------------
    def latest_version(self, code: str) -> SopVersion | None:
        """The newest published version of an SOP code."""
        return self.session.scalars(
            select(SopVersion).where(SopVersion.code == code).order_by(SopVersion.version.desc()).limit(1)
        ).first()

    def version(self, code: str, version: int) -> SopVersion | None:
        """One published version."""
        return self.session.scalars(
            select(SopVersion).where(SopVersion.code == code, SopVersion.version == version)
        ).first()

    def versions(self, code: str) -> Sequence[SopVersion]:
        """Every published version of a code, oldest first."""
        return self.session.scalars(
            select(SopVersion).where(SopVersion.code == code).order_by(SopVersion.version)
        ).all()

    def latest_all(self) -> Sequence[SopVersion]:
        """The newest version of every SOP code, by code."""
        newest = (
            select(SopVersion.code, func.max(SopVersion.version).label("v"))
            .group_by(SopVersion.code)
            .subquery()
        )
        return self.session.scalars(
            select(SopVersion)
            .join(newest, (SopVersion.code == newest.c.code) & (SopVersion.version == newest.c.v))
            .order_by(SopVersion.code)
        ).all()

    def add_version(self, row: SopVersion) -> SopVersion:
        """Store a new version (the unique (code, version) refuses a concurrent duplicate)."""
        self.session.add(row)
        self.session.flush()
        return row

    # instances ------------------------------------------------------------------------------------
    def instance(self, case_id: int, *, for_update: bool = False) -> SopInstance | None:
        """The SOP instance of a case; locked for the rest of the transaction when `for_update`."""
        stmt = select(SopInstance).where(SopInstance.case_id == case_id)
        if for_update:
            stmt = stmt.with_for_update()
        return self.session.scalars(stmt).first()

    def add_instance(self, row: SopInstance) -> SopInstance:
        """Store the instance of a newly opened case."""
        self.session.add(row)
        self.session.flush()
        return row

    def save_state(self, row: SopInstance, state: dict[str, Any], status: str, at: datetime) -> None:
        """Replace the stored engine state (a new dict, so the JSON column is written)."""
        row.state = state
        row.status = status
        row.updated_at = at

    # tasks ----------------------------------------------------------------------------------------

    def tasks_by_key(self, case_id: int) -> dict[str, Task]:
        """Every SOP task row of a case by its engine key."""
        rows = self.session.scalars(
            select(Task).where(Task.case_id == case_id, Task.task_key.is_not(None))
        ).all()
        return {r.task_key: r for r in rows if r.task_key is not None}

    def add_task(self, task: Task) -> Task:
        """Store a task created by the engine: one Core INSERT … RETURNING id, then the row is attached to the
        session as loaded (every column set), so later changes in the transaction flush as an UPDATE.

        Cheaper than `session.add` + `flush` (the unit of work would also flush everything else pending).
        """
        table = _TASKS
        values = {c.key: getattr(task, c.key) for c in table.columns if c.key != "id"}
        if values["data"] is None:
            values["data"] = {}
        task_id = self.session.connection().execute(_INSERT_TASK, values).scalar_one()
        for key, value in values.items():
            setattr(task, key, value)  # unset ones (None) too: nothing is left to lazy-load
        task.id = int(task_id)
        make_transient_to_detached(task)
        self.session.add(task)
        return task

    def inbox(self, agency_code: str | None, statuses: Sequence[str], limit: int) -> Sequence[Task]:
        """Open tasks (of one agency, or all), soonest due first."""
        stmt = select(Task).where(Task.status.in_(statuses))
        if agency_code is not None:
            stmt = stmt.where(Task.agency_code == agency_code)
        return self.session.scalars(
            stmt.order_by(Task.due_at.is_(None), Task.due_at, Task.id).limit(limit)
        ).all()

    # timers ---------------------------------------------------------------------------------------
    def upsert_timer(
        self,
        key: str,
        kind: str,
        case_id: int | None,
        task_id: int | None,
        due_at: datetime,
        payload: dict[str, Any],
        at: datetime,
    ) -> None:
        """Start a timer, or move it when a timer with this key is already waiting."""
        self._flush_new()
        row = self.session.scalars(select(Timer).where(Timer.key == key)).first()
        if row is None:
            self.session.add(
                Timer(
                    key=key,
                    kind=kind,
                    case_id=case_id,
                    task_id=task_id,
                    due_at=due_at,
                    payload=payload,
                    created_at=at,
                    attempts=0,
                )
            )
        else:
            row.kind, row.due_at, row.payload, row.task_id, row.attempts = kind, due_at, payload, task_id, 0

    def cancel_timer(self, key: str) -> None:
        """Remove a timer (no-op when it already fired)."""
        self._flush_new()
        self.session.execute(delete(Timer).where(Timer.key == key))

    def _flush_new(self) -> None:
        """Sessions do not autoflush: a timer added earlier in this transaction must reach the database before
        a statement looks for its key (else a cancel misses it and a restart inserts the key twice)."""
        if any(isinstance(obj, Timer) for obj in self.session.new):
            self.session.flush()

    def timers_for_case(self, case_id: int) -> Sequence[Timer]:
        """The waiting timers of a case, soonest first."""
        return self.session.scalars(
            select(Timer).where(Timer.case_id == case_id).order_by(Timer.due_at, Timer.id)
        ).all()

    def claim_due_timer(self, now: datetime) -> Timer | None:
        """Lock the soonest due timer for this transaction, skipping ones other workers hold.

        PostgreSQL: `FOR UPDATE SKIP LOCKED`, so workers never wait for or share a timer. SQLite: every write
        transaction starts with BEGIN IMMEDIATE, so only one worker reads-and-deletes at a time anyway.
        """
        stmt = select(Timer).where(Timer.due_at <= now).order_by(Timer.due_at, Timer.id).limit(1)
        if self.is_postgres:
            stmt = stmt.with_for_update(skip_locked=True)
        return self.session.scalars(stmt).first()

    def claim_due_timers(self, now: datetime, limit: int) -> list[Timer]:
        """Lock up to `limit` of the soonest due timers for this transaction, skipping other workers' ones."""
        stmt = select(Timer).where(Timer.due_at <= now).order_by(Timer.due_at, Timer.id).limit(limit)
        if self.is_postgres:
            stmt = stmt.with_for_update(skip_locked=True)
        return list(self.session.scalars(stmt).all())

    def timer_still_due(self, timer_id: int, now: datetime) -> bool:
        """Whether a claimed timer still waits, due by `now` (an earlier firing may have cancelled or moved it)."""
        self.session.flush()
        due = self.session.scalar(
            select(Timer.due_at).where(Timer.id == timer_id).execution_options(populate_existing=True)
        )
        return due is not None and due <= now

    def finish_timers(self, timers: Sequence[Timer]) -> None:
        """Delete fired timers in the transaction that executed them (bulk; rows already gone are ignored)."""
        self.session.flush()
        ids = [t.id for t in timers]
        for start in range(0, len(ids), 1000):
            self.session.execute(
                delete(Timer).where(Timer.id.in_(ids[start : start + 1000])),
                execution_options={"synchronize_session": False},
            )
        for timer in timers:
            if timer in self.session:
                self.session.expunge(timer)

    def finish_timer(self, timer: Timer) -> None:
        """Delete a fired timer in the transaction that executed it: committed together, so exactly once."""
        self.session.delete(timer)

    def timer_attempts(self, timer_id: int) -> int | None:
        """How often a timer failed so far (None when it is gone)."""
        return self.session.scalar(select(Timer.attempts).where(Timer.id == timer_id))

    def retry_timer(self, timer_id: int, due_at: datetime) -> None:
        """Count a failed firing and try again later."""
        self.session.execute(
            update(Timer).where(Timer.id == timer_id).values(attempts=Timer.attempts + 1, due_at=due_at)
        )

    def next_due(self) -> datetime | None:
        """When the next timer is due (None when none waits)."""
        return self.session.scalar(select(func.min(Timer.due_at)))

    def claim_and_delete(self, now: datetime, limit: int) -> int:
        """The raw baseline: claim and delete up to `limit` due timers in one statement (benchmarks)."""
        ids = select(Timer.id).where(Timer.due_at <= now).order_by(Timer.due_at).limit(limit)
        if self.is_postgres:
            ids = ids.with_for_update(skip_locked=True)
        result = self.session.execute(delete(Timer).where(Timer.id.in_(ids.scalar_subquery())))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    # --- invariants (kotapintar check)
    def tasks_outside_an_instance(self) -> Sequence[Any]:
        """Tasks that are not a step of their case's SOP instance (no task key, or no instance)."""
        has_instance = select(SopInstance.id).where(SopInstance.case_id == Task.case_id).exists()
        return self.session.execute(
            select(Task.id, Task.case_id, Task.step_id, Task.agency_code, Task.status)
            .where((Task.task_key.is_(None)) | ~has_instance)
            .order_by(Task.id)
        ).all()

    def unfinished_instances_of_finished_cases(self, finished: Sequence[str]) -> Sequence[Any]:
        """SOP instances still running (or awaiting closure) on a closed, rejected or merged case."""
        return self.session.execute(
            select(
                SopInstance.case_id,
                SopInstance.sop_code,
                SopInstance.status,
                Case.status.label("case_status"),
            )
            .join(Case, Case.id == SopInstance.case_id)
            .where(Case.status.in_(list(finished)), SopInstance.status.in_(["running", "awaiting_closure"]))
            .order_by(SopInstance.case_id)
        ).all()
