"""Driving a complaint through its SOP to the approved answer and the resolution, as the agencies do."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from kotapintar.cases.repository import CaseRepository, TaskRepository
from kotapintar.core.db.database import Database
from kotapintar.sop import tasks as sop_tasks
from tests.helpers import actor

ANSWER = "Lubang akan ditambal tim PUPR pekan ini; mohon hati-hati melintas."


def open_task(db: Database, case_id: int, step: str) -> Any:
    """The open task of one step of a case (fails when there is none)."""
    with db.reading() as uow:
        rows = [
            t
            for t in uow.repo(TaskRepository).for_case(case_id)
            if t.step_id == step and t.status in sop_tasks.OPEN_STATUSES
        ]
    assert rows, f"no open task for step {step}"
    return rows[0]


def case_status(db: Database, case_id: int) -> str:
    """The case's status now."""
    with db.reading() as uow:
        case = uow.repo(CaseRepository).get(case_id)
        assert case is not None
        return case.status


def events(db: Database, case_id: int, *types: str) -> list[Any]:
    """The case's events (of these types)."""
    with db.reading() as uow:
        return [e for e in uow.events.for_case(case_id) if not types or e.type in types]


def answer_and_resolve(db: Database, case_id: int, at: datetime | None = None) -> None:
    """Verify, dispose, draft and approve the answer, then finish the work (photo as evidence)."""
    step = timedelta(minutes=30)

    def when(n: int) -> datetime | None:
        return None if at is None else at + n * step

    op, pupr, kepala = actor(db, "operator"), actor(db, "pupr.petugas"), actor(db, "pupr.kepala")
    sop_tasks.accept_task(db, op, open_task(db, case_id, "verifikasi").id, at=when(0))
    sop_tasks.complete_task(
        db, op, open_task(db, case_id, "verifikasi").id, outputs={"lengkap": True}, at=when(1)
    )
    sop_tasks.complete_task(db, op, open_task(db, case_id, "disposisi").id, at=when(2))
    answer = open_task(db, case_id, "tanggapi")
    sop_tasks.draft_answer(db, pupr, answer.id, ANSWER, at=when(3))
    sop_tasks.approve_answer(db, kepala, answer.id, at=when(4))
    finish_work(db, case_id, when(5))


def finish_work(db: Database, case_id: int, at: datetime | None = None) -> None:
    """The agency completes the (re)opened work step: the case is resolved and waits for the reporter."""
    pupr = actor(db, "pupr.petugas")
    sop_tasks.complete_task(
        db, pupr, open_task(db, case_id, "kerjakan").id, outputs={"tuntas": True}, evidence=["foto"], at=at
    )
    assert case_status(db, case_id) == "resolved"
