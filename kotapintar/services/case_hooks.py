"""What else happens, in the same transaction, when intake opens a case (its SOP starts)."""

from __future__ import annotations

from datetime import datetime

from kotapintar.services.actors import Actor
from kotapintar.services.assess import Assessment
from kotapintar.services.sop_runtime import start_case_sop
from kotapintar.store.uow import UnitOfWork


def on_case_opened(uow: UnitOfWork, actor: Actor, case_id: int, assessment: Assessment, at: datetime) -> None:
    """Run the follow-ups of a new case inside the intake transaction.

    The SOP runtime starts the case's procedure here: tasks, timers and their events are written in the
    same transaction as the case itself, so a case never exists without its SOP having started.
    """
    start_case_sop(uow, actor, case_id, assessment, at)
