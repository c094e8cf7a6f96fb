"""Submitting reports and tracking them by ticket."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request, Response

from kotapintar.cases import service as case_service
from kotapintar.cases.public import PublicCase, public_case
from kotapintar.cases.schemas import ReportIn, SubmitResult
from kotapintar.core.access.actors import channel_actor
from kotapintar.core.http.deps import ActorDep, DbDep, SettingsDep
from kotapintar.intake.chat import submit_citizen_report
from kotapintar.intake.guard import trusted_fields

router = APIRouter(prefix="/api/v1", tags=["reports"])


@router.post(
    "/reports",
    response_model=SubmitResult,
    status_code=201,
    responses={200: {"description": "A retry with the same Idempotency-Key: the first result"}},
)
def post_report(
    body: ReportIn,
    request: Request,
    response: Response,
    db: DbDep,
    actor: ActorDep,
    settings: SettingsDep,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> SubmitResult:
    """Submit a report; it becomes a case and the answer carries its ticket number.

    The server decides the channel (`api`) and the priority (triage) of an anonymous submission; a client
    application's key may state its channel, and only staff who triage may state a priority. Submissions
    are rate-limited per address and per phone number like every other intake path (429 + Retry-After).
    """
    body = trusted_fields(actor, body)
    if actor.kind == "public":
        actor = channel_actor(body.channel)
    result = submit_citizen_report(
        db,
        actor,
        body,
        settings=settings,
        idempotency_key=idempotency_key,
        ip=request.client.host if request.client else None,
    )
    if result.replayed:
        response.status_code = 200
    return result


@router.get("/tickets/{ticket}", response_model=PublicCase)
def track_ticket(ticket: str, db: DbDep) -> PublicCase:
    """The public view of a case by its ticket: status and public timeline, never personal data or notes."""
    case_id = case_service.case_by_ticket(db, ticket)
    return public_case(db, case_id)
