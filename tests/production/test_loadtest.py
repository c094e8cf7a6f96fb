"""The load and failure run in its short profile (issue 19): `scripts/loadtest.py --profile short` starts two
web processes, a worker, ingest and a notifier on PostgreSQL and MQTT, drives them with Locust users for
30 s, kills -9 one web process and the worker in the middle, and exits 0 only when every acknowledged report
is stored, every due timer fired exactly once and the SSE clients resumed without a gap. The long profile
is `make loadtest`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import skip_or_fail

pytestmark = [pytest.mark.multiprocess]
REPO = Path(__file__).resolve().parents[2]


def test_short_load_run_with_two_kills_keeps_reports_timers_and_streams() -> None:
    for var in ("KOTAPINTAR_TEST_POSTGRES_URL", "KOTAPINTAR_TEST_MQTT_URL"):
        if not os.environ.get(var):
            skip_or_fail(f"{var} is not set: the load run needs PostgreSQL and MQTT")
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "loadtest.py"), "--profile", "short"],
        capture_output=True,
        text=True,
        timeout=280,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    report = done.stdout + done.stderr[-3000:]
    assert done.returncode == 0, report
    assert "LOAD TEST PASSED" in done.stdout
    for figure in ("POST /api/v1/reports", "p99", "acknowledged reports", "kill -9 web", "kill -9 worker"):
        assert figure in done.stdout, report
