"""The SOP runtime: start a case's SOP, feed it events, and execute the engine's commands in the same transaction.

Every change to a running SOP goes through `feed_event` (or `start_case_sop` for the first event): lock the
instance, then the case, ask the pure engine (`decide`), apply its commands with `apply_decision` (tasks,
timers, case status, events) and store the new state. Lock order is always instance → case → event stream,
so the scheduler and the task commands never dead-lock each other.
"""

from __future__ import annotations

import json
import logging
import threading
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Table, inspect
from sqlalchemy.engine import Engine
from sqlalchemy.orm import InstanceState as OrmState
from sqlalchemy.orm.attributes import set_committed_value

from kotapintar.cases.lifecycle import CaseStatus, check_transition
from kotapintar.cases.models import Case, Task
from kotapintar.cases.repository import CaseRepository, ReportRepository
from kotapintar.catalog.repository import AgencyRepository
from kotapintar.core.access.actors import Actor
from kotapintar.core.db.uow import UnitOfWork
from kotapintar.core.errors import Conflict, IllegalTransition, NotFound
from kotapintar.core.events.repository import case_stream
from kotapintar.core.events.types import EventType
from kotapintar.sop.conditions import CASE_FIELDS, CHANNELS, SERVICE_CODES, FieldType
from kotapintar.sop.engine import (
    SCHEMA_VERSION,
    UNIT_STATUS_ORDER,
    AssignTask,
    CancelTimer,
    CaseOpened,
    ChangeCaseStatus,
    CreateTask,
    Decision,
    EngineContext,
    Escalate,
    InstanceState,
    Notify,
    RecordMetric,
    SetTaskDue,
    SetTaskStatus,
    StartTimer,
    TaskStatus,
    UnitStatusReached,
    _Event,
    decide,
    upgrade_state,
)
from kotapintar.sop.library import current_spec, spec_of
from kotapintar.sop.loader import load_calendar
from kotapintar.sop.models import SopInstance
from kotapintar.sop.repository import RawJSON, SopRepository
from kotapintar.sop.spec import SopSpec
from kotapintar.triage.assessment import Assessment

log = logging.getLogger(__name__)
_ctx_lock = threading.Lock()
_contexts: dict[str, EngineContext] = {}
_url_keys: weakref.WeakKeyDictionary[Engine, str] = weakref.WeakKeyDictionary()


def _db_key(uow: UnitOfWork) -> str:
    """The database URL of the unit of work's engine, as the key of this process's caches (rendering a URL
    is not free, and the scheduler asks once per timer)."""
    engine = uow.session.get_bind().engine
    key = _url_keys.get(engine)
    if key is None:
        key = _url_keys[engine] = str(engine.url)
    return key


# Case statuses in lifecycle order: a status change the SOP asks for while the case has been moved by hand
# is applied only when it moves the case forward (never back to an earlier stage).
_ORDER = {s: i for i, s in enumerate(CaseStatus)}

_STATUS_EVENTS: dict[CaseStatus, str] = {
    CaseStatus.VERIFIED: EventType.CASE_VERIFIED,
    CaseStatus.ASSIGNED: EventType.CASE_ASSIGNED,
    CaseStatus.IN_PROGRESS: EventType.CASE_STARTED,
    CaseStatus.RESOLVED: EventType.CASE_RESOLVED,
    CaseStatus.CLOSED: EventType.CASE_CLOSED,
    CaseStatus.REJECTED: EventType.CASE_REJECTED,
    CaseStatus.MERGED: EventType.CASE_MERGED,
}

_TASK_STATUS_EVENTS: dict[TaskStatus, str] = {
    TaskStatus.ACCEPTED: EventType.TASK_ACCEPTED,
    TaskStatus.DONE: EventType.TASK_COMPLETED,
    TaskStatus.REJECTED: EventType.TASK_REJECTED,
    TaskStatus.CANCELLED: EventType.TASK_CANCELLED,
}


_NOT_PENDING: dict[str, Any] = {}


class SopWriter:
    """The rows the engine's commands write, collected and sent as a few Core statements.

    Events (per chain, in order) and timer starts/cancels (per key, last one wins) are held in memory and
    written by `flush()`: one executemany INSERT for all events, one DELETE and one upsert for the timers.
    A single command flushes at the end of `apply_decision`; the scheduler keeps one writer for a whole
    batch of timers and flushes once before it deletes the fired rows (same transaction either way).
    """

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.events: list[tuple[str, int | None, str, str, datetime, dict[str, Any]]] = []
        self.timers: dict[str, dict[str, Any] | None] = {}  # key -> row to upsert, None to delete

    def log(
        self, stream: str, case_id: int | None, type_: str, actor: str, at: datetime, payload: dict[str, Any]
    ) -> None:
        """Queue one event for the chain of `stream`."""
        self.events.append((stream, case_id, type_, actor, at, payload))

    def start_timer(self, row: dict[str, Any]) -> None:
        """Queue a timer start (or move, when its key already waits)."""
        self.timers[row["key"]] = row

    def cancel_timer(self, key: str) -> None:
        """Queue removing a timer (no-op when it already fired)."""
        self.timers[key] = None

    def pending_timer(self, key: str) -> dict[str, Any] | None:
        """The queued row of a timer key; None when queued for removal; `_NOT_PENDING` when untouched."""
        return self.timers.get(key, _NOT_PENDING)

    def flush(self) -> None:
        """Write what is queued (events chained after each stream's anchor, timers by key)."""
        if self.events:
            self.uow.events.append_batch(self.events)
            self.events = []
        if not self.timers:
            return
        gone = [k for k, v in self.timers.items() if v is None]
        if gone:
            SopRepository(self.uow.session).delete_timers_by_key(gone)
        SopRepository(self.uow.session).upsert_timers([v for v in self.timers.values() if v is not None])
        self.timers = {}


@dataclass
class BatchInstance:
    """An SOP instance row as the scheduler's batch reads it (Core, the state as JSON text) and writes it back
    (one bulk UPDATE per batch): no ORM object, so no per-row flush bookkeeping."""

    id: int
    case_id: int
    sop_code: str
    sop_version: int
    status: str
    state_json: str
    state: InstanceState | None = None  # validated on first use; the newest state once an event changed it
    updated_at: datetime | None = None  # set when changed: the row is written by `SopBatch.write_rows`

    def current_state(self) -> InstanceState:
        """The engine state: validated from the stored JSON text once, then the one the batch keeps."""
        if self.state is None:
            self.state = upgrade_state_json(self.state_json)
        return self.state

    def save(self, state: InstanceState, at: datetime) -> None:
        """Keep the new state (later events of the batch start from it) and mark the row to be written."""
        self.state, self.status, self.updated_at = state, state.status, at

    def close(self, at: datetime) -> None:
        """The SOP ends as closed (its case was closed outside it)."""
        self.status, self.updated_at = "closed", at


def upgrade_state_json(raw: str) -> InstanceState:
    """Stored state given as JSON text: validated by pydantic straight from the text (cheaper than parsing to
    Python and validating that), unless it is of an older schema and needs `upgrade_state`."""
    try:
        state = InstanceState.model_validate_json(raw)
    except ValidationError:  # a newer or older schema: upgrade_state says which, or upgrades it
        return upgrade_state(json.loads(raw))
    if state.schema_version == SCHEMA_VERSION:
        return state
    return upgrade_state(json.loads(raw))


@dataclass
class SopBatch:
    """Rows of many cases loaded (and locked) with one query each, and the writer they share.

    The scheduler fires a batch of timers of different cases in one transaction; loading each case's
    instance, case row and tasks one by one was most of its cost (issue 19). Instances are plain
    `BatchInstance` rows, and the instances, cases and tasks the engine changed are written by
    `write_rows` with one UPDATE per table (not the ORM flush). `busy` are the cases another transaction
    holds (PostgreSQL): their timers wait for a later run.
    """

    writer: SopWriter
    instances: dict[int, BatchInstance] = field(default_factory=dict)
    cases: dict[int, Case] = field(default_factory=dict)
    tasks: dict[int, dict[str, Task]] = field(default_factory=dict)
    busy: set[int] = field(default_factory=set)
    ctx: EngineContext | None = None
    specs: dict[tuple[str, int], SopSpec] = field(default_factory=dict)

    @classmethod
    def load(cls, uow: UnitOfWork, case_ids: Iterable[int]) -> SopBatch:
        """Lock instances, then cases, then event chains of `case_ids` (ascending: the runtime's lock order).

        On PostgreSQL the instance and case locks skip rows other transactions hold (the caller already holds
        timer rows, and a task command holds the instance before it writes timers: waiting here could
        dead-lock); the cases skipped are `busy`.
        """
        ids = sorted(set(case_ids))
        batch = cls(writer=SopWriter(uow), ctx=engine_context(uow))
        repo = SopRepository(uow.session)
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            for r in repo.lock_instance_rows(chunk):
                batch.instances[r.case_id] = BatchInstance(
                    id=r.id,
                    case_id=r.case_id,
                    sop_code=r.sop_code,
                    sop_version=r.sop_version,
                    status=r.status,
                    state_json=r.state,
                )
            held = [c for c in chunk if c in batch.instances]
            if repo.is_postgres and len(held) < len(chunk):
                batch.busy |= repo.existing_instances([c for c in chunk if c not in batch.instances])
            for case in repo.lock_case_rows(held):
                batch.cases[case.id] = case
            if repo.is_postgres and len(batch.cases) < len(batch.instances):
                for case_id in held:
                    if case_id not in batch.cases:
                        batch.busy.add(case_id)
                        del batch.instances[case_id]
            for task in repo.sop_tasks_of([c for c in held if c in batch.cases]):
                if task.task_key is not None:
                    batch.tasks.setdefault(task.case_id, {})[task.task_key] = task
        uow.events.preload_anchors([case_stream(c) for c in batch.instances])
        return batch

    def spec_of(self, uow: UnitOfWork, row: BatchInstance) -> SopSpec:
        """The pinned spec of an instance (looked up once per version per batch)."""
        key = (row.sop_code, row.sop_version)
        spec = self.specs.get(key)
        if spec is None:
            spec = self.specs[key] = _pinned_spec(uow, row)
        return spec

    def write_rows(self, uow: UnitOfWork) -> None:
        """Write the instances, cases and tasks the batch changed: one UPDATE per table and set of changed
        columns. The ORM case and task objects then hold those values as committed (nothing left for a
        flush), and their cases are named to the unit of work's event repository, so the analytics rollup
        refreshes them as it does for rows the ORM flushes."""
        repo = SopRepository(uow.session)
        repo.bulk_update(
            SopInstance.__table__,  # type: ignore[arg-type]
            ("state", "status", "updated_at"),
            [
                {
                    "id": r.id,
                    "state": RawJSON(r.state.model_dump_json() if r.state is not None else r.state_json),
                    "status": r.status,
                    "updated_at": r.updated_at,
                }
                for r in self.instances.values()
                if r.updated_at is not None
            ],
        )
        objects: list[Case | Task] = list(self.cases.values())
        for by_key in self.tasks.values():
            objects.extend(by_key.values())
        groups: dict[tuple[Table, tuple[str, ...]], list[dict[str, Any]]] = {}
        session = uow.session
        for obj in objects:
            state: OrmState[Any] = inspect(obj)
            if state.session is not session or not state.committed_state:
                continue
            table: Table = type(obj).__table__  # type: ignore[assignment]
            keys = tuple(sorted(state.committed_state))
            if not all(k in table.c for k in keys):
                continue  # not only columns changed (none such today): the ORM flush writes it
            row = {"id": obj.id, **{k: getattr(obj, k) for k in keys}}
            groups.setdefault((table, keys), []).append(row)
            uow.events.case_ids.add(obj.case_id if isinstance(obj, Task) else obj.id)
            for k in keys:  # written below: nothing left for the ORM to flush (cheaper than expunging)
                set_committed_value(obj, k, row[k])
        for (table, keys), rows in groups.items():
            repo.bulk_update(table, keys, rows)


def engine_context(uow: UnitOfWork) -> EngineContext:
    """The engine's context: the shipped working calendar and this deployment's command-center agency."""
    bind = _db_key(uow)
    with _ctx_lock:
        hit = _contexts.get(bind)
    if hit is not None:
        return hit
    cc = uow.repo(AgencyRepository).command_center()
    ctx = EngineContext(calendar=load_calendar(), command_center_agency=cc.code if cc else "diskominfo")
    with _ctx_lock:
        _contexts[bind] = ctx
    return ctx


def timer_key(case_id: int, engine_key: str) -> str:
    """The globally unique key of an engine timer of one case."""
    return f"sop:{case_id}:{engine_key}"


@dataclass(frozen=True)
class OpenedCase:
    """A case its caller inserted in this transaction (intake): the row, attached to the session without
    reading it back, and what its first report says. Starting its SOP then reads nothing it just wrote."""

    case: Case
    attributes: Mapping[str, Any]
    anonymous: bool


def _facts(
    uow: UnitOfWork, case: Case, assessment: Assessment | None, first: tuple[Mapping[str, Any], bool] | None
) -> dict[str, Any]:
    """The facts the SOP's guards see; `first` is (attributes, anonymous) of the first report when known."""
    facts: dict[str, Any] = {}
    if first is None:
        for report in uow.repo(ReportRepository).for_case(case.id)[:1]:
            first = (report.attributes or {}, bool(report.anonymous))
    if first is not None:
        attributes, anonymous = first
        for name, value in attributes.items():
            spec = CASE_FIELDS.get(name)
            if spec is None or (isinstance(value, str) and spec.type is not FieldType.STRING):
                continue
            if (
                (spec.type is FieldType.BOOL and isinstance(value, bool))
                or (spec.type is FieldType.INT and isinstance(value, int) and not isinstance(value, bool))
                or (
                    spec.type is FieldType.NUMBER
                    and isinstance(value, int | float)
                    and not isinstance(value, bool)
                )
            ):
                facts[name] = value
        facts["is_anonymous"] = bool(anonymous)
    if case.service_code in SERVICE_CODES:
        facts["service"] = case.service_code
    facts["priority"] = case.priority
    if case.kecamatan_code or case.region_code:
        facts["region"] = case.kecamatan_code or case.region_code
    if case.channel in CHANNELS:
        facts["channel"] = case.channel
    facts["is_confidential"] = bool(case.confidential)
    facts["is_emergency"] = bool(assessment.service.emergency) if assessment else case.priority == "P1"
    return facts


def start_case_sop(
    uow: UnitOfWork,
    actor: Actor,
    case_id: int,
    assessment: Assessment | None,
    at: datetime,
    *,
    opened: OpenedCase | None = None,
    writer: SopWriter | None = None,
    informed: Sequence[str] = (),
) -> Decision | None:
    """Start the newest SOP version of the case's service and execute its first commands (same transaction).

    None when the service has no SOP at all (neither published nor shipped). `opened` (intake) gives the
    case just inserted, so it is not read back; `writer` lets the caller's own events of this case go out
    in the same INSERT (the caller flushes it).
    """
    repo = SopRepository(uow.session)
    if opened is not None:
        case: Case | None = opened.case
        first: tuple[Mapping[str, Any], bool] | None = (opened.attributes, opened.anonymous)
    else:
        if repo.instance(case_id) is not None:
            raise Conflict(f"SOP kasus {case_id} sudah berjalan.", code="sop_already_started")
        case = uow.repo(CaseRepository).get(case_id, for_update=True)
        first = None
    if case is None:
        raise NotFound(f"Kasus {case_id} tidak ditemukan.")
    try:
        number, digest, spec = current_spec(uow, case.service_code)
    except NotFound:
        # A service added to the catalogue without an SOP yet: the case is handled by hand (spine commands).
        log.warning("no SOP for service %s; case %s runs without one", case.service_code, case_id)
        return None
    responsible = assessment.agency_code if assessment else (case.agency_code or "")
    informed = list(assessment.informed) if assessment else list(informed)  # a restart keeps its own
    event = CaseOpened(
        at=at,
        actor=actor.name,
        case_ref=case.ticket or str(case.id),
        responsible_agency=responsible,
        informed_agencies=informed,
        facts=_facts(uow, case, assessment, first),
        sop_version=str(number),
    )
    ctx = engine_context(uow)
    decision = decide(spec, None, event, ctx)
    # Added to the session only after apply_decision set its state: one INSERT at commit, no UPDATE.
    row = SopInstance(
        case_id=case_id,
        sop_code=spec.code,
        sop_version=number,
        status=decision.state.status,
        state={},
        created_at=at,
        updated_at=at,
    )
    out = writer if writer is not None else SopWriter(uow)
    out.log(
        case_stream(case_id),
        case_id,
        EventType.SOP_STARTED,
        actor.name,
        at,
        {"sop": spec.code, "version": number, "content_hash": digest},
    )
    apply_decision(
        uow,
        actor.name,
        case,
        row,
        spec,
        CaseStatus.RECEIVED,
        decision,
        at,
        tasks={} if opened is not None else None,
        writer=out,
    )
    uow.session.add(row)
    if opened is None:
        # Not intake's fresh case: callers (un-merge's restart) look the instance up next with a get(),
        # which does not autoflush, so the row must be in the database now (still one INSERT; a flush of
        # named objects only is deprecated in SQLAlchemy 2, and whatever else is pending goes at commit anyway).
        uow.session.flush()
    if writer is None:
        out.flush()
    return decision


def load_instance(uow: UnitOfWork, case_id: int, *, for_update: bool = True) -> tuple[SopInstance, SopSpec]:
    """The SOP instance of a case (locked) and the spec of the version it is pinned to."""
    row = SopRepository(uow.session).instance(case_id, for_update=for_update)
    if row is None:
        raise NotFound(f"Kasus {case_id} tidak dijalankan oleh SOP.", code="sop_not_started")
    return row, _pinned_spec(uow, row)


def _pinned_spec(uow: UnitOfWork, row: SopInstance | BatchInstance) -> SopSpec:
    """The spec of the version an instance is pinned to: from this process's cache, else read once."""
    cached = _spec_by_instance(uow, row)
    if cached is not None:
        return cached
    version = SopRepository(uow.session).version(row.sop_code, row.sop_version)
    if version is None:
        raise NotFound(f"SOP '{row.sop_code}' versi {row.sop_version} hilang dari pustaka.")
    spec = spec_of(version)
    _remember_spec(uow, row, spec)
    return spec


_version_specs: dict[tuple[str, str, int], SopSpec] = {}


def _spec_by_instance(uow: UnitOfWork, row: SopInstance | BatchInstance) -> SopSpec | None:
    """The spec of an instance's version from this process's cache (versions are immutable), else None.

    Keyed by database URL and (code, version); a version row never changes once published, so a hit is
    always the pinned spec. A miss falls back to reading the version row.
    """
    key = (_db_key(uow), row.sop_code, row.sop_version)
    with _ctx_lock:
        return _version_specs.get(key)


def _remember_spec(uow: UnitOfWork, row: SopInstance | BatchInstance, spec: SopSpec) -> None:
    key = (_db_key(uow), row.sop_code, row.sop_version)
    with _ctx_lock:
        _version_specs[key] = spec


def feed_event(
    uow: UnitOfWork,
    actor_name: str,
    case_id: int,
    make_event: Callable[[InstanceState], _Event],
    at: datetime,
    extra: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    batch: SopBatch | None = None,
) -> tuple[Decision, InstanceState]:
    """Give one event to a case's SOP and execute what it decides; returns the decision and the old state.

    `make_event` sees the current state (e.g. to find a task key); `extra` adds payload fields to the
    task events of a task key (e.g. the suggested agency of a rejection). With `batch` (the scheduler),
    the rows come from the batch's loads and the writes wait for the batch's `writer.flush()`.
    """
    if batch is not None and case_id in batch.instances and case_id in batch.cases:
        batch_row = batch.instances[case_id]
        spec = batch.spec_of(uow, batch_row)
        case: Case | None = batch.cases[case_id]
        tasks: dict[str, Task] | None = batch.tasks.setdefault(case_id, {})
        writer: SopWriter | None = batch.writer
        # The scheduler never looks at the state before: the engine works on the batch's only copy.
        state = working = batch_row.current_state()
        ctx = batch.ctx or engine_context(uow)
        row: SopInstance | BatchInstance = batch_row
    else:
        row, spec = load_instance(uow, case_id)
        case = uow.repo(CaseRepository).get(case_id, for_update=True)
        tasks, writer = None, None
        state = upgrade_state(row.state)
        # The engine works on a second copy validated from the stored JSON (cheaper than its deep clone).
        working = upgrade_state(row.state)
        ctx = engine_context(uow)
    assert case is not None
    decision = decide(spec, working, make_event(state), ctx, owned=True)
    apply_decision(
        uow, actor_name, case, row, spec, state.case_status, decision, at, extra, tasks=tasks, writer=writer
    )
    return decision, state


def apply_decision(
    uow: UnitOfWork,
    actor_name: str,
    case: Case,
    row: SopInstance | BatchInstance,
    spec: SopSpec,
    engine_status_before: CaseStatus,
    decision: Decision,
    at: datetime,
    extra: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    tasks: dict[str, Task] | None = None,
    writer: SopWriter | None = None,
) -> None:
    """Execute the engine's commands: task rows, timers, case status and the events of each, then save state.

    `tasks` (the case's SOP tasks by key) and `writer` come from a batch; without them the tasks are read
    here and the writes are flushed before returning, so callers see the rows in their transaction.
    """
    repo = SopRepository(uow.session)
    stream = case_stream(case.id)
    if tasks is None:
        tasks = repo.tasks_by_key(case.id)
    own_writer = writer is None
    out = writer if writer is not None else SopWriter(uow)
    in_sync = CaseStatus(case.status) == engine_status_before
    extra = extra or {}

    def log(type_: str, payload: dict[str, Any]) -> None:
        out.log(stream, case.id, type_, actor_name, at, {k: v for k, v in payload.items() if v is not None})

    def task_ref(key: str) -> dict[str, Any]:
        t = tasks.get(key)
        return {
            "task_id": t.id if t else None,
            "task_key": key,
            "agency": t.agency_code if t else None,
            "step": t.step_id if t else None,
            **extra.get(key, {}),
        }

    for cmd in decision.commands:
        if isinstance(cmd, CreateTask):
            task = repo.add_task(
                Task(
                    case_id=case.id,
                    step_id=cmd.step_id,
                    title=cmd.kegiatan[:300],
                    agency_code=cmd.agency,
                    unit_code=None,
                    status=TaskStatus.PENDING.value,
                    due_at=cmd.due_at,
                    created_at=at,
                    task_key=cmd.task_key,
                    position=cmd.position,
                    data={"answer_required": cmd.answer_required, "replaces": cmd.replaces, "sop": spec.code},
                )
            )
            tasks[cmd.task_key] = task
            log(
                EventType.TASK_CREATED,
                {
                    "task_id": task.id,
                    "task_key": cmd.task_key,
                    "agency": cmd.agency,
                    "position": cmd.position,
                    "step": cmd.step_id,
                    "due_at": cmd.due_at.isoformat() if cmd.due_at else None,
                    "replaces": cmd.replaces,
                },
            )
        elif isinstance(cmd, SetTaskStatus):
            task = tasks[cmd.task_key]
            task.status = cmd.status.value
            if cmd.status is TaskStatus.DONE:
                task.completed_at = at
            elif cmd.status is TaskStatus.ACCEPTED and task.accepted_at is None:
                task.accepted_at = at
            event_type = _TASK_STATUS_EVENTS.get(cmd.status)
            if event_type is not None:
                log(event_type, {**task_ref(cmd.task_key), "reason": cmd.reason or None})
        elif isinstance(cmd, SetTaskDue):
            task = tasks[cmd.task_key]
            task.due_at = cmd.due_at
            log(EventType.TASK_DUE_SET, {**task_ref(cmd.task_key), "due_at": cmd.due_at.isoformat()})
        elif isinstance(cmd, AssignTask):
            task = tasks[cmd.task_key]
            task.data = {**(task.data or {}), "assignee": cmd.assignee}
            log(EventType.TASK_HANDED_OVER, {**task_ref(cmd.task_key), "to": cmd.assignee})
        elif isinstance(cmd, StartTimer):
            task_key = cmd.payload.get("task_key")
            timed = tasks.get(task_key) if isinstance(task_key, str) else None
            out.start_timer(
                {
                    "key": timer_key(case.id, cmd.key),
                    "kind": cmd.kind,
                    "case_id": case.id,
                    "task_id": timed.id if timed else None,
                    "due_at": cmd.due_at,
                    "payload": {"sop_key": cmd.key, **cmd.payload},
                    "created_at": at,
                    "attempts": 0,
                }
            )
        elif isinstance(cmd, CancelTimer):
            out.cancel_timer(timer_key(case.id, cmd.key))
        elif isinstance(cmd, Notify):
            if cmd.audience == "citizen":
                type_ = EventType.CITIZEN_NOTIFIED
            elif cmd.template_key == "task_reminder":
                type_ = EventType.TASK_REMINDED
            else:
                type_ = EventType.AGENCY_NOTIFIED
            log(type_, {"template": cmd.template_key, "audience": cmd.audience, "texts": dict(cmd.texts)})
        elif isinstance(cmd, Escalate):
            log(
                EventType.TASK_ESCALATED,
                {
                    **task_ref(cmd.task_key),
                    "rung": cmd.rung,
                    "percent": cmd.percent,
                    "to": f"{cmd.target_agency}.{cmd.target_position}",
                },
            )
        elif isinstance(cmd, ChangeCaseStatus):
            _change_status(case, cmd, in_sync, decision.state, log, at)
        elif isinstance(cmd, RecordMetric):
            task = tasks[cmd.task_key]
            if cmd.name == "time_to_accept" and task.accepted_at is None:
                task.accepted_at = at
            log(
                EventType.TASK_METRIC,
                {
                    **task_ref(cmd.task_key),
                    "name": cmd.name,
                    "seconds": round(cmd.seconds, 3),
                    "met": cmd.met,
                },
            )
    case.updated_at = at
    if isinstance(row, BatchInstance):
        row.save(decision.state, at)  # written with the batch's other instances (`SopBatch.write_rows`)
    else:
        repo.save_state(row, decision.state.model_dump(mode="json"), decision.state.status, at)
    if own_writer:
        out.flush()


def _change_status(
    case: Case,
    cmd: ChangeCaseStatus,
    in_sync: bool,
    state: InstanceState,
    log: Callable[[str, dict[str, Any]], None],
    at: datetime,
) -> None:
    current = CaseStatus(case.status)
    target = cmd.status
    if current == target:
        return
    if not in_sync and _ORDER[target] <= _ORDER[current]:
        return  # staff moved the case by hand past this point: the SOP does not pull it back
    try:
        check_transition(current, target)
    except IllegalTransition:  # a drifted case: skip a move the lifecycle does not allow from here
        if in_sync:
            raise
        return
    case.status = target.value
    if target is CaseStatus.VERIFIED:
        case.verified_at = at
    elif target is CaseStatus.RESOLVED:
        case.resolved_at = at
    elif target is CaseStatus.CLOSED:
        case.closed_at = at
    event_type = _STATUS_EVENTS[target]
    if target is CaseStatus.IN_PROGRESS and current is CaseStatus.RESOLVED:
        event_type = EventType.CASE_REOPENED
    payload: dict[str, Any] = {"from": current.value, "to": target.value, "reason": cmd.reason or None}
    if target is CaseStatus.ASSIGNED:
        payload["agency"] = state.responsible_agency
    payload["by_sop"] = True
    log(event_type, payload)


def advance_on_unit_status(
    uow: UnitOfWork,
    actor_name: str,
    case_id: int,
    unit_code: str,
    status: str,
    at: datetime,
    *,
    unit_agency: str | None = None,
    agencies_on_case: frozenset[str] = frozenset(),
) -> None:
    """A unit on the case reached `status`: the SOP completes the steps that wait for it (same transaction).

    Only the statuses the SOP model knows move it (dispatched, en_route, on_scene, cleared); a case without a
    running SOP instance is left alone.
    """
    if status not in UNIT_STATUS_ORDER:
        return
    row = SopRepository(uow.session).instance(case_id, for_update=True)
    if row is None or row.status != "running":
        return
    feed_event(
        uow,
        actor_name,
        case_id,
        lambda _s: UnitStatusReached(
            at=at,
            actor=actor_name,
            unit=unit_code,
            status=status,
            agency=unit_agency,
            agencies_on_case=sorted(agencies_on_case),
        ),
        at,
    )
