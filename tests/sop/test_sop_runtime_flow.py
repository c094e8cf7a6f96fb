"""The SOP drives real cases on the database: fan-out and join, working-day due times, bukan wewenang,
LAPOR! answer approval, closure and versions pinned per case (SQLite and PostgreSQL)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kotapintar.cases import service as case_service
from kotapintar.cases.repository import CaseRepository, TaskRepository
from kotapintar.core.access.actors import channel_actor, system_actor
from kotapintar.core.db.database import Database
from kotapintar.core.errors import IllegalTransition, NotFound, PermissionDenied, ValidationFailed
from kotapintar.core.settings import Settings
from kotapintar.intake import submit as report_intake
from kotapintar.sop import tasks as sop_tasks
from kotapintar.sop.library import publish_sop
from kotapintar.sop.repository import SopRepository
from kotapintar.sop.scheduler import run_due_timers
from tests.helpers import actor, report

WIB = timedelta(hours=7)
_seq = itertools.count()


def distinct_report(service: str) -> Any:
    """A report triage will not take for a duplicate of the previous one (another place, other words)."""
    n = next(_seq)
    places = [
        "pasar lama",
        "SDN 4",
        "jembatan kayu",
        "puskesmas",
        "masjid raya",
        "terminal",
        "dermaga",
        "kantor desa",
    ]
    return report(
        service_code=service,
        channel="web",
        description=f"Laporan uji nomor {n} dekat {places[n % len(places)]}, mohon ditangani ({service}).",
        lon=114.30 + 0.03 * (n % 7),
        lat=-3.05 + 0.03 * (n % 5),
        reporter=None,
    )


def open_case(
    db: Database,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    service: str,
    at: datetime | None = None,
) -> int:
    """A case opened through intake, at `at` (the intake clock is pinned) or now."""
    if at is not None:
        monkeypatch.setattr(report_intake, "utcnow", lambda: at)
    try:
        return report_intake.submit_report(
            db, channel_actor("web"), distinct_report(service), settings=settings
        ).case_id
    finally:
        monkeypatch.undo()


def events(db: Database, case_id: int, *types: str) -> list[Any]:
    with db.reading() as uow:
        return [e for e in uow.events.for_case(case_id) if not types or e.type in types]


def open_task(db: Database, case_id: int, step: str, agency: str | None = None) -> Any:
    with db.reading() as uow:
        rows = [
            t
            for t in uow.repo(TaskRepository).for_case(case_id)
            if t.step_id == step
            and t.status in sop_tasks.OPEN_STATUSES
            and (agency is None or t.agency_code == agency)
        ]
    assert rows, f"no open task for step {step} ({agency})"
    return rows[0]


def case_status(db: Database, case_id: int) -> str:
    with db.reading() as uow:
        case = uow.repo(CaseRepository).get(case_id)
        assert case is not None
        return case.status


def test_flood_fans_out_to_bpbd_and_basarnas_and_joins(
    db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    case_id = open_case(db, settings, monkeypatch, "banjir")
    op, bpbd, basarnas, dinsos = (
        actor(db, u) for u in ("operator", "bpbd.petugas", "basarnas.liaison", "dinsos.petugas")
    )
    sop_tasks.complete_task(db, op, open_task(db, case_id, "disposisi").id)
    assert case_status(db, case_id) == "assigned"
    sop_tasks.accept_task(db, bpbd, open_task(db, case_id, "berangkatkan_unit").id)
    assert case_status(db, case_id) == "in_progress"
    sop_tasks.complete_task(db, bpbd, open_task(db, case_id, "berangkatkan_unit").id)
    # Fan-out: BPBD's TRC goes on scene while every supporting agency gets its own task.
    support = {
        t.agency_code: t for t in (open_task(db, case_id, "dukungan", a) for a in ("basarnas", "dinsos"))
    }
    arrive = open_task(db, case_id, "tiba_di_lokasi", "bpbd")
    with pytest.raises(NotFound) as other_agency:
        sop_tasks.complete_task(db, bpbd, support["basarnas"].id)
    assert "tidak ditemukan" in str(other_agency.value)
    with pytest.raises(ValidationFailed) as no_photo:
        sop_tasks.complete_task(db, bpbd, arrive.id)
    assert "foto" in no_photo.value.message
    sop_tasks.complete_task(db, bpbd, arrive.id, evidence=["foto"], refs=["media:1"])
    sop_tasks.complete_task(db, basarnas, support["basarnas"].id)
    with db.reading() as uow:
        assert not [t for t in uow.repo(TaskRepository).for_case(case_id) if t.step_id == "tangani"], (
            "join waits for Dinsos"
        )
    sop_tasks.complete_task(db, dinsos, support["dinsos"].id)
    handle = open_task(db, case_id, "tangani", "bpbd")  # the join opened exactly one task
    with db.reading() as uow:
        assert len([t for t in uow.repo(TaskRepository).for_case(case_id) if t.step_id == "tangani"]) == 1
    sop_tasks.complete_task(db, bpbd, handle.id, outputs={"terkendali": True, "korban": 0}, evidence=["foto"])
    sop_tasks.complete_task(
        db, bpbd, open_task(db, case_id, "laporan_kejadian").id, evidence=["foto", "dokumen"]
    )
    assert case_status(db, case_id) == "resolved"
    sop_tasks.confirm_closure(db, op, case_id)
    assert case_status(db, case_id) == "closed"
    created = [(e.payload["step"], e.payload["agency"]) for e in events(db, case_id, "task_created")]
    assert ("dukungan", "basarnas") in created and ("dukungan", "dinsos") in created
    metrics = events(db, case_id, "task_metric")
    assert {m.payload["name"] for m in metrics} == {"time_to_accept", "time_to_complete"}
    assert all(m.payload["met"] is True for m in metrics if m.payload["name"] == "time_to_complete")
    with db.reading() as uow:
        assert SopRepository(uow.session).timers_for_case(case_id) == []


def test_complaint_due_time_skips_weekend_and_national_holiday(
    db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Wednesday 13 May 2026, 10:00 WIB; Thu 14 May is Kenaikan Yesus Kristus, Fri 15 May cuti bersama.
    received = datetime(2026, 5, 13, 10, 0, tzinfo=UTC) - WIB
    case_id = open_case(db, settings, monkeypatch, "jalan_rusak", at=received)
    verify = open_task(db, case_id, "verifikasi")
    # 3 hari kerja: Mon 18, Tue 19, Wed 20 May → closing time 16:00 WIB on Wednesday 20 May.
    assert verify.due_at == datetime(2026, 5, 20, 16, 0, tzinfo=UTC) - WIB
    assert verify.agency_code == "diskominfo"
    created = events(db, case_id, "task_created")[0]
    assert created.payload["due_at"].startswith("2026-05-20T09:00")


def _to_disposition(db: Database, case_id: int) -> Any:
    op = actor(db, "operator")
    sop_tasks.accept_task(db, op, open_task(db, case_id, "verifikasi").id)
    sop_tasks.complete_task(db, op, open_task(db, case_id, "verifikasi").id, outputs={"lengkap": True})
    assert case_status(db, case_id) == "verified"
    sop_tasks.complete_task(db, op, open_task(db, case_id, "disposisi").id)
    assert case_status(db, case_id) == "assigned"
    return open_task(db, case_id, "tanggapi")


def test_bukan_wewenang_rejection_reroutes_and_stays_in_the_timeline(
    db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    case_id = open_case(db, settings, monkeypatch, "jalan_rusak")
    answer = _to_disposition(db, case_id)
    assert answer.agency_code == "pupr"
    pupr, op, dlh = actor(db, "pupr.petugas"), actor(db, "operator"), actor(db, "dlh.petugas")
    with pytest.raises(ValidationFailed):
        sop_tasks.reject_task(db, pupr, answer.id, "", "dlh")
    with pytest.raises(ValidationFailed):
        sop_tasks.reject_task(db, pupr, answer.id, "Jalan nasional, bukan jalan kabupaten", "nowhere")
    with pytest.raises(NotFound):
        sop_tasks.reject_task(db, dlh, answer.id, "bukan urusan kami sama sekali", "pupr")
    sop_tasks.reject_task(db, pupr, answer.id, "Saluran tersumbat sampah, wewenang DLH", "dlh")
    assert case_status(db, case_id) == "verified"
    notified = [
        e for e in events(db, case_id, "agency_notified") if e.payload["template"] == "reroute_needed"
    ]
    assert notified and notified[-1].payload["audience"] == "diskominfo.operator"
    sop_tasks.reroute_case(db, op, case_id, "dlh", "sesuai usulan PUPR")
    assert case_status(db, case_id) == "assigned"
    new = open_task(db, case_id, "tanggapi")
    assert new.agency_code == "dlh"
    assert [t.task.id for t in sop_tasks.task_inbox(db, dlh)] == [new.id]
    assert sop_tasks.task_inbox(db, pupr) == []
    rejected = events(db, case_id, "task_rejected")
    assert len(rejected) == 1
    assert rejected[0].actor == "user:pupr.petugas"
    assert rejected[0].payload["why"] == "Saluran tersumbat sampah, wewenang DLH"
    assert rejected[0].payload["suggested_agency"] == "dlh"
    rerouted = events(db, case_id, "case_rerouted")[0]
    assert rerouted.payload == {"from": "pupr", "to": "dlh", "reason": "sesuai usulan PUPR"}
    detail = case_service.case_detail(db, op, case_id)
    assert detail.agency_code == "dlh"
    assert [t.status for t in detail.tasks if t.step_id == "tanggapi"] == ["rejected", "pending"]


def test_lapor_answer_needs_the_pejabat_then_case_auto_closes_after_10_working_days(
    db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    case_id = open_case(db, settings, monkeypatch, "jalan_rusak")
    answer = _to_disposition(db, case_id)
    pupr, kepala, other_kepala = actor(db, "pupr.petugas"), actor(db, "pupr.kepala"), actor(db, "dlh.kepala")
    with pytest.raises(IllegalTransition) as direct:
        sop_tasks.complete_task(db, pupr, answer.id)
    assert "disetujui pejabat" in str(direct.value)
    sop_tasks.draft_answer(db, pupr, answer.id, "Lubang akan ditambal tim PUPR minggu ini.")
    citizen_texts = " ".join(str(e.payload["texts"]) for e in events(db, case_id, "citizen_notified"))
    assert "ditambal" not in citizen_texts, "the draft is not visible to the citizen before approval"
    with pytest.raises(PermissionDenied):
        sop_tasks.approve_answer(db, pupr, answer.id)
    with pytest.raises((PermissionDenied, NotFound)):  # the head of another agency does not even see it
        sop_tasks.approve_answer(db, other_kepala, answer.id)
    sop_tasks.approve_answer(db, kepala, answer.id)
    approved = events(db, case_id, "answer_approved")
    assert approved[0].actor == "user:pupr.kepala"
    citizen_texts = " ".join(str(e.payload["texts"]) for e in events(db, case_id, "citizen_notified"))
    assert "Lubang akan ditambal tim PUPR minggu ini." in citizen_texts
    work = open_task(db, case_id, "kerjakan")
    assert work.agency_code == "pupr"
    sop_tasks.add_task_progress(db, pupr, work.id, "Material disiapkan", evidence=["foto"], refs=["media:7"])
    assert case_status(db, case_id) == "in_progress"
    sop_tasks.complete_task(db, pupr, work.id, outputs={"tuntas": True})
    assert case_status(db, case_id) == "resolved"
    with db.reading() as uow:
        inst = SopRepository(uow.session).instance(case_id)
        assert inst is not None and inst.status == "awaiting_closure"
        resolved_at = uow.repo(CaseRepository).get(case_id).resolved_at  # type: ignore[union-attr]
    assert resolved_at is not None
    run_due_timers(db, now=resolved_at + timedelta(days=5))
    assert case_status(db, case_id) == "resolved", "not before 10 working days"
    run_due_timers(db, now=resolved_at + timedelta(days=20))
    assert case_status(db, case_id) == "closed"
    closed = events(db, case_id, "case_closed")
    assert len(closed) == 1 and "otomatis" in closed[0].payload["reason"]


def test_citizen_dispute_reopens_then_operator_confirms(
    db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    case_id = open_case(db, settings, monkeypatch, "jalan_rusak")
    answer = _to_disposition(db, case_id)
    pupr, kepala, op = actor(db, "pupr.petugas"), actor(db, "pupr.kepala"), actor(db, "operator")
    sop_tasks.draft_answer(db, pupr, answer.id, "Sudah dijadwalkan.")
    sop_tasks.approve_answer(db, kepala, answer.id)
    sop_tasks.complete_task(
        db, pupr, open_task(db, case_id, "kerjakan").id, outputs={"tuntas": True}, evidence=["foto"]
    )
    sop_tasks.confirm_closure(db, channel_actor("web"), case_id, satisfied=False, note="masih berlubang")
    assert case_status(db, case_id) == "in_progress"
    assert open_task(db, case_id, "kerjakan").agency_code == "pupr"
    sop_tasks.complete_task(
        db, pupr, open_task(db, case_id, "kerjakan").id, outputs={"tuntas": True}, evidence=["foto"]
    )
    sop_tasks.confirm_closure(db, op, case_id)
    assert case_status(db, case_id) == "closed"
    assert [e.payload["by"] for e in events(db, case_id, "closure_confirmed")] == ["citizen", "operator"]


def test_case_on_v1_keeps_v1_after_v2_is_published(
    db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    first = open_case(db, settings, monkeypatch, "jalan_rusak")
    with db.reading() as uow:
        v1 = SopRepository(uow.session).latest_version("jalan_rusak")
        assert v1 is not None
        source = v1.source
    changed = tmp_path / "jalan_rusak.yaml"
    changed.write_text(
        source.replace(
            "waktu: 1 hari kerja\n  output: Disposisi ke OPD",
            "waktu: 2 hari kerja\n  output: Disposisi ke OPD",
        ),
        encoding="utf-8",
    )
    assert changed.read_text(encoding="utf-8") != source
    admin = system_actor("tests")
    result = publish_sop(db, admin, changed)
    assert result.created and result.version == v1.version + 1
    assert not publish_sop(db, admin, changed).created, "same content: no new version"
    second = open_case(db, settings, monkeypatch, "jalan_rusak")
    with db.reading() as uow:
        repo = SopRepository(uow.session)
        assert repo.instance(first).sop_version == v1.version  # type: ignore[union-attr]
        assert repo.instance(second).sop_version == result.version  # type: ignore[union-attr]
    op = actor(db, "operator")
    for case_id in (first, second):
        sop_tasks.complete_task(db, op, open_task(db, case_id, "verifikasi").id, outputs={"lengkap": True})
    d1, d2 = open_task(db, first, "disposisi"), open_task(db, second, "disposisi")
    assert d2.due_at > d1.due_at, "the v2 standard (2 working days) applies only to the new case"
    assert sop_tasks.case_sop_progress(db, op, first).sop_version == v1.version
    progress = sop_tasks.case_sop_progress(db, op, second)
    assert {s.step_id: s.status for s in progress.steps}["verifikasi"] == "done"
    assert {s.step_id: s.status for s in progress.steps}["disposisi"] == "running"


def test_cli_diff_and_render_read_the_published_versions(db: Database, tmp_path: Any) -> None:
    from typer.testing import CliRunner

    from kotapintar.sop import cli as sop_commands
    from kotapintar.sop.library import DatabaseVersionSource, publish_shipped_sops

    publish_shipped_sops(db, system_actor("tests"))
    with db.reading() as uow:
        v1 = SopRepository(uow.session).latest_version("sampah")
        assert v1 is not None
        source = v1.source
    changed = tmp_path / "sampah.yaml"
    changed.write_text(source.replace("judul: ", "judul: Revisi ", 1), encoding="utf-8")
    v2 = publish_sop(db, system_actor("tests"), changed).version
    sop_commands.set_version_source(DatabaseVersionSource(db))
    try:
        runner = CliRunner()
        out = runner.invoke(sop_commands.app, ["diff", "sampah", str(v1.version), f"v{v2}"])
        assert out.exit_code == 0, out.output
        assert "judul" in out.output and "Revisi" in out.output
        svg = runner.invoke(
            sop_commands.app, ["render", "sampah", "--format", "svg", "--version", str(v1.version)]
        )
        assert svg.exit_code == 0 and svg.output.startswith("<svg") and "Revisi" not in svg.output
        missing = runner.invoke(sop_commands.app, ["diff", "sampah", "1", "99"])
        assert missing.exit_code == 1
    finally:
        sop_commands._version_source = None
