"""The SSE tail's cursor delivers events in id order (issue 19; found by the load run, scripts/loadtest.py):
on PostgreSQL an event committed before a lower id's transaction ends is held back until that one commits
or rolls back, so a client resuming with the last id it received neither misses nor repeats an event."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from kotapintar.cases.stream import GAP_WAIT_S, OutboxCursor
from kotapintar.core.db.database import Database


def _append(db: Database, stream: str) -> int:
    with db.transaction() as uow:
        return uow.events.append(
            stream=stream, case_id=None, type="note_added", actor="system:test", at=datetime.now(UTC)
        ).id


def _ids(cursor: OutboxCursor, db: Database) -> list[int]:
    return [e.id for e in cursor.poll(db)]


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_an_event_waits_for_the_lower_id_still_in_flight_then_both_leave_in_order(db: Database) -> None:
    with db.transaction() as slow:
        low = slow.events.append(
            stream="order-a", case_id=None, type="note_added", actor="system:test", at=datetime.now(UTC)
        ).id
        # Both start just below `low` (ids of earlier tests' deleted rows are no gap to wait for).
        ordered, plain = OutboxCursor(watermark=low - 1, in_order=True), OutboxCursor(watermark=low - 1)
        high = _append(db, "order-b")  # committed while `low` is still in flight
        assert high > low
        assert _ids(plain, db) == [high]  # the notifier's cursor: as committed
        assert _ids(ordered, db) == [], "held back behind the open id"
    assert _ids(plain, db) == [low]
    assert _ids(ordered, db) == [low, high]


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_a_rolled_back_id_does_not_hold_the_next_event_forever(db: Database) -> None:
    lost: list[int] = []
    with pytest.raises(RuntimeError), db.transaction() as doomed:
        lost.append(
            doomed.events.append(
                stream="order-c", case_id=None, type="note_added", actor="system:test", at=datetime.now(UTC)
            ).id
        )
        raise RuntimeError("rolled back")
    ordered = OutboxCursor(watermark=lost[0] - 1, in_order=True)
    after = _append(db, "order-d")
    got: list[int] = []
    deadline = time.monotonic() + GAP_WAIT_S + 2
    while not got and time.monotonic() < deadline:
        got = _ids(ordered, db)
        time.sleep(0.05)
    assert got == [after]
