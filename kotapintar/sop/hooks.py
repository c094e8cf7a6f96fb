"""The SOP's side of the case layer's hooks: manual re-routing, resolution and task acceptance move the SOP."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from kotapintar.cases.lifecycle import CaseStatus
from kotapintar.core import hooks
from kotapintar.core.access.actors import Actor
from kotapintar.core.db.database import Database
from kotapintar.core.db.uow import UnitOfWork
from kotapintar.sop.conditions import FieldType
from kotapintar.sop.engine import (
    CaseCancelled,
    CaseRerouted,
    CaseResolvedManually,
    ClosureConfirmed,
    InstanceState,
    TaskCompleted,
    TaskDueSet,
    upgrade_state,
)
from kotapintar.sop.repository import SopRepository
from kotapintar.sop.runtime import feed_event, load_instance
from kotapintar.sop.spec import SopSpec, Step
from kotapintar.sop.tasks import accept_task


def lock_workflow(uow: UnitOfWork, case_id: int) -> hooks.Workflow | None:
    """Lock the case's SOP instance first (lock order: instance, then case) and describe it."""
    instance = SopRepository(uow.session).instance(case_id, for_update=True)
    if instance is None:
        return None
    return hooks.Workflow(
        running=instance.status == "running", responsible_agency=instance.state.get("responsible_agency")
    )


def reroute_workflow(
    uow: UnitOfWork, actor_name: str, case_id: int, agency: str, reason: str, at: datetime
) -> None:
    """The SOP cancels the old agency's open tasks and hands them to `agency`."""
    feed_event(
        uow,
        actor_name,
        case_id,
        lambda _s: CaseRerouted(at=at, actor=actor_name, new_agency=agency, reason=reason),
        at,
    )


def resolve_workflow(uow: UnitOfWork, actor_name: str, case_id: int, resolution: str, at: datetime) -> None:
    """The SOP cancels its open tasks and waits for the closure check, as after its last step."""
    feed_event(
        uow,
        actor_name,
        case_id,
        lambda _s: CaseResolvedManually(at=at, actor=actor_name, resolution=resolution),
        at,
    )


def _always(event: TaskCompleted) -> Callable[[InstanceState], TaskCompleted]:
    """An event maker for `feed_event` that does not look at the state."""
    return lambda _state: event


def _yes_outputs(step: Step) -> dict[str, object] | None:
    """The outputs that take a verification step's "yes" path: every declared output is a yes/no (else None)."""
    if any(decl.type is not FieldType.BOOL for decl in step.outputs.values()):
        return None
    return {name: True for name in step.outputs}


def _complete_open_step(
    uow: UnitOfWork,
    actor_name: str,
    case_id: int,
    spec: SopSpec,
    state: InstanceState,
    status: CaseStatus,
    note: str,
    at: datetime,
) -> bool:
    """Complete the open task of the step that moves the case to `status` (verified, assigned), if any."""
    for task in state.open_tasks():
        step = spec.step(task.step_id)
        if step.case_status is not status or step.answer:
            continue
        outputs = _yes_outputs(step)
        if outputs is None or step.bukti:
            continue
        done = TaskCompleted(at=at, actor=actor_name, task_key=task.key, outputs=outputs, note=note)
        feed_event(uow, actor_name, case_id, _always(done), at)
        return True
    return False


def _running(uow: UnitOfWork, case_id: int) -> tuple[SopSpec, InstanceState] | None:
    row = SopRepository(uow.session).instance(case_id, for_update=True)
    if row is None or row.status != "running":
        return None
    row, spec = load_instance(uow, case_id)
    return spec, upgrade_state(row.state)


def verify_workflow(uow: UnitOfWork, actor_name: str, case_id: int, note: str, at: datetime) -> bool:
    """The operator's "verify" completes the SOP's verification step (its "yes" path)."""
    found = _running(uow, case_id)
    if found is None:
        return False
    return _complete_open_step(uow, actor_name, case_id, *found, CaseStatus.VERIFIED, note, at)


def dispose_workflow(uow: UnitOfWork, actor_name: str, case_id: int, note: str, at: datetime) -> bool:
    """The operator's "dispose" completes verification (when still open), then the disposition step."""
    verified = verify_workflow(uow, actor_name, case_id, note, at)
    found = _running(uow, case_id)
    if found is None:
        return verified
    disposed = _complete_open_step(uow, actor_name, case_id, *found, CaseStatus.ASSIGNED, note, at)
    return verified or disposed


def end_workflow(
    uow: UnitOfWork, actor_name: str, case_id: int, final: str, reason: str, at: datetime
) -> None:
    """Stop the SOP of a case ended by hand: closed confirms its closure, rejected/merged cancels it."""
    repo = SopRepository(uow.session)
    row = repo.instance(case_id, for_update=True)
    if row is None or row.status not in ("running", "awaiting_closure"):
        return
    _row, spec = load_instance(uow, case_id)
    if (
        final == CaseStatus.CLOSED.value
        and row.status == "awaiting_closure"
        and "operator" in spec.closure.confirm_by
    ):
        feed_event(
            uow,
            actor_name,
            case_id,
            lambda _s: ClosureConfirmed(at=at, actor=actor_name, by="operator", satisfied=True, note=reason),
            at,
        )
        return
    if final == CaseStatus.CLOSED.value:
        # Closed by staff where the SOP waits for the citizen's confirmation: the SOP ends as closed (as the
        # scheduler does when it finds such a case) and none of its timers fires any more.
        row.status = "closed"
        for timer in repo.timers_for_case(case_id):
            repo.finish_timer(timer)
        return
    final_status = "merged" if final == CaseStatus.MERGED.value else "rejected"
    feed_event(
        uow,
        actor_name,
        case_id,
        lambda _s: CaseCancelled(at=at, actor=actor_name, reason=reason or final, final_status=final_status),
        at,
    )


def reopen_workflow(uow: UnitOfWork, actor_name: str, case_id: int, reason: str, at: datetime) -> bool:
    """Reopen through the SOP (closure disputed by the operator) when the SOP allows reopening."""
    row = SopRepository(uow.session).instance(case_id, for_update=True)
    if row is None or row.status != "awaiting_closure":
        return False
    _row, spec = load_instance(uow, case_id)
    if spec.closure.reopen_step is None or "operator" not in spec.closure.confirm_by:
        return False
    feed_event(
        uow,
        actor_name,
        case_id,
        lambda _s: ClosureConfirmed(at=at, actor=actor_name, by="operator", satisfied=False, note=reason),
        at,
    )
    return True


def set_task_due(
    uow: UnitOfWork, actor_name: str, case_id: int, task_key: str, due: datetime, at: datetime
) -> None:
    """The task's due time becomes `due`; the engine plans its reminders and escalations from it."""
    feed_event(
        uow,
        actor_name,
        case_id,
        lambda _s: TaskDueSet(at=at, actor=actor_name, task_key=task_key, due_at=due),
        at,
    )


def accept_workflow_task(db: Database, actor: Actor, task_id: int) -> object:
    """The engine decides what accepting an SOP task means (time-to-accept metric, case status)."""
    return accept_task(db, actor, task_id)


def install() -> None:
    """Register the implementations above on the core's hooks."""
    hooks.lock_workflow.register(lock_workflow)
    hooks.reroute_workflow.register(reroute_workflow)
    hooks.resolve_workflow.register(resolve_workflow)
    hooks.accept_workflow_task.register(accept_workflow_task)
    hooks.verify_workflow.register(verify_workflow)
    hooks.dispose_workflow.register(dispose_workflow)
    hooks.end_workflow.register(end_workflow)
    hooks.reopen_workflow.register(reopen_workflow)
    hooks.set_task_due.register(set_task_due)
