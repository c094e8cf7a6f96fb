"""The operator's sensor page (/operator/sensor), its device map data and the sensor data-quality open data,
over HTTP against the real app on SQLite and PostgreSQL; one browser check that the map draws the devices."""

from __future__ import annotations

import csv
import io
import os
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from lxml import html

from kotapintar.app.web import create_app
from kotapintar.cases import service as case_service
from kotapintar.core.access.actors import system_actor
from kotapintar.core.db.database import Database
from kotapintar.core.settings import Settings
from kotapintar.portal.records import SENSOR_COLUMNS
from kotapintar.sensors import devices as sensor_devices
from kotapintar.sensors import ingest as sensor_ingest
from kotapintar.sensors import warnings as sensor_warnings
from kotapintar.sensors.engine.payloads import Reading
from kotapintar.sensors.engine.registry import load_devices
from tests.conftest import skip_or_fail
from tests.helpers import DEMO_PASSWORD as PASSWORD
from tests.helpers import actor
from tests.helpers import web_client as client

GAUGE = "KPS-AWLR-01"  # Kuala Kapuas, class kapuas_hilir: waspada 2.3 m, siaga 2.7 m, awas 3.1 m
GAUGE_AREA = "62.03.01"
SILENT = "KPS-AQ-03"  # no reading in these tests
STALE = "KPS-ARG-01"  # reports every 10 min; one reading 3 h ago
# The river sits at 2.50 m for 110 minutes, then reaches siaga: 2.60, 2.74 m. Never 30 cm in an hour, so the
# threshold rule (not the rate-of-rise rule) opens the alarm, at siaga.
LEVELS = [2.50] * 11 + [2.60, 2.74]


@pytest.fixture
def app(db: Database, settings: Settings) -> Any:
    """The application on the test database, with the 18 demo devices registered."""
    sensor_devices.load_demo_devices(db, system_actor("tests"))
    return create_app(settings, db=db)


def feed(db: Database, settings: Settings) -> tuple[datetime, list[int]]:
    """The gauge reaches siaga (13 readings, 10 minutes apart, the last a minute ago); the rain gauge last
    reported 3 h ago. Returns the time and the cases the readings opened."""
    now = datetime.now(UTC).replace(microsecond=0)
    first = now - timedelta(minutes=121)
    rising = [
        Reading(first + timedelta(minutes=10 * i), GAUGE, "waterLevel", value, "m")
        for i, value in enumerate(LEVELS)
    ]
    old_rain = [Reading(now - timedelta(hours=3), STALE, "precipitation", 0.4, "mm")]
    outcome = sensor_ingest.ingest_readings(db, [*old_rain, *rising], received_at=now, settings=settings)
    assert outcome.stored == len(LEVELS) + 1, outcome.as_dict()
    return now, outcome.cases_opened


def row(page: Any, device_id: str) -> Any:
    """The device's row in the devices table."""
    (found,) = page.xpath(f'//table[@data-sensor-devices]//tr[@data-device="{device_id}"]')
    return found


def text(element: Any) -> str:
    """An element's text with whitespace collapsed."""
    return " ".join(element.text_content().split())


# ---------------------------------------------------------------- the operator's sensor page


def test_gauge_at_siaga_shows_level_value_and_the_alarm_links_its_case(
    app: Any, db: Database, settings: Settings
) -> None:
    """The river gauge at 2.74 m is siaga on the page, with its value; the alarm names the area, the level
    and the case it opened, linked to the operator's case page; the map legend and nav are there."""
    _, opened = feed(db, settings)
    assert len(opened) == 1, "the siaga rule opens exactly one case"
    case_id = opened[0]
    detail = case_service.case_detail(db, actor(db, "operator"), case_id)
    assert detail.service_code == "banjir"

    r = client(app, "operator").get("/operator/sensor")
    assert r.status_code == 200
    page = html.fromstring(r.text)
    gauge = row(page, GAUGE)
    assert gauge.get("data-health") == "ok" and gauge.get("data-level") == "siaga"
    (latest,) = gauge.xpath('.//div[@data-attribute="waterLevel"]')
    assert text(latest.xpath(".//*[@data-value]")[0]) == "2,74 m"
    assert text(latest.xpath(".//*[@data-flood-level]")[0]) == "Siaga"
    assert "Selat" in text(gauge) and "BPBD" in text(gauge)  # kecamatan and owner agency by name
    assert "WIB" in text(gauge)  # last seen in local time

    (alarm,) = page.xpath("//table[@data-sensor-alarms]//tr[@data-alarm]")
    assert alarm.get("data-level") == "siaga" and "Siaga" in text(alarm)
    assert "Selat" in text(alarm) and GAUGE_AREA in text(alarm)
    (link,) = alarm.xpath(".//a[@data-alarm-case]")
    assert link.get("href") == f"/operator/kasus/{case_id}"
    assert text(link) == detail.ticket
    (warning,) = [w for w in sensor_warnings.active_warnings(db) if w["area_code"] == GAUGE_AREA]
    assert warning["headline"] in text(alarm)  # the public CAP headline the warning went out with
    assert page.xpath('//*[@data-count="alarms"]')[0].text == "1"

    # the same alarms as JSON for other tools (operators only); the map says what it shows to screen readers
    listed = client(app, "operator").get("/api/v1/sensors/alarms")
    assert listed.status_code == 200
    assert [(a["level"], a["case_id"], a["area_code"]) for a in listed.json()] == [
        ("siaga", case_id, GAUGE_AREA)
    ]
    assert client(app).get("/api/v1/sensors/alarms").status_code == 401
    assert page.xpath('//*[@id="sensor-map"]')[0].get("aria-label") == "Peta perangkat sensor dan wilayah"

    # the nav links the page and marks it (not the wall) as the current one
    (nav,) = page.xpath('//nav[contains(@class,"site-nav")]')
    assert nav.xpath('.//a[@href="/operator/sensor"]')[0].get("aria-current") == "page"
    assert nav.xpath('.//a[@href="/operator"]')[0].get("aria-current") is None
    wall = html.fromstring(client(app, "operator").get("/operator").text)
    assert wall.xpath('//nav[contains(@class,"site-nav")]//a[@href="/operator/sensor"]')


def test_health_is_marked_ok_stale_and_never_seen(app: Any, db: Database, settings: Settings) -> None:
    """A device that never reported says so and has no value; one silent for 3 h is stale; the counts add up;
    the 24-hour completeness of the gauge is 13 of 144 slots."""
    feed(db, settings)
    page = html.fromstring(client(app, "operator").get("/operator/sensor").text)
    silent, stale, gauge = row(page, SILENT), row(page, STALE), row(page, GAUGE)
    assert silent.get("data-health") == "never_seen"
    assert text(silent.xpath(".//*[@data-health-badge]")[0]) == "belum pernah melapor"
    assert "belum ada data" in text(silent.xpath(".//td[@data-latest]")[0])
    assert text(silent.xpath(".//td[@data-completeness]")[0]) == "0,0% (0/144)"
    assert stale.get("data-health") == "stale"
    assert text(stale.xpath(".//*[@data-health-badge]")[0]) == "tidak melapor"
    assert text(gauge.xpath(".//td[@data-completeness]")[0]) == "9,0% (13/144)"
    counts = {dd.get("data-count"): int(dd.text) for dd in page.xpath("//dd[@data-count]")}
    assert counts == {"devices": 18, "ok": 1, "stale": 1, "never_seen": 16, "alarms": 1}
    (water,) = page.xpath('//table[@data-sensor-kinds]//tr[@data-kind="water_level"]')
    assert text(water.xpath(".//td[@data-completeness]")[0]) == "1,1%"  # 13 of 8 × 144 slots

    english = html.fromstring(client(app, "operator").get("/operator/sensor?lang=en").text)
    assert "Sensors and early warning" in text(english)
    assert text(row(english, SILENT).xpath(".//*[@data-health-badge]")[0]) == "never seen"
    assert text(row(english, GAUGE).xpath(".//*[@data-flood-level]")[0]) == "Standby"  # siaga
    assert text(row(english, GAUGE).xpath(".//*[@data-value]")[0]) == "2.74 m"


def test_no_alarm_and_no_subscriber_are_said_plainly(app: Any) -> None:
    """Without readings there is no alarm, and a server without an MQTT subscriber says so."""
    page = html.fromstring(client(app, "operator").get("/operator/sensor").text)
    assert "Tidak ada alarm sensor yang aktif." in text(page)
    assert page.xpath("//*[@data-ingest-none]") and not page.xpath("//*[@data-ingest-source]")
    assert {r.get("data-health") for r in page.xpath("//tr[@data-device]")} == {"never_seen"}


def test_page_body_refreshes_through_its_fragment(app: Any, db: Database, settings: Settings) -> None:
    """The body htmx re-reads every minute shows readings that arrived after the page was opened."""
    c = client(app, "operator")
    page = html.fromstring(c.get("/operator/sensor").text)
    (body,) = page.xpath('//*[@id="sensor-body"]')
    assert body.get("hx-get") == "/operator/sensor/isi" and body.get("hx-trigger") == "every 60s"
    assert row(page, GAUGE).get("data-health") == "never_seen"
    feed(db, settings)
    fragment = c.get("/operator/sensor/isi")
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert row(html.fromstring(fragment.text), GAUGE).get("data-level") == "siaga"


def test_sensor_page_and_its_data_are_for_the_command_center_only(app: Any) -> None:
    """The public and a citizen are sent to the login; an agency officer is refused; operators and
    supervisors get in. The same for the map data and the refreshed body."""
    urls = ("/operator/sensor", "/operator/sensor/perangkat.geojson", "/operator/sensor/isi")
    citizen = TestClient(app)
    assert citizen.get("/lapor").status_code == 200  # the citizen's own (anonymous) session on the form
    for c in (TestClient(app), citizen):
        for url in urls:
            r = c.get(url, follow_redirects=False)
            assert r.status_code == 303, url
            assert r.headers["location"].startswith("/masuk?next=%2Foperator%2Fsensor")
    officer = client(app, "bpbd.petugas")
    for url in urls:
        assert officer.get(url).status_code == 403, url
    officer_page = html.fromstring(officer.get("/instansi").text)
    assert not officer_page.xpath('//a[@href="/operator/sensor"]')
    for username in ("operator", "supervisor"):
        assert client(app, username).get("/operator/sensor").status_code == 200


def test_device_geojson_has_one_feature_per_device_with_health(
    app: Any, db: Database, settings: Settings
) -> None:
    """One Point per registered device at its position, with its health, and the flood level of the gauge."""
    feed(db, settings)
    r = client(app, "operator").get("/operator/sensor/perangkat.geojson")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/geo+json")
    body = r.json()
    devices = {d.id: d for d in load_devices()}
    features = {f["properties"]["id"]: f for f in body["features"]}
    assert len(body["features"]) == len(devices) == 18 and set(features) == set(devices)
    for device_id, feature in features.items():
        assert feature["geometry"] == {
            "type": "Point",
            "coordinates": [devices[device_id].lon, devices[device_id].lat],
        }
        assert feature["properties"]["health"] in ("ok", "stale", "never_seen")
    gauge = features[GAUGE]["properties"]
    assert (gauge["health"], gauge["level"]) == ("ok", "siaga")
    assert "2,74 m" in gauge["value_text"] and gauge["last_seen_text"].endswith("WIB")
    assert features[STALE]["properties"]["health"] == "stale"
    assert (features[SILENT]["properties"]["health"], features[SILENT]["properties"]["level"]) == (
        "never_seen",
        None,
    )


# ---------------------------------------------------------------- open data


def test_open_data_sensor_quality_csv_and_json(app: Any, db: Database, settings: Settings) -> None:
    """Public CSV: the dictionary's header, one row per device with its completeness and health, one per
    kind; the JSON carries the same records; `jam` narrows the period; a bad `jam` is a 422."""
    feed(db, settings)
    public = TestClient(app)
    r = public.get("/data/sensor-kualitas.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    reader = csv.DictReader(io.StringIO(r.text))
    assert tuple(reader.fieldnames or ()) == SENSOR_COLUMNS
    rows = list(reader)
    devices = [x for x in rows if x["scope"] == "device"]
    kinds = {x["kind"]: x for x in rows if x["scope"] == "kind"}
    assert len(devices) == 18 and len({x["device_id"] for x in devices}) == 18
    by_id = {x["device_id"]: x for x in devices}
    gauge = by_id[GAUGE]
    assert (gauge["completeness_pct"], gauge["expected"], gauge["received"]) == ("9.03", "144", "13")
    assert gauge["health"] == "ok" and gauge["flagged_pct"] == "0.0" and gauge["attribute"] == "waterLevel"
    assert gauge["last_seen"].endswith("Z")
    assert (by_id[SILENT]["health"], by_id[SILENT]["completeness_pct"], by_id[SILENT]["last_seen"]) == (
        "never_seen",
        "0.0",
        "",
    )
    assert by_id[STALE]["health"] == "stale" and by_id[STALE]["received"] == "1"
    assert set(kinds) == {"water_level", "rain_gauge", "air_quality", "weather"}
    assert kinds["water_level"]["completeness_pct"] == "1.13"  # 13 of 8 × 144 slots
    assert kinds["water_level"]["device_id"] == "" and kinds["water_level"]["expected"] == "1152"

    j = public.get("/data/sensor-kualitas.json")
    assert j.status_code == 200 and j.headers["content-type"].startswith("application/json")
    data = j.json()
    assert data["period"]["hours"] == 24
    assert data["period"]["end"] == data["devices"][0]["period_end"] and data["period"]["end"].endswith("Z")
    same = [c for c in SENSOR_COLUMNS if not c.startswith("period_")]  # two requests: two "now"s
    as_csv = [
        {c: "" if rec[c] is None else str(rec[c]) for c in same} for rec in [*data["devices"], *data["kinds"]]
    ]
    assert as_csv == [{c: x[c] for c in same} for x in rows]

    last_hour = list(csv.DictReader(io.StringIO(public.get("/data/sensor-kualitas.csv?jam=1").text)))
    hour_gauge = next(x for x in last_hour if x["device_id"] == GAUGE)
    assert (hour_gauge["expected"], hour_gauge["received"], hour_gauge["completeness_pct"]) == (
        "6",
        "6",
        "100.0",
    )
    for bad in ("0", "745", "satu"):
        assert public.get(f"/data/sensor-kualitas.csv?jam={bad}").status_code == 422
        assert public.get(f"/data/sensor-kualitas.json?jam={bad}").status_code == 422


def test_open_data_page_describes_the_sensor_dataset(app: Any) -> None:
    """/data lists the sensor downloads, a dictionary naming every column, the CAP feed and the sensor API."""
    page = html.fromstring(TestClient(app).get("/data").text)
    (section,) = page.xpath('//*[@id="sensor-kualitas"]')
    hrefs = {a.get("href") for a in section.xpath(".//a")}
    assert {
        "/data/sensor-kualitas.csv",
        "/data/sensor-kualitas.json",
        "/api/v1/public/warnings.cap.xml",
        "/api/v1/sensors/devices",
        "/api/v1/sensors/quality",
    } <= hrefs
    columns = [code.text for code in section.xpath(".//table[@data-sensor-dictionary]//th/code")]
    assert tuple(columns) == SENSOR_COLUMNS


# ---------------------------------------------------------------- MQTT ingest status


def test_ingest_panel_shows_a_running_subscribers_counters(
    app: Any, db: Database, settings: Settings
) -> None:
    """With the server's MQTT subscriber running, the page shows it connected and the messages it received,
    processed and rejected (one good reading, one with a wrong key)."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from kotapintar.sensors.runtime import MqttIngestor, broker_address

    url = os.environ.get("KOTAPINTAR_TEST_MQTT_URL")
    if not url:
        skip_or_fail("KOTAPINTAR_TEST_MQTT_URL is not set: MQTT sensor tests skipped")
    assert url is not None
    own = settings.model_copy(update={"sensor_key_secret": uuid.uuid4().hex})
    ingestor = MqttIngestor(db, own, url, tick_s=0, client_id=f"kp-ui-{uuid.uuid4().hex[:8]}")
    try:
        ingestor.start()
    except (OSError, ConnectionError) as exc:
        skip_or_fail(f"MQTT broker at {url} unusable: {exc}")
    app.state.sensor_ingestors.append(ingestor)
    try:
        at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=2)
        good = (f"/{sensor_devices.device_api_key(own, GAUGE)}/{GAUGE}/attrs", f"t|{at.isoformat()}|wl|1.5")
        bad = (f"/{'0' * 24}/{GAUGE}/attrs", f"t|{at.isoformat()}|wl|1.6")
        host, port, _, _ = broker_address(url)
        publisher = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"kp-uip-{uuid.uuid4().hex[:8]}")
        publisher.connect(host, port)
        publisher.loop_start()
        for topic, payload in (good, bad):
            publisher.publish(topic, payload, qos=1).wait_for_publish(10)
        publisher.loop_stop()
        publisher.disconnect()
        deadline = time.monotonic() + 20
        while not (ingestor.stats.received >= 2 and ingestor.idle()) and time.monotonic() < deadline:
            time.sleep(0.02)
        operator = client(app, "operator")
        before = ingestor.status()
        page = html.fromstring(operator.get("/operator/sensor").text)
        after = ingestor.status()
    finally:
        ingestor.stop()
    (source,) = page.xpath("//*[@data-ingest-source]")
    shown = {dd.get("data-ingest"): text(dd) for dd in source.xpath(".//dd[@data-ingest]")}
    # The broker is shared with other test runs, whose messages this subscriber also receives (and rejects:
    # their keys are not ours): the page shows the live counters, at least our two messages and one refusal.
    for name, least in (("received", 2), ("processed", 2), ("rejected", 1)):
        assert least <= before[name] <= int(shown[name]) <= after[name], (name, shown, after)
    assert shown["dropped_backlog_full"] == "0" and shown["lost_worker_died"] == "0"
    assert shown["backlog"].endswith(f" / {own.sensor_ingest_backlog}")
    assert source.xpath('.//*[@data-connected="1"]') and url.split("://")[1] in text(source)
    assert not page.xpath("//*[@data-ingest-none]")
    assert row(page, GAUGE).get("data-health") == "ok"  # the good reading arrived through the broker


# ---------------------------------------------------------------- the map in a real browser


@pytest.mark.browser
@pytest.mark.parametrize("backend", ["sqlite"])
def test_map_draws_one_marker_per_device(
    chromium: Any, live_server: Any, db: Database, settings: Settings
) -> None:
    """In a browser the sensor map shows one marker per device, the siaga gauge in the siaga colour."""
    sensor_devices.load_demo_devices(db, system_actor("tests"))
    feed(db, settings)
    context = chromium.new_context(viewport={"width": 1600, "height": 1000}, locale="id-ID")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{live_server.url}/masuk?next=%2Foperator%2Fsensor")
    page.fill("#f-username", "operator")
    page.fill("#f-password", PASSWORD)
    page.click("form[action='/masuk'] button[type=submit]")
    page.wait_for_selector("#sensor-map .kp-sensor", timeout=10000)
    page.wait_for_function("() => document.querySelectorAll('#sensor-map .kp-sensor').length >= 18")
    assert page.locator("#sensor-map .kp-sensor").count() == 18
    assert page.locator("#sensor-map .kp-sensor-level-siaga").count() == 1
    assert page.locator("#sensor-map .kp-sensor-never_seen").count() == 16
    assert page.locator("#sensor-map .kp-sensor-stale").count() == 1
    assert errors == []
    context.close()
