"""ASGI middleware that fixes each request's locale and remembers a `?lang=` choice in a cookie."""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kotapintar.core.i18n.catalog import LOCALE_COOKIE, Locale, negotiate_locale

ONE_YEAR_S = 365 * 24 * 3600


class LocaleMiddleware:
    """Put the negotiated Locale in `request.state.locale`; a valid `?lang=` also sets the `lang` cookie.

    `app.add_middleware(LocaleMiddleware, secure_cookie=settings.cookie_secure)`.
    """

    def __init__(self, app: ASGIApp, *, secure_cookie: bool = False) -> None:
        self.app = app
        self.secure_cookie = secure_cookie

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Negotiate the locale, store it in the scope state, and add Set-Cookie/Vary to the response."""
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        conn = HTTPConnection(scope)
        locale = negotiate_locale(conn)
        scope.setdefault("state", {})["locale"] = locale
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        requested = conn.query_params.get(LOCALE_COOKIE)
        remember = (
            requested in {item.value for item in Locale} and conn.cookies.get(LOCALE_COOKIE) != requested
        )
        cookie = f"{LOCALE_COOKIE}={locale.value}; Path=/; Max-Age={ONE_YEAR_S}; SameSite=Lax"
        if self.secure_cookie:
            cookie += "; Secure"

        async def send_with_locale(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                # Only responses whose words depend on the locale vary by it; static files stay shareable.
                if headers.get("content-type", "").startswith(("text/html", "application/json")):
                    headers.add_vary_header("Accept-Language")
                    headers.add_vary_header("Cookie")
                    if "content-language" not in headers:
                        headers["Content-Language"] = locale.value
                if remember:
                    headers.append("Set-Cookie", cookie)
            await send(message)

        await self.app(scope, receive, send_with_locale)
