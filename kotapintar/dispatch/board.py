"""The 112 CAD screen's read models: the incident board, the unit status board, the open calls, the desa
to search and the recommendation as a compact table (top units per needed kind, within a sensible reach).

Everything here reads; the commands (receive, classify, dispatch, status) stay in calls, recommendation
and units. Times are returned as aware datetimes; the page formats them and ticks the ages itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kotapintar.cases.lifecycle import Priority
from kotapintar.catalog.repository import ServiceRepository
from kotapintar.core.access.actors import Actor
from kotapintar.core.access.roles import Permission
from kotapintar.core.db.database import Database
from kotapintar.core.events.types import utcnow
from kotapintar.core.settings import Settings
from kotapintar.dispatch.engine.runcards import load_runcards
from kotapintar.dispatch.repository import DispatchRepository

# The compact recommendation: besides the units the run card needs, this many alternatives per kind …
EXTRA_ALTERNATIVES = 2
# … and an alternative farther than this (and farther than the farthest selected unit) is left out: a
# dispatcher in Kuala Kapuas has no use for a fire truck 280 km up the river as a "choice".
ALTERNATIVE_REACH_M = 30_000.0


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class BoardUnit:
    """One row of the unit status board."""

    code: str
    name: str
    agency_code: str
    kind: str
    status: str
    since: datetime | None
    station: str | None
    case_id: int | None
    ticket: str | None
    lon: float | None
    lat: float | None


@dataclass(frozen=True)
class Incident:
    """One row of the incident board: an active incident and the units on it now."""

    id: int
    ticket: str
    title: str
    service: str
    priority: str
    status: str
    created_at: datetime
    address: str | None
    lon: float | None
    lat: float | None
    units: tuple[tuple[str, str], ...]  # (unit code, unit status)


def incident_board(db: Database, actor: Actor, limit: int = 40) -> list[Incident]:
    """Active incidents, most urgent first (priority, then oldest): emergencies, 112 calls, cases with units."""
    actor.require(Permission.DISPATCH_UNITS)
    services = sorted(load_runcards().services())
    with db.reading() as uow:
        repo = uow.repo(DispatchRepository)
        cases = repo.active_incidents(services, limit=limit)
        status_of = {u.code: u.status for u in repo.units()}
        on_case: dict[int, list[tuple[str, str]]] = {}
        for a in repo.open_assignments():
            on_case.setdefault(a.case_id, []).append((a.unit_code, status_of.get(a.unit_code, "")))
        rows = [
            Incident(
                id=c.id,
                ticket=c.ticket or f"#{c.id}",
                title=c.title,
                service=c.service_code,
                priority=c.priority,
                status=c.status,
                created_at=_aware(c.created_at) or utcnow(),
                address=c.address,
                lon=c.lon,
                lat=c.lat,
                units=tuple(on_case.get(c.id, ())),
            )
            for c in cases
        ]
    rank = {p.value: p.rank for p in Priority}
    return sorted(rows, key=lambda r: (rank.get(r.priority, len(rank) + 1), r.created_at))


def unit_status_board(db: Database, actor: Actor) -> list[BoardUnit]:
    """Every unit with its status, since when, its station and its current case (by agency, then code)."""
    actor.require(Permission.DISPATCH_UNITS)
    with db.reading() as uow:
        repo = uow.repo(DispatchRepository)
        since = repo.last_status_times()
        case_of = {a.unit_code: a.case_id for a in repo.open_assignments()}
        tickets = {c.id: c.ticket for c in repo.cases_by_ids(sorted(set(case_of.values())))}
        rows = [
            BoardUnit(
                code=u.code,
                name=u.name,
                agency_code=u.agency_code,
                kind=u.kind,
                status=u.status,
                since=_aware(since.get(u.code) or u.updated_at),
                station=u.base_name,
                case_id=case_of.get(u.code),
                ticket=tickets.get(case_of[u.code]) if u.code in case_of else None,
                lon=u.lon if u.lon is not None else u.base_lon,
                lat=u.lat if u.lat is not None else u.base_lat,
            )
            for u in repo.units()
        ]
    return sorted(rows, key=lambda r: (r.agency_code, r.code))


def open_calls(db: Database, actor: Actor, limit: int = 30) -> list[dict[str, Any]]:
    """Calls still unclassified (left with Esc, or refused for want of a place): to classify or close."""
    actor.require(Permission.DISPATCH_UNITS)
    with db.reading() as uow:
        names = {s.code: s.name for s in uow.repo(ServiceRepository).all(active_only=False)}
        return [
            {
                "id": c.id,
                "received_at": _aware(c.received_at),
                "service": names.get(c.service_code or "", c.service_code) if c.service_code else None,
                "location_text": c.location_text,
                "has_caller": bool(c.caller_number),
            }
            for c in uow.repo(DispatchRepository).open_calls(limit)
        ]


def desa_choices(db: Database, actor: Actor, settings: Settings) -> list[dict[str, Any]]:
    """Every desa of the kabupaten with its kecamatan's name and label point, for the console's search."""
    actor.require(Permission.DISPATCH_UNITS)
    with db.reading() as uow:
        repo = uow.repo(DispatchRepository)
        kecamatan = repo.region_names("kecamatan", settings.region_code)
        return [
            {"code": code, "name": name, "kecamatan": kecamatan.get(parent or "", ""), "lon": lon, "lat": lat}
            for code, name, parent, lon, lat in repo.desa_labels(settings.region_code)
        ]


def compact_recommendation(rec: dict[str, Any]) -> list[dict[str, Any]]:
    """Per needed kind: the selected units and a few alternatives within reach, nearest first.

    `rec` is `recommend_for_case`'s answer. Each part is `{kind, count, rows, hidden}`: `rows` are
    candidate dicts with `selected` set, `hidden` how many farther or surplus candidates were left out.
    """
    selected = set(rec.get("selected") or ())
    parts = []
    for part in rec.get("kinds", ()):
        pool = [*part.get("candidates", ()), *part.get("mutual_aid", ())]
        chosen = [c for c in pool if c["unit_id"] in selected]
        farthest = max((c.get("distance_m") or 0.0 for c in chosen), default=0.0)
        reach = max(ALTERNATIVE_REACH_M, farthest)
        others = [
            c
            for c in pool
            if c["unit_id"] not in selected and (c.get("distance_m") is None or c["distance_m"] <= reach)
        ][:EXTRA_ALTERNATIVES]
        keep = {c["unit_id"] for c in (*chosen, *others)}
        rows = [{**c, "selected": c["unit_id"] in selected} for c in pool if c["unit_id"] in keep]
        parts.append(
            {"kind": part["kind"], "count": part["count"], "rows": rows, "hidden": len(pool) - len(rows)}
        )
    return parts
