"""The 112 CAD screen (/112): call form, map, incident board and unit status board side by side.

The page is a shell; its script drives the dispatch API (`/api/v1/dispatch/...`) with the operator's
session cookie and the CSRF token. The boards, the open calls and the recommendation are server-rendered
fragments that htmx re-reads when the live stream says something changed (and every 30 s, for units whose
changes happen on no case). The case page (/112/kasus/{id}) shows units sent and response segments.
"""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from kotapintar.catalog import service as catalog_service
from kotapintar.core.access.actors import Actor
from kotapintar.core.errors import DomainError, ValidationFailed
from kotapintar.core.events.types import utcnow
from kotapintar.core.http.deps import DbDep, SettingsDep, current_actor
from kotapintar.core.http.pages import LIVE_EVENTS
from kotapintar.core.http.pages import templates as page_templates
from kotapintar.core.http.security import csrf_token_for, require_csrf
from kotapintar.core.http.templating import request_locale
from kotapintar.core.i18n import translate
from kotapintar.dispatch import board as board_service
from kotapintar.dispatch import calls as call_service
from kotapintar.dispatch import recommendation as recommendation_service
from kotapintar.dispatch.schemas import ClassifyIn

router = APIRouter(include_in_schema=False)
templates = page_templates

# The console's keyboard shortcuts (shown on the page; calltaker.js implements the same table).
SHORTCUTS: list[tuple[str, str]] = [
    ("Alt+N", "calltaker.key.new_call"),
    ("Alt+P", "calltaker.key.caller"),
    ("Alt+J", "calltaker.key.type"),
    ("Alt+L", "calltaker.key.location"),
    ("Alt+1 … Alt+5", "calltaker.key.classify"),
    ("Alt+<huruf>", "calltaker.key.answer"),
    ("Ctrl+Enter", "calltaker.key.submit"),
    ("Alt+D", "calltaker.key.dispatch"),
    ("Esc", "calltaker.key.cancel"),
]
CLASSIFICATIONS = ["genuine", "prank", "ghost", "info", "duplicate"]
# An open call is closed from the console as one of these (a genuine one needs the form: type and place).
CLOSING_CLASSES = ("prank", "ghost", "info")


def age_label(locale: str, since: datetime | None, now: datetime | None = None) -> str:
    """How long ago, CAD style: `04:35` under an hour, `2 j 05 mnt` under two days, `4 hari 11 jam`."""
    if since is None:
        return "—"
    seconds = max(0, int(((now or utcnow()) - since).total_seconds()))
    minutes, sec = divmod(seconds, 60)
    hours, minute = divmod(minutes, 60)
    if hours < 1:
        return translate("cad.age.minutes", locale, m=f"{minute:02d}", s=f"{sec:02d}")
    if hours < 48:
        return translate("cad.age.hours", locale, h=hours, m=f"{minute:02d}")
    days, hour = divmod(hours, 24)
    return translate("cad.age.days", locale, d=days, h=hour)


def _context(request: Request, settings: Any, actor: Actor, **extra: Any) -> dict[str, Any]:
    return {
        "kabupaten": "Kabupaten Kapuas" if settings.region_code == "62.03" else settings.region_code,
        "nav_items": [("/", "nav.home", False), ("/112", "calltaker.nav", request.url.path == "/112")],
        "csrf_token": csrf_token_for(request),
        "user_name": actor.name.removeprefix("user:") if actor.kind == "user" else None,
        "timezone": settings.timezone,
        "now": utcnow(),
        "age": lambda since: age_label(str(request_locale(request)), since),
        **extra,
    }


def _denied(request: Request, settings: Any, actor: Actor, exc: DomainError) -> HTMLResponse:
    context = _context(request, settings, actor, error_code=exc.code)
    return templates.TemplateResponse(request, "calltaker/login.html", context, status_code=exc.http_status)


def _fragment_denied(exc: DomainError) -> HTMLResponse:
    body = f'<p class="flash flash-error" data-error="{escape(exc.code)}">{escape(exc.message)}</p>'
    return HTMLResponse(body, status_code=exc.http_status)


@router.get("/112", response_class=HTMLResponse)
def console(request: Request, db: DbDep, settings: SettingsDep) -> HTMLResponse:
    """The CAD screen; a login form when nobody (or someone without dispatch rights) is logged in."""
    actor = current_actor(request, db)
    try:
        reference = call_service.console_reference(db, actor, settings)
        desa = board_service.desa_choices(db, actor, settings)
    except DomainError as exc:
        return _denied(request, settings, actor, exc)
    context = _context(
        request,
        settings,
        actor,
        types=reference["types"],
        desa=desa,
        shortcuts=SHORTCUTS,
        classifications=CLASSIFICATIONS,
        closing_classes=CLOSING_CLASSES,
        boundaries_url=f"/api/v1/regions?level=kecamatan&parent={settings.region_code}&simplify=0.001",
        live_url="/api/v1/stream",
        live_events=LIVE_EVENTS,
    )
    return templates.TemplateResponse(request, "calltaker/console.html", context)


@router.get("/112/papan/insiden", response_class=HTMLResponse)
def incident_board(request: Request, db: DbDep, settings: SettingsDep) -> HTMLResponse:
    """The incident board fragment: active incidents, priority, age, units on them, the case link."""
    actor = current_actor(request, db)
    try:
        rows = board_service.incident_board(db, actor)
    except DomainError as exc:
        return _fragment_denied(exc)
    context = _context(request, settings, actor, incidents=rows)
    return templates.TemplateResponse(request, "calltaker/_incidents.html", context)


@router.get("/112/papan/unit", response_class=HTMLResponse)
def unit_board(request: Request, db: DbDep, settings: SettingsDep) -> HTMLResponse:
    """The unit status board fragment: every unit, its status, time in status, station and case."""
    actor = current_actor(request, db)
    try:
        rows = board_service.unit_status_board(db, actor)
    except DomainError as exc:
        return _fragment_denied(exc)
    context = _context(request, settings, actor, units=rows)
    return templates.TemplateResponse(request, "calltaker/_units.html", context)


@router.get("/112/panggilan", response_class=HTMLResponse)
def open_calls(request: Request, db: DbDep, settings: SettingsDep) -> HTMLResponse:
    """The open (unclassified) calls fragment, each to resume in the form or to close."""
    actor = current_actor(request, db)
    try:
        rows = board_service.open_calls(db, actor)
    except DomainError as exc:
        return _fragment_denied(exc)
    context = _context(request, settings, actor, calls=rows, closing_classes=CLOSING_CLASSES)
    return templates.TemplateResponse(request, "calltaker/_open_calls.html", context)


@router.post("/112/panggilan/{call_id}/tutup", dependencies=[Depends(current_actor), Depends(require_csrf)])
def close_call(
    call_id: int,
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    classification: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """Close an unclassified call as a prank, an empty call or a request for information (no case)."""
    actor = current_actor(request, db)
    htmx = request.headers.get("hx-request") == "true"
    try:
        if classification not in CLOSING_CLASSES:
            raise ValidationFailed(
                translate("cad.close_choose", request_locale(request)),
                field="classification",
                code="closing_class_required",
            )
        call_service.classify_call(
            db,
            actor,
            call_id,
            ClassifyIn.model_validate({"classification": classification}),
            settings=settings,
        )
    except DomainError as exc:
        if not htmx:
            return _denied(request, settings, actor, exc)
        rows = board_service.open_calls(db, actor) if exc.http_status != 403 else []
        context = _context(
            request, settings, actor, calls=rows, closing_classes=CLOSING_CLASSES, problem=exc.message
        )
        return templates.TemplateResponse(
            request, "calltaker/_open_calls.html", context, status_code=exc.http_status
        )
    if not htmx:
        return RedirectResponse("/112", status_code=303)
    return open_calls(request, db, settings)


@router.get("/112/kasus/{case_id}/rekomendasi", response_class=HTMLResponse)
def recommendation(case_id: int, request: Request, db: DbDep, settings: SettingsDep) -> HTMLResponse:
    """The recommendation as a compact table: per needed kind the chosen units and a few near alternatives."""
    actor = current_actor(request, db)
    try:
        rec: dict[str, Any] | None = recommendation_service.recommend_for_case(
            db, actor, case_id, settings=settings
        )
        problem = None
    except DomainError as exc:
        if exc.http_status in (401, 403):
            return _fragment_denied(exc)
        rec, problem = None, exc.message
    parts = board_service.compact_recommendation(rec) if rec else []
    context = _context(
        request,
        settings,
        actor,
        rec=rec,
        parts=parts,
        problem=problem,
        case_id=case_id,
        agency_names=catalog_service.agency_labels(db),
    )
    return templates.TemplateResponse(request, "calltaker/_recommendation.html", context)


@router.get("/112/kasus/{case_id}", response_class=HTMLResponse)
def case_page(case_id: int, request: Request, db: DbDep, settings: SettingsDep) -> HTMLResponse:
    """One case as dispatch sees it: units sent (with override reasons) and its response-time segments."""
    actor = current_actor(request, db)
    try:
        view = recommendation_service.case_dispatch_view(db, actor, case_id)
    except DomainError as exc:
        return _denied(request, settings, actor, exc)
    return templates.TemplateResponse(
        request, "calltaker/case.html", _context(request, settings, actor, **view)
    )
