"""Metrics of the roles without an HTTP server (issue 19): `kotapintar run ingest|notifier|worker
--metrics-port P` serves Prometheus metrics on loopback, so ingest rate and drops and the notifier queue can
be scraped; a port already taken is refused with a clear message."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from typer.testing import CliRunner

from kotapintar.app.cli import app as cli
from kotapintar.core.db.database import Database
from kotapintar.core.settings import get_settings
from kotapintar.sensors.runtime import broker_address
from tests.conftest import skip_or_fail

pytestmark = [pytest.mark.multiprocess, pytest.mark.parametrize("backend", ["postgres"], indirect=True)]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _role(db: Database, tmp: Path, role: str, metrics_port: int, **env: str) -> subprocess.Popen[str]:
    """`kotapintar run ROLE --metrics-port PORT`: a real process on the test database."""
    return subprocess.Popen(
        [sys.executable, "-m", "kotapintar", "run", role, "--metrics-port", str(metrics_port)],
        env={
            **os.environ,
            "KOTAPINTAR_DATABASE_URL": db.url,
            "KOTAPINTAR_ENVIRONMENT": "test",
            "KOTAPINTAR_MEDIA_DIR": str(tmp / "media"),
            **env,
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _scrape(proc: subprocess.Popen[str], port: int, seconds: float = 60) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(
                f"the role exited with {proc.returncode}: {proc.stderr.read() if proc.stderr else ''}"
            )
        try:
            return httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=1).text
        except httpx.HTTPError:
            time.sleep(0.1)
    pytest.fail("the metrics endpoint did not answer")


def _value(page: str, sample: str) -> float:
    found = re.search(rf"^{re.escape(sample)} (\S+)$", page, re.MULTILINE)
    assert found is not None, f"{sample} missing from the scrape"
    return float(found.group(1))


@pytest.fixture
def stopped() -> Iterator[list[subprocess.Popen[str]]]:
    procs: list[subprocess.Popen[str]] = []
    yield procs
    for proc in procs:
        proc.terminate()
    for proc in procs:
        proc.wait(timeout=30)


def test_ingest_and_notifier_roles_are_scraped_on_their_metrics_ports(
    db: Database, tmp_path: Path, stopped: list[subprocess.Popen[str]]
) -> None:
    url = os.environ.get("KOTAPINTAR_TEST_MQTT_URL")
    if not url:
        skip_or_fail("KOTAPINTAR_TEST_MQTT_URL is not set: MQTT role metrics skipped")
    assert url is not None
    notifier_port, ingest_port = _port(), _port()
    stopped.append(notifier := _role(db, tmp_path, "notifier", notifier_port))  # both start at once
    stopped.append(ingest := _role(db, tmp_path, "ingest", ingest_port, KOTAPINTAR_MQTT_URL=url))

    page = _scrape(notifier, notifier_port)
    assert _value(page, "kotapintar_notifier_queue") >= 0
    assert _value(page, "kotapintar_sop_oldest_due_timer_seconds") >= 0
    assert "process_cpu_seconds_total" in page  # prometheus_client's own process metrics come along

    before = _value(_scrape(ingest, ingest_port), "kotapintar_ingest_received")
    host, mqtt_port, _, _ = broker_address(url)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"kp-pub-{uuid.uuid4().hex[:8]}")
    client.connect(host, mqtt_port)
    client.loop_start()
    try:
        deadline = time.monotonic() + 30
        received = before
        while received < before + 3 and time.monotonic() < deadline:  # until the role has subscribed
            client.publish("/not-a-key/KPS-AWLR-01/attrs", "wl|1.2", qos=1).wait_for_publish(10)
            time.sleep(0.2)
            received = _value(_scrape(ingest, ingest_port), "kotapintar_ingest_received")
    finally:
        client.loop_stop()
        client.disconnect()
    assert received >= before + 3
    page = _scrape(ingest, ingest_port)
    assert _value(page, "kotapintar_ingest_dropped") == 0
    assert _value(page, "kotapintar_ingest_backlog") >= 0


def test_a_taken_metrics_port_is_refused_with_a_clear_message(
    db: Database, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("KOTAPINTAR_DATABASE_URL", db.url)
    monkeypatch.setenv("KOTAPINTAR_ENVIRONMENT", "test")
    monkeypatch.setenv("KOTAPINTAR_MEDIA_DIR", str(tmp_path / "media"))
    get_settings.cache_clear()
    try:
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            result = CliRunner().invoke(
                cli, ["run", "notifier", "--metrics-port", str(taken.getsockname()[1])]
            )
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2, result.output
    assert "metrics port" in result.stderr and "Traceback" not in result.output
