"""Server-Sent Events: the live tail of the event log, resumable and filtered per reader."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from sse_starlette import EventSourceResponse, ServerSentEvent

from kotapintar.cases.stream_tail import catch_up, encode_event, tail_for
from kotapintar.core.events.notify import OutboxWaker
from kotapintar.core.http.bounds import MAX_ID
from kotapintar.core.http.deps import ActorDep, DbDep, SettingsDep
from kotapintar.core.http.metrics import SSE_CLIENTS

router = APIRouter(prefix="/api/v1", tags=["stream"])
STREAM_FALLBACK_POLL_S = 2.0


@router.get("/stream", response_class=EventSourceResponse)
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
) -> EventSourceResponse:
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

    async def events() -> AsyncIterator[ServerSentEvent | bytes]:
        # Subscribed inside the generator so a client gone before the first byte leaves nothing behind;
        # subscribed before the catch-up read, so nothing committed meanwhile falls between the two.
        sub = tail.subscribe(actor)
        SSE_CLIENTS.inc()  # issue 19: /metrics shows the connected clients
        try:
            # The backlog stops at the tail's watermark; the live fan-out brings what lies above it in id
            # order (the tail holds events above an open gap back), so a resume stays in order.
            settled = tail.watermark
            backlog = [] if start is None else await asyncio.to_thread(catch_up, db, actor, start)
            backlog = [item for item in backlog if int(item["id"]) <= settled]
            sent = {int(item["id"]) for item in backlog}  # the live fan-out may bring these again
            yield ServerSentEvent(comment="kotapintar stream", retry=2000)
            for item in backlog:
                yield encode_event(item)
            while not sub.overflowed or not sub.queue.empty():
                # No timer per client: sse_starlette cancels this generator when the client disconnects.
                batch = await sub.queue.get()
                fresh = start is None or not batch.ids or min(batch.ids) > start
                if not sent and fresh:  # the usual case: the frames the tail encoded once, in one write
                    if batch.block:
                        yield batch.block
                    continue
                for event_id, frame in zip(batch.ids, batch.frames, strict=True):
                    if start is not None and event_id <= start:
                        continue  # resumed on a process whose tail was behind the client's last id
                    if event_id in sent:
                        sent.discard(event_id)
                        continue
                    yield frame
        finally:
            tail.unsubscribe(sub)
            SSE_CLIENTS.dec()

    return EventSourceResponse(events(), ping=15)
