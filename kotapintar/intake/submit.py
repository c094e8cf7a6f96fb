"""submit_report: the one intake command every channel goes through."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import h3
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import make_transient_to_detached

from kotapintar.cases.lifecycle import CaseStatus
from kotapintar.cases.models import Case
from kotapintar.cases.projections import pii_fingerprint
from kotapintar.cases.repository import CaseRepository, ReportRepository
from kotapintar.cases.schemas import ReportIn, SubmitResult
from kotapintar.core.access.actors import Actor
from kotapintar.core.db.database import Database
from kotapintar.core.db.uow import UnitOfWork
from kotapintar.core.errors import Conflict, ValidationFailed
from kotapintar.core.events.repository import case_stream
from kotapintar.core.events.types import EventType, utcnow
from kotapintar.core.settings import Settings, get_settings
from kotapintar.intake.assess import assess_in, assess_report
from kotapintar.intake.guard import check_report_text
from kotapintar.sop.runtime import OpenedCase, SopWriter, start_case_sop
from kotapintar.triage.assessment import Assessment

H3_RESOLUTION = 9  # ~0.1 km² cells: the binning used for hotspots and nearby-duplicate search


def _idempotency_key(actor: Actor, report: ReportIn, header_key: str | None) -> str | None:
    key = header_key or report.client_ref
    if not key:
        return None
    # Keys are scoped per client, so two applications that both number their requests from 1 never clash.
    return f"{actor.name}|{key}"[:200]


def _replay(uow: UnitOfWork, key: str) -> SubmitResult | None:
    found = uow.repo(ReportRepository).ids_for_key(key)
    if found is None:
        return None
    report_id, case_id = found
    status = uow.repo(CaseRepository).status_of(case_id)
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
    media: list[dict[str, Any]] | None = None,
) -> SubmitResult:
    """Accept a report: assess it, open a case for it (or join a confident duplicate), log the events.

    A retry carrying the same idempotency key (header or `client_ref`) returns the first result, also
    when both attempts race: the unique key decides, and the loser reads the winner's result.
    `media` are stored attachments (see the media service) that belong to this report.
    """
    settings = settings or get_settings()
    if len(report.description) > settings.max_description_chars:
        raise ValidationFailed(
            f"Uraian terlalu panjang ({len(report.description)} karakter; maksimum "
            f"{settings.max_description_chars}). Ringkas laporannya / shorten the description.",
            field="description",
        )
    check_report_text(report.description, report.attributes, report.address)
    key = _idempotency_key(actor, report, idempotency_key)
    # On PostgreSQL a transaction that has only read holds no locks, so the assessment reads in the write
    # transaction itself: one checkout, BEGIN and COMMIT for the whole report (issue 19 item 4). On SQLite
    # the write transaction takes the database's write lock at BEGIN, so the assessment reads before it, in
    # a read transaction of its own, and the lock is held only for the writes.
    assessment = None if db.is_postgres else assess_report(db, report, settings)
    try:
        with db.transaction() as uow:
            if assessment is None:
                assessment = assess_in(db, uow, report, settings)
            if assessment.merge_into_case_id is not None:
                joined = _join_existing(uow, actor, report, key, assessment, media or [])
                if joined is not None:
                    return joined
            return _create(uow, actor, report, key, assessment, settings, media or [])
    except IntegrityError:
        # Two submissions with the same key raced (or this is a retry): the unique key let one in.
        if key is None:
            raise
        with db.reading() as uow:
            earlier = _replay(uow, key)
            first = uow.repo(ReportRepository).by_idempotency_key(key)
        if earlier is None or first is None:
            raise
        if not _same_report(first, report):
            raise Conflict(
                "Idempotency-Key ini sudah dipakai untuk laporan lain; pakai kunci baru untuk laporan baru / "
                "this Idempotency-Key was used for a different report; use a new key.",
                code="idempotency_key_reused",
                ticket=earlier.ticket,
            ) from None
        return earlier


def _same_report(first: Any, again: ReportIn) -> bool:
    """True when a retry carries the report first sent with its key (text and place)."""

    def near(a: float | None, b: float | None) -> bool:
        return (a is None) == (b is None) and (a is None or b is None or abs(a - b) < 1e-7)

    return (
        first.description == again.description and near(first.lon, again.lon) and near(first.lat, again.lat)
    )


def _report_row(
    report: ReportIn,
    service_code: str,
    case_id: int,
    key: str | None,
    reporter_id: int | None,
    media: list[dict[str, Any]],
    now: datetime,
    assessment: Assessment | None = None,
) -> dict[str, Any]:
    return {
        "case_id": case_id,
        "service_code": service_code,
        "description": report.description,
        "lon": report.lon,
        "lat": report.lat,
        "address": report.address,
        "channel": report.channel,
        "reporter_id": reporter_id,
        "anonymous": report.anonymous,
        "confidential": report.confidential,
        "idempotency_key": key,
        "external_id": report.external_id,
        "attributes": report.attributes,
        "media": media,
        "received_at": now,
        "location_accuracy_m": report.location_accuracy_m if report.lon is not None else None,
        "location_source": _location_source(report, assessment),
    }


def _location_source(report: ReportIn, assessment: Assessment | None = None) -> str | None:
    """What the report's location rests on (data accuracy, issue 15): as the client said when it gave
    coordinates; "desa_centroid" when it gave none but named a desa, so triage placed the case at the desa's
    point (SMS/WhatsApp "di desa Anjir Serapat", the web form's address without a map pick); "address" when
    it gave only other words; None when coordinates came without a source."""
    if report.lon is None or report.lat is None:
        if (
            assessment is not None
            and assessment.location is not None
            and assessment.location.precision == "desa"
            and assessment.lon is not None
        ):
            return "desa_centroid"
        return "address" if report.address or report.location_source == "address" else None
    return report.location_source


def _pii_fingerprint(report: ReportIn, reporter_id: int | None) -> dict[str, str]:
    """The salted hash of the reporter's personal data for the event (never the data): edits to the
    reporters row outside the log are found by `audit verify --projections`."""
    person = report.reporter
    if reporter_id is None or person is None:
        return {}
    email = str(person.email) if person.email else None
    return {"reporter_sha256": pii_fingerprint(person.name, person.phone, email, person.nik)}


def _store_reporter(uow: UnitOfWork, report: ReportIn, now: datetime) -> int | None:
    person = report.reporter
    if person is None or not any((person.name, person.phone, person.email, person.nik)):
        return None
    return uow.repo(ReportRepository).insert_reporter(
        name=person.name,
        phone=person.phone,
        email=str(person.email) if person.email else None,
        nik=person.nik,
        created_at=now,
    )


def _join_existing(
    uow: UnitOfWork,
    actor: Actor,
    report: ReportIn,
    key: str | None,
    assessment: Assessment,
    media: list[dict[str, Any]],
) -> SubmitResult | None:
    """Attach the report to the case triage is confident it duplicates; None when that case moved on."""
    target_id = assessment.merge_into_case_id
    assert target_id is not None
    case = uow.repo(CaseRepository).get(target_id, for_update=True)
    if case is None or not CaseStatus(case.status).is_open:
        return None
    now = utcnow()
    reporter_id = _store_reporter(uow, report, now)
    report_id = uow.repo(ReportRepository).insert(
        **_report_row(report, assessment.service.code, case.id, key, reporter_id, media, now, assessment)
    )
    case.updated_at = now
    uow.events.append(
        stream=case_stream(case.id),
        case_id=case.id,
        type=EventType.REPORT_RECEIVED,
        actor=actor.name,
        at=now,
        payload={
            "report_id": report_id,
            "channel": report.channel,
            "anonymous": report.anonymous,
            "auto_merged": True,
            "duplicate_score": dict(assessment.possible_duplicates).get(case.id),
            **_pii_fingerprint(report, reporter_id),
        },
    )
    return SubmitResult(
        case_id=case.id,
        ticket=case.ticket or "",
        report_id=report_id,
        status=case.status,
        merged_into=case.ticket,
    )


def _create(
    uow: UnitOfWork,
    actor: Actor,
    report: ReportIn,
    key: str | None,
    assessment: Assessment,
    settings: Settings,
    media: list[dict[str, Any]],
) -> SubmitResult:
    now = utcnow()
    loc = assessment.location
    reporter_id = _store_reporter(uow, report, now)
    title = assessment.service.name + (f" — {assessment.place_name}" if assessment.place_name else "")
    lon, lat = assessment.lon, assessment.lat
    year = now.astimezone(ZoneInfo(settings.timezone)).year
    values: dict[str, Any] = {
        "service_code": assessment.service.code,
        "priority": assessment.priority.value,
        "status": CaseStatus.RECEIVED.value,
        "title": title[:300],
        "description": report.description,
        "lon": lon,
        "lat": lat,
        "h3_cell": h3.latlng_to_cell(lat, lon, H3_RESOLUTION)
        if lon is not None and lat is not None
        else None,
        "address": report.address,
        "region_code": loc.region_code if loc else None,
        "kecamatan_code": loc.kecamatan_code if loc else None,
        "agency_code": assessment.agency_code,
        "channel": report.channel,
        "confidential": report.confidential,
        "created_at": now,
        "updated_at": now,
        "location_accuracy_m": report.location_accuracy_m,
        "location_source": _location_source(report, assessment),
    }
    case_id, ticket = uow.repo(CaseRepository).insert_with_ticket(settings.ticket_prefix, year, **values)
    report_id = uow.repo(ReportRepository).insert(
        **_report_row(report, assessment.service.code, case_id, key, reporter_id, media, now, assessment)
    )
    stream = case_stream(case_id)
    created = {
        "ticket": ticket,
        "service": assessment.service.code,
        "priority": assessment.priority.value,
        "status": CaseStatus.RECEIVED.value,
        "channel": report.channel,
        "region": loc.region_code if loc else None,
        "kecamatan": loc.kecamatan_code if loc else None,
        "agency": assessment.agency_code,
        "informed": list(assessment.informed),
        "confidential": report.confidential,
        "precision": loc.precision if loc else "unknown",
    }
    received = {
        "report_id": report_id,
        "channel": report.channel,
        "anonymous": report.anonymous,
        **_pii_fingerprint(report, reporter_id),
    }
    # Every event of the new case (report, case, triage, SOP start and first tasks) goes out in one INSERT.
    uow.events.start_stream(stream)
    writer = SopWriter(uow)
    writer.log(stream, case_id, EventType.REPORT_RECEIVED, actor.name, now, received)
    writer.log(stream, case_id, EventType.CASE_CREATED, actor.name, now, created)
    if (
        assessment.needs_review
        or assessment.possible_duplicates
        or assessment.cues
        or assessment.other_issues
    ):
        writer.log(
            stream,
            case_id,
            EventType.TRIAGE_SUGGESTED,
            "system:triage",
            now,
            {
                "needs_review": assessment.needs_review,
                "suggestions": [list(s) for s in assessment.suggestions],
                "cues": list(assessment.cues),
                "possible_duplicates": [list(d) for d in assessment.possible_duplicates],
                "other_issues": list(assessment.other_issues),
                "priority_reason": assessment.priority_reason,
            },
        )
    # The case's SOP starts in the same transaction: a case never exists without its SOP having started.
    # The case row just written is attached as it is, not read back.
    case = Case(id=case_id, ticket=ticket, **values)
    make_transient_to_detached(case)
    uow.session.add(case)
    opened = OpenedCase(case=case, attributes=report.attributes or {}, anonymous=report.anonymous)
    start_case_sop(uow, actor, case_id, assessment, now, opened=opened, writer=writer)
    writer.flush()
    return SubmitResult(case_id=case_id, ticket=ticket, report_id=report_id, status=CaseStatus.RECEIVED.value)
