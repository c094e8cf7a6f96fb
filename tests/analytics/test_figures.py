"""The accountability figures over a hand-built history (tests/analytics/history.py derives each number)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import inspect

from kotapintar.analytics import service as analytics
from kotapintar.core.db.database import Database
from kotapintar.core.events.types import utcnow
from kotapintar.dispatch import segments as segment_service
from tests.analytics.history import build
from tests.helpers import actor


def test_task_figures_per_agency_follow_the_one_definition(db: Database) -> None:
    """Late counts escalated and completed-late work; on time divides by completed-with-due only."""
    now = utcnow()
    build(db, now)
    figures = {
        f.key: f
        for f in analytics.task_figures(
            db, actor(db, "supervisor"), analytics.scope_of_days(30, now=now), now=now
        )
    }
    pupr = figures["pupr"]
    assert (pupr.tasks, pupr.open, pupr.late_open, pupr.completed, pupr.completed_with_due) == (8, 3, 2, 4, 4)
    assert (pupr.completed_on_time, pupr.completed_late, pupr.late, pupr.on_time_share) == (3, 1, 3, 0.75)
    assert (pupr.accept.n, pupr.accept.median_s, pupr.accept.p90_s, pupr.accept.within) == (5, 1200, 1800, 5)
    assert (pupr.complete.n, pupr.complete.median_s) == (4, 14400)
    assert pupr.complete.p90_s == pytest.approx(235800)
    assert (pupr.open_now, pupr.late_now) == (4, 3)
    dlh = figures["dlh"]
    assert (dlh.completed, dlh.completed_with_due, dlh.on_time_share, dlh.accept.within) == (1, 0, None, 0)


def test_task_figures_by_channel_and_trend(db: Database) -> None:
    """How fast on online reports: the same figures split by channel, and per week/month."""
    now = utcnow()
    build(db, now)
    scope = analytics.scope_of_days(30, now=now, agency="pupr")
    by = {f.key: f for f in analytics.task_figures(db, actor(db, "supervisor"), scope, "channel", now=now)}
    assert {k: (f.tasks, f.late, f.on_time_share) for k, f in by.items()} == {
        "web": (4, 1, 2 / 3),
        "sms": (2, 1, None),
        "whatsapp": (2, 1, 1.0),
    }
    months = analytics.task_figures(db, actor(db, "supervisor"), scope, "month", now=now)
    assert sum(f.tasks for f in months) == 8 and all(len(f.key) == 7 for f in months)
    weeks = analytics.task_figures(db, actor(db, "supervisor"), scope, "week", now=now)
    assert sum(f.late for f in weeks) == 3 and all(len(f.key) == 10 for f in weeks)


def test_several_groupings_in_one_read_give_the_same_figures(db: Database) -> None:
    """/analitik's league, breakdown and weekly trend read together (the durations computed once) equal
    the separate calls, and keep the exact PUPR figures."""
    now = utcnow()
    build(db, now)
    supervisor = actor(db, "supervisor")
    scope = analytics.scope_of_days(30, now=now)
    bys = ("agency", "channel", "week", "service")
    together = analytics.task_figures_by(db, supervisor, scope, bys, now=now)
    for by in bys:
        assert together[by] == analytics.task_figures(db, supervisor, scope, by, now=now), by
    pupr = {f.key: f for f in together["agency"]}["pupr"]
    assert (pupr.late, pupr.on_time_share, pupr.accept.median_s, pupr.complete.median_s) == (
        3,
        0.75,
        1200,
        14400,
    )
    assert pupr.complete.p90_s == pytest.approx(235800)


def test_time_to_scene_in_sql_equals_the_pure_segments(db: Database) -> None:
    """Each incident's SQL segments equal metrics.response_times.segments_of; the groups' fractiles."""
    now = utcnow()
    built = build(db, now)
    supervisor = actor(db, "supervisor")
    scope = analytics.scope_of_days(30, now=now)
    listed = {r.case_id: r for r in analytics.incident_list(db, supervisor, scope)}
    assert set(listed) == {built.case_ids[n] for n in "KLM"}
    for case_id, row in listed.items():
        pure = segment_service.case_segments(db, supervisor, case_id).seconds
        for segment, value in pure.items():
            assert (None if getattr(row, segment) is None else float(getattr(row, segment))) == value, segment
    k = listed[built.case_ids["K"]]
    assert (k.answering, k.processing, k.turnout, k.travel, k.total) == (10, 40, 70, 480, 600)
    fire = {f.key: f for f in analytics.segment_figures(db, supervisor, scope, "service")}["kebakaran"]
    total = fire.segments["total"]
    assert (fire.incidents, total.n, total.within, total.target_s) == (2, 2, 1, 900)
    assert (total.median_s, total.p90_s, total.within_share) == (812.5, 982.5, 0.5)


def test_incident_overview_computes_once_and_gives_the_same_figures(db: Database) -> None:
    """/analitik's one-read time-to-scene view (over the incident rollup) equals the separate calls: the
    fire group's exact figures, the histogram, the list; and no temporary table is left behind."""
    now = utcnow()
    built = build(db, now)
    supervisor = actor(db, "supervisor")
    scope = analytics.scope_of_days(30, now=now)
    scene = analytics.incident_overview(db, supervisor, scope, "service", "total", limit=50)
    assert scene.segments == analytics.segment_figures(db, supervisor, scope, "service")
    assert scene.histogram == analytics.segment_histogram(db, supervisor, scope, "total")

    def rows(listed: Any) -> dict[int, tuple[Any, ...]]:  # PostgreSQL's numeric seconds compared as floats
        return {r.case_id: tuple(float(v) if isinstance(v, Decimal) else v for v in r) for r in listed}

    assert rows(scene.incidents) == rows(analytics.incident_list(db, supervisor, scope))
    assert {r.case_id for r in scene.incidents} == {built.case_ids[n] for n in "KLM"}
    fire = {f.key: f for f in scene.segments}["kebakaran"].segments["total"]
    assert (fire.n, fire.within, fire.median_s, fire.p90_s) == (2, 1, 812.5, 982.5)
    by_week = analytics.incident_overview(db, supervisor, scope, "week", "travel")
    assert by_week.segments == analytics.segment_figures(db, supervisor, scope, "week")
    with db.reading() as uow:
        names = inspect(uow.session.connection()).get_temp_table_names() if db.is_sqlite else []
    assert not [n for n in names if n.startswith("kp_incidents_")]


def test_public_scoreboard_reads_the_same_figures(db: Database) -> None:
    """The public board shows the supervisor's tasks, late and on-time share; resolved and its median."""
    now = utcnow()
    build(db, now)
    board = {b.code: b for b in analytics.public_scoreboard(db, 30, now=now)}
    pupr = board["pupr"]
    assert (pupr.tasks, pupr.late, pupr.on_time_share, pupr.resolved, pupr.median_resolve_s) == (
        8,
        3,
        0.75,
        1,
        7200,
    )
    assert "damkar" not in board or board["damkar"].tasks == 0


def test_an_agency_user_reads_only_their_own_figures(db: Database) -> None:
    """Agency users may see their own agency; all agencies needs the all-cases view."""
    from kotapintar.core.errors import PermissionDenied

    build(db, utcnow())
    officer = actor(db, "pupr.petugas")
    mine = analytics.task_figures(db, officer, analytics.scope_of_days(30, agency="pupr"))
    assert [f.key for f in mine] == ["pupr"]
    with pytest.raises(PermissionDenied):
        analytics.task_figures(db, officer, analytics.scope_of_days(30))
