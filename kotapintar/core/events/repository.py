"""The event log: appending to hash chains, tailing the outbox, reading timelines.

Appends are plain Core statements (no ORM unit-of-work bookkeeping): intake appends two events per report
and the log is the hottest table. Each chain's anchor is read once (locked) per transaction, kept in
memory while events are added, and written once just before commit by `write_anchors()`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, insert, select, text, update
from sqlalchemy.orm import Session

from kotapintar.core.events.models import Event, EventStream
from kotapintar.core.events.types import GENESIS_HASH, EventContent, chain_hash

# Statements built once: bound parameters keep them in SQLAlchemy's compiled cache (the hot path).
_EVENTS: Table = Event.__table__  # type: ignore[assignment]
_INSERT_EVENT = insert(_EVENTS).returning(_EVENTS.c.id)
_INSERT_EVENTS_ORDERED = insert(_EVENTS).returning(_EVENTS.c.id, sort_by_parameter_order=True)
_INSERT_EVENTS = insert(_EVENTS)
_STREAMS: Table = EventStream.__table__  # type: ignore[assignment]
_INSERT_ANCHOR = insert(_STREAMS)
_LAST_HANDED_OUT = text("SELECT pg_sequence_last_value(pg_get_serial_sequence('events', 'id')::regclass)")
_EVENT_WRITERS = text(
    "SELECT virtualtransaction FROM pg_locks WHERE locktype = 'relation' "
    "AND relation = 'events'::regclass AND pid <> pg_backend_pid() "
    "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)
_UPDATE_ANCHOR = (
    update(_STREAMS)
    .where(_STREAMS.c.stream == bindparam("s"))
    .values(
        last_seq=bindparam("last_seq"), last_hash=bindparam("last_hash"), updated_at=bindparam("updated_at")
    )
)


def case_stream(case_id: int) -> str:
    """The stream name of a case's log."""
    return f"case:{case_id}"


def _chained_row(
    stream: str,
    case_id: int | None,
    seq: int,
    type_: str,
    actor: str,
    at: datetime,
    payload: dict[str, Any],
    prev_hash: str,
) -> dict[str, Any]:
    """The row of one event linked after `prev_hash`: the one place the chain's hash input is built."""
    content = EventContent(
        case_id=case_id if case_id is not None else 0,
        seq=seq,
        type=str(type_),
        actor=actor,
        occurred_at=at,
        payload=payload,
    )
    return {
        "stream": stream,
        "case_id": case_id,
        "seq": seq,
        "type": content.type,
        "actor": actor,
        "occurred_at": at,
        "payload": content.payload,
        "prev_hash": prev_hash,
        "hash": chain_hash(prev_hash, content),
    }


@dataclass
class _Anchor:
    last_seq: int
    last_hash: str
    exists: bool
    updated_at: datetime | None = None
    dirty: bool = False


@dataclass(frozen=True)
class AppendedEvent:
    """An event just appended (the same fields a stored Event row has)."""

    id: int
    stream: str
    case_id: int | None
    seq: int
    type: str
    actor: str
    occurred_at: datetime
    payload: dict[str, Any] = field(default_factory=dict)
    prev_hash: str = ""
    hash: str = ""


class EventRepository:
    """All SQL about events and their chains."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._anchors: dict[str, _Anchor] = {}
        # The cases whose logs this transaction appended to (the analytics rollup refreshes their rows).
        self.case_ids: set[int] = set()

    def _anchor(self, stream: str, new_stream: bool) -> _Anchor:
        anchor = self._anchors.get(stream)
        if anchor is not None:
            return anchor
        row = None
        if not new_stream:
            row = (
                self.session.connection()
                .execute(
                    select(EventStream.last_seq, EventStream.last_hash)
                    .where(EventStream.stream == stream)
                    .with_for_update()
                )
                .first()
            )
        anchor = (
            _Anchor(last_seq=row.last_seq, last_hash=row.last_hash, exists=True)
            if row is not None
            else _Anchor(last_seq=0, last_hash=GENESIS_HASH, exists=False)
        )
        self._anchors[stream] = anchor
        return anchor

    def append(
        self,
        *,
        stream: str,
        case_id: int | None,
        type: str,
        actor: str,
        at: datetime,
        payload: dict[str, Any] | None = None,
        new_stream: bool = False,
    ) -> AppendedEvent:
        """Append one event to `stream`, chained to the previous one, in the caller's transaction.

        `new_stream=True` (a case created in this transaction) skips looking up an anchor that cannot exist.
        """
        anchor = self._anchor(stream, new_stream)
        values = _chained_row(
            stream, case_id, anchor.last_seq + 1, type, actor, at, payload or {}, anchor.last_hash
        )
        event_id = self.session.connection().execute(_INSERT_EVENT, values).scalar_one()
        if case_id is not None:
            self.case_ids.add(case_id)
        anchor.last_seq, anchor.last_hash = values["seq"], values["hash"]
        anchor.updated_at, anchor.dirty = at, True
        return AppendedEvent(id=int(event_id), **values)

    def append_many(
        self,
        *,
        stream: str,
        case_id: int | None,
        items: list[tuple[str, str, datetime, dict[str, Any]]],
        new_stream: bool = False,
    ) -> list[AppendedEvent]:
        """Append several (type, actor, at, payload) events to one stream in a single INSERT statement."""
        anchor = self._anchor(stream, new_stream)
        rows: list[dict[str, Any]] = []
        seq, prev = anchor.last_seq, anchor.last_hash
        for type_, actor, at, payload in items:
            seq += 1
            rows.append(_chained_row(stream, case_id, seq, type_, actor, at, payload, prev))
            prev = rows[-1]["hash"]
        result = self.session.connection().execute(_INSERT_EVENTS_ORDERED, rows)
        if case_id is not None:
            self.case_ids.add(case_id)
        ids = [int(r) for r in result.scalars()]
        anchor.last_seq, anchor.last_hash, anchor.dirty = seq, prev, True
        anchor.updated_at = items[-1][2]
        return [AppendedEvent(id=i, **row) for i, row in zip(ids, rows, strict=True)]

    def start_stream(self, stream: str) -> None:
        """Declare a stream created in this transaction (a new case): its chain starts at genesis, unread."""
        self._anchor(stream, new_stream=True)

    def preload_anchors(self, streams: Sequence[str]) -> None:
        """Read (and lock) the anchors of many streams in one statement, in stream order.

        A batch that appends to many chains (the timer scheduler) pays one round trip instead of one per
        chain; locking in one order keeps two such batches from dead-locking each other.
        """
        wanted = sorted({s for s in streams if s not in self._anchors})
        for start in range(0, len(wanted), 1000):
            chunk = wanted[start : start + 1000]
            rows = (
                self.session.connection()
                .execute(
                    select(EventStream.stream, EventStream.last_seq, EventStream.last_hash)
                    .where(EventStream.stream.in_(chunk))
                    .order_by(EventStream.stream)
                    .with_for_update()
                )
                .all()
            )
            found = {r.stream: r for r in rows}
            for stream in chunk:
                row = found.get(stream)
                self._anchors[stream] = (
                    _Anchor(last_seq=row.last_seq, last_hash=row.last_hash, exists=True)
                    if row is not None
                    else _Anchor(last_seq=0, last_hash=GENESIS_HASH, exists=False)
                )

    def append_batch(
        self, items: Sequence[tuple[str, int | None, str, str, datetime, dict[str, Any]]]
    ) -> int:
        """Append (stream, case_id, type, actor, at, payload) events, in order, to any number of streams with
        one executemany INSERT; each stream's events are chained after its anchor. Returns the count.

        For writers that do not need the new ids (the SOP runtime): no RETURNING, so the driver batches rows.
        """
        if not items:
            return 0
        self.preload_anchors([item[0] for item in items])
        rows: list[dict[str, Any]] = []
        for stream, case_id, type_, actor, at, payload in items:
            anchor = self._anchors[stream]
            row = _chained_row(
                stream, case_id, anchor.last_seq + 1, type_, actor, at, payload, anchor.last_hash
            )
            rows.append(row)
            anchor.last_seq, anchor.last_hash, anchor.updated_at, anchor.dirty = (
                row["seq"],
                row["hash"],
                at,
                True,
            )
        self.session.connection().execute(_INSERT_EVENTS, rows)
        return len(rows)

    def write_anchors(self) -> bool:
        """Store the new head of every chain touched in this transaction (called just before commit);
        True when events were appended."""
        updates: list[dict[str, Any]] = []
        inserts: list[dict[str, Any]] = []
        for stream, anchor in self._anchors.items():
            if not anchor.dirty:
                continue
            values = {
                "last_seq": anchor.last_seq,
                "last_hash": anchor.last_hash,
                "updated_at": anchor.updated_at,
            }
            if anchor.exists:
                updates.append({"s": stream, **values})
            else:
                inserts.append({"stream": stream, **values})
                anchor.exists = True
            anchor.dirty = False
        # One executemany per kind: a batch of timers touches hundreds of chains.
        if updates:
            self.session.connection().execute(_UPDATE_ANCHOR, updates)
        if inserts:
            self.session.connection().execute(_INSERT_ANCHOR, inserts)
        return bool(updates or inserts)

    def for_case(self, case_id: int) -> Sequence[Event]:
        """The timeline of a case, oldest first."""
        return self.session.scalars(
            select(Event).where(Event.case_id == case_id).order_by(Event.occurred_at, Event.id)
        ).all()

    def after(self, last_id: int, limit: int = 500) -> Sequence[Event]:
        """Committed events with id greater than `last_id`, in id order (the outbox tail)."""
        return self.session.scalars(
            select(Event).where(Event.id > last_id).order_by(Event.id).limit(limit)
        ).all()

    def last_id(self) -> int:
        """The newest event id, 0 when the log is empty."""
        value = self.session.scalar(select(Event.id).order_by(Event.id.desc()).limit(1))
        return int(value or 0)

    def last_handed_out_id(self) -> int:
        """The newest id given out: on PostgreSQL the sequence's last value, which can lie above the newest
        row (a transaction not yet committed, or rolled back), else the newest row's id."""
        last = self.last_id()
        if self.session.get_bind().dialect.name == "postgresql":
            handed_out = self.session.scalar(_LAST_HANDED_OUT)
            last = max(last, int(handed_out or 0))
        return last

    def writers_in_flight(self) -> frozenset[str]:
        """PostgreSQL: the other transactions of this database that may still commit an event (each INSERT
        holds ROW EXCLUSIVE on the events table until its transaction ends)."""
        return frozenset(str(v) for v in self.session.scalars(_EVENT_WRITERS))

    def of_type(self, type: str, since: datetime | None = None) -> Sequence[Event]:
        """All events of one type (for exports such as triage corrections)."""
        stmt = select(Event).where(Event.type == type)
        if since is not None:
            stmt = stmt.where(Event.occurred_at >= since)
        return self.session.scalars(stmt.order_by(Event.id)).all()

    def streams(self) -> Sequence[EventStream]:
        """Every chain anchor."""
        return self.session.scalars(select(EventStream).order_by(EventStream.stream)).all()

    def iter_stream_names(self) -> Iterator[str]:
        """Every stream name that has events (anchored or not)."""
        yield from self.session.scalars(select(Event.stream).distinct())

    def stream_events(self, stream: str) -> Sequence[Event]:
        """The events of one stream in sequence order."""
        return self.session.scalars(
            select(Event).where(Event.stream == stream).order_by(Event.seq, Event.id)
        ).all()

    def chain_page(self, after_id: int, upto_id: int, limit: int) -> list[tuple[int, str, int, str]]:
        """(id, stream, seq, hash) of events with after_id < id ≤ upto_id, in id order (checkpoints)."""
        rows = self.session.execute(
            select(Event.id, Event.stream, Event.seq, Event.hash)
            .where(Event.id > after_id, Event.id <= upto_id)
            .order_by(Event.id)
            .limit(limit)
        ).all()
        return [(int(r.id), str(r.stream), int(r.seq), str(r.hash)) for r in rows]

    def last_id_before(self, cutoff: datetime) -> int:
        """The highest id of an event that occurred before `cutoff` (0 when none)."""
        value = self.session.scalar(
            select(Event.id).where(Event.occurred_at < cutoff).order_by(Event.id.desc()).limit(1)
        )
        return int(value or 0)
