"""Citizen pages: report a problem (/lapor) and follow it (/lacak/{ticket}), mobile first, working without JS.

Citizens have no login, so the form gets an anonymous session cookie of its own to bind its CSRF token.
The tracking page shows the public timeline only; a *rahasia* report is shown (status only) to whoever
holds the tracking link with its key `k`, which only the reporter received.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeSerializer
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from kotapintar.cases import service as case_service
from kotapintar.cases.public import PublicCase, public_case
from kotapintar.cases.schemas import ReportIn
from kotapintar.catalog import service as catalog_service
from kotapintar.core.access.actors import channel_actor
from kotapintar.core.db.database import Database
from kotapintar.core.errors import DomainError, NotFound
from kotapintar.core.http.deps import DbDep, SettingsDep
from kotapintar.core.http.security import CSRF_FIELD, issue_csrf_token, verify_csrf_token
from kotapintar.core.http.templating import make_templates, request_locale
from kotapintar.core.settings import Settings
from kotapintar.intake.abuse import RateLimited
from kotapintar.intake.chat import ReplyTo, submit_citizen_report
from kotapintar.intake.media import Upload

router = APIRouter(include_in_schema=False)
templates = make_templates()
ANON_COOKIE = "kp_anon"
KUALA_KAPUAS = (114.39, -3.0)
TEXT_FIELDS = (
    "service_code",
    "description",
    "lon",
    "lat",
    "address",
    "name",
    "phone",
    "email",
    "location_source",
    "location_accuracy_m",
)


def _context(request: Request, settings: Settings, **extra: Any) -> dict[str, Any]:
    path = request.url.path
    return {
        "kabupaten": "Kabupaten Kapuas" if settings.region_code == "62.03" else settings.region_code,
        "nav_items": [
            ("/lapor", "citizen.nav.report", path.startswith("/lapor")),
            ("/lacak", "citizen.nav.track", path.startswith("/lacak")),
        ],
        "timezone": settings.timezone,
        **extra,
    }


def _anon_session(request: Request, settings: Settings) -> tuple[str, str | None]:
    """The anonymous session id of this browser, and a new cookie value when it had none."""
    signer = URLSafeSerializer(settings.secret_key, salt="kotapintar.anon-session")
    cookie = request.cookies.get(ANON_COOKIE)
    if cookie:
        try:
            return str(signer.loads(cookie)), None
        except BadSignature:
            cookie = None  # tampered or from another secret: issue a fresh anonymous session below
    sid = secrets.token_urlsafe(18)
    return sid, str(signer.dumps(sid))


def _with_cookie(response: Response, cookie: str | None, settings: Settings) -> Response:
    if cookie:
        response.set_cookie(
            ANON_COOKIE, cookie, httponly=True, samesite="lax", secure=settings.cookie_secure, max_age=86400
        )
    return response


def tracking_key(settings: Settings, ticket: str) -> str:
    """The key in a reporter's tracking link that opens a *rahasia* report's status."""
    return hmac.new(settings.secret_key.encode(), f"track:{ticket}".encode(), hashlib.sha256).hexdigest()[:20]


def _services(db: Database, locale: str) -> list[dict[str, Any]]:
    rows = catalog_service.services(db)
    english = locale == "en"
    return [
        {
            "code": s.code,
            "name": (s.name_en if english and s.name_en else s.name),
            "description": (s.description_en if english and s.description_en else s.description),
            "emergency": s.emergency,
            "attributes": sorted(
                [a for a in (s.attributes or []) if a.get("variable", True)], key=lambda a: a.get("order", 0)
            ),
        }
        for s in rows
        if s.active
    ]


@router.get("/lapor", response_class=HTMLResponse)
def report_page(request: Request, db: DbDep, settings: SettingsDep, layanan: str | None = None) -> Response:
    """Step 1: choose a service; step 2 (`?layanan=code`): the report form with that service's questions."""
    services = _services(db, str(request_locale(request)))
    chosen = next((s for s in services if s["code"] == layanan), None)
    return _render_form(request, settings, services, chosen, values={}, errors={})


def _render_form(
    request: Request,
    settings: Settings,
    services: list[dict[str, Any]],
    chosen: dict[str, Any] | None,
    *,
    values: dict[str, Any],
    errors: dict[str, str],
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    sid, cookie = _anon_session(request, settings)
    request.state.session_id = sid
    context = _context(
        request,
        settings,
        services=services,
        chosen=chosen,
        values=values,
        errors=errors,
        csrf_token=issue_csrf_token(sid, settings.secret_key),
        center=KUALA_KAPUAS,
        max_photos=settings.max_photos,
        max_chars=settings.max_description_chars,
    )
    name = "citizen/form.html" if chosen else "citizen/services.html"
    response = templates.TemplateResponse(request, name, context, status_code=status_code, headers=headers)
    return _with_cookie(response, cookie, settings)


def _field_of(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] == "reporter":
        return parts[-1]
    return parts[0] if parts else "description"


def _message(locale: str, key: str, fallback: str) -> str:
    from kotapintar.core.i18n import translate

    text = translate(key, locale)
    return fallback if text == key else text


def _accuracy(text: str) -> float | None:
    """The browser's stated accuracy in metres, when it is a plain non-negative number (else not recorded)."""
    try:
        value = round(float(text), 1)
    except ValueError:
        return None
    return value if 0 <= value <= 1_000_000 else None


@router.post("/lapor", response_class=HTMLResponse)
async def submit_page(request: Request, db: DbDep, settings: SettingsDep) -> Response:
    """Receive the plain form post (multipart, photos included); errors come back next to their fields."""
    locale = str(request_locale(request))
    form = await request.form()
    values: dict[str, Any] = {k: str(form.get(k) or "").strip() for k in TEXT_FIELDS}
    values["anonymous"] = form.get("anonymous") == "1"
    values["confidential"] = form.get("confidential") == "1"
    services = _services(db, locale)
    chosen = next((s for s in services if s["code"] == values["service_code"]), None)
    sid, _cookie = _anon_session(request, settings)
    token = form.get(CSRF_FIELD)
    if not verify_csrf_token(token if isinstance(token, str) else None, sid, settings.secret_key):
        refused = {"form": _message(locale, "error.csrf_failed", "CSRF")}
        return _render_form(
            request, settings, services, chosen, values=values, errors=refused, status_code=403
        )
    if chosen is None:
        missing = {"service_code": _message(locale, "citizen.error.service", "Pilih layanan.")}
        return _render_form(request, settings, services, None, values=values, errors=missing, status_code=422)
    attributes = {
        a["code"]: str(form.get(f"attr_{a['code']}") or "").strip()
        for a in chosen["attributes"]
        if str(form.get(f"attr_{a['code']}") or "").strip()
    }
    values["attributes"] = attributes
    errors: dict[str, str] = {}
    for a in chosen["attributes"]:
        if a.get("required") and a["code"] not in attributes:
            errors[f"attr_{a['code']}"] = _message(locale, "citizen.error.required", "Wajib diisi.")
    uploads = [
        Upload(await f.read(), f.filename or "")
        for f in form.getlist("photos")
        if isinstance(f, UploadFile) and f.filename
    ]
    reporter = {k: values[k] or None for k in ("name", "phone", "email")}
    data: dict[str, Any] = {
        "service_code": chosen["code"],
        "description": values["description"],
        "lon": values["lon"] or None,
        "lat": values["lat"] or None,
        "address": values["address"] or None,
        "location_source": values["location_source"] if values["location_source"] in ("gps", "map") else None,
        "location_accuracy_m": _accuracy(values["location_accuracy_m"]),
        "channel": "web",
        "reporter": reporter if any(reporter.values()) else None,
        "anonymous": values["anonymous"],
        "confidential": values["confidential"],
        "attributes": attributes,
    }
    if not values["lon"] and not values["lat"] and not values["address"]:
        errors["lon"] = _message(
            locale, "citizen.error.location", "Tandai lokasi di peta atau tulis alamatnya."
        )
    try:
        report = ReportIn.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            errors.setdefault(_field_of(tuple(err.get("loc", ()))), str(err.get("msg", "")))
        report = None
    if errors or report is None:
        return _render_form(
            request, settings, services, chosen, values=values, errors=errors, status_code=422
        )
    reply_to = None
    if report.reporter and report.reporter.phone:
        reply_to = ReplyTo("sms", report.reporter.phone)
    elif report.reporter and report.reporter.email:
        reply_to = ReplyTo("email", str(report.reporter.email))
    try:
        result = submit_citizen_report(
            db,
            channel_actor("web"),
            report,
            settings=settings,
            uploads=uploads,
            ip=request.client.host if request.client else None,
            reply_to=reply_to,
            idempotency_key=f"web:{sid}:{hashlib.sha256(repr(sorted(data.items())).encode()).hexdigest()[:24]}",
        )
    except RateLimited as exc:
        errors = {"form": exc.message}
        return _render_form(
            request,
            settings,
            services,
            chosen,
            values=values,
            errors=errors,
            status_code=429,
            headers={"Retry-After": str(exc.retry_after_s)},
        )
    except DomainError as exc:
        field = str(exc.details.get("field") or "form")
        errors = {"lon" if field in ("lat", "location") else field: exc.message}
        return _render_form(
            request, settings, services, chosen, values=values, errors=errors, status_code=422
        )
    url = f"/lacak/{result.ticket}?k={tracking_key(settings, result.ticket)}&baru=1"
    return RedirectResponse(url, status_code=303)


@router.get("/lacak", response_class=HTMLResponse)
def track_lookup(request: Request, settings: SettingsDep, tiket: str | None = None) -> Response:
    """A box to type a ticket number; submitting it opens that ticket's page."""
    if tiket:
        return RedirectResponse(f"/lacak/{tiket.strip().upper()}", status_code=303)
    return templates.TemplateResponse(
        request, "citizen/track.html", _context(request, settings, case=None, ticket=None)
    )


def _public_view(db: Database, settings: Settings, ticket: str, key: str | None) -> tuple[PublicCase, bool]:
    """The case as the public may see it; a *rahasia* one only with the right key, and then status only."""
    case_id = case_service.case_by_ticket(db, ticket)
    try:
        return public_case(db, case_id), False
    except NotFound:
        if not key or not hmac.compare_digest(key, tracking_key(settings, ticket.upper())):
            raise
    return public_case(db, case_id, rahasia_by_key=True), True


@router.get("/lacak/{ticket}", response_class=HTMLResponse)
def track_page(
    ticket: str, request: Request, db: DbDep, settings: SettingsDep, k: str | None = None, baru: int = 0
) -> Response:
    """The public view of one report: status, responsible agency, expected time, answers and history."""
    try:
        case, hidden = _public_view(db, settings, ticket, k)
    except NotFound:
        context = _context(request, settings, case=None, ticket=ticket)
        return templates.TemplateResponse(request, "citizen/track.html", context, status_code=404)
    agency = catalog_service.agency(db, case.agency_code)
    photos = (
        []
        if hidden
        else [m for r in case.reports for m in (r.media or []) if isinstance(m, dict) and "thumb_url" in m]
    )
    context = _context(
        request,
        settings,
        case=case,
        ticket=case.ticket,
        hidden=hidden,
        agency_name=agency.name if agency else None,
        photos=photos,
        just_sent=bool(baru),
        own_link=f"/lacak/{case.ticket}?k={k}" if k else None,
    )
    response = templates.TemplateResponse(request, "citizen/track.html", context)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
