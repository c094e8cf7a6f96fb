"""Open311 GeoReport v2 on top of the case services: intake, public queries, tokens and two-way updates.

The HTTP layer (`kotapintar/api/routers/open311.py`) parses and formats; every rule lives here:
- service_request_id is the case ticket (e.g. KPS-2026-000123), a string, stable across merges of reports;
- a token is the report id signed with the secret key, so it cannot be guessed and maps to the ticket;
- a client application (API key) acts as an Actor of kind "client"; it may submit requests and comment,
  and only the clients named in `settings.open311_status_clients` may change a case's status.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from itsdangerous import BadSignature, Signer

from kotapintar.cases import service as case_service
from kotapintar.cases.filters import CaseFilter
from kotapintar.cases.lifecycle import STATUS_LABELS, CaseStatus
from kotapintar.cases.models import Case
from kotapintar.cases.public import public_text
from kotapintar.cases.repository import CaseRepository, ReportRepository
from kotapintar.cases.schemas import ReporterIn, ReportIn, SubmitResult
from kotapintar.catalog.repository import AgencyRepository, ServiceRepository
from kotapintar.core.access.actors import Actor, system_actor
from kotapintar.core.access.roles import Role
from kotapintar.core.access.scope import CaseScope
from kotapintar.core.db.database import Database
from kotapintar.core.errors import NotFound, PermissionDenied, ValidationFailed
from kotapintar.core.events.types import EventType, utcnow
from kotapintar.core.settings import Settings
from kotapintar.intake.chat import submit_citizen_report
from kotapintar.intake.guard import check_media_urls, is_web_url
from kotapintar.intake.media import Upload
from kotapintar.open311.repository import Open311Repository
from kotapintar.sop.calendar import WorkingCalendar
from kotapintar.sop.loader import load_calendar, load_shipped

MAX_DESCRIPTION = 4000  # Open311 v2 limit of description
MAX_REQUESTS = 1000  # the v2 default cap of GET requests, also the largest page
DEFAULT_WINDOW = timedelta(days=90)
MAX_PAGE_DEPTH = 50_000  # page * page_size beyond this: narrow the dates instead
UPDATES_WINDOW = timedelta(hours=2)  # mySociety default window of GET servicerequestupdates
_CHUNK = 500
PUBLIC_SCOPE = CaseScope(public=True)

OPEN_INTERNAL = tuple(s.value for s in CaseStatus if s.is_open)
CLOSED_INTERNAL = tuple(s.value for s in CaseStatus if not s.is_open and s is not CaseStatus.MERGED)

# The public timeline as extended (mySociety) statuses.
EVENT_STATUS: dict[str, str] = {
    EventType.CASE_CREATED: "open",
    EventType.CASE_VERIFIED: "investigating",
    EventType.CASE_ASSIGNED: "action_scheduled",
    EventType.CASE_STARTED: "in_progress",
    EventType.CASE_RESOLVED: "fixed",
    EventType.CASE_CLOSED: "closed",
    EventType.CASE_REOPENED: "open",
    EventType.CASE_REJECTED: "no_further_action",
    EventType.CASE_MERGED: "duplicate",
}
# Extensions' notes history `type`, per event.
EVENT_NOTE_TYPE: dict[str, str] = {
    EventType.CASE_CREATED: "submitted",
    EventType.CASE_VERIFIED: "verified",
    EventType.CASE_ASSIGNED: "assigned",
    EventType.CASE_STARTED: "opened",
    EventType.CASE_RESOLVED: "resolved",
    EventType.CASE_CLOSED: "closed",
    EventType.CASE_REOPENED: "reopened",
    EventType.CASE_REJECTED: "rejected",
    EventType.CASE_MERGED: "merged",
}
# Incoming extended statuses (upper or lower case) → what happens to the case.
_NOTE_ONLY = {"UNCHANGED", "INVESTIGATING", "IN_PROGRESS", "PLANNED", "ACTION_SCHEDULED", "FOR_TRIAGE"}
_REOPEN = {"OPEN", "REOPEN"}
_FIX = {"FIXED"}
_CLOSE = {"CLOSED"}
_REFUSE = {
    "NOT_COUNCILS_RESPONSIBILITY",
    "NO_FURTHER_ACTION",
    "DUPLICATE",
    "CANCELLED",
    "INTERNAL_REFERRAL",
}
UPDATE_STATUSES = frozenset(_NOTE_ONLY | _REOPEN | _FIX | _CLOSE | _REFUSE)
_PERSON_FIELDS = ("email", "phone", "first_name", "last_name", "device_id", "account_id")


# ---------------------------------------------------------------- views


@dataclass(frozen=True)
class ServiceInfo:
    """One service of the catalogue as Open311 shows it."""

    code: str
    name: str
    description: str
    group: str
    keywords: list[str]
    attributes: list[dict[str, Any]]
    agency: str | None


@dataclass(frozen=True)
class NoteView:
    """One entry of the public history of a request (extensions=true)."""

    at: datetime
    type: str
    status: str
    description: str


@dataclass(frozen=True)
class RequestView:
    """A service request as the public may see it: no reporter data, sensitive places coarsened."""

    service_request_id: str
    status: str  # open | closed
    detailed_status: str  # the internal status, e.g. in_progress
    status_notes: str | None
    service_code: str
    service_name: str
    description: str
    agency_responsible: str | None
    service_notice: str | None
    requested: datetime
    updated: datetime
    expected: datetime | None
    lat: float | None
    lon: float | None
    media_url: str | None
    notes: list[NoteView] = field(default_factory=list)


@dataclass(frozen=True)
class UpdateView:
    """One public status change of a request (mySociety servicerequestupdates)."""

    update_id: str
    service_request_id: str
    status: str
    updated: datetime
    description: str
    media_url: str


@dataclass(frozen=True)
class RequestQuery:
    """The filters of GET requests, already parsed."""

    ids: tuple[str, ...] = ()
    service_codes: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    start: datetime | None = None
    end: datetime | None = None
    updated_after: datetime | None = None
    updated_before: datetime | None = None
    page: int = 1
    page_size: int = MAX_REQUESTS
    extensions: bool = False


@dataclass
class Open311RequestIn:
    """The fields of POST requests, as strings from the form."""

    service_code: str
    description: str = ""
    lat: str | None = None
    long: str | None = None
    address_string: str | None = None
    address_id: str | None = None
    email: str | None = None
    device_id: str | None = None
    account_id: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    media_urls: list[str] = field(default_factory=list)
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class UpdateIn:
    """The fields of POST servicerequestupdates."""

    service_request_id: str
    status: str
    description: str = ""
    update_id: str | None = None
    updated_datetime: datetime | None = None
    media_urls: tuple[str, ...] = ()


# ---------------------------------------------------------------- catalogue


def open311_services(db: Database) -> list[ServiceInfo]:
    """The active services of the catalogue, in catalogue order."""
    with db.reading() as uow:
        agencies = {a.code: a.name for a in uow.repo(AgencyRepository).all()}
        return [
            ServiceInfo(
                code=s.code,
                name=s.name,
                description=s.description or s.name,
                group=s.group,
                keywords=[str(k) for k in s.keywords or []],
                attributes=sorted(
                    (dict(a) for a in s.attributes or []), key=lambda a: int(a.get("order") or 0)
                ),
                agency=agencies.get(s.agency_code),
            )
            for s in uow.repo(ServiceRepository).all(active_only=True)
        ]


def open311_service(db: Database, code: str) -> ServiceInfo:
    """One active service, or NotFound."""
    for service in open311_services(db):
        if service.code == code:
            return service
    raise NotFound(f"Layanan '{code}' tidak ada / service_code not found.", field="service_code")


# ---------------------------------------------------------------- expected_datetime


@lru_cache(maxsize=1)
def _calendar() -> WorkingCalendar:
    return load_calendar()


@lru_cache(maxsize=64)
def _first_time_standard(service_code: str) -> Any:
    try:
        spec = load_shipped(service_code)
    except (FileNotFoundError, ValidationFailed):
        return None
    for step in spec.steps:
        if step.waktu is not None:
            return step.waktu
    return None


def expected_datetime(service_code: str, created_at: datetime, due_at: datetime | None) -> datetime | None:
    """When the request should be handled: the case's due time, else the SOP's first time standard."""
    if due_at is not None:
        return due_at
    standard = _first_time_standard(service_code)
    if standard is None:
        return None
    return _calendar().add_duration(created_at, standard)


# ---------------------------------------------------------------- intake


def _coordinate(value: str | None, name: str, low: float, high: float) -> float | None:
    if value is None or value.strip() == "":
        return None
    try:
        number = float(value)
    except ValueError as exc:
        raise ValidationFailed(f"{name} harus berupa angka / {name} must be a number.", field=name) from exc
    if not low <= number <= high:
        raise ValidationFailed(f"{name} di luar rentang / {name} out of range.", field=name)
    return number


def _check_attributes(service: ServiceInfo, given: dict[str, Any]) -> dict[str, Any]:
    """The submitted attributes checked against the service definition (required, list keys, numbers)."""
    out: dict[str, Any] = {}
    for attr in service.attributes:
        code = str(attr.get("code"))
        value = given.get(code)
        empty = value is None or value == "" or value == []
        if empty:
            if attr.get("required") and attr.get("variable", True):
                raise ValidationFailed(
                    f"attribute[{code}] wajib diisi / attribute[{code}] is required.", field=code
                )
            continue
        datatype = attr.get("datatype", "string")
        keys = {str(v.get("key")) for v in attr.get("values") or []}
        if datatype == "multivaluelist":
            items = value if isinstance(value, list) else [value]
            if keys and any(str(v) not in keys for v in items):
                raise ValidationFailed(f"attribute[{code}]: nilai tidak dikenal / unknown value.", field=code)
            out[code] = [str(v) for v in items]
            continue
        if isinstance(value, list):
            value = value[0]
        if datatype == "singlevaluelist" and keys and str(value) not in keys:
            raise ValidationFailed(f"attribute[{code}]: nilai tidak dikenal / unknown value.", field=code)
        if datatype == "number":
            try:
                float(str(value))
            except ValueError as exc:
                raise ValidationFailed(
                    f"attribute[{code}] harus angka / must be a number.", field=code
                ) from exc
        out[code] = str(value)
    # Attributes the definition does not name (e.g. FixMyStreet's uprn, asset ids) are kept as given.
    for code, value in given.items():
        if code not in out and code not in {str(a.get("code")) for a in service.attributes}:
            out[code] = value
    return out


def submit_open311_request(
    db: Database,
    client: Actor,
    request: Open311RequestIn,
    settings: Settings,
    uploads: list[Upload] | None = None,
) -> SubmitResult:
    """POST requests: check it against the service definition and hand it to the one intake service.

    The client is a server relaying many citizens, so the per-IP limit does not apply; the per-phone
    limit, the photo checks (content type, re-encoding, EXIF removal) and idempotency do.
    """
    if client.kind != "client":
        raise PermissionDenied("Kunci API tidak sah / invalid api_key.")
    if not request.service_code:
        raise ValidationFailed("service_code wajib diisi / service_code is required.", field="service_code")
    service = open311_service(db, request.service_code)
    lat = _coordinate(request.lat, "lat", -90, 90)
    lon = _coordinate(request.long, "long", -180, 180)
    if (lat is None) != (lon is None):
        raise ValidationFailed("lat dan long harus diisi berdua / send both lat and long.", field="lat")
    address = request.address_string or None
    if lat is None and not address and not request.address_id:
        raise ValidationFailed(
            "Lokasi wajib: lat+long, address_string atau address_id / a location is required.", field="lat"
        )
    if address is None and request.address_id:
        address = f"address_id:{request.address_id}"[:300]
    description = (request.description or "").strip() or service.name
    if len(description) > MAX_DESCRIPTION:
        raise ValidationFailed(
            f"Uraian maksimum {MAX_DESCRIPTION} karakter / description is limited to {MAX_DESCRIPTION} characters.",
            field="description",
        )
    if len(description) < 3:
        description = f"{service.name}: {description}"
    attributes = _check_attributes(service, request.attributes)
    check_media_urls([u for u in request.media_urls if u])
    if request.address_id:
        attributes["address_id"] = request.address_id
    name = " ".join(p for p in (request.first_name, request.last_name) if p) or None
    reporter = None
    if name or request.email or request.phone:
        try:
            reporter = ReporterIn(name=name, phone=request.phone or None, email=request.email or None)
        except ValueError as exc:
            raise ValidationFailed(f"Data pelapor tidak sah / invalid reporter data: {exc}") from exc
    try:
        report = ReportIn(
            service_code=service.code,
            description=description,
            lon=lon,
            lat=lat,
            address=address[:300] if address else None,
            channel="open311",
            reporter=reporter,
            attributes={**attributes, "media_url": [u for u in request.media_urls if u]}
            if request.media_urls
            else attributes,
        )
    except ValueError as exc:
        raise ValidationFailed(f"Permintaan tidak sah / invalid request: {exc}") from exc
    result = submit_citizen_report(db, client, report, settings=settings, uploads=uploads)
    with db.transaction() as uow:
        repo = Open311Repository(uow.session)
        if repo.partner_id(result.report_id) is None:  # a replay keeps the id its first answer gave
            repo.set_partner_id(result.report_id, partner_request_id(result))
    return result


def request_id_of(db: Database, result: SubmitResult) -> str:
    """The service_request_id to answer for a submitted (or replayed) request: the one stored with it."""
    with db.reading() as uow:
        stored = Open311Repository(uow.session).partner_id(result.report_id)
    return stored or partner_request_id(result)


# ---------------------------------------------------------------- partner request ids

_PARTNER_ID = re.compile(r"^(?P<ticket>[^.]+)\.(?P<report>\d+)$")
_MAX_MERGE_HOPS = 20


def partner_request_id(result: SubmitResult) -> str:
    """The service_request_id a partner gets for one of its reports.

    The case ticket when the report opened the case; `<ticket>.<report id>` when triage merged it into an
    existing case. Nearby reports from FixMyStreet merged into one case would otherwise share one id, and
    FixMyStreet attaches updates to the first of its reports only. The id follows the case: it resolves to
    the case the report belongs to now (also after a later merge), and every status change of that case is
    listed once per partner id in servicerequestupdates.
    """
    if result.merged_into is None:
        return result.ticket
    return f"{result.ticket}.{result.report_id}"


def _resolve_case(uow: Any, request_id: str) -> Case | None:
    """The case a service_request_id stands for now: a ticket (followed through merges) or a partner id."""
    match = _PARTNER_ID.match(request_id.strip())
    if match is not None:
        repo = Open311Repository(uow.session)
        report_id = int(match["report"])
        if repo.partner_id(report_id) != request_id.strip():
            return None
        case_id = repo.case_of_report(report_id)
        case = uow.repo(CaseRepository).get(case_id) if case_id is not None else None
    else:
        case = uow.repo(CaseRepository).by_ticket(request_id.strip().upper())
    hops = 0
    while case is not None and case.merged_into_id is not None and hops < _MAX_MERGE_HOPS:
        case = uow.repo(CaseRepository).get(case.merged_into_id)
        hops += 1
    return case


def resolve_case_id(db: Database, request_id: str) -> int:
    """The case id of a service_request_id (ticket or partner id); raises NotFound."""
    with db.reading() as uow:
        case = _resolve_case(uow, request_id)
    if case is None:
        raise NotFound(f"Permintaan {request_id} tidak ditemukan / service request not found.")
    return case.id


# ---------------------------------------------------------------- tokens


def token_for(result: SubmitResult, settings: Settings) -> str:
    """The token of an accepted request: its report id, signed so nobody can guess another one."""
    return Signer(settings.secret_key, salt="open311-token").sign(str(result.report_id)).decode("ascii")


def request_id_for_token(db: Database, token: str, settings: Settings) -> str:
    """The service_request_id (ticket) a token stands for, or NotFound."""
    try:
        report_id = int(Signer(settings.secret_key, salt="open311-token").unsign(token).decode("ascii"))
    except (BadSignature, ValueError) as exc:
        raise NotFound("Token tidak dikenal / token not found.") from exc
    with db.reading() as uow:
        repo = Open311Repository(uow.session)
        ticket = repo.partner_id(report_id) or repo.ticket_of_report(report_id)
    if not ticket:
        raise NotFound("Token tidak dikenal / token not found.")
    return ticket


# ---------------------------------------------------------------- queries


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=ZoneInfo("UTC"))


def _status_notes(case: Case) -> str:
    status = CaseStatus(case.status)
    if status in (CaseStatus.RESOLVED, CaseStatus.CLOSED) and case.resolution:
        return case.resolution
    if status is CaseStatus.REJECTED and case.reject_reason:
        return case.reject_reason
    label_id, label_en = STATUS_LABELS[status]
    return f"Status: {label_id} / {label_en}"


def _notice(agency: str | None, expected: datetime | None, tz: str) -> str:
    who = agency or "Command Center"
    if expected is None:
        return f"Laporan diteruskan ke {who} / forwarded to {who}."
    when = expected.astimezone(ZoneInfo(tz)).strftime("%d-%m-%Y %H:%M")
    return f"Laporan ditangani oleh {who}; target tindak lanjut {when} / handled by {who}, target {when}."


def _media_url(reports: list[tuple[list[Any], dict[str, Any]]], confidential: bool) -> str | None:
    """The first photo: a stored upload (served at /media/…, never for rahasia), else a linked media_url."""
    for media, _ in reports:
        for item in media:
            if isinstance(item, dict) and isinstance(item.get("url"), str) and not confidential:
                return str(item["url"])
    for _, attributes in reports:
        links = attributes.get("media_url")
        if isinstance(links, list):
            for link in links:  # only web links are republished (never javascript: or data:)
                if isinstance(link, str) and is_web_url(link):
                    return link
    return None


def _describe(event_type: str, payload: dict[str, Any]) -> str:
    # Only the text written for the public (rejection reason, resolution, public reply): never a note.
    text = public_text(event_type, payload)
    if text is not None:
        return text
    to = payload.get("to") or payload.get("status")
    if isinstance(to, str) and to in {s.value for s in CaseStatus}:
        label_id, label_en = STATUS_LABELS[CaseStatus(to)]
        return f"Status: {label_id} / {label_en}"
    if event_type == EventType.CASE_CREATED:
        return "Laporan diterima / report received"
    return ""


def _view(uow: Any, case: Case, ctx: dict[str, Any], extensions: bool, tz: str) -> RequestView:
    services: dict[str, Any] = ctx["services"]
    service = services.get(case.service_code)
    sensitive = bool(service and service.sensitive)
    summary = case_service.summary_of(
        case, public=True, sensitive=sensitive, anonymous=case.id in ctx["anonymous"]
    )
    agency = ctx["agencies"].get(case.agency_code) if case.agency_code else None
    created, updated = _aware(case.created_at), _aware(case.updated_at)
    expected = expected_datetime(case.service_code, created, _aware(case.due_at) if case.due_at else None)
    status = CaseStatus(case.status)
    if status is CaseStatus.CLOSED and case.closed_at is not None:
        updated = _aware(case.closed_at)
    notes: list[NoteView] = []
    if extensions:
        for e in uow.events.for_case(case.id):
            if e.type in case_service.PUBLIC_EVENTS:
                notes.append(
                    NoteView(
                        at=_aware(e.occurred_at),
                        type=EVENT_NOTE_TYPE.get(e.type, e.type),
                        status=EVENT_STATUS.get(e.type, "open"),
                        description=_describe(e.type, e.payload or {}),
                    )
                )
    return RequestView(
        service_request_id=case.ticket or str(case.id),
        status=status.open311,
        detailed_status=status.value,
        status_notes=_status_notes(case),
        service_code=case.service_code,
        service_name=service.name if service else case.service_code,
        description=(service.name if service else case.service_code)
        if sensitive
        else case.description[:4000],
        agency_responsible=agency,
        service_notice=_notice(agency, expected, tz) if status.is_open else None,
        requested=created,
        updated=updated,
        expected=expected,
        lat=summary.lat,
        lon=summary.lon,
        media_url=_media_url(ctx["media"].get(case.id, []), case.confidential),
        notes=notes,
    )


def _context(uow: Any, cases: list[Case]) -> dict[str, Any]:
    return {
        "services": {s.code: s for s in uow.repo(ServiceRepository).all(active_only=False)},
        "agencies": {a.code: a.name for a in uow.repo(AgencyRepository).all()},
        "media": Open311Repository(uow.session).report_media([c.id for c in cases]),
        "anonymous": uow.repo(ReportRepository).anonymous_case_ids([c.id for c in cases]),
    }


def find_requests(db: Database, query: RequestQuery, settings: Settings) -> list[RequestView]:
    """GET requests: the public requests matching `query`, newest first, capped and paged."""
    with db.reading() as uow:
        if query.ids:
            # service_request_id overrides every other filter; a partner id (or a merged case's ticket)
            # answers with the case it follows now, under the id that was asked.
            found = [(t.strip(), _resolve_case(uow, t)) for t in query.ids[:MAX_REQUESTS]]
            rows = [
                (t, c)
                for t, c in found
                if c is not None and uow.repo(CaseRepository).visible(c.id, PUBLIC_SCOPE) is not None
            ]
            ctx = _context(uow, [c for _, c in rows])
            return [
                replace(
                    _view(uow, c, ctx, query.extensions, settings.timezone),
                    service_request_id=c.ticket if t.upper() == c.ticket else t,
                )
                for t, c in rows
            ]
        statuses: set[str] = set()
        for status in query.statuses:
            statuses.update(OPEN_INTERNAL if status == "open" else CLOSED_INTERNAL)
        flt = CaseFilter(
            statuses=tuple(sorted(statuses)),
            services=query.service_codes,
            created_from=query.start,
            created_to=query.end,
            updated_after=query.updated_after,
        )
        wanted = query.page * query.page_size
        offset = wanted - query.page_size
        picked: list[Case] = []
        before: int | None = None
        while len(picked) < wanted:
            chunk = uow.repo(CaseRepository).search(PUBLIC_SCOPE, flt, limit=_CHUNK, before_id=before)
            if not chunk:
                break
            before = chunk[-1].id
            picked.extend(
                c
                for c in chunk
                if query.updated_before is None or _aware(c.updated_at) < query.updated_before
            )
            if len(chunk) < _CHUNK:
                break
        page = picked[offset:wanted]
        ctx = _context(uow, page)
        return [_view(uow, c, ctx, query.extensions, settings.timezone) for c in page]


def find_request(db: Database, ticket: str, settings: Settings, extensions: bool = False) -> RequestView:
    """GET requests/{id}: one public request by its ticket, or NotFound."""
    found = find_requests(db, RequestQuery(ids=(ticket,), extensions=extensions), settings)
    if not found:
        raise NotFound(f"Permintaan {ticket} tidak ditemukan / service request not found.")
    return found[0]


def default_window(
    start: datetime | None, end: datetime | None, *, updated_filter: bool
) -> tuple[datetime | None, datetime | None]:
    """The requested_datetime window: the most recent 90 days by default, never more than 90 days."""
    if start is None and end is None:
        if updated_filter:
            return None, None
        end = utcnow()
        return end - DEFAULT_WINDOW, end
    if start is None:
        assert end is not None
        start = end - DEFAULT_WINDOW
    if end is None:
        end = start + DEFAULT_WINDOW
    if end < start:
        raise ValidationFailed(
            "end_date sebelum start_date / end_date is before start_date.", field="end_date"
        )
    if end - start > DEFAULT_WINDOW:
        raise ValidationFailed(
            "Rentang tanggal maksimum 90 hari / the date range may not exceed 90 days.", field="start_date"
        )
    return start, end


# ---------------------------------------------------------------- servicerequestupdates


def list_updates(
    db: Database, start: datetime | None, end: datetime | None, caller: Actor | None = None
) -> list[UpdateView]:
    """GET servicerequestupdates: public status changes in [start, end] (default: the last 2 hours).

    A client's own status changes are not listed to it (`caller`): FixMyStreet would import a change its
    own update caused — the `fixed` step of a CLOSED it sent — as a new council update.
    """
    end = end or utcnow()
    start = start or end - UPDATES_WINDOW
    if end < start:
        raise ValidationFailed(
            "end_date sebelum start_date / end_date is before start_date.", field="end_date"
        )
    out: list[UpdateView] = []
    with db.reading() as uow:
        events = [e for t in EVENT_STATUS for e in uow.events.of_type(t, since=start)]
        tickets: dict[int, str | None] = {}
        aliases = Open311Repository(uow.session).partner_ids(sorted({e.case_id for e in events if e.case_id}))
        for e in sorted(events, key=lambda ev: (ev.occurred_at, ev.id)):
            if e.case_id is None or _aware(e.occurred_at) > end:
                continue
            if caller is not None and e.actor == caller.name:
                continue  # never echo a partner's own update back to it
            if e.case_id not in tickets:
                case = uow.repo(CaseRepository).visible(e.case_id, PUBLIC_SCOPE)
                tickets[e.case_id] = case.ticket if case is not None else None
            ticket = tickets[e.case_id]
            if ticket is None:
                continue
            view = UpdateView(
                update_id=str(e.id),
                service_request_id=ticket,
                status=EVENT_STATUS[e.type],
                updated=_aware(e.occurred_at),
                description=_describe(e.type, e.payload or {}),
                media_url="",
            )
            out.append(view)
            # The same change for every partner report merged into this case, under its own request id.
            for report_id, alias in aliases.get(e.case_id, []):
                if alias != ticket:
                    out.append(replace(view, update_id=f"{e.id}.{report_id}", service_request_id=alias))
            if len(out) >= MAX_REQUESTS:
                break
    return out


def _acting_for(client: Actor, settings: Settings) -> tuple[Actor, bool]:
    """The actor a client's update runs as, and whether it may change status.

    Every client may comment, as itself; the back offices named in `open311_status_clients` act with
    an operator's permissions (under their own name in the log) so their status changes apply.
    """
    if client.kind != "client":
        raise PermissionDenied("Kunci API tidak sah / invalid api_key.")
    if client.name.removeprefix("client:") in settings.open311_status_clients:
        return Actor(kind="client", name=client.name, roles=frozenset({Role.OPERATOR})), True
    return client, False


def _marker(client: Actor, update_id: str | None) -> str | None:
    """The tag a client's update leaves in its note, so the same update sent twice is recognised."""
    return f"[open311 {client.name} update_id {update_id}]" if update_id else None


def _comment(description: str, media_urls: tuple[str, ...], marker: str | None) -> str:
    parts = [description.strip() or "(tanpa uraian / no description)"]
    parts += [f"media: {u}" for u in media_urls if u]
    if marker:
        parts.append(marker)
    return "\n".join(parts)[:5000]


def apply_update(db: Database, client: Actor, update: UpdateIn, settings: Settings) -> str:
    """POST servicerequestupdates: a comment or a status change from a client; returns our update id."""
    status = update.status.strip().upper().replace(" ", "_")
    if status not in UPDATE_STATUSES:
        raise ValidationFailed(
            f"status '{update.status}' tidak dikenal / unknown status; one of {', '.join(sorted(UPDATE_STATUSES))}.",
            field="status",
        )
    case_id = resolve_case_id(db, update.service_request_id)
    actor, may_change_status = _acting_for(client, settings)
    detail = case_service.case_detail(db, actor, case_id)  # NotFound unless the client may see the case
    marker = _marker(client, update.update_id)
    if marker is not None:
        # The client's own earlier notes are internal: read the whole timeline to recognise a retry.
        full = case_service.case_detail(db, system_actor("open311"), case_id).timeline
        for event in full:
            if event.type == EventType.NOTE_ADDED and marker in str(event.payload.get("text", "")):
                # The same update sent again (a retry): answer as the first time, change nothing.
                return _answer_id(full, event.id)
    check_media_urls([u for u in update.media_urls if u])
    current = CaseStatus(detail.status)
    resolution = update.description.strip() or "Ditangani melalui sistem mitra / handled by a partner system."
    steps = _plan(status, current, resolution, update.description.strip() or None)
    if steps and not may_change_status:
        raise PermissionDenied(
            f"Aplikasi '{client.name}' tidak boleh mengubah status kasus / this client may not change case status.",
            permission="open311_status",
        )
    # The note (with the partner's update id) first: it makes a retry of this update recognisable.
    note = case_service.add_note(db, actor, case_id, _comment(update.description, update.media_urls, marker))
    for step in steps:
        step(db, actor, case_id)
    return _answer_id(case_service.case_detail(db, system_actor("open311"), case_id).timeline, note.id)


Step = Callable[[Database, Actor, int], object]


def _plan(status: str, current: CaseStatus, resolution: str, note: str | None) -> list[Step]:
    """The case commands an incoming extended status means from the current status (empty: a comment)."""
    if status in _NOTE_ONLY:
        return []
    if status in _REOPEN:
        if current is CaseStatus.RESOLVED:
            return [lambda db, a, cid: case_service.reopen_case(db, a, cid, resolution)]
        if current.is_open:
            return []
        raise ValidationFailed(
            f"Kasus berstatus '{current.value}' tidak dapat dibuka lagi / a {current.value} case cannot reopen.",
            field="status",
        )
    if status in _REFUSE and current in (CaseStatus.RECEIVED, CaseStatus.VERIFIED):
        reason = f"{resolution} ({status.lower()})"
        return [lambda db, a, cid: case_service.reject_case(db, a, cid, reason)]
    steps: list[Step] = []
    if current is CaseStatus.RECEIVED:
        steps.append(lambda db, a, cid: case_service.verify_case(db, a, cid, "Open311"))
    if current.is_open:
        steps.append(lambda db, a, cid: case_service.resolve_case(db, a, cid, resolution))
    if status in _CLOSE and (current.is_open or current is CaseStatus.RESOLVED):
        steps.append(lambda db, a, cid: case_service.close_case(db, a, cid, note))
    return steps


def _answer_id(timeline: list[Any], note_id: int) -> str:
    """Our id of an update: the last public status change it caused, else its note.

    GET servicerequestupdates lists status changes by their event id, so a client that stores this id
    recognises its own change there and does not import it a second time.
    """
    answer = note_id
    for event in timeline:
        if event.id <= note_id:
            continue
        if event.type == EventType.NOTE_ADDED and not (event.payload or {}).get("context"):
            break  # the next update begins (a note a command keeps, e.g. a verify note, belongs to this one)
        if event.type in EVENT_STATUS:
            answer = event.id
    return str(answer)
