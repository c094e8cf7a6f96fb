"""The 112 call-taker console (/112): a keyboard-first page from a ringing call to dispatched units.

The page is a shell; its script drives the dispatch API (`/api/v1/dispatch/...`) with the operator's
session cookie and the CSRF token. The case page (/112/kasus/{id}) shows units sent and response segments.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from kotapintar.core.access.actors import Actor
from kotapintar.core.errors import DomainError
from kotapintar.core.http.deps import DbDep, SettingsDep, current_actor
from kotapintar.core.http.security import csrf_token_for
from kotapintar.core.http.templating import make_templates
from kotapintar.dispatch import calls as call_service
from kotapintar.dispatch import recommendation as recommendation_service

router = APIRouter(include_in_schema=False)
templates = make_templates()

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


def _context(request: Request, settings: Any, actor: Actor, **extra: Any) -> dict[str, Any]:
    return {
        "kabupaten": "Kabupaten Kapuas" if settings.region_code == "62.03" else settings.region_code,
        "nav_items": [("/", "nav.home", False), ("/112", "calltaker.nav", request.url.path == "/112")],
        "csrf_token": csrf_token_for(request),
        "user_name": actor.name.removeprefix("user:") if actor.kind == "user" else None,
        "timezone": settings.timezone,
        **extra,
    }


@router.get("/112", response_class=HTMLResponse)
def console(request: Request, db: DbDep, settings: SettingsDep) -> HTMLResponse:
    """The call-taker console; a login form when nobody (or someone without dispatch rights) is logged in."""
    actor = current_actor(request, db)
    try:
        reference = call_service.console_reference(db, actor, settings)
    except DomainError as exc:
        context = _context(request, settings, actor, error_code=exc.code)
        return templates.TemplateResponse(
            request, "calltaker/login.html", context, status_code=exc.http_status
        )
    context = _context(
        request,
        settings,
        actor,
        types=reference["types"],
        desa=reference["desa"],
        shortcuts=SHORTCUTS,
        classifications=CLASSIFICATIONS,
        boundaries_url=f"/api/v1/regions?level=kecamatan&parent={settings.region_code}&simplify=0.001",
    )
    return templates.TemplateResponse(request, "calltaker/console.html", context)


@router.get("/112/kasus/{case_id}", response_class=HTMLResponse)
def case_page(case_id: int, request: Request, db: DbDep, settings: SettingsDep) -> HTMLResponse:
    """One case as dispatch sees it: units sent (with override reasons) and its response-time segments."""
    actor = current_actor(request, db)
    try:
        view = recommendation_service.case_dispatch_view(db, actor, case_id)
    except DomainError as exc:
        context = _context(request, settings, actor, error_code=exc.code)
        return templates.TemplateResponse(
            request, "calltaker/login.html", context, status_code=exc.http_status
        )
    return templates.TemplateResponse(
        request, "calltaker/case.html", _context(request, settings, actor, **view)
    )
