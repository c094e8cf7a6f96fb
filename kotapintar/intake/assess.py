"""The first pass over a report before it is stored: which service, how urgent, where, whose, seen before?

`assess_report` is the one place where intake asks triage. It runs outside the write transaction (it only
reads), so the transaction that stores the report stays short. All its reads share one read transaction:
the reference-data versions are read once in it (`versions.pinned`) for the caches it asks (catalogue,
triage context, region index), and the duplicate search runs in it too (issue 19 item 4: on PostgreSQL
every separate transaction costs a connection checkout, BEGIN and ROLLBACK round trips). Triage grows here: text classification for
channels without a chosen service, locating from text, routing rules, duplicate search.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from kotapintar.cases.lifecycle import Priority
from kotapintar.cases.schemas import ReportIn
from kotapintar.catalog.geo import Location
from kotapintar.catalog.locating import locate_report, region_index, region_name
from kotapintar.catalog.repository import ServiceRepository
from kotapintar.core import versions
from kotapintar.core.db.database import Database
from kotapintar.core.db.uow import UnitOfWork
from kotapintar.core.errors import ValidationFailed
from kotapintar.core.events.types import utcnow
from kotapintar.core.settings import Settings
from kotapintar.core.versions import VersionedCache
from kotapintar.triage.assessment import Assessment, ServiceRoute
from kotapintar.triage.classify.model import Classifier
from kotapintar.triage.classify.priority import decide_priority
from kotapintar.triage.context import TriageContext, triage_context
from kotapintar.triage.duplicates import (
    DEFAULT_DEDUPE,
    Candidate,
    cells_around,
    rank_duplicates,
    related_services,
)
from kotapintar.triage.gazetteer import PlaceMatch
from kotapintar.triage.repository import TriageRepository

# Service codes that ask triage to choose the service from the text (channels without a chosen service).
AUTO_SERVICE = frozenset({"", "auto"})


def _load_routes(db: Database) -> dict[str, ServiceRoute]:
    with db.reading() as uow:
        return {
            s.code: ServiceRoute(
                code=s.code,
                name=s.name,
                priority=Priority(s.priority),
                agency_code=s.agency_code,
                informed=tuple(s.informed or ()),
                emergency=s.emergency,
                sensitive=s.sensitive,
                dedupe_radius_m=float((s.dedupe or {}).get("radius_m", DEFAULT_DEDUPE["radius_m"])),
                dedupe_window_hours=float(
                    (s.dedupe or {}).get("window_hours", DEFAULT_DEDUPE["window_hours"])
                ),
            )
            for s in uow.repo(ServiceRepository).all()
        }


# Intake reads the active catalogue on every report; an admin who switches a service off (or a loader that adds
# one) bumps the catalogue version, so every process uses the new catalogue from its next report (issue 19).
_routes: VersionedCache[dict[str, ServiceRoute]] = VersionedCache(versions.CATALOGUE, _load_routes)


def service_routes(db: Database) -> dict[str, ServiceRoute]:
    """The active catalogue, rebuilt when the catalogue version in the database moved (any process)."""
    return _routes.get(db)


def _choose_service(
    report: ReportIn, routes: dict[str, ServiceRoute], settings: Settings
) -> tuple[ServiceRoute, bool, tuple[tuple[str, float], ...], tuple[str, ...]]:
    """The service the reporter chose, or the classifier's when none was (needs_review, suggestions,
    other services a multi-issue text names)."""
    code = report.service_code.strip().lower()
    if code not in AUTO_SERVICE:
        service = routes.get(report.service_code)
        if service is None:
            raise ValidationFailed(
                f"Layanan '{report.service_code}' tidak dikenal; pilih salah satu: {', '.join(sorted(routes))} "
                "(atau 'auto' agar triase memilih dari uraian).",
                code="unknown_service",
                field="service_code",
            )
        return service, False, (), ()
    result = Classifier.load().classify(report.description, threshold=settings.triage_review_threshold)
    suggestions = tuple((s, round(c, 4)) for s, c in result.alternatives if s in routes)
    chosen = next((routes[s] for s, _ in suggestions), None) or routes.get("lainnya")
    if chosen is None:
        raise ValidationFailed("Katalog layanan kosong: muat katalog dulu.", code="unknown_service")
    others = tuple(code for code in result.others if code in routes)
    return chosen, result.needs_review(settings.triage_review_threshold), suggestions, others


def _locate_from_text(
    db: Database, report: ReportIn, context: TriageContext
) -> tuple[Location | None, PlaceMatch]:
    """Place a report without coordinates from the place names in its address and description."""
    text = " ".join(t for t in (report.address, report.description) if t)
    match = context.gazetteer.match(text)
    if not match.known or match.lon is None or match.lat is None:
        return None, match
    found = region_index(db).locate(match.lon, match.lat)
    kec = found.kecamatan_code
    region = found.region_code
    if match.precision == "kecamatan" and match.region_code:
        kec = region = match.region_code  # a kecamatan named: do not pretend to know the desa
    elif match.precision == "desa" and match.region_code:
        region, kec = match.region_code, match.region_code.rsplit(".", 1)[0]
    location = Location(
        region_code=region,
        kecamatan_code=kec,
        kabupaten_code=kec.rsplit(".", 1)[0] if kec else found.kabupaten_code,
        precision=match.precision,
    )
    return location, match


def _find_duplicates(
    uow: UnitOfWork, service: ServiceRoute, text: str, lon: float, lat: float, at: datetime
) -> list[tuple[int, float]]:
    """(case id, score) of open cases this report may duplicate, best first."""
    radius, window = service.dedupe_radius_m, service.dedupe_window_hours
    services = related_services(service.code)
    rows = TriageRepository(uow.session).duplicate_candidates(
        cells_around(lon, lat, radius), services, at - timedelta(hours=window)
    )
    candidates = [Candidate(r.id, r.service_code, r.lon, r.lat, r.description, r.created_at) for r in rows]
    ranked = rank_duplicates(service.code, text, lon, lat, at, candidates, radius, window)
    return [(s.case_id, s.score) for s in ranked]


def assess_report(db: Database, report: ReportIn, settings: Settings) -> Assessment:
    """Decide service, priority, responsible agency, location and duplicates of a report.

    Raises ValidationFailed on bad input (unknown service, point far outside the served area). Steps:
    service (the reporter's, or the classifier's for `service_code` "auto"/""), urgency cues that raise
    the priority, location (the point, else the place names in the text), routing rules, duplicate search.
    One read transaction: the versions of the cached reference data are read once in it, and the duplicate
    search runs in it.
    """
    with db.reading() as uow:
        return assess_in(db, uow, report, settings)


def assess_in(db: Database, uow: UnitOfWork, report: ReportIn, settings: Settings) -> Assessment:
    """`assess_report` reading in the caller's transaction `uow` (of `db`): the versions once, the duplicate
    search; only reads (the caches' loaders, on a miss, read in their own transactions)."""
    with versions.pinned(db, uow):
        return _assess(db, uow, report, settings)


def _assess(db: Database, uow: UnitOfWork, report: ReportIn, settings: Settings) -> Assessment:
    routes = service_routes(db)
    service, needs_review, suggestions, others = _choose_service(report, routes, settings)
    # The priority rule of triage.classify.priority: a life threat is P1 whatever the category; an
    # uncertain guess never passes on its emergency default; severity cues (`bahaya`, `parah`) are only
    # shown to the operator. The catalogue's priorities are the defaults.
    triaged = decide_priority(
        report.description,
        suggestions if needs_review and suggestions else ((service.code, 1.0),),
        confident=not needs_review,
        defaults={code: route.priority for code, route in routes.items()},
    )
    priority = Priority(report.priority) if report.priority else triaged.priority
    context = triage_context(db, settings)
    notes: list[str] = []
    lon, lat = report.lon, report.lat
    location = locate_report(
        db, lon, lat, served_code=settings.region_code, tolerance_m=settings.location_tolerance_m
    )
    if lon is None or lat is None:
        location, match = _locate_from_text(db, report, context)
        if location is not None and match.lon is not None and match.lat is not None:
            lon, lat = match.lon, match.lat
            notes.append(f"location_from_text:{match.precision}:{match.name}")
        else:
            notes.append("location_unknown")
    index = region_index(db)
    place = region_name(index, location.kecamatan_code) if location else None
    region_codes = [c for c in ((location.region_code, location.kecamatan_code) if location else ()) if c]
    now = utcnow()
    local = now.astimezone(ZoneInfo(settings.timezone)).time()
    decision = context.routing.route(
        service.code, service.agency_code, service.informed, region_codes, local_time=local
    )
    notes.append(f"routing:{decision.reason}")
    merge_into: int | None = None
    possible: tuple[tuple[int, float], ...] = ()
    # Duplicates are searched around a real point: the reporter's, or a named place's (not a region's).
    has_point = report.lon is not None or (location is not None and location.precision == "point")
    if lon is not None and lat is not None and has_point:
        ranked = _find_duplicates(uow, service, report.description, lon, lat, now)
        if ranked and ranked[0][1] >= settings.duplicate_merge_threshold:
            merge_into = ranked[0][0]
        possible = tuple(
            (cid, score) for cid, score in ranked[:3] if score >= settings.duplicate_suggest_threshold
        )
    return Assessment(
        service=service,
        priority=priority,
        agency_code=decision.agency,
        informed=decision.informed,
        location=location,
        place_name=place,
        lon=lon,
        lat=lat,
        needs_review=needs_review,
        suggestions=suggestions,
        cues=triaged.urgency.life_cues,
        merge_into_case_id=merge_into,
        possible_duplicates=possible,
        notes=tuple(notes),
        other_issues=others,
        priority_reason=triaged.reason if not report.priority else "kanal",
    )
