"""`kotapintar check`: the invariants hold for work done through the services, and every kind of drift is named.

The drift below is made with direct SQL on purpose: it stands for a database changed outside the services (a
bug, a manual fix, a restore gone wrong), which is exactly what the check exists to find.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from kotapintar.app.cli import app as cli
from kotapintar.app.integrity import check_database
from kotapintar.cases.integrity import OPEN_TASK_STATUS_CODES
from kotapintar.core.access.actors import channel_actor
from kotapintar.core.db.database import Database
from kotapintar.core.settings import Settings
from kotapintar.dispatch.models import UnitAssignment
from kotapintar.intake.submit import submit_report
from kotapintar.sop.engine import OPEN_TASK_STATUSES
from tests.helpers import assert_invariants, report


@pytest.fixture
def runner(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("KOTAPINTAR_DATABASE_URL", settings.database_url)
    from kotapintar.core.settings import get_settings

    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def _open_cases(db: Database, n: int) -> list[int]:
    return [
        submit_report(db, channel_actor("web"), report(lon=114.36 + 0.01 * i, lat=-3.02)).case_id
        for i in range(n)
    ]


def test_the_check_knows_the_engines_open_task_states() -> None:
    assert set(OPEN_TASK_STATUS_CODES) == {s.value for s in OPEN_TASK_STATUSES}


def test_cases_opened_through_intake_keep_every_invariant(db: Database, runner: CliRunner) -> None:
    _open_cases(db, 3)
    assert_invariants(db)
    result = runner.invoke(cli, ["check"])
    assert result.exit_code == 0, result.output
    assert "OK" in result.output


def test_a_case_row_changed_outside_the_services_is_named(db: Database, runner: CliRunner) -> None:
    case_id = _open_cases(db, 1)[0]
    with db.transaction() as uow:
        uow.session.execute(text("UPDATE cases SET status = 'closed' WHERE id = :id"), {"id": case_id})
    found = {
        (p.invariant, p.subject.split(" (")[0] if p.subject.startswith("case") else "task")
        for p in check_database(db)
    }
    assert ("case_status_differs_from_log", f"case {case_id}") in found
    assert ("sop_unfinished_on_finished_case", f"case {case_id}") in found
    assert ("open_task_on_finished_case", "task") in found  # the SOP's verification task is still open
    result = runner.invoke(cli, ["check"])
    assert result.exit_code == 1
    assert f"case_status_differs_from_log: case {case_id}" in result.output


def test_units_out_of_step_with_the_log_are_named(db: Database) -> None:
    case_id = _open_cases(db, 1)[0]
    with db.transaction() as uow:
        uow.session.execute(text("UPDATE units SET status = 'on_scene' WHERE code = 'DMK-01'"))
        uow.session.add(
            UnitAssignment(
                unit_code="AMB-01",
                case_id=case_id,
                kind="ambulance",
                dispatched_at=datetime.now(UTC),
                dispatched_by="tests",
            )
        )
    lines = [p.line() for p in check_database(db)]
    assert any(line.startswith("unit_busy_without_incident: unit DMK-01") for line in lines), lines
    assert any(
        line.startswith(f"unit_on_incident_without_dispatch_event: unit AMB-01 (case {case_id})")
        for line in lines
    ), lines
