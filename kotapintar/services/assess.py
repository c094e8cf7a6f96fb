"""The first pass over a report before it is stored: which service, how urgent, where, whose, seen before?

`assess_report` is the one place where intake asks triage. It runs outside the write transaction (it only
reads), so the transaction that stores the report stays short. Triage grows here: text classification for
channels without a chosen service, locating from text, routing rules, duplicate search.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from kotapintar.domain.cases import Priority
from kotapintar.domain.errors import ValidationFailed
from kotapintar.services.locating import locate_report, region_index, region_name
from kotapintar.services.schemas import ReportIn
from kotapintar.settings import Settings
from kotapintar.store.db import Database
from kotapintar.triage.geo import Location


@dataclass(frozen=True)
class ServiceRoute:
    """What intake needs to know of a catalogue service."""

    code: str
    name: str
    priority: Priority
    agency_code: str
    informed: tuple[str, ...]
    emergency: bool
    sensitive: bool


@dataclass(frozen=True)
class Assessment:
    """Triage's answer for one report: the decisions intake stores with the case."""

    service: ServiceRoute
    priority: Priority
    agency_code: str
    informed: tuple[str, ...]
    location: Location | None
    place_name: str | None
    lon: float | None
    lat: float | None
    needs_review: bool = False
    suggestions: tuple[tuple[str, float], ...] = ()
    cues: tuple[str, ...] = ()
    merge_into_case_id: int | None = None  # a confident duplicate: the report joins that case
    possible_duplicates: tuple[tuple[int, float], ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)


_catalogue_lock = threading.Lock()
_catalogue: dict[str, tuple[float, dict[str, ServiceRoute]]] = {}
CATALOGUE_TTL_S = 30.0


def service_routes(db: Database) -> dict[str, ServiceRoute]:
    """The active catalogue, cached for a few seconds (it changes rarely; intake reads it per report)."""
    now = time.monotonic()
    with _catalogue_lock:
        hit = _catalogue.get(db.url)
        if hit is not None and now - hit[0] < CATALOGUE_TTL_S:
            return hit[1]
    with db.reading() as uow:
        routes = {
            s.code: ServiceRoute(
                code=s.code,
                name=s.name,
                priority=Priority(s.priority),
                agency_code=s.agency_code,
                informed=tuple(s.informed or ()),
                emergency=s.emergency,
                sensitive=s.sensitive,
            )
            for s in uow.services.all()
        }
    with _catalogue_lock:
        _catalogue[db.url] = (now, routes)
    return routes


def forget_service_routes(db: Database) -> None:
    """Drop the cached catalogue (after it was reloaded)."""
    with _catalogue_lock:
        _catalogue.pop(db.url, None)


def assess_report(db: Database, report: ReportIn, settings: Settings) -> Assessment:
    """Decide service, priority, responsible agency and location of a report (raises on bad input)."""
    routes = service_routes(db)
    service = routes.get(report.service_code)
    if service is None:
        raise ValidationFailed(
            f"Layanan '{report.service_code}' tidak dikenal; pilih salah satu: {', '.join(sorted(routes))}.",
            code="unknown_service",
            field="service_code",
        )
    location = locate_report(
        db,
        report.lon,
        report.lat,
        served_code=settings.region_code,
        tolerance_m=settings.location_tolerance_m,
    )
    place = region_name(region_index(db), location.kecamatan_code) if location else None
    priority = Priority(report.priority) if report.priority else service.priority
    return Assessment(
        service=service,
        priority=priority,
        agency_code=service.agency_code,
        informed=service.informed,
        location=location,
        place_name=place,
        lon=report.lon,
        lat=report.lat,
    )
