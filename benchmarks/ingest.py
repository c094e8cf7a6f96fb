"""Benchmark: sustained sensor ingest through Mosquitto vs the broker's delivery limit, on SQLite and PostgreSQL.

Usage: .venv/bin/python benchmarks/ingest.py [--quick | --full] [--backends sqlite,postgres] [--n N] [--rounds 3]
       (broker: KOTAPINTAR_TEST_MQTT_URL, default mqtt://127.0.0.1:1883;
        PostgreSQL server: KOTAPINTAR_TEST_POSTGRES_URL; a scratch database is created and dropped)

One message = one device's readings at one time (UltraLight 2.0, FIWARE topic /<apiKey>/<deviceId>/attrs),
simulated Kapuas data (18 devices, 10-minute interval, 1.2 readings per message on average).

In the same run and for the same N messages published by a separate process as fast as it can:
  * baseline (delivery limit): a bare paho subscriber on the same broker and topics that only counts messages;
  * Kotapintar: the MqttIngestor — key check, parsing, unit conversion, duplicate removal, quality flags
    against stored history, storage (one executemany / binary COPY per batch), rollups, rule evaluation and
    rule actions (alarms, CAP warnings, readings attached to open cases), in its ingest worker process.
Rates are messages / (time of the last message done − time of the first message received). Cases of rules
that fired are opened by the same worker when it is idle (at most 2 s after the alarm): they are counted
and their delay after the last batch is printed, but they are not inside the measured span.
Each round measures the baseline and Kotapintar back to back; the median ratio of the rounds is the figure
(one pair is noisy on a 2-core machine where publisher, broker and subscribers share the cores).
Quick (default): 20,000 messages. --full: 200,000.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import shutil
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import text
from sqlalchemy.engine import make_url

from kotapintar.app.reference import load_demo_city
from kotapintar.core.access.actors import system_actor
from kotapintar.core.db.database import Database
from kotapintar.core.db.migrate import upgrade
from kotapintar.core.settings import Settings
from kotapintar.sensors import devices as sensor_devices
from kotapintar.sensors import ingest as sensor_ingest
from kotapintar.sensors.engine.payloads import Reading, format_ultralight
from kotapintar.sensors.engine.registry import derive_api_key, load_devices
from kotapintar.sensors.engine.simulator import Simulator, default_scenario
from kotapintar.sensors.repository import SensorRepository
from kotapintar.sensors.runtime import TOPICS, MqttIngestor, broker_address

SECRET = "benchmark-secret"


def build_messages(n: int) -> list[tuple[str, str]]:
    """N UltraLight messages of the demo devices, in time order, ending an hour ago."""
    devices = load_devices()
    per_step = len(devices)
    steps = n // per_step + 1
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    start = end - timedelta(minutes=10 * steps)
    sim = Simulator(devices, seed=7, scenario=default_scenario(start - timedelta(days=10), end, seed=7))
    units = {d.id: d.units for d in devices}
    grouped: dict[tuple[datetime, str], list[Reading]] = {}
    for r in sim.readings(start, end):
        grouped.setdefault((r.observed_at, r.device_id), []).append(r)
    out = []
    for (_at, device_id), items in sorted(grouped.items()):
        payload = format_ultralight(items, units=units.get(device_id))
        out.append((f"/{derive_api_key(SECRET, device_id)}/{device_id}/attrs", payload))
    return out[:n]


def _publisher(url: str, messages: list[tuple[str, str]], ready: mp.Event, go: mp.Event) -> None:  # type: ignore[valid-type]
    host, port, _, _ = broker_address(url)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{uuid.uuid4().hex[:6]}")
    client.max_queued_messages_set(0)
    client.connect(host, port)
    client.loop_start()
    ready.set()  # type: ignore[attr-defined]
    go.wait()  # type: ignore[attr-defined]
    last = None
    for topic, payload in messages:
        last = client.publish(topic, payload, qos=0)
    if last is not None:
        last.wait_for_publish(60)
    time.sleep(0.5)
    client.loop_stop()
    client.disconnect()


def publish_all(url: str, messages: list[tuple[str, str]]) -> float:
    """Publish from a separate process; returns the publishing time in seconds."""
    ctx = mp.get_context("fork")
    ready, go = ctx.Event(), ctx.Event()
    proc = ctx.Process(target=_publisher, args=(url, messages, ready, go))
    proc.start()
    ready.wait(20)
    t0 = time.perf_counter()
    go.set()
    proc.join(300)
    return time.perf_counter() - t0


class BareSubscriber:
    """Counts messages on the FIWARE topics and nothing else: the delivery limit of broker + client library."""

    def __init__(self, url: str) -> None:
        host, port, _, _ = broker_address(url)
        self.count = 0
        self.first: float | None = None
        self.last: float | None = None
        self.connected = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-bare-{uuid.uuid4().hex[:6]}")
        self.client.on_connect = lambda c, *_: (c.subscribe([(t, 0) for t in TOPICS]), self.connected.set())
        self.client.on_message = self._on_message
        self.client.connect(host, port)
        self.client.loop_start()
        self.connected.wait(10)
        time.sleep(0.3)

    def _on_message(self, *_: object) -> None:
        now = time.perf_counter()
        if self.first is None:
            self.first = now
        self.count += 1
        self.last = now

    def stop(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def wait_until(done: callable, idle_s: float = 8.0, limit_s: float = 600.0) -> None:  # type: ignore[valid-type]
    """Wait until done() or no progress for idle_s."""
    start = time.monotonic()
    last_value, last_change = None, time.monotonic()
    while time.monotonic() - start < limit_s:
        value = done()  # type: ignore[operator]
        if value is True:
            return
        if value != last_value:
            last_value, last_change = value, time.monotonic()
        elif time.monotonic() - last_change > idle_s:
            return
        time.sleep(0.05)


@contextmanager
def scratch_database(backend: str) -> Iterator[Database]:
    """A fresh migrated database with the demo city and devices."""
    if backend == "sqlite":
        tmp = tempfile.mkdtemp(prefix="kp-bench-")
        db = Database(f"sqlite:///{tmp}/bench.db")
        try:
            upgrade(db.engine)
            load_demo_city(db, system_actor("bench"), with_users=False)
            yield db
        finally:
            db.dispose()
            shutil.rmtree(tmp, ignore_errors=True)
        return
    server = os.environ.get("KOTAPINTAR_TEST_POSTGRES_URL")
    if not server:
        raise RuntimeError("KOTAPINTAR_TEST_POSTGRES_URL is not set")
    name = f"kp_bench_{uuid.uuid4().hex[:8]}"
    admin = Database(server)
    with admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    db = Database(make_url(server).set(database=name).render_as_string(hide_password=False))
    try:
        upgrade(db.engine)
        load_demo_city(db, system_actor("bench"), with_users=False)
        yield db
    finally:
        db.dispose()
        with admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def run_round(backend: str, url: str, messages: list[tuple[str, str]]) -> dict[str, float]:
    """One baseline run and one Kotapintar run, back to back, on a fresh database."""
    n = len(messages)
    bare = BareSubscriber(url)
    cpu0 = time.process_time()
    publish_all(url, messages)
    wait_until(lambda: bare.count >= n or bare.count)
    bare_cpu = time.process_time() - cpu0
    bare.stop()
    assert bare.first is not None and bare.last is not None
    base_rate = bare.count / max(bare.last - bare.first, 1e-9)

    with scratch_database(backend) as db:
        settings = Settings(environment="test", database_url=db.url, sensor_key_secret=SECRET)
        sensor_devices.sensor_context(db, settings, refresh=True)
        ingestor = MqttIngestor(
            db, settings, url, tick_s=0, client_id=f"bench-kp-{uuid.uuid4().hex[:6]}", worker_process=True
        )
        ingestor.start()
        cpu0, worker0 = time.process_time(), process_cpu(ingestor._child.pid)
        publish_all(url, messages)
        wait_until(lambda: (ingestor.stats.processed >= n and ingestor.idle()) or ingestor.stats.processed)
        sub_cpu, worker_cpu = time.process_time() - cpu0, process_cpu(ingestor._child.pid) - worker0
        ingestor.stop()
        s = ingestor.stats
        assert s.first_at is not None and s.last_done_at is not None
        kp_rate = s.processed / max(s.last_done_at - s.first_at, 1e-9)
        with db.reading() as uow:
            stored = SensorRepository(uow.session).count_observations()
            cases = uow.session.execute(
                text("SELECT count(*) FROM cases WHERE channel = 'sensor'")
            ).scalar_one()
    return {
        "messages": n,
        "bare_received": bare.count,
        "bare_rate": base_rate,
        "kp_received": s.received,
        "kp_processed": s.processed,
        "kp_batches": s.batches,
        "kp_dropped": s.dropped,
        "stored_readings": stored,
        "kp_rate": kp_rate,
        "ratio": kp_rate / base_rate,
        "cases": cases,
        "bare_cpu_us": bare_cpu / n * 1e6,
        "sub_cpu_us": sub_cpu / n * 1e6,
        "worker_cpu_us": worker_cpu / n * 1e6,
        "cases_after_s": (s.cases_done_at - s.last_done_at) if s.cases_done_at is not None else float("nan"),
    }


def process_cpu(pid: int | None) -> float:
    """CPU seconds (user + system) a live process has used so far, from /proc (Linux)."""
    if pid is None:
        return 0.0
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()  # noqa: SIM115
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def direct_rate(backend: str, messages: list[tuple[str, str]]) -> float:
    """The same pipeline without the broker, in this process: how fast the service itself is here."""
    with scratch_database(backend) as db:
        settings = Settings(environment="test", database_url=db.url, sensor_key_secret=SECRET)
        sensor_devices.warm_up(db, settings)
        t0 = time.perf_counter()
        for i in range(0, len(messages), 5000):
            sensor_ingest.ingest_mqtt_messages(db, messages[i : i + 5000], settings=settings)
        return len(messages) / (time.perf_counter() - t0)


def main() -> None:
    """Parse arguments, run, print the figures."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="20,000 messages (default)")
    mode.add_argument("--full", action="store_true", help="200,000 messages")
    parser.add_argument("--n", type=int, default=None, help="number of messages")
    parser.add_argument(
        "--rounds", type=int, default=3, help="baseline + Kotapintar pairs; the median counts"
    )
    parser.add_argument("--backends", default="sqlite,postgres")
    args = parser.parse_args()
    n = args.n or (200_000 if args.full else 20_000)
    url = os.environ.get("KOTAPINTAR_TEST_MQTT_URL", "mqtt://127.0.0.1:1883")
    messages = build_messages(n)
    readings = sum(m[1].count("|") // 2 for m in messages)
    print(f"ingest benchmark: {len(messages)} MQTT messages ({readings} readings), broker {url}")
    for backend in args.backends.split(","):
        if backend == "postgres" and not os.environ.get("KOTAPINTAR_TEST_POSTGRES_URL"):
            print("postgres: skipped (KOTAPINTAR_TEST_POSTGRES_URL not set)")
            continue
        rounds = [run_round(backend, url, messages) for _ in range(args.rounds)]
        for i, r in enumerate(rounds, 1):
            print(
                f"{backend:9} round {i}: delivery limit (bare paho subscriber) {r['bare_rate']:8,.0f} msg/s "
                f"({r['bare_received']:,}/{r['messages']:,}); Kotapintar {r['kp_rate']:8,.0f} msg/s "
                f"({r['kp_processed']:,} in {r['kp_batches']} batches, {r['kp_dropped']:,} dropped as the backlog "
                f"was full, {r['stored_readings']:,} readings stored, "
                f"{r['cases']} cases opened {r['cases_after_s']:+.2f} s after the last batch) "
                f"-> ratio {r['ratio']:.2f}\n"
                f"{'':9}          CPU per message: bare subscriber {r['bare_cpu_us']:.1f} µs; Kotapintar "
                f"subscriber {r['sub_cpu_us']:.1f} µs + ingest worker {r['worker_cpu_us']:.1f} µs "
                "(publisher and broker not counted)"
            )
        ratios = sorted(r["ratio"] for r in rounds)
        print(
            f"{backend:9} ratio to the delivery limit, median of {len(rounds)}: "
            f"{statistics.median(ratios):.2f}  (aim >= 0.8; range {ratios[0]:.2f}-{ratios[-1]:.2f})\n"
            f"{'':9} same pipeline without the broker: {direct_rate(backend, messages):,.0f} msg/s"
        )


if __name__ == "__main__":
    main()
