"""Status changes reach the reporter on the channel they used, once, and not in quiet hours for P3/P4."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import httpx

from kotapintar.channels.adapters.outbound import ConsoleGateway
from kotapintar.channels.notifier import notify_once, quiet_until
from kotapintar.core.db.database import Database
from kotapintar.core.settings import Settings
from tests.conftest import LiveServer
from tests.intake.intake_helpers import sms_post, tg_post, token_for

TICKET = re.compile(r"KPS-\d{4}-\d{6}")


def test_quiet_hours_window() -> None:
    night = datetime(2026, 11, 29, 15, 0, tzinfo=UTC)  # 22:00 WIB
    ends = quiet_until(night, "21:00-06:00", "Asia/Jakarta")
    assert ends == datetime(2026, 11, 29, 23, 0, tzinfo=UTC)  # 06:00 WIB next morning
    assert quiet_until(datetime(2026, 11, 29, 5, 0, tzinfo=UTC), "21:00-06:00", "Asia/Jakarta") is None
    assert quiet_until(night, "", "Asia/Jakarta") is None


def test_status_change_reaches_sms_and_telegram_reporters(
    live_server: LiveServer, db: Database, settings: Settings
) -> None:
    base = live_server.url
    sms = sms_post(
        base,
        {
            "id": "n-1",
            "from": "+6281311112222",
            "text": "LAPOR#jalan_rusak#Selat#Jalan berlubang depan SDN 2",
        },
    )
    ticket = TICKET.search(" ".join(sms.json()["replies"]))
    assert ticket
    gateway = ConsoleGateway()
    notify_once(db, settings, gateway)  # catches up; case_created itself is not announced
    assert gateway.to("+6281311112222") == []
    case_id = httpx.get(f"{base}/api/v1/tickets/{ticket.group(0)}", timeout=30).json()["id"]
    operator = {"Authorization": f"Bearer {token_for(base, 'operator')}"}
    assert (
        httpx.post(f"{base}/api/v1/cases/{case_id}/verify", headers=operator, timeout=30).status_code == 200
    )
    assert notify_once(db, settings, gateway) == 1
    notified = gateway.to("+6281311112222")
    assert len(notified) == 1 and ticket.group(0) in notified[0] and "diverifikasi" in notified[0]
    assert notify_once(db, settings, gateway) == 0  # sent once

    chat = {"id": 7001, "type": "private"}
    for n, text in enumerate(["lampu jalan mati di depan pasar selat, gelap sekali", "ya"], start=1):
        tg_post(base, {"update_id": 700 + n, "message": {"message_id": n, "chat": chat, "text": text}})
    tg_case = httpx.get(f"{base}/api/v1/cases", headers=operator, timeout=30).json()["items"][0]["id"]
    httpx.post(f"{base}/api/v1/cases/{tg_case}/verify", headers=operator, timeout=30)
    notify_once(db, settings, gateway)
    assert len(gateway.to("7001")) == 1


def test_quiet_hours_hold_non_emergency_updates(
    live_server: LiveServer, db: Database, settings: Settings
) -> None:
    base = live_server.url
    settings.quiet_hours = "00:00-23:59"  # always quiet
    sms = sms_post(
        base,
        {
            "id": "q-1",
            "from": "+6281322223333",
            "text": "LAPOR#jalan_rusak#Selat#Jalan berlubang depan SDN 2",
        },
    )
    ticket = TICKET.search(" ".join(sms.json()["replies"]))
    assert ticket
    detail = httpx.get(f"{base}/api/v1/tickets/{ticket.group(0)}", timeout=30).json()
    assert detail["priority"] in ("P3", "P4")
    gateway = ConsoleGateway()
    notify_once(db, settings, gateway)  # the notifier's first pass starts at the newest event
    operator = {"Authorization": f"Bearer {token_for(base, 'operator')}"}
    httpx.post(f"{base}/api/v1/cases/{detail['id']}/verify", headers=operator, timeout=30)
    assert notify_once(db, settings, gateway) == 0
    settings.quiet_hours = ""
    later = datetime(2099, 1, 1, tzinfo=UTC)
    assert notify_once(db, settings, gateway, now=later) == 1
    assert len(gateway.to("+6281322223333")) == 1


def test_http_gateway_posts_json_to_the_bridge() -> None:
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from kotapintar.channels.adapters.outbound import HttpGateway, OutboundMessage

    received: list[dict[str, str]] = []

    class Bridge(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            received.append(json.loads(self.rfile.read(length)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return None

    server = HTTPServer(("127.0.0.1", 0), Bridge)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        gateway = HttpGateway(f"http://127.0.0.1:{server.server_port}/send")
        gateway.send(OutboundMessage("whatsapp", "+6281200000000", "Tiket KPS-2026-000001: selesai"))
    finally:
        server.shutdown()
    assert received == [
        {"channel": "whatsapp", "to": "+6281200000000", "text": "Tiket KPS-2026-000001: selesai"}
    ]


def test_notifier_loop_started_like_serve_sends_updates(
    live_server: LiveServer, db: Database, settings: Settings
) -> None:
    import time

    from kotapintar.channels.adapters.outbound import gateway_for
    from kotapintar.channels.notifier import start_notifier

    base = live_server.url
    settings.notifier_interval_s = 0.05
    sms = sms_post(
        base,
        {
            "id": "loop-1",
            "from": "+6281344445555",
            "text": "LAPOR#jalan_rusak#Selat#Jalan berlubang depan SDN 2",
        },
    )
    ticket = TICKET.search(" ".join(sms.json()["replies"]))
    assert ticket
    loop = start_notifier(db, settings)
    assert loop is not None
    try:
        case_id = httpx.get(f"{base}/api/v1/tickets/{ticket.group(0)}", timeout=30).json()["id"]
        operator = {"Authorization": f"Bearer {token_for(base, 'operator')}"}
        httpx.post(f"{base}/api/v1/cases/{case_id}/verify", headers=operator, timeout=30)
        gateway = gateway_for(settings)
        assert isinstance(gateway, ConsoleGateway)
        deadline = time.monotonic() + 10

        def arrived() -> bool:
            return any(ticket.group(0) in m and "diverifikasi" in m for m in gateway.to("+6281344445555"))

        while time.monotonic() < deadline and not arrived():
            time.sleep(0.05)
        assert arrived()
    finally:
        loop.stop()
