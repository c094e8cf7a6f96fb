"""Locust users of the load and failure run (issue 19); `scripts/loadtest.py` starts the processes, runs
this file headless and checks what it recorded. Not meant to be run on its own: it reads its targets and
writes its record through environment variables the driver sets.

- KP_LOADTEST_WEBS: comma-separated base URLs of the web processes (requests are spread round-robin, as
  a load balancer without retries would: a request to a killed process fails and is counted).
- KP_LOADTEST_OUT: the JSON file written at the end — acknowledged reports, SSE sessions, failures with
  their time (the driver separates those inside its kill windows), MQTT messages published.
- KP_LOADTEST_SKIP: a JSON file of case ids the staff users must leave alone (the driver's timer cases).
- KP_LOADTEST_MQTT: "host:port"; KP_LOADTEST_TOPICS: JSON list of [topic, attribute] to publish on.

Only 5xx answers and connection errors are failures. A 4xx that the business rules give a staff user in
a race (a task another officer already took: 404/409/422) is a normal answer under load, not an error.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as mqtt
import requests
from locust import HttpUser, User, between, events, task
from paho.mqtt.enums import CallbackAPIVersion

WEBS = [u for u in os.environ.get("KP_LOADTEST_WEBS", "http://127.0.0.1:8000").split(",") if u]
_next_web = itertools.cycle(range(len(WEBS)))
PASSWORD = "kotapintar-demo"
SERVICES = ["jalan_rusak", "sampah", "lampu_jalan", "drainase"]
KUALA_KAPUAS = (114.39, -3.0)
RACE_ANSWERS = {400, 403, 404, 409, 422}

# What the driver checks afterwards (one locust process: plain module state is enough).
ACKED: list[dict[str, Any]] = []
SSE_SESSIONS: list[dict[str, Any]] = []
FAILURES: list[dict[str, Any]] = []
MQTT_PUBLISHED = [0]


def _skip_cases() -> set[int]:
    path = os.environ.get("KP_LOADTEST_SKIP")
    if not path:
        return set()
    with open(path, encoding="utf-8") as f:
        return {int(i) for i in json.load(f)}


SKIP = _skip_cases()


def web() -> str:
    """The next web process, round-robin."""
    return WEBS[next(_next_web)]


@events.request.add_listener  # type: ignore[untyped-decorator]
def _record_failure(request_type: str, name: str, exception: Any, **_kw: Any) -> None:
    if exception is not None:
        FAILURES.append({"t": time.time(), "name": f"{request_type} {name}", "error": str(exception)[:200]})


@events.quitting.add_listener  # type: ignore[untyped-decorator]
def _write_record(**_kw: Any) -> None:
    out = os.environ.get("KP_LOADTEST_OUT")
    if not out:
        return
    record = {
        "acked": ACKED,
        "sse_sessions": SSE_SESSIONS,
        "failures": FAILURES,
        "mqtt_published": MQTT_PUBLISHED[0],
    }
    with open(out, "w", encoding="utf-8") as f:
        json.dump(record, f)


def no_keep_alive(user: HttpUser) -> None:
    """One connection per request. Reusing an idle keep-alive connection races with the server closing it
    (uvicorn: after 5 s idle) and fails as "connection reset" with no answer — an artefact of this client
    spreading its requests over several processes, not of the server; a proxy in front retries those."""
    user.client.headers["Connection"] = "close"


def _why(response: Any) -> str:
    """A failure's reason: the status and body, or the exception when no answer came (status 0)."""
    if response.status_code == 0:
        return f"no answer: {response.error!r}"[:200]
    return f"{response.status_code} {response.text[:120]}"


def _ok_unless_server_error(response: Any) -> None:
    """Inside `catch_response`: only 5xx and no answer at all are failures."""
    if response.status_code == 0 or response.status_code >= 500:
        response.failure(_why(response))
    else:
        response.success()


class CitizenReporter(HttpUser):
    """Submits a report through the public API and sometimes follows its ticket."""

    weight = 4
    wait_time = between(0.5, 1.5)
    host = WEBS[0]

    def on_start(self) -> None:
        self.tickets: list[str] = []
        no_keep_alive(self)

    @task(4)
    def submit(self) -> None:
        n = random.randrange(10_000)
        body = {
            "service_code": random.choice(SERVICES),
            "description": f"Laporan beban {uuid.uuid4().hex[:10]}: kerusakan di sekitar titik {n}, mohon dicek.",
            "lon": KUALA_KAPUAS[0] + 0.002 * (n % 40),
            "lat": KUALA_KAPUAS[1] + 0.002 * (n // 40 % 25),
            "channel": "api",
            "reporter": {"name": "Warga Uji", "phone": f"+62812{random.randrange(10**7, 10**8)}"},
        }
        with self.client.post(
            f"{web()}/api/v1/reports", json=body, name="POST /api/v1/reports", catch_response=True
        ) as r:
            if r.status_code == 201:
                data = r.json()
                ACKED.append(
                    {"ticket": data["ticket"], "report_id": data["report_id"], "case_id": data["case_id"]}
                )
                self.tickets.append(data["ticket"])
                r.success()
            else:
                r.failure(_why(r))

    @task(1)
    def follow(self) -> None:
        if not self.tickets:
            return
        ticket = random.choice(self.tickets)
        with self.client.get(
            f"{web()}/api/v1/tickets/{ticket}", name="GET /api/v1/tickets/{ticket}", catch_response=True
        ) as r:
            if r.status_code == 200:
                r.success()
            else:
                r.failure(_why(r))


class _Staff(HttpUser):
    """A logged-in staff member (bearer token: valid on every web process, it lives in the database)."""

    abstract = True
    host = WEBS[0]
    usernames: tuple[str, ...] = ()

    def on_start(self) -> None:
        no_keep_alive(self)
        self.headers: dict[str, str] = {}
        self.username = random.choice(self.usernames)
        self._login()

    def _login(self) -> None:
        with self.client.post(
            f"{web()}/api/v1/auth/token",
            data={"username": self.username, "password": PASSWORD},
            name="POST /api/v1/auth/token",
            catch_response=True,
        ) as r:
            if r.status_code == 200:
                self.headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
                r.success()
            else:
                r.failure(_why(r))

    def inbox(self) -> list[dict[str, Any]]:
        if not self.headers:
            self._login()
            return []
        with self.client.get(
            f"{web()}/api/v1/tasks/inbox",
            headers=self.headers,
            name="GET /api/v1/tasks/inbox",
            catch_response=True,
        ) as r:
            if r.status_code == 200:
                r.success()
                return [i for i in r.json() if int(i["task"]["case_id"]) not in SKIP]
            r.failure(_why(r))
            return []

    def command(self, task_id: int, verb: str, body: dict[str, Any] | None) -> int:
        with self.client.post(
            f"{web()}/api/v1/tasks/{task_id}/{verb}",
            json=body,
            headers=self.headers,
            name=f"POST /api/v1/tasks/{{id}}/{verb}",
            catch_response=True,
        ) as r:
            _ok_unless_server_error(r)
            return int(r.status_code)


class Operator(_Staff):
    """Triage: verifies new complaints and dispatches them to their agency; reads the triage queue."""

    weight = 2
    wait_time = between(1, 2)
    usernames = ("operator",)

    @task(3)
    def work_inbox(self) -> None:
        items = self.inbox()
        mine = [i for i in items if i["task"]["status"] in ("open", "accepted", "in_progress")]
        if not mine:
            return
        item = random.choice(mine[:10])
        outputs = {"lengkap": True} if item["task"]["step_id"] == "verifikasi" else {}
        self.command(int(item["task"]["id"]), "complete", {"outputs": outputs})

    @task(1)
    def triage_queue(self) -> None:
        with self.client.get(
            f"{web()}/api/v1/triage/queue",
            headers=self.headers,
            name="GET /api/v1/triage/queue",
            catch_response=True,
        ) as r:
            _ok_unless_server_error(r)


class Officer(_Staff):
    """An agency officer: accepts a task of the inbox, drafts the answer when one is asked, completes."""

    weight = 2
    wait_time = between(1, 2)
    usernames = ("pupr.petugas", "dlh.petugas")

    @task
    def work_inbox(self) -> None:
        items = self.inbox()
        if not items:
            return
        item = random.choice(items[:10])
        task_id = int(item["task"]["id"])
        if item["task"]["status"] == "open":
            self.command(task_id, "accept", None)
        if item.get("answer_required") and not item.get("answer_draft"):
            self.command(task_id, "answer/draft", {"text": "Terima kasih, laporan sedang kami tangani."})
        self.command(task_id, "complete", {"outputs": {}, "note": "ditangani (uji beban)"})


class PublicReader(HttpUser):
    """The public portal's reader: the case list, one case, the services and the warnings."""

    weight = 4
    wait_time = between(0.5, 1.5)
    host = WEBS[0]

    def on_start(self) -> None:
        no_keep_alive(self)

    def _get(self, path: str, name: str) -> Any:
        with self.client.get(f"{web()}{path}", name=name, catch_response=True) as r:
            if r.status_code == 200:
                r.success()
                return r.json() if "json" in r.headers.get("content-type", "") else None
            r.failure(_why(r))
            return None

    @task(4)
    def cases(self) -> None:
        listed = self._get("/api/v1/public/cases", "GET /api/v1/public/cases")
        items = listed.get("items", listed) if isinstance(listed, dict) else listed
        if isinstance(items, list) and items:
            case_id = random.choice(items[:20]).get("id")
            if case_id is not None:
                self._get(f"/api/v1/public/cases/{case_id}", "GET /api/v1/public/cases/{id}")

    @task(1)
    def services(self) -> None:
        self._get("/api/v1/services", "GET /api/v1/services")

    @task(1)
    def warnings(self) -> None:
        self._get("/api/v1/public/warnings", "GET /api/v1/public/warnings")


class SseClient(User):
    """A live-map viewer: holds `/api/v1/stream` open, reconnects every few seconds (and after a failure)
    with Last-Event-ID, as a browser's EventSource does; records every event id per connection."""

    weight = 2
    wait_time = between(0.2, 0.5)

    def on_start(self) -> None:
        self.session = requests.Session()
        self.ids: list[int] = []
        self.record: dict[str, Any] = {"ids": self.ids, "connections": [], "resumed": 0}
        SSE_SESSIONS.append(self.record)

    @task
    def listen(self) -> None:
        headers = {"Accept": "text/event-stream"}
        if self.ids:
            headers["Last-Event-ID"] = str(self.ids[-1])  # what EventSource sends: the last id received
            self.record["resumed"] += 1
        hold = random.uniform(3, 8)
        started = time.perf_counter()
        exception: Exception | None = None
        got = 0
        base = web()
        connection: dict[str, Any] = {"web": base, "last_event_id": headers.get("Last-Event-ID"), "ids": []}
        self.record["connections"].append(connection)
        try:
            with self.session.get(
                f"{base}/api/v1/stream", headers=headers, stream=True, timeout=(3, 20)
            ) as r:
                if r.status_code != 200:
                    raise RuntimeError(f"stream answered {r.status_code}")
                for raw in r.iter_lines():
                    line = raw.decode("utf-8", "replace")
                    if line.startswith("id:"):
                        self.ids.append(int(line[3:].strip()))
                        connection["ids"].append(self.ids[-1])
                        got += 1
                    if time.perf_counter() - started > hold:
                        break
        except Exception as exc:  # a killed process: connection refused or reset; resume next time
            exception = exc
        events.request.fire(  # type: ignore[no-untyped-call]
            request_type="SSE",
            name="GET /api/v1/stream (held)",
            response_time=(time.perf_counter() - started) * 1000,
            response_length=got,
            exception=exception,
            context={},
        )


class SensorPublisher(User):
    """A river gauge publishing UltraLight readings over MQTT (QoS 1) to the ingest process."""

    weight = 1
    wait_time = between(0.2, 0.5)

    def on_start(self) -> None:
        host, port = os.environ.get("KP_LOADTEST_MQTT", "127.0.0.1:1883").rsplit(":", 1)
        self.topics = [tuple(t) for t in json.loads(os.environ.get("KP_LOADTEST_TOPICS", "[]"))]
        self.mqtt = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"kp-load-{uuid.uuid4().hex[:8]}")
        self.mqtt.connect(host, int(port))
        self.mqtt.loop_start()

    def on_stop(self) -> None:
        self.mqtt.loop_stop()
        self.mqtt.disconnect()

    @task
    def publish(self) -> None:
        if not self.topics:
            return
        topic, attribute = random.choice(self.topics)
        payload = f"t|{datetime.now(UTC).isoformat()}|{attribute}|{2.0 + random.random() * 0.001:.4f}"
        started = time.perf_counter()
        exception: Exception | None = None
        try:
            self.mqtt.publish(topic, payload, qos=1).wait_for_publish(5)
            MQTT_PUBLISHED[0] += 1
        except Exception as exc:
            exception = exc
        events.request.fire(  # type: ignore[no-untyped-call]
            request_type="MQTT",
            name="publish reading (QoS 1)",
            response_time=(time.perf_counter() - started) * 1000,
            response_length=len(payload),
            exception=exception,
            context={},
        )
