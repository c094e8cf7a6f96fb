"""Wake the readers of the outbox when events commit (issue 19), instead of every reader polling.

Writers: a transaction that appended events runs `pg_notify('kotapintar_events', '')` just before it
commits; PostgreSQL delivers a notification only when (and if) the transaction commits, and folds the
duplicates of one transaction into one. Readers: one `OutboxWaker` per process holds one LISTEN connection
and wakes every SSE client of the process, whichever process wrote the events; the clients then read the
events table after their own cursor (filtered by what each reader may see). Without PostgreSQL (SQLite is
one process) or while the LISTEN connection is down, the waits time out and the readers poll as before.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)
CHANNEL = "kotapintar_events"
NOTIFY_SQL = f"SELECT pg_notify('{CHANNEL}', '')"


class OutboxWaker:
    """One LISTEN connection per process; `wait()` returns when new events committed (or on timeout)."""

    def __init__(self, url: str | None) -> None:
        self.url = url if url and url.startswith("postgresql") else None
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.listening = threading.Event()

    @property
    def enabled(self) -> bool:
        """True on PostgreSQL (notifications); False means readers poll."""
        return self.url is not None

    def start(self) -> None:
        """Start the LISTEN thread once (idempotent; nothing on SQLite)."""
        if self.url is None or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="kp-outbox-listen", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """End the LISTEN thread."""
        self._stop.set()

    async def wait(self, timeout: float) -> None:
        """Sleep until events commit anywhere (PostgreSQL) or `timeout` seconds pass."""
        event = asyncio.Event()
        entry = (asyncio.get_running_loop(), event)
        with self._lock:
            self._waiters.add(entry)
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except TimeoutError:
            pass
        finally:
            with self._lock:
                self._waiters.discard(entry)

    def wake_all(self) -> None:
        """Wake every waiting reader of this process."""
        with self._lock:
            waiters = list(self._waiters)
        for loop, event in waiters:
            try:
                loop.call_soon_threadsafe(event.set)
            except RuntimeError:  # the loop closed (server shutting down)
                continue

    def _run(self) -> None:
        import psycopg

        assert self.url is not None
        conninfo = make_url(self.url).set(drivername="postgresql").render_as_string(hide_password=False)
        while not self._stop.is_set():
            try:
                with psycopg.connect(conninfo, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.listening.set()
                    self.wake_all()  # events may have committed while (re)connecting
                    self._listen(conn)
            except Exception:  # server down or restarting: readers fall back to polling meanwhile
                self.listening.clear()
                log.warning("outbox LISTEN connection lost; retrying", exc_info=True)
                self._stop.wait(1.0)

    def _listen(self, conn: Any) -> None:
        while not self._stop.is_set():
            got = False
            for _note in conn.notifies(timeout=1.0, stop_after=1):
                got = True
            if got:
                self.wake_all()
