"""All SQL of the SOP runtime: published versions, instances, SOP tasks and the durable timers."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Row,
    String,
    Table,
    Text,
    any_,
    bindparam,
    cast,
    delete,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, load_only, make_transient_to_detached

from kotapintar.cases.models import Case, Task
from kotapintar.sop.models import SopInstance, SopVersion, Timer

_TASKS: Table = Task.__table__  # type: ignore[assignment]
_INSERT_TASK = insert(_TASKS).returning(_TASKS.c.id)
_INSTANCES: Table = SopInstance.__table__  # type: ignore[assignment]
_TIMERS: Table = Timer.__table__  # type: ignore[assignment]
_PG = postgresql.dialect()  # type: ignore[no-untyped-call]


@dataclass(frozen=True, slots=True)
class ClaimedTimer:
    """A timer row a scheduler batch claimed (locked until its commit)."""

    id: int
    key: str
    case_id: int | None
    due_at: datetime
    payload: dict[str, Any]


class RawJSON(str):
    """A value that is JSON text already (an SOP state serialised by pydantic): `bulk_update` writes it as it
    is instead of encoding it again."""

    __slots__ = ()


def _iso(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


_ENCODE = json.JSONEncoder(separators=(",", ":"), default=_iso).encode


def _json_rows(rows: Sequence[Mapping[str, Any]], keys: Sequence[str]) -> str:
    """The rows as one JSON array of objects with `keys` (one C-encoder call for the whole batch); a
    `RawJSON` value (at most one key, the same in every row) is spliced in as it is."""
    raw = [k for k in keys if isinstance(rows[0][k], RawJSON)]
    if not raw:
        return _ENCODE([{k: r[k] for k in keys} for r in rows])
    spliced = raw[0]
    plain = [k for k in keys if k != spliced]
    return (
        "["
        + ",".join(
            _ENCODE({k: r[k] for k in plain})[:-1] + f',"{spliced}":' + str(r[spliced]) + "}" for r in rows
        )
        + "]"
    )


_TIMER_COLUMNS = ("key", "kind", "case_id", "task_id", "due_at", "payload", "created_at", "attempts")
_TIMER_MOVED = ("kind", "due_at", "payload", "task_id")  # what starting a timer again under its key changes


def _upsert_timers_sql() -> Any:
    columns = ", ".join(f'"{k}" {_TIMERS.c[k].type.compile(dialect=_PG)}' for k in _TIMER_COLUMNS)
    names = ", ".join(f'"{k}"' for k in _TIMER_COLUMNS)
    moved = ", ".join(f'"{k}" = excluded."{k}"' for k in _TIMER_MOVED)
    # Names and types come from the table's metadata; the rows travel as one parameter.
    return text(
        f"INSERT INTO timers ({names}) SELECT {names} "  # noqa: S608
        f"FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS v({columns}) "
        f"ON CONFLICT (key) DO UPDATE SET {moved}, attempts = 0"
    )


def _sqlite_upsert_timer() -> Any:
    ins = sqlite_insert(_TIMERS)
    return ins.on_conflict_do_update(
        index_elements=[_TIMERS.c.key],
        set_={**{k: ins.excluded[k] for k in _TIMER_MOVED}, "attempts": 0},
    )


_PG_UPSERT_TIMERS = _upsert_timers_sql()
_SQLITE_UPSERT_TIMER = _sqlite_upsert_timer()


@functools.lru_cache(maxsize=64)
def _pg_update_sql(table: Table, keys: tuple[str, ...]) -> str:
    """UPDATE … FROM jsonb_to_recordset(:rows): one statement (one parameter) for any number of rows, so the
    server plans and executes once and the driver sends one short query (no per-row round trip)."""
    columns = ", ".join(f'"{k}" {table.c[k].type.compile(dialect=_PG)}' for k in ("id", *keys))
    sets = ", ".join(f'"{k}" = v."{k}"' for k in keys)
    # Names and types come from the table's metadata, never from input; the values travel as one parameter.
    return (
        f'UPDATE "{table.name}" AS t SET {sets} '  # noqa: S608
        f"FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS v({columns}) WHERE t.id = v.id"
    )


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
    def instance(
        self, case_id: int, *, for_update: bool = False, skip_locked: bool = False
    ) -> SopInstance | None:
        """The SOP instance of a case; locked for the rest of the transaction when `for_update`.

        `skip_locked` (PostgreSQL): None instead of waiting when another transaction holds it (the scheduler,
        which holds the timer row already, must not wait for the instance: see `lock_instance_rows`)."""
        stmt = select(SopInstance).where(SopInstance.case_id == case_id)
        if for_update:
            stmt = stmt.with_for_update(skip_locked=skip_locked and self.is_postgres)
        return self.session.scalars(stmt).first()

    def _ids_in(self, column: Any, ids: Sequence[int]) -> Any:
        """`column IN ids`: on PostgreSQL `= ANY(array)`, one parameter, so the statement text stays short and
        the driver and server reuse it (an expanded IN of 200 values is a new long text every time)."""
        if self.is_postgres:
            return column == any_(bindparam("ids", list(ids), type_=ARRAY(BigInteger)))
        return column.in_(list(ids))

    def lock_instance_rows(self, case_ids: Sequence[int]) -> Sequence[Row[Any]]:
        """Lock the SOP instances of these cases (ascending case id) and read them with the engine state as
        JSON text (validated straight from the text). PostgreSQL skips instances another transaction holds
        (`SKIP LOCKED`): the scheduler, which already holds timer rows, never waits for an instance, so it
        cannot dead-lock with a command that holds the instance and then writes the case's timers."""
        c = _INSTANCES.c
        stmt = (
            select(c.id, c.case_id, c.sop_code, c.sop_version, c.status, cast(c.state, Text).label("state"))
            .where(self._ids_in(c.case_id, case_ids))
            .order_by(c.case_id)
            .with_for_update(skip_locked=self.is_postgres)
        )
        return self.session.connection().execute(stmt).all()

    def existing_instances(self, case_ids: Sequence[int]) -> set[int]:
        """Which of these cases have an SOP instance (no lock)."""
        c = _INSTANCES.c
        return {
            int(i)
            for i in self.session.execute(
                select(c.case_id).where(self._ids_in(c.case_id, case_ids))
            ).scalars()
        }

    def lock_case_rows(self, case_ids: Sequence[int]) -> Sequence[Case]:
        """Lock these cases (ascending id; PostgreSQL skips ones another transaction holds) with only the
        columns the runtime reads (others load on first use): a case row has ~25 columns."""
        return self.session.scalars(
            select(Case)
            .options(load_only(Case.id, Case.status, Case.ticket, Case.updated_at))
            .where(self._ids_in(Case.id, case_ids))
            .order_by(Case.id)
            .with_for_update(skip_locked=self.is_postgres)
        ).all()

    def sop_tasks_of(self, case_ids: Sequence[int]) -> Sequence[Task]:
        """The SOP task rows of these cases."""
        return self.session.scalars(
            select(Task).where(self._ids_in(Task.case_id, case_ids), Task.task_key.is_not(None))
        ).all()

    def bulk_update(self, table: Table, keys: tuple[str, ...], rows: Sequence[Mapping[str, Any]]) -> None:
        """Write `keys` of many rows (each with its `id`) in one statement: PostgreSQL an UPDATE … FROM
        jsonb_to_recordset, SQLite an executemany (one prepared statement). Instead of the ORM's flush,
        whose per-row bookkeeping and per-row statements were much of a timer batch's cost (issue 19)."""
        if not rows:
            return
        conn = self.session.connection()
        if self.is_postgres:
            payload = _json_rows(rows, ("id", *keys))
            conn.execute(text(_pg_update_sql(table, keys)), {"rows": payload})
            return
        stmt = (
            update(table)
            .where(table.c.id == bindparam("v_id"))
            .values(
                {
                    k: bindparam(
                        f"v_{k}", type_=String() if isinstance(rows[0][k], RawJSON) else table.c[k].type
                    )
                    for k in keys
                }
            )
        )
        conn.execute(stmt, [{f"v_{k}": r[k] for k in ("id", *keys)} for r in rows])

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

    def delete_timers_by_key(self, keys: Iterable[str]) -> None:
        """Remove the timers of these keys (those already gone are ignored)."""
        gone = list(keys)
        conn = self.session.connection()
        for start in range(0, len(gone), 1000):
            chunk = gone[start : start + 1000]
            where = (
                _TIMERS.c.key == any_(bindparam("keys", chunk, type_=ARRAY(String())))
                if self.is_postgres
                else _TIMERS.c.key.in_(chunk)
            )
            conn.execute(delete(_TIMERS).where(where))

    def upsert_timers(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Start timers, or move the ones already waiting under their keys (keys unique within `rows`).

        PostgreSQL: one INSERT … SELECT FROM jsonb_to_recordset … ON CONFLICT statement for all rows (one
        parameter; the server executes once); SQLite: one executemany of the dialect's upsert."""
        if not rows:
            return
        conn = self.session.connection()
        if self.is_postgres:
            conn.execute(_PG_UPSERT_TIMERS, {"rows": _json_rows(rows, _TIMER_COLUMNS)})
            return
        conn.execute(_SQLITE_UPSERT_TIMER, list(rows))

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

    def claim_due_timer_rows(self, now: datetime, limit: int) -> list[ClaimedTimer]:
        """Lock up to `limit` of the soonest due timers for this transaction, skipping other workers' ones
        (PostgreSQL `FOR UPDATE SKIP LOCKED`): plain rows for the scheduler's batches (no ORM objects to build,
        track and expunge), deleted by `finish_timer_ids`."""
        c = _TIMERS.c
        stmt = (
            select(c.id, c.key, c.case_id, c.due_at, c.payload)
            .where(c.due_at <= now)
            .order_by(c.due_at, c.id)
            .limit(limit)
        )
        if self.is_postgres:
            stmt = stmt.with_for_update(skip_locked=True)
        return [ClaimedTimer(*r) for r in self.session.connection().execute(stmt)]

    def finish_timer_ids(self, ids: Sequence[int]) -> None:
        """Delete fired timers by id in the transaction that executed them (rows already gone are ignored)."""
        for start in range(0, len(ids), 1000):
            self.session.connection().execute(
                delete(_TIMERS).where(self._ids_in(_TIMERS.c.id, ids[start : start + 1000]))
            )

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
