"""SOP tasks: the agency inbox with due clocks, and every task command (reject, hand over, progress,
complete, answer draft and approval); closure confirmation, re-routing and a case's SOP progress."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from kotapintar.cases.schemas import CaseSummary, TaskView
from kotapintar.core.http.deps import DbDep, UserDep
from kotapintar.sop import tasks as sop_tasks

router = APIRouter(prefix="/api/v1", tags=["tasks"])


class InboxItemOut(BaseModel):
    """One task of the inbox with its clock."""

    task: TaskView
    case_ticket: str | None
    case_title: str
    task_key: str | None
    position: str | None
    answer_required: bool
    answer_draft: str | None
    seconds_left: float | None = Field(description="seconds until due; negative when late")
    late: bool


class RejectTaskIn(BaseModel):
    """`bukan_wewenang`: why, and which agency should act instead."""

    reason: str = Field(min_length=5, max_length=2000)
    suggested_agency: str = Field(min_length=2, max_length=40)


class HandOverIn(BaseModel):
    """Whom the task goes to (username or unit code of the same agency)."""

    to: str = Field(min_length=1, max_length=120)
    note: str = Field("", max_length=2000)


class ProgressIn(BaseModel):
    """A progress note with evidence kinds (e.g. 'foto') and stored media references."""

    note: str = Field("", max_length=4000)
    evidence: list[str] = []
    refs: list[str] = []


class CompleteIn(BaseModel):
    """The outputs the step declares, the evidence it requires."""

    outputs: dict[str, Any] = {}
    evidence: list[str] = []
    refs: list[str] = []
    note: str = Field("", max_length=4000)


class AnswerIn(BaseModel):
    """The drafted answer to the citizen."""

    text: str = Field(min_length=1, max_length=8000)


class ClosureIn(BaseModel):
    """Confirm (satisfied) or dispute the resolution."""

    satisfied: bool = True
    note: str = Field("", max_length=2000)


class RerouteIn(BaseModel):
    """The new responsible agency."""

    agency_code: str = Field(min_length=2, max_length=40)
    reason: str = Field("", max_length=2000)


class StepProgressOut(BaseModel):
    """One SOP step of a case."""

    step_id: str
    kegiatan: str
    status: str
    started_at: datetime | None
    completed_at: datetime | None
    due_at: datetime | None
    agencies: list[str]


class SopProgressOut(BaseModel):
    """A case's SOP run."""

    case_id: int
    sop_code: str
    sop_version: int
    status: str
    steps: list[StepProgressOut]


@router.get("/tasks/inbox", response_model=list[InboxItemOut])
def inbox(db: DbDep, actor: UserDep, agency: str | None = None, include_closed: bool = False) -> list[Any]:
    """The caller's agency's open tasks, soonest due first (operators: any agency via `agency`)."""
    return [
        InboxItemOut(**item.__dict__)
        for item in sop_tasks.task_inbox(db, actor, agency_code=agency, include_closed=include_closed)
    ]


@router.post("/tasks/{task_id}/reject", response_model=TaskView)
def reject(task_id: int, body: RejectTaskIn, db: DbDep, actor: UserDep) -> TaskView:
    """Refuse as `bukan_wewenang` (not our authority) with a reason and the right agency."""
    return sop_tasks.reject_task(db, actor, task_id, body.reason, body.suggested_agency)


@router.post("/tasks/{task_id}/handover", response_model=TaskView)
def hand_over(task_id: int, body: HandOverIn, db: DbDep, actor: UserDep) -> TaskView:
    """Hand the task to another officer or unit of the same agency."""
    return sop_tasks.hand_over_task(db, actor, task_id, body.to, body.note)


@router.post("/tasks/{task_id}/progress", response_model=TaskView)
def progress(task_id: int, body: ProgressIn, db: DbDep, actor: UserDep) -> TaskView:
    """Report progress with evidence."""
    return sop_tasks.add_task_progress(db, actor, task_id, body.note, body.evidence, body.refs)


@router.post("/tasks/{task_id}/complete", response_model=TaskView)
def complete(task_id: int, body: CompleteIn, db: DbDep, actor: UserDep) -> TaskView:
    """Finish the task with its required outputs and evidence; the SOP moves on."""
    return sop_tasks.complete_task(db, actor, task_id, body.outputs, body.evidence, body.note, body.refs)


@router.post("/tasks/{task_id}/answer/draft", response_model=TaskView)
def answer_draft(task_id: int, body: AnswerIn, db: DbDep, actor: UserDep) -> TaskView:
    """Draft the answer (LAPOR!); not visible to the citizen until approved."""
    return sop_tasks.draft_answer(db, actor, task_id, body.text)


@router.post("/tasks/{task_id}/answer/approve", response_model=TaskView)
def answer_approve(task_id: int, db: DbDep, actor: UserDep) -> TaskView:
    """The agency's pejabat approves the draft; it reaches the citizen and the task is done."""
    return sop_tasks.approve_answer(db, actor, task_id)


@router.post("/cases/{case_id}/confirm-closure", response_model=CaseSummary)
def confirm_closure(case_id: int, body: ClosureIn, db: DbDep, actor: UserDep) -> CaseSummary:
    """The operator's second-party check: close (satisfied) or reopen (disputed)."""
    return sop_tasks.confirm_closure(db, actor, case_id, satisfied=body.satisfied, note=body.note)


@router.post("/cases/{case_id}/reroute", response_model=CaseSummary)
def reroute(case_id: int, body: RerouteIn, db: DbDep, actor: UserDep) -> CaseSummary:
    """Route the case to another responsible agency (after a `bukan_wewenang`)."""
    return sop_tasks.reroute_case(db, actor, case_id, body.agency_code, body.reason)


@router.get("/cases/{case_id}/sop", response_model=SopProgressOut)
def case_sop(case_id: int, db: DbDep, actor: UserDep) -> SopProgressOut:
    """The case's SOP: version and each step done, running, waiting or late."""
    progress = sop_tasks.case_sop_progress(db, actor, case_id)
    return SopProgressOut(
        case_id=progress.case_id,
        sop_code=progress.sop_code,
        sop_version=progress.sop_version,
        status=progress.status,
        steps=[StepProgressOut(**s.__dict__) for s in progress.steps],
    )
