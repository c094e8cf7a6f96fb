"""The MQTT ingest worker process is supervised: when it dies (killed, out of memory) the subscriber says how
many handed-over messages were lost, starts another worker and readings are stored again."""

from __future__ import annotations

import os
import signal
import uuid
from datetime import UTC, datetime, timedelta

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from kotapintar.core.access.actors import system_actor
from kotapintar.core.db.database import Database
from kotapintar.core.settings import Settings
from kotapintar.sensors import devices as sensor_devices
from kotapintar.sensors.repository import SensorRepository
from kotapintar.sensors.runtime import MqttIngestor, broker_address
from tests.conftest import skip_or_fail
from tests.helpers import wait_for

GAUGE = "KPS-AWLR-03"


def publish(url: str, messages: list[tuple[str, str]]) -> None:
    host, port, _, _ = broker_address(url)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"kp-r-{uuid.uuid4().hex[:8]}")
    client.connect(host, port)
    client.loop_start()
    for topic, payload in messages:
        client.publish(topic, payload, qos=1).wait_for_publish(10)
    client.loop_stop()
    client.disconnect()


def stored(db: Database) -> int:
    with db.reading() as uow:
        return SensorRepository(uow.session).count_observations(GAUGE)


def test_a_killed_worker_is_replaced_and_ingest_goes_on(db: Database, settings: Settings) -> None:
    url = os.environ.get("KOTAPINTAR_TEST_MQTT_URL")
    if not url:
        skip_or_fail("KOTAPINTAR_TEST_MQTT_URL is not set: MQTT sensor tests skipped")
    assert url is not None
    own = settings.model_copy(update={"sensor_key_secret": uuid.uuid4().hex})
    sensor_devices.load_demo_devices(db, system_actor("tests"))
    topic = f"/{sensor_devices.device_api_key(own, GAUGE)}/{GAUGE}/attrs"
    now = datetime.now(UTC).replace(microsecond=0)

    def at(minutes: int, value: float) -> tuple[str, str]:
        return (topic, f"t|{(now - timedelta(minutes=minutes)).isoformat()}|wl|{value}")

    ingestor = MqttIngestor(
        db, own, url, tick_s=0, client_id=f"kp-k-{uuid.uuid4().hex[:8]}", worker_process=True
    )
    ingestor.start()
    try:
        publish(url, [at(100, 1.0), at(90, 1.05)])
        assert wait_for(lambda: stored(db) == 2)
        first = ingestor._child.pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        assert wait_for(lambda: ingestor.stats.restarts == 1 and ingestor._child.is_alive())
        assert ingestor._child.pid != first
        publish(url, [at(80, 1.1), at(70, 1.15)])
        assert wait_for(lambda: stored(db) == 4)
    finally:
        ingestor.stop()
    assert ingestor.stats.lost == 0  # nothing was in flight when the worker died
    assert ingestor.idle()
