"""Logging in: bearer tokens for API clients, a signed session cookie for browsers."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request, Response
from pydantic import BaseModel

from kotapintar.core.access import auth
from kotapintar.core.errors import NotAuthenticated
from kotapintar.core.http.deps import SESSION_COOKIE, DbDep, SettingsDep, UserDep
from kotapintar.core.http.security import csrf_token_for, require_same_origin
from kotapintar.core.settings import Settings

router = APIRouter(prefix="/api/v1", tags=["auth"])


class TokenOut(BaseModel):
    """A bearer token (OAuth2 password-flow shape)."""

    access_token: str
    token_type: str = "bearer"
    expires_in: int


class MeOut(BaseModel):
    """Who the caller is."""

    username: str
    agency_code: str | None
    roles: list[str]
    permissions: list[str]
    csrf_token: str | None = None  # for browser sessions: send it as X-CSRF-Token on unsafe API calls


@router.post("/auth/token", response_model=TokenOut)
def issue_token(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    username: Annotated[str, Form(min_length=1, max_length=80)],
    password: Annotated[str, Form(min_length=1, max_length=200)],
) -> TokenOut:
    """Exchange username and password (form fields) for a bearer token."""
    user = auth.authenticate(db, username, password, **_login_context(request, settings))
    issued = auth.issue_token(db, user, settings.token_max_age_s)
    return TokenOut(access_token=issued.token, expires_in=issued.expires_in)


@router.post("/auth/session", status_code=204, dependencies=[Depends(require_same_origin)])
def open_session(
    request: Request,
    response: Response,
    db: DbDep,
    settings: SettingsDep,
    username: Annotated[str, Form(min_length=1, max_length=80)],
    password: Annotated[str, Form(min_length=1, max_length=200)],
) -> None:
    """Log a browser in: sets the signed, HttpOnly session cookie (a server-side session)."""
    user = auth.authenticate(db, username, password, **_login_context(request, settings))
    sid = auth.open_session(db, user, settings.session_max_age_s)
    response.set_cookie(
        SESSION_COOKIE,
        request.app.state.signer.sign(user.id, sid),
        max_age=settings.session_max_age_s,
        httponly=True,
        secure=settings.cookie_secure,
        samesite="lax",
    )


@router.delete("/auth/session", status_code=204, dependencies=[Depends(require_same_origin)])
def close_session(request: Request, response: Response, db: DbDep) -> None:
    """Log a browser out: the server-side session ends, so a copy of the cookie stops working too."""
    cookie = request.cookies.get(SESSION_COOKIE)
    signed = request.app.state.signer.read(cookie) if cookie else None
    if signed is not None:
        auth.close_session(db, signed[1])
    response.delete_cookie(SESSION_COOKIE)


@router.delete("/auth/token", status_code=204)
def revoke_token(request: Request, db: DbDep) -> None:
    """Log an API client out: the bearer token sent with this request stops working at once."""
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("bearer ") or not auth.revoke_token(db, header[7:].strip()):
        raise NotAuthenticated("Kirim token yang masih berlaku / send a valid bearer token.")


def _login_context(request: Request, settings: Settings) -> dict[str, Any]:
    """Who is trying (the address), the production flag and where failed logins are counted."""
    return {
        "address": request.client.host if request.client else None,
        "production": settings.environment == "production",
        "throttle_storage": settings.rate_limit_storage_url,
    }


@router.get("/me", response_model=MeOut)
def me(request: Request, actor: UserDep) -> dict[str, Any]:
    """The logged-in caller, with roles and permissions (and the CSRF token of a cookie session)."""
    return {
        "csrf_token": csrf_token_for(request),
        "username": actor.name.removeprefix("user:"),
        "agency_code": actor.agency_code,
        "roles": sorted(r.value for r in actor.roles),
        "permissions": sorted(p.value for p in actor.permissions),
    }
