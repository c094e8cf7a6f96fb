"""The demo city's simulated sensors: a day of history at once, then the flood wave plays out fast enough that
a visitor sees healthy devices, a public warning and a sensor case within minutes (here: seconds)."""

from __future__ import annotations

import time
from datetime import timedelta

from sqlalchemy import select

from kotapintar.cases.models import Case
from kotapintar.core.access.actors import system_actor
from kotapintar.core.db.database import Database
from kotapintar.core.events.types import utcnow
from kotapintar.core.settings import Settings
from kotapintar.sensors import devices as sensor_devices
from kotapintar.sensors import queries as sensor_queries
from kotapintar.sensors import warnings as sensor_warnings
from kotapintar.sensors.runtime import DemoSensorFeed


def test_demo_feed_gives_history_healthy_devices_and_a_flood_case(db: Database, settings: Settings) -> None:
    sensor_devices.load_demo_devices(db, system_actor("tests"))
    feed = DemoSensorFeed(db, settings, speed=3600.0)  # the 3 accelerated hours take 3 seconds
    feed.start()
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and feed.sim_time < utcnow() - feed.step:
            time.sleep(0.2)
    finally:
        feed.stop()
    assert feed.sim_time >= utcnow() - 2 * feed.step, "the feed did not catch up with the present"
    report = sensor_queries.quality_report(db, settings=settings)
    assert {d["health"] for d in report["devices"]} == {"ok"}
    series = sensor_queries.device_series(
        db,
        "KPS-AWLR-02",
        start=utcnow() - timedelta(hours=18),
        end=utcnow(),
        resolution="1h",
        settings=settings,
    )
    assert len(series["points"]) >= 17  # a day of history from the start
    assert sensor_warnings.active_warnings(db), "the demo flood wave raises a public warning"
    with db.reading() as uow:
        services = set(uow.session.scalars(select(Case.service_code).where(Case.channel == "sensor")))
    assert "banjir" in services


def test_demo_history_is_there_at_once_not_after_the_accelerated_replay(
    db: Database, settings: Settings
) -> None:
    sensor_devices.load_demo_devices(db, system_actor("tests"))
    feed = DemoSensorFeed(db, settings)  # the demo's own speed: 360x
    feed.start()
    try:
        deadline = time.monotonic() + 30  # at 360x the 15 h of history would take 2.5 minutes
        while time.monotonic() < deadline and feed.sim_time < utcnow() - feed.live - feed.step:
            time.sleep(0.2)
        assert feed.sim_time >= utcnow() - feed.live - feed.step
    finally:
        feed.stop()


def test_after_a_restart_the_demo_feed_simulates_only_its_own_devices(
    db: Database, settings: Settings
) -> None:
    """A device a user registered must never receive synthetic readings (issue 18): they would open real cases
    and public warnings from invented data."""
    from kotapintar.sensors.engine.registry import Device

    sensor_devices.load_demo_devices(db, system_actor("tests"))
    own = Device(
        id="KOTA-AWLR-77",
        name="Pos duga air milik kota",
        kind="water_level",
        lon=114.38,
        lat=-3.0,
        region="62.03.01",
        owner_agency="bpbd",
        interval_s=600,
        gauge_class="kapuas_hilir",
    )
    sensor_devices.register_devices(db, system_actor("tests"), [own])
    feed = DemoSensorFeed(db, settings)  # as `serve --demo` builds it after a restart
    assert "KOTA-AWLR-77" not in {d.id for d in feed.simulator.devices}
    assert feed.step_once() > 0
    report = {d["id"]: d for d in sensor_queries.quality_report(db, settings=settings)["devices"]}
    assert report["KOTA-AWLR-77"]["health"] == "never_seen"
    assert report["KPS-AWLR-01"]["last_seen"] is not None
