"""Browser-facing security: strict response headers (CSP without inline code) and CSRF tokens.

Independent of how sessions are stored: CSRF helpers take the signing secret and a session id string;
`configure_csrf` tells `require_csrf` how to find both for a request.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from fastapi import FastAPI, HTTPException
from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kotapintar.core.errors import DomainError
from kotapintar.core.i18n import negotiate_locale, translate

CSRF_FIELD = "csrf_token"
"""Name of the hidden form field that carries the CSRF token."""
CSRF_HEADER = "X-CSRF-Token"
"""Name of the request header that carries the CSRF token (htmx and fetch requests)."""
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
_CSRF_SALT = "kotapintar.csrf.v1"


# --- response headers -------------------------------------------------------------------------------


def tile_origin(tile_url: str | None) -> str | None:
    """The CSP source of a Leaflet tile URL template: `https://{s}.tile.example.org/{z}/{x}/{y}.png`
    -> `https://*.tile.example.org`. None for no URL or a same-origin (relative) one."""
    if not tile_url:
        return None
    parts = urlsplit(tile_url)
    if not parts.scheme or not parts.netloc:
        return None
    host = parts.netloc
    if "{" in host:
        labels = host.split(".")
        host = ".".join("*" if "{" in label else label for label in labels)
    return f"{parts.scheme}://{host}"


def build_csp(img_sources: Iterable[str] = ()) -> str:
    """The Content-Security-Policy: everything from our own origin, no inline script or style at all."""
    img = " ".join(["'self'", "data:", "blob:", *img_sources])
    directives = [
        "default-src 'self'",
        f"img-src {img}",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "font-src 'self'",
        "media-src 'self' blob:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
    return "; ".join(directives)


def security_headers(*, tile_url: str | None = None, hsts: bool = False) -> dict[str, str]:
    """Every header SecurityHeadersMiddleware adds, as a dict (handy for tests and other servers)."""
    origin = tile_origin(tile_url)
    headers = {
        "Content-Security-Policy": build_csp([origin] if origin else []),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "strict-origin-when-cross-origin",
        "X-Frame-Options": "DENY",
        "Permissions-Policy": "geolocation=(self), camera=(self), microphone=(), payment=(), usb=()",
        "Cross-Origin-Opener-Policy": "same-origin",
    }
    if hsts:
        headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
    return headers


class SecurityHeadersMiddleware:
    """ASGI middleware adding CSP, nosniff, Referrer-Policy, X-Frame-Options and Permissions-Policy.

    `app.add_middleware(SecurityHeadersMiddleware, tile_url=settings_tile_url, hsts=production)`.
    A response that already sets one of these headers keeps its own value.
    """

    def __init__(self, app: ASGIApp, *, tile_url: str | None = None, hsts: bool = False) -> None:
        self.app = app
        self.headers = security_headers(tile_url=tile_url, hsts=hsts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request through; add the headers to the HTTP response start."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.headers.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)


# --- CSRF -------------------------------------------------------------------------------------------


def _serializer(secret: str, session_id: str) -> URLSafeTimedSerializer:
    # The session id goes into the salt, never into the token: the token names no session, yet only
    # verifies for the one it was issued to.
    bound = hashlib.sha256(session_id.encode("utf-8")).hexdigest()
    return URLSafeTimedSerializer(secret, salt=f"{_CSRF_SALT}:{bound}")


def issue_csrf_token(session_id: str, secret: str) -> str:
    """A signed CSRF token bound to `session_id`; a fresh random nonce each call."""
    if not session_id:
        raise ValueError("a CSRF token needs a session id (use an anonymous session cookie before login)")
    return str(_serializer(secret, session_id).dumps(secrets.token_urlsafe(16)))


def verify_csrf_token(
    token: str | None, session_id: str | None, secret: str, *, max_age_s: int | None = None
) -> bool:
    """True when `token` was issued by `issue_csrf_token` for this session (and is younger than max_age_s)."""
    if not token or not session_id:
        return False
    try:
        _serializer(secret, session_id).loads(token, max_age=max_age_s)
    except BadSignature:  # SignatureExpired is a BadSignature too
        return False
    return True


@dataclass(frozen=True)
class CsrfConfig:
    """How `require_csrf` finds the signing secret and the session id of a request."""

    secret: str
    session_id: Callable[[Request], str | None]
    max_age_s: int | None = None


def configure_csrf(
    app: FastAPI,
    *,
    secret: str,
    session_id: Callable[[Request], str | None],
    max_age_s: int | None = None,
) -> CsrfConfig:
    """Install the CSRF configuration on the app (`app.state.csrf`); call once at start-up."""
    config = CsrfConfig(secret=secret, session_id=session_id, max_age_s=max_age_s)
    app.state.csrf = config
    return config


def _config(request: Request) -> CsrfConfig:
    config = getattr(request.app.state, "csrf", None)
    if not isinstance(config, CsrfConfig):
        raise RuntimeError("CSRF is not configured: call kotapintar.web.security.configure_csrf(app, ...)")
    return config


def csrf_token_for(request: Request) -> str | None:
    """A token for this request's session, for the template context (`csrf_token`); None without one."""
    config = _config(request)
    session_id = config.session_id(request)
    return issue_csrf_token(session_id, config.secret) if session_id else None


def page_csrf_token(request: Request) -> str:
    """The token forms of a page carry: the session's, or — for a page read without a browser session
    (a bearer token, a script) — one bound to a throwaway id, so the page renders and its forms are refused."""
    config = _config(request)
    session_id = config.session_id(request) or "sessionless:" + secrets.token_urlsafe(12)
    return issue_csrf_token(session_id, config.secret)


class CsrfFailed(HTTPException):
    """403 for a missing or wrong CSRF token; `detail` is a message for a person in their language."""

    code = "csrf_failed"

    def __init__(self, message: str) -> None:
        super().__init__(status_code=403, detail=message)


async def require_csrf(request: Request) -> None:
    """FastAPI dependency: on unsafe methods, demand a valid token in `X-CSRF-Token` or form `csrf_token`.

    `@router.post("/x", dependencies=[Depends(require_csrf)])`, or on a whole router.
    """
    if request.method in SAFE_METHODS:
        return
    config = _config(request)
    token = request.headers.get(CSRF_HEADER)
    if not token:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            value = (await request.form()).get(CSRF_FIELD)
            token = value if isinstance(value, str) else None
    cross_site = request.headers.get("sec-fetch-site") == "cross-site"
    if cross_site or not verify_csrf_token(
        token, config.session_id(request), config.secret, max_age_s=config.max_age_s
    ):
        raise CsrfFailed(translate("error.csrf_failed", negotiate_locale(request)))


# --- cookie-authenticated JSON API ------------------------------------------------------------------


def same_origin(request: Request) -> bool:
    """False when the browser says the request comes from another site (Sec-Fetch-Site) or Origin differs.

    `same-site` counts as foreign too: a page on a sibling subdomain must not act through a staff browser.
    Clients that send neither header (curl, server-to-server) pass; they carry no ambient cookie anyway.
    """
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    return origin is None or (origin != "null" and urlsplit(origin).netloc == request.headers.get("host", ""))


class CsrfRejected(DomainError):
    """403 in the API's error shape: an unsafe cookie-authenticated request without a valid CSRF token."""

    code = "csrf_failed"
    http_status = 403


def check_cookie_request(request: Request, session_id: str | None) -> None:
    """For a request authenticated by the session cookie: unsafe methods need the same origin and a valid
    `X-CSRF-Token` bound to the session (from the page, or `csrf_token` of GET /api/v1/me)."""
    if request.method in SAFE_METHODS:
        return
    config = _config(request)
    token = request.headers.get(CSRF_HEADER)
    if not same_origin(request) or not verify_csrf_token(
        token, session_id, config.secret, max_age_s=config.max_age_s
    ):
        raise CsrfRejected(translate("error.csrf_failed", negotiate_locale(request)))


def require_same_origin(request: Request) -> None:
    """FastAPI dependency against login CSRF: refuse a login posted from another site."""
    if not same_origin(request):
        raise CsrfRejected(translate("error.csrf_failed", negotiate_locale(request)))


__all__ = [
    "CSRF_FIELD",
    "CSRF_HEADER",
    "CsrfConfig",
    "CsrfFailed",
    "CsrfRejected",
    "SecurityHeadersMiddleware",
    "build_csp",
    "check_cookie_request",
    "configure_csrf",
    "csrf_token_for",
    "issue_csrf_token",
    "page_csrf_token",
    "require_csrf",
    "require_same_origin",
    "same_origin",
    "security_headers",
    "tile_origin",
    "verify_csrf_token",
]
