"""No answer from the reporter: the SOP closes the case after its 10 hari kerja, weekends and national
holidays not counted; a late YA by chat then confirms nothing and opens no report."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kotapintar.core.access.actors import channel_actor
from kotapintar.core.db.database import Database
from kotapintar.core.errors import Conflict
from kotapintar.core.settings import Settings
from kotapintar.feedback import service as feedback_service
from kotapintar.intake import submit as report_intake
from kotapintar.sop.scheduler import run_due_timers
from tests.feedback.loop_support import answer_and_resolve, case_status, events
from tests.helpers import report

WIB = timedelta(hours=7)


def test_auto_close_after_ten_working_days_across_two_holidays(
    db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened = datetime(2026, 8, 13, 9, 0, tzinfo=UTC) - WIB  # Thursday 13 Aug 2026, 09:00 WIB
    monkeypatch.setattr(report_intake, "utcnow", lambda: opened)
    case_id = report_intake.submit_report(
        db, channel_actor("web"), report(channel="web", reporter=None), settings=settings
    ).case_id
    monkeypatch.undo()
    # Resolved Friday 14 Aug 2026 10:30 WIB (the last command of answer_and_resolve).
    answer_and_resolve(db, case_id, at=datetime(2026, 8, 14, 8, 0, tzinfo=UTC) - WIB)
    view = feedback_service.loop_view(db, case_id)
    # 10 hari kerja: 18, 19, 20, 21, 24, 26, 27, 28, 31 Aug, 1 Sep (17 Aug Proklamasi, 25 Aug Maulid Nabi
    # and the weekends are not working days) → closing time 16:00 WIB on Tuesday 1 September.
    due = datetime(2026, 9, 1, 16, 0, tzinfo=UTC) - WIB
    assert view.awaiting_citizen and view.deadline == due
    run_due_timers(db, now=datetime(2026, 8, 28, 16, 0, tzinfo=UTC) - WIB)  # 14 calendar days later
    assert case_status(db, case_id) == "resolved"
    run_due_timers(db, now=due - timedelta(minutes=1))
    assert case_status(db, case_id) == "resolved"
    run_due_timers(db, now=due)
    assert case_status(db, case_id) == "closed"
    closed = events(db, case_id, "case_closed")
    assert len(closed) == 1 and "otomatis" in closed[0].payload["reason"]
    assert not feedback_service.loop_view(db, case_id).awaiting_citizen
    assert feedback_service.loop_view(db, case_id).survey_open
    with pytest.raises(Conflict, match="tidak sedang menunggu"):
        feedback_service.respond(db, case_id, "web", satisfied=False, note="terlambat")
