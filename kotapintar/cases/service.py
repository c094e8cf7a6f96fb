"""Case commands (verify, reject, merge, assign, accept, resolve, close, reopen, note) and case queries.

Each command is one function and one transaction: check who acts, load, ask the domain whether the
move is allowed, change the state and append its events together.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from kotapintar.cases.filters import CaseFilter
from kotapintar.cases.lifecycle import CaseStatus, check_transition
from kotapintar.cases.models import Case, Task
from kotapintar.cases.public import PUBLIC_EVENTS as PUBLIC_EVENTS  # re-exported for older callers
from kotapintar.cases.public import public_event, public_media, public_point
from kotapintar.cases.repository import CaseRepository, ReportRepository, TaskRepository
from kotapintar.cases.schemas import (
    CaseDetail,
    CasePage,
    CaseSummary,
    EventView,
    ReporterView,
    ReportView,
    TaskView,
)
from kotapintar.catalog.repository import AgencyRepository, ServiceRepository
from kotapintar.core import hooks
from kotapintar.core.access.actors import Actor
from kotapintar.core.access.roles import Permission, Role
from kotapintar.core.db.database import Database
from kotapintar.core.db.uow import UnitOfWork
from kotapintar.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from kotapintar.core.events.repository import case_stream
from kotapintar.core.events.types import EventType, utcnow

OPEN_TASK_STATUSES = ("pending", "accepted", "in_progress", "escalated")


def _load_for_change(uow: UnitOfWork, actor: Actor, case_id: int) -> Case:
    case = uow.repo(CaseRepository).get(case_id, for_update=True)
    if case is None or uow.repo(CaseRepository).visible(case_id, actor.case_scope()) is None:
        raise NotFound(f"Kasus {case_id} tidak ditemukan / case not found.", case_id=case_id)
    return case


def _move(
    uow: UnitOfWork, actor: Actor, case: Case, target: CaseStatus, event: str, **payload: Any
) -> datetime:
    current = CaseStatus(case.status)
    check_transition(current, target)
    now = utcnow()
    case.status = target.value
    case.updated_at = now
    uow.events.append(
        stream=case_stream(case.id),
        case_id=case.id,
        type=event,
        actor=actor.name,
        at=now,
        payload={
            "from": current.value,
            "to": target.value,
            **{k: v for k, v in payload.items() if v is not None},
        },
    )
    return now


def _internal_note(
    uow: UnitOfWork, actor: Actor, case: Case, text: str | None, context: str, at: datetime
) -> None:
    """Keep the operator's note of a command the SOP carried out (staff only, like every internal note)."""
    if text:
        uow.events.append(
            stream=case_stream(case.id),
            case_id=case.id,
            type=EventType.NOTE_ADDED,
            actor=actor.name,
            at=at,
            payload={"text": text, "visibility": "internal", "context": context},
        )


def _require_agency_reach(uow: UnitOfWork, actor: Actor, case: Case) -> None:
    """Agency staff may act only on cases of their own agency or handed to it."""
    if actor.can(Permission.VIEW_ALL_CASES):
        return
    if actor.agency_code is None:
        raise PermissionDenied("Tindakan ini hanya untuk petugas instansi / agency staff only.")
    if case.agency_code == actor.agency_code:
        return
    if any(t.agency_code == actor.agency_code for t in uow.repo(TaskRepository).for_case(case.id)):
        return
    raise PermissionDenied("Kasus ini bukan milik instansi Anda / this case is not your agency's.")


def verify_case(db: Database, actor: Actor, case_id: int, note: str | None = None) -> CaseSummary:
    """Confirm a received report is a real case (verifikasi).

    The SOP's verification step is completed (its "yes" path), so the SOP moves the case and starts the next
    step; an SOP without such a step (emergencies) only sees the case's status change.
    """
    actor.require(Permission.TRIAGE_CASES)
    with db.transaction() as uow:
        hooks.lock_workflow(uow, case_id)  # lock order: instance, case
        case = _load_for_change(uow, actor, case_id)
        check_transition(CaseStatus(case.status), CaseStatus.VERIFIED)
        now = utcnow()
        if hooks.verify_workflow(uow, actor.name, case.id, note or "", now):
            _internal_note(uow, actor, case, note, "verify", now)
        else:
            case.verified_at = _move(
                uow, actor, case, CaseStatus.VERIFIED, EventType.CASE_VERIFIED, note=note
            )
        return summary_of(case)


def reject_case(db: Database, actor: Actor, case_id: int, reason: str) -> CaseSummary:
    """Reject a case (ditolak) with a reason the reporter will read."""
    actor.require(Permission.TRIAGE_CASES)
    if len(reason.strip()) < 5:
        raise ValidationFailed("Alasan penolakan wajib diisi (min. 5 karakter) / a reason is required.")
    with db.transaction() as uow:
        hooks.lock_workflow(uow, case_id)  # lock order: instance, case
        case = _load_for_change(uow, actor, case_id)
        now = _move(uow, actor, case, CaseStatus.REJECTED, EventType.CASE_REJECTED, reason=reason.strip())
        case.reject_reason = reason.strip()
        hooks.end_workflow(uow, actor.name, case.id, CaseStatus.REJECTED.value, reason.strip(), now)
        return summary_of(case)


def merge_case(
    db: Database, actor: Actor, case_id: int, into_case_id: int, reason: str | None = None
) -> CaseSummary:
    """Merge a duplicate into the surviving case: reports move over, reporters keep their tickets."""
    actor.require(Permission.TRIAGE_CASES)
    if case_id == into_case_id:
        raise ValidationFailed(
            "Kasus tidak dapat digabung ke dirinya sendiri / cannot merge a case into itself."
        )
    with db.transaction() as uow:
        # Lock in id order so two concurrent merges of the same pair cannot dead-lock (instances, then cases).
        first, second = sorted((case_id, into_case_id))
        for cid in (first, second):
            hooks.lock_workflow(uow, cid)
        locked = {cid: _load_for_change(uow, actor, cid) for cid in (first, second)}
        case, survivor = locked[case_id], locked[into_case_id]
        if CaseStatus(survivor.status) not in (
            CaseStatus.RECEIVED,
            CaseStatus.VERIFIED,
            CaseStatus.ASSIGNED,
            CaseStatus.IN_PROGRESS,
        ):
            raise Conflict(
                f"Kasus tujuan {survivor.ticket} berstatus '{survivor.status}'; gabungkan ke kasus yang masih "
                "terbuka / merge into a case that is still open.",
                code="merge_target_closed",
            )
        _move(
            uow,
            actor,
            case,
            CaseStatus.MERGED,
            EventType.CASE_MERGED,
            into_case_id=survivor.id,
            into_ticket=survivor.ticket,
            reason=reason,
        )
        case.merged_into_id = survivor.id
        moved = uow.repo(CaseRepository).move_reports(case.id, survivor.id)
        now = utcnow()
        hooks.end_workflow(
            uow, actor.name, case.id, CaseStatus.MERGED.value, f"digabung ke {survivor.ticket}", now
        )
        survivor.updated_at = now
        uow.events.append(
            stream=case_stream(survivor.id),
            case_id=survivor.id,
            type=EventType.REPORT_MERGED,
            actor=actor.name,
            at=now,
            payload={"from_case_id": case.id, "from_ticket": case.ticket, "report_ids": moved},
        )
        return summary_of(case)


def unmerge_case(db: Database, actor: Actor, case_id: int, reason: str) -> CaseSummary:
    """Undo a merge (a duplicate that was not one): the case gets back the reports it brought, returns to
    the status it had before the merge (its `case_merged` event's "from") and its SOP, cancelled by the merge,
    starts again; the operator's verification and disposition the case had already passed are completed
    again at once, so the SOP is where the case was (an agency task that was running is offered anew).

    The reverse move merged → open is not a lifecycle transition anyone else may make, hence its own event
    `case_unmerged` (counted on /analitik/akurasi) with `report_unmerged` on the former survivor.
    """
    actor.require(Permission.TRIAGE_CASES)
    if len(reason.strip()) < 5:
        raise ValidationFailed("Alasan pembatalan wajib diisi (min. 5 karakter) / a reason is required.")
    with db.reading() as uow:
        probe = uow.repo(CaseRepository).get(case_id)
        survivor_id = probe.merged_into_id if probe is not None else None
    if probe is None:
        raise NotFound(f"Kasus {case_id} tidak ditemukan / case not found.", case_id=case_id)
    if probe.status != CaseStatus.MERGED.value or survivor_id is None:
        raise Conflict(
            f"Kasus {probe.ticket} tidak sedang digabung / the case is not merged.", code="not_merged"
        )
    with db.transaction() as uow:
        first, second = sorted((case_id, survivor_id))  # the lock order of merge_case
        for cid in (first, second):
            hooks.lock_workflow(uow, cid)
        locked = {cid: _load_for_change(uow, actor, cid) for cid in (first, second)}
        case, survivor = locked[case_id], locked[survivor_id]
        if case.status != CaseStatus.MERGED.value or case.merged_into_id != survivor.id:
            raise Conflict(
                f"Kasus {case.ticket} tidak sedang digabung / the case is not merged.", code="not_merged"
            )
        merged = [
            e for e in uow.events.stream_events(case_stream(case.id)) if e.type == EventType.CASE_MERGED
        ]
        before = CaseStatus((merged[-1].payload or {}).get("from", "received") if merged else "received")
        moved_in = [
            e
            for e in uow.events.stream_events(case_stream(survivor.id))
            if e.type == EventType.REPORT_MERGED and (e.payload or {}).get("from_case_id") == case.id
        ]
        report_ids = [int(r) for r in (moved_in[-1].payload or {}).get("report_ids", [])] if moved_in else []
        back = uow.repo(CaseRepository).move_report_ids(report_ids, survivor.id, case.id)
        now = utcnow()
        case.status = before.value
        case.merged_into_id = None
        case.updated_at = survivor.updated_at = now
        uow.events.append(
            stream=case_stream(case.id),
            case_id=case.id,
            type=EventType.CASE_UNMERGED,
            actor=actor.name,
            at=now,
            payload={
                "from": CaseStatus.MERGED.value,
                "to": before.value,
                "from_case_id": survivor.id,
                "from_ticket": survivor.ticket,
                "report_ids": back,
                "reason": reason.strip(),
            },
        )
        uow.events.append(
            stream=case_stream(survivor.id),
            case_id=survivor.id,
            type=EventType.REPORT_UNMERGED,
            actor=actor.name,
            at=now,
            payload={"to_case_id": case.id, "to_ticket": case.ticket, "report_ids": back},
        )
        uow.session.flush()
        if hooks.restart_workflow(uow, actor, case.id, now):
            if before in (CaseStatus.VERIFIED, CaseStatus.ASSIGNED, CaseStatus.IN_PROGRESS):
                hooks.verify_workflow(uow, actor.name, case.id, reason.strip(), now)
            if before in (CaseStatus.ASSIGNED, CaseStatus.IN_PROGRESS):
                hooks.dispose_workflow(uow, actor.name, case.id, reason.strip(), now)
        return summary_of(case)


def assign_case(
    db: Database,
    actor: Actor,
    case_id: int,
    agency_code: str,
    note: str | None = None,
    due_hours: float | None = None,
) -> TaskView:
    """Dispose (disposisi) a case to an agency: the SOP's disposition step, done by the operator.

    There is no task beside the SOP: when the agency is not the SOP's responsible agency the SOP is re-routed
    (the old agency's open tasks cancelled, the new agency gets them); the SOP's open verification and
    disposition steps are completed, so the SOP itself gives the agency its next task (e.g. "tanggapi").
    `due_hours` sets that task's due time instead of the SOP's standard (its reminders follow it). Returns
    the agency's newest open task.
    """
    actor.require(Permission.TRIAGE_CASES)
    with db.transaction() as uow:
        workflow = hooks.lock_workflow(uow, case_id)  # lock order: instance, case
        case = _load_for_change(uow, actor, case_id)
        if uow.repo(AgencyRepository).get(agency_code) is None:
            raise NotFound(f"Instansi '{agency_code}' tidak dikenal / unknown agency.", field="agency_code")
        if workflow is None or not workflow.running:
            raise Conflict(
                "SOP kasus ini tidak sedang berjalan; kasus tidak dapat didisposisikan / the case's SOP is not "
                "running.",
                code="sop_not_running",
            )
        now = utcnow()
        rerouted = workflow.responsible_agency != agency_code
        if rerouted:
            hooks.reroute_workflow(uow, actor.name, case.id, agency_code, note or "", now)
        disposed = hooks.dispose_workflow(uow, actor.name, case.id, note or "", now)
        if not (rerouted or disposed):
            raise Conflict(
                f"Kasus ini sudah didisposisikan ke '{agency_code}' / the case is already with this agency.",
                code="already_disposed",
            )
        case.agency_code = agency_code
        _internal_note(uow, actor, case, note, "dispose", now)
        open_tasks = [
            t
            for t in uow.repo(TaskRepository).for_case(case.id)
            if t.agency_code == agency_code and t.status in OPEN_TASK_STATUSES and t.task_key is not None
        ]
        if not open_tasks:
            raise Conflict(
                f"SOP kasus ini belum memberi tugas kepada '{agency_code}' / the SOP gave this agency no task.",
                code="no_task_for_agency",
            )
        task = max(open_tasks, key=lambda t: t.id)
        if due_hours:
            due_at = now + timedelta(hours=due_hours)
            assert task.task_key is not None
            hooks.set_task_due(uow, actor.name, case.id, task.task_key, due_at, now)
            case.due_at = due_at
        return task_view(task)


def accept_task(db: Database, actor: Actor, task_id: int) -> TaskView:
    """An agency takes on its task; the SOP decides what follows (time-to-accept metric, case status).

    Every task belongs to the case's SOP instance (issue 14): there is no task accepted outside the SOP
    runtime, so a task without an SOP key is refused rather than accepted on the side.
    """
    if not actor.can(Permission.TRIAGE_CASES):
        actor.require(Permission.WORK_OWN_TASKS)
    with db.reading() as uow:
        probe = uow.repo(TaskRepository).get(task_id)
        if probe is None or (
            not actor.can(Permission.VIEW_ALL_CASES) and probe.agency_code != actor.agency_code
        ):
            raise NotFound(f"Tugas {task_id} tidak ditemukan / task not found.")
        if probe.task_key is None:
            raise Conflict("Tugas ini bukan tugas SOP / not an SOP task.", code="not_an_sop_task")
    hooks.accept_workflow_task(db, actor, task_id)
    with db.reading() as uow:
        accepted = uow.repo(TaskRepository).get(task_id)
        assert accepted is not None
        return task_view(accepted)


def resolve_case(db: Database, actor: Actor, case_id: int, resolution: str) -> CaseSummary:
    """Mark a case resolved (selesai) with what was done; its manual tasks are completed.

    When the case runs an SOP, the SOP's open tasks are cancelled and the SOP waits for the closure check
    (confirmation or auto-close), exactly as when its last step is done.
    """
    actor.require(Permission.RESOLVE_CASES)
    with db.transaction() as uow:
        workflow = hooks.lock_workflow(uow, case_id)
        case = _load_for_change(uow, actor, case_id)
        _require_agency_reach(uow, actor, case)
        now = _move(uow, actor, case, CaseStatus.RESOLVED, EventType.CASE_RESOLVED, resolution=resolution)
        case.resolved_at = now
        case.resolution = resolution
        if workflow is not None and workflow.running:
            hooks.resolve_workflow(uow, actor.name, case.id, resolution, now)
        for task in uow.repo(TaskRepository).for_case(case.id):
            if task.status in OPEN_TASK_STATUSES and task.task_key is None:
                task.status = "done"
                task.completed_at = now
                uow.events.append(
                    stream=case_stream(case.id),
                    case_id=case.id,
                    type=EventType.TASK_COMPLETED,
                    actor=actor.name,
                    at=now,
                    payload={
                        "task_id": task.id,
                        "agency": task.agency_code,
                        "seconds_to_complete": round((now - task.created_at).total_seconds(), 3),
                        "met": task.due_at is None or now <= task.due_at,
                    },
                )
        return summary_of(case)


def close_case(db: Database, actor: Actor, case_id: int, note: str | None = None) -> CaseSummary:
    """Close a resolved case (ditutup) after the second-party check."""
    actor.require(Permission.CLOSE_CASES)
    with db.transaction() as uow:
        hooks.lock_workflow(uow, case_id)  # lock order: instance, case
        case = _load_for_change(uow, actor, case_id)
        case.closed_at = _move(uow, actor, case, CaseStatus.CLOSED, EventType.CASE_CLOSED, note=note)
        hooks.end_workflow(uow, actor.name, case.id, CaseStatus.CLOSED.value, note or "", case.closed_at)
        return summary_of(case)


def reopen_case(db: Database, actor: Actor, case_id: int, reason: str) -> CaseSummary:
    """Reopen a resolved case whose problem came back or was not really fixed."""
    actor.require(Permission.TRIAGE_CASES)
    with db.transaction() as uow:
        hooks.lock_workflow(uow, case_id)  # lock order: instance, case
        case = _load_for_change(uow, actor, case_id)
        check_transition(CaseStatus(case.status), CaseStatus.IN_PROGRESS)
        # The SOP reopens the case at its reopen step (its own case_reopened event) when it allows it.
        if not hooks.reopen_workflow(uow, actor.name, case.id, reason, utcnow()):
            _move(uow, actor, case, CaseStatus.IN_PROGRESS, EventType.CASE_REOPENED, reason=reason)
        case.resolved_at = None
        return summary_of(case)


def add_note(
    db: Database, actor: Actor, case_id: int, text: str, *, visibility: str = "internal"
) -> EventView:
    """Add a note to a case's timeline: internal (staff only) unless `visibility` is "public" (a reply)."""
    if actor.kind == "public":
        actor.require(Permission.WORK_OWN_TASKS)
    if visibility not in ("internal", "public"):
        raise ValidationFailed("visibility harus 'internal' atau 'public'.", field="visibility")
    public_reply = visibility == "public"
    if public_reply and not (actor.can(Permission.TRIAGE_CASES) or actor.can(Permission.WORK_OWN_TASKS)):
        # A reply the public reads speaks for the command center: staff only, never a client application.
        actor.require(Permission.TRIAGE_CASES)
    with db.transaction() as uow:
        case = _load_for_change(uow, actor, case_id)
        now = utcnow()
        case.updated_at = now
        event = uow.events.append(
            stream=case_stream(case.id),
            case_id=case.id,
            type=EventType.PUBLIC_REPLY_ADDED if public_reply else EventType.NOTE_ADDED,
            actor=actor.name,
            at=now,
            payload={"text": text, "visibility": visibility},
        )
        uow.flush()
        return event_view(event)


def escalate_case(db: Database, actor: Actor, case_id: int, reason: str, to: str = "supervisor") -> EventView:
    """The operator escalates a case by hand (to the supervisor, or an agency head): an event of its own type.

    It shows in the timeline as an escalation, not a note, and counts where the metrics count escalations.
    """
    actor.require(Permission.TRIAGE_CASES)
    if len(reason.strip()) < 5:
        raise ValidationFailed(
            "Alasan eskalasi wajib diisi (min. 5 karakter) / a reason is required.", field="text"
        )
    with db.transaction() as uow:
        case = _load_for_change(uow, actor, case_id)
        if not CaseStatus(case.status).is_open:
            raise Conflict(
                f"Kasus berstatus '{case.status}' tidak dapat dieskalasi / only open cases can be escalated.",
                code="case_not_open",
            )
        now = utcnow()
        case.updated_at = now
        event = uow.events.append(
            stream=case_stream(case.id),
            case_id=case.id,
            type=EventType.CASE_ESCALATED,
            actor=actor.name,
            at=now,
            payload={"reason": reason.strip()[:2000], "to": to, "manual": True},
        )
        uow.flush()
        return event_view(event)


# ---------------------------------------------------------------- queries


def summary_of(
    case: Case, *, public: bool = False, sensitive: bool = False, anonymous: bool = False
) -> CaseSummary:
    """The list/map view of a case; for the public, sensitive and anonymous locations are coarsened."""
    lon, lat = public_point(case.lon, case.lat, coarse=public and (sensitive or anonymous))
    return CaseSummary(
        id=case.id,
        ticket=case.ticket,
        service_code=case.service_code,
        priority=case.priority,
        status=case.status,
        title=case.title,
        lon=lon,
        lat=lat,
        region_code=case.region_code,
        kecamatan_code=case.kecamatan_code,
        agency_code=case.agency_code,
        channel=case.channel,
        confidential=case.confidential,
        created_at=case.created_at,
        updated_at=case.updated_at,
        due_at=case.due_at,
        merged_into_id=case.merged_into_id,
    )


def task_of(db: Database, actor: Actor, task_id: int) -> TaskView:
    """One task the actor may see (its agency's, or any for city-wide roles); NotFound otherwise."""
    with db.reading() as uow:
        task = uow.repo(TaskRepository).get(task_id)
        if task is None or (
            not actor.can(Permission.VIEW_ALL_CASES) and task.agency_code != actor.agency_code
        ):
            raise NotFound(f"Tugas {task_id} tidak ditemukan / task not found.")
        return task_view(task)


def is_sop_task(db: Database, task_id: int) -> bool:
    """True when the task is a step of the case's SOP (the engine decides its moves), not a manual one."""
    with db.reading() as uow:
        task = uow.repo(TaskRepository).get(task_id)
        return task is not None and task.task_key is not None


def task_view(task: Task) -> TaskView:
    """The view of one task (its fields read straight from the row)."""
    return TaskView.model_validate(task, from_attributes=True)


def event_view(event: Any) -> EventView:
    """The view of one event: a stored row or one just appended."""
    return EventView.model_validate(event, from_attributes=True)


def _may_see_reporter(actor: Actor, anonymous: bool) -> bool:
    if anonymous:
        # anonim: the reporter stays hidden from everybody but the administrators.
        return Role.ADMIN in actor.roles
    return actor.can(Permission.VIEW_REPORTER_PII)


def case_detail(db: Database, actor: Actor, case_id: int) -> CaseDetail:
    """A case with reports, tasks and timeline, cut to what `actor` may see."""
    with db.reading() as uow:
        case = uow.repo(CaseRepository).visible(case_id, actor.case_scope())
        if case is None:
            raise NotFound(f"Kasus {case_id} tidak ditemukan / case not found.", case_id=case_id)
        service = uow.repo(ServiceRepository).get(case.service_code)
        public = actor.reads_as_public
        sensitive = bool(service and service.sensitive)
        reports = uow.repo(ReportRepository).for_case(case.id)
        reporters = uow.repo(ReportRepository).reporters(
            [r.reporter_id for r in reports if r.reporter_id and _may_see_reporter(actor, r.anonymous)]
        )
        report_views = []
        for r in reports:
            rep = reporters.get(r.reporter_id) if r.reporter_id else None
            report_views.append(
                ReportView(
                    id=r.id,
                    channel=r.channel,
                    description="" if public and sensitive else r.description,
                    lon=None if public else r.lon,
                    lat=None if public else r.lat,
                    address=None if public else r.address,
                    received_at=r.received_at,
                    anonymous=r.anonymous,
                    attributes={} if public else r.attributes,
                    media=public_media(r.media or []) if public else r.media,
                    reporter=ReporterView(name=rep.name, phone=rep.phone, email=rep.email, nik=rep.nik)
                    if rep is not None
                    else None,
                )
            )
        anonymous = any(r.anonymous for r in reports)
        summary = summary_of(case, public=public, sensitive=sensitive, anonymous=anonymous)
        events = uow.events.for_case(case.id)
        return CaseDetail(
            **summary.model_dump(),
            description="" if public and sensitive else case.description,
            address=None if public else case.address,
            reject_reason=case.reject_reason,
            resolution=case.resolution,
            verified_at=case.verified_at,
            resolved_at=case.resolved_at,
            closed_at=case.closed_at,
            reports=report_views,
            tasks=[] if public else [task_view(t) for t in uow.repo(TaskRepository).for_case(case.id)],
            timeline=[
                EventView.model_validate(p.model_dump())
                for p in (public_event(e) for e in events)
                if p is not None
            ]
            if public
            else [event_view(e) for e in events],
        )


def list_cases(
    db: Database, actor: Actor, flt: CaseFilter, *, limit: int = 50, cursor: str | None = None
) -> CasePage:
    """A page of cases visible to `actor`, newest first; `cursor` continues from the previous page."""
    if not 1 <= limit <= 500:
        raise ValidationFailed(
            "limit harus antara 1 dan 500 / limit must be between 1 and 500.", field="limit"
        )
    before_id: int | None = None
    if cursor:
        try:
            before_id = int(cursor)
            if not 0 < before_id < 2**63:
                raise ValueError(cursor)
        except ValueError as exc:
            raise ValidationFailed("cursor tidak sah; pakai next_cursor dari halaman sebelumnya.") from exc
    with db.reading() as uow:
        rows = uow.repo(CaseRepository).search(actor.case_scope(), flt, limit=limit + 1, before_id=before_id)
        sensitive = {s.code for s in uow.repo(ServiceRepository).all(active_only=False) if s.sensitive}
        public = actor.reads_as_public
        anonymous = uow.repo(ReportRepository).anonymous_case_ids([c.id for c in rows]) if public else set()
    items = [
        summary_of(c, public=public, sensitive=c.service_code in sensitive, anonymous=c.id in anonymous)
        for c in rows[:limit]
    ]
    next_cursor = str(rows[limit - 1].id) if len(rows) > limit else None
    return CasePage(items=items, next_cursor=next_cursor)


def case_by_ticket(db: Database, ticket: str) -> int:
    """The case id behind a public ticket number."""
    with db.reading() as uow:
        case = uow.repo(CaseRepository).by_ticket(ticket.strip().upper())
        if case is None:
            raise NotFound(f"Tiket {ticket} tidak ditemukan / ticket not found.")
        return case.id


def agency_tasks(db: Database, actor: Actor, statuses: tuple[str, ...] = ()) -> list[TaskView]:
    """The inbox of the actor's agency."""
    if actor.agency_code is None:
        raise PermissionDenied("Hanya pengguna instansi yang memiliki kotak tugas / agency users only.")
    with db.reading() as uow:
        return [task_view(t) for t in uow.repo(TaskRepository).for_agency(actor.agency_code, statuses)]
