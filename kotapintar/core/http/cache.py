"""`Cache-Control: no-store` on every answer given to a caller with credentials (staff pages, personal data).

A shared or browser cache must never keep a page or JSON answer that was built for a logged-in user or a
client key: a later user of the same machine or proxy would read it. Public answers keep their own policy.
"""

from __future__ import annotations

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SESSION_COOKIES = ("kp_session",)
STATIC_PREFIX = "/static/"  # the same files for everybody: cacheable


def _has_credentials(headers: Headers) -> bool:
    if headers.get("authorization") or headers.get("x-api-key"):
        return True
    cookie = headers.get("cookie", "")
    return any(f"{name}=" in cookie for name in SESSION_COOKIES)


class NoStoreForCredentials:
    """ASGI middleware: add `Cache-Control: no-store` (and `Pragma: no-cache`) for credentialed requests."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass through; mark the response of a credentialed request as not storable."""
        if scope["type"] != "http" or str(scope.get("path", "")).startswith(STATIC_PREFIX):
            await self.app(scope, receive, send)
            return
        credentialed = _has_credentials(Headers(scope=scope)) or "api_key=" in scope.get(
            "query_string", b""
        ).decode("latin-1")

        async def send_marked(message: Message) -> None:
            if credentialed and message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                own = headers.get("cache-control", "")
                if "no-store" not in own and "private" not in own:  # a route's own private policy stays
                    headers["Cache-Control"] = "no-store"
                    headers["Pragma"] = "no-cache"
            await send(message)

        await self.app(scope, receive, send_marked)
