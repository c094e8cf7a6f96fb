"""112 calls: receive, answer, classify (a genuine call opens its case through intake), the call list."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError

from kotapintar.cases.lifecycle import CaseStatus, Priority
from kotapintar.cases.repository import CaseRepository
from kotapintar.cases.schemas import ReporterIn, ReportIn
from kotapintar.catalog.repository import RegionRepository, ServiceRepository
from kotapintar.core.access.actors import Actor
from kotapintar.core.access.roles import Permission
from kotapintar.core.db.database import Database
from kotapintar.core.db.uow import UnitOfWork
from kotapintar.core.errors import Conflict, NotFound, ValidationFailed
from kotapintar.core.events.repository import case_stream
from kotapintar.core.events.types import EventType, utcnow
from kotapintar.core.settings import Settings, get_settings
from kotapintar.dispatch.engine import (
    haversine_m,
)
from kotapintar.dispatch.engine.protocols import ProtocolCard, load_protocols
from kotapintar.dispatch.models import Call
from kotapintar.dispatch.repository import DispatchRepository
from kotapintar.dispatch.schemas import (
    CallIn,
    CallView,
    ClassifyIn,
)
from kotapintar.intake.submit import submit_report


def _call_view(uow: UnitOfWork, call: Call, actor: Actor) -> CallView:
    ticket = None
    if call.case_id is not None:
        status = uow.repo(CaseRepository).status_of(call.case_id)
        ticket = status[1] if status else None
    return CallView(
        id=call.id,
        received_at=call.received_at,
        answered_at=call.answered_at,
        classified_at=call.classified_at,
        caller_number=call.caller_number if actor.can(Permission.VIEW_REPORTER_PII) else None,
        lon=call.lon,
        lat=call.lat,
        location_text=call.location_text,
        region_code=call.region_code,
        service_code=call.service_code,
        answers=dict(call.answers or {}),
        priority=call.priority,
        classification=call.classification,
        case_id=call.case_id,
        ticket=ticket,
    )


def receive_call(db: Database, actor: Actor, call: CallIn) -> CallView:
    """A call rings (and, from the console, is picked up at once): the clock starts."""
    actor.require(Permission.DISPATCH_UNITS)
    now = utcnow()
    received = call.received_at or now
    if received.tzinfo is None:
        raise ValidationFailed("received_at perlu zona waktu.", field="received_at")
    if call.client_key:
        with db.reading() as uow:
            # A retried "new call" (double submit, lost answer): the call the key opened, not a second one.
            known = uow.repo(DispatchRepository).call_by_client_key(call.client_key)
            if known is not None:
                return _call_view(uow, known, actor)
    try:
        with db.transaction() as uow:
            row = uow.repo(DispatchRepository).insert_call(
                Call(
                    received_at=received,
                    answered_at=max(now, received) if call.answered else None,
                    caller_number=call.caller_number,
                    answers={},
                    operator=actor.name,
                    client_key=call.client_key,
                )
            )
            return _call_view(uow, row, actor)
    except IntegrityError:
        if not call.client_key:
            raise
    # Two retries raced: the other one stored the key first; answer its call.
    with db.reading() as uow:
        known = uow.repo(DispatchRepository).call_by_client_key(call.client_key)
        if known is None:  # pragma: no cover - the unique key was taken by a row we cannot see
            raise Conflict("Panggilan sedang disimpan; coba lagi.", code="call_key_busy")
        return _call_view(uow, known, actor)


def answer_call(db: Database, actor: Actor, call_id: int, at: datetime | None = None) -> CallView:
    """The call-taker picks up a ringing call."""
    actor.require(Permission.DISPATCH_UNITS)
    with db.transaction() as uow:
        call = uow.repo(DispatchRepository).get_call(call_id, for_update=True)
        if call is None:
            raise NotFound(f"Panggilan {call_id} tidak ada.", code="unknown_call")
        if call.answered_at is not None:
            raise Conflict("Panggilan ini sudah dijawab.", code="call_already_answered")
        call.answered_at = at or utcnow()
        return _call_view(uow, call, actor)


def get_call(db: Database, actor: Actor, call_id: int) -> CallView:
    """One call."""
    actor.require(Permission.DISPATCH_UNITS)
    with db.reading() as uow:
        call = uow.repo(DispatchRepository).get_call(call_id)
        if call is None:
            raise NotFound(f"Panggilan {call_id} tidak ada.", code="unknown_call")
        return _call_view(uow, call, actor)


def recent_calls(db: Database, actor: Actor, limit: int = 50) -> list[CallView]:
    """The newest calls, for the console's list."""
    actor.require(Permission.DISPATCH_UNITS)
    with db.reading() as uow:
        return [_call_view(uow, c, actor) for c in uow.repo(DispatchRepository).recent_calls(limit)]


def call_counts(db: Database, actor: Actor, since: datetime | None = None) -> dict[str, int]:
    """How many calls of each classification (every call is counted, genuine or not)."""
    actor.require(Permission.DISPATCH_UNITS)
    with db.reading() as uow:
        counts = uow.repo(DispatchRepository).calls_by_classification(since)
    counts["total"] = sum(counts.values())
    return counts


def protocol_cards() -> dict[str, dict[str, Any]]:
    """Every protocol card, JSON-ready, keyed by service code."""
    return {k: v.to_dict() for k, v in load_protocols().items()}


def _card(service_code: str) -> ProtocolCard | None:
    return load_protocols().get(service_code)


def _locate(uow: UnitOfWork, body: ClassifyIn) -> tuple[float | None, float | None]:
    if body.lon is not None and body.lat is not None:
        return body.lon, body.lat
    if body.region_code:
        region = uow.repo(RegionRepository).get(body.region_code)
        if region is None:
            raise ValidationFailed(f"Wilayah {body.region_code} tidak dikenal.", field="region_code")
        return region.label_lon, region.label_lat
    return None, None


def _keep_draft(db: Database, call_id: int, body: ClassifyIn, caller: str | None) -> None:
    """What the call-taker found out so far stays on the (still unclassified) call, to be resumed later."""
    card = _card(body.service_code) if body.service_code else None
    with db.transaction() as uow:
        row = uow.repo(DispatchRepository).get_call(call_id, for_update=True)
        if row is None or row.classification is not None:
            return
        row.caller_number = caller
        row.service_code = body.service_code
        row.location_text = body.location_text
        row.answers = card.clean_answers(body.answers) if card is not None else {}
        row.notes = body.description


def _refuse_another_answer(call: Call, body: ClassifyIn) -> None:
    """A classified call answers a retry of the same save; a different classification is refused."""
    same = call.classification == body.classification and (
        body.classification != "genuine" or call.case_id is not None
    )
    if not same:
        raise Conflict(
            f"Panggilan ini sudah diklasifikasikan ({call.classification}).",
            code="call_already_classified",
        )


def classify_call(
    db: Database, actor: Actor, call_id: int, body: ClassifyIn, *, settings: Settings | None = None
) -> CallView:
    """Close the call-taking: genuine calls open (or join) a case, duplicates join the named active incident,
    prank / ghost / information calls are only counted.
    """
    actor.require(Permission.DISPATCH_UNITS)
    settings = settings or get_settings()
    with db.reading() as uow:
        call = uow.repo(DispatchRepository).get_call(call_id)
        if call is None:
            raise NotFound(f"Panggilan {call_id} tidak ada.", code="unknown_call")
        if call.classification is not None:
            _refuse_another_answer(call, body)
            # A retried save (double submit, network retry): one call, one case, the same answer.
            return _call_view(uow, call, actor)
        lon, lat = _locate(uow, body)
        caller = body.caller_number or call.caller_number
    now = utcnow()
    answers: dict[str, Any] = {}
    priority: Priority | None = None
    case_id: int | None = None
    duplicate = body.classification == "duplicate"
    if body.classification == "genuine":
        if not body.service_code:
            raise ValidationFailed("Jenis kejadian wajib dipilih untuk panggilan asli.", field="service_code")
        if lon is None:
            # A place the dispatcher can send units to: a point on the map or a desa. Until then the call
            # stays a call (it can be classified later); a case at an unknown place would be a P1 nobody finds.
            _keep_draft(db, call_id, body, caller)
            raise ValidationFailed(
                "Lokasi kejadian belum ditentukan: pilih titik di peta atau cari desanya. Panggilan tetap "
                "tercatat dan dapat dilanjutkan.",
                field="location",
                code="location_required",
            )
        card = _card(body.service_code)
        if card is not None:
            answers = card.clean_answers(body.answers)
            priority = card.priority_for(answers)
        description = body.description or (
            (card.label if card else body.service_code)
            + " — laporan panggilan 112"
            + (f" ({body.location_text})" if body.location_text else "")
        )
        result = submit_report(
            db,
            actor,
            ReportIn(
                service_code=body.service_code,
                description=description if len(description) >= 3 else "Panggilan 112",
                lon=lon,
                lat=lat,
                address=body.location_text,
                channel="call112",
                reporter=ReporterIn(phone=caller) if caller else None,
                attributes={"call_id": call_id, "protocol": answers},
                client_ref=f"call112:{call_id}",
                priority=priority.value if priority else None,
            ),
            settings=settings,
        )
        case_id = result.case_id
        duplicate = result.merged_into is not None
    elif duplicate:
        if body.duplicate_of is None:
            raise ValidationFailed("Pilih kejadian aktif yang diulang panggilan ini.", field="duplicate_of")
        case_id = body.duplicate_of
    with db.transaction() as uow:
        row = uow.repo(DispatchRepository).get_call(call_id, for_update=True)
        assert row is not None
        if row.classification is not None:
            if row.classification == body.classification and row.case_id == case_id:
                # Two copies of the same save raced past the first check: the first one won, same answer.
                return _call_view(uow, row, actor)
            raise Conflict("Panggilan ini sudah diklasifikasikan.", code="call_already_classified")
        if duplicate and case_id is not None:
            case = uow.repo(CaseRepository).get(case_id, for_update=True)
            if case is None or not CaseStatus(case.status).is_open:
                raise ValidationFailed("Kejadian yang dirujuk tidak aktif.", field="duplicate_of")
        row.classification = body.classification
        row.caller_number = caller
        row.classified_at = now
        row.service_code = body.service_code
        row.lon, row.lat = lon, lat
        row.location_text = body.location_text
        row.region_code = body.region_code
        row.answers = answers
        row.priority = priority.value if priority else None
        row.notes = body.description
        row.case_id = case_id
        if case_id is not None:
            stream = case_stream(case_id)
            common = {"call_id": call_id, "duplicate": duplicate}
            uow.events.append(
                stream=stream,
                case_id=case_id,
                type=EventType.CALL_RECEIVED,
                actor=actor.name,
                at=row.received_at,
                payload={**common, "classification": body.classification},
            )
            if row.answered_at is not None:
                uow.events.append(
                    stream=stream,
                    case_id=case_id,
                    type=EventType.CALL_ANSWERED,
                    actor=actor.name,
                    at=row.answered_at,
                    payload={**common, "protocol": answers, "priority": row.priority},
                )
        return _call_view(uow, row, actor)


def nearby_active_cases(
    db: Database, actor: Actor, lon: float, lat: float, radius_m: float = 1000.0
) -> list[dict[str, Any]]:
    """Open cases within `radius_m` of a point, nearest first: the duplicates a call-taker should see."""
    actor.require(Permission.DISPATCH_UNITS)
    dlat = radius_m / 111_320.0
    dlon = dlat / max(0.1, abs(math.cos(math.radians(lat))))
    with db.reading() as uow:
        rows = uow.repo(DispatchRepository).open_cases_in_box(
            lon - dlon, lat - dlat, lon + dlon, lat + dlat, limit=50
        )
        out = []
        for c in rows:
            assert c.lon is not None and c.lat is not None
            d = float(haversine_m(lon, lat, c.lon, c.lat))
            if d <= radius_m:
                out.append(
                    {
                        "case_id": c.id,
                        "ticket": c.ticket,
                        "service": c.service_code,
                        "title": c.title,
                        "priority": c.priority,
                        "status": c.status,
                        "lon": c.lon,
                        "lat": c.lat,
                        "distance_m": round(d),
                        "created_at": c.created_at.isoformat(),
                    }
                )
    return sorted(out, key=lambda r: r["distance_m"])


def console_reference(db: Database, actor: Actor, settings: Settings) -> dict[str, Any]:
    """What the call-taker console lists: incident types with protocol cards and the desa to search."""
    actor.require(Permission.DISPATCH_UNITS)
    cards = load_protocols()
    with db.reading() as uow:
        names = {s.code: s.name for s in uow.repo(ServiceRepository).all()}
        desa = [
            {"code": r.code, "name": r.name, "lon": r.label_lon, "lat": r.label_lat}
            for r in uow.repo(RegionRepository).all(level="desa", parent_prefix=settings.region_code)
            if r.label_lon is not None and r.label_lat is not None
        ]
    return {
        "types": [
            {"code": code, "name": names.get(code, card.label), "card": card} for code, card in cards.items()
        ],
        "desa": desa,
    }
