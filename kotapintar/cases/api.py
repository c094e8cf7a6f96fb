"""Cases: listing with filters, detail with timeline, and the lifecycle transitions; tasks inbox."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from kotapintar.cases import service as case_service
from kotapintar.cases.filters import CaseFilter
from kotapintar.cases.schemas import (
    AssignIn,
    CaseDetail,
    CasePage,
    CaseSummary,
    EventView,
    MergeIn,
    NoteIn,
    RejectIn,
    ResolveIn,
    TaskView,
    TransitionIn,
    UnmergeIn,
)
from kotapintar.core.errors import ValidationFailed
from kotapintar.core.http.bounds import IdPath, check_datetime
from kotapintar.core.http.deps import DbDep, UserDep

router = APIRouter(prefix="/api/v1", tags=["cases"])


def _csv(value: str | None) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip()) if value else ()


def _bbox(value: str | None) -> tuple[float, float, float, float] | None:
    if not value:
        return None
    try:
        parts = tuple(float(v) for v in value.split(","))
    except ValueError as exc:
        raise ValidationFailed("bbox harus 'min_lon,min_lat,max_lon,max_lat' (angka).", field="bbox") from exc
    if len(parts) != 4 or parts[0] > parts[2] or parts[1] > parts[3]:
        raise ValidationFailed("bbox harus 'min_lon,min_lat,max_lon,max_lat' dengan min ≤ max.", field="bbox")
    return parts[0], parts[1], parts[2], parts[3]


def _aware(value: datetime | None, name: str) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise ValidationFailed(f"{name} perlu zona waktu, mis. 2026-11-29T08:00:00+07:00.", field=name)
    return check_datetime(value, name)


@router.get("/cases", response_model=CasePage)
def list_cases(
    db: DbDep,
    actor: UserDep,
    status: Annotated[str | None, Query(description="comma list, e.g. received,verified")] = None,
    service: Annotated[str | None, Query(description="comma list of service codes")] = None,
    priority: Annotated[str | None, Query(description="comma list, e.g. P1,P2")] = None,
    region: Annotated[str | None, Query(description="Kemendagri code: kecamatan or desa")] = None,
    agency: Annotated[str | None, Query(description="agency code")] = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    updated_after: datetime | None = None,
    bbox: Annotated[str | None, Query(description="min_lon,min_lat,max_lon,max_lat")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
) -> CasePage:
    """Cases visible to the caller, newest first; follow `next_cursor` for more."""
    flt = CaseFilter(
        statuses=_csv(status),
        services=_csv(service),
        priorities=_csv(priority),
        region_prefix=region,
        agency_code=agency,
        created_from=_aware(created_from, "created_from"),
        created_to=_aware(created_to, "created_to"),
        updated_after=_aware(updated_after, "updated_after"),
        bbox=_bbox(bbox),
    )
    return case_service.list_cases(db, actor, flt, limit=limit, cursor=cursor)


@router.get("/cases/{case_id}", response_model=CaseDetail)
def get_case(case_id: IdPath, db: DbDep, actor: UserDep) -> CaseDetail:
    """One case with its reports, tasks and the full timeline from the event log."""
    return case_service.case_detail(db, actor, case_id)


@router.post("/cases/{case_id}/verify", response_model=CaseSummary)
def verify(case_id: IdPath, db: DbDep, actor: UserDep, body: TransitionIn | None = None) -> CaseSummary:
    """received → verified (verifikasi)."""
    return case_service.verify_case(db, actor, case_id, note=body.note if body else None)


@router.post("/cases/{case_id}/reject", response_model=CaseSummary)
def reject(case_id: IdPath, body: RejectIn, db: DbDep, actor: UserDep) -> CaseSummary:
    """→ rejected (ditolak), with a reason."""
    return case_service.reject_case(db, actor, case_id, body.reason)


@router.post("/cases/{case_id}/merge", response_model=CaseSummary)
def merge(case_id: IdPath, body: MergeIn, db: DbDep, actor: UserDep) -> CaseSummary:
    """→ merged (digabung) into another open case; reports move over."""
    return case_service.merge_case(db, actor, case_id, body.into_case_id, body.reason)


@router.post("/cases/{case_id}/unmerge", response_model=CaseSummary)
def unmerge(case_id: IdPath, body: UnmergeIn, db: DbDep, actor: UserDep) -> CaseSummary:
    """merged → the status before the merge: reports move back, the case's SOP runs again (issue 15)."""
    return case_service.unmerge_case(db, actor, case_id, body.reason)


@router.post("/cases/{case_id}/assign", response_model=TaskView)
def assign(case_id: IdPath, body: AssignIn, db: DbDep, actor: UserDep) -> TaskView:
    """→ assigned (didisposisikan) to an agency, which gets a task."""
    return case_service.assign_case(db, actor, case_id, body.agency_code, body.note, body.due_hours)


@router.post("/cases/{case_id}/resolve", response_model=CaseSummary)
def resolve(case_id: IdPath, body: ResolveIn, db: DbDep, actor: UserDep) -> CaseSummary:
    """→ resolved (selesai), with what was done."""
    return case_service.resolve_case(db, actor, case_id, body.resolution)


@router.post("/cases/{case_id}/close", response_model=CaseSummary)
def close(case_id: IdPath, db: DbDep, actor: UserDep, body: TransitionIn | None = None) -> CaseSummary:
    """resolved → closed (ditutup)."""
    return case_service.close_case(db, actor, case_id, body.note if body else None)


@router.post("/cases/{case_id}/reopen", response_model=CaseSummary)
def reopen(case_id: IdPath, body: RejectIn, db: DbDep, actor: UserDep) -> CaseSummary:
    """resolved → in_progress, with the reason it is not done."""
    return case_service.reopen_case(db, actor, case_id, body.reason)


@router.post("/cases/{case_id}/notes", response_model=EventView, status_code=201)
def note(case_id: IdPath, body: NoteIn, db: DbDep, actor: UserDep) -> EventView:
    """Add a note to the timeline: internal unless `visibility` is `public` (a reply the reporter reads)."""
    return case_service.add_note(db, actor, case_id, body.text, visibility=body.visibility)


@router.get("/tasks", response_model=list[TaskView])
def my_tasks(
    db: DbDep, actor: UserDep, status: Annotated[str | None, Query(description="comma list")] = None
) -> list[TaskView]:
    """The caller's agency inbox."""
    return case_service.agency_tasks(db, actor, _csv(status))


@router.post("/tasks/{task_id}/accept", response_model=TaskView)
def accept(task_id: IdPath, db: DbDep, actor: UserDep) -> TaskView:
    """An agency takes on its task."""
    return case_service.accept_task(db, actor, task_id)
