"""One outbox tail per web process that fans new events out to all its SSE clients (issue 19).

Before, every SSE client read the events table itself on every wake-up (and filtered what it read): with
500 clients one commit cost 500 reads, and a plain page request waited behind them in the thread pool.
Now one task per event loop reads each new event once (after the last id it has seen; woken by
LISTEN/NOTIFY on PostgreSQL, polling on SQLite), cuts it once per *audience* (readers with the same
scope see the same events, so 500 public clients cost one filter), encodes each audience's events once as
SSE frames (2,000 clients of one audience cost one JSON encoding per event, not 2,000) and writes each
audience's block straight to every subscriber's socket (see `Subscriber`: no per-client task, queue or
trip through the middlewares per batch). A client resuming with Last-Event-ID subscribes first, then reads
what it missed from the database once; ids it already sent are skipped when the live fan-out brings them
again, so the join has neither gap nor duplicate. One shared timer sends every client's heartbeat.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import time
import weakref
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Hashable
from dataclasses import dataclass, field
from typing import Any

from sse_starlette import ServerSentEvent
from sse_starlette.sse import AppStatus
from starlette.types import Message, Send

from kotapintar.cases.stream import OutboxCursor, audience_key, filter_for
from kotapintar.core.access.actors import Actor
from kotapintar.core.db.database import Database
from kotapintar.core.events.notify import OutboxWaker

log = logging.getLogger(__name__)
QUEUE_BATCHES = 256  # a client this many batches behind is dropped; it resumes with Last-Event-ID
# A wake-up is followed by this pause before the read, and a fan-out by a read this soon after: commits
# within it leave together, as one write per client (one report's steps; at most ~1/COALESCE_S writes a
# second per client however fast the commits come). Each write is a send() system call per client, the
# bulk of a fan-out's cost with 2,000 clients (issue 19); the stream is this much later at most.
COALESCE_S = 0.1
HEARTBEAT_S = 15.0
HEARTBEAT = b": ping\r\n\r\n"
WATCH_S = 0.5  # how often the shared timer looks for a server shutdown
CATCH_UP_PAGE = 500
START_WAIT_S = 10.0  # bounds the wait for in-flight event writers when a tail starts (see _last_id)
HELD_RECHECK_S = 0.05  # how soon the tail reads again while events wait behind a gap (in-order delivery)
# Clients written to before the tail lets the event loop run other work: a fan-out to 2,000 clients is
# ~50 ms of socket writes, and a staff request must not wait behind all of it at each of its awaits
# (issue 19: p95 within 2x of idle). 25 writes take well under a millisecond.
FANOUT_CHUNK = 25


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


def body(chunk: bytes) -> Message:
    """An ASGI body message of an open stream."""
    return {"type": "http.response.body", "body": chunk, "more_body": True}


@dataclass(eq=False)
class Subscriber:
    """One SSE client: the tail writes each batch (already cut to what its actor may see, and encoded)
    straight to its socket, with no task of its own woken per batch.

    With 2,000 clients, waking each client's task to move a batch from a queue through its generator and
    the middleware stack cost more than the socket write itself (issue 19). Now the tail calls the
    server's `send` for the client; uvicorn's `send` returns at once unless the socket's buffer is full.
    Only then does the client get a task (`_finish`), and batches that come meanwhile wait in `pending` (the
    tail's shared bytes, no copies) and leave as one write. A client `QUEUE_BATCHES` behind is ended: it
    resumes with Last-Event-ID.

    `busy` starts True: until the stream has written its resume backlog the live batches wait, so the
    client gets them after the backlog, in id order; `flush` then writes them and hands over to the tail.
    """

    actor: Actor
    key: Hashable
    send: Send
    start: int | None = None  # a resume: ids at or below it were delivered before
    sent: set[int] = field(default_factory=set)  # written from the backlog; the live fan-out may repeat them
    pending: deque[Batch] = field(default_factory=deque)
    busy: bool = True
    overflowed: bool = False
    disconnected: bool = False
    ended: asyncio.Future[None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    _writer: asyncio.Task[None] | None = None

    def end(self, *, overflow: bool = False, disconnected: bool = False) -> None:
        """Stop writing to this client and let its stream finish."""
        self.overflowed |= overflow
        self.disconnected |= disconnected
        if not self.ended.done():
            self.ended.set_result(None)

    def offer(self, batch: Batch) -> None:
        """Write `batch` now, or queue it while an earlier write waits for the socket."""
        if self.ended.done():
            return
        if self.busy:
            if batch.ids:  # a heartbeat need not wait: the queued events will show the line is alive
                self.pending.append(batch)
                if len(self.pending) > QUEUE_BATCHES:  # too slow: end its stream, it resumes later
                    self.end(overflow=True)
            return
        chunk = self._chunk(batch)
        if chunk:
            self._write(chunk)

    async def flush(self) -> None:
        """Write what waited, in order and as one chunk per round, then take batches from the tail again."""
        self.busy = True
        while self.pending and not self.ended.done():
            chunk = b"".join(self._chunk(batch) for batch in self.pending)
            self.pending.clear()
            if chunk:
                await self.send(body(chunk))
        self.busy = False

    def _chunk(self, batch: Batch) -> bytes:
        if not self.sent and (self.start is None or not batch.ids or batch.ids[0] > self.start):
            return batch.block  # the usual case: the frames the tail encoded once, in one write
        frames = []
        for event_id, frame in zip(batch.ids, batch.frames, strict=True):
            if self.start is not None and event_id <= self.start:
                continue  # resumed on a process whose tail was behind the client's last id
            if event_id in self.sent:
                self.sent.discard(event_id)
                continue
            frames.append(frame)
        return b"".join(frames)

    def _write(self, chunk: bytes) -> None:
        """Run the send until it completes or waits for the socket; a waiting send becomes a task."""
        awaitable = self.send(body(chunk))
        sending = awaitable if isinstance(awaitable, Coroutine) else _awaiting(awaitable)
        try:
            waiting = sending.send(None)
        except StopIteration:
            return  # written: the usual case, no task and no trip through the event loop
        except Exception:
            log.debug("SSE write failed; ending the stream", exc_info=True)
            self.end(disconnected=True)
            return
        self.busy = True
        self._writer = asyncio.get_running_loop().create_task(self._finish(sending, waiting))

    async def _finish(self, sending: Coroutine[Any, Any, None], waiting: Any) -> None:
        try:
            await _resume(sending, waiting)
            await self.flush()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.debug("SSE write failed; ending the stream", exc_info=True)
            self.end(disconnected=True)


async def _awaiting(awaitable: Awaitable[None]) -> None:
    await awaitable


async def _resume(coro: Coroutine[Any, Any, None], waiting: Any) -> None:
    """Drive to its end a coroutine that suspended on its first step, as a task would have.

    `waiting` is what it yielded: the future it waits on (asyncio's protocol), or None for a bare yield.
    The outcome of that future (or this task's cancellation) is passed on into the coroutine.
    """
    while True:
        try:
            if waiting is None:
                await asyncio.sleep(0)
            else:
                await waiting
        except BaseException as exc:  # the future failed or this task was cancelled: the send sees it
            try:
                waiting = coro.throw(exc)
            except StopIteration:
                return
            continue
        try:
            waiting = coro.send(None)
        except StopIteration:
            return


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
        self._watch_task: asyncio.Task[None] | None = None
        self._starting = asyncio.Lock()

    def subscribe(self, actor: Actor, send: Send, start: int | None = None) -> Subscriber:
        """Register a client writing through `send`; from now on it receives every batch the tail reads
        (held back until its stream calls `flush`)."""
        sub = Subscriber(actor=actor, key=audience_key(actor), send=send, start=start)
        self.subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        """Forget a client (it disconnected, or its stream ended): nothing is written to it any more."""
        sub.end()
        if sub._writer is not None:
            sub._writer.cancel()  # a write waiting for a full socket: the stream's last chunk comes after
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
            loop = asyncio.get_running_loop()
            self._task = loop.create_task(self._run(), name="kp-outbox-tail")
            self._watch_task = loop.create_task(self._watch(), name="kp-stream-heartbeat")

    @property
    def watermark(self) -> int:
        """Every event up to this id has been handed to the subscribers of that moment (or was let go)."""
        return self._cursor.watermark if self._cursor is not None else 0

    def stop(self) -> None:
        """Cancel the tail task (server shutdown)."""
        for task in (self._task, self._watch_task):
            if task is not None:
                task.cancel()
        for sub in list(self.subscribers):
            sub.end()

    async def _run(self) -> None:
        while True:
            try:
                full, delivered = await self._step()
            except asyncio.CancelledError:
                raise
            except Exception:  # the database is down a moment: keep the clients, try again
                log.warning("outbox tail read failed; retrying", exc_info=True)
                full = delivered = False
                await asyncio.sleep(1.0)
            if delivered and not full:
                # Read again soon rather than sleep until the next wake-up: commits made during this
                # fan-out (whose wake-up came while the tail was not listening) and during the pause
                # leave together, one write per client for several commits (one report's steps).
                await asyncio.sleep(COALESCE_S)
            elif not full:
                if self._cursor is not None and self._cursor.held:
                    await asyncio.sleep(HELD_RECHECK_S)  # events wait behind a gap: look again soon
                else:
                    await self._idle()

    async def _idle(self) -> None:
        if self.waker is not None and self.waker.enabled:
            await self.waker.wait(self.fallback_s)
            await asyncio.sleep(COALESCE_S)
        else:
            await asyncio.sleep(self.poll_s)

    async def _step(self) -> tuple[bool, bool]:
        """One read of the outbox and its fan-out: whether the page was full (read again at once), and
        whether it brought events."""
        cursor = self._cursor
        assert cursor is not None
        rows = await asyncio.to_thread(cursor.poll, self.db, CATCH_UP_PAGE)
        if not rows:
            return False, False
        targets = list(self.subscribers)  # taken after the read: whoever subscribed before it gets it
        audiences: dict[Hashable, Actor] = {}
        for sub in targets:
            audiences.setdefault(sub.key, sub.actor)
        cut = await asyncio.to_thread(_cut_per_audience, self.db, audiences, rows)
        await self._fan_out(targets, cut.get)
        return len(rows) >= CATCH_UP_PAGE, True

    async def _fan_out(self, targets: list[Subscriber], batch_of: Callable[[Hashable], Batch | None]) -> None:
        for n, sub in enumerate(targets, 1):
            if n % FANOUT_CHUNK == 0:
                await asyncio.sleep(0)  # let requests waiting on I/O run between chunks
            batch = batch_of(sub.key)
            if batch is not None and (batch.ids or batch.block):
                sub.offer(batch)

    async def _watch(self) -> None:
        """One timer for every client of the process: a heartbeat comment every HEARTBEAT_S (proxies close
        idle connections; a dead peer shows on write), and the end of every stream when the server shuts
        down (uvicorn waits for open responses to finish before it stops)."""
        beat = Batch(block=HEARTBEAT)
        ticks = 0
        while True:
            await asyncio.sleep(WATCH_S)
            ticks += 1
            if _server_exiting():
                for sub in list(self.subscribers):
                    sub.end()
                continue
            if ticks * WATCH_S >= HEARTBEAT_S:
                ticks = 0
                await self._fan_out(list(self.subscribers), lambda _key: beat)


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


def _server_exiting() -> bool:
    """Whether the server is shutting down: sse_starlette's flag (it hooks uvicorn's signal handler), or
    the uvicorn server that handles SIGTERM, found through its handler as sse_starlette does."""
    if AppStatus.should_exit:
        return True
    server = getattr(signal.getsignal(signal.SIGTERM), "__self__", None)
    return bool(getattr(server, "should_exit", False))


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
    newest row that never commit — rolled back, or deleted — would otherwise hold in-order delivery back).

    On PostgreSQL it returns only once the transactions that were writing events at that moment have ended:
    their events lie at or below the tail's start, so the live fan-out never brings them, and a resuming
    client's catch-up (read right after the tail starts) must find them committed. Without the wait, a
    report committing just after the first client's catch-up was lost to that client (the resume test).
    """
    with db.reading() as uow:
        last = uow.events.last_handed_out_id()
        # Listed after the id: a transaction holding an id at or below it holds the events table's lock.
        writers = set(uow.events.writers_in_flight()) if db.is_postgres else set()
    deadline = time.monotonic() + START_WAIT_S
    while writers and time.monotonic() < deadline:
        time.sleep(0.02)
        with db.reading() as uow:
            writers &= uow.events.writers_in_flight()
    return last
