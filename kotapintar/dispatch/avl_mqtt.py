"""MQTT subscriber of unit messages (positions and statuses) on `<mqtt_units_topic>/<code>/(position|status)`.

`UnitSubscriber(db, settings).start()` runs paho-mqtt 2's network loop in its own thread; every message goes
through `handle_unit_message` (validated, applied or rejected with a reason, always counted). `kotapintar
serve` starts it when `mqtt_url` is set; tests start and stop it around a real Mosquitto broker.
"""

from __future__ import annotations

import logging
import threading
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from kotapintar.core.db.database import Database
from kotapintar.core.settings import Settings
from kotapintar.dispatch.units import handle_unit_message

log = logging.getLogger(__name__)


def broker_address(url: str) -> tuple[str, int, str | None, str | None, bool]:
    """(host, port, username, password, tls) of an `mqtt://` or `mqtts://` URL."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl"):
        raise ValueError(f"MQTT URL harus mqtt://host:port, bukan {url!r}")
    tls = parts.scheme in ("mqtts", "ssl")
    return (
        parts.hostname or "127.0.0.1",
        parts.port or (8883 if tls else 1883),
        parts.username,
        parts.password,
        tls,
    )


class UnitSubscriber:
    """A background MQTT client that feeds unit messages to the dispatch service."""

    def __init__(self, db: Database, settings: Settings, *, client_id: str | None = None) -> None:
        if not settings.mqtt_url:
            raise ValueError("mqtt_url is not set")
        self.db = db
        self.settings = settings
        self.host, self.port, user, password, tls = broker_address(settings.mqtt_url)
        self.prefix = settings.mqtt_units_topic.strip("/")
        self.subscribed = threading.Event()
        self.handled = 0
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id or "", clean_session=True)
        if user:
            self.client.username_pw_set(user, password)
        if tls:
            self.client.tls_set()
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if getattr(reason, "is_failure", False):
            log.error("MQTT connect to %s:%s failed: %s", self.host, self.port, reason)
            return
        client.subscribe([(f"{self.prefix}/+/position", 1), (f"{self.prefix}/+/status", 1)])

    def _on_subscribe(self, client: mqtt.Client, userdata: Any, mid: int, reasons: Any, props: Any) -> None:
        self.subscribed.set()

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        try:
            outcome = handle_unit_message(
                self.db, message.topic, bytes(message.payload), settings=self.settings
            )
            if not outcome.accepted:
                log.info(
                    "unit message on %s ignored: %s (%s)", message.topic, outcome.reason, outcome.message
                )
        except Exception:  # one bad message must never stop the loop
            log.exception("unit message on %s failed", message.topic)
        finally:
            self.handled += 1

    def start(self, wait_s: float = 10.0) -> bool:
        """Connect and run the loop in a thread; True once subscribed (within `wait_s`)."""
        self.client.connect_async(self.host, self.port, keepalive=30)
        self.client.loop_start()
        return self.subscribed.wait(wait_s)

    def stop(self) -> None:
        """Disconnect and end the loop thread."""
        self.client.disconnect()
        self.client.loop_stop()


def start_unit_subscriber(db: Database, settings: Settings) -> UnitSubscriber | None:
    """Start the subscriber when `mqtt_url` is set (used by `kotapintar serve`); None otherwise."""
    if not settings.mqtt_url:
        return None
    subscriber = UnitSubscriber(db, settings)
    if not subscriber.start():
        log.warning("MQTT unit subscriber not subscribed yet at %s; it keeps retrying", settings.mqtt_url)
    return subscriber
