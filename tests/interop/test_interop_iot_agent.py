"""FIWARE IoT Agent conventions over a real Mosquitto broker (issue 18).

The UltraLight 2.0 payloads are the examples of the IoT Agent's own user manual (telefonicaid/iotagent-ul,
docs/usermanual.md: `t|15|k|abc`, `gps|1.2/3.4#t|10`, the timestamp syntax `2016-06-13T00:35:30Z|lle|100`);
what a key means comes from the device registration's mapping (object_id -> name, type, unit), as in an IoT
Agent's provisioning. JSON measures with extra fields keep the mapped ones. Two ingest processes share one
MQTT v5 shared subscription and split the messages, each delivered once.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from kotapintar.core.access.actors import system_actor
from kotapintar.core.db.database import Database
from kotapintar.core.settings import Settings
from kotapintar.sensors import devices as sensor_devices
from kotapintar.sensors import queries as sensor_queries
from kotapintar.sensors.engine.payloads import iso_z
from kotapintar.sensors.engine.registry import AttributeMapping, Device, hash_api_key
from kotapintar.sensors.repository import SensorRepository
from kotapintar.sensors.runtime import MqttIngestor, broker_address, subscription_topics
from tests.conftest import skip_or_fail

pytestmark = [pytest.mark.interop, pytest.mark.mqtt]


@pytest.fixture
def mqtt_url() -> str:
    """The test broker, or a skip (a failure in CI) with the reason."""
    url = os.environ.get("KOTAPINTAR_TEST_MQTT_URL")
    if not url:
        skip_or_fail("KOTAPINTAR_TEST_MQTT_URL is not set: MQTT interop tests skipped")
    assert url is not None
    return url


@pytest.fixture
def run() -> str:
    """A suffix of this test run: device ids (and so topics) no other run on the shared broker uses."""
    return uuid.uuid4().hex[:6]


KEY = "kunci-iota-18"


def _devices(run: str) -> tuple[Device, Device]:
    common = {
        "lon": 114.38,
        "lat": -3.0,
        "region": "62.03.01",
        "owner_agency": "bpbd",
        "interval_s": 600,
        "api_key_hash": hash_api_key(KEY),
    }
    station = Device(
        id=f"weatherStation167-{run}",
        name="Stasiun cuaca dengan kunci IoT Agent",
        kind="weather",
        mapping=(
            AttributeMapping(object_id="t", name="temperature", unit="CEL"),
            AttributeMapping(object_id="h", name="relativeHumidity", unit="C62"),
        ),
        **common,
    )
    gauge = Device(
        id=f"gauge-lle-{run}",
        name="Pos duga air dengan kunci lle",
        kind="water_level",
        mapping=(AttributeMapping(object_id="lle", name="waterLevel", unit="CMT"),),
        **common,
    )
    return station, gauge


@pytest.fixture
def ingestor(db: Database, settings: Settings, mqtt_url: str, run: str) -> Iterator[MqttIngestor]:
    """A Kotapintar subscriber on the FIWARE topics, with the two mapped devices registered."""
    sensor_devices.register_devices(db, system_actor("tests"), list(_devices(run)))
    sub = MqttIngestor(db, settings, mqtt_url, tick_s=0, client_id=f"kp-iota-{run}", worker_process=False)
    try:
        sub.start()
    except (OSError, ConnectionError) as exc:
        skip_or_fail(f"MQTT broker at {mqtt_url} unusable: {exc}")
    yield sub
    sub.stop()


def _publish(url: str, messages: list[tuple[str, str]], subs: list[MqttIngestor]) -> None:
    """Publish with QoS 1 and wait until the subscribers together processed as many messages."""
    host, port, _, _ = broker_address(url)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"kp-pub-{uuid.uuid4().hex[:8]}")
    client.connect(host, port)
    client.loop_start()
    target = sum(s.stats.received for s in subs) + len(messages)
    for topic, payload in messages:
        client.publish(topic, payload, qos=1).wait_for_publish(10)
    client.loop_stop()
    client.disconnect()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if sum(s.stats.received for s in subs) >= target and all(s.idle() for s in subs):
            return
        time.sleep(0.02)
    raise AssertionError(f"subscribers received {sum(s.stats.received for s in subs)} of {target} messages")


def _series(
    db: Database, settings: Settings, device: str, attribute: str, around: datetime
) -> list[tuple[str, float]]:
    series = sensor_queries.device_series(
        db,
        device,
        start=around - timedelta(hours=3),
        end=around + timedelta(minutes=10),
        attribute=attribute,
        settings=settings,
    )
    return [(p["t"], round(p["value"], 6)) for p in series["points"]]


def test_ultralight_examples_of_the_iot_agent_manual_with_the_device_mapping(
    ingestor: MqttIngestor, db: Database, settings: Settings, mqtt_url: str, run: str
) -> None:
    station, gauge = f"weatherStation167-{run}", f"gauge-lle-{run}"
    now = datetime.now(UTC).replace(microsecond=0)
    _publish(
        mqtt_url,
        [
            (f"/ul/{KEY}/{station}/attrs", "t|15|k|abc"),  # t is the temperature here; k is not mapped
            (f"/ul/{KEY}/{gauge}/attrs", "2016-06-13T00:35:30Z|lle|100"),  # the timestamp syntax, cm
            (
                f"/json/{KEY}/{station}/attrs",
                '{"t": 31.2, "h": 0.78, "rssi": -71, "battery": 3.7, "TimeInstant": "'
                + iso_z(now - timedelta(minutes=5))
                + '"}',
            ),
        ],
        [ingestor],
    )
    time.sleep(1.1)  # measures without a time take the receive time: the next one is a second later
    _publish(mqtt_url, [(f"/{KEY}/{station}/attrs", "gps|1.2/3.4#t|10")], [ingestor])  # gps is not mapped
    assert ingestor.stats.rejected == 0, sensor_queries.rejection_counts(db, system_actor("tests"))
    temperatures = [v for _, v in _series(db, settings, station, "temperature", now)]
    assert sorted(temperatures) == [10.0, 15.0, 31.2]
    assert _series(db, settings, station, "relativeHumidity", now) == [
        (iso_z(now - timedelta(minutes=5)), 78.0)
    ]
    old = datetime(2016, 6, 13, 0, 35, 30, tzinfo=UTC)
    assert _series(db, settings, gauge, "waterLevel", old) == [(iso_z(old), 1.0)]
    with db.reading() as uow:
        assert SensorRepository(uow.session).rejections() == []


def test_a_device_mapping_is_validated_on_registration() -> None:
    station, _ = _devices("x")
    with pytest.raises(ValueError, match="not an attribute of kind weather"):
        Device.model_validate(
            {**station.model_dump(), "mapping": [{"object_id": "wl", "name": "waterLevel"}]}
        )
    with pytest.raises(ValueError, match=r"tidak dapat diubah"):
        Device.model_validate(
            {**station.model_dump(), "mapping": [{"object_id": "t", "name": "temperature", "unit": "KMH"}]}
        )


def test_two_ingest_processes_split_a_shared_subscription(
    db: Database, settings: Settings, mqtt_url: str, run: str
) -> None:
    """MQTT v5 `$share/<group>/…`: each message goes to one member of the group, never to both."""
    sensor_devices.register_devices(db, system_actor("tests"), list(_devices(run)))
    shared = settings.model_copy(update={"sensor_mqtt_share_group": f"kotapintar-{run}"})
    assert subscription_topics(f"kotapintar-{run}")[0] == f"$share/kotapintar-{run}//+/+/attrs"
    subs = [
        MqttIngestor(db, shared, mqtt_url, tick_s=0, client_id=f"kp-share-{run}-{i}", worker_process=False)
        for i in range(2)
    ]
    for sub in subs:
        sub.start()
    try:
        start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
        gauge = f"gauge-lle-{run}"
        messages = [
            (f"/{KEY}/{gauge}/attrs", f"{iso_z(start + timedelta(minutes=i))}|lle|{100 + i}")
            for i in range(60)
        ]
        _publish(mqtt_url, messages, subs)
    finally:
        for sub in subs:
            sub.stop()
    received = [s.stats.received for s in subs]
    assert sum(received) == 60, received  # each message once: a plain subscription would give 120
    assert min(received) > 0, received  # and both members took a share
    with db.reading() as uow:
        assert SensorRepository(uow.session).count_observations(gauge) == 60
