"""Walking the hash chains of the event log to prove nothing was changed, removed or reordered."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from kotapintar.core.db.database import Database
from kotapintar.core.events.models import Event
from kotapintar.core.events.types import GENESIS_HASH, EventContent, chain_hash


@dataclass(frozen=True)
class Tampering:
    """The first place where a chain does not hold, and what is wrong there."""

    stream: str
    seq: int
    event_id: int | None
    problem: str

    def __str__(self) -> str:
        where = f"event id {self.event_id}" if self.event_id is not None else "no row"
        return f"{self.stream} seq {self.seq} ({where}): {self.problem}"


@dataclass(frozen=True)
class AuditResult:
    """What `audit verify` found: how much was checked and every broken chain's first bad event."""

    streams: int
    events: int
    problems: list[Tampering]

    @property
    def ok(self) -> bool:
        """True when every chain holds."""
        return not self.problems


def _check_stream(stream: str, rows: Sequence[Event], anchor: tuple[int, str] | None) -> Tampering | None:
    prev = GENESIS_HASH
    expected_seq = 1
    for row in rows:
        event_id, seq = row.id, row.seq
        if seq != expected_seq:
            problem = (
                f"expected seq {expected_seq} but found {seq}: an event was deleted or reordered"
                if seq > expected_seq
                else f"seq {seq} appears again: an event was duplicated or reordered"
            )
            return Tampering(stream, expected_seq, event_id, problem)
        if row.prev_hash != prev:
            return Tampering(stream, seq, event_id, "prev_hash does not match the previous event's hash")
        content = EventContent(
            case_id=row.case_id if row.case_id is not None else 0,
            seq=seq,
            type=row.type,
            actor=row.actor,
            occurred_at=row.occurred_at,
            payload=row.payload,
        )
        if chain_hash(prev, content) != row.hash:
            return Tampering(stream, seq, event_id, "content does not match its hash: the event was changed")
        prev = row.hash
        expected_seq += 1
    last_seq = expected_seq - 1
    if anchor is None:
        return Tampering(stream, last_seq, None, "the chain's anchor row is missing")
    if anchor[0] != last_seq:
        return Tampering(
            stream,
            last_seq + 1,
            None,
            f"the anchor records {anchor[0]} events but {last_seq} remain: events at the end were deleted"
            if anchor[0] > last_seq
            else f"the anchor records {anchor[0]} events but {last_seq} exist",
        )
    if anchor[1] != prev:
        return Tampering(stream, last_seq, None, "the anchor's last hash does not match the last event")
    return None


def verify_log(db: Database) -> AuditResult:
    """Check every chain of the log against its anchor; report the first tampered event per chain."""
    problems: list[Tampering] = []
    events = 0
    with db.reading() as uow:
        anchors = {a.stream: (a.last_seq, a.last_hash) for a in uow.events.streams()}
        names = set(anchors) | set(uow.events.iter_stream_names())
        for stream in sorted(names):
            rows = uow.events.stream_events(stream)
            events += len(rows)
            found = _check_stream(stream, rows, anchors.get(stream))
            if found is not None:
                problems.append(found)
    return AuditResult(streams=len(names), events=events, problems=problems)


def iter_report(result: AuditResult) -> Iterator[str]:
    """Lines a person reads after `kotapintar audit verify`."""
    if result.ok:
        yield f"OK: {result.events} events in {result.streams} chains verified; no tampering found."
        return
    yield f"TAMPERING: {len(result.problems)} of {result.streams} chains are broken."
    for problem in result.problems:
        yield f"  first bad event: {problem}"
