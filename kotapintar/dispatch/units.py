"""Units and their crews: status changes (each an event), positions from AVL, crew tokens, the unit board."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from kotapintar.cases.repository import CaseRepository
from kotapintar.catalog.models import Unit
from kotapintar.catalog.repository import UnitRepository
from kotapintar.core.access.actors import Actor
from kotapintar.core.access.roles import Permission, Role
from kotapintar.core.db.database import Database
from kotapintar.core.db.uow import UnitOfWork
from kotapintar.core.errors import Conflict, DomainError, NotFound, PermissionDenied, ValidationFailed
from kotapintar.core.events.repository import case_stream
from kotapintar.core.events.types import utcnow
from kotapintar.core.settings import Settings, get_settings
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
from kotapintar.dispatch.engine.unitstatus import UnitStatusMachine, load_unit_status
from kotapintar.dispatch.models import UnitStatusLog
from kotapintar.dispatch.repository import DispatchRepository
from kotapintar.dispatch.schemas import (
    AvlOutcome,
    UnitView,
)
from kotapintar.sop.runtime import advance_on_unit_status

UNIT_ACTOR_PREFIX = "unit:"


def unit_stream(code: str) -> str:
    """The stream of a unit's log while it is on no case."""
    return f"unit:{code}"


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
    # The agency's own staff work its units' crew pages: officers, and the liaisons of outside bodies.
    return (
        actor.kind == "user"
        and actor.agency_code == unit.agency_code
        and bool({Role.AGENCY_OFFICER, Role.LIAISON} & set(actor.roles))
    )


def _require_unit(actor: Actor, unit: Unit) -> None:
    if not _may_work_unit(actor, unit):
        raise PermissionDenied(
            f"Anda tidak boleh mengubah unit {unit.code} / you may not update this unit.",
            code="permission_denied",
        )


def _unit_view(uow: UnitOfWork, unit: Unit, machine: UnitStatusMachine) -> UnitView:
    assignment = uow.repo(DispatchRepository).open_assignment(unit.code)
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
            for u in uow.repo(DispatchRepository).units()
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
        history = uow.repo(DispatchRepository).status_history(code, 20)
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
        uow.repo(DispatchRepository).bump_counter(name, reason, utcnow())


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
            repo = uow.repo(DispatchRepository)
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
            if case_id is not None:
                # The case's SOP completes the steps waiting for this status (unit departed, arrived, cleared).
                reached = "cleared" if assignment is not None and assignment.cleared_at == at else status
                sent = (uow.repo(UnitRepository).get(a.unit_code) for a in repo.assignments_of_case(case_id))
                advance_on_unit_status(
                    uow,
                    actor.name,
                    case_id,
                    code,
                    reached,
                    at,
                    unit_agency=unit.agency_code,
                    agencies_on_case=frozenset(u.agency_code for u in sent if u is not None),
                )
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
            unit = uow.repo(DispatchRepository).unit_for_update(code)
            if unit is None:
                raise AvlRejected(REASON_UNKNOWN_UNIT, f"unit {code!r} tidak terdaftar")
            _require_unit(actor, unit)
            judge_fix(fix.at, unit.position_at, now, settings.avl_stale_s)
            unit.lon, unit.lat, unit.position_at = fix.lon, fix.lat, fix.at
            uow.repo(DispatchRepository).bump_counter(f"avl.accepted.{source}", None, now)
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
        return uow.repo(DispatchRepository).counters()


def reset_units(db: Database, actor: Actor) -> int:
    """Put every unit back at its base, available (demo and test resets); returns how many."""
    actor.require(Permission.MANAGE_CATALOGUE)
    with db.transaction() as uow:
        return uow.repo(DispatchRepository).reset_units(utcnow())
