"""The live stream (SSE) over real HTTP: new events arrive, resume with Last-Event-ID, filtered per reader."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import httpx

from kotapintar.app.reference import DEMO_PASSWORD
from kotapintar.cases import service as case_service
from kotapintar.core.access.actors import channel_actor
from kotapintar.core.db.database import Database
from kotapintar.core.settings import Settings
from kotapintar.intake.submit import submit_report
from tests.conftest import LiveServer
from tests.helpers import actor, report


def read_events(url: str, headers: dict[str, str], want: int, timeout: float = 10.0) -> list[dict[str, Any]]:
    """Read SSE `data:` lines until `want` events arrived or the timeout passed."""
    out: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=timeout) as client, client.stream("GET", url, headers=headers) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        try:
            for line in response.iter_lines():
                if line.startswith("data:"):
                    out.append(json.loads(line[5:]))
                    if len(out) >= want:
                        break
                if time.monotonic() > deadline:
                    break
        except httpx.ReadTimeout:
            pass  # nothing more arrived in time: the caller asserts on what did
    return out


def token(server: LiveServer, username: str) -> dict[str, str]:
    r = httpx.post(f"{server.url}/api/v1/auth/token", data={"username": username, "password": DEMO_PASSWORD})
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def test_new_events_arrive_live_and_resume(live_server: LiveServer, db: Database, settings: Settings) -> None:
    headers = token(live_server, "operator")
    got: list[dict[str, Any]] = []
    reader = threading.Thread(
        target=lambda: got.extend(read_events(f"{live_server.url}/api/v1/stream", headers, want=2))
    )
    reader.start()
    time.sleep(0.5)  # the reader is connected and waiting at the log's end
    started = time.monotonic()
    case_id = submit_report(db, channel_actor("web"), report(), settings=settings).case_id
    reader.join(timeout=10)
    assert [e["type"] for e in got] == ["report_received", "case_created"]
    assert time.monotonic() - started < 1.5, "a new event must reach an open stream within about a second"
    assert got[1]["case_id"] == case_id
    # Resume: everything after the first event, nothing before.
    case_service.verify_case(db, actor(db, "operator"), case_id)
    # The case's SOP adds its own events after case_created (issue 3): read until the verification.
    resumed = read_events(
        f"{live_server.url}/api/v1/stream",
        {**headers, "Last-Event-ID": str(got[0]["id"])},
        want=50,
        timeout=2,
    )
    types = [e["type"] for e in resumed]
    assert types[0] == "case_created" and "report_received" not in types
    # Verifying completes the SOP's verification step, which then starts the disposition step.
    assert "case_verified" in types
    assert types.index("task_completed") < types.index("case_verified") < len(types) - 1
    assert types[-1] == "task_created"


def test_public_stream_shows_status_changes_without_internal_notes(
    live_server: LiveServer, db: Database, settings: Settings
) -> None:
    start = "0"
    case_id = submit_report(db, channel_actor("web"), report(), settings=settings).case_id
    op = actor(db, "operator")
    case_service.add_note(db, op, case_id, "catatan internal: pelapor kerabat kepala desa")
    case_service.verify_case(db, op, case_id)
    public = read_events(f"{live_server.url}/api/v1/stream?after={start}", {}, want=2, timeout=5)
    assert [e["type"] for e in public] == ["case_created", "case_verified"]
    assert "catatan internal" not in json.dumps(public)
    assert all(e["actor"] in ("petugas", "warga") for e in public)  # never a username or client name
    dlh = read_events(
        f"{live_server.url}/api/v1/stream?after=0", token(live_server, "dlh.petugas"), want=1, timeout=2
    )
    assert dlh == []  # a road case is none of DLH's business
