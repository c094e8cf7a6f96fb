"""A bounded ingest backlog: when ingest stalls (a flooding device, a database that stopped answering) the MQTT
subscriber keeps at most `sensor_ingest_backlog` messages in memory, drops and counts the rest, and stores
what it kept once ingest goes on; operators see the counters over the API."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime, timedelta

import paho.mqtt.client as mqtt
from fastapi.testclient import TestClient
from paho.mqtt.enums import CallbackAPIVersion

from kotapintar.app.reference import DEMO_PASSWORD
from kotapintar.app.web import create_app
from kotapintar.core.access.actors import system_actor
from kotapintar.core.db.database import Database
from kotapintar.core.settings import Settings
from kotapintar.sensors import devices as sensor_devices
from kotapintar.sensors.repository import SensorRepository
from kotapintar.sensors.runtime import MqttIngestor, broker_address
from tests.conftest import skip_or_fail
from tests.helpers import wait_for

GAUGE = "KPS-AWLR-02"
SENT = 300
BACKLOG = 50


def test_a_stalled_ingest_keeps_a_bounded_backlog_and_counts_what_it_dropped(
    db: Database, settings: Settings
) -> None:
    url = os.environ.get("KOTAPINTAR_TEST_MQTT_URL")
    if not url:
        skip_or_fail("KOTAPINTAR_TEST_MQTT_URL is not set: MQTT sensor tests skipped")
    assert url is not None
    own = settings.model_copy(
        update={"sensor_key_secret": uuid.uuid4().hex, "sensor_ingest_backlog": BACKLOG}
    )
    sensor_devices.load_demo_devices(db, system_actor("tests"))
    topic = f"/{sensor_devices.device_api_key(own, GAUGE)}/{GAUGE}/attrs"
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    # SENT distinct readings, a minute apart, oldest first
    messages = [
        (topic, f"t|{(now - timedelta(minutes=SENT - i)).isoformat()}|wl|{1.0 + i * 0.001:.3f}")
        for i in range(SENT)
    ]
    ingestor = MqttIngestor(db, own, url, tick_s=0, client_id=f"kp-b-{uuid.uuid4().hex[:8]}")
    ingestor.start()
    host, port, _, _ = broker_address(url)
    publisher = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"kp-bp-{uuid.uuid4().hex[:8]}")
    publisher.connect(host, port)
    publisher.loop_start()
    try:
        # Ingest stalls: every batch waits for the ingest lock this test holds (as a hung database would).
        with sensor_devices.INGEST_LOCK:
            for t, payload in messages:
                publisher.publish(t, payload, qos=1).wait_for_publish(10)
            assert wait_for(lambda: ingestor.stats.received == SENT), ingestor.stats
            assert ingestor.stats.processed == 0
            assert ingestor.stats.backlog == BACKLOG  # memory held: BACKLOG messages, not SENT
            assert ingestor.stats.dropped == SENT - BACKLOG
        assert wait_for(ingestor.idle)
    finally:
        publisher.loop_stop()
        publisher.disconnect()
        ingestor.stop()

    # What was kept is stored once ingest goes on: the first BACKLOG messages, none of the dropped ones.
    with db.reading() as uow:
        assert SensorRepository(uow.session).count_observations(GAUGE) == BACKLOG
    status = ingestor.status()
    assert (status["received"], status["processed"], status["dropped_backlog_full"]) == (
        SENT,
        BACKLOG,
        SENT - BACKLOG,
    )
    assert status["backlog"] == 0 and status["backlog_max"] == BACKLOG
    assert status["last_message_at"] is not None

    # Operators read the same counters over the API; the public does not.
    app = create_app(own, db=db)
    app.state.sensor_ingestors = [ingestor]
    with TestClient(app) as client:
        assert client.get("/api/v1/sensors/ingest").status_code == 401
        token = client.post("/api/v1/auth/token", data={"username": "operator", "password": DEMO_PASSWORD})
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        listed = client.get("/api/v1/sensors/ingest", headers=headers)
        assert listed.status_code == 200, listed.text
        [seen] = listed.json()
        assert seen["dropped_backlog_full"] == SENT - BACKLOG
        assert seen["stored_readings"] == BACKLOG
        assert seen["broker"] == f"mqtt://{host}:{port}"
