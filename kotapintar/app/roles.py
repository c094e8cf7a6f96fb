"""Process roles: which background loops a process runs (`kotapintar run web|worker|ingest|notifier|all`).

- `web`: the HTTP server only (API, pages, live stream); no background loop, so any number of copies can
  stand behind a load balancer.
- `worker`: the SOP timer scheduler (batches claimed with `FOR UPDATE SKIP LOCKED`: any number of copies),
  the signed audit checkpoints, last month's accountability reports (one copy at a time holds the
  `monthly-report` advisory lock; the reports table's unique month and agency keeps them single anyway)
  and, on PostgreSQL, the monthly partitions made ahead.
- `ingest`: MQTT sensor ingest (copies split the messages through an MQTT v5 shared subscription, setting
  `sensor_mqtt_share_group`) and the MQTT unit subscriber (one copy at a time holds its advisory lock).
- `notifier`: messages to reporters (one copy at a time holds the outbox cursor's advisory lock; the
  others wait to take over).
- `all`: everything in one process — what `kotapintar serve` and `make demo` run.

Every non-web role stops cleanly on SIGTERM or SIGINT: the loops finish their current pass (a timer batch
that is cut short by a kill rolls back and fires later elsewhere) and the process exits 0.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType
from typing import Any, Protocol

from kotapintar.core.db.database import Database
from kotapintar.core.db.leader import LeaderLock
from kotapintar.core.settings import Settings

log = logging.getLogger("kotapintar.roles")
ROLES = ("web", "worker", "ingest", "notifier", "all")
BACKGROUND = {
    "web": (),
    "worker": ("worker",),
    "ingest": ("ingest",),
    "notifier": ("notifier",),
    "all": ("worker", "ingest", "notifier"),
}


class Stoppable(Protocol):
    """A background loop that can be stopped."""

    def stop(self) -> None:
        """Stop the loop (finishing its current pass)."""


@dataclass
class _ThreadLoop:
    """A loop running in a thread until its event is set."""

    stop_event: threading.Event
    thread: threading.Thread | None = None

    def stop(self) -> None:
        """Ask the loop to stop and wait (bounded) for its current pass to end."""
        self.stop_event.set()
        if self.thread is not None:
            self.thread.join(timeout=30)


@dataclass
class _WhileLeader:
    """Runs something started by `start` only while this process holds the named advisory lock."""

    db: Database
    name: str
    start: Callable[[], Stoppable | None]
    every_s: float = 5.0
    _stop: threading.Event = field(default_factory=threading.Event)
    _running: Stoppable | None = None
    _thread: threading.Thread | None = None

    def begin(self) -> _WhileLeader:
        """Start the watch thread."""
        self._thread = threading.Thread(target=self._run, name=f"kp-leader-{self.name}", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        lock = LeaderLock(self.db, self.name)
        while not self._stop.is_set():
            if lock.held():
                if self._running is None:
                    self._running = self.start()
            elif self._running is not None:
                self._running.stop()
                self._running = None
            self._stop.wait(self.every_s)
        if self._running is not None:
            self._running.stop()
        lock.release()

    def stop(self) -> None:
        """Stop what runs and give the lock up."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)


def _worker_loops(db: Database, settings: Settings) -> list[Stoppable]:
    from kotapintar.analytics.report_store import start_report_loop
    from kotapintar.core.db.partitions import start_partition_thread
    from kotapintar.core.events.checkpoint import start_checkpoint_thread
    from kotapintar.sop.scheduler import run_scheduler

    loops: list[Stoppable] = []
    if settings.run_scheduler:  # SOP timers: reminders, escalations, auto-close
        stop = threading.Event()
        thread = threading.Thread(
            target=run_scheduler,
            args=(db, stop),
            kwargs={"interval_s": settings.scheduler_interval_s, "batch": settings.scheduler_batch},
            name="kp-scheduler",
            daemon=True,
        )
        thread.start()
        loops.append(_ThreadLoop(stop, thread))
        audit_stop = start_checkpoint_thread(db, settings)
        if audit_stop is not None:
            loops.append(_ThreadLoop(audit_stop))
        # the monthly accountability report, generated once after the month ends (issue 15)
        loops.append(_WhileLeader(db, "monthly-report", lambda: start_report_loop(db, settings)).begin())
    # Months of the partitioned events and sensor readings made ahead (PostgreSQL, migration 0017).
    partitions_stop = start_partition_thread(
        db, settings.partition_months_ahead, settings.partition_interval_s
    )
    if partitions_stop is not None:
        loops.append(_ThreadLoop(partitions_stop))
    return loops


def _ingest_loops(db: Database, settings: Settings, *, demo: bool) -> tuple[list[Stoppable], list[Any]]:
    """(loops, the MQTT sensor ingestors the web app reports on)."""
    from kotapintar.dispatch.avl_mqtt import start_unit_subscriber
    from kotapintar.sensors.runtime import MqttIngestor, start_sensor_loops

    loops: list[Stoppable] = list(start_sensor_loops(db, settings, demo=demo))
    ingestors = [loop for loop in loops if isinstance(loop, MqttIngestor)]
    if settings.mqtt_url:
        loops.append(_WhileLeader(db, "unit-subscriber", lambda: start_unit_subscriber(db, settings)).begin())
    return loops, ingestors


def _notifier_loops(db: Database, settings: Settings) -> list[Stoppable]:
    from kotapintar.channels.notifier import start_notifier

    notifier = start_notifier(db, settings)
    return [notifier] if notifier is not None else []


@dataclass
class Started:
    """The loops one process started, and the MQTT ingestors (shown by the web app's sensor status)."""

    loops: list[Stoppable]
    ingestors: list[Any]

    def stop(self) -> None:
        """Stop every loop, newest first."""
        for loop in reversed(self.loops):
            try:
                loop.stop()
            except Exception:  # one loop failing to stop must not keep the others running
                log.exception("stopping %r failed", loop)


def start_background(db: Database, settings: Settings, role: str, *, demo: bool = False) -> Started:
    """Start the background loops of `role` in this process."""
    if role not in BACKGROUND:
        raise ValueError(f"unknown role {role!r}; one of {', '.join(ROLES)}")
    started = Started([], [])
    parts = BACKGROUND[role]
    if "worker" in parts:
        started.loops += _worker_loops(db, settings)
    if "ingest" in parts:
        loops, ingestors = _ingest_loops(db, settings, demo=demo)
        started.loops += loops
        started.ingestors += ingestors
    if "notifier" in parts:
        started.loops += _notifier_loops(db, settings)
    return started


def wait_for_termination(on_ready: Callable[[], None] | None = None) -> None:
    """Block the main thread until SIGTERM or SIGINT arrives."""
    stop = threading.Event()

    def handler(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %s: stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    if on_ready is not None:
        on_ready()
    while not stop.wait(1.0):
        pass


# --------------------------------------------------------------------------- metrics of non-web roles


@dataclass
class MetricsServer:
    """prometheus_client's HTTP server of a non-web role (the web role serves /metrics itself)."""

    server: Any
    thread: threading.Thread
    collectors: list[Any] = field(default_factory=list)

    def stop(self) -> None:
        """Stop serving and unregister this role's collectors."""
        from prometheus_client import REGISTRY

        self.server.shutdown()
        self.server.server_close()
        for collector in self.collectors:
            REGISTRY.unregister(collector)


def start_metrics_server(
    db: Database, settings: Settings, role: str, started: Started, port: int | None = None
) -> MetricsServer | None:
    """Serve this process's Prometheus metrics on `settings.metrics_host`:`port` (default
    `settings.metrics_port`) for the roles without an HTTP server: the same families as the web role's
    /metrics — `worker` adds timer lag and timers fired, `ingest` its messages received, stored, dropped and
    backlog; every role the figures read from the database (notifier queue, escalations, oldest due timer).
    None when no port is set.

    Loopback by default: the endpoint has no token, so expose it only through a firewall or a scraper on
    the same machine. Raises OSError when the port is taken (the CLI turns it into a clear message).
    """
    from prometheus_client import REGISTRY, start_http_server

    from kotapintar.app.ops import DatabaseFigures

    port = settings.metrics_port if port is None else port
    if not port or role in ("web", "all"):
        return None
    collectors = [DatabaseFigures(db, started.ingestors)]
    server, thread = start_http_server(port, addr=settings.metrics_host)
    for collector in collectors:
        REGISTRY.register(collector)
    log.info("metrics of role %s at http://%s:%d/metrics", role, settings.metrics_host, port)
    return MetricsServer(server, thread, collectors)
