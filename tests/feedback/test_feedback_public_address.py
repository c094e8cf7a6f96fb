"""Links citizens and crews receive carry the server's real public address: production refuses to start
without `public_base_url`; `kotapintar serve` derives it from the address it serves; unit-token uses it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from kotapintar.core.db.database import Database
from kotapintar.core.settings import served_base_url
from tests.intake.intake_helpers import SMS_SECRET, sms_post

REPO = Path(__file__).resolve().parents[2]


def _env(db: Database, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KOTAPINTAR_")}
    return {**env, "KOTAPINTAR_DATABASE_URL": db.url, "KOTAPINTAR_ENVIRONMENT": "test", **extra}


def _cli(db: Database, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kotapintar", *args],
        cwd=REPO,
        env=_env(db, **extra),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_served_base_url_of_a_host() -> None:
    assert served_base_url("127.0.0.1", 8123) == "http://127.0.0.1:8123"
    wildcard = served_base_url("0.0.0.0", 8000)
    assert wildcard.startswith("http://") and wildcard.endswith(":8000") and "0.0.0.0" not in wildcard


def test_production_refuses_to_serve_without_public_base_url(db: Database) -> None:
    run = _cli(db, "serve", KOTAPINTAR_ENVIRONMENT="production", KOTAPINTAR_SECRET_KEY="p" * 48)
    assert run.returncode == 2
    assert "KOTAPINTAR_PUBLIC_BASE_URL" in run.stderr and "public_base_url" in run.stderr


def test_unit_token_prints_the_public_address(db: Database) -> None:
    run = _cli(
        db, "dispatch", "unit-token", "AMB-01", KOTAPINTAR_PUBLIC_BASE_URL="https://cc.kapuaskab.go.id"
    )
    assert run.returncode == 0, run.stderr
    assert "\thttps://cc.kapuaskab.go.id/unit/AMB-01?token=" in run.stdout
    unset = _cli(db, "dispatch", "unit-token", "AMB-01")
    assert unset.returncode == 0 and "KOTAPINTAR_PUBLIC_BASE_URL" in unset.stderr


def test_serve_derives_the_link_in_chat_replies_from_its_address(db: Database, backend: str) -> None:
    if backend != "sqlite":
        pytest.skip("one server start is enough: the derivation does not depend on the database")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "kotapintar", "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=REPO,
        env=_env(
            db,
            KOTAPINTAR_SMS_WEBHOOK_SECRET=SMS_SECRET,
            KOTAPINTAR_RUN_SCHEDULER="false",
            KOTAPINTAR_RUN_NOTIFIER="false",
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.3)
        reply = sms_post(
            base,
            {"id": "addr-1", "from": "+6281300001111", "text": "LAPOR#jalan_rusak#Selat#Jalan berlubang"},
        )
        assert f"{base}/lacak/KPS-" in " ".join(reply.json()["replies"])
    finally:
        server.terminate()
        server.wait(timeout=20)
