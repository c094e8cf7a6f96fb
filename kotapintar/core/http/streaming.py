"""The server's own `send` for long-lived streams, so their body chunks skip the middleware stack (issue 19).

Every middleware of the app wraps `send` to act on the response *start* (request id, security and cache
headers, locale, metrics status, GZip's content-type check). A live stream writes thousands of body chunks
per event to thousands of clients; each chunk walking ~10 wrappers that only pass it on was a fifth of the
web process's event-loop time with 2,000 SSE clients. `StreamSend`, the outermost middleware, leaves the
`send` it was given in the scope; a streaming response sends its start message through the `send` its
route was called with (so every middleware still sees and decorates it), then writes its body through
`raw_send(scope, send)`. Only a response whose body no middleware changes may do so: GZip leaves
`text/event-stream` alone, and no other middleware looks at the body.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

RAW_SEND = "kotapintar.raw_send"


class StreamSend:
    """ASGI middleware (add it last, so it runs first): keep the server's `send` in the scope."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope[RAW_SEND] = send
        await self.app(scope, receive, send)


def raw_send(scope: Scope, send: Send) -> Send:
    """The `send` outside every middleware (or `send` itself when the app runs without `StreamSend`)."""
    found: Send | None = scope.get(RAW_SEND)
    return found if found is not None else send
