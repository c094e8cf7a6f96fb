"""partition: events and sensor readings partitioned by month on PostgreSQL (issue 19, item 6)

Revision ID: 0017_partition_events_readings
Revises: 0016_indicators_values

On PostgreSQL `events` (by `occurred_at`) and `sensor_observations` (by `observed_at`) become tables
partitioned BY RANGE, one partition per UTC calendar month, plus a DEFAULT partition so no insert ever fails.
Every row is copied over unchanged (ids, hashes, timestamps), so the hash chains and signed checkpoints
verify as before. On SQLite nothing changes.

What had to change, because a partitioned table's unique constraints must contain the partition key:
- the primary keys become (id, occurred_at) and (id, observed_at); ids stay unique because they still come
  from the same sequence (`events_id_seq`, `sensor_observations_id_seq`, now owned by the new tables);
- `uq_events_stream_seq` becomes unique on (stream, seq, occurred_at). Two events of one chain with one seq
  are still prevented where they could arise: appends lock the chain's anchor row (event_streams, primary
  key on the stream) and `audit verify` names a repeated seq as tampering;
- `ix_sensor_obs_series` (device_id, attribute, observed_at) already contains the key and stays as it was.
No foreign key references either table (checked: pg_constraint has none), so nothing else moves.

The copy is one INSERT … SELECT per table inside the migration's transaction: on a large log plan the
upgrade in a maintenance window (about the time of a `kotapintar backup`). Months are made contiguously from
the oldest row's month (at most ten years back: older rows, e.g. from a device clock set to 1970, go to
DEFAULT) to three months ahead; the worker keeps making months ahead from then on.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0017_partition_events_readings"
down_revision: str | Sequence[str] | None = "0016_indicators_values"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AHEAD_MONTHS = 3
BACK_MONTHS = 120


@dataclass(frozen=True)
class _Shape:
    """What one table's keys and indexes are, plain and partitioned (names as migrations 0001/0007 made)."""

    table: str
    column: str
    pk: str
    uniques: tuple[tuple[str, tuple[str, ...]], ...]  # constraints
    unique_indexes: tuple[tuple[str, tuple[str, ...]], ...]
    indexes: tuple[tuple[str, tuple[str, ...]], ...]
    fks: tuple[tuple[str, str, str], ...]  # name, column, "table(column)"


SHAPES = (
    _Shape(
        table="events",
        column="occurred_at",
        pk="pk_events",
        uniques=(("uq_events_stream_seq", ("stream", "seq")),),
        unique_indexes=(),
        indexes=(("ix_events_case_id", ("case_id",)), ("ix_events_type", ("type",))),
        fks=(("fk_events_case_id_cases", "case_id", "cases(id)"),),
    ),
    _Shape(
        table="sensor_observations",
        column="observed_at",
        pk="pk_sensor_observations",
        uniques=(),
        unique_indexes=(("ix_sensor_obs_series", ("device_id", "attribute", "observed_at")),),
        indexes=(),
        fks=(),
    ),
)


def _cols(columns: Sequence[str]) -> str:
    return ", ".join(f'"{c}"' for c in columns)


def _with_key(columns: Sequence[str], key: str) -> tuple[str, ...]:
    return tuple(columns) if key in columns else (*columns, key)


def _drop_keys(shape: _Shape, table: str) -> None:
    """Drop the keys and indexes of `table` (about to be copied and dropped) so their names are free."""
    for name, _column, _target in shape.fks:
        op.execute(f'ALTER TABLE "{table}" DROP CONSTRAINT IF EXISTS "{name}"')
    for name, _columns in shape.uniques:
        op.execute(f'ALTER TABLE "{table}" DROP CONSTRAINT IF EXISTS "{name}"')
    op.execute(f'ALTER TABLE "{table}" DROP CONSTRAINT IF EXISTS "{shape.pk}"')
    for name, _columns in (*shape.unique_indexes, *shape.indexes):
        op.execute(f'DROP INDEX IF EXISTS "{name}"')


def _add_keys(shape: _Shape, partitioned: bool) -> None:
    """Keys and indexes of the new table; partitioned ones carry the partition key in every unique one."""
    key = shape.column

    def unique(columns: Sequence[str]) -> str:
        return _cols(_with_key(columns, key) if partitioned else columns)

    op.execute(f'ALTER TABLE "{shape.table}" ADD CONSTRAINT "{shape.pk}" PRIMARY KEY ({unique(["id"])})')
    for name, columns in shape.uniques:
        op.execute(f'ALTER TABLE "{shape.table}" ADD CONSTRAINT "{name}" UNIQUE ({unique(columns)})')
    for name, columns in shape.unique_indexes:
        op.execute(f'CREATE UNIQUE INDEX "{name}" ON "{shape.table}" ({unique(columns)})')
    for name, columns in shape.indexes:
        op.execute(f'CREATE INDEX "{name}" ON "{shape.table}" ({_cols(columns)})')
    for name, column, target in shape.fks:
        op.execute(
            f'ALTER TABLE "{shape.table}" ADD CONSTRAINT "{name}" FOREIGN KEY ("{column}") REFERENCES {target}'
        )


def _rebuild(shape: _Shape, partitioned: bool) -> None:
    """Replace `shape.table` by a copy that is partitioned (or plain again), keeping every row and the id
    sequence."""
    conn = op.get_bind()
    old = f"{shape.table}_{'unpartitioned' if partitioned else 'partitioned'}"
    sequence = conn.execute(sa.text("SELECT pg_get_serial_sequence(:t, 'id')"), {"t": shape.table}).scalar()
    op.execute(f'ALTER TABLE "{shape.table}" RENAME TO "{old}"')
    _drop_keys(shape, old)
    how = f' PARTITION BY RANGE ("{shape.column}")' if partitioned else ""
    op.execute(f'CREATE TABLE "{shape.table}" (LIKE "{old}" INCLUDING DEFAULTS INCLUDING STORAGE){how}')
    if partitioned:
        _make_months(shape, old)
    op.execute(f'INSERT INTO "{shape.table}" SELECT * FROM "{old}"')  # noqa: S608
    _add_keys(shape, partitioned)
    if sequence is not None:
        op.execute(f'ALTER SEQUENCE {sequence} OWNED BY "{shape.table}".id')
    op.execute(f'DROP TABLE "{old}"')
    op.execute(f'ANALYZE "{shape.table}"')


def _months_between(first: datetime, last: datetime) -> list[datetime]:
    months, at = [], first
    while at <= last:
        months.append(at)
        at = at.replace(year=at.year + at.month // 12, month=at.month % 12 + 1)
    return months


def _make_months(shape: _Shape, source: str) -> None:
    """DEFAULT, and one partition per month from the oldest row's month (bounded) to AHEAD_MONTHS ahead."""
    conn = op.get_bind()
    now = datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    index = now.year * 12 + now.month - 1
    floor = now.replace(year=(index - BACK_MONTHS) // 12, month=(index - BACK_MONTHS) % 12 + 1)
    last = now.replace(year=(index + AHEAD_MONTHS) // 12, month=(index + AHEAD_MONTHS) % 12 + 1)
    oldest = conn.execute(
        sa.text(f'SELECT min("{shape.column}") FROM "{source}" WHERE "{shape.column}" >= :floor'),  # noqa: S608
        {"floor": floor},
    ).scalar()
    first = (
        now
        if oldest is None
        else min(now, oldest.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0))
    )
    op.execute(f'CREATE TABLE "{shape.table}_default" PARTITION OF "{shape.table}" DEFAULT')
    for month in _months_between(first, last):
        end = month.replace(year=month.year + month.month // 12, month=month.month % 12 + 1)
        op.execute(
            f'CREATE TABLE "{shape.table}_p{month.year:04d}_{month.month:02d}" PARTITION OF "{shape.table}" '
            f"FOR VALUES FROM ('{month.isoformat()}') TO ('{end.isoformat()}')"
        )


def _is_partitioned(table: str) -> bool:
    kind = op.get_bind().execute(
        sa.text("SELECT relkind FROM pg_class WHERE oid = to_regclass(:t)"), {"t": table}
    )
    return kind.scalar() == "p"


def upgrade() -> None:
    """PostgreSQL: partition events and sensor_observations by month; SQLite: nothing."""
    if op.get_bind().dialect.name != "postgresql":
        return
    for shape in SHAPES:
        if not _is_partitioned(shape.table):
            _rebuild(shape, partitioned=True)


def downgrade() -> None:
    """PostgreSQL: plain tables again with their original keys (every row kept); SQLite: nothing."""
    if op.get_bind().dialect.name != "postgresql":
        return
    for shape in SHAPES:
        if _is_partitioned(shape.table):
            _rebuild(shape, partitioned=False)
