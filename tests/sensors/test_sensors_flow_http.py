"""HTTP ingest (single, batch, NGSI-LD) with per-device keys, the query API and the CAP feed over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import jinja2
import pytest
from lxml import etree

from kotapintar.core.access.actors import system_actor
from kotapintar.core.db.database import Database
from kotapintar.core.settings import Settings
from kotapintar.sensors import devices as sensor_devices
from kotapintar.sensors import ingest as sensor_ingest
from kotapintar.sensors import queries as sensor_queries
from kotapintar.sensors.engine.cap import CAP_NS, validate
from kotapintar.sensors.engine.payloads import Reading, format_ngsi_ld, iso_z


@pytest.fixture
def api(db: Database, live_server: object) -> Iterator[httpx.Client]:
    """An HTTP client on the live server, with the demo devices registered."""
    sensor_devices.load_demo_devices(db, system_actor("tests"))
    with httpx.Client(base_url=live_server.url, timeout=30) as client:  # type: ignore[attr-defined]
        yield client


def key(settings: Settings, device_id: str) -> dict[str, str]:
    """The device-key header of a demo device."""
    return {"X-Device-Key": sensor_devices.device_api_key(settings, device_id)}


def test_http_single_batch_and_ngsi_ld_ingest_then_query(api: httpx.Client, settings: Settings) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    single = {
        "deviceId": "KPS-ARG-01",
        "precipitation": 2.4,
        "observedAt": iso_z(now - timedelta(minutes=20)),
    }
    r = api.post("/api/v1/sensors/ingest", json=single, headers=key(settings, "KPS-ARG-01"))
    assert r.status_code == 202, r.text
    assert r.json()["stored"] == 1

    batch = [
        {"deviceId": "KPS-ARG-01", "precipitation": 1.0, "observedAt": iso_z(now - timedelta(minutes=10))},
        {"deviceId": "KPS-ARG-01", "precipitation": 2.4, "observedAt": iso_z(now - timedelta(minutes=20))},
    ]
    r = api.post("/api/v1/sensors/ingest", json=batch, headers=key(settings, "KPS-ARG-01"))
    assert r.status_code == 202
    assert (r.json()["stored"], r.json()["duplicates"]) == (1, 1)

    entities = format_ngsi_ld(
        [Reading(now - timedelta(minutes=5), "KPS-AWLR-01", "waterLevel", 1.23, "m")],
        entity_type="WaterObserved",
    )
    r = api.post("/api/v1/sensors/ngsi-ld/entities", json=entities, headers=key(settings, "KPS-AWLR-01"))
    assert r.status_code == 202 and r.json()["stored"] == 1

    series = api.get(
        "/api/v1/sensors/devices/KPS-ARG-01/series", params={"start": iso_z(now - timedelta(hours=1))}
    ).json()
    assert [p["value"] for p in series["points"]] == [2.4, 1.0]
    hourly = api.get(
        "/api/v1/sensors/devices/KPS-ARG-01/series",
        params={"start": iso_z(now - timedelta(hours=2)), "resolution": "1h"},
    ).json()
    assert sum(p["count"] for p in hourly["points"]) == 2
    latest = {d["id"]: d for d in api.get("/api/v1/sensors/latest", params={"kind": "water_level"}).json()}
    assert latest["KPS-AWLR-01"]["latest"]["value"] == pytest.approx(1.23)
    assert latest["KPS-AWLR-01"]["latest"]["level"] == "normal"
    devices = {d["id"]: d for d in api.get("/api/v1/sensors/devices").json()}
    assert devices["KPS-AWLR-01"]["health"] == "ok"
    assert devices["KPS-AWLR-02"]["health"] == "never_seen"
    assert devices["KPS-ARG-01"]["latest"]["precipitation"]["value"] == 1.0
    quality = api.get("/api/v1/sensors/quality", params={"hours": 1}).json()
    assert quality["kinds"]["rain_gauge"]["last_seen"] == iso_z(now - timedelta(minutes=10))


def test_http_bad_key_and_unknown_device_are_refused_and_counted(
    api: httpx.Client, db: Database, settings: Settings
) -> None:
    now = iso_z(datetime.now(UTC))
    body = {"deviceId": "KPS-ARG-02", "precipitation": 1.0, "observedAt": now}
    r = api.post("/api/v1/sensors/ingest", json=body, headers={"X-Device-Key": "not-the-key"})
    assert r.status_code == 403 and r.json()["rejected"] == {"bad_api_key": 1}
    r = api.post(
        "/api/v1/sensors/ingest", json={**body, "deviceId": "GHOST-1"}, headers=key(settings, "GHOST-1")
    )
    assert r.status_code == 403 and r.json()["rejected"] == {"unknown_device": 1}
    r = api.post("/api/v1/sensors/ingest", json=body)
    assert r.status_code == 403
    r = api.post("/api/v1/sensors/ingest", content=b"{not json", headers=key(settings, "KPS-ARG-02"))
    assert r.status_code == 422 and r.json()["error"]["code"] == "bad_json"
    assert api.get("/api/v1/sensors/devices/KPS-ARG-02/series").json()["points"] == []
    counts = {
        (c["device_id"], c["reason"]): c["count"]
        for c in sensor_queries.rejection_counts(db, system_actor("tests"))
    }
    assert counts[("KPS-ARG-02", "bad_api_key")] == 2
    assert counts[("GHOST-1", "unknown_device")] == 1
    assert api.get("/api/v1/sensors/rejections").status_code == 401  # operators only


def test_cap_feed_over_http_validates_against_the_xsd(
    api: httpx.Client, db: Database, settings: Settings
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    start = now - timedelta(minutes=121)
    # Kuala Kapuas gauge (kapuas_hilir: siaga 2.7 m) rising to siaga: opens a banjir case and a public warning.
    readings = [
        Reading(start + timedelta(minutes=10 * i), "KPS-AWLR-01", "waterLevel", 1.6 + 0.15 * i, "m")
        for i in range(13)
    ]
    out = sensor_ingest.ingest_readings(db, readings, received_at=now, settings=settings)
    assert len(out.cases_opened) == 1
    warnings = api.get("/api/v1/public/warnings").json()
    assert [(w["area_code"], w["msg_type"]) for w in warnings] == [("62.03.01", "Alert")]
    r = api.get("/api/v1/public/warnings.cap.xml")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/atom+xml")
    feed = etree.fromstring(r.content)
    alerts = feed.findall(f".//{{{CAP_NS}}}alert")
    assert len(alerts) == 1
    validate(alerts[0])
    info = alerts[0].find(f"{{{CAP_NS}}}info")
    assert info is not None and info.findtext(f"{{{CAP_NS}}}language") == "id-ID"
    area = info.find(f"{{{CAP_NS}}}area")
    assert area is not None and area.findtext(f"{{{CAP_NS}}}polygon")
    code = area.find(f"{{{CAP_NS}}}geocode/{{{CAP_NS}}}value")
    assert code is not None and code.text == "62.03.01"
    chart = sensor_queries.case_observations(
        db, system_actor("tests"), out.cases_opened[0], settings=settings
    )
    assert chart["series"] and chart["alarms"][0]["level"] in ("siaga", "awas", "waspada")
    geometry = sensor_queries.chart_geometry(chart["series"][0])
    assert len(geometry["points"].split()) == 13
    assert {t["name"] for t in geometry["thresholds"]} >= {"siaga"}
    env = jinja2.Environment(loader=jinja2.PackageLoader("kotapintar.web", "templates"), autoescape=True)
    svg = env.from_string('{% from "sensors/chart.html" import sensor_chart %}{{ sensor_chart(g) }}').render(
        g=geometry
    )
    assert "<polyline" in svg and "<figcaption>" in svg


def test_retention_deletes_old_raw_readings_and_keeps_hourly_rollups(
    db: Database, settings: Settings
) -> None:
    sensor_devices.load_demo_devices(db, system_actor("tests"))
    now = datetime.now(UTC).replace(microsecond=0)
    old = now - timedelta(days=100)
    readings = [
        Reading(old + timedelta(minutes=10 * i), "KPS-ARG-03", "precipitation", 1.0, "mm") for i in range(3)
    ]
    readings.append(Reading(now - timedelta(minutes=10), "KPS-ARG-03", "precipitation", 2.0, "mm"))
    sensor_ingest.ingest_readings(db, readings, received_at=now, settings=settings)
    deleted = sensor_ingest.apply_retention(db, system_actor("tests"), now=now, settings=settings)
    assert deleted["raw"] == 3
    raw = sensor_queries.device_series(
        db, "KPS-ARG-03", start=old - timedelta(hours=1), end=now, settings=settings
    )
    assert [p["value"] for p in raw["points"]] == [2.0]
    hourly = sensor_queries.device_series(
        db, "KPS-ARG-03", start=old - timedelta(hours=1), end=now, resolution="1h", settings=settings
    )
    assert sum(p["count"] for p in hourly["points"]) == 4
