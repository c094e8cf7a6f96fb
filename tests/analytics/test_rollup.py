"""The analytics rollup (one narrow row per task and per incident) is kept by the commands that change a
case, in their transaction, and equals a rebuild from the tasks, cases and event log."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

import h3
import pytest
from sqlalchemy import String, delete, literal, select
from typer.testing import CliRunner

from kotapintar.analytics import service as analytics
from kotapintar.analytics.models import CaseMetric, IncidentMetric, TaskMetric
from kotapintar.app.cli import app as cli_app
from kotapintar.cases.repository import TaskRepository
from kotapintar.core.access.actors import channel_actor
from kotapintar.core.db.database import Database
from kotapintar.core.events.types import utcnow
from kotapintar.core.settings import Settings, get_settings
from kotapintar.dispatch import segments as segment_service
from kotapintar.intake import submit as report_intake
from kotapintar.metrics.response_times import aggregate, load_targets
from kotapintar.sop import tasks as sop_tasks
from tests.analytics.history import build
from tests.helpers import actor, report


def _rows(db: Database) -> tuple[dict[int, tuple[Any, ...]], ...]:
    """The rollup tables, keyed (PostgreSQL's numeric seconds compared as floats)."""

    def plain(row: Any) -> tuple[Any, ...]:
        return tuple(float(v) if isinstance(v, Decimal) else v for v in row)

    with db.reading() as uow:
        tasks = {r[0]: plain(r) for r in uow.session.execute(select(*TaskMetric.__table__.c)).all()}
        incidents = {r[0]: plain(r) for r in uow.session.execute(select(*IncidentMetric.__table__.c)).all()}
        cases = {r[0]: plain(r) for r in uow.session.execute(select(*CaseMetric.__table__.c)).all()}
    return tasks, incidents, cases


def _rounded(value: Any) -> Any:
    """Floats to 6 decimals, through lists and dicts (the SQL sums seconds in another order)."""
    if isinstance(value, float | Decimal):
        return round(float(value), 6)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


def _open_task(db: Database, case_id: int, step: str) -> Any:
    with db.reading() as uow:
        found = [
            t
            for t in uow.repo(TaskRepository).for_case(case_id)
            if t.step_id == step and t.status in sop_tasks.OPEN_STATUSES
        ]
    assert found, step
    return found[0]


def test_commands_keep_the_rollup_and_a_rebuild_gives_the_same_rows(
    db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A report through intake, its verification accepted and completed through the SOP, and the hand-built
    history: after each command the figures already count the change (no rebuild), and `kotapintar
    analytics rebuild` recomputes exactly the rows the commands wrote."""
    now = utcnow()
    built = build(db, now)
    supervisor, op = actor(db, "supervisor"), actor(db, "operator")
    case_id = report_intake.submit_report(
        db, channel_actor("web"), report(channel="web", reporter=None), settings=settings
    ).case_id

    def diskominfo() -> Any:
        scope = analytics.scope_of_days(1, agency="diskominfo")
        found = [f for f in analytics.task_figures(db, supervisor, scope) if f.key == "diskominfo"]
        return found[0] if found else None

    verify = _open_task(db, case_id, "verifikasi")
    before = diskominfo()
    assert (before.tasks, before.open, before.accept.n) == (1, 1, 0)
    sop_tasks.accept_task(db, op, verify.id)
    assert diskominfo().accept.n == 1
    sop_tasks.complete_task(db, op, verify.id, outputs={"lengkap": True})
    after = diskominfo()
    assert (after.completed, after.complete.n) == (1, 1)

    tasks, incidents, cases = _rows(db)
    assert {built.case_ids[n] for n in "KLM"} <= set(incidents)
    assert {case_id, *built.case_ids.values()} <= set(cases)
    with db.reading() as uow:
        assert len(tasks) == len(uow.repo(TaskRepository).for_case(case_id)) + 10  # the history's 10 tasks
    # a script that wrote without the app's wiring left the rollup empty: the CLI rebuilds the same rows
    with db.transaction() as uow:
        uow.session.execute(delete(TaskMetric))
        uow.session.execute(delete(IncidentMetric))
        uow.session.execute(delete(CaseMetric))
    monkeypatch.setenv("KOTAPINTAR_DATABASE_URL", db.url)
    get_settings.cache_clear()
    try:
        out = CliRunner().invoke(cli_app, ["analytics", "rebuild"])
    finally:
        get_settings.cache_clear()
    assert out.exit_code == 0, out.output
    assert f"{len(tasks)} tasks, {len(incidents)} incidents" in out.output
    assert _rows(db) == (tasks, incidents, cases)


def test_dispatch_segment_summary_in_sql_equals_the_pure_aggregate(db: Database) -> None:
    """/api/v1/dispatch/segments (now SQL over the incident rollup) gives what the pure
    `metrics.response_times.aggregate` gives over each incident's `segments_of`, for every grouping and
    period (K's and L's fire totals 600 s and 1 025 s: mean 812,5 s, p90 982,5 s, one of two within)."""
    built = build(db, utcnow())
    op = actor(db, "operator")
    targets = load_targets()
    rows = [segment_service.case_segments(db, op, built.case_ids[n]) for n in "KLM"]
    for by, period in (
        ("service", "month"),
        ("agency", "month"),
        ("kecamatan", "month"),
        *(("period", p) for p in ("day", "week", "month")),
    ):
        sql = segment_service.segments_summary(db, op, by=by, period=period)["groups"]
        pure = aggregate(rows, by, period=period, tz="Asia/Jakarta", targets=targets)
        assert _rounded(sql) == _rounded(pure), (by, period)
    fire = next(g for g in segment_service.segments_summary(db, op)["groups"] if g["key"] == "kebakaran")
    total = next(s for s in fire["segments"] if s["segment"] == "total")
    assert (total["n"], total["mean_s"], total["share_within_target"]) == (2, 812.5, 0.5)
    assert total["p90_s"] == pytest.approx(982.5)


def test_the_hotspot_cell_coarsened_in_sql_is_h3s_parent(db: Database) -> None:
    """The case rollup's cell is `h3.cell_to_parent(cell, 7)` computed in SQL (bit arithmetic on the hex
    index) on both databases; a coarser cell stays as it is; text that is no cell gives NULL (no error in
    the refreshing transaction)."""
    rng = random.Random(7)
    cells = [
        h3.latlng_to_cell(rng.uniform(-60, 60), rng.uniform(-180, 180), rng.choice((8, 9, 10, 15)))
        for _ in range(20)
    ]
    coarse = h3.latlng_to_cell(-3.0, 114.4, 5)
    expected = {cell: h3.cell_to_parent(cell, 7) for cell in cells} | {coarse: coarse, "zz-not-a-cell": None}
    with db.reading() as uow:
        repo = analytics.rollup_repository(uow.session)
        got = {
            cell: uow.session.execute(select(repo.parent_cell(literal(cell, String(16)), 7))).scalar()
            for cell in expected
        }
    assert got == expected
