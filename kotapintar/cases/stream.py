"""Tailing the events table as an outbox, and cutting each event to what a reader may see."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from kotapintar.cases.filters import CaseFilter
from kotapintar.cases.public import public_event
from kotapintar.cases.repository import CaseRepository
from kotapintar.core.access.actors import Actor
from kotapintar.core.access.roles import Permission
from kotapintar.core.db.database import Database
from kotapintar.core.events.models import Event

GAP_WAIT_S = 5.0
# In-order cursors on PostgreSQL know when a gap is settled (see OutboxCursor); this only bounds the wait
# should that knowledge fail. A longer bound than GAP_WAIT_S: under heavy load a report's transaction can
# take several seconds, and an event let go before its commit would never reach the stream.
GAP_HOLD_MAX_S = 60.0


@dataclass
class OutboxCursor:
    """A reader's position in the outbox that never skips an event committed late.

    Ids are handed out at insert but become visible at commit, so on PostgreSQL a reader can see
    id 12 before id 11 commits. The cursor remembers such gaps for a few seconds and reads them when
    they appear; a gap still empty after that was a rolled-back transaction and is let go.

    `in_order` (the SSE tail): an event above an open gap is held back until the gap fills or is let go,
    so events leave strictly in id order. A client that resumes with the last id it received (what
    EventSource sends as Last-Event-ID) then neither misses the late event below nor gets one twice; the
    load run (scripts/loadtest.py) found both when 12 went out before 11. Such a cursor lets a gap go
    exactly when it is certain to stay empty: on PostgreSQL once every transaction that was writing to
    the events table when the gap was seen has ended (pg_locks; a transaction writing elsewhere or in
    another database does not hold the stream back), on SQLite at once (one writer: ids commit in order,
    a gap is a rollback). GAP_HOLD_MAX_S only bounds the wait.
    """

    watermark: int = 0
    seen_above: set[int] = field(default_factory=set)
    gaps: dict[int, float] = field(default_factory=dict)
    in_order: bool = False
    held: dict[int, Event] = field(default_factory=dict)
    gap_writers: dict[int, frozenset[str]] = field(default_factory=dict)

    def poll(self, db: Database, limit: int = 500) -> list[Event]:
        """Newly committed events since the last poll, in id order."""
        exact = self.in_order and db.is_postgres
        writers_before: set[str] = set()
        writers_after: frozenset[str] = frozenset()
        with db.reading() as uow:
            if exact and self.gap_writers:
                writers_before = set(uow.events.writers_in_flight())
            rows = [e for e in uow.events.after(self.watermark, limit) if e.id not in self.seen_above]
            if exact:
                writers_after = uow.events.writers_in_flight()
        if self.in_order:
            self._let_go_settled_gaps(rows, writers_before, writers_after, sqlite=not db.is_postgres)
        now = time.monotonic()
        top = max([self.watermark, *self.seen_above, *(e.id for e in rows)])
        for e in rows:
            self.seen_above.add(e.id)
            self.gaps.pop(e.id, None)
        for missing in range(self.watermark + 1, top):
            if missing not in self.seen_above and missing not in self.gaps:
                self.gaps[missing] = now
        wait = GAP_HOLD_MAX_S if exact else GAP_WAIT_S
        for missing, since in list(self.gaps.items()):
            if now - since > wait:
                del self.gaps[missing]
                self.seen_above.add(missing)
        while self.watermark + 1 in self.seen_above:
            self.watermark += 1
            self.seen_above.discard(self.watermark)
        if not self.in_order:
            return rows
        # Everything at or below the watermark is settled (read, or a gap let go): release it, in order.
        self.held.update((e.id, e) for e in rows)
        return [self.held.pop(i) for i in sorted(i for i in self.held if i <= self.watermark)]

    def _let_go_settled_gaps(
        self, rows: list[Event], writers_before: set[str], writers_after: frozenset[str], *, sqlite: bool
    ) -> None:
        """Mark as read the gaps no running transaction can fill any more (see the class docstring).

        A gap first seen now remembers the event writers listed after this poll's read: the transaction
        holding the gap's id was among them, or had ended before that listing and its outcome shows in the
        next read. A gap is let go when none of its writers was still listed before a read that does not
        bring it (so that read would have seen its commit).
        """
        arrived = {e.id for e in rows}
        for missing, writers in list(self.gap_writers.items()):
            if missing in arrived or missing <= self.watermark:
                del self.gap_writers[missing]
            elif not writers & writers_before:
                del self.gap_writers[missing]
                self.gaps.pop(missing, None)
                self.seen_above.add(missing)
        top = max([self.watermark, *self.seen_above, *arrived])
        for missing in range(self.watermark + 1, top):
            if missing not in self.seen_above and missing not in arrived and missing not in self.gap_writers:
                if sqlite:
                    self.seen_above.add(missing)  # one writer: an id below a committed one was rolled back
                else:
                    self.gap_writers[missing] = writers_after

    @property
    def position(self) -> int:
        """The highest id delivered so far (what the client sends back as Last-Event-ID)."""
        return max([self.watermark, *self.seen_above])


def audience_key(actor: Actor) -> tuple[object, ...]:
    """What `filter_for` depends on: readers with equal keys see exactly the same events (issue 19: the
    process's outbox tail cuts each batch once per audience, not once per client)."""
    return (
        actor.case_scope(),
        actor.reads_as_public,
        actor.can(Permission.VIEW_ALL_CASES),
        actor.can(Permission.VIEW_AUDIT),
    )


def filter_for(db: Database, actor: Actor, events: list[Event]) -> list[dict[str, Any]]:
    """The events `actor` may see, as JSON-ready dicts; public readers get status changes only."""
    if not events:
        return []
    everything = actor.can(Permission.VIEW_ALL_CASES)
    case_ids = {e.case_id for e in events if e.case_id is not None}
    visible: set[int] = set()
    if everything:
        visible = case_ids
    elif case_ids:
        with db.reading() as uow:
            rows = uow.repo(CaseRepository).search(
                actor.case_scope(), CaseFilter(ids=tuple(case_ids)), limit=len(case_ids)
            )
            visible = {c.id for c in rows}
    # Client applications (Open311 keys) read what the public reads, nothing more.
    public = actor.reads_as_public
    out: list[dict[str, Any]] = []
    for e in events:
        if e.case_id is None:
            if actor.can(Permission.VIEW_AUDIT):
                out.append(_as_dict(e, e.payload))
            continue
        if e.case_id not in visible:
            continue
        if public:
            cut = public_event(e)
            if cut is not None:
                item = cut.model_dump()
                out.append({**item, "case_id": e.case_id, "occurred_at": cut.occurred_at.isoformat()})
        else:
            out.append(_as_dict(e, e.payload))
    return out


def _as_dict(e: Event, payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": e.id,
        "case_id": e.case_id,
        "seq": e.seq,
        "type": e.type,
        "actor": e.actor,
        "occurred_at": e.occurred_at.isoformat(),
        "payload": payload,
    }
