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


@dataclass
class OutboxCursor:
    """A reader's position in the outbox that never skips an event committed late.

    Ids are handed out at insert but become visible at commit, so on PostgreSQL a reader can see
    id 12 before id 11 commits. The cursor remembers such gaps for a few seconds and reads them when
    they appear; a gap still empty after that was a rolled-back transaction and is let go.
    """

    watermark: int = 0
    seen_above: set[int] = field(default_factory=set)
    gaps: dict[int, float] = field(default_factory=dict)

    def poll(self, db: Database, limit: int = 500) -> list[Event]:
        """Newly committed events since the last poll, in id order."""
        with db.reading() as uow:
            rows = [e for e in uow.events.after(self.watermark, limit) if e.id not in self.seen_above]
        now = time.monotonic()
        top = max([self.watermark, *self.seen_above, *(e.id for e in rows)])
        for e in rows:
            self.seen_above.add(e.id)
            self.gaps.pop(e.id, None)
        for missing in range(self.watermark + 1, top):
            if missing not in self.seen_above and missing not in self.gaps:
                self.gaps[missing] = now
        for missing, since in list(self.gaps.items()):
            if now - since > GAP_WAIT_S:
                del self.gaps[missing]
                self.seen_above.add(missing)
        while self.watermark + 1 in self.seen_above:
            self.watermark += 1
            self.seen_above.discard(self.watermark)
        return rows

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
