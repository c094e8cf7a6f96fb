"""Emergency dispatch commands: 112 calls, recommendation, dispatch, unit status, positions (AVL), segments.

Every command checks the actor, runs in one transaction and appends its events there. A genuine call
opens its case through `submit_report` (channel call112, its own transaction, idempotent per call), then
links the call and writes the call's events into the case stream in a second transaction.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from shapely.geometry import shape

from kotapintar.cases.lifecycle import CaseStatus, Priority
from kotapintar.cases.repository import CaseRepository
from kotapintar.cases.schemas import ReporterIn, ReportIn
from kotapintar.catalog.models import Unit
from kotapintar.catalog.repository import RegionRepository, ServiceRepository, UnitRepository
from kotapintar.core.access.actors import Actor
from kotapintar.core.access.roles import Permission, Role
from kotapintar.core.db.database import Database
from kotapintar.core.db.uow import UnitOfWork
from kotapintar.core.errors import Conflict, DomainError, NotFound, PermissionDenied, ValidationFailed
from kotapintar.core.events.repository import case_stream
from kotapintar.core.events.types import EventType, utcnow
from kotapintar.core.settings import Settings, get_settings
from kotapintar.dispatch.engine import (
    METHOD_STRAIGHT,
    RoadNetwork,
    compute_coverage,
    haversine_m,
    load_network,
    recommend_units,
)
from kotapintar.dispatch.engine.avl import (
    MAX_CLOCK_AHEAD,
    REASON_MALFORMED,
    REASON_OUT_OF_ORDER,
    REASON_UNKNOWN_UNIT,
    AvlRejected,
    judge_fix,
    parse_position,
    parse_time,
)
from kotapintar.dispatch.engine.protocols import ProtocolCard, load_protocols
from kotapintar.dispatch.engine.recommend import Recommendation, UnitPosition
from kotapintar.dispatch.engine.runcards import load_runcards
from kotapintar.dispatch.engine.unitstatus import UnitStatusMachine, load_unit_status
from kotapintar.dispatch.models import Call, UnitAssignment, UnitStatusLog
from kotapintar.dispatch.repository import DispatchRepository
from kotapintar.dispatch.schemas import (
    AvlOutcome,
    CallIn,
    CallView,
    ClassifyIn,
    DispatchIn,
    DispatchResult,
    UnitView,
)
from kotapintar.intake.submit import submit_report
from kotapintar.metrics.response_times import (
    Incident,
    IncidentSegments,
    TimelineEvent,
    aggregate,
    load_targets,
    segments_of,
)

log = logging.getLogger(__name__)
UNIT_ACTOR_PREFIX = "unit:"


def unit_stream(code: str) -> str:
    """The stream of a unit's log while it is on no case."""
    return f"unit:{code}"


def _repo(uow: UnitOfWork) -> DispatchRepository:
    return DispatchRepository(uow.session)


# ====================================================================== who may do what


def unit_token(settings: Settings, code: str) -> str:
    """The field-crew token of a unit: an HMAC of its code (rotate `unit_token_secret` to revoke all)."""
    secret = (settings.unit_token_secret or settings.secret_key).encode()
    return hmac.new(secret, f"unit-token:{code}".encode(), hashlib.sha256).hexdigest()[:32]


def unit_actor(code: str, agency_code: str | None) -> Actor:
    """The crew of one unit acting through its token (crew page) or its MQTT topic."""
    return Actor(kind="client", name=f"{UNIT_ACTOR_PREFIX}{code}", agency_code=agency_code)


def actor_for_unit_token(db: Database, settings: Settings, code: str, token: str) -> Actor:
    """The crew actor of `code` when `token` is its token; PermissionDenied otherwise."""
    if not token or not hmac.compare_digest(token, unit_token(settings, code)):
        raise PermissionDenied("Token unit tidak valid / invalid unit token.", code="invalid_unit_token")
    with db.reading() as uow:
        unit = uow.repo(UnitRepository).get(code)
    if unit is None:
        raise NotFound(f"Unit {code} tidak terdaftar.", code="unknown_unit")
    return unit_actor(code, unit.agency_code)


def _may_work_unit(actor: Actor, unit: Unit) -> bool:
    if actor.can(Permission.DISPATCH_UNITS):
        return True
    if actor.name == f"{UNIT_ACTOR_PREFIX}{unit.code}":
        return True
    return (
        actor.kind == "user" and actor.agency_code == unit.agency_code and Role.AGENCY_OFFICER in actor.roles
    )


def _require_unit(actor: Actor, unit: Unit) -> None:
    if not _may_work_unit(actor, unit):
        raise PermissionDenied(
            f"Anda tidak boleh mengubah unit {unit.code} / you may not update this unit.",
            code="permission_denied",
        )


# ====================================================================== calls


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
    with db.transaction() as uow:
        row = _repo(uow).insert_call(
            Call(
                received_at=received,
                answered_at=max(now, received) if call.answered else None,
                caller_number=call.caller_number,
                answers={},
                operator=actor.name,
            )
        )
        return _call_view(uow, row, actor)


def answer_call(db: Database, actor: Actor, call_id: int, at: datetime | None = None) -> CallView:
    """The call-taker picks up a ringing call."""
    actor.require(Permission.DISPATCH_UNITS)
    with db.transaction() as uow:
        call = _repo(uow).get_call(call_id, for_update=True)
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
        call = _repo(uow).get_call(call_id)
        if call is None:
            raise NotFound(f"Panggilan {call_id} tidak ada.", code="unknown_call")
        return _call_view(uow, call, actor)


def recent_calls(db: Database, actor: Actor, limit: int = 50) -> list[CallView]:
    """The newest calls, for the console's list."""
    actor.require(Permission.DISPATCH_UNITS)
    with db.reading() as uow:
        return [_call_view(uow, c, actor) for c in _repo(uow).recent_calls(limit)]


def call_counts(db: Database, actor: Actor, since: datetime | None = None) -> dict[str, int]:
    """How many calls of each classification (every call is counted, genuine or not)."""
    actor.require(Permission.DISPATCH_UNITS)
    with db.reading() as uow:
        counts = _repo(uow).calls_by_classification(since)
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


def classify_call(
    db: Database, actor: Actor, call_id: int, body: ClassifyIn, *, settings: Settings | None = None
) -> CallView:
    """Close the call-taking: genuine calls open (or join) a case, duplicates join the named active incident,
    prank / ghost / information calls are only counted.
    """
    actor.require(Permission.DISPATCH_UNITS)
    settings = settings or get_settings()
    with db.reading() as uow:
        call = _repo(uow).get_call(call_id)
        if call is None:
            raise NotFound(f"Panggilan {call_id} tidak ada.", code="unknown_call")
        if call.classification is not None:
            raise Conflict(
                f"Panggilan ini sudah diklasifikasikan ({call.classification}).",
                code="call_already_classified",
            )
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
        if lon is None and not body.location_text:
            raise ValidationFailed(
                "Lokasi kejadian wajib diisi (titik peta, desa atau keterangan).", field="location"
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
        row = _repo(uow).get_call(call_id, for_update=True)
        assert row is not None
        if row.classification is not None:
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
        rows = _repo(uow).open_cases_in_box(lon - dlon, lat - dlat, lon + dlon, lat + dlat, limit=50)
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


# ====================================================================== recommendation and dispatch


def _network(settings: Settings) -> RoadNetwork | None:
    if settings.road_network_path is None:
        return None
    try:
        return load_network(settings.road_network_path)
    except DomainError:
        log.exception(
            "road network %s unusable; falling back to straight-line estimates", settings.road_network_path
        )
        return None


def _positions(units: Sequence[Unit]) -> list[UnitPosition]:
    out = []
    for u in units:
        lon = u.lon if u.lon is not None else u.base_lon
        lat = u.lat if u.lat is not None else u.base_lat
        if lon is None or lat is None:
            continue
        out.append(
            UnitPosition(
                id=u.code,
                kind=u.kind,
                agency=u.agency_code,
                lon=lon,
                lat=lat,
                status=u.status,
                mutual_aid=u.mutual_aid,
            )
        )
    return out


def _case_answers(uow: UnitOfWork, case_id: int) -> dict[str, Any]:
    for call in _repo(uow).calls_of_case(case_id):
        if call.answers:
            return dict(call.answers)
    return {}


def _recommendation(uow: UnitOfWork, case_id: int, settings: Settings) -> tuple[Recommendation, Any]:
    case = uow.repo(CaseRepository).get(case_id)
    if case is None:
        raise NotFound(f"Kasus {case_id} tidak ada.", code="not_found")
    if case.lon is None or case.lat is None:
        raise ValidationFailed(
            "Kasus belum punya titik lokasi; tentukan lokasi dulu.", code="case_without_location"
        )
    card = load_runcards().select(case.service_code, case.priority, _case_answers(uow, case_id))
    units = _positions(_repo(uow).units())
    rec = recommend_units(_network(settings), (case.lon, case.lat), units, card)
    return rec, case


def recommend_for_case(
    db: Database, actor: Actor, case_id: int, *, settings: Settings | None = None
) -> dict[str, Any]:
    """The recommended units for a case: per needed kind, ranked by estimated travel time, explained.

    Uses the units' live positions and statuses and the configured road network; without one the ETAs
    are straight-line estimates, labelled so (`method: straight_line`, `estimate_label`).
    """
    actor.require(Permission.DISPATCH_UNITS)
    settings = settings or get_settings()
    with db.reading() as uow:
        rec, case = _recommendation(uow, case_id, settings)
        names = {u.code: u.name for u in _repo(uow).units()}
    out = rec.to_dict()
    out["case_id"] = case.id
    out["ticket"] = case.ticket
    out["selected"] = rec.selected_unit_ids()
    out["notices"] = rec.notices
    out["unit_names"] = {
        k: v
        for k, v in names.items()
        if any(k == c["unit_id"] for part in out["kinds"] for c in (*part["candidates"], *part["mutual_aid"]))
    }
    out["estimate_label"] = (
        "Perkiraan garis lurus × faktor belokan (tanpa jaringan jalan) / straight-line estimate"
        if rec.method == METHOD_STRAIGHT
        else "Waktu tempuh lewat jaringan jalan / road-network travel time"
    )
    return out


def dispatch_units(
    db: Database, actor: Actor, case_id: int, body: DispatchIn, *, settings: Settings | None = None
) -> DispatchResult:
    """Send units to a case in one action: the recommended ones, or a chosen list with a reason (recorded)."""
    actor.require(Permission.DISPATCH_UNITS)
    settings = settings or get_settings()
    machine = load_unit_status()
    now = utcnow()
    with db.transaction() as uow:
        rec, case = _recommendation(uow, case_id, settings)
        recommended = rec.selected_unit_ids()
        chosen = list(dict.fromkeys(body.units)) if body.units else recommended
        if not chosen:
            raise Conflict("Tidak ada unit yang tersedia untuk dikirim.", code="no_units_available")
        overridden = set(chosen) != set(recommended)
        reason = (body.override_reason or "").strip()
        if overridden and len(reason) < 3:
            raise ValidationFailed(
                "Pilihan unit berbeda dari rekomendasi: alasan wajib diisi.",
                code="override_reason_required",
                field="override_reason",
            )
        by_unit = {c.unit_id: c for k in rec.kinds for c in (*k.candidates, *k.mutual_aid)}
        repo = _repo(uow)
        for code in chosen:
            unit = repo.unit_for_update(code)
            if unit is None:
                raise NotFound(f"Unit {code} tidak terdaftar.", code="unknown_unit")
            machine.check(unit.status, "dispatched")
            if repo.open_assignment(code) is not None:
                raise Conflict(f"Unit {code} masih bertugas di kasus lain.", code="unit_busy")
            cand = by_unit.get(code)
            previous = unit.status
            unit.status = "dispatched"
            unit.updated_at = now
            repo.insert_assignment(
                UnitAssignment(
                    unit_code=code,
                    case_id=case.id,
                    kind=unit.kind,
                    dispatched_at=now,
                    dispatched_by=actor.name,
                    eta_s=cand.eta_s if cand else None,
                    method=cand.method if cand else None,
                    override_reason=reason if overridden else None,
                )
            )
            repo.insert_status(
                UnitStatusLog(
                    unit_code=code,
                    status="dispatched",
                    previous=previous,
                    at=now,
                    lon=unit.lon,
                    lat=unit.lat,
                    case_id=case.id,
                    source="dispatch",
                )
            )
            uow.events.append(
                stream=case_stream(case.id),
                case_id=case.id,
                type=EventType.UNIT_DISPATCHED,
                actor=actor.name,
                at=now,
                payload={
                    "unit": code,
                    "agency": unit.agency_code,
                    "kind": unit.kind,
                    "from": previous,
                    "to": "dispatched",
                    "lon": unit.lon,
                    "lat": unit.lat,
                    "eta_s": cand.eta_s if cand else None,
                    "method": cand.method if cand else None,
                    "recommended": code in recommended,
                    **({"override_reason": reason} if overridden else {}),
                },
            )
        if overridden:
            uow.events.append(
                stream=case_stream(case.id),
                case_id=case.id,
                type=EventType.NOTE_ADDED,
                actor=actor.name,
                at=now,
                payload={
                    "kind": "dispatch_override",
                    "recommended": recommended,
                    "chosen": chosen,
                    "reason": reason,
                },
            )
    return DispatchResult(
        case_id=case_id, units=chosen, recommended=recommended, overridden=overridden, method=rec.method
    )


# ====================================================================== unit status and positions


def _unit_view(uow: UnitOfWork, unit: Unit, machine: UnitStatusMachine) -> UnitView:
    assignment = _repo(uow).open_assignment(unit.code)
    ticket = None
    if assignment is not None:
        status = uow.repo(CaseRepository).status_of(assignment.case_id)
        ticket = status[1] if status else None
    return UnitView(
        code=unit.code,
        name=unit.name,
        agency_code=unit.agency_code,
        kind=unit.kind,
        status=unit.status,
        status_label=machine.label(unit.status),
        lon=unit.lon,
        lat=unit.lat,
        position_at=unit.position_at,
        base_name=unit.base_name,
        crew=unit.crew,
        mutual_aid=unit.mutual_aid,
        case_id=assignment.case_id if assignment else None,
        ticket=ticket,
    )


def unit_board(db: Database, actor: Actor) -> list[UnitView]:
    """Every unit with its status, position and current case (the status board and the operator map)."""
    if actor.kind == "public":
        actor.require(Permission.DISPATCH_UNITS)
    machine = load_unit_status()
    # Live positions (police patrols among them) are for dispatchers; other staff see their own agency's.
    city_wide = actor.can(Permission.DISPATCH_UNITS) or actor.can(Permission.VIEW_ALL_CASES)
    with db.reading() as uow:
        return [
            _unit_view(uow, u, machine)
            for u in _repo(uow).units()
            if city_wide or (actor.agency_code is not None and u.agency_code == actor.agency_code)
        ]


def unit_detail(db: Database, actor: Actor, code: str) -> dict[str, Any]:
    """One unit, its current assignment (case, location) and recent status history (the crew page)."""
    machine = load_unit_status()
    with db.reading() as uow:
        unit = uow.repo(UnitRepository).get(code)
        if unit is None:
            raise NotFound(f"Unit {code} tidak terdaftar.", code="unknown_unit")
        _require_unit(actor, unit)
        view = _unit_view(uow, unit, machine)
        case = uow.repo(CaseRepository).get(view.case_id) if view.case_id is not None else None
        history = _repo(uow).status_history(code, 20)
        return {
            "unit": view.model_dump(mode="json"),
            "allowed": sorted(machine.transitions.get(unit.status, frozenset()) - {"dispatched"}),
            "case": None
            if case is None
            else {
                "id": case.id,
                "ticket": case.ticket,
                "title": case.title,
                "service": case.service_code,
                "priority": case.priority,
                "lon": case.lon,
                "lat": case.lat,
                "address": case.address,
            },
            "history": [
                {"status": h.status, "previous": h.previous, "at": h.at.isoformat(), "case_id": h.case_id}
                for h in history
            ],
        }


def _count(db: Database, name: str, reason: str | None) -> None:
    with db.transaction() as uow:
        _repo(uow).bump_counter(name, reason, utcnow())


def change_unit_status(
    db: Database,
    actor: Actor,
    code: str,
    status: str,
    *,
    at: datetime | None = None,
    lon: float | None = None,
    lat: float | None = None,
    source: str = "api",
) -> UnitView:
    """Move a unit to a new status (allowed transitions only), logged with time and position as an event
    in the case's stream while the unit is on a case, else in `unit:<code>`. An update older than the
    unit's last change is ignored as out of order (counted) and refused with that reason.
    """
    machine = load_unit_status()
    now = utcnow()
    at = at or now
    if at.tzinfo is None:
        raise ValidationFailed("Waktu status perlu zona waktu.", field="at")
    if status == "dispatched":
        raise ValidationFailed("Penugasan unit dilakukan lewat dispatch kasus.", code="use_dispatch")
    try:
        with db.transaction() as uow:
            repo = _repo(uow)
            unit = repo.unit_for_update(code)
            if unit is None:
                raise NotFound(f"Unit {code} tidak terdaftar.", code="unknown_unit")
            _require_unit(actor, unit)
            last = repo.last_status_at(code)
            if last is not None and at <= last:
                raise AvlRejected(
                    REASON_OUT_OF_ORDER,
                    f"status {status} pada {at.isoformat()} lebih lama dari "
                    f"perubahan terakhir {last.isoformat()}",
                )
            previous = unit.status
            machine.check(previous, status)
            assignment = repo.open_assignment(code)
            event_type = machine.event_for(previous, status)
            fresh = at <= now + MAX_CLOCK_AHEAD and (unit.position_at is None or at >= unit.position_at)
            if lon is not None and lat is not None and fresh:
                unit.lon, unit.lat, unit.position_at = lon, lat, at
            unit.status = status
            unit.updated_at = now
            case_id = assignment.case_id if assignment else None
            repo.insert_status(
                UnitStatusLog(
                    unit_code=code,
                    status=status,
                    previous=previous,
                    at=at,
                    lon=unit.lon,
                    lat=unit.lat,
                    case_id=case_id,
                    source=source,
                )
            )
            uow.events.append(
                stream=case_stream(case_id) if case_id is not None else unit_stream(code),
                case_id=case_id,
                type=event_type,
                actor=actor.name,
                at=at,
                payload={
                    "unit": code,
                    "agency": unit.agency_code,
                    "kind": unit.kind,
                    "from": previous,
                    "to": status,
                    "lon": unit.lon,
                    "lat": unit.lat,
                    "source": source,
                },
            )
            if assignment is not None and machine.ends_assignment(previous, status):
                assignment.cleared_at = at
            repo.bump_counter("status.accepted", None, now)
            return _unit_view(uow, unit, machine)
    except AvlRejected as exc:
        _count(db, f"status.rejected.{exc.reason}", exc.message)
        raise Conflict(f"Pembaruan status diabaikan: {exc.message}.", code=exc.reason) from exc
    except DomainError as exc:
        if exc.code in ("illegal_unit_transition", "unknown_unit_status", "unknown_unit"):
            _count(db, f"status.rejected.{exc.code}", exc.message)
        raise


def record_position(
    db: Database,
    actor: Actor,
    code: str,
    payload: bytes | str | Mapping[str, Any],
    *,
    source: str = "http",
    settings: Settings | None = None,
    default_now: bool = False,
) -> AvlOutcome:
    """Apply one position fix of a unit (AVL), or reject it with a reason; either way it is counted.

    Rejected: malformed messages, unknown units, fixes from the future, older than `avl_stale_s`, or not
    newer than the unit's last fix (out of order). `default_now` stamps a fix without time (crew page).
    """
    settings = settings or get_settings()
    now = utcnow()
    try:
        fix = parse_position(payload, now=now if default_now else None)
        with db.transaction() as uow:
            unit = _repo(uow).unit_for_update(code)
            if unit is None:
                raise AvlRejected(REASON_UNKNOWN_UNIT, f"unit {code!r} tidak terdaftar")
            _require_unit(actor, unit)
            judge_fix(fix.at, unit.position_at, now, settings.avl_stale_s)
            unit.lon, unit.lat, unit.position_at = fix.lon, fix.lat, fix.at
            _repo(uow).bump_counter(f"avl.accepted.{source}", None, now)
        return AvlOutcome(accepted=True, unit=code)
    except AvlRejected as exc:
        _count(db, f"avl.rejected.{exc.reason}", f"{code}: {exc.message}")
        return AvlOutcome(accepted=False, unit=code, reason=exc.reason, message=exc.message)


def handle_unit_message(
    db: Database, topic: str, payload: bytes, *, settings: Settings | None = None
) -> AvlOutcome:
    """Handle one MQTT message on `<prefix>/<code>/position` or `<prefix>/<code>/status`.

    The broker authenticates publishers (per-unit ACLs on its topic); the message acts as the unit's crew.
    """
    settings = settings or get_settings()
    prefix = settings.mqtt_units_topic.strip("/") + "/"
    rest = topic[len(prefix) :] if topic.startswith(prefix) else ""
    parts = rest.split("/")
    if len(parts) != 2 or not parts[0] or parts[1] not in ("position", "status"):
        _count(db, f"avl.rejected.{REASON_MALFORMED}", f"topik {topic!r}")
        return AvlOutcome(
            accepted=False,
            unit=None,
            reason=REASON_MALFORMED,
            message=f"topik {topic!r} bukan {prefix}<unit>/position|status",
        )
    code, what = parts
    with db.reading() as uow:
        unit = uow.repo(UnitRepository).get(code)
        agency = unit.agency_code if unit else None
    if unit is None:
        _count(db, f"avl.rejected.{REASON_UNKNOWN_UNIT}", f"{code}: tidak terdaftar")
        return AvlOutcome(
            accepted=False, unit=code, reason=REASON_UNKNOWN_UNIT, message=f"unit {code!r} tidak terdaftar"
        )
    actor = unit_actor(code, agency)
    if what == "position":
        return record_position(db, actor, code, payload, source="mqtt", settings=settings)
    return _status_message(db, actor, code, payload)


def _status_message(db: Database, actor: Actor, code: str, payload: bytes) -> AvlOutcome:
    try:
        doc = json.loads(payload)
        if not isinstance(doc, dict) or not isinstance(doc.get("status"), str):
            raise AvlRejected(REASON_MALFORMED, 'pesan status harus {"status": ..., "at": ...}')
        at = parse_time(doc.get("at") or doc.get("dateObserved"))
        lon, lat = doc.get("lon"), doc.get("lat")
        position = (
            (float(lon), float(lat))
            if isinstance(lon, int | float) and isinstance(lat, int | float)
            else None
        )
    except (ValueError, UnicodeDecodeError, AvlRejected) as exc:
        message = exc.message if isinstance(exc, AvlRejected) else "pesan bukan JSON yang valid"
        _count(db, f"status.rejected.{REASON_MALFORMED}", f"{code}: {message}")
        return AvlOutcome(accepted=False, unit=code, reason=REASON_MALFORMED, message=message)
    try:
        change_unit_status(
            db,
            actor,
            code,
            doc["status"],
            at=at,
            lon=position[0] if position else None,
            lat=position[1] if position else None,
            source="mqtt",
        )
    except DomainError as exc:
        return AvlOutcome(accepted=False, unit=code, reason=exc.code, message=exc.message)
    return AvlOutcome(accepted=True, unit=code)


def ingest_counters(db: Database, actor: Actor) -> dict[str, int]:
    """The AVL / status ingest counters (accepted and rejected per reason)."""
    actor.require(Permission.DISPATCH_UNITS)
    with db.reading() as uow:
        return _repo(uow).counters()


def reset_units(db: Database, actor: Actor) -> int:
    """Put every unit back at its base, available (demo and test resets); returns how many."""
    actor.require(Permission.MANAGE_CATALOGUE)
    with db.transaction() as uow:
        return _repo(uow).reset_units(utcnow())


# ====================================================================== coverage


def coverage_geojson(
    db: Database,
    actor: Actor,
    target_min: float,
    *,
    kind: str | None = None,
    settings: Settings | None = None,
) -> dict[str, Any]:
    """Areas reachable within `target_min` minutes from the available units (of `kind`), plus uncovered regions.

    The first feature is the covered area (properties: target_s, method, …); each further feature is one
    uncovered desa (or kecamatan, when the city has no desa boundaries loaded) with its boundary.
    """
    actor.require(Permission.DISPATCH_UNITS)
    settings = settings or get_settings()
    with db.reading() as uow:
        units = _positions(_repo(uow).units())
        level = "desa"
        desa = _repo(uow).region_geometries(settings.region_code, level)
        if not desa:  # a city loaded without desa boundaries (the demo) is judged per kecamatan
            level = "kecamatan"
            desa = _repo(uow).region_geometries(settings.region_code, level)
    regions = {code: shape(geom) for code, _, geom in desa}
    names = {code: name for code, name, _ in desa}
    geometries = {code: geom for code, _, geom in desa}
    result = compute_coverage(_network(settings), units, target_min * 60.0, kind=kind, regions=regions)
    covered = result.to_geojson()
    covered["properties"]["kind"] = kind
    features = [covered] + [
        {
            "type": "Feature",
            "geometry": geometries[c],
            "properties": {"uncovered": True, "code": c, "name": names.get(c, c), "level": level},
        }
        for c in result.uncovered
    ]
    return {
        "type": "FeatureCollection",
        "features": features,
        "target_min": target_min,
        "method": result.method,
        "level": level,
        "uncovered": [{"code": c, "name": names.get(c, c)} for c in result.uncovered],
    }


# ====================================================================== response-time segments


def _incidents(uow: UnitOfWork, cases: Sequence[Any]) -> list[Incident]:
    events = _repo(uow).timeline_events([c.id for c in cases])
    by_case: dict[int, list[TimelineEvent]] = {}
    for e in events:
        assert e.case_id is not None
        by_case.setdefault(e.case_id, []).append(
            TimelineEvent(type=e.type, at=e.occurred_at, payload=dict(e.payload or {}))
        )
    return [
        Incident(
            case_id=c.id,
            service=c.service_code,
            agency=c.agency_code,
            kecamatan=c.kecamatan_code,
            events=by_case.get(c.id, []),
        )
        for c in cases
    ]


def case_segments(db: Database, actor: Actor, case_id: int) -> IncidentSegments:
    """The response-time segments of one case, against their targets."""
    with db.reading() as uow:
        case = uow.repo(CaseRepository).get(case_id)
        if case is None or (
            not actor.can(Permission.VIEW_ALL_CASES) and actor.agency_code != case.agency_code
        ):
            raise NotFound(f"Kasus {case_id} tidak ada.", code="not_found")
        incident = _incidents(uow, [case])[0]
    return segments_of(incident, load_targets())


def segments_summary(
    db: Database,
    actor: Actor,
    *,
    by: str = "service",
    period: str = "month",
    since: datetime | None = None,
    until: datetime | None = None,
    settings: Settings | None = None,
) -> dict[str, Any]:
    """Mean and 90th percentile of each segment by agency, kecamatan, incident type or period, vs targets."""
    actor.require(Permission.VIEW_ALL_CASES)
    settings = settings or get_settings()
    if by not in ("agency", "kecamatan", "service", "period") or period not in ("day", "week", "month"):
        raise ValidationFailed("by: agency|kecamatan|service|period; period: day|week|month.", field="by")
    targets = load_targets()
    with db.reading() as uow:
        incidents = _incidents(uow, _repo(uow).dispatch_cases(since, until))
    rows = [segments_of(i, targets) for i in incidents]
    return {
        "by": by,
        "period": period,
        "statistics": "mean (ISO 37120) and 90th percentile (NFPA/NENA), seconds",
        "groups": aggregate(rows, by, period=period, tz=settings.timezone, targets=targets),
    }


# ====================================================================== pages


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


def case_dispatch_view(db: Database, actor: Actor, case_id: int) -> dict[str, Any]:
    """One case's dispatch picture: the case, its calls (no caller numbers), units sent, and segments."""
    segments = case_segments(db, actor, case_id)
    with db.reading() as uow:
        case = uow.repo(CaseRepository).get(case_id)
        assert case is not None
        repo = _repo(uow)
        assignments = [
            {
                "unit": a.unit_code,
                "kind": a.kind,
                "dispatched_at": a.dispatched_at,
                "cleared_at": a.cleared_at,
                "eta_s": a.eta_s,
                "method": a.method,
                "override_reason": a.override_reason,
            }
            for a in repo.assignments_of_case(case_id)
        ]
        calls = [
            {
                "id": c.id,
                "received_at": c.received_at,
                "classification": c.classification,
                "priority": c.priority,
            }
            for c in repo.calls_of_case(case_id)
        ]
        info = {
            "id": case.id,
            "ticket": case.ticket,
            "title": case.title,
            "service": case.service_code,
            "priority": case.priority,
            "status": case.status,
            "lon": case.lon,
            "lat": case.lat,
            "address": case.address,
            "created_at": case.created_at,
        }
    return {"case": info, "assignments": assignments, "calls": calls, "segments": segments.to_dict()}
