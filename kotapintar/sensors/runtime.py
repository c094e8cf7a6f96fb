"""Long-running sensor loops: the MQTT subscriber (FIWARE topics), the staleness tick and the demo feed."""

from __future__ import annotations

import gc
import logging
import multiprocessing as mp
import queue
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol
from urllib.parse import urlparse

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from kotapintar.core.access.actors import system_actor
from kotapintar.core.db.database import Database
from kotapintar.core.events.types import utcnow
from kotapintar.core.settings import Settings
from kotapintar.sensors import alarms as sensor_alarms
from kotapintar.sensors import devices as sensor_devices
from kotapintar.sensors import ingest as sensor_ingest
from kotapintar.sensors.engine.payloads import iso_z
from kotapintar.sensors.engine.registry import Device, load_devices
from kotapintar.sensors.engine.simulator import FloodEvent, Scenario, Simulator, default_scenario

log = logging.getLogger(__name__)

# FIWARE IoT Agent topics: /<apiKey>/<deviceId>/attrs (+ a bare attribute), with an optional protocol prefix.
TOPICS = (
    "/+/+/attrs",
    "/+/+/attrs/+",
    "/ul/+/+/attrs",
    "/ul/+/+/attrs/+",
    "/json/+/+/attrs",
    "/json/+/+/attrs/+",
)


def subscription_topics(share_group: str | None) -> list[str]:
    """The topic filters to subscribe: the FIWARE topics, as MQTT v5 shared subscriptions
    (`$share/<group>/<filter>`) when a group is set, so the broker gives each message to one member."""
    if not share_group:
        return list(TOPICS)
    return [f"$share/{share_group}/{topic}" for topic in TOPICS]


def broker_address(url: str) -> tuple[str, int, str | None, str | None]:
    """(host, port, username, password) of an mqtt:// URL."""
    parsed = urlparse(url)
    if parsed.scheme not in ("mqtt", "tcp", ""):
        raise ValueError(f"unsupported MQTT URL scheme: {parsed.scheme} (use mqtt://host:port)")
    return parsed.hostname or "127.0.0.1", parsed.port or 1883, parsed.username, parsed.password


@dataclass
class MqttStats:
    """Counters of the subscriber since it started."""

    received: int = 0
    processed: int = 0
    stored: int = 0
    rejected: int = 0
    batches: int = 0
    lost: int = 0
    dropped: int = 0
    restarts: int = 0
    cases_opened: int = 0
    first_at: float | None = None
    last_done_at: float | None = None
    cases_done_at: float | None = None
    last_message_at: datetime | None = None

    @property
    def backlog(self) -> int:
        """Messages received and kept but not processed yet (waiting for or inside the ingest worker)."""
        return max(self.received - self.processed - self.lost - self.dropped, 0)


@dataclass
class MqttIngestor:
    """Subscribes to the FIWARE topics and ingests messages in batches (one transaction per batch)."""

    db: Database
    settings: Settings
    url: str
    batch_max: int = 5000
    batch_wait_s: float = 0.02
    tick_s: float = 60.0
    client_id: str = "kotapintar-sensors"
    worker_process: bool = False
    backlog_max: int | None = None
    stats: MqttStats = field(default_factory=MqttStats)

    def __post_init__(self) -> None:
        self._backlog_limit: int = (
            self.settings.sensor_ingest_backlog if self.backlog_max is None else self.backlog_max
        )
        self._shed_logged_at = 0.0
        # Messages received since the last hand-over; the network thread appends, the batch thread swaps the
        # whole list out under the lock (O(1) per batch instead of a pop per message).
        self._pending: list[tuple[str, bytes]] = []
        self._pending_lock = threading.Lock()
        self._handed = 0  # messages handed to the worker process
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._connected = threading.Event()
        self._worker: threading.Thread | None = None
        self._child: Any = None  # the ingest worker process (worker_process only)
        host, port, user, password = broker_address(self.url)
        self._host, self._port = host, port
        if self.settings.sensor_mqtt_share_group:  # shared subscriptions need MQTT v5
            self.client = mqtt.Client(
                CallbackAPIVersion.VERSION2, client_id=self.client_id, protocol=mqtt.MQTTv5
            )
        else:
            self.client = mqtt.Client(
                CallbackAPIVersion.VERSION2, client_id=self.client_id, clean_session=True
            )
        if user:
            self.client.username_pw_set(user, password)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.granted_qos: list[int] = []
        self.client.on_message = self._on_message

    def _on_subscribe(self, _c: mqtt.Client, _u: object, _mid: int, codes: list[Any], _p: object) -> None:
        self.granted_qos = [int(getattr(code, "value", code)) for code in codes]

    def _on_connect(self, client: mqtt.Client, _u: object, _f: object, reason: object, _p: object) -> None:
        topics = subscription_topics(self.settings.sensor_mqtt_share_group)
        client.subscribe([(topic, self.settings.sensor_mqtt_qos) for topic in topics])
        self._connected.set()
        log.info("MQTT sensor ingest connected to %s:%s (%s)", self._host, self._port, reason)

    def _on_message(self, _c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        stats = self.stats
        if stats.first_at is None:
            stats.first_at = time.perf_counter()
        stats.received += 1
        if stats.received - stats.processed - stats.lost - stats.dropped > self._backlog_limit:
            self._shed()
            return
        with self._pending_lock:
            self._pending.append((message.topic, bytes(message.payload)))
            full = len(self._pending) >= self.batch_max
        if full:
            self._wake.set()

    def _shed(self) -> None:
        """Drop a message because the backlog is full: ingest has fallen that far behind (a device flooding
        the broker, a database that stopped answering). Memory stays bounded, the server stays up, and the
        loss is counted and logged (at most every 10 s) instead of ending in an out-of-memory kill."""
        self.stats.dropped += 1
        now = time.monotonic()
        if now - self._shed_logged_at >= 10.0:
            self._shed_logged_at = now
            log.warning(
                "sensor ingest backlog full (%d messages waiting): %d messages dropped so far",
                self.stats.backlog,
                self.stats.dropped,
            )

    def status(self) -> dict[str, Any]:
        """What operators see of this subscriber: broker, connection, counters and the backlog now."""
        s = self.stats
        worker_alive = self._child.is_alive() if self._child is not None else None
        return {
            "broker": f"mqtt://{self._host}:{self._port}",
            "connected": self.client.is_connected(),
            "worker_process": self.worker_process,
            "worker_alive": worker_alive,
            "received": s.received,
            "processed": s.processed,
            "stored_readings": s.stored,
            "rejected": s.rejected,
            "dropped_backlog_full": s.dropped,
            "lost_worker_died": s.lost,
            "worker_restarts": s.restarts,
            "backlog": s.backlog,
            "backlog_max": self._backlog_limit,
            "cases_opened": s.cases_opened,
            "last_message_at": iso_z(s.last_message_at) if s.last_message_at else None,
        }

    def start(self, *, wait_s: float = 10.0) -> None:
        """Connect, subscribe and start the network loop and the batch worker (background threads).

        With `worker_process`, batches are ingested in a child process (its own interpreter and GIL), so
        receiving messages and processing them run on two cores; the child is the only writer.
        """
        if self.worker_process:
            self._start_child()
        else:
            sensor_devices.warm_up(self.db, self.settings)
        self.client.connect(self._host, self._port, keepalive=30)
        self.client.loop_start()
        self._worker = threading.Thread(target=self._run, name="sensor-mqtt-ingest", daemon=True)
        self._worker.start()
        if not self._connected.wait(wait_s):
            raise ConnectionError(f"MQTT broker {self._host}:{self._port} did not answer")
        # A subscription is active once SUBACK arrived; a short pause covers it before callers publish.
        time.sleep(0.2)

    def _start_child(self) -> None:
        """Start the ingest worker process with fresh queues (a killed process may leave a queue locked)."""
        ctx = mp.get_context("spawn")
        self._inbox: Any = ctx.Queue()
        self._outbox: Any = ctx.Queue()
        self._child = ctx.Process(
            target=_child_main,
            args=(self.db.url, self.settings.model_dump(mode="json"), self._inbox, self._outbox),
            daemon=True,
        )
        self._child.start()
        if self._outbox.get(timeout=120) != "ready":
            raise RuntimeError("sensor ingest worker did not start")
        self._collector = threading.Thread(
            target=self._collect, args=(self._outbox,), name="sensor-ingest-results", daemon=True
        )
        self._collector.start()

    def _restart_child(self) -> None:
        """The worker process died (killed, out of memory): count what it held as lost and start another.

        Readings arrive over QoS 0 and devices send again at their next interval, so the subscriber keeps
        going; the log says how many messages were lost.
        """
        self._outbox.put(None)
        self._collector.join(timeout=10)  # take the reports the dead worker sent before it died
        lost = self._handed - self.stats.processed - self.stats.lost
        self.stats.lost += lost
        log.error(
            "sensor ingest worker stopped (exit code %s); %d handed-over messages lost; restarting",
            self._child.exitcode,
            lost,
        )
        self.stats.restarts += 1
        self._start_child()

    def stop(self) -> None:
        """Process what is queued, then disconnect."""
        self._stop.set()
        self._wake.set()
        if self._worker is not None:
            self._worker.join(timeout=30)
        if self.worker_process:
            self._inbox.put(None)
            self._child.join(timeout=60)
            self._outbox.put(None)
            self._collector.join(timeout=10)
        self.client.loop_stop()
        self.client.disconnect()

    def _collect(self, outbox: Any) -> None:
        while True:
            item = outbox.get()
            if item is None:
                return
            if item[0] == "cases":
                self.stats.cases_opened += item[1]
                self.stats.cases_done_at = item[2]
                continue
            _, size, stored, rejected, done_at = item
            self.stats.processed += size
            self.stats.stored += stored
            self.stats.rejected += rejected
            self.stats.batches += 1
            self.stats.last_done_at = done_at

    def _drain(self) -> list[tuple[str, bytes]]:
        with self._pending_lock:
            batch, self._pending = self._pending, []
        return batch

    def _run(self) -> None:
        next_tick = time.monotonic() + self.tick_s
        while True:
            self._wake.wait(self.batch_wait_s)
            self._wake.clear()
            if self.worker_process and not self._child.is_alive() and not self._stop.is_set():
                try:
                    self._restart_child()
                except (OSError, RuntimeError, queue.Empty):  # logged; the next round tries again
                    log.exception("sensor ingest worker could not be restarted")
                    self._stop.wait(1.0)
                    continue
            batch = self._drain()
            if batch:
                self.stats.last_message_at = utcnow()  # to within the hand-over period (batch_wait_s)
                self._process(batch)
            elif self._stop.is_set():
                return
            if self.tick_s > 0 and time.monotonic() >= next_tick:
                next_tick = time.monotonic() + self.tick_s
                try:
                    sensor_ingest.tick_sensors(self.db, settings=self.settings)
                except Exception:  # keep the loop alive: the next tick tries again
                    log.exception("sensor staleness tick failed")

    def _process(self, batch: list[tuple[str, bytes]]) -> None:
        if self.worker_process:
            self._handed += len(batch)
            self._inbox.put(batch)
            return
        try:
            outcome = sensor_ingest.ingest_mqtt_messages(self.db, batch, settings=self.settings)
        except Exception:  # one bad batch must not stop the subscriber; it is logged with its size
            log.exception("sensor ingest of %d MQTT messages failed", len(batch))
            return
        self.stats.processed += len(batch)
        self.stats.cases_opened += len(outcome.cases_opened)
        self.stats.stored += outcome.stored
        self.stats.rejected += sum(outcome.rejected.values())
        self.stats.batches += 1
        self.stats.last_done_at = time.perf_counter()

    def idle(self) -> bool:
        """True when every received message has been processed (or counted as lost or dropped)."""
        s = self.stats
        return not self._pending and s.processed + s.lost + s.dropped >= s.received


CASE_IDLE_S = 0.25
CASE_MAX_DELAY_S = 2.0
MAX_BATCH = 20000
LINGER_S = 0.05
LINGER_STEP_S = 0.025
LINGER_BELOW = 5000


def _child_main(url: str, settings_data: dict[str, Any], inbox: Any, outbox: Any) -> None:
    """The ingest worker process: batches in, ("batch", size, stored, rejected, done time) out.

    Cases of rules that fired are opened when no batch is waiting (after CASE_IDLE_S) and at the latest
    CASE_MAX_DELAY_S after the alarm, so a burst of readings is stored and evaluated first; the alarm and
    its public warning exist from the batch that fired; each opening reports ("cases", count, done time).
    """
    settings = Settings.model_validate(settings_data)
    db = Database(url)
    sensor_devices.warm_up(db, settings)
    # Everything loaded so far (registry, rules, the triage model used when a rule opens a case) lives as
    # long as the process: keep it out of the cyclic garbage collector, whose full passes over those
    # millions of objects otherwise cost more than the ingest work of a large batch. And collect between
    # batches instead of during them: a batch allocates ~20 objects per reading, which triggered automatic
    # collections in the middle of it (measured: 40 % of the batch time; one collection between batches
    # costs ~1 µs per message). Reference counting still frees everything that is not in a cycle at once.
    gc.collect()
    gc.freeze()
    gc.disable()
    outbox.put("ready")
    waiting_since: float | None = time.monotonic()  # alarms left pending before a restart
    while True:
        try:
            batch = inbox.get(timeout=CASE_IDLE_S if waiting_since is not None else None)
        except queue.Empty:
            batch = []
        last = batch is None
        batch = batch or []
        # Take what else is waiting, and during a burst linger a moment for more: each transaction costs
        # 5-15 ms whatever its size, so fewer, larger ones keep up with a burst. The subscriber hands over
        # every 20 ms while messages flow: nothing within LINGER_STEP_S means the burst is over.
        linger_until = time.monotonic() + LINGER_S
        while not last and batch and len(batch) < MAX_BATCH:
            try:
                wait = min(LINGER_STEP_S, linger_until - time.monotonic()) if len(batch) < LINGER_BELOW else 0
                more = inbox.get(timeout=wait) if wait > 0 else inbox.get_nowait()
            except queue.Empty:
                break
            if more is None:
                last = True
                break
            batch.extend(more)
        if batch:
            stored = rejected = 0
            try:
                outcome = sensor_ingest.ingest_mqtt_messages(db, batch, settings=settings, open_cases=False)
                stored, rejected = outcome.stored, sum(outcome.rejected.values())
                if outcome.cases_pending and waiting_since is None:
                    waiting_since = time.monotonic()
            except Exception:  # logged; the batch counts as processed so the parent never waits for it
                log.exception("sensor ingest of %d MQTT messages failed", len(batch))
            outbox.put(("batch", len(batch), stored, rejected, time.perf_counter()))
            gc.collect()
        idle = not batch or last
        if waiting_since is not None and (idle or time.monotonic() - waiting_since >= CASE_MAX_DELAY_S):
            waiting_since = None
            try:
                opened = sensor_alarms.open_pending_cases(db, settings=settings)
            except Exception:  # logged; the alarms stay pending and the next attempt opens them
                log.exception("opening the cases of sensor alarms failed")
                waiting_since = time.monotonic()
            else:
                if opened:
                    outbox.put(("cases", len(opened), time.perf_counter()))
            gc.collect()
        if last:
            break
    db.dispose()


def demo_devices_of(registered: Mapping[str, Device]) -> list[Device]:
    """The registered devices the demo feed may simulate: only the shipped demo devices.

    After a restart the registry also holds the devices a user registered; synthetic readings in them would
    open real cases and public warnings from invented data.
    """
    shipped = {d.id for d in load_devices()}
    return [device for device_id, device in registered.items() if device_id in shipped]


@dataclass
class DemoSensorFeed:
    """Feeds simulated Kapuas readings through the ingest service in accelerated time (no broker needed).

    The simulated clock starts `backfill` before now: history up to `live` before now is ingested at once
    (charts have a day of data from the first page view), the last `live` runs `speed` times faster, then the
    feed follows real time. The daily cycle is plausible, the data never comes from the future, devices look
    healthy within a few minutes (not after the whole backfill at `speed`), and a flood wave is placed so that
    it reaches siaga a minute or two into the demo and opens a case.
    """

    db: Database
    settings: Settings
    speed: float = 360.0
    backfill: timedelta = timedelta(hours=18)
    live: timedelta = timedelta(hours=3)
    step: timedelta = timedelta(minutes=10)
    seed: int = 20261129

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        now = utcnow().replace(second=0, microsecond=0)
        self.sim_time = now - self.backfill
        ctx = sensor_devices.sensor_context(self.db, self.settings)
        base = default_scenario(self.sim_time - timedelta(days=10), now + timedelta(days=30), seed=self.seed)
        # An upper Kapuas flood wave that began an hour before the accelerated part: the river rises fast
        # within its first simulated hours (a case ~1-2 minutes into the demo) and travels downstream for a day.
        demo_flood = FloodEvent(start=now - self.live - timedelta(hours=1), river="Kapuas", magnitude=1.3)
        scenario = Scenario(floods=(*base.floods, demo_flood), hazes=base.hazes, faults=base.faults)
        self.simulator = Simulator(demo_devices_of(ctx.devices), seed=self.seed, scenario=scenario)

    def step_once(self) -> int:
        """Advance the simulated clock by one step (never past now); returns how many readings were ingested."""
        now = utcnow()
        end = min(self.sim_time + self.step, now)
        if end <= self.sim_time:
            return 0
        readings = list(self.simulator.readings(self.sim_time, end))
        sensor_ingest.ingest_readings(self.db, readings, received_at=end, settings=self.settings)
        self.sim_time = end
        return len(readings)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.step_once()
            except Exception:  # the demo keeps going after a failed step
                log.exception("demo sensor step failed")
            behind = utcnow() - self.sim_time
            if behind > self.live:
                wait = 0.0  # history: as fast as ingest goes
            elif behind <= self.step:
                wait = 5.0  # caught up: real time
            else:
                wait = self.step.total_seconds() / max(self.speed, 1e-6)
            self._stop.wait(wait)

    def start(self) -> None:
        """Run in a background thread."""
        self._thread = threading.Thread(target=self._run, name="demo-sensors", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)


class Stoppable(Protocol):
    """A background loop that can be stopped."""

    def stop(self) -> None:
        """Stop the loop."""


def start_sensor_loops(db: Database, settings: Settings, *, demo: bool) -> list[Stoppable]:
    """Start what `kotapintar serve` runs for sensors: the MQTT subscriber (when mqtt_url is set) and, in
    the demo, the Kapuas devices with their simulated feed. Returns the loops to stop at shutdown."""
    loops: list[Stoppable] = []
    if demo and settings.demo_sensors:
        sensor_devices.load_demo_devices(db, system_actor("demo"))
        feed = DemoSensorFeed(db, settings, speed=settings.demo_sensor_speed)
        feed.start()
        loops.append(feed)
    if settings.mqtt_url:
        # A worker process opens the database by URL: an in-memory SQLite database exists only in this one.
        in_memory = db.engine.url.get_backend_name() == "sqlite" and db.engine.url.database in (
            None,
            "",
            ":memory:",
        )
        if settings.sensor_ingest_process and in_memory:
            log.warning("in-memory database: MQTT sensor ingest runs in the server process, not a worker")
        ingestor = MqttIngestor(
            db, settings, settings.mqtt_url, worker_process=settings.sensor_ingest_process and not in_memory
        )
        try:
            ingestor.start()
        except (OSError, ConnectionError) as exc:
            log.error("MQTT sensor ingest not started (%s): %s", settings.mqtt_url, exc)
        else:
            loops.append(ingestor)
    return loops
