"""The public side of a case: every output anyone may read without a staff login is built here, from whitelists.

Three rules hold for the ticket API, the tracking page, the public map and API, Open311 and the live stream:
- an event is public only when its type is listed in `PUBLIC_EVENTS`, and of its payload only the fields
  in `PUBLIC_PAYLOAD_FIELDS` and the one public text of `PUBLIC_TEXT` leave; staff names never do;
- the location of an anonymous report or a sensitive service is coarsened by `public_point`, the one
  function every public output uses;
- the words of a sensitive report (crime, medical) are not public; the service name stands in for them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import h3
from pydantic import BaseModel

from kotapintar.cases.models import Case
from kotapintar.cases.repository import CaseRepository, ReportRepository, TaskRepository
from kotapintar.catalog.repository import ServiceRepository
from kotapintar.core.access.scope import CaseScope
from kotapintar.core.db.database import Database
from kotapintar.core.errors import NotFound
from kotapintar.core.events.types import EventType
from kotapintar.metrics.performance import OPEN_TASKS

# Cells of H3 resolution 7 cover about 5 km² (edges of about 1.2 km): a public point says which part of a
# desa, never which house.
PUBLIC_H3_RESOLUTION = 7
PUBLIC_POINT_PRECISION = "area"

# What the public timeline shows: status changes and replies written for the public, never internal notes.
PUBLIC_EVENTS = frozenset(
    {
        EventType.CASE_CREATED,
        EventType.CASE_VERIFIED,
        EventType.CASE_ASSIGNED,
        EventType.CASE_STARTED,
        EventType.CASE_RESOLVED,
        EventType.CASE_CLOSED,
        EventType.CASE_REOPENED,
        EventType.CASE_REJECTED,
        EventType.CASE_MERGED,
        EventType.CASE_UNMERGED,
        EventType.PUBLIC_REPLY_ADDED,
        # The answer loop: the agency's approved answer, and the reporter's confirmation or dispute.
        EventType.ANSWER_APPROVED,
        EventType.CLOSURE_CONFIRMED,
    }
)

# Payload fields the public may see on a public event; everything else (notes, actors' words) stays inside.
PUBLIC_PAYLOAD_FIELDS = frozenset(
    {
        "ticket",
        "service",
        "priority",
        "status",
        "from",
        "to",
        "region",
        "kecamatan",
        "agency",
        "into_ticket",
        "satisfied",
    }
)

# The one text of an event written for the reporter to read: the reason of a rejection, what was done,
# and a public reply. Notes typed with verify / assign / close / reopen are internal and never listed here.
PUBLIC_TEXT: Mapping[str, str] = {
    EventType.CASE_REJECTED: "reason",
    EventType.CASE_RESOLVED: "resolution",
    EventType.PUBLIC_REPLY_ADDED: "text",
    EventType.ANSWER_APPROVED: "answer",
}

# Keys of a stored photo entry the public may see (the token is part of its URL anyway; never the sender).
PUBLIC_MEDIA_FIELDS = ("token", "url", "thumb_url", "content_type", "width", "height")


def public_point(lon: float | None, lat: float | None, *, coarse: bool) -> tuple[float | None, float | None]:
    """The location the public sees: exact, or, when `coarse`, the centre of its H3 resolution-7 cell."""
    if lon is None or lat is None or not coarse:
        return lon, lat
    centre_lat, centre_lon = h3.cell_to_latlng(h3.latlng_to_cell(lat, lon, PUBLIC_H3_RESOLUTION))
    return round(centre_lon, 5), round(centre_lat, 5)


def public_actor(actor: str) -> str:
    """Who did it, as the public reads it: a role word, never a staff username or client name."""
    if actor.startswith("public"):
        return "warga"
    if actor.startswith("system"):
        return "sistem"
    return "petugas"


def public_text(event_type: str, payload: Mapping[str, Any]) -> str | None:
    """The text of an event written for the public, or None (internal notes are never returned)."""
    key = PUBLIC_TEXT.get(event_type)
    value = payload.get(key) if key else None
    return value if isinstance(value, str) and value else None


def public_payload(event_type: str, payload: Mapping[str, Any]) -> dict[str, Any]:
    """The whitelisted payload of a public event (plus its public text under `text`)."""
    out = {k: v for k, v in payload.items() if k in PUBLIC_PAYLOAD_FIELDS and isinstance(v, str | int | None)}
    text = public_text(event_type, payload)
    if text is not None:
        out["text"] = text
    return out


def public_media(media: list[Any]) -> list[dict[str, Any]]:
    """Stored photos as the public sees them: their URLs and sizes only."""
    return [
        {k: item[k] for k in PUBLIC_MEDIA_FIELDS if k in item}
        for item in media
        if isinstance(item, dict) and isinstance(item.get("url"), str) and item["url"].startswith("/media/")
    ]


class PublicEvent(BaseModel):
    """One entry of the public timeline."""

    id: int
    seq: int
    type: str
    actor: str  # warga | petugas | sistem
    occurred_at: datetime
    payload: dict[str, Any]


class PublicReport(BaseModel):
    """One report of a case as the public sees it: no reporter, no exact place, no form attributes."""

    id: int
    channel: str
    description: str
    received_at: datetime
    anonymous: bool
    media: list[dict[str, Any]]


class PublicCase(BaseModel):
    """A case as anyone may read it (ticket API, tracking page, public API), built field by field."""

    id: int
    ticket: str | None
    service_code: str
    priority: str
    status: str
    title: str
    lon: float | None
    lat: float | None
    location_precision: str
    region_code: str | None
    kecamatan_code: str | None
    agency_code: str | None
    created_at: datetime
    updated_at: datetime
    due_at: datetime | None
    merged_into_id: int | None
    description: str
    reject_reason: str | None
    resolution: str | None
    verified_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    reports: list[PublicReport]
    timeline: list[PublicEvent]


def public_event(event: Any) -> PublicEvent | None:
    """The public form of an event, or None when the event is internal."""
    if event.type not in PUBLIC_EVENTS:
        return None
    return PublicEvent(
        id=event.id,
        seq=event.seq,
        type=event.type,
        actor=public_actor(event.actor),
        occurred_at=event.occurred_at,
        payload=public_payload(event.type, event.payload or {}),
    )


def build_public_case(
    case: Case,
    reports: list[Any],
    events: list[Any],
    *,
    sensitive: bool,
    service_name: str,
    hide_content: bool = False,
) -> PublicCase:
    """The public view of a loaded case; `hide_content` leaves only status and timeline (rahasia by key)."""
    anonymous = any(r.anonymous for r in reports)
    coarse = sensitive or anonymous
    lon, lat = (None, None) if hide_content else public_point(case.lon, case.lat, coarse=coarse)
    precision = PUBLIC_POINT_PRECISION if coarse else "exact"
    if lon is None or lat is None:
        precision = "hidden"
    words_hidden = sensitive or hide_content
    timeline = [p for p in (public_event(e) for e in events) if p is not None]
    return PublicCase(
        id=case.id,
        ticket=case.ticket,
        service_code=case.service_code,
        priority=case.priority,
        status=case.status,
        title=service_name if words_hidden else case.title,
        lon=lon,
        lat=lat,
        location_precision=precision,
        region_code=None if hide_content else case.region_code,
        kecamatan_code=case.kecamatan_code,
        agency_code=case.agency_code,
        created_at=case.created_at,
        updated_at=case.updated_at,
        due_at=case.due_at,
        merged_into_id=case.merged_into_id,
        description="" if words_hidden else case.description,
        reject_reason=case.reject_reason,
        resolution=case.resolution,
        verified_at=case.verified_at,
        resolved_at=case.resolved_at,
        closed_at=case.closed_at,
        reports=[]
        if hide_content
        else [
            PublicReport(
                id=r.id,
                channel=r.channel,
                description="" if sensitive else r.description,
                received_at=r.received_at,
                anonymous=r.anonymous,
                media=[] if case.confidential else public_media(r.media or []),
            )
            for r in reports
        ],
        timeline=timeline,
    )


def public_case(db: Database, case_id: int, *, rahasia_by_key: bool = False) -> PublicCase:
    """The public view of a case (NotFound for rahasia and unknown ones, unless opened by its owner's key).

    `rahasia_by_key`: the caller checked the reporter's tracking key; a rahasia case then shows its status
    and timeline only.
    """
    with db.reading() as uow:
        cases = uow.repo(CaseRepository)
        case = cases.get(case_id) if rahasia_by_key else cases.visible(case_id, CaseScope(public=True))
        if case is None:
            raise NotFound(f"Kasus {case_id} tidak ditemukan / case not found.", case_id=case_id)
        service = uow.repo(ServiceRepository).get(case.service_code)
        return build_public_case(
            case,
            list(uow.repo(ReportRepository).for_case(case.id)),
            list(uow.events.for_case(case.id)),
            sensitive=bool(service and service.sensitive),
            service_name=service.name if service else case.service_code,
            hide_content=case.confidential,
        )


def case_clock(db: Database, case_id: int) -> datetime | None:
    """The case's clock as the operator's queue shows it: the soonest due time of its open SOP tasks (each
    from its step's time standard and working calendar); None once no task is open (the clock stopped)."""
    with db.reading() as uow:
        dues = [
            t.due_at
            for t in uow.repo(TaskRepository).for_case(case_id)
            if t.status in OPEN_TASKS and t.due_at is not None
        ]
    return min(dues) if dues else None
