"""Sensor flow through a real Mosquitto broker on SQLite and PostgreSQL: arrival, quality flags, a rising river
opening exactly one banjir case and its CAP warning ending when the river falls, staleness, rejections."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import paho.mqtt.client as mqtt
import pytest
from lxml import etree
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import select

from kotapintar.cases.models import Case
from kotapintar.cases.repository import CaseRepository
from kotapintar.core.access.actors import system_actor
from kotapintar.core.db.database import Database
from kotapintar.core.events.models import Event
from kotapintar.core.settings import Settings
from kotapintar.sensors import devices as sensor_devices
from kotapintar.sensors import ingest as sensor_ingest
from kotapintar.sensors import queries as sensor_queries
from kotapintar.sensors import warnings as sensor_warnings
from kotapintar.sensors.engine.cap import CAP_NS, validate
from kotapintar.sensors.engine.payloads import iso_z
from kotapintar.sensors.models import SensorWarning
from kotapintar.sensors.repository import SensorRepository
from kotapintar.sensors.runtime import MqttIngestor, broker_address
from tests.conftest import skip_or_fail

GAUGE = "KPS-AWLR-02"  # Mandomai, kapuas_tengah: waspada 4.0, siaga 5.0, awas 6.0; not a critical gauge
GAUGE_AREA = "62.03.05"


@pytest.fixture
def mqtt_url() -> str:
    """The test broker, or a skip (a failure in CI) with the reason."""
    url = os.environ.get("KOTAPINTAR_TEST_MQTT_URL")
    if not url:
        skip_or_fail("KOTAPINTAR_TEST_MQTT_URL is not set: MQTT sensor tests skipped")
    assert url is not None
    return url


@pytest.fixture
def sensor_settings(settings: Settings) -> Settings:
    """Settings with a secret of this test only: messages of other runs on the same broker fail their key."""
    return settings.model_copy(update={"sensor_key_secret": uuid.uuid4().hex})


@pytest.fixture
def ingestor(db: Database, sensor_settings: Settings, mqtt_url: str) -> Iterator[MqttIngestor]:
    """The Kotapintar subscriber on the FIWARE topics, with the demo devices registered."""
    sensor_devices.load_demo_devices(db, system_actor("tests"))
    sub = MqttIngestor(db, sensor_settings, mqtt_url, tick_s=0, client_id=f"kp-test-{uuid.uuid4().hex[:8]}")
    try:
        sub.start()
    except (OSError, ConnectionError) as exc:
        skip_or_fail(f"MQTT broker at {mqtt_url} unusable: {exc}")
    yield sub
    sub.stop()


def publish(url: str, messages: list[tuple[str, str]], sub: MqttIngestor) -> None:
    """Publish (QoS 1, acknowledged) and wait until the subscriber has processed at least as many messages."""
    host, port, _, _ = broker_address(url)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"kp-pub-{uuid.uuid4().hex[:8]}")
    client.connect(host, port)
    client.loop_start()
    target = sub.stats.received + len(messages)
    for topic, payload in messages:
        client.publish(topic, payload, qos=1).wait_for_publish(10)
    client.loop_stop()
    client.disconnect()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if sub.stats.received >= target and sub.idle():
            return
        time.sleep(0.02)
    raise AssertionError(f"subscriber processed {sub.stats.processed} of {target} messages")


def topic(settings: Settings, device_id: str, prefix: str = "") -> str:
    """The FIWARE attrs topic of a device with its (demo) key."""
    return f"{prefix}/{sensor_devices.device_api_key(settings, device_id)}/{device_id}/attrs"


def ul(attribute: str, at: datetime, value: float) -> str:
    """One UltraLight 2.0 payload with its observation time."""
    return f"t|{at.isoformat()}|{attribute}|{value}"


def test_readings_arrive_with_the_right_quality_flags(
    db: Database, ingestor: MqttIngestor, sensor_settings: Settings, mqtt_url: str
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    t = [now - timedelta(minutes=90 - 10 * i) for i in range(6)]
    top = topic(sensor_settings, "KPS-AWLR-01")
    messages = [
        (top, ul("wl", t[0], 1.20)),
        (top, ul("wl", t[1], 1.22)),
        (top, ul("wl", t[2], 9.0)),  # 7.8 m in 10 min: spike
        (top, ul("wl", t[3], 20.0)),  # outside [-1, 15] m: out_of_range
        (top, ul("wl", t[4], 1.25)),  # judged against 1.22: clean
        (top, ul("wl", now + timedelta(hours=2), 1.26)),  # from the future: clock_skew
        (top, ul("wl", t[1] + timedelta(minutes=5), 1.21)),  # late, out of order: clean
        (top, ul("wl", t[0], 1.20)),  # exact duplicate: dropped
        (
            topic(sensor_settings, "KPS-AQ-01", "/json"),
            '{"pm25": 35.5, "pm10": 51, "TimeInstant": "' + t[5].isoformat() + '"}',
        ),
    ]
    publish(mqtt_url, messages, ingestor)
    series = sensor_queries.device_series(
        db,
        "KPS-AWLR-01",
        start=now - timedelta(hours=3),
        end=now + timedelta(hours=3),
        settings=sensor_settings,
    )
    flags = {p["t"]: (p["value"], p["flags"]) for p in series["points"]}
    z = iso_z
    assert flags[z(t[0])] == (1.20, [])
    assert flags[z(t[1])] == (1.22, [])
    assert flags[z(t[2])] == (9.0, ["spike"])
    assert flags[z(t[3])] == (20.0, ["out_of_range"])
    assert flags[z(t[4])] == (1.25, [])
    assert flags[z(t[1] + timedelta(minutes=5))] == (1.21, [])
    assert "clock_skew" in flags[z(now + timedelta(hours=2))][1]  # (and gap: 2 h 40 min after t4)
    assert len(series["points"]) == 7  # the duplicate was not stored twice
    air = sensor_queries.device_series(
        db, "KPS-AQ-01", start=now - timedelta(hours=1), end=now, settings=sensor_settings
    )
    assert [p["value"] for p in air["points"]] == [35.5]
    # Rollups only count clean readings: t0, t1, the late one and t4 in the hourly buckets.
    hourly = sensor_queries.device_series(
        db,
        "KPS-AWLR-01",
        start=now - timedelta(hours=3),
        end=now + timedelta(hours=1),
        resolution="1h",
        settings=sensor_settings,
    )
    assert sum(p["count"] for p in hourly["points"]) == 4
    latest = {d["id"]: d for d in sensor_queries.latest_of_kind(db, "water_level", settings=sensor_settings)}
    # The reading 2 h in the future is stored flagged but held: it is not the latest value, and "last seen"
    # stays at the newest reading that is not from the future (issue 18).
    assert latest["KPS-AWLR-01"]["latest"]["value"] == 1.25
    devices = {d["id"]: d for d in sensor_queries.device_overview(db, settings=sensor_settings)}
    assert devices["KPS-AWLR-01"]["last_seen"] == z(t[4])


def test_unknown_device_and_bad_key_are_rejected_and_counted(
    db: Database, ingestor: MqttIngestor, sensor_settings: Settings, mqtt_url: str
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    stranger = f"NOPE-{uuid.uuid4().hex[:6]}"
    publish(
        mqtt_url,
        [
            ("/wrongkey/KPS-AWLR-03/attrs", ul("wl", now, 2.0)),
            ("/wrongkey/KPS-AWLR-03/attrs", ul("wl", now - timedelta(minutes=10), 2.0)),
            (
                f"/{sensor_devices.device_api_key(sensor_settings, stranger)}/{stranger}/attrs",
                ul("wl", now, 2.0),
            ),
            (topic(sensor_settings, "KPS-AWLR-03"), ul("pm25", now, 2.0)),  # a gauge does not measure PM2.5
        ],
        ingestor,
    )
    with db.reading() as uow:
        repo = SensorRepository(uow.session)
        counts = {(r.device_id, r.reason): r.count for r in repo.rejections()}
        assert repo.count_observations("KPS-AWLR-03") == 0
        assert repo.count_observations(stranger) == 0
    assert counts[("KPS-AWLR-03", "bad_api_key")] == 2
    assert counts[(stranger, "unknown_device")] == 1
    assert counts[("KPS-AWLR-03", "sensor_wrong_attribute")] == 1


def _banjir_cases(db: Database) -> list[Case]:
    with db.reading() as uow:
        return list(uow.session.scalars(select(Case).where(Case.service_code == "banjir")).all())


def test_rising_river_opens_one_banjir_case_and_the_warning_ends_when_it_falls(
    db: Database, ingestor: MqttIngestor, sensor_settings: Settings, mqtt_url: str
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    rise = [3.6 + 0.2 * i for i in range(9)]  # 3.6 … 5.2 m: siaga at 5.0 (1.2 m/h: no spike)
    hold = [5.2] * 8
    fall = [5.0, 4.8, 4.6, 4.4, 4.2, 4.0, 3.8, 3.8, 3.8, 3.8, 3.8]  # under waspada (4.0) for 30 min
    values = rise + hold + fall
    start = now - timedelta(minutes=10 * (len(values) - 1)) - timedelta(minutes=1)
    top = topic(sensor_settings, GAUGE)
    msgs = [(top, ul("wl", start + timedelta(minutes=10 * i), v)) for i, v in enumerate(values)]
    first = len(rise) + 3

    publish(mqtt_url, msgs[:first], ingestor)
    cases = _banjir_cases(db)
    assert len(cases) == 1
    case = cases[0]
    assert case.priority in ("P1", "P2")
    assert "KPS-AWLR-02" in case.description
    warnings = sensor_warnings.active_warnings(db)
    assert [w["area_code"] for w in warnings] == [GAUGE_AREA]
    feed = sensor_warnings.cap_feed(db, link="http://test/feed", settings=sensor_settings)
    alerts = etree.fromstring(feed).findall(f".//{{{CAP_NS}}}alert")
    assert len(alerts) == 1
    for alert in alerts:
        validate(alert)
    with db.reading() as uow:
        attached = uow.session.scalars(
            select(Event).where(Event.case_id == case.id, Event.type == "observations_attached")
        ).all()
        assert attached and any(r["device_id"] == GAUGE for e in attached for r in e.payload["readings"])

    publish(mqtt_url, msgs[first:], ingestor)
    assert [c.id for c in _banjir_cases(db)] == [case.id]  # the same rule group and area: no second case
    assert sensor_warnings.active_warnings(db) == []
    with db.reading() as uow:
        kinds = [w.msg_type for w in uow.session.scalars(select(SensorWarning).order_by(SensorWarning.id))]
    assert kinds[0] == "Alert" and kinds[-1] == "Cancel"
    feed = sensor_warnings.cap_feed(db, link="http://test/feed", settings=sensor_settings)
    cancel = etree.fromstring(feed).findall(f".//{{{CAP_NS}}}alert")
    assert [a.findtext(f"{{{CAP_NS}}}msgType") for a in cancel] == ["Cancel"]
    validate(cancel[0])
    chart = sensor_queries.case_observations(db, system_actor("tests"), case.id, settings=sensor_settings)
    assert chart["series"][0]["device_id"] == GAUGE
    assert max(p["value"] for p in chart["series"][0]["points"]) == pytest.approx(5.2)


def test_a_silent_critical_gauge_goes_stale(
    db: Database, ingestor: MqttIngestor, sensor_settings: Settings, mqtt_url: str
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    publish(mqtt_url, [(topic(sensor_settings, "KPS-AWLR-01"), ul("wl", now, 1.3))], ingestor)
    report = sensor_queries.quality_report(db, now=now + timedelta(minutes=5), settings=sensor_settings)
    health = {d["id"]: d["health"] for d in report["devices"]}
    assert health["KPS-AWLR-01"] == "ok"
    later = now + timedelta(hours=2)
    out = sensor_ingest.tick_sensors(db, now=later, settings=sensor_settings)
    report = sensor_queries.quality_report(db, now=later, settings=sensor_settings)
    health = {d["id"]: d["health"] for d in report["devices"]}
    assert health["KPS-AWLR-01"] == "stale"
    assert health["KPS-AWLR-02"] == "never_seen"
    with db.reading() as uow:
        alarm = SensorRepository(uow.session).open_alarm("pos-duga-air-kritis-mati:62.03.01")
        assert alarm is not None and alarm.case_id in out.cases_opened
        case = uow.repo(CaseRepository).get(alarm.case_id)
        assert case is not None and case.service_code == "lainnya"
        assert alarm.public is False


def test_qos_1_subscription_when_configured(db: Database, sensor_settings: Settings, mqtt_url: str) -> None:
    own = sensor_settings.model_copy(update={"sensor_mqtt_qos": 1})
    sensor_devices.load_demo_devices(db, system_actor("tests"))
    sub = MqttIngestor(db, own, mqtt_url, tick_s=0, client_id=f"kp-q1-{uuid.uuid4().hex[:8]}")
    sub.start()
    try:
        now = datetime.now(UTC).replace(microsecond=0)
        publish(mqtt_url, [(topic(own, GAUGE), ul("wl", now - timedelta(minutes=5), 3.2))], sub)
    finally:
        sub.stop()
    assert sub.granted_qos == [1] * 6  # the broker will queue QoS-1 readings for us instead of dropping them
    with db.reading() as uow:
        assert SensorRepository(uow.session).count_observations(GAUGE) == 1
