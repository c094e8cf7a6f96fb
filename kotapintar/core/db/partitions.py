"""Monthly partitions of the large tables on PostgreSQL (issue 19): made ahead, and dropped for retention.

Migration 0017 turns `events` and `sensor_observations` into tables partitioned BY RANGE of their timestamp,
one partition per calendar month in UTC (`events_p2026_12` holds December 2026) plus a DEFAULT partition that
catches any row no month partition takes (a device whose clock says 1970, a month nobody made ahead), so an
insert never fails for want of a partition. This module keeps months ahead (the worker calls
`ensure_ahead`) and drops whole months of sensor readings for retention (`drop_before`): dropping a month
is one catalogue change, where DELETE-ing it row by row bloats the table and the WAL.

Event partitions are never dropped: each case's hash chain starts at seq 1 from the genesis hash, and the
signed checkpoints hash every event from id 1, so a missing month would read as tampering to
`kotapintar audit verify` (see docs/operations.md, "Partitions and retention").

On SQLite (one process, small city) nothing is partitioned and every function here does nothing.

DDL cannot take bind parameters: every table, column and partition name put into SQL text here comes from
the constants below or from the catalogue, never from input, and bounds are our own UTC datetimes.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Connection, text

from kotapintar.core.db.database import Database
from kotapintar.core.errors import DomainError, ValidationFailed

log = logging.getLogger(__name__)

# Ingest and the API must not queue for long behind the brief exclusive lock a partition change takes.
LOCK_TIMEOUT = "10s"
_BOUND = re.compile(r"FROM \('([^']+)'\) TO \('([^']+)'\)")
_AGE = re.compile(r"^(\d{1,4})\s*([dwmy])$")


class PartitionError(DomainError):
    """A partition change refused (an events partition, a table that is not partitioned)."""

    code = "partition_refused"
    http_status = 409


@dataclass(frozen=True)
class PartitionedTable:
    """A table partitioned by month of `column`; `droppable` False: retention may not drop its months."""

    name: str
    column: str
    droppable: bool
    why_kept: str = ""


EVENTS = PartitionedTable(
    "events",
    "occurred_at",
    droppable=False,
    why_kept="the event log is the audit trail: every case's hash chain and the signed checkpoints start at "
    "its first event, so dropping a month would make `kotapintar audit verify` report tampering",
)
SENSOR_READINGS = PartitionedTable("sensor_observations", "observed_at", droppable=True)
TABLES = (EVENTS, SENSOR_READINGS)


@dataclass(frozen=True)
class Partition:
    """One partition: a month [start, end) in UTC, or the DEFAULT partition (start and end None)."""

    name: str
    start: datetime | None
    end: datetime | None

    @property
    def is_default(self) -> bool:
        """True for the partition that takes rows no month partition takes."""
        return self.start is None


# ------------------------------------------------------------------ months


def month_start(at: datetime) -> datetime:
    """The first instant (UTC) of the UTC calendar month holding `at`."""
    utc = at.astimezone(UTC) if at.tzinfo is not None else at.replace(tzinfo=UTC)
    return utc.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def add_months(month: datetime, count: int) -> datetime:
    """The first instant of the month `count` months after (or before, negative) the month starting `month`."""
    index = month.year * 12 + month.month - 1 + count
    return month.replace(year=index // 12, month=index % 12 + 1)


def cutoff_of(age: str, now: datetime) -> datetime:
    """The instant before which rows count as older than `age`: `90d`, `12w`, `6m` (calendar months),
    `1y`, or a date `2026-01-01` (midnight UTC). Anything else is a ValidationFailed saying what to write."""
    value = age.strip().lower()
    match = _AGE.match(value)
    if match is not None:
        count, unit = int(match.group(1)), match.group(2)
        if count == 0:
            raise ValidationFailed("the age must be at least 1 (e.g. 90d)")
        if unit in "dw":
            return now - timedelta(days=count * (7 if unit == "w" else 1))
        months = count * (12 if unit == "y" else 1)
        moved = add_months(now.replace(day=1), -months)
        last_day = (add_months(moved, 1) - timedelta(days=1)).day
        return moved.replace(day=min(now.day, last_day))
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise ValidationFailed(
            f"cannot read {age!r} as an age: write e.g. 90d, 12w, 6m, 1y or a date such as 2026-01-01"
        ) from None
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def partition_name(table: str, month: datetime) -> str:
    """The name of one month's partition: `events_p2026_12`."""
    return f"{table}_p{month.year:04d}_{month.month:02d}"


def default_name(table: str) -> str:
    """The name of a table's DEFAULT partition."""
    return f"{table}_default"


def _literal(at: datetime) -> str:
    # A bound in DDL cannot be a bind parameter; the value is ours (a UTC datetime), never user text.
    return f"'{at.astimezone(UTC).isoformat()}'"


# ------------------------------------------------------------------ reading the catalogue


def is_partitioned(conn: Connection, table: str) -> bool:
    """True when `table` is a partitioned table (always False on SQLite)."""
    if conn.dialect.name != "postgresql":
        return False
    kind = conn.execute(
        text("SELECT relkind FROM pg_class WHERE oid = to_regclass(:t)"), {"t": table}
    ).scalar()
    return kind == "p"


def partitions(conn: Connection, table: str) -> list[Partition]:
    """The partitions of `table`, months oldest first and DEFAULT last (empty when not partitioned)."""
    if not is_partitioned(conn, table):
        return []
    rows = conn.execute(
        text(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = to_regclass(:t)"
        ),
        {"t": table},
    ).all()
    found: list[Partition] = []
    for name, bound in rows:
        match = _BOUND.search(str(bound))
        if match is None:  # DEFAULT
            found.append(Partition(str(name), None, None))
            continue
        start, end = (datetime.fromisoformat(v).astimezone(UTC) for v in match.groups())
        found.append(Partition(str(name), start, end))
    return sorted(found, key=lambda p: (p.is_default, p.start or datetime.min.replace(tzinfo=UTC)))


def row_counts(conn: Connection, table: str) -> dict[str, int]:
    """Rows per partition name (exact counts: meant for operators and tests, not for hot paths)."""
    rows = conn.execute(text(f'SELECT tableoid::regclass::text, count(*) FROM "{table}" GROUP BY 1')).all()  # noqa: S608
    return {str(name): int(count) for name, count in rows}


def rows_in_default(conn: Connection, table: PartitionedTable) -> int:
    """How many rows wait in the DEFAULT partition (0 when there is none): rows of a month not made in time,
    or with a timestamp far out (a device clock at 1970). `ensure_ahead` moves the current months' out."""
    name = default_name(table.name)
    if not _exists(conn, name):
        return 0
    return int(conn.execute(text(f'SELECT count(*) FROM "{name}"')).scalar_one())  # noqa: S608


# ------------------------------------------------------------------ changing partitions


def _lock(conn: Connection, table: PartitionedTable) -> None:
    """One partition maintainer per table at a time (two workers making the same month would collide)."""
    conn.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
    conn.execute(
        text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"kotapintar:partitions:{table.name}"}
    )


def _exists(conn: Connection, name: str) -> bool:
    return conn.execute(text("SELECT to_regclass(:n) IS NOT NULL"), {"n": name}).scalar() is True


def ensure_default(conn: Connection, table: PartitionedTable) -> bool:
    """Create the DEFAULT partition when missing; True when created."""
    name = default_name(table.name)
    if _exists(conn, name):
        return False
    conn.execute(text(f'CREATE TABLE "{name}" PARTITION OF "{table.name}" DEFAULT'))
    return True


def create_month(conn: Connection, table: PartitionedTable, month: datetime) -> bool:
    """Create the partition of the month starting `month`; True when created, False when it existed.

    Rows of that month already in the DEFAULT partition (the month was not made in time) are moved into the
    new partition in the same transaction: PostgreSQL refuses to add a partition whose rows sit in DEFAULT.
    Moving changes no column, so the hash chains and event ids are untouched.
    """
    name = partition_name(table.name, month)
    if _exists(conn, name):
        return False
    start, end = month_start(month), add_months(month_start(month), 1)
    bounds = f"FROM ({_literal(start)}) TO ({_literal(end)})"
    default = default_name(table.name)
    # PARTITION OF takes this lock anyway; taken first, no insert can reach DEFAULT between the check (and
    # the move) and the new partition, and no insert holding the table can deadlock with us over DEFAULT.
    conn.execute(text(f'LOCK TABLE "{table.name}" IN ACCESS EXCLUSIVE MODE'))
    waiting = (
        _exists(conn, default)
        and conn.execute(
            text(
                f'SELECT EXISTS (SELECT 1 FROM "{default}" WHERE "{table.column}" >= :s AND "{table.column}" < :e)'  # noqa: S608
            ),
            {"s": start, "e": end},
        ).scalar()
    )
    if not waiting:
        conn.execute(text(f'CREATE TABLE "{name}" PARTITION OF "{table.name}" FOR VALUES {bounds}'))
        return True
    conn.execute(
        text(f'CREATE TABLE "{name}" (LIKE "{table.name}" INCLUDING DEFAULTS INCLUDING CONSTRAINTS)')
    )
    conn.execute(
        text(
            f'WITH moved AS (DELETE FROM "{default}" WHERE "{table.column}" >= :s AND "{table.column}" < :e '  # noqa: S608
            f'RETURNING *) INSERT INTO "{name}" SELECT * FROM moved'
        ),
        {"s": start, "e": end},
    )
    conn.execute(text(f'ALTER TABLE "{table.name}" ATTACH PARTITION "{name}" FOR VALUES {bounds}'))
    return True


def ensure_ahead(conn: Connection, table: PartitionedTable, ahead: int, now: datetime) -> list[str]:
    """Make sure the current month and the `ahead` months after it have partitions (and DEFAULT exists);
    returns the names created. Nothing on SQLite or when the table is not partitioned."""
    if ahead < 0:
        raise PartitionError(f"months ahead must be 0 or more, not {ahead}")
    if not is_partitioned(conn, table.name):
        return []
    _lock(conn, table)
    created = [default_name(table.name)] if ensure_default(conn, table) else []
    first = month_start(now)
    for offset in range(ahead + 1):
        month = add_months(first, offset)
        if create_month(conn, table, month):
            created.append(partition_name(table.name, month))
    return created


def drop_before(
    conn: Connection,
    table: PartitionedTable,
    cutoff: datetime,
    before_drop: Callable[[Partition], None] | None = None,
) -> list[Partition]:
    """Drop every month partition whose rows are all older than `cutoff` (its end ≤ cutoff); returns them.

    `before_drop(partition)` runs first for each, in the same transaction (sensor readings materialise their
    1-minute rollups there). DEFAULT is never dropped; rows in it are left to the DELETE-based retention.
    Refused for a table whose months must be kept (the event log).
    """
    if not table.droppable:
        raise PartitionError(f"{table.name} partitions are never dropped: {table.why_kept}")
    if not is_partitioned(conn, table.name):
        raise PartitionError(f"{table.name} is not partitioned here (SQLite, or migration 0017 not applied)")
    _lock(conn, table)
    going = [p for p in partitions(conn, table.name) if p.end is not None and p.end <= cutoff]
    for partition in going:
        if before_drop is not None:
            before_drop(partition)
        conn.execute(text(f'DROP TABLE "{partition.name}"'))
    return going


# ------------------------------------------------------------------ the worker's job


def ensure_all_ahead(db: Database, ahead: int, now: datetime | None = None) -> dict[str, list[str]]:
    """`ensure_ahead` for every partitioned table, one transaction each; {table: names created}."""
    if not db.is_postgres:
        return {}
    at = now or datetime.now(UTC)
    made: dict[str, list[str]] = {}
    for table in TABLES:
        with db.engine.begin() as conn:
            made[table.name] = ensure_ahead(conn, table, ahead, at)
    return made


def start_partition_thread(db: Database, ahead: int, interval_s: float) -> threading.Event | None:
    """Keep `ahead` months of partitions made, checking every `interval_s` in a daemon thread (PostgreSQL
    only; None when there is nothing to run). Set the returned event to stop."""
    if not db.is_postgres or interval_s <= 0:
        return None
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            try:
                for table, names in ensure_all_ahead(db, ahead).items():
                    if names:
                        log.info("partitions of %s made ahead: %s", table, ", ".join(names))
            except Exception:  # a lock timeout or an outage: the months ahead leave time for the next round
                log.exception("making partitions ahead failed")
            stop.wait(interval_s)

    threading.Thread(target=loop, name="kp-partitions", daemon=True).start()
    return stop
