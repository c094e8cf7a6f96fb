"""Two real web processes on one PostgreSQL database (issue 19): a report written through process A reaches
an SSE client of process B within a second — B's one LISTEN connection is woken by A's commit (NOTIFY), no
client polls the events table while nothing happens — and a reconnect with Last-Event-ID loses nothing."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from kotapintar.core.db.database import Database
from tests.helpers import report
from tests.spine.test_spine_stream import read_events

pytestmark = [pytest.mark.multiprocess]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _web(db: Database, tmp: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _port()
    env = {
        **os.environ,
        "KOTAPINTAR_DATABASE_URL": db.url,
        "KOTAPINTAR_ENVIRONMENT": "test",
        "KOTAPINTAR_MEDIA_DIR": str(tmp / "media"),
        "KOTAPINTAR_STREAM_POLL_S": "30",  # were the clients still polling, nothing would arrive in time
        "KOTAPINTAR_RATE_LIMIT_PER_IP": "1000/minute",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "kotapintar", "run", "web", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    pytest.fail("the web process did not start")


@pytest.fixture
def two_web(db: Database, tmp_path: Path) -> Iterator[tuple[str, str]]:
    procs = [_web(db, tmp_path) for _ in range(2)]
    try:
        yield procs[0][1], procs[1][1]
    finally:
        for proc, _url in procs:
            proc.terminate()
        for proc, _url in procs:
            proc.wait(timeout=30)


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_an_event_written_through_a_reaches_an_sse_client_of_b_within_a_second(
    two_web: tuple[str, str],
) -> None:
    a, b = two_web
    got: list[dict[str, Any]] = []
    arrived_at: list[float] = []

    def read() -> None:
        got.extend(read_events(f"{b}/api/v1/stream", {}, want=1, timeout=15))
        arrived_at.append(time.monotonic())

    reader = threading.Thread(target=read)
    reader.start()
    time.sleep(1.0)  # connected and waiting at the log's end
    r = httpx.post(f"{a}/api/v1/reports", json=report().model_dump(mode="json"), timeout=30)
    committed = time.monotonic()  # A answers after its commit
    assert r.status_code == 201, r.text
    reader.join(timeout=20)
    assert got, "the event never reached process B"
    arrived = arrived_at[0] - committed
    assert arrived < 1.0, f"arrived after {arrived:.2f} s"
    # Resume on process A from before that event: the same events, none lost, none repeated.
    first = got[0]["id"]
    again = read_events(f"{a}/api/v1/stream", {"Last-Event-ID": str(first - 1)}, want=1, timeout=5)
    assert [e["id"] for e in again] == [first]
    metrics = httpx.get(f"{b}/metrics", timeout=10).text
    assert "kotapintar_sse_clients 0.0" in metrics
