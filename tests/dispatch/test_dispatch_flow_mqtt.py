"""Unit statuses and positions arriving over MQTT from a real Mosquitto broker (KOTAPINTAR_TEST_MQTT_URL),
on SQLite and PostgreSQL: applied in order, bad ones rejected with a reason and counted, segments right."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from kotapintar.core.access.actors import system_actor
from kotapintar.core.db.database import Database
from kotapintar.core.events.types import utcnow
from kotapintar.core.settings import Settings
from kotapintar.dispatch import calls as call_service
from kotapintar.dispatch import recommendation as recommendation_service
from kotapintar.dispatch import segments as segment_service
from kotapintar.dispatch import units as unit_service
from kotapintar.dispatch.avl_mqtt import UnitSubscriber, broker_address
from kotapintar.dispatch.schemas import CallIn, ClassifyIn, DispatchIn
from tests.conftest import skip_or_fail
from tests.helpers import KUALA_KAPUAS, actor

pytestmark = pytest.mark.mqtt


@pytest.fixture
def mqtt_settings(settings: Settings) -> Settings:
    """Settings with the test broker and a topic prefix of this test only."""
    url = os.environ.get("KOTAPINTAR_TEST_MQTT_URL")
    if not url:
        skip_or_fail("KOTAPINTAR_TEST_MQTT_URL is not set: MQTT tests skipped")
    return settings.model_copy(
        update={"mqtt_url": url, "mqtt_units_topic": f"kp-test/{uuid.uuid4().hex[:8]}/units"}
    )


@pytest.fixture
def subscriber(db: Database, mqtt_settings: Settings) -> Iterator[UnitSubscriber]:
    """The real subscriber loop, connected and subscribed."""
    unit_service.reset_units(db, system_actor("tests"))
    sub = UnitSubscriber(db, mqtt_settings)
    if not sub.start(wait_s=10):
        sub.stop()
        skip_or_fail(f"Mosquitto at {mqtt_settings.mqtt_url} unreachable")
    yield sub
    sub.stop()


@pytest.fixture
def publish(mqtt_settings: Settings) -> Iterator[Callable[[str, object], None]]:
    """Publish (QoS 1, waited for) to `<prefix>/<suffix>`."""
    assert mqtt_settings.mqtt_url
    host, port, *_ = broker_address(mqtt_settings.mqtt_url)
    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    client.connect(host, port)
    client.loop_start()

    def send(suffix: str, payload: object) -> None:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        client.publish(f"{mqtt_settings.mqtt_units_topic}/{suffix}", body, qos=1).wait_for_publish(5)

    yield send
    client.disconnect()
    client.loop_stop()


def _wait(sub: UnitSubscriber, count: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while sub.handled < count and time.monotonic() < deadline:
        time.sleep(0.02)
    assert sub.handled >= count, f"only {sub.handled} of {count} messages handled"


def test_status_updates_over_mqtt_drive_the_segments(
    db: Database,
    mqtt_settings: Settings,
    subscriber: UnitSubscriber,
    publish: Callable[[str, object], None],
) -> None:
    op = actor(db, "operator")
    t0 = utcnow() - timedelta(seconds=30)
    call = call_service.receive_call(
        db, op, CallIn(caller_number="+628123000111", received_at=t0, answered=False)
    )
    call_service.answer_call(db, op, call.id, at=t0 + timedelta(seconds=5))
    out = call_service.classify_call(
        db,
        op,
        call.id,
        ClassifyIn(
            classification="genuine",
            service_code="darurat_medis",
            lon=KUALA_KAPUAS[0],
            lat=KUALA_KAPUAS[1],
            answers={"bernapas": False},
        ),
        settings=mqtt_settings,
    )
    assert out.priority == "P1" and out.case_id is not None
    result = recommendation_service.dispatch_units(db, op, out.case_id, DispatchIn(), settings=mqtt_settings)
    unit = result.units[0]
    with db.reading() as uow:
        dispatched_at = next(
            e.occurred_at for e in uow.events.for_case(out.case_id) if e.type == "unit_dispatched"
        )
    at = dispatched_at + timedelta(seconds=50)
    publish(f"{unit}/status", {"status": "en_route", "at": at.isoformat()})
    _wait(subscriber, 1)
    pos_at = utcnow()
    publish(f"{unit}/position", {"lon": 114.389, "lat": -3.004, "at": pos_at.isoformat(), "speed": 40})
    publish(  # FleetVehicleStatus-shaped
        f"{unit}/position",
        {
            "type": "FleetVehicleStatus",
            "lastKnownPosition": {"type": "Point", "coordinates": [114.3895, -3.002]},
            "dateObserved": (pos_at + timedelta(seconds=3)).isoformat(),
        },
    )
    # rejected, each with its reason: out of order, stale, unknown unit, malformed JSON, late status
    publish(
        f"{unit}/position", {"lon": 114.3, "lat": -3.0, "at": (pos_at + timedelta(seconds=1)).isoformat()}
    )
    publish(f"{unit}/position", {"lon": 114.3, "lat": -3.0, "at": (pos_at - timedelta(hours=2)).isoformat()})
    publish("GHOST-99/position", {"lon": 114.3, "lat": -3.0, "at": pos_at.isoformat()})
    publish(f"{unit}/position", b"\xff{not json")
    publish(f"{unit}/status", {"status": "en_route", "at": (at - timedelta(seconds=20)).isoformat()})
    publish(f"{unit}/status", {"status": "on_scene", "at": (at + timedelta(seconds=240)).isoformat()})
    _wait(subscriber, 9)
    # a topic outside the unit namespace never reaches the loop; handed over directly it is refused too
    stray = unit_service.handle_unit_message(
        db, f"{mqtt_settings.mqtt_units_topic}/{unit}/speed", b"{}", settings=mqtt_settings
    )
    assert not stray.accepted and stray.reason == "malformed"
    board = {u.code: u for u in unit_service.unit_board(db, op)}
    assert board[unit].status == "on_scene"
    counters = unit_service.ingest_counters(db, op)
    assert counters["avl.accepted.mqtt"] == 2
    assert counters["avl.rejected.out_of_order"] == 1
    assert counters["avl.rejected.stale"] == 1
    assert counters["avl.rejected.unknown_unit"] == 1
    assert counters["avl.rejected.malformed"] == 2
    assert counters["status.rejected.out_of_order"] == 1
    assert counters["status.accepted"] == 2
    seg = {s["segment"]: s for s in segment_service.case_segments(db, op, out.case_id).to_dict()["segments"]}
    assert seg["answering"]["seconds"] == pytest.approx(5.0, abs=0.01)
    assert seg["turnout"]["seconds"] == pytest.approx(50.0, abs=0.01)
    assert seg["travel"]["seconds"] == pytest.approx(240.0, abs=0.01)
    assert seg["turnout"]["target_s"] == 60 and seg["turnout"]["met"] is True
    with db.reading() as uow:
        moves = [e for e in uow.events.for_case(out.case_id) if e.type in ("unit_en_route", "unit_on_scene")]
    assert [e.actor for e in moves] == [f"unit:{unit}", f"unit:{unit}"]
    assert moves[0].payload["source"] == "mqtt"
