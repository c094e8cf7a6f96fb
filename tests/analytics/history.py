"""A hand-built history of cases, tasks and emergency timelines whose figures are worked out by hand.

Every figure the tests assert is derived in the comments below, so a reader can check it without code.

pupr, tasks created in the last 30 days (T0 = now − 5 days, to the second):
  A web       accepted +10 min, done +2 h, due +4 h          → on time; accept 600 s, complete 7 200 s
  B web       accepted +30 min, done +6 h, due +4 h          → completed late; accept 1 800, complete 21 600
  C sms       escalated, never accepted, due +4 h            → open and late (escalated counts)
  D sms       pending, due tomorrow                           → open, not late
  E web       cancelled (its case was merged)                 → neither open nor late nor completed
  F1 whatsapp accepted +5 min, done +1 h, due +4 h           → on time; accept 300, complete 3 600
  F2 whatsapp (the case reopened) accepted +20 min, due +4 h → open and late; accept 1 200
  G web       created on a Friday 15:00 WIB, due 4 working hours later (the calendar skips the weekend and a
              holiday Monday: 1,5 h on Friday, 2,5 h on Tuesday → Tuesday 10:30 WIB), accepted +30 min, done Tuesday 10:00 WIB → on time
              although 91 wall-clock hours passed; complete 327 600 s
  OLD         created 40 days ago, escalated, past due        → outside the 30-day cohort; in the backlog
  => tasks 8, open 3, late open 2 (C, F2), completed 4 (A, B, F1, G) all with a due time, on time 3 → 75 %,
     late 3 (C, F2, B); accept [300, 600, 1 200, 1 800, 1 800]: median 1 200, p90 1 800, 5 within 1 h;
     complete [3 600, 7 200, 21 600, 327 600]: median 14 400 (4 jam), p90 21 600 + 0,7·306 000 = 235 800;
     backlog now: open 4 (C, D, F2, OLD), late 3 (C, F2, OLD).
  By channel: web A B E G → tasks 4, late 1, on time 2/3; sms C D → tasks 2, late 1, on time —;
              whatsapp F1 F2 → tasks 2, late 1, on time 1/1.
damkar: H done without a due time, accepted after 2 h → completed 1, on time — (no due), accept 7 200 (not within).
Resolved public cases: A's case resolved at +2 h (pupr) → resolved 1, median 2 jam.

112 incidents (seconds after each call):
  K kebakaran: duplicate call at −100 (ignored), call 0, answered 10, created 20, DMK-01 dispatched 50,
    DMK-02 dispatched 55, DMK-02 en route 100, DMK-01 en route 120, DMK-01 on scene 600, DMK-02 on scene 700
    → answering 10, processing 40, turnout 70 and travel 480 (DMK-01, first on scene), total 600
  L kebakaran: call 0, answered 5, DMK-03 dispatched 65, en route 125, on scene 1 025
    → answering 5, processing 60, turnout 60, travel 900, total 1 025 (over the 15-minute standard)
  M darurat_medis (no call): created 0, AMB-01 dispatched 30, en route 90, not yet on scene
    → turnout 60; processing, travel and total not measured
  kebakaran: incidents 2, total median 812,5 s, p90 982,5 s, within 900 s: 1 of 2 (50 %).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from kotapintar.cases.models import Case, Task
from kotapintar.core.db.database import Database
from kotapintar.core.events.repository import case_stream
from kotapintar.dispatch.models import UnitAssignment
from kotapintar.sop.calendar import WorkingCalendar

WIB = ZoneInfo("Asia/Jakarta")


@dataclass
class Built:
    """What the tests need to know about the history."""

    t0: datetime
    friday: datetime
    case_ids: dict[str, int]


def _friday_before(now: datetime) -> datetime:
    """A Friday 15:00 WIB between 9 and 15 days ago (its following Tuesday is in the past)."""
    day = (now - timedelta(days=9)).astimezone(WIB).date()
    while day.weekday() != 4:
        day -= timedelta(days=1)
    return datetime(day.year, day.month, day.day, 15, 0, tzinfo=WIB).astimezone(UTC)


def build(db: Database, now: datetime) -> Built:
    """Write the history (rows and chained events) and return its anchors."""
    t0 = (now - timedelta(days=5)).replace(microsecond=0)
    friday = _friday_before(now)
    monday: date = (friday + timedelta(days=3)).astimezone(WIB).date()
    calendar = WorkingCalendar(holidays=frozenset({monday}), zone="Asia/Jakarta")
    g_due = calendar.add_working_seconds(friday, 4 * 3600)
    tuesday_10 = datetime.combine(monday + timedelta(days=1), datetime.min.time(), WIB).replace(hour=10)
    assert (g_due.astimezone(WIB).hour, g_due.astimezone(WIB).minute) == (10, 30) and g_due.astimezone(
        WIB
    ).date() == monday + timedelta(days=1)
    h, m = timedelta(hours=1), timedelta(minutes=1)
    ids: dict[str, int] = {}
    with db.transaction() as uow:
        s = uow.session

        def case_(name: str, service: str, channel: str, agency: str, at: datetime, **kw: Any) -> Case:
            c = Case(
                service_code=service,
                priority="P3",
                status=kw.pop("status", "in_progress"),
                title=f"Kasus {name}",
                description=name,
                channel=channel,
                agency_code=agency,
                kecamatan_code="62.03.01",
                created_at=at,
                updated_at=at,
                **kw,
            )
            s.add(c)
            s.flush()
            ids[name] = c.id
            return c

        def task(c: Case, status: str, created: datetime, due: datetime | None, **kw: Any) -> None:
            s.add(
                Task(
                    case_id=c.id,
                    step_id="tangani",
                    title="Tangani",
                    agency_code=c.agency_code,
                    status=status,
                    created_at=created,
                    due_at=due,
                    data={},
                    **kw,
                )
            )

        a = case_("A", "jalan_rusak", "web", "pupr", t0, status="resolved", resolved_at=t0 + 2 * h)
        task(a, "done", t0, t0 + 4 * h, accepted_at=t0 + 10 * m, completed_at=t0 + 2 * h)
        b = case_("B", "jalan_rusak", "web", "pupr", t0)
        task(b, "done", t0, t0 + 4 * h, accepted_at=t0 + 30 * m, completed_at=t0 + 6 * h)
        c = case_("C", "jalan_rusak", "sms", "pupr", t0)
        task(c, "escalated", t0, t0 + 4 * h)
        d = case_("D", "jalan_rusak", "sms", "pupr", t0)
        task(d, "pending", t0, now + timedelta(days=1))
        e = case_("E", "jalan_rusak", "web", "pupr", t0, status="merged")
        task(e, "cancelled", t0, t0 + 4 * h)
        f = case_("F", "drainase", "whatsapp", "pupr", t0)
        task(f, "done", t0, t0 + 4 * h, accepted_at=t0 + 5 * m, completed_at=t0 + h)
        task(f, "in_progress", t0, t0 + 4 * h, accepted_at=t0 + 20 * m)
        g = case_("G", "jalan_rusak", "web", "pupr", friday)
        task(g, "done", friday, g_due, accepted_at=friday + 30 * m, completed_at=tuesday_10)
        old = case_("OLD", "jalan_rusak", "web", "pupr", now - timedelta(days=40))
        task(old, "escalated", old.created_at, old.created_at + 4 * h)
        hh = case_("H", "pohon_tumbang", "web", "dlh", t0)
        task(hh, "done", t0, None, accepted_at=t0 + 2 * h, completed_at=t0 + 3 * h)
        _incidents(uow, case_, t0 + h)
    return Built(t0=t0, friday=friday, case_ids=ids)


def _incidents(uow: Any, case_: Any, start: datetime) -> None:
    """K, L and M with their timelines as chained events, and a unit assignment each (what makes a case an
    incident for the time-to-scene figures)."""
    s = uow.session

    def log(case_id: int, steps: list[tuple[float, str, dict[str, Any]]], at: datetime) -> None:
        for i, (offset, type_, payload) in enumerate(steps):
            uow.events.append(
                stream=case_stream(case_id),
                case_id=case_id,
                type=type_,
                actor="test",
                at=at + timedelta(seconds=offset),
                payload=payload,
                new_stream=i == 0,
            )

    k = case_("K", "kebakaran", "112", "damkar", start)
    log(
        k.id,
        [
            (-100, "call_received", {"duplicate": True}),
            (0, "call_received", {}),
            (10, "call_answered", {}),
            (20, "case_created", {}),
            (50, "unit_dispatched", {"unit": "DMK-01"}),
            (55, "unit_dispatched", {"unit": "DMK-02"}),
            (100, "unit_en_route", {"unit": "DMK-02"}),
            (120, "unit_en_route", {"unit": "DMK-01"}),
            (600, "unit_on_scene", {"unit": "DMK-01"}),
            (700, "unit_on_scene", {"unit": "DMK-02"}),
        ],
        start,
    )
    later = start + timedelta(hours=3)
    lcase = case_("L", "kebakaran", "112", "damkar", later)
    log(
        lcase.id,
        [
            (0, "call_received", {}),
            (5, "call_answered", {}),
            (65, "unit_dispatched", {"unit": "DMK-03"}),
            (125, "unit_en_route", {"unit": "DMK-03"}),
            (1025, "unit_on_scene", {"unit": "DMK-03"}),
        ],
        later,
    )
    mcase = case_("M", "darurat_medis", "web", "dinkes", later)
    log(
        mcase.id,
        [
            (0, "case_created", {}),
            (30, "unit_dispatched", {"unit": "AMB-01"}),
            (90, "unit_en_route", {"unit": "AMB-01"}),
        ],
        later,
    )
    for case_id, unit in ((k.id, "DMK-01"), (lcase.id, "DMK-03"), (mcase.id, "AMB-01")):
        s.add(
            UnitAssignment(
                unit_code=unit, case_id=case_id, kind="primary", dispatched_at=start, dispatched_by="test"
            )
        )
