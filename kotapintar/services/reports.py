"""submit_report: the one intake command every channel goes through."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import h3
from sqlalchemy.exc import IntegrityError

from kotapintar.domain.cases import CaseStatus, Priority
from kotapintar.domain.errors import ValidationFailed
from kotapintar.domain.events import EventType, utcnow
from kotapintar.services.actors import Actor
from kotapintar.services.locating import locate_report, region_index, region_name
from kotapintar.services.schemas import ReportIn, SubmitResult
from kotapintar.settings import Settings, get_settings
from kotapintar.store.db import Database
from kotapintar.store.repositories.events import case_stream
from kotapintar.store.uow import UnitOfWork
from kotapintar.triage.geo import Location

H3_RESOLUTION = 9  # ~0.1 km² cells: the binning used for hotspots and nearby-duplicate search


def make_ticket(prefix: str, case_id: int, created_at: datetime, tz: str) -> str:
    """A short, readable ticket number such as KPS-2026-000123 (year in the local zone)."""
    return f"{prefix}-{created_at.astimezone(ZoneInfo(tz)).year}-{case_id:06d}"


def _idempotency_key(actor: Actor, report: ReportIn, header_key: str | None) -> str | None:
    key = header_key or report.client_ref
    if not key:
        return None
    # Keys are scoped per client, so two applications that both number their requests from 1 never clash.
    return f"{actor.name}|{key}"[:200]


def _replay(uow: UnitOfWork, key: str) -> SubmitResult | None:
    found = uow.reports.ids_for_key(key)
    if found is None:
        return None
    report_id, case_id = found
    status = uow.cases.status_of(case_id)
    assert status is not None
    return SubmitResult(
        case_id=case_id, ticket=status[1] or "", report_id=report_id, status=status[0], replayed=True
    )


def submit_report(
    db: Database,
    actor: Actor,
    report: ReportIn,
    *,
    idempotency_key: str | None = None,
    settings: Settings | None = None,
) -> SubmitResult:
    """Accept a report: validate, place it, open a case for it, log both events, in one transaction.

    A retry carrying the same idempotency key (header or `client_ref`) returns the first result, also
    when both attempts race: the unique key decides, and the loser reads the winner's result.
    """
    settings = settings or get_settings()
    if len(report.description) > settings.max_description_chars:
        raise ValidationFailed(
            f"Uraian terlalu panjang ({len(report.description)} karakter; maksimum "
            f"{settings.max_description_chars}). Ringkas laporannya / shorten the description.",
            field="description",
        )
    key = _idempotency_key(actor, report, idempotency_key)
    location = locate_report(
        db,
        report.lon,
        report.lat,
        served_code=settings.region_code,
        tolerance_m=settings.location_tolerance_m,
    )
    place = region_name(region_index(db), location.kecamatan_code) if location else None
    try:
        with db.transaction() as uow:
            if key is not None:
                earlier = _replay(uow, key)
                if earlier is not None:
                    return earlier
            return _create(uow, actor, report, key, location, place, settings)
    except IntegrityError:
        # Two submissions with the same key raced: the unique key let one in; return what it made.
        if key is None:
            raise
        with db.reading() as uow:
            earlier = _replay(uow, key)
        if earlier is None:
            raise
        return earlier


def _create(
    uow: UnitOfWork,
    actor: Actor,
    report: ReportIn,
    key: str | None,
    loc: Location | None,
    place: str | None,
    settings: Settings,
) -> SubmitResult:
    service = uow.services.routing(report.service_code)
    if service is None or not service[3]:
        known = ", ".join(s.code for s in uow.services.all())
        raise ValidationFailed(
            f"Layanan '{report.service_code}' tidak dikenal; pilih salah satu: {known}.",
            code="unknown_service",
            field="service_code",
        )
    service_name, default_priority, agency_code, _ = service
    now = utcnow()
    reporter_id: int | None = None
    person = report.reporter
    if person is not None and any((person.name, person.phone, person.email, person.nik)):
        reporter_id = uow.reports.insert_reporter(
            name=person.name,
            phone=person.phone,
            email=str(person.email) if person.email else None,
            nik=person.nik,
            created_at=now,
        )
    priority = Priority(report.priority or default_priority)
    title = service_name + (f" — {place}" if place else "")
    has_point = report.lon is not None and report.lat is not None
    case_id = uow.cases.insert(
        service_code=report.service_code,
        priority=priority.value,
        status=CaseStatus.RECEIVED.value,
        title=title[:300],
        description=report.description,
        lon=report.lon,
        lat=report.lat,
        h3_cell=h3.latlng_to_cell(report.lat, report.lon, H3_RESOLUTION) if has_point else None,
        address=report.address,
        region_code=loc.region_code if loc else None,
        kecamatan_code=loc.kecamatan_code if loc else None,
        agency_code=agency_code,
        channel=report.channel,
        confidential=report.confidential,
        created_at=now,
        updated_at=now,
    )
    ticket = make_ticket(settings.ticket_prefix, case_id, now, settings.timezone)
    uow.cases.set_ticket(case_id, ticket)
    report_id = uow.reports.insert(
        case_id=case_id,
        service_code=report.service_code,
        description=report.description,
        lon=report.lon,
        lat=report.lat,
        address=report.address,
        channel=report.channel,
        reporter_id=reporter_id,
        anonymous=report.anonymous,
        confidential=report.confidential,
        idempotency_key=key,
        external_id=report.external_id,
        attributes=report.attributes,
        media=[],
        received_at=now,
    )
    stream = case_stream(case_id)
    uow.events.append(
        stream=stream,
        case_id=case_id,
        type=EventType.REPORT_RECEIVED,
        actor=actor.name,
        at=now,
        payload={"report_id": report_id, "channel": report.channel, "anonymous": report.anonymous},
        new_stream=True,
    )
    uow.events.append(
        stream=stream,
        case_id=case_id,
        type=EventType.CASE_CREATED,
        actor=actor.name,
        at=now,
        payload={
            "ticket": ticket,
            "service": report.service_code,
            "priority": priority.value,
            "status": CaseStatus.RECEIVED.value,
            "channel": report.channel,
            "region": loc.region_code if loc else None,
            "kecamatan": loc.kecamatan_code if loc else None,
            "agency": agency_code,
            "confidential": report.confidential,
            "precision": loc.precision if loc else "unknown",
        },
    )
    return SubmitResult(case_id=case_id, ticket=ticket, report_id=report_id, status=CaseStatus.RECEIVED.value)
