"""Server-Sent Events: the live tail of the event log, resumable and filtered per reader."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from sse_starlette import ServerSentEvent
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from kotapintar.cases.stream_tail import OutboxTail, Subscriber, body, catch_up, encode_event, tail_for
from kotapintar.core.access.actors import Actor
from kotapintar.core.db.database import Database
from kotapintar.core.events.notify import OutboxWaker
from kotapintar.core.http.bounds import MAX_ID
from kotapintar.core.http.deps import ActorDep, DbDep, SettingsDep
from kotapintar.core.http.metrics import SSE_CLIENTS
from kotapintar.core.http.streaming import raw_send

router = APIRouter(prefix="/api/v1", tags=["stream"])
STREAM_FALLBACK_POLL_S = 2.0
OPENING = ServerSentEvent(comment="kotapintar stream", retry=2000).encode()


class EventStream(Response):
    """The SSE answer of one client, fed by the process's outbox tail (issue 19).

    Not sse_starlette's EventSourceResponse: that runs four tasks per client (stream, ping, disconnect,
    shutdown) and sends every chunk through its generator, a cancel scope and the whole middleware stack.
    Here the start message goes through the middlewares (they add their headers), the body goes through
    the server's own `send` (core/http/streaming.py), written by the tail itself; this response only
    writes the opening and the resume backlog, then waits for the client to leave. The tail's one shared
    timer sends the heartbeats and ends the streams when the server shuts down.
    """

    media_type = "text/event-stream"

    def __init__(self, db: Database, tail: OutboxTail, actor: Actor, start: int | None) -> None:
        # Response.__init__ would declare an empty body (Content-Length: 0); like StreamingResponse, not.
        self.status_code, self.background = 200, None
        self.init_headers(
            {"Cache-Control": "no-store", "Connection": "keep-alive", "X-Accel-Buffering": "no"}
        )
        self.db, self.tail, self.actor, self.start = db, tail, actor, start

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        if scope.get("method") == "HEAD":  # headers only: an endless body would hang the connection
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        write = raw_send(scope, send)
        # Subscribed before the catch-up read, so nothing committed meanwhile falls between the two; the
        # tail holds this client's batches back until the backlog is written.
        sub = self.tail.subscribe(self.actor, write, self.start)
        SSE_CLIENTS.inc()  # issue 19: /metrics shows the connected clients
        listener = asyncio.get_running_loop().create_task(_until_disconnect(receive, sub))
        try:
            # The backlog stops at the tail's watermark; the live fan-out brings what lies above it in id
            # order (the tail holds events above an open gap back), so a resume stays in order.
            settled = self.tail.watermark
            backlog = (
                []
                if self.start is None
                else await asyncio.to_thread(catch_up, self.db, self.actor, self.start)
            )
            backlog = [item for item in backlog if int(item["id"]) <= settled]
            sub.sent = {int(item["id"]) for item in backlog}  # the live fan-out may bring these again
            # The first body goes through the middlewares too: one that holds the start message back
            # until it sees a body (GZip does, for the types it compresses) gets to send it.
            await send(body(b"".join([OPENING, *(encode_event(item) for item in backlog)])))
            await sub.flush()  # what the tail held back meanwhile; from now on the tail writes
            await sub.ended
        finally:
            listener.cancel()
            self.tail.unsubscribe(sub)
            SSE_CLIENTS.dec()
        if not sub.disconnected:  # ended by the server (shutdown, or too slow a client): a clean end
            await write({"type": "http.response.body", "body": b"", "more_body": False})


async def _until_disconnect(receive: Receive, sub: Subscriber) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            sub.end(disconnected=True)
            return


@router.get("/stream", response_class=EventStream, status_code=200)
async def stream(
    request: Request,
    db: DbDep,
    actor: ActorDep,
    settings: SettingsDep,
    last_event_id: Annotated[str | None, Header()] = None,
    after: Annotated[int | None, Query(ge=0, le=MAX_ID, description="start after this event id")] = None,
    last_event_id_query: Annotated[
        str | None,
        Query(alias="last_event_id", description="resume point for clients that cannot set headers"),
    ] = None,
) -> EventStream:
    """New events as they are committed (`id:` is the event id; send Last-Event-ID to resume)."""
    start = after
    resume = last_event_id or last_event_id_query
    if start is None and resume and resume.isdigit() and int(resume) <= MAX_ID:
        start = int(resume)
    waker: OutboxWaker | None = getattr(request.app.state, "outbox_waker", None)
    # One tail per process reads the outbox and fans out (issue 19). PostgreSQL: it sleeps until a commit
    # anywhere wakes it (LISTEN/NOTIFY; the long timeout only covers a lost LISTEN connection). SQLite: polls.
    tail = tail_for(db, waker, settings.stream_poll_s, STREAM_FALLBACK_POLL_S)
    await tail.ensure_started()
    return EventStream(db, tail, actor, start)
