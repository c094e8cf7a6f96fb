"""Read-your-own-writes with a read replica (issue 19): who may read the replica, and the marker a browser
carries for a few seconds after it changed something.

The rule (docs/operations.md, "Read replica"):

* Only routes that declare `ReadDbDep` (public portal, open data, Open311 GET, analytics, monthly report)
  may read the replica; every other route and every write uses the primary.
* Any POST/PUT/PATCH/DELETE answer sets the cookie `kp_wrote` holding the time until which that browser
  reads the primary (`read_your_writes_s`, at least the replica's allowed lag plus its measuring interval):
  a citizen who has just reported sees the ticket page at once, a supervisor who closed a task sees it
  closed in the analytics.
* A request with an `Authorization` header or an API key (a machine client, which may keep no cookies)
  reads the primary.

The cookie is not signed on purpose: it only ever moves its holder's own reads to the primary, which anyone
could also get by sending a POST.
"""

from __future__ import annotations

import time

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

WROTE_COOKIE = "kp_wrote"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def wrote_recently(request: Request) -> bool:
    """True while the browser's `kp_wrote` marker has not run out."""
    value = request.cookies.get(WROTE_COOKIE, "")
    return value.isdigit() and time.time() < int(value)


def machine_client(request: Request) -> bool:
    """A caller with a bearer token or API key: it may not keep cookies, so it always reads the primary."""
    return bool(
        request.headers.get("authorization")
        or request.headers.get("x-api-key")
        or request.query_params.get("api_key")
    )


class ReadYourWrites:
    """ASGI middleware: mark the answer to every unsafe request with the `kp_wrote` cookie."""

    def __init__(self, app: ASGIApp, window_s: float, secure: bool) -> None:
        self.app, self.window_s, self.secure = app, window_s, secure

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method", "GET") in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        until = int(time.time() + self.window_s) + 1  # whole seconds, rounded up
        cookie = (
            f"{WROTE_COOKIE}={until}; Max-Age={int(self.window_s) + 1}; Path=/; HttpOnly; SameSite=Lax"
            + ("; Secure" if self.secure else "")
        )

        async def send_marked(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).append("set-cookie", cookie)
            await send(message)

        await self.app(scope, receive, send_marked)
