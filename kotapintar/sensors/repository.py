"""All SQL about sensor devices, observations, rollups, rejections, rule states, alarms and CAP warnings."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, func, insert, select, text, update
from sqlalchemy.orm import Session

from kotapintar.cases.models import Case
from kotapintar.catalog.models import Region
from kotapintar.core.db.types import UTCDateTime
from kotapintar.sensors.models import (
    SensorAlarm,
    SensorDevice,
    SensorObservation,
    SensorRejection,
    SensorRollup,
    SensorRuleState,
    SensorWarning,
)


@dataclass(frozen=True)
class StoredReading:
    """One stored observation as the services read it back."""

    device_id: str
    attribute: str
    observed_at: datetime
    value: float
    flags: int


@dataclass(frozen=True)
class RollupRow:
    """One rollup bucket as stored."""

    device_id: str
    attribute: str
    bucket_start: datetime
    count: int
    min: float
    max: float
    mean: float
    total: float


_INSERT_SQLITE = (
    "INSERT INTO sensor_observations (device_id, attribute, observed_at, received_at, value, flags) "
    "VALUES (?, ?, ?, ?, ?, ?)"
)
_COPY_PG = (
    "COPY sensor_observations (device_id, attribute, observed_at, received_at, value, flags) "
    "FROM STDIN (FORMAT BINARY)"
)
# Binary COPY needs the column types; it is about twice as fast as text COPY for these rows.
_OBSERVATION_TYPES = ["varchar", "varchar", "timestamptz", "timestamptz", "float8", "int4"]
_ROLLUP_TYPES = [
    "varchar",
    "varchar",
    "varchar",
    "timestamptz",
    "int4",
    "float8",
    "float8",
    "float8",
    "float8",
]
_MERGE_SQLITE = (
    "INSERT INTO sensor_rollups (device_id, attribute, resolution, bucket_start, count, min, max, total, mean) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (device_id, attribute, resolution, bucket_start) DO UPDATE SET "
    "count = count + excluded.count, min = min(min, excluded.min), max = max(max, excluded.max), "
    "total = total + excluded.total, mean = (total + excluded.total) / (count + excluded.count)"
)
_COPY_STAGE_PG = (
    "COPY sensor_rollups_stage (device_id, attribute, resolution, bucket_start, count, min, max, total, mean) "
    "FROM STDIN (FORMAT BINARY)"
)
_STAGE_PG = (
    "CREATE TEMPORARY TABLE IF NOT EXISTS sensor_rollups_stage "
    "(LIKE sensor_rollups INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
)
_MERGE_PG_AND_CLEAR = (  # merge the staged buckets, then empty the stage: one round trip
    "INSERT INTO sensor_rollups (device_id, attribute, resolution, bucket_start, count, min, max, total, mean) "
    "SELECT device_id, attribute, resolution, bucket_start, count, min, max, total, mean "
    "FROM sensor_rollups_stage "
    "ON CONFLICT (device_id, attribute, resolution, bucket_start) DO UPDATE SET "
    "count = sensor_rollups.count + excluded.count, "
    "min = least(sensor_rollups.min, excluded.min), max = greatest(sensor_rollups.max, excluded.max), "
    "total = sensor_rollups.total + excluded.total, "
    "mean = (sensor_rollups.total + excluded.total) / (sensor_rollups.count + excluded.count)"
    "; DELETE FROM sensor_rollups_stage"
)


_HISTORY_PG = (
    "SELECT device_id, attribute, observed_at, value, flags FROM sensor_observations "
    "WHERE device_id = ANY(%s) AND attribute = ANY(%s) AND observed_at >= %s AND observed_at <= %s "
    "ORDER BY observed_at"
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NAIVE_EPOCH = _EPOCH.replace(tzinfo=None)  # SQLite keeps naive UTC text
_US = timedelta(microseconds=1)


class _SqliteTimes:
    """Aware datetimes as SQLAlchemy's SQLite DateTime stores them (naive UTC, microseconds), memoised.

    Ingest writes every reading's time twice (observation, rollups) and devices share report times, so a
    batch formats each distinct time once.
    """

    def __init__(self) -> None:
        self._seen: dict[datetime, str] = {}

    def __call__(self, moment: datetime) -> str:
        text = self._seen.get(moment)
        if text is None:
            naive = moment.astimezone(UTC).replace(tzinfo=None)
            text = self._seen[moment] = naive.isoformat(" ", "microseconds")
        return text


class SensorRepository:
    """All SQL about sensors; one instance per unit of work (session)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.dialect = session.get_bind().dialect.name

    def _lite_executemany(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        """One sqlite3 executemany in this transaction (ingest's hot path: no per-row SQLAlchemy processing)."""
        cursor = self.session.connection().connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.executemany(sql, rows)
        finally:
            cursor.close()

    # ------------------------------------------------------------------ devices
    def devices(self, *, active_only: bool = True) -> Sequence[SensorDevice]:
        """Registered devices, by id."""
        stmt = select(SensorDevice)
        if active_only:
            stmt = stmt.where(SensorDevice.active.is_(True))
        return self.session.scalars(stmt.order_by(SensorDevice.id)).all()

    def device(self, device_id: str) -> SensorDevice | None:
        """One device by id."""
        return self.session.get(SensorDevice, device_id)

    def devices_version(self) -> tuple[int, datetime | None]:
        """(number of devices, latest change): moves whenever a device is registered, changed or re-keyed,
        so a process holding the registry in memory can see that another process changed it."""
        count, latest = self.session.execute(
            select(func.count(SensorDevice.id), func.max(SensorDevice.updated_at))
        ).one()
        return int(count), latest

    def upsert_device(self, values: Mapping[str, Any]) -> bool:
        """Create or update a device row; True when it was new."""
        row = self.session.get(SensorDevice, values["id"])
        if row is None:
            self.session.add(SensorDevice(**values))
            self.session.flush()
            return True
        for key, value in values.items():
            if key not in ("id", "created_at", "last_seen"):
                setattr(row, key, value)
        return False

    def touch_last_seen(self, seen: Mapping[str, datetime]) -> None:
        """Move each device's last_seen forward (never back: late readings do not make it older)."""
        if not seen:
            return
        moment = bindparam("moment", type_=UTCDateTime())
        table = cast(Table, SensorDevice.__table__)
        stmt = (
            update(table)
            .where(table.c.id == bindparam("device"))
            .where(table.c.last_seen.is_(None) | (table.c.last_seen < moment))
            .values(last_seen=moment)
        )
        self.session.execute(stmt, [{"device": d, "moment": m} for d, m in sorted(seen.items())])

    # ------------------------------------------------------------------ observations
    # Every history query names the attributes as well as the devices: the series index is (device_id,
    # attribute, observed_at), so with devices alone the time range cannot narrow the index scan and each
    # query reads the devices' whole stored history (measured: 45 ms for 879 rows out of 400,000, growing
    # with every reading kept). With both, it is one short range per series.

    def history(
        self, device_ids: Iterable[str], since: datetime, until: datetime, *, attributes: Iterable[str]
    ) -> list[StoredReading]:
        """Stored readings of these devices and attributes with since <= observed_at <= until, in time order."""
        return [
            StoredReading(*row) for row in self.history_rows(device_ids, since, until, attributes=attributes)
        ]

    def history_rows(
        self, device_ids: Iterable[str], since: datetime, until: datetime, *, attributes: Iterable[str]
    ) -> list[tuple[str, str, datetime, float, int]]:
        """`history` as plain (device_id, attribute, observed_at, value, flags) tuples."""
        ids, names = sorted(set(device_ids)), sorted(set(attributes))
        if not ids or not names:
            return []
        rows = self.session.execute(
            select(
                SensorObservation.device_id,
                SensorObservation.attribute,
                SensorObservation.observed_at,
                SensorObservation.value,
                SensorObservation.flags,
            )
            .where(SensorObservation.device_id.in_(ids), SensorObservation.attribute.in_(names))
            .where(SensorObservation.observed_at >= since, SensorObservation.observed_at <= until)
            .order_by(SensorObservation.observed_at)
        ).all()
        return [tuple(row) for row in rows]  # type: ignore[misc]

    def history_micros(
        self, device_ids: Iterable[str], since: datetime, until: datetime, *, attributes: Iterable[str]
    ) -> list[tuple[str, str, int, float, int]]:
        """`history_rows` with times as whole microseconds since the epoch, in time order: ingest's hot path.

        Read through the driver: SQLAlchemy's SQLite DateTime parsing costs ~5 µs a row, and every batch
        reads the last hours of each series it touches.
        """
        ids, names = sorted(set(device_ids)), sorted(set(attributes))
        if not ids or not names:
            return []
        dbapi: Any = self.session.connection().connection.dbapi_connection
        if self.dialect == "postgresql":
            with dbapi.cursor() as cursor:
                rows = cursor.execute(_HISTORY_PG, (ids, names, since, until)).fetchall()
            return [(d, a, (t - _EPOCH) // _US, v, f) for d, a, t, v, f in rows]
        if self.dialect != "sqlite":
            return [
                (d, a, (t - _EPOCH) // _US, v, f)
                for d, a, t, v, f in self.history_rows(ids, since, until, attributes=names)
            ]
        lite = _SqliteTimes()
        sql = (  # only "?" placeholders are put into the text; the values go as parameters
            "SELECT device_id, attribute, observed_at, value, flags FROM sensor_observations "  # noqa: S608
            f"WHERE device_id IN ({', '.join('?' * len(ids))}) AND attribute IN ({', '.join('?' * len(names))}) "
            "AND observed_at >= ? AND observed_at <= ? ORDER BY observed_at"
        )
        cursor = dbapi.cursor()
        try:
            rows = cursor.execute(sql, (*ids, *names, lite(since), lite(until))).fetchall()
        finally:
            cursor.close()
        parse = datetime.fromisoformat
        return [(d, a, (parse(t) - _NAIVE_EPOCH) // _US, v, f) for d, a, t, v, f in rows]

    def insert_observations(self, rows: Sequence[tuple[str, str, datetime, datetime, float, int]]) -> None:
        """Store readings as (device_id, attribute, observed_at, received_at, value, flags) tuples.

        The hot path of ingest: one driver-level executemany on SQLite and COPY on PostgreSQL, bypassing
        per-row ORM type processing (times are written exactly as UTCDateTime writes them).
        """
        if not rows:
            return
        dbapi: Any = self.session.connection().connection.dbapi_connection
        if self.dialect == "sqlite":
            lite = _SqliteTimes()
            self._lite_executemany(
                _INSERT_SQLITE, [(d, a, lite(o), lite(r), v, f) for d, a, o, r, v, f in rows]
            )
        elif self.dialect == "postgresql":
            with dbapi.cursor() as cursor, cursor.copy(_COPY_PG) as copy:
                copy.set_types(_OBSERVATION_TYPES)
                for row in rows:
                    copy.write_row(row)
        else:
            keys = ("device_id", "attribute", "observed_at", "received_at", "value", "flags")
            self.session.execute(insert(SensorObservation), [dict(zip(keys, r, strict=True)) for r in rows])

    def series(
        self, device_id: str, attribute: str, start: datetime, end: datetime, *, limit: int = 10000
    ) -> list[StoredReading]:
        """Raw readings of one device attribute in [start, end), oldest first."""
        rows = self.session.execute(
            select(
                SensorObservation.device_id,
                SensorObservation.attribute,
                SensorObservation.observed_at,
                SensorObservation.value,
                SensorObservation.flags,
            )
            .where(SensorObservation.device_id == device_id, SensorObservation.attribute == attribute)
            .where(SensorObservation.observed_at >= start, SensorObservation.observed_at < end)
            .order_by(SensorObservation.observed_at)
            .limit(limit)
        ).all()
        return [StoredReading(*row) for row in rows]

    def latest(self, device_id: str, attribute: str, *, excluding_mask: int = 0) -> StoredReading | None:
        """The newest reading of one device attribute (one index probe), skipping readings with any flag of
        `excluding_mask` (e.g. clock_skew: a reading from the future is not the latest value)."""
        stmt = select(
            SensorObservation.device_id,
            SensorObservation.attribute,
            SensorObservation.observed_at,
            SensorObservation.value,
            SensorObservation.flags,
        ).where(SensorObservation.device_id == device_id, SensorObservation.attribute == attribute)
        if excluding_mask:
            stmt = stmt.where(SensorObservation.flags.op("&")(excluding_mask) == 0)
        row = self.session.execute(stmt.order_by(SensorObservation.observed_at.desc()).limit(1)).first()
        return StoredReading(*row) if row is not None else None

    def count_observations(self, device_id: str | None = None) -> int:
        """How many readings are stored (of one device)."""
        stmt = select(func.count()).select_from(SensorObservation)
        if device_id is not None:
            stmt = stmt.where(SensorObservation.device_id == device_id)
        return int(self.session.execute(stmt).scalar_one())

    def delete_before(self, device_id: str, attribute: str, cutoff: datetime) -> int:
        """Delete one series' raw readings older than cutoff (retention); returns how many."""
        result = self.session.execute(
            delete(SensorObservation)
            .where(SensorObservation.device_id == device_id, SensorObservation.attribute == attribute)
            .where(SensorObservation.observed_at < cutoff)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    def series_keys(self) -> list[tuple[str, str]]:
        """Every (device, attribute) with stored readings."""
        rows = self.session.execute(
            select(SensorObservation.device_id, SensorObservation.attribute).distinct()
        ).all()
        return [(r[0], r[1]) for r in rows]

    # ------------------------------------------------------------------ rollups
    def merge_rollups(
        self, rows: Sequence[tuple[str, str, str, datetime, int, float, float, float, float]]
    ) -> None:
        """Add partial buckets to the stored ones (count and total add up, min/max widen, mean recomputed).

        Rows are (device_id, attribute, resolution, bucket_start, count, min, max, total, mean), at most one
        per bucket. SQLite: one executemany of an UPSERT; PostgreSQL: COPY into a temporary staging table and
        one INSERT … ON CONFLICT from it (one round trip instead of one statement per bucket).
        """
        if not rows:
            return
        dbapi: Any = self.session.connection().connection.dbapi_connection
        if self.dialect == "sqlite":
            lite = _SqliteTimes()
            self._lite_executemany(
                _MERGE_SQLITE, [(d, a, res, lite(b), *rest) for d, a, res, b, *rest in rows]
            )
            return
        if self.dialect != "postgresql":
            self._merge_rollups_portable(rows)
            return
        info = self.session.connection().connection.info
        with dbapi.cursor() as cursor:
            if not info.get("sensor_rollups_stage"):  # once per server connection (temporary table)
                cursor.execute(_STAGE_PG)
                info["sensor_rollups_stage"] = True
            with cursor.copy(_COPY_STAGE_PG) as copy:
                copy.set_types(_ROLLUP_TYPES)
                for row in rows:
                    copy.write_row(row)
            # One round trip for both (no parameters: the simple query protocol takes several statements).
            cursor.execute(_MERGE_PG_AND_CLEAR)

    def _merge_rollups_portable(
        self, rows: Sequence[tuple[str, str, str, datetime, int, float, float, float, float]]
    ) -> None:
        """The same merge through the ORM, row by row, for a database without the two fast paths."""
        for device_id, attribute, resolution, start, count, low, high, total, _mean in rows:
            row = self.session.get(SensorRollup, (device_id, attribute, resolution, start))
            if row is None:
                self.session.add(
                    SensorRollup(
                        device_id=device_id,
                        attribute=attribute,
                        resolution=resolution,
                        bucket_start=start,
                        count=count,
                        min=low,
                        max=high,
                        total=total,
                        mean=total / count,
                    )
                )
            else:
                row.count += count
                row.min, row.max = min(row.min, low), max(row.max, high)
                row.total += total
                row.mean = row.total / row.count
        self.session.flush()

    def rollups(
        self, device_id: str, attribute: str, resolution: str, start: datetime, end: datetime
    ) -> list[RollupRow]:
        """Buckets of one device attribute at a resolution in [start, end), oldest first."""
        rows = self.session.execute(
            select(
                SensorRollup.device_id,
                SensorRollup.attribute,
                SensorRollup.bucket_start,
                SensorRollup.count,
                SensorRollup.min,
                SensorRollup.max,
                SensorRollup.mean,
                SensorRollup.total,
            )
            .where(
                SensorRollup.device_id == device_id,
                SensorRollup.attribute == attribute,
                SensorRollup.resolution == resolution,
            )
            .where(SensorRollup.bucket_start >= start, SensorRollup.bucket_start < end)
            .order_by(SensorRollup.bucket_start)
        ).all()
        return [RollupRow(*row) for row in rows]

    def clean_micros(
        self, device_id: str, attribute: str, start: datetime | None, end: datetime, *, excluding_mask: int
    ) -> list[tuple[str, str, int, float]]:
        """Readings of one series in [start, end) with none of `excluding_mask`'s flags, as (device_id,
        attribute, microseconds since the epoch, value), oldest first: the input of 1-minute rollups."""
        table = cast(Table, SensorObservation.__table__)
        stmt = select(table.c.observed_at, table.c.value).where(
            table.c.device_id == device_id,
            table.c.attribute == attribute,
            table.c.observed_at < end,
            table.c.flags.op("&")(excluding_mask) == 0,
        )
        if start is not None:
            stmt = stmt.where(table.c.observed_at >= start)
        rows = self.session.execute(stmt.order_by(table.c.observed_at)).all()
        return [(device_id, attribute, (t - _EPOCH) // _US, v) for t, v in rows]

    def delete_rollups_before(self, resolution: str, cutoff: datetime) -> int:
        """Delete buckets of one resolution older than cutoff (retention)."""
        result = self.session.execute(
            delete(SensorRollup).where(
                SensorRollup.resolution == resolution, SensorRollup.bucket_start < cutoff
            )
        )
        return int(getattr(result, "rowcount", 0) or 0)

    # ------------------------------------------------------------------ rejections
    def count_rejections(
        self, counts: Mapping[tuple[str, str], int], at: datetime, message: str | None
    ) -> None:
        """Add rejection counts per (claimed device, reason)."""
        for (device_id, reason), n in counts.items():
            row = self.session.get(SensorRejection, (device_id, reason))
            if row is None:
                self.session.add(
                    SensorRejection(
                        device_id=device_id,
                        reason=reason,
                        count=n,
                        last_at=at,
                        last_message=(message or "")[:300],
                    )
                )
            else:
                row.count += n
                row.last_at = at
                row.last_message = (message or "")[:300]
        self.session.flush()

    def note_rejection_messages(self, messages: Mapping[tuple[str, str], str]) -> None:
        """Keep, per (claimed device, reason), the message of its own last rejection (bounded to 300
        characters), so the counter says why without storing the refused data itself."""
        for (device_id, reason), message in messages.items():
            row = self.session.get(SensorRejection, (device_id, reason))
            if row is not None:
                row.last_message = message[:300]
        self.session.flush()

    def rejections(self) -> Sequence[SensorRejection]:
        """All rejection counters."""
        return self.session.scalars(
            select(SensorRejection).order_by(SensorRejection.device_id, SensorRejection.reason)
        ).all()

    # ------------------------------------------------------------------ rule states
    def rule_states(self) -> dict[str, dict[str, Any]]:
        """Every stored rule state by rule id."""
        rows = self.session.execute(select(SensorRuleState.rule_id, SensorRuleState.state)).all()
        return {r[0]: dict(r[1]) for r in rows}

    def lock_rule_states(self) -> None:
        """Serialise rule evaluation between processes (PostgreSQL advisory lock; SQLite has one writer)."""
        if self.dialect == "postgresql":
            self.session.execute(text("SELECT pg_advisory_xact_lock(80808)"))

    def save_rule_states(self, states: Mapping[str, Mapping[str, Any]], at: datetime) -> None:
        """Store the new state of each rule (one UPDATE executemany, INSERT for rules seen the first time)."""
        if not states:
            return
        table = cast(Table, SensorRuleState.__table__)
        known = set(self.session.execute(select(table.c.rule_id)).scalars())
        changed = [{"rid": k, "state": dict(v), "at": at} for k, v in states.items() if k in known]
        new = [
            {"rule_id": k, "state": dict(v), "updated_at": at} for k, v in states.items() if k not in known
        ]
        if changed:
            stmt = (
                update(table)
                .where(table.c.rule_id == bindparam("rid"))
                .values(state=bindparam("state"), updated_at=bindparam("at"))
            )
            self.session.execute(stmt, changed)
        if new:
            self.session.execute(insert(table), new)

    # ------------------------------------------------------------------ alarms and warnings
    def open_alarm(self, dedupe_key: str) -> SensorAlarm | None:
        """The open alarm of a dedupe key (rule group + area), if any."""
        return self.session.scalars(
            select(SensorAlarm).where(SensorAlarm.dedupe_key == dedupe_key, SensorAlarm.closed_at.is_(None))
        ).first()

    def open_alarms_with_case_status(self) -> list[tuple[SensorAlarm, str | None]]:
        """Every open alarm with the status of its case (None while the case is not open yet), one query."""
        rows = self.session.execute(
            select(SensorAlarm, Case.status)
            .outerjoin(Case, Case.id == SensorAlarm.case_id)
            .where(SensorAlarm.closed_at.is_(None))
            .order_by(SensorAlarm.id)
        ).all()
        return [(row[0], row[1]) for row in rows]

    def alarm(self, alarm_id: int) -> SensorAlarm | None:
        """One alarm by id."""
        return self.session.get(SensorAlarm, alarm_id)

    def pending_alarms(self, *, limit: int = 100) -> Sequence[SensorAlarm]:
        """Alarms whose case is still to be opened, oldest first (locked; other openers skip them)."""
        return self.session.scalars(
            select(SensorAlarm)
            .where(SensorAlarm.pending_case.is_not(None), SensorAlarm.case_id.is_(None))
            .order_by(SensorAlarm.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()

    def has_pending_alarms(self) -> bool:
        """True when some alarm waits for its case (a cheap check before opening cases)."""
        stmt = select(SensorAlarm.id).where(
            SensorAlarm.pending_case.is_not(None), SensorAlarm.case_id.is_(None)
        )
        return self.session.execute(stmt.limit(1)).first() is not None

    def alarms_for_case(self, case_id: int) -> Sequence[SensorAlarm]:
        """Alarms linked to a case."""
        return self.session.scalars(select(SensorAlarm).where(SensorAlarm.case_id == case_id)).all()

    def add_alarm(self, alarm: SensorAlarm) -> SensorAlarm:
        """Store a new alarm and give it an id."""
        self.session.add(alarm)
        self.session.flush()
        return alarm

    def add_warning(self, warning: SensorWarning) -> SensorWarning:
        """Store a CAP message; earlier messages of the same alarm stop being current."""
        self.session.execute(
            update(SensorWarning).where(SensorWarning.alarm_id == warning.alarm_id).values(current=False)
        )
        self.session.add(warning)
        self.session.flush()
        return warning

    def current_warning(self, alarm_id: int) -> SensorWarning | None:
        """The newest CAP message of an alarm."""
        return self.session.scalars(
            select(SensorWarning)
            .where(SensorWarning.alarm_id == alarm_id)
            .order_by(SensorWarning.sent.desc(), SensorWarning.id.desc())
        ).first()

    def warning_by_identifier(self, identifier: str) -> SensorWarning | None:
        """One CAP message by its identifier, current or superseded (a `references` entry must resolve)."""
        return self.session.scalars(
            select(SensorWarning).where(SensorWarning.identifier == identifier).order_by(SensorWarning.id)
        ).first()

    def feed_warnings(self, cancelled_since: datetime) -> Sequence[SensorWarning]:
        """Current messages of open alarms, and Cancel messages sent since `cancelled_since`."""
        return self.session.scalars(
            select(SensorWarning)
            .where(SensorWarning.current.is_(True))
            .where((SensorWarning.msg_type != "Cancel") | (SensorWarning.sent >= cancelled_since))
            .order_by(SensorWarning.sent.desc(), SensorWarning.id.desc())
        ).all()

    def region(self, code: str) -> Region | None:
        """A region (name and boundary for the CAP area)."""
        return self.session.get(Region, code)

    def timescale_available(self) -> bool:
        """True on PostgreSQL with the TimescaleDB extension installed (optional; plain tables otherwise)."""
        if self.dialect != "postgresql":
            return False
        found = self.session.execute(text("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'")).first()
        return found is not None
