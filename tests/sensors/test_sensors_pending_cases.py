"""A rule that fires during ingest raises its alarm and public warning at once; its case opens off the ingest
path (`open_pending_cases`), exactly once, with every reading seen meanwhile — also in the ingest worker
process that `kotapintar serve` runs for MQTT."""

from __future__ import annotations

import os
import time
import uuid
from datetime import UTC, datetime, timedelta

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import select

from kotapintar.cases.models import Case
from kotapintar.core.access.actors import system_actor
from kotapintar.core.db.database import Database
from kotapintar.core.events.models import Event
from kotapintar.core.settings import Settings
from kotapintar.sensors import alarms as sensor_alarms
from kotapintar.sensors import devices as sensor_devices
from kotapintar.sensors import ingest as sensor_ingest
from kotapintar.sensors import queries as sensor_queries
from kotapintar.sensors import warnings as sensor_warnings
from kotapintar.sensors.engine.payloads import Reading
from kotapintar.sensors.repository import SensorRepository
from kotapintar.sensors.runtime import MqttIngestor, broker_address
from tests.conftest import skip_or_fail

GAUGE = "KPS-AWLR-01"  # Kuala Kapuas (kapuas_hilir): siaga at 2.7 m
AREA = "62.03.01"


def rising(start: datetime, n: int, first: float = 1.6, step: float = 0.15) -> list[Reading]:
    """A river rising 15 cm every 10 minutes (0.9 m/h: under the spike limit)."""
    return [
        Reading(start + timedelta(minutes=10 * i), GAUGE, "waterLevel", round(first + step * i, 3), "m")
        for i in range(n)
    ]


def banjir_cases(db: Database) -> list[Case]:
    with db.reading() as uow:
        return list(uow.session.scalars(select(Case).where(Case.service_code == "banjir")).all())


def test_the_warning_is_public_before_the_case_and_the_case_opens_once_with_all_readings(
    db: Database, settings: Settings
) -> None:
    sensor_devices.load_demo_devices(db, system_actor("tests"))
    now = datetime.now(UTC).replace(microsecond=0)
    readings = rising(now - timedelta(minutes=200), 20)
    out = sensor_ingest.ingest_mqtt_messages(
        db,
        [(f"/{sensor_devices.device_api_key(settings, GAUGE)}/{GAUGE}/attrs", _ul(r)) for r in readings[:13]],
        received_at=now,
        settings=settings,
        open_cases=False,
    )
    assert out.cases_opened == []
    assert "banjir" in {a["service"] for a in out.actions if a["action"] == "open_case"}
    assert banjir_cases(db) == []
    assert [(w["area_code"], w["msg_type"]) for w in sensor_warnings.active_warnings(db)] == [(AREA, "Alert")]

    # More readings while the case waits: they are kept for it, and no second alarm is raised.
    later = sensor_ingest.ingest_readings(db, readings[13:], received_at=now, settings=settings)
    assert later.cases_pending == 0
    # ingest_readings opens the waiting cases right after its batch (the banjir one among them).
    (case,) = banjir_cases(db)
    case_id = case.id
    assert case_id in later.cases_opened
    assert sensor_alarms.open_pending_cases(db, settings=settings) == []  # nothing left to open

    with db.reading() as uow:
        alarm = SensorRepository(uow.session).open_alarm(f"banjir-sungai:{AREA}")
        assert alarm is not None and alarm.case_id == case_id and alarm.pending_case is None
        opened = uow.session.scalars(
            select(Event).where(Event.case_id == case_id, Event.type == "observations_attached")
        ).all()
    attached = {r["observed_at"] for e in opened for r in e.payload["readings"]}
    # The readings that fired the rule and the ones that arrived before the case existed are all attached.
    assert {r.to_dict()["observed_at"] for r in readings if r.value >= 2.7} <= attached
    chart = sensor_queries.case_observations(db, system_actor("tests"), case_id, settings=settings)
    assert chart["series"][0]["device_id"] == GAUGE


def test_a_case_waiting_when_the_river_falls_still_opens_and_says_the_warning_ended(
    db: Database, settings: Settings
) -> None:
    sensor_devices.load_demo_devices(db, system_actor("tests"))
    now = datetime.now(UTC).replace(microsecond=0)
    up = rising(now - timedelta(minutes=400), 13)
    falling = [round(up[-1].value - 0.15 * (i + 1), 3) for i in range(12)] + [1.6] * 8  # 0.9 m/h: no spike
    down = [
        Reading(up[-1].observed_at + timedelta(minutes=10 * (i + 1)), GAUGE, "waterLevel", value, "m")
        for i, value in enumerate(falling)
    ]
    topic = f"/{sensor_devices.device_api_key(settings, GAUGE)}/{GAUGE}/attrs"
    sensor_ingest.ingest_mqtt_messages(db, [(topic, _ul(r)) for r in up], settings=settings, open_cases=False)
    # Falling under waspada for longer than close_after, still before any case opener ran.
    sensor_ingest.ingest_mqtt_messages(
        db, [(topic, _ul(r)) for r in down], settings=settings, open_cases=False
    )
    assert sensor_warnings.active_warnings(db) == []
    opened = sensor_alarms.open_pending_cases(db, settings=settings)
    (case,) = banjir_cases(db)
    case_id = case.id
    assert case_id in opened
    with db.reading() as uow:
        types = [
            e.type
            for e in uow.session.scalars(select(Event).where(Event.case_id == case_id).order_by(Event.id))
        ]
    assert "observations_attached" in types and types[-1] == "sensor_warning_ended"


def test_the_ingest_worker_process_opens_the_case_when_idle(
    db: Database, settings: Settings, tmp_path: object
) -> None:
    url = os.environ.get("KOTAPINTAR_TEST_MQTT_URL")
    if not url:
        skip_or_fail("KOTAPINTAR_TEST_MQTT_URL is not set: MQTT sensor tests skipped")
    assert url is not None
    if db.engine.dialect.name == "sqlite" and ":memory:" in db.url:
        skip_or_fail("the worker process needs a database file")
    own = settings.model_copy(update={"sensor_key_secret": uuid.uuid4().hex})
    sensor_devices.load_demo_devices(db, system_actor("tests"))
    ingestor = MqttIngestor(
        db, own, url, tick_s=0, client_id=f"kp-w-{uuid.uuid4().hex[:8]}", worker_process=True
    )
    ingestor.start()
    try:
        now = datetime.now(UTC).replace(microsecond=0)
        topic = f"/{sensor_devices.device_api_key(own, GAUGE)}/{GAUGE}/attrs"
        host, port, _, _ = broker_address(url)
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"kp-wp-{uuid.uuid4().hex[:8]}")
        client.connect(host, port)
        client.loop_start()
        for r in rising(now - timedelta(minutes=200), 15):
            client.publish(topic, _ul(r), qos=1).wait_for_publish(10)
        client.loop_stop()
        client.disconnect()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (banjir_cases(db) and ingestor.stats.processed >= 15):
            time.sleep(0.1)
    finally:
        ingestor.stop()
    cases = banjir_cases(db)
    assert len(cases) == 1 and GAUGE in cases[0].description
    # Other runs on the same broker may add messages with their own keys: rejected, never stored.
    assert ingestor.stats.stored == 15
    with db.reading() as uow:  # the banjir case and the critical gauges that never reported (stale rule)
        sensor_cases = uow.session.scalars(select(Case.id).where(Case.channel == "sensor")).all()
    assert ingestor.stats.cases_opened == len(sensor_cases) >= 1


def _ul(r: Reading) -> str:
    return f"t|{r.observed_at.isoformat()}|wl|{r.value}"
