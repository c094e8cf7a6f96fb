"""The SOP's side of the case layer's hooks: manual re-routing, resolution and task acceptance move the SOP."""

from __future__ import annotations

from datetime import datetime

from kotapintar.core import hooks
from kotapintar.core.access.actors import Actor
from kotapintar.core.db.database import Database
from kotapintar.core.db.uow import UnitOfWork
from kotapintar.sop.engine import CaseRerouted, CaseResolvedManually
from kotapintar.sop.repository import SopRepository
from kotapintar.sop.runtime import feed_event
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


def accept_workflow_task(db: Database, actor: Actor, task_id: int) -> object:
    """The engine decides what accepting an SOP task means (time-to-accept metric, case status)."""
    return accept_task(db, actor, task_id)


def install() -> None:
    """Register the implementations above on the core's hooks."""
    hooks.lock_workflow.register(lock_workflow)
    hooks.reroute_workflow.register(reroute_workflow)
    hooks.resolve_workflow.register(resolve_workflow)
    hooks.accept_workflow_task.register(accept_workflow_task)
