"""The read replica (issue 19): a PostgreSQL hot standby that serves the read-only public and analytics
traffic, measured before it is trusted.

The replica is read only while it is reachable and at most `max_lag_s` behind the primary; otherwise every
read goes to the primary (slower, never stale). Its state is measured at most every `check_s` seconds per
process, inside whichever request needs it first, so a healthy replica costs one tiny query pair a second.

Lag is measured the way that errs towards the primary: the primary's WAL position is read first, then the
replica's replay position. If the replica has replayed up to that position it is 0 s behind; else it is
behind by the time since the newest commit it replayed (`pg_last_xact_replay_timestamp`), which on an idle
primary may look large for an instant and then sends a second's reads to the primary — the safe side.
Without the primary (unreachable) only the replica's own received-vs-replayed positions are compared.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import Engine, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)

RETRY_UNREACHABLE_S = 5.0  # an unreachable replica is tried again after this long, not on every request
UNREACHABLE = (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError)

_STANDBY_SQL = text(
    "SELECT pg_is_in_recovery() AS standby, pg_last_wal_replay_lsn()::text AS replayed, "
    "pg_last_wal_receive_lsn()::text AS received, "
    "EXTRACT(EPOCH FROM clock_timestamp() - pg_last_xact_replay_timestamp()) AS since_replay"
)


def lsn_value(lsn: str | None) -> int | None:
    """A PostgreSQL WAL position ('16/B374D848') as a comparable integer."""
    if not lsn or "/" not in lsn:
        return None
    high, low = lsn.split("/", 1)
    return (int(high, 16) << 32) + int(low, 16)


@dataclass(frozen=True)
class ReplicaStatus:
    """The replica as last measured: `ok` (read from it), `lagging` or `unreachable` (read the primary)."""

    state: Literal["ok", "lagging", "unreachable"]
    lag_s: float | None  # None while unreachable; inf when behind without any replayed commit to date it
    detail: str
    next_check: float  # time.monotonic() after which it is measured again

    def as_dict(self) -> dict[str, object]:
        """For /readyz: state, lag in seconds (rounded) and the reason."""
        lag = None if self.lag_s is None or math.isinf(self.lag_s) else round(self.lag_s, 3)
        return {"state": self.state, "lag_s": lag, "detail": self.detail}


class Replica:
    """One replica engine and its measured state, shared by every request of a process."""

    def __init__(self, engine: Engine, primary: Engine, *, max_lag_s: float, check_s: float) -> None:
        self.engine, self.primary = engine, primary
        self.max_lag_s, self.check_s = max_lag_s, check_s
        self._read = sessionmaker(
            bind=engine.execution_options(kp_readonly=True), expire_on_commit=False, autoflush=False
        )
        self._status: ReplicaStatus | None = None
        self._lock = threading.Lock()
        self.reads = {"replica": 0, "primary": 0}  # read sessions opened by replica-eligible requests

    # ------------------------------------------------------------------ state

    def status(self) -> ReplicaStatus:
        """The replica's state, measured again when the last measure is older than `check_s`.

        One thread measures; the others meanwhile use the last measure (the first measure is waited for).
        """
        current = self._status
        if current is not None and time.monotonic() < current.next_check:
            return current
        if not self._lock.acquire(blocking=current is None):
            assert current is not None
            return current
        try:
            latest = self._status
            if latest is None or latest is current:  # nobody measured while this thread waited
                latest = self._status = self._measure()
            return latest
        finally:
            self._lock.release()

    def refresh(self) -> ReplicaStatus:
        """Measure now (tests, /readyz)."""
        with self._lock:
            self._status = self._measure()
            return self._status

    def usable(self) -> bool:
        """True when reads may go to the replica now."""
        return self.status().state == "ok"

    def _measure(self) -> ReplicaStatus:
        primary_lsn: int | None = None
        if self.primary.dialect.name == "postgresql":
            try:
                with self.primary.connect() as conn:
                    primary_lsn = lsn_value(conn.scalar(text("SELECT pg_current_wal_lsn()::text")))
            except Exception as exc:  # the replica may still serve the public pages alone
                log.info("read replica: primary position unknown (%s)", type(exc).__name__)
        try:
            with self.engine.connect() as conn:
                if self.engine.dialect.name != "postgresql":
                    conn.execute(text("SELECT 1"))
                    return self._made("ok", 0.0, "not PostgreSQL: lag not measured")
                row = conn.execute(_STANDBY_SQL).one()
        except Exception as exc:
            log.warning("read replica unreachable, reading the primary: %s", exc)
            return ReplicaStatus(
                "unreachable", None, type(exc).__name__, time.monotonic() + RETRY_UNREACHABLE_S
            )
        if not row.standby:
            return self._made("ok", 0.0, "not in recovery (a primary or a promoted standby)")
        replayed = lsn_value(row.replayed)
        if replayed is None:
            return self._made("lagging", math.inf, "nothing replayed yet")
        behind_of = primary_lsn if primary_lsn is not None else lsn_value(row.received)
        if behind_of is None or replayed >= behind_of:
            return self._made("ok", 0.0, "caught up")
        lag = math.inf if row.since_replay is None else max(0.0, float(row.since_replay))
        state: Literal["ok", "lagging"] = "ok" if lag <= self.max_lag_s else "lagging"
        return self._made(state, lag, f"{behind_of - replayed} bytes of WAL behind")

    def _made(self, state: Literal["ok", "lagging"], lag: float, detail: str) -> ReplicaStatus:
        return ReplicaStatus(state, lag, detail, time.monotonic() + self.check_s)

    # ------------------------------------------------------------------ sessions

    def open_session(self) -> Session | None:
        """A read session on the replica, or None when reads must go to the primary (counted either way).

        The connection is taken at once: a replica that went away since its last measure is found here and
        marked unreachable, and the caller falls back to the primary instead of answering 503.
        """
        if not self.usable():
            self.reads["primary"] += 1
            return None
        session = self._read()
        try:
            session.connection()
        except UNREACHABLE as exc:
            session.close()
            log.warning("read replica connection failed, reading the primary: %s", exc)
            self._status = ReplicaStatus(
                "unreachable", None, type(exc).__name__, time.monotonic() + RETRY_UNREACHABLE_S
            )
            self.reads["primary"] += 1
            return None
        self.reads["replica"] += 1
        return session
