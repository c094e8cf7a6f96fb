"""Triage for operators: the triage queue and corrections of a case's service and priority."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from kotapintar.core.http.deps import DbDep, UserDep
from kotapintar.triage.corrections import correct_triage, triage_queue

router = APIRouter(prefix="/api/v1", tags=["triage"])


class TriageCorrectionIn(BaseModel):
    """The service and/or priority an operator says is right."""

    service: str | None = Field(None, min_length=1, max_length=60, examples=["banjir"])
    priority: str | None = Field(None, pattern=r"^P[1-4]$", examples=["P1"])
    reason: str | None = Field(None, max_length=500, examples=["bukan kecelakaan: saran pasang rambu"])


@router.post("/cases/{case_id}/triage")
def post_triage_correction(
    case_id: int, body: TriageCorrectionIn, db: DbDep, actor: UserDep
) -> dict[str, Any]:
    """Correct (or confirm) triage's service and priority of an open case; the case leaves the queue."""
    done = correct_triage(
        db, actor, case_id, service=body.service, priority=body.priority, reason=body.reason
    )
    return {
        "case_id": done.case_id,
        "service": done.service,
        "priority": done.priority,
        "previous_service": done.previous_service,
        "previous_priority": done.previous_priority,
    }


@router.get("/triage/queue")
def get_triage_queue(
    db: DbDep, actor: UserDep, limit: Annotated[int, Query(ge=1, le=500)] = 100
) -> list[dict[str, Any]]:
    """Cases triage was unsure of (low confidence, possible duplicate, location unknown), newest first."""
    return [item.as_dict() for item in triage_queue(db, actor, limit=limit)]
