"""One outbox tail per web process (issue 19): many SSE clients cost one read of the events table per
wake-up, each still sees only what its reader may see, and a resume joins the live fan-out without gap or
duplicate."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from typing import Any

import httpx
from sqlalchemy import event
from starlette.types import Message

from kotapintar.cases import service as case_service
from kotapintar.cases.stream import filter_for
from kotapintar.cases.stream_tail import QUEUE_BATCHES, Batch, Subscriber
from kotapintar.core.access.actors import channel_actor, system_actor
from kotapintar.core.db.database import Database
from kotapintar.core.settings import Settings
from kotapintar.intake.submit import submit_report
from tests.conftest import LiveServer
from tests.helpers import actor, report, spot
from tests.spine.test_spine_stream import read_events, token

CLIENTS = 12


def _collect(url: str, headers: dict[str, str], out: list[dict[str, Any]], quiet_s: float) -> None:
    """Every event of the stream until it stays quiet for `quiet_s` seconds."""
    timeout = httpx.Timeout(10.0, read=quiet_s)
    try:
        with httpx.Client(timeout=timeout) as client, client.stream("GET", url, headers=headers) as r:
            for line in r.iter_lines():
                if line.startswith("data:"):
                    out.append(json.loads(line[5:]))
    except httpx.ReadTimeout:
        pass


def test_many_clients_one_outbox_read_and_each_sees_its_own_cut(
    live_server: LiveServer, db: Database, settings: Settings
) -> None:
    staff = token(live_server, "operator")
    results: list[list[dict[str, Any]]] = [[] for _ in range(CLIENTS)]
    readers = [
        threading.Thread(
            target=lambda i=i: results[i].extend(
                read_events(
                    f"{live_server.url}/api/v1/stream",
                    staff if i % 2 else {},
                    want=99,
                    timeout=4,
                )
            )
        )
        for i in range(CLIENTS)
    ]
    for reader in readers:
        reader.start()
    time.sleep(1.0)  # every client connected and waiting
    outbox_reads = [0]

    def count(_c: Any, _cur: Any, statement: str, *_a: Any) -> None:
        if "FROM events" in statement and "events.id >" in statement:
            outbox_reads[0] += 1

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        case_id = submit_report(db, channel_actor("web"), report(), settings=settings).case_id
        op = actor(db, "operator")
        case_service.add_note(db, op, case_id, "catatan internal: jangan tampil ke publik")
        case_service.verify_case(db, op, case_id)
        for reader in readers:
            reader.join(timeout=15)
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    public, private = results[0::2], results[1::2]
    for got in public:
        assert [e["type"] for e in got if e["case_id"] == case_id] == ["case_created", "case_verified"]
        assert "catatan internal" not in json.dumps(got)
    for got in private:
        types = [e["type"] for e in got if e["case_id"] == case_id]
        assert types[:2] == ["report_received", "case_created"] and "note_added" in types
        assert "case_verified" in types
    # One tail reads for all twelve clients: about one read per wake-up (PostgreSQL: per commit; SQLite: one
    # poll every stream_poll_s over the ~4 s the clients stayed), where each client reading for itself made
    # twelve per wake-up.
    assert outbox_reads[0] <= 4 / settings.stream_poll_s + 6, outbox_reads[0]


def test_resume_joins_the_live_fan_out_without_gap_or_duplicate(
    live_server: LiveServer, db: Database, settings: Settings
) -> None:
    web = channel_actor("web")
    first = submit_report(db, web, report(**spot(0)), settings=settings).case_id
    with db.reading() as uow:
        resume_at = uow.events.for_case(first)[0].id
    got: list[dict[str, Any]] = []
    stop = threading.Event()

    def write() -> None:  # commits keep landing while the client connects, catches up and joins the tail
        n = 1
        while not stop.is_set() and n < 24:
            submit_report(db, web, report(**spot(n)), settings=settings)
            n += 1

    writer = threading.Thread(target=write)
    writer.start()
    time.sleep(0.3)
    reader = threading.Thread(
        target=_collect,
        args=(
            f"{live_server.url}/api/v1/stream",
            {**token(live_server, "operator"), "Last-Event-ID": str(resume_at)},
            got,
            3.0,
        ),
    )
    reader.start()
    time.sleep(1.5)
    stop.set()
    writer.join(timeout=30)
    reader.join(timeout=30)
    with db.reading() as uow:
        rows = list(uow.events.after(resume_at, 10_000))
    expected = [e["id"] for e in filter_for(db, actor(db, "operator"), rows)]
    ids = [e["id"] for e in got]
    assert len(expected) > 10
    assert len(ids) == len(set(ids)), "an event was sent twice"
    assert sorted(ids) == sorted(expected), set(expected) ^ set(ids)


def test_the_stream_start_passes_the_middlewares_and_the_body_opens_at_once(live_server: LiveServer) -> None:
    """The body skips the middleware stack (core/http/streaming.py); the start message must not."""
    with (
        httpx.Client(timeout=5) as client,
        client.stream("GET", f"{live_server.url}/api/v1/stream", headers={"X-Request-ID": "sse-1"}) as r,
    ):
        assert r.headers["content-type"].startswith("text/event-stream")
        assert r.headers["x-request-id"] == "sse-1"
        assert "content-security-policy" in r.headers and r.headers["cache-control"] == "no-store"
        assert "content-length" not in r.headers and "content-encoding" not in r.headers
        assert next(r.iter_lines()) == ": kotapintar stream"


def _item(event_id: int) -> dict[str, Any]:
    return {"id": event_id, "type": "case_created", "case_id": 1}


def test_a_client_whose_socket_is_full_gets_what_waited_in_order_in_one_write() -> None:
    """The tail writes to a client's `send` directly; a send that waits (full socket) becomes the client's
    task, later batches wait behind it and leave together; too many waiting end the stream."""

    async def run() -> None:
        written: list[bytes] = []
        socket_free = asyncio.Event()

        async def send(message: Message) -> None:
            await socket_free.wait()
            written.append(message["body"])

        sub = Subscriber(actor=system_actor("test"), key="k", send=send)
        socket_free.set()
        await sub.flush()  # live: the tail writes from now on
        first, second, third, fourth = (Batch.of([_item(i)]) for i in (1, 2, 3, 4))
        sub.offer(first)
        assert written == [first.block] and not sub.busy, "a free socket is written at once, without a task"
        socket_free.clear()
        for batch in (second, third, fourth):
            sub.offer(batch)
        assert sub.busy and written == [first.block] and sub._writer is not None
        socket_free.set()
        await sub._writer
        assert written == [first.block, second.block, third.block + fourth.block] and not sub.busy
        socket_free.clear()
        for i in range(QUEUE_BATCHES + 2):
            sub.offer(Batch.of([_item(10 + i)]))
        assert sub.ended.done() and sub.overflowed
        assert sub._writer is not None and not sub._writer.done()
        sub._writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sub._writer

    asyncio.run(run())
