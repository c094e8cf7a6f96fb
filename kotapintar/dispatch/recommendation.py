"""Which units to send: road-time recommendation for a case, the dispatch command, coverage."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from shapely.geometry import shape

from kotapintar.cases.repository import CaseRepository
from kotapintar.catalog.models import Unit
from kotapintar.core.access.actors import Actor
from kotapintar.core.access.roles import Permission
from kotapintar.core.db.database import Database
from kotapintar.core.db.uow import UnitOfWork
from kotapintar.core.errors import Conflict, DomainError, NotFound, ValidationFailed
from kotapintar.core.events.repository import case_stream
from kotapintar.core.events.types import EventType, utcnow
from kotapintar.core.i18n.labels import unit_kind_label
from kotapintar.core.settings import Settings, get_settings
from kotapintar.dispatch.engine import (
    METHOD_STRAIGHT,
    RoadNetwork,
    compute_coverage,
    load_network,
    recommend_units,
)
from kotapintar.dispatch.engine.recommend import Recommendation, UnitPosition
from kotapintar.dispatch.engine.runcards import load_runcards
from kotapintar.dispatch.engine.unitstatus import load_unit_status
from kotapintar.dispatch.models import UnitAssignment, UnitStatusLog
from kotapintar.dispatch.repository import DispatchRepository
from kotapintar.dispatch.roads import stored_network
from kotapintar.dispatch.schemas import (
    DispatchIn,
    DispatchResult,
)
from kotapintar.dispatch.segments import case_segments
from kotapintar.sop.runtime import advance_on_unit_status

log = logging.getLogger(__name__)


def _network(settings: Settings, uow: UnitOfWork | None = None) -> RoadNetwork | None:
    if settings.road_network_path is None:
        # The network imported with `kotapintar import roads` (issue 21), when there is one.
        if uow is None:
            return None
        try:
            return stored_network(uow.session, settings.database_url)
        except DomainError:
            log.exception("stored road network unusable; falling back to straight-line estimates")
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
    for call in uow.repo(DispatchRepository).calls_of_case(case_id):
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
    units = _positions(uow.repo(DispatchRepository).units())
    rec = recommend_units(_network(settings, uow), (case.lon, case.lat), units, card)
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
        names = {u.code: u.name for u in uow.repo(DispatchRepository).units()}
    out = rec.to_dict()
    for part in out["kinds"]:  # the kind by name for people (issue 20): "Ambulans", never "ambulance"
        part["label"] = unit_kind_label(part["kind"])
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
        "Perkiraan garis lurus × faktor belokan (tanpa jaringan jalan)"
        if rec.method == METHOD_STRAIGHT
        else "Waktu tempuh lewat jaringan jalan"
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
        repo = uow.repo(DispatchRepository)
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
        if chosen:
            # The SOP's dispatch step is done by the dispatch itself; its next steps (arrival, the informed
            # agencies' support tasks) start now, in this transaction.
            advance_on_unit_status(uow, actor.name, case.id, chosen[0], "dispatched", now)
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
        units = _positions(uow.repo(DispatchRepository).units())
        level = "desa"
        desa = uow.repo(DispatchRepository).region_geometries(settings.region_code, level)
        if not desa:  # a city loaded without desa boundaries (the demo) is judged per kecamatan
            level = "kecamatan"
            desa = uow.repo(DispatchRepository).region_geometries(settings.region_code, level)
        network = _network(settings, uow)
    regions = {code: shape(geom) for code, _, geom in desa}
    names = {code: name for code, name, _ in desa}
    geometries = {code: geom for code, _, geom in desa}
    result = compute_coverage(network, units, target_min * 60.0, kind=kind, regions=regions)
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


def case_dispatch_view(db: Database, actor: Actor, case_id: int) -> dict[str, Any]:
    """One case's dispatch picture: the case, its calls (no caller numbers), units sent, and segments."""
    segments = case_segments(db, actor, case_id)
    with db.reading() as uow:
        case = uow.repo(CaseRepository).get(case_id)
        assert case is not None
        repo = uow.repo(DispatchRepository)
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
