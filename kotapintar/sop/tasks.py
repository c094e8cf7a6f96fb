"""Task commands of the SOP runtime: accept, reject (bukan wewenang), hand over, progress, complete, answer
(draft + pejabat approval), confirm closure and re-route; plus the task inbox and a case's SOP progress.

Each command is one transaction: check who acts, give the engine its event through `feed_event` (which applies
the engine's commands: task rows, timers, case status, events), then log what the person did. Signatures are
documented in docs/sop.md; the web pages call these functions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kotapintar.cases.models import Task
from kotapintar.cases.repository import CaseRepository, TaskRepository
from kotapintar.cases.schemas import CaseSummary, TaskView
from kotapintar.catalog.repository import AgencyRepository, UnitRepository
from kotapintar.core.access.actors import Actor
from kotapintar.core.access.roles import Permission, Role
from kotapintar.core.db.database import Database
from kotapintar.core.db.uow import UnitOfWork
from kotapintar.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from kotapintar.core.events.repository import case_stream
from kotapintar.core.events.types import EventType, utcnow
from kotapintar.sop.engine import (
    OPEN_TASK_STATUSES,
    AnswerApproved,
    AnswerDrafted,
    CaseRerouted,
    ClosureConfirmed,
    InstanceState,
    TaskAccepted,
    TaskCompleted,
    TaskHandedOver,
    TaskProgress,
    TaskRejected,
    _Event,
)
from kotapintar.sop.repository import SopRepository
from kotapintar.sop.runtime import feed_event, load_instance
from kotapintar.triage.context import forget_triage_context
from kotapintar.triage.overrides import record_routing_override
from kotapintar.triage.routing import ANYWHERE

OPEN_STATUSES = tuple(s.value for s in OPEN_TASK_STATUSES)
PEJABAT_POSITIONS = frozenset({"kepala", "pejabat_penghubung"})


@dataclass(frozen=True)
class InboxItem:
    """One task of an inbox with its clock: due time, seconds left (negative when late)."""

    task: TaskView
    case_ticket: str | None
    case_title: str
    task_key: str | None
    position: str | None
    answer_required: bool
    answer_draft: str | None
    seconds_left: float | None
    late: bool


@dataclass(frozen=True)
class StepProgress:
    """Where one SOP step of a case stands: idle, waiting, running, done, late."""

    step_id: str
    kegiatan: str
    status: str
    started_at: datetime | None
    completed_at: datetime | None
    due_at: datetime | None
    agencies: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SopProgress:
    """A case's SOP: which version, where the run stands, and each step."""

    case_id: int
    sop_code: str
    sop_version: int
    status: str
    steps: list[StepProgress]


def _view(task: Task) -> TaskView:
    from kotapintar.cases.service import task_view

    return task_view(task)


def _may_work(actor: Actor, task: Task) -> None:
    """Agency staff only on their agency's tasks; operators and supervisors everywhere."""
    if actor.can(Permission.VIEW_ALL_CASES) and actor.can(Permission.TRIAGE_CASES):
        return
    actor.require(Permission.WORK_OWN_TASKS)
    if actor.agency_code != task.agency_code:
        raise NotFound(f"Tugas {task.id} tidak ditemukan / task not found.", task_id=task.id)


def _load_task(uow: UnitOfWork, actor: Actor, task_id: int) -> Task:
    task = uow.repo(TaskRepository).get(task_id)
    if task is None:
        raise NotFound(f"Tugas {task_id} tidak ditemukan / task not found.", task_id=task_id)
    _may_work(actor, task)
    if task.task_key is None:
        raise Conflict(
            "Tugas ini dibuat manual (bukan dari SOP); gunakan perintah kasus biasa / not an SOP task.",
            code="not_an_sop_task",
        )
    return task


def _log(uow: UnitOfWork, actor: Actor, task: Task, type_: str, at: datetime, **payload: Any) -> None:
    uow.events.append(
        stream=case_stream(task.case_id),
        case_id=task.case_id,
        type=type_,
        actor=actor.name,
        at=at,
        payload={
            "task_id": task.id,
            "task_key": task.task_key,
            "agency": task.agency_code,
            "step": task.step_id,
            **{k: v for k, v in payload.items() if v is not None},
        },
    )


def _task_command(
    db: Database,
    actor: Actor,
    task_id: int,
    build: Callable[[str, datetime], _Event],
    at: datetime | None,
    *,
    check: Callable[[UnitOfWork, Task], None] | None = None,
    extra: dict[str, Any] | None = None,
    after: Callable[[UnitOfWork, Task, datetime], None] | None = None,
) -> TaskView:
    with db.transaction() as uow:
        task = _load_task(uow, actor, task_id)
        if check is not None:
            check(uow, task)
        now = at or utcnow()
        key = task.task_key
        assert key is not None
        feed_event(uow, actor.name, task.case_id, lambda _s: build(key, now), now, {key: extra or {}})
        if after is not None:
            after(uow, task, now)
        return _view(task)


def accept_task(db: Database, actor: Actor, task_id: int, *, at: datetime | None = None) -> TaskView:
    """The agency takes on its task (diterima); the SOP records time-to-accept against its standard."""
    return _task_command(
        db, actor, task_id, lambda key, now: TaskAccepted(at=now, actor=actor.name, task_key=key), at
    )


def reject_task(
    db: Database,
    actor: Actor,
    task_id: int,
    reason: str,
    suggested_agency: str,
    *,
    at: datetime | None = None,
) -> TaskView:
    """Refuse a task as `bukan_wewenang`: a reason and the agency that should act are required.

    The rejection stays in the timeline (who, why, which agency suggested); the operator re-routes the case
    with `reroute_case`.
    """
    if len(reason.strip()) < 5:
        raise ValidationFailed(
            "Alasan 'bukan wewenang' wajib diisi (min. 5 karakter) / a reason is required.",
            code="reason_required",
            field="reason",
        )
    return _task_command(
        db,
        actor,
        task_id,
        lambda key, now: TaskRejected(
            at=now, actor=actor.name, task_key=key, reason=reason.strip(), suggested_agency=suggested_agency
        ),
        at,
        extra={"kind": "bukan_wewenang", "suggested_agency": suggested_agency, "why": reason.strip()},
    )


def hand_over_task(
    db: Database, actor: Actor, task_id: int, to: str, note: str = "", *, at: datetime | None = None
) -> TaskView:
    """Hand a task to another officer or unit of the same agency (`to`: a username or unit code)."""

    def after(uow: UnitOfWork, task: Task, _now: datetime) -> None:
        if uow.repo(UnitRepository).get(to) is not None:
            task.unit_code = to

    return _task_command(
        db,
        actor,
        task_id,
        lambda key, now: TaskHandedOver(at=now, actor=actor.name, task_key=key, to=to, note=note),
        at,
        extra={"note": note or None},
        after=after,
    )


def add_task_progress(
    db: Database,
    actor: Actor,
    task_id: int,
    note: str = "",
    evidence: Sequence[str] = (),
    refs: Sequence[str] = (),
    *,
    at: datetime | None = None,
) -> TaskView:
    """Report progress on a task: a note, evidence kinds (e.g. 'foto') and references to stored media."""

    def after(uow: UnitOfWork, task: Task, now: datetime) -> None:
        _log(
            uow,
            actor,
            task,
            EventType.TASK_PROGRESS,
            now,
            note=note or None,
            evidence=list(evidence),
            refs=list(refs),
        )

    return _task_command(
        db,
        actor,
        task_id,
        lambda key, now: TaskProgress(
            at=now, actor=actor.name, task_key=key, note=note, evidence=list(evidence)
        ),
        at,
        after=after,
    )


def complete_task(
    db: Database,
    actor: Actor,
    task_id: int,
    outputs: dict[str, Any] | None = None,
    evidence: Sequence[str] = (),
    note: str = "",
    refs: Sequence[str] = (),
    *,
    at: datetime | None = None,
) -> TaskView:
    """Finish a task with the outputs its step declares and the evidence it requires; the SOP moves on."""
    return _task_command(
        db,
        actor,
        task_id,
        lambda key, now: TaskCompleted(
            at=now,
            actor=actor.name,
            task_key=key,
            outputs=dict(outputs or {}),
            evidence=list(evidence),
            note=note,
        ),
        at,
        extra={
            "outputs": dict(outputs or {}) or None,
            "evidence": list(evidence) or None,
            "refs": list(refs) or None,
        },
    )


def draft_answer(
    db: Database, actor: Actor, task_id: int, text: str, *, at: datetime | None = None
) -> TaskView:
    """The agency drafts its answer to the complaint (LAPOR!); the citizen sees it only after approval."""

    def after(uow: UnitOfWork, task: Task, now: datetime) -> None:
        # The draft is kept on the task row too, so the inbox shows it to the approving pejabat.
        task.data = {**(task.data or {}), "answer_draft": text.strip(), "answer_drafted_by": actor.name}
        _log(uow, actor, task, EventType.ANSWER_DRAFTED, now, length=len(text.strip()))

    return _task_command(
        db,
        actor,
        task_id,
        lambda key, now: AnswerDrafted(at=now, actor=actor.name, task_key=key, text=text.strip()),
        at,
        after=after,
    )


def may_approve_answers(actor: Actor, agency_code: str) -> bool:
    """The agency's pejabat (position kepala or pejabat_penghubung, or a supervisor of that agency)."""
    return actor.agency_code == agency_code and (
        (actor.position or "") in PEJABAT_POSITIONS or Role.SUPERVISOR in actor.roles
    )


def _require_pejabat(actor: Actor, task: Task) -> None:
    if not may_approve_answers(actor, task.agency_code):
        raise PermissionDenied(
            "Jawaban hanya dapat disetujui pejabat instansi yang menangani (kepala atau supervisor) / "
            "only the agency's official may approve the answer.",
            code="pejabat_required",
        )


def approve_answer(db: Database, actor: Actor, task_id: int, *, at: datetime | None = None) -> TaskView:
    """The agency's pejabat (position kepala or role supervisor) approves the draft; it reaches the citizen."""
    holder: dict[str, str] = {}

    def check(uow: UnitOfWork, task: Task) -> None:
        _require_pejabat(actor, task)
        row, _spec = load_instance(uow, task.case_id, for_update=False)
        state = InstanceState.model_validate(row.state)
        draft = state.tasks[task.task_key or ""].answer_draft if task.task_key in state.tasks else None
        holder["answer"] = draft or ""

    def after(uow: UnitOfWork, task: Task, now: datetime) -> None:
        _log(uow, actor, task, EventType.ANSWER_APPROVED, now, answer=holder.get("answer"))

    return _task_command(
        db,
        actor,
        task_id,
        lambda key, now: AnswerApproved(at=now, actor=actor.name, task_key=key, approver=actor.name),
        at,
        check=check,
        after=after,
    )


def _case_summary(uow: UnitOfWork, case_id: int) -> CaseSummary:
    from kotapintar.cases.service import summary_of

    case = uow.repo(CaseRepository).get(case_id)
    assert case is not None
    return summary_of(case)


def confirm_closure(
    db: Database,
    actor: Actor,
    case_id: int,
    *,
    satisfied: bool = True,
    note: str = "",
    at: datetime | None = None,
) -> CaseSummary:
    """The second-party check of a resolved case: the operator (or the citizen, by ticket) confirms or disputes.

    Satisfied: the case closes. Not satisfied: the SOP reopens it at its `reopen_step`.
    """
    if actor.can(Permission.CLOSE_CASES):
        by = "operator"
    elif actor.kind == "public":
        by = "citizen"
    else:
        raise PermissionDenied("Hanya operator atau pelapor yang dapat mengonfirmasi penutupan kasus.")
    with db.transaction() as uow:
        if uow.repo(CaseRepository).get(case_id) is None or (
            by == "operator" and uow.repo(CaseRepository).visible(case_id, actor.case_scope()) is None
        ):
            raise NotFound(f"Kasus {case_id} tidak ditemukan / case not found.", case_id=case_id)
        now = at or utcnow()
        feed_event(
            uow,
            actor.name,
            case_id,
            lambda _s: ClosureConfirmed(at=now, actor=actor.name, by=by, satisfied=satisfied, note=note),
            now,
        )
        uow.events.append(
            stream=case_stream(case_id),
            case_id=case_id,
            type=EventType.CLOSURE_CONFIRMED,
            actor=actor.name,
            at=now,
            payload={"by": by, "satisfied": satisfied, **({"note": note} if note else {})},
        )
        return _case_summary(uow, case_id)


def reroute_case(
    db: Database,
    actor: Actor,
    case_id: int,
    agency_code: str,
    reason: str = "",
    *,
    remember: bool = False,
    at: datetime | None = None,
) -> CaseSummary:
    """The operator re-routes a case to another responsible agency (e.g. after a `bukan_wewenang`).

    With `remember`, triage learns the correction in the same transaction: later reports of the case's
    service in its kecamatan go straight to `agency_code` (a routing override, itself an event).
    """
    actor.require(Permission.TRIAGE_CASES)
    with db.transaction() as uow:
        if uow.repo(CaseRepository).visible(case_id, actor.case_scope()) is None:
            raise NotFound(f"Kasus {case_id} tidak ditemukan / case not found.", case_id=case_id)
        if uow.repo(AgencyRepository).get(agency_code) is None:
            raise NotFound(f"Instansi '{agency_code}' tidak dikenal / unknown agency.", field="agency_code")
        now = at or utcnow()
        _decision, before = feed_event(
            uow,
            actor.name,
            case_id,
            lambda _s: CaseRerouted(at=now, actor=actor.name, new_agency=agency_code, reason=reason),
            now,
        )
        case = uow.repo(CaseRepository).get(case_id)
        assert case is not None
        case.agency_code = agency_code
        uow.events.append(
            stream=case_stream(case_id),
            case_id=case_id,
            type=EventType.CASE_REROUTED,
            actor=actor.name,
            at=now,
            payload={
                "from": before.responsible_agency,
                "to": agency_code,
                **({"reason": reason} if reason else {}),
            },
        )
        if remember:
            region = case.kecamatan_code or ANYWHERE
            record_routing_override(uow, actor, case.service_code, region, agency_code, case_id=case_id)
        from kotapintar.cases.service import summary_of

        summary = summary_of(case)
    if remember:
        forget_triage_context(db)
    return summary


# ---------------------------------------------------------------- queries


def task_inbox(
    db: Database,
    actor: Actor,
    *,
    agency_code: str | None = None,
    include_closed: bool = False,
    now: datetime | None = None,
    limit: int = 200,
) -> list[InboxItem]:
    """The open tasks of the caller's agency (operators/supervisors: any agency, or all) with their clocks."""
    if actor.can(Permission.VIEW_ALL_CASES):
        agency = agency_code
    else:
        actor.require(Permission.WORK_OWN_TASKS)
        if actor.agency_code is None:
            raise PermissionDenied("Hanya pengguna instansi yang memiliki kotak tugas / agency users only.")
        agency = actor.agency_code
    now = now or utcnow()
    statuses: Sequence[str] = OPEN_STATUSES
    if include_closed:
        statuses = (*OPEN_STATUSES, "done", "rejected", "cancelled")
    with db.reading() as uow:
        rows = SopRepository(uow.session).inbox(agency, statuses, limit)
        drafts: dict[int, dict[str, Any]] = {}
        out: list[InboxItem] = []
        for t in rows:
            case = uow.repo(CaseRepository).get(t.case_id)
            if t.task_key is not None and t.case_id not in drafts:
                inst = SopRepository(uow.session).instance(t.case_id)
                drafts[t.case_id] = (inst.state.get("tasks") or {}) if inst is not None else {}
            draft = (drafts.get(t.case_id, {}).get(t.task_key or "") or {}).get("answer_draft")
            left = (t.due_at - now).total_seconds() if t.due_at is not None else None
            out.append(
                InboxItem(
                    task=_view(t),
                    case_ticket=case.ticket if case else None,
                    case_title=case.title if case else "",
                    task_key=t.task_key,
                    position=t.position,
                    answer_required=bool((t.data or {}).get("answer_required")),
                    answer_draft=draft,
                    seconds_left=left,
                    late=left is not None and left < 0 and t.status in OPEN_STATUSES,
                )
            )
        return out


def case_sop_progress(
    db: Database, actor: Actor, case_id: int, *, now: datetime | None = None
) -> SopProgress:
    """A case's SOP run: each step done, running, waiting or late (running past its due time)."""
    now = now or utcnow()
    with db.reading() as uow:
        if uow.repo(CaseRepository).visible(case_id, actor.case_scope()) is None:
            raise NotFound(f"Kasus {case_id} tidak ditemukan / case not found.", case_id=case_id)
        row, spec = load_instance(uow, case_id, for_update=False)
        state = InstanceState.model_validate(row.state)
    steps: list[StepProgress] = []
    for step in spec.steps:
        st = state.steps.get(step.id)
        tasks = [
            t for t in state.tasks.values() if t.step_id == step.id and st and t.activation == st.activation
        ]
        dues = [t.due_at for t in tasks if t.due_at is not None and t.status in OPEN_TASK_STATUSES]
        due = min(dues) if dues else None
        status: str = st.status if st else "idle"
        if status == "active":
            status = "late" if due is not None and due < now else "running"
        steps.append(
            StepProgress(
                step_id=step.id,
                kegiatan=step.kegiatan,
                status=status,
                started_at=st.started_at if st else None,
                completed_at=st.completed_at if st else None,
                due_at=due,
                agencies=sorted({t.agency for t in tasks}),
            )
        )
    return SopProgress(
        case_id=case_id, sop_code=row.sop_code, sop_version=row.sop_version, status=row.status, steps=steps
    )
