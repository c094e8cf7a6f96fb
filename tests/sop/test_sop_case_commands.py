"""The operator's case commands are SOP events: verify completes the SOP's verification step, reject and merge
stop the SOP at once, resolve + close finish it; `kotapintar check` stays clean after each (issue 14, item 1)."""

from __future__ import annotations

from kotapintar.cases import service as case_service
from kotapintar.cases.repository import TaskRepository
from kotapintar.core.access.actors import channel_actor
from kotapintar.core.db.database import Database
from kotapintar.intake.submit import submit_report
from kotapintar.sop.repository import SopRepository
from tests.helpers import actor, assert_invariants, report, spot


def _open(db: Database, n: int = 0) -> int:
    return submit_report(db, channel_actor("web"), report(**spot(n))).case_id


def _sop(db: Database, case_id: int) -> tuple[str, dict[str, str]]:
    with db.reading() as uow:
        row = uow.repo(SopRepository).instance(case_id)
        assert row is not None
        return row.status, {k: v["status"] for k, v in row.state["steps"].items()}


def _task_status(db: Database, case_id: int, step: str) -> list[str]:
    with db.reading() as uow:
        return [t.status for t in uow.repo(TaskRepository).for_case(case_id) if t.step_id == step]


def test_verify_completes_the_sops_verification_step(db: Database) -> None:
    case_id = _open(db)
    assert _task_status(db, case_id, "verifikasi") == ["pending"]
    summary = case_service.verify_case(db, actor(db, "operator"), case_id, note="lokasi jelas")
    assert summary.status == "verified"
    assert _task_status(db, case_id, "verifikasi") == ["done"]  # not left pending to go late and escalate
    status, steps = _sop(db, case_id)
    assert status == "running" and steps["verifikasi"] == "done" and steps["disposisi"] == "active"
    assert_invariants(db)


def test_reject_and_merge_stop_the_sop_at_once(db: Database) -> None:
    op = actor(db, "operator")
    rejected, duplicate, survivor = _open(db, 0), _open(db, 3), _open(db, 6)
    case_service.reject_case(db, op, rejected, "bukan pengaduan, hanya pertanyaan")
    case_service.merge_case(db, op, duplicate, survivor, reason="laporan yang sama")
    for case_id in (rejected, duplicate):
        status, _steps = _sop(db, case_id)
        assert status == "cancelled"
        assert "pending" not in _task_status(db, case_id, "verifikasi")
    assert _sop(db, survivor)[0] == "running"
    assert_invariants(db)


def test_resolve_then_close_finishes_the_sop(db: Database) -> None:
    op = actor(db, "operator")
    case_id = _open(db)
    case_service.verify_case(db, op, case_id)
    case_service.resolve_case(db, op, case_id, "Lubang sudah ditambal oleh tim PUPR")
    assert _sop(db, case_id)[0] == "awaiting_closure"
    case_service.close_case(db, op, case_id, note="dicek di lapangan")
    assert _sop(db, case_id)[0] == "closed"
    assert_invariants(db)
