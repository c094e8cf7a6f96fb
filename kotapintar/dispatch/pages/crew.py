"""The field-crew page (/unit/{code}): the assignment, the way there, status buttons and GPS sharing.

Crews log in with their unit's token (`kotapintar dispatch unit-token CODE` prints the link): the first
visit with `?token=` stores it in an HttpOnly, SameSite=Strict cookie and drops it from the address; the
page's calls send the custom header `X-Kp-Unit` so no other site can make them. An agency officer of the
unit's agency (or an operator) logged in with the session cookie may use the page too.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from kotapintar.core.access.actors import Actor
from kotapintar.core.errors import DomainError
from kotapintar.core.http.deps import DbDep, SettingsDep, current_actor
from kotapintar.core.http.security import csrf_token_for
from kotapintar.core.http.templating import make_templates
from kotapintar.dispatch import units as unit_service
from kotapintar.dispatch.api import UNIT_COOKIE

router = APIRouter(include_in_schema=False)
templates = make_templates()


@router.get("/unit/{code}", response_class=HTMLResponse)
def crew_page(
    code: str, request: Request, db: DbDep, settings: SettingsDep, token: str | None = None
) -> Response:
    """The crew's page of one unit."""
    if token is not None:
        unit_service.actor_for_unit_token(
            db, settings, code, token
        )  # refuses a wrong token before storing it
        response = RedirectResponse(f"/unit/{code}", status_code=303)
        response.set_cookie(
            UNIT_COOKIE,
            f"{code}:{token}",
            max_age=30 * 24 * 3600,
            httponly=True,
            secure=settings.cookie_secure,
            samesite="strict",
        )
        return response
    actor: Actor
    cookie_code, _, cookie_token = request.cookies.get(UNIT_COOKIE, "").partition(":")
    crew_cookie = cookie_code == code and bool(cookie_token)
    try:
        if crew_cookie:
            actor = unit_service.actor_for_unit_token(db, settings, code, cookie_token)
        else:
            actor = current_actor(request, db)
        detail = unit_service.unit_detail(db, actor, code)
    except DomainError as exc:
        denied = {"code": code, "error_code": exc.code}
        return templates.TemplateResponse(request, "crew/denied.html", denied, status_code=exc.http_status)
    context: dict[str, Any] = {
        **detail,
        "code": code,
        "crew_cookie": crew_cookie,
        "csrf_token": None if crew_cookie else csrf_token_for(request),
        "timezone": settings.timezone,
    }
    return templates.TemplateResponse(request, "crew/unit.html", context)
