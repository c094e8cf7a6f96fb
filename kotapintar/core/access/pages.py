"""Login and logout pages for staff: a form POST sets the signed session cookie (CSRF-protected)."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from kotapintar.core.access import auth
from kotapintar.core.access.throttle import LoginThrottled
from kotapintar.core.errors import NotAuthenticated
from kotapintar.core.http.deps import SESSION_COOKIE, ActorDep, DbDep, SettingsDep, current_actor
from kotapintar.core.http.pages import home_for, page_context, templates
from kotapintar.core.http.security import require_csrf
from kotapintar.core.http.templating import request_locale
from kotapintar.core.i18n import translate

router = APIRouter(include_in_schema=False)

ANON_COOKIE = "kp_anon"


def anonymous_session(request: Request) -> None:
    """Before login, bind CSRF tokens to a random anonymous session cookie (set on the login page)."""
    if getattr(request.state, "session_id", None):
        return
    anon = request.cookies.get(ANON_COOKIE)
    if anon and len(anon) >= 16:
        request.state.session_id = "anon:" + anon


def _safe_next(value: str | None) -> str | None:
    """Only local paths are followed after login (no open redirect)."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return None


def _login_page(
    request: Request, settings: SettingsDep, next_url: str | None, error: str | None, status: int
) -> Response:
    anon = request.cookies.get(ANON_COOKIE)
    fresh = None
    if not anon or len(anon) < 16:
        fresh = secrets.token_urlsafe(24)
        request.state.session_id = "anon:" + fresh
    else:
        request.state.session_id = "anon:" + anon
    messages = [("error", error)] if error else []
    context = page_context(request, settings, None, next_url=next_url or "", messages=messages)
    response = templates.TemplateResponse(request, "ui/login.html", context, status_code=status)
    if fresh is not None:
        response.set_cookie(
            ANON_COOKIE,
            fresh,
            httponly=True,
            samesite="lax",
            secure=settings.cookie_secure,
            max_age=3600 * 12,
        )
    return response


@router.get("/masuk", response_class=HTMLResponse)
def login_form(request: Request, settings: SettingsDep, actor: ActorDep, next: str | None = None) -> Response:
    """The staff login form; a logged-in user goes straight to their page."""
    if actor.kind == "user":
        return RedirectResponse(_safe_next(next) or home_for(actor), status_code=303)
    return _login_page(request, settings, _safe_next(next), None, 200)


@router.post("/masuk", dependencies=[Depends(anonymous_session), Depends(require_csrf)])
def login(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    username: Annotated[str, Form(max_length=80)] = "",
    password: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """Check the password; on success set the session cookie (lifetime = session timeout) and redirect."""
    try:
        user = auth.authenticate(
            db,
            username.strip(),
            password,
            address=request.client.host if request.client else None,
            production=settings.environment == "production",
            throttle_storage=settings.rate_limit_storage_url,
        )
    except LoginThrottled as exc:
        response = _login_page(request, settings, _safe_next(next), exc.message, 429)
        response.headers["Retry-After"] = str(exc.details.get("retry_after_s", 60))
        return response
    except NotAuthenticated:
        message = translate("ui.login.failed", request_locale(request))
        return _login_page(request, settings, _safe_next(next), message, 401)
    actor = auth.actor_for(user)
    response = RedirectResponse(_safe_next(next) or home_for(actor), status_code=303)
    sid = auth.open_session(db, user, settings.session_max_age_s)
    response.set_cookie(
        SESSION_COOKIE,
        request.app.state.signer.sign(user.id, sid),
        max_age=settings.session_max_age_s,
        httponly=True,
        secure=settings.cookie_secure,
        samesite="lax",
    )
    return response


@router.post("/keluar", dependencies=[Depends(current_actor), Depends(require_csrf)])
def logout(request: Request, db: DbDep, actor: ActorDep) -> Response:
    """End the browser session (server-side too: a copied cookie stops working)."""
    auth.close_session(db, getattr(request.state, "session_id", None))
    response = RedirectResponse("/masuk?ok=logged_out", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response
