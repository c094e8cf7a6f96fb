"""One outbox tail per web process that fans new events out to all its SSE clients (issue 19).

Before, every SSE client read the events table itself on every wake-up (and filtered what it read): with
500 clients one commit cost 500 reads, and a plain page request waited behind them in the thread pool.
Now one task per event loop reads each new event once (after the last id it has seen; woken by
LISTEN/NOTIFY on PostgreSQL, polling on SQLite), cuts it once per *audience* (readers with the same
scope see the same events, so 500 public clients cost one filter), encodes each audience's events once as
SSE frames (2,000 clients of one audience cost one JSON encoding per event, not 2,000) and puts the
result on every subscriber's queue; a client writes the batch as one block. A client resuming with Last-Event-ID subscribes first, then reads what it missed from
the database once; ids it already sent are skipped when the live fan-out brings them again, so the join
has neither gap nor duplicate.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import weakref
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

from sse_starlette import ServerSentEvent

from kotapintar.cases.stream import OutboxCursor, audience_key, filter_for
from kotapintar.core.access.actors import Actor
from kotapintar.core.db.database import Database
from kotapintar.core.events.notify import OutboxWaker

log = logging.getLogger(__name__)
QUEUE_BATCHES = 256  # a client this many batches behind is dropped; it resumes with Last-Event-ID
CATCH_UP_PAGE = 500
HELD_RECHECK_S = 0.05  # how soon the tail reads again while events wait behind a gap (in-order delivery)
# Subscribers handed a batch before the tail lets the event loop run other work: each client woken costs a
# trip of its frames through the ASGI stack, and 2,000 of them queued at once would make every staff
# request wait behind the whole fan-out at each of its awaits (issue 19: p95 within 2x of idle).
FANOUT_CHUNK = 100


def encode_event(item: dict[str, Any]) -> bytes:
    """One event as an SSE frame (`id:` the event id, `event:` its type, `data:` the JSON)."""
    return ServerSentEvent(
        data=json.dumps(item, ensure_ascii=False), id=str(item["id"]), event=item["type"]
    ).encode()


@dataclass(frozen=True)
class Batch:
    """The events of one outbox read that one audience may see, encoded once for all its clients."""

    ids: tuple[int, ...] = ()
    frames: tuple[bytes, ...] = ()
    block: bytes = b""  # the frames joined: what a client writes when it has nothing to skip

    @classmethod
    def of(cls, items: list[dict[str, Any]]) -> Batch:
        """Encode `items` (in a worker thread: the event loop only hands the bytes out)."""
        frames = tuple(encode_event(item) for item in items)
        return cls(tuple(int(item["id"]) for item in items), frames, b"".join(frames))


@dataclass(eq=False)
class Subscriber:
    """One SSE client's inbox: batches of events already cut to what its actor may see, and encoded."""

    actor: Actor
    key: Hashable
    queue: asyncio.Queue[Batch] = field(default_factory=lambda: asyncio.Queue(maxsize=QUEUE_BATCHES))
    overflowed: bool = False


class OutboxTail:
    """Reads the outbox once for the whole process and hands each batch to every subscriber."""

    def __init__(self, db: Database, waker: OutboxWaker | None, poll_s: float, fallback_s: float) -> None:
        self.db = db
        self.waker = waker
        self.poll_s = poll_s
        self.fallback_s = fallback_s
        self.subscribers: set[Subscriber] = set()
        self._cursor: OutboxCursor | None = None
        self._task: asyncio.Task[None] | None = None
        self._starting = asyncio.Lock()

    def subscribe(self, actor: Actor) -> Subscriber:
        """Register a client; from now on it receives every batch the tail reads."""
        sub = Subscriber(actor=actor, key=audience_key(actor))
        self.subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        """Forget a client (it disconnected)."""
        self.subscribers.discard(sub)

    async def ensure_started(self) -> None:
        """Start the tail task on this event loop (once), positioned at the log's current end."""
        if self._task is not None and not self._task.done():
            return
        async with self._starting:  # hundreds of clients may connect at once: one task, one cursor
            if self._task is not None and not self._task.done():
                return
            if self._cursor is None:
                self._cursor = OutboxCursor(
                    watermark=await asyncio.to_thread(_last_id, self.db), in_order=True
                )
            if self.waker is not None:
                self.waker.start()
            self._task = asyncio.get_running_loop().create_task(self._run(), name="kp-outbox-tail")

    @property
    def watermark(self) -> int:
        """Every event up to this id has been handed to the subscribers of that moment (or was let go)."""
        return self._cursor.watermark if self._cursor is not None else 0

    def stop(self) -> None:
        """Cancel the tail task (server shutdown)."""
        if self._task is not None:
            self._task.cancel()

    async def _run(self) -> None:
        while True:
            try:
                full = await self._step()
            except asyncio.CancelledError:
                raise
            except Exception:  # the database is down a moment: keep the clients, try again
                log.warning("outbox tail read failed; retrying", exc_info=True)
                full = False
                await asyncio.sleep(1.0)
            if not full:
                if self._cursor is not None and self._cursor.held:
                    await asyncio.sleep(HELD_RECHECK_S)  # events wait behind a gap: look again soon
                else:
                    await self._idle()

    async def _idle(self) -> None:
        if self.waker is not None and self.waker.enabled:
            await self.waker.wait(self.fallback_s)
        else:
            await asyncio.sleep(self.poll_s)

    async def _step(self) -> bool:
        """One read of the outbox and its fan-out; True when the page was full (read again at once)."""
        cursor = self._cursor
        assert cursor is not None
        rows = await asyncio.to_thread(cursor.poll, self.db, CATCH_UP_PAGE)
        if not rows:
            return False
        targets = list(self.subscribers)  # taken after the read: whoever subscribed before it gets it
        audiences: dict[Hashable, Actor] = {}
        for sub in targets:
            audiences.setdefault(sub.key, sub.actor)
        cut = await asyncio.to_thread(_cut_per_audience, self.db, audiences, rows)
        for n, sub in enumerate(targets, 1):
            if n % FANOUT_CHUNK == 0:
                await asyncio.sleep(0)  # let requests waiting on I/O run between chunks
            batch = cut.get(sub.key)
            if batch is None or not batch.ids or sub.overflowed:
                continue
            try:
                sub.queue.put_nowait(batch)
            except asyncio.QueueFull:  # too slow: end its stream, it reconnects with Last-Event-ID
                sub.overflowed = True
                with contextlib.suppress(asyncio.QueueFull):
                    sub.queue.put_nowait(Batch())
        return len(rows) >= CATCH_UP_PAGE


_TAILS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[int, OutboxTail]] = (
    weakref.WeakKeyDictionary()
)


def tail_for(db: Database, waker: OutboxWaker | None, poll_s: float, fallback_s: float) -> OutboxTail:
    """The tail of this event loop for `db` (one per process in production; test clients with their own
    loop get their own)."""
    per_loop = _TAILS.setdefault(asyncio.get_running_loop(), {})
    tail = per_loop.get(id(db))
    if tail is None or tail.db is not db:
        tail = per_loop[id(db)] = OutboxTail(db, waker, poll_s, fallback_s)
    return tail


def stop_tails() -> None:
    """Cancel the tails of the running event loop (the server shuts down)."""
    for tail in _TAILS.pop(asyncio.get_running_loop(), {}).values():
        tail.stop()


def catch_up(db: Database, actor: Actor, after: int) -> list[dict[str, Any]]:
    """Everything after `after` that `actor` may see, read from the database once (a resume)."""
    out: list[dict[str, Any]] = []
    while True:
        with db.reading() as uow:
            rows = list(uow.events.after(after, CATCH_UP_PAGE))
        out.extend(filter_for(db, actor, rows))
        if len(rows) < CATCH_UP_PAGE:
            return out
        after = rows[-1].id


def _cut_per_audience(
    db: Database, audiences: dict[Hashable, Actor], rows: list[Any]
) -> dict[Hashable, Batch]:
    return {key: Batch.of(filter_for(db, actor, rows)) for key, actor in audiences.items()}


def _last_id(db: Database) -> int:
    """Where a new tail starts: the newest event, or on PostgreSQL the newest id handed out (ids above the
    newest row that never commit — rolled back, or deleted — would otherwise hold in-order delivery back)."""
    with db.reading() as uow:
        return uow.events.last_handed_out_id()
