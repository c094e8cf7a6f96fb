"""Abuse limits: per-phone rate limit on a chat channel, operator spam/prank flags (counted, not deleted)."""

from __future__ import annotations

import re

import httpx

from kotapintar.core.db.database import Database
from kotapintar.core.settings import Settings
from tests.conftest import LiveServer
from tests.intake.intake_helpers import report_ids, sms_post, token_for

TICKET = re.compile(r"KPS-\d{4}-\d{6}")


def _lapor(base: str, msg_id: str, sender: str) -> httpx.Response:
    return sms_post(
        base, {"id": msg_id, "from": sender, "text": f"LAPOR#jalan_rusak#Selat#Jalan berlubang {msg_id}"}
    )


def test_rate_limit_per_phone_gives_429_with_retry_after(
    live_server: LiveServer, db: Database, settings: Settings
) -> None:
    settings.rate_limit_per_phone = "2/hour"
    codes = [_lapor(live_server.url, f"rl-{n}", "081255550000").status_code for n in range(2)]
    # the same number written another way is still the same number
    third = _lapor(live_server.url, "rl-2", "+62 812-5555-0000")
    assert codes == [200, 200] and third.status_code == 429
    assert int(third.headers["Retry-After"]) > 0
    assert third.json()["error"]["code"] == "rate_limited"
    assert len(report_ids(db)) == 2
    assert _lapor(live_server.url, "rl-3", "081266660000").status_code == 200  # others are not affected


def test_operator_flags_sender_counted_then_blocked(
    live_server: LiveServer, db: Database, settings: Settings
) -> None:
    base = live_server.url
    settings.spam_block_threshold = 2
    for n in range(2):
        assert TICKET.search(" ".join(_lapor(base, f"sp-{n}", "+6281299998888").json()["replies"]))
    reports = report_ids(db)
    assert len(reports) == 2
    officer = token_for(base, "pupr.petugas")
    refused = httpx.post(
        f"{base}/api/v1/channels/flags",
        json={"report_id": reports[0], "kind": "spam"},
        headers={"Authorization": f"Bearer {officer}"},
        timeout=30,
    )
    assert refused.status_code == 403
    assert (
        httpx.post(f"{base}/api/v1/channels/flags", json={"report_id": reports[0]}, timeout=30).status_code
        == 401
    )
    operator = {"Authorization": f"Bearer {token_for(base, 'operator')}"}
    first = httpx.post(
        f"{base}/api/v1/channels/flags",
        json={"report_id": reports[0], "kind": "spam"},
        headers=operator,
        timeout=30,
    )
    assert first.status_code == 201 and first.json() == {
        "channel": "sms",
        "kind": "spam",
        "flags": 1,
        "blocked": False,
    }
    assert "9998888" not in first.text
    second = httpx.post(
        f"{base}/api/v1/channels/flags",
        json={"report_id": reports[1], "kind": "prank"},
        headers=operator,
        timeout=30,
    )
    assert second.json()["flags"] == 2 and second.json()["blocked"] is True
    blocked = _lapor(base, "sp-9", "081299998888")
    assert blocked.status_code == 200 and "ditandai" in blocked.json()["replies"][0]
    assert report_ids(db) == reports  # nothing deleted, nothing new
    bad = httpx.post(
        f"{base}/api/v1/channels/flags", json={"report_id": 999999}, headers=operator, timeout=30
    )
    assert bad.status_code == 404
