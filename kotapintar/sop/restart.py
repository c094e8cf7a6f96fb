"""Starting a case's SOP again after its merge was undone (issue 15: un-merge).

The merge cancelled the SOP (its tasks cancelled, its timers gone); an un-merged case is a case of its own
again, so it gets a fresh run of the newest SOP version of its service, exactly as a new case would. The
old instance's state is dropped (one instance per case); its history stays in the event log.
"""

from __future__ import annotations

from datetime import datetime

from kotapintar.core import hooks
from kotapintar.core.access.actors import Actor
from kotapintar.core.db.uow import UnitOfWork
from kotapintar.sop.repository import SopRepository
from kotapintar.sop.runtime import start_case_sop


def restart_workflow(uow: UnitOfWork, actor: Actor, case_id: int, at: datetime) -> bool:
    """Start the case's SOP from its first step; False when it is still running or the service has none."""
    repo = SopRepository(uow.session)
    row = repo.instance(case_id, for_update=True)
    informed: list[str] = []
    if row is not None:
        # Triage's informed agencies live only in the old state (the case row keeps the responsible one):
        # the new run informs them again, as the first run did.
        informed = [str(a) for a in (row.state or {}).get("informed_agencies", [])]
        if row.status in ("running", "awaiting_closure"):
            return False
        for timer in repo.timers_for_case(case_id):
            repo.finish_timer(timer)
        uow.session.delete(row)
        uow.session.flush()  # the new instance takes the case's one slot in the same transaction
    return start_case_sop(uow, actor, case_id, None, at, informed=informed) is not None


def install() -> None:
    """Register the restart on the core's hook."""
    hooks.restart_workflow.register(restart_workflow)
