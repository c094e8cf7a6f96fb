"""Server-Sent Events: the live tail of the event log, resumable and filtered per reader."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from sse_starlette import EventSourceResponse, ServerSentEvent

from kotapintar.cases.stream import OutboxCursor, filter_for
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
    if start is None:
        start = await asyncio.to_thread(_last_id, db)
    cursor = OutboxCursor(watermark=start)
    waker: OutboxWaker | None = getattr(request.app.state, "outbox_waker", None)
    if waker is not None:
        waker.start()
    # PostgreSQL: sleep until a commit anywhere wakes this process (LISTEN/NOTIFY); the long timeout only
    # covers a lost LISTEN connection. SQLite (one process): poll as before.
    idle_wait = STREAM_FALLBACK_POLL_S if waker is not None and waker.enabled else settings.stream_poll_s

    async def events() -> AsyncIterator[ServerSentEvent]:
        yield ServerSentEvent(comment="kotapintar stream", retry=2000)
        SSE_CLIENTS.inc()  # issue 19: /metrics shows the connected clients
        try:
            while not await request.is_disconnected():
                rows = await asyncio.to_thread(cursor.poll, db)
                for item in await asyncio.to_thread(filter_for, db, actor, rows):
                    yield ServerSentEvent(
                        data=json.dumps(item, ensure_ascii=False), id=str(item["id"]), event=item["type"]
                    )
                if not rows:
                    if waker is None:
                        await asyncio.sleep(settings.stream_poll_s)
                    else:
                        await waker.wait(idle_wait)
        finally:
            SSE_CLIENTS.dec()

    return EventSourceResponse(events(), ping=15)


def _last_id(db: DbDep) -> int:
    with db.reading() as uow:
        return uow.events.last_id()
