"""Citizen pages: report a problem (/lapor) and follow it (/lacak/{ticket}), mobile first, working without JS.

Citizens have no login, so the form gets an anonymous session cookie of its own to bind its CSRF token.
The tracking page shows the public timeline only; a *rahasia* report is shown (status only) to whoever
holds the tracking link with its key `k`, which only the reporter received.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeSerializer
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from kotapintar.cases import service as case_service
from kotapintar.cases.public import PublicCase, case_clock, public_case
from kotapintar.cases.schemas import ReportIn
from kotapintar.catalog import service as catalog_service
from kotapintar.core import hooks
from kotapintar.core.access.actors import channel_actor
from kotapintar.core.db.database import Database
from kotapintar.core.errors import DomainError, NotFound
from kotapintar.core.http.deps import DbDep, ReadDbDep, SettingsDep
from kotapintar.core.http.security import CSRF_FIELD, issue_csrf_token, verify_csrf_token
from kotapintar.core.http.templating import make_templates, request_locale
from kotapintar.core.settings import Settings
from kotapintar.intake import placing
from kotapintar.intake.abuse import RateLimited, peek_ip
from kotapintar.intake.chat import ReplyTo, submit_citizen_report
from kotapintar.intake.guard import check_report_text
from kotapintar.intake.media import (
    StoredPhoto,
    Upload,
    discard_abandoned_photos,
    store_photos,
    thumb_data_uri,
    unlinked_photos,
)

router = APIRouter(include_in_schema=False)
templates = make_templates()
ANON_COOKIE = "kp_anon"
KUALA_KAPUAS = (114.39, -3.0)
TEXT_FIELDS = ("service_code", "description", "lon", "lat", "address", "name", "phone", "email")
KEPT_FIELD = "kept_photo"  # a photo received with an earlier attempt of this form: "<token>.<signature>"


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
        kept_photos=values.get("kept_photos") or [],
        tile_url=settings.tile_url,
        tile_attribution=settings.tile_attribution,
    )
    name = "citizen/form.html" if chosen else "citizen/services.html"
    response = templates.TemplateResponse(request, name, context, status_code=status_code, headers=headers)
    return _with_cookie(response, cookie, settings)


def _field_of(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] == "reporter":
        return parts[-1]
    return parts[0] if parts else "description"


def _message(locale: str, key: str, fallback: str, **placeholders: object) -> str:
    from kotapintar.core.i18n import translate

    text = translate(key, locale, **placeholders)
    return fallback if text == key else text


def _pydantic_message(locale: str, field: str, err: Any) -> str:
    """A validation error of the report model in the citizen's words (never Pydantic's English)."""
    kind = str(err.get("type", ""))
    ctx = err.get("ctx") or {}
    if field == "description" and kind == "string_too_short":
        return _message(locale, "citizen.error.description_short", "", n=ctx.get("min_length", 3))
    if kind == "string_too_long":
        return _message(locale, "citizen.error.too_long", "", n=ctx.get("max_length", ""))
    if field == "phone":
        return _message(locale, "citizen.error.phone", "")
    if field == "email":
        return _message(locale, "citizen.error.email", "")
    if field in ("lon", "lat"):
        return _message(locale, "citizen.place.incomplete", "")
    return _message(locale, "citizen.error.invalid", "")


def _domain_message(locale: str, exc: DomainError) -> str:
    """A refusal of the intake rules in the citizen's words: by code where we have one, else the
    Indonesian half of the bilingual message."""
    if exc.code == "empty_text":
        return _message(locale, "citizen.error.description_short", "", n=3)
    if exc.code == "invalid_text":
        return _message(locale, "citizen.error.invalid", "")
    return exc.message.split(" / ", 1)[0] if locale != "en" else exc.message.split(" / ", 1)[-1]


def _number(raw: str, low: float, high: float) -> float | None:
    try:
        value = float(raw.replace(",", "."))
    except ValueError:
        return None
    return value if low <= value <= high and value == value else None


def _photo_ref(settings: Settings, sid: str, token: str) -> str:
    """The value the re-rendered form carries for a stored photo: its token signed for this browser, so a
    form can only ever attach the photos its own browser sent."""
    sig = hmac.new(settings.secret_key.encode(), f"kept-photo:{sid}:{token}".encode(), hashlib.sha256)
    return f"{token}.{sig.hexdigest()[:24]}"


def _kept_tokens(form: Any, settings: Settings, sid: str) -> list[str]:
    tokens = []
    for ref in form.getlist(KEPT_FIELD):
        token = str(ref).rsplit(".", 1)[0]
        if isinstance(ref, str) and hmac.compare_digest(ref, _photo_ref(settings, sid, token)):
            tokens.append(token)
    return tokens


def _place_values(values: dict[str, Any], form: Any) -> tuple[float | None, str | None]:
    """The accuracy and source of the point (hidden fields the map script fills), checked; a value the
    server cannot use is dropped, never shown as an error (the citizen did not type it)."""
    accuracy = _number(str(form.get("location_accuracy_m") or ""), 0, 100_000)
    source = str(form.get("location_source") or "")
    has_point = bool(values["lon"] or values["lat"])
    if source not in placing.SOURCES or (source in ("gps", "map", "manual") and not has_point):
        source = ""
    if not source:
        source = "manual" if has_point else ("address" if values["address"] else "")
    if source != "gps":
        accuracy = None
    values["location_accuracy_m"] = "" if accuracy is None else f"{accuracy:g}"
    values["location_source"] = source
    return accuracy, source or None


def _check_place(
    db: Database, settings: Settings, locale: str, values: dict[str, Any], errors: dict[str, str]
) -> None:
    if not values["lon"] and not values["lat"]:
        if not values["address"]:
            errors["lon"] = _message(
                locale, "citizen.error.location", "Tandai lokasi di peta atau tulis alamatnya."
            )
        return
    lon = _number(values["lon"], -1e9, 1e9) if values["lon"] else None
    lat = _number(values["lat"], -1e9, 1e9) if values["lat"] else None
    problem = placing.place_problem(db, settings, lon, lat)
    if problem is not None:
        errors["lon"] = _message(locale, problem.key, "", **problem.placeholders)  # replaces a range error


def _check_text(locale: str, settings: Settings, values: dict[str, Any], errors: dict[str, str]) -> None:
    description = values["description"]
    if len(description) > settings.max_description_chars:
        errors.setdefault(
            "description", _message(locale, "citizen.error.too_long", "", n=settings.max_description_chars)
        )
    try:
        check_report_text(description, values.get("attributes") or {}, values["address"] or None)
    except DomainError as exc:
        errors.setdefault(str(exc.details.get("field") or "description"), _domain_message(locale, exc))


_SWEEP_EVERY_S = 3600.0
_last_sweep = [0.0]


def _sweep_abandoned(db: Database, settings: Settings) -> None:
    """Now and then (hourly per process), delete the photos of forms never sent after an error: the form is
    the only place that keeps photos unlinked, so it cleans up after itself without a job of its own."""
    now = time.monotonic()
    if now - _last_sweep[0] < _SWEEP_EVERY_S:
        return
    _last_sweep[0] = now
    discard_abandoned_photos(db, settings)


def _store_new_photos(
    db: Database, settings: Settings, locale: str, uploads: list[Upload], room: int, confidential: bool
) -> tuple[list[dict[str, Any]], str | None]:
    """Store each good photo on its own (a bad one does not take the good ones with it); the error names the
    refused ones. Photos beyond `room` are refused with the limit."""
    _sweep_abandoned(db, settings)
    stored: list[dict[str, Any]] = []
    problems: list[str] = []
    for i, upload in enumerate(uploads):
        if len(stored) >= room:
            problems.append(_message(locale, "citizen.photos.too_many", "", most=settings.max_photos))
            break
        try:
            stored += store_photos(
                db,
                channel_actor("web"),
                [upload],
                channel="web",
                confidential=confidential,
                settings=settings,
            )
        except DomainError as exc:
            problems.append(_domain_message(locale, exc).replace("Foto ke-1", f"Foto ke-{i + 1}"))
    return stored, (" ".join(problems) or None)


@router.post("/lapor", response_class=HTMLResponse)
async def submit_page(request: Request, db: DbDep, settings: SettingsDep) -> Response:
    """Receive the plain form post (multipart, photos included). Every problem comes back at once, next to
    its field; photos already received are kept (stored, carried as signed tokens), never asked for again."""
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
    errors: dict[str, str] = {}
    attributes = _attributes(locale, chosen, form, errors)
    values["attributes"] = attributes
    accuracy, source = _place_values(values, form)
    reporter = {k: values[k] or None for k in ("name", "phone", "email")}
    data: dict[str, Any] = {
        "service_code": chosen["code"],
        "description": values["description"],
        "lon": values["lon"].replace(",", ".") or None,
        "lat": values["lat"].replace(",", ".") or None,
        "address": values["address"] or None,
        "location_accuracy_m": accuracy,
        "location_source": source,
        "channel": "web",
        "reporter": reporter if any(reporter.values()) else None,
        "anonymous": values["anonymous"],
        "confidential": values["confidential"],
        "attributes": attributes,
    }
    report: ReportIn | None = None
    try:
        report = ReportIn.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            field = _field_of(tuple(err.get("loc", ())))
            errors.setdefault("lon" if field == "lat" else field, _pydantic_message(locale, field, err))
    _check_place(db, settings, locale, values, errors)
    _check_text(locale, settings, values, errors)
    ip = request.client.host if request.client else None
    kept = unlinked_photos(db, _kept_tokens(form, settings, sid))
    uploads = [
        Upload(await f.read(), f.filename or "")
        for f in form.getlist("photos")
        if isinstance(f, UploadFile) and f.filename
    ]
    uploads = [u for u in uploads if u.data]
    try:
        if uploads:
            peek_ip(settings, ip)  # an address at its limit gets no photo work done
        new, photo_error = _store_new_photos(
            db, settings, locale, uploads, settings.max_photos - len(kept), values["confidential"]
        )
    except RateLimited as exc:
        values["kept_photos"] = _kept_view(settings, sid, kept)
        return _refused(request, settings, services, chosen, values, exc)
    kept += new
    if photo_error:
        errors["photos"] = photo_error
    values["kept_photos"] = _kept_view(settings, sid, kept)
    if errors or report is None:
        return _render_form(
            request,
            settings,
            services,
            chosen,
            values=values,
            errors=errors,
            status_code=422,
        )
    reply_to = _reply_to(report)
    try:
        result = submit_citizen_report(
            db,
            channel_actor("web"),
            report,
            settings=settings,
            uploads=[StoredPhoto(m) for m in kept],
            ip=ip,
            reply_to=reply_to,
            idempotency_key=f"web:{sid}:{hashlib.sha256(repr(sorted(data.items())).encode()).hexdigest()[:24]}",
        )
    except RateLimited as exc:
        values["kept_photos"] = _kept_view(settings, sid, kept)
        return _refused(request, settings, services, chosen, values, exc)
    except DomainError as exc:
        field = str(exc.details.get("field") or "form")
        errors = {"lon" if field in ("lat", "location") else field: _domain_message(locale, exc)}
        return _render_form(
            request,
            settings,
            services,
            chosen,
            values=values,
            errors=errors,
            status_code=422,
        )
    url = f"/lacak/{result.ticket}?k={tracking_key(settings, result.ticket)}&baru=1"
    return RedirectResponse(url, status_code=303)


def _attributes(locale: str, chosen: dict[str, Any], form: Any, errors: dict[str, str]) -> dict[str, str]:
    """The service's questions as answered; a required one left empty is an error next to it."""
    answers = {
        a["code"]: str(form.get(f"attr_{a['code']}") or "").strip()
        for a in chosen["attributes"]
        if str(form.get(f"attr_{a['code']}") or "").strip()
    }
    for a in chosen["attributes"]:
        if a.get("required") and a["code"] not in answers:
            errors[f"attr_{a['code']}"] = _message(locale, "citizen.error.required", "Wajib diisi.")
    return answers


def _reply_to(report: ReportIn) -> ReplyTo | None:
    """Where the reporter wants to hear of progress: SMS to the phone, else email."""
    if report.reporter and report.reporter.phone:
        return ReplyTo("sms", report.reporter.phone)
    if report.reporter and report.reporter.email:
        return ReplyTo("email", str(report.reporter.email))
    return None


def _kept_view(settings: Settings, sid: str, kept: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The photos already received, as the form shows them: the signed reference and a thumbnail."""
    return [
        {
            "ref": _photo_ref(settings, sid, str(m["token"])),
            "thumb": thumb_data_uri(settings, str(m["token"])),
        }
        for m in kept
    ]


def _refused(
    request: Request,
    settings: Settings,
    services: list[dict[str, Any]],
    chosen: dict[str, Any],
    values: dict[str, Any],
    exc: RateLimited,
) -> Response:
    return _render_form(
        request,
        settings,
        services,
        chosen,
        values=values,
        errors={"form": _domain_message(str(request_locale(request)), exc)},
        status_code=429,
        headers={"Retry-After": str(exc.retry_after_s)},
    )


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
    ticket: str, request: Request, db: ReadDbDep, settings: SettingsDep, k: str | None = None, baru: int = 0
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
        clock_due=case_clock(db, case.id),
        own_link=f"/lacak/{case.ticket}?k={k}" if k else None,
    )
    # The answer loop (feedback, a higher layer): approved answers, confirm/dispute, survey link.
    sid, cookie = _anon_session(request, settings)
    key_ok = bool(k) and hmac.compare_digest(str(k), tracking_key(settings, case.ticket or ""))
    context.update(
        loop=hooks.citizen_loop(db, case.id) if hooks.citizen_loop.wired else None,
        loop_key=k if key_ok else None,
        loop_flash=request.query_params.get("tanggapan"),
        loop_error=request.query_params.get("galat"),
        csrf_token=issue_csrf_token(sid, settings.secret_key),
    )
    response = templates.TemplateResponse(request, "citizen/track.html", context)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return _with_cookie(response, cookie, settings)
