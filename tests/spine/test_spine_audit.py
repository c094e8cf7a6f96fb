"""The event log's hash chain: real tampering with rows in the database is found and located."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from kotapintar.app.cli import app
from kotapintar.cases import service as case_service
from kotapintar.core.access.actors import channel_actor
from kotapintar.core.db.database import Database
from kotapintar.core.events.audit import verify_log
from kotapintar.core.settings import Settings, get_settings
from kotapintar.intake.submit import submit_report
from tests.helpers import actor, report


def _worked_case(db: Database, settings: Settings) -> int:
    case_id = submit_report(db, channel_actor("api"), report(), settings=settings).case_id
    op = actor(db, "operator")
    case_service.verify_case(db, op, case_id)
    case_service.add_note(db, op, case_id, "sudah ditelepon pelapor")
    case_service.resolve_case(db, op, case_id, "Ditambal")
    return case_id


def _event_ids(db: Database, case_id: int) -> list[int]:
    with db.reading() as uow:
        return [e.id for e in uow.events.stream_events(f"case:{case_id}")]


def _sql(db: Database, sql: str, **params: object) -> None:
    with db.engine.connect() as conn:
        conn.execute(text(sql), params)
        conn.commit()


def test_untouched_log_verifies(db: Database, settings: Settings) -> None:
    _worked_case(db, settings)
    result = verify_log(db)
    assert result.ok, result.problems
    assert result.events >= 5


def test_changed_payload_is_found(db: Database, settings: Settings) -> None:
    case_id = _worked_case(db, settings)
    note_id = _event_ids(db, case_id)[3]
    payload = '{"text": "tidak pernah ditelepon"}'
    _sql(db, "UPDATE events SET payload = :p WHERE id = :id", p=payload, id=note_id)
    result = verify_log(db)
    assert not result.ok
    [problem] = result.problems
    assert problem.event_id == note_id and problem.seq == 4
    assert "changed" in problem.problem


def test_deleted_row_in_the_middle_is_found(db: Database, settings: Settings) -> None:
    case_id = _worked_case(db, settings)
    ids = _event_ids(db, case_id)
    _sql(db, "DELETE FROM events WHERE id = :id", id=ids[2])
    [problem] = verify_log(db).problems
    assert problem.seq == 3 and "deleted" in problem.problem


def test_deleted_last_row_is_found_through_the_anchor(db: Database, settings: Settings) -> None:
    case_id = _worked_case(db, settings)
    _sql(db, "DELETE FROM events WHERE id = :id", id=_event_ids(db, case_id)[-1])
    [problem] = verify_log(db).problems
    assert "deleted" in problem.problem and problem.stream == f"case:{case_id}"


def test_reordered_rows_are_found(db: Database, settings: Settings) -> None:
    case_id = _worked_case(db, settings)
    a, b = _event_ids(db, case_id)[1:3]
    # Swap the order of two events by swapping their sequence numbers (through a free value).
    _sql(db, "UPDATE events SET seq = 999 WHERE id = :id", id=a)
    _sql(db, "UPDATE events SET seq = 2 WHERE id = :id", id=b)
    _sql(db, "UPDATE events SET seq = 3 WHERE id = :id", id=a)
    [problem] = verify_log(db).problems
    assert problem.seq == 2


def test_cli_exits_1_on_tampering(
    db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    case_id = _worked_case(db, settings)
    monkeypatch.setenv("KOTAPINTAR_DATABASE_URL", db.url)
    get_settings.cache_clear()
    try:
        ok = CliRunner().invoke(app, ["audit", "verify"])
        assert ok.exit_code == 0, ok.output
        assert "no tampering" in ok.output
        _sql(
            db, "UPDATE events SET actor = 'user:someone_else' WHERE id = :id", id=_event_ids(db, case_id)[2]
        )
        bad = CliRunner().invoke(app, ["audit", "verify"])
        assert bad.exit_code == 1
        assert f"case:{case_id} seq 3" in bad.output
    finally:
        get_settings.cache_clear()
