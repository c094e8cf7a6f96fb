"""Operators' corrections: events, case changes, the API, export and a retrained candidate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from kotapintar.app.reference import DEMO_PASSWORD
from kotapintar.app.web import create_app
from kotapintar.cases.service import case_detail
from kotapintar.core.access.actors import channel_actor
from kotapintar.core.db.database import Database
from kotapintar.core.errors import PermissionDenied
from kotapintar.core.settings import Settings
from kotapintar.intake.submit import submit_report
from kotapintar.triage.classify.corrections import read_corrections
from kotapintar.triage.corrections import correct_triage, export_corrections, triage_queue
from tests.helpers import actor, report


def test_correction_changes_the_case_and_is_exported(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    unsure = settings.model_copy(update={"triage_review_threshold": 0.999})
    text = "air naik terus masuk rumah warga di gang mawar"
    result = submit_report(
        db, channel_actor("web"), report(service_code="drainase", description=text), settings=unsure
    )
    op = actor(db, "operator")
    done = correct_triage(db, op, result.case_id, service="banjir", priority="P2")
    assert (done.previous_service, done.service, done.priority) == ("drainase", "banjir", "P2")
    detail = case_detail(db, op, result.case_id)
    assert (detail.service_code, detail.priority) == ("banjir", "P2")
    types = [e.type for e in detail.timeline]
    assert {"service_changed", "priority_changed", "triage_corrected"} <= set(types)
    assert all(result.case_id != i.case_id for i in triage_queue(db, op))  # handled: out of the queue
    out = tmp_path / "corrections.jsonl"
    assert export_corrections(db, out) == 1
    line = json.loads(out.read_text(encoding="utf-8").splitlines()[0])
    assert line == {"text": text, "service": "banjir", "urgency": "P2"}
    examples = read_corrections(out)
    assert examples[0].service == "banjir" and examples[0].split == "train"


def test_agency_staff_may_not_correct(db: Database, settings: Settings) -> None:
    result = submit_report(db, channel_actor("web"), report(), settings=settings)
    with pytest.raises(PermissionDenied):
        correct_triage(db, actor(db, "pupr.petugas"), result.case_id, priority="P1")


def test_api_correction_and_queue(db: Database, settings: Settings) -> None:
    # No point and no known place: the case waits in the triage queue (location unknown).
    result = submit_report(
        db,
        channel_actor("web"),
        report(service_code="jalan_rusak", description="ada masalah di sini", lon=None, lat=None),
        settings=settings,
    )
    with TestClient(create_app(settings, db=db)) as client:
        token = client.post("/api/v1/auth/token", data={"username": "operator", "password": DEMO_PASSWORD})
        assert token.status_code == 200, token.text
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        queue = client.get("/api/v1/triage/queue", headers=headers)
        assert queue.status_code == 200
        assert any(item["case_id"] == result.case_id for item in queue.json())
        fixed = client.post(
            f"/api/v1/cases/{result.case_id}/triage", json={"service": "lainnya"}, headers=headers
        )
        assert fixed.status_code == 200, fixed.text
        assert fixed.json()["service"] == "lainnya"
        bad = client.post(f"/api/v1/cases/{result.case_id}/triage", json={"priority": "P9"}, headers=headers)
        assert bad.status_code == 422
        anonymous = client.get("/api/v1/triage/queue")
        assert anonymous.status_code == 401


def test_retrain_candidate_with_exported_corrections(tmp_path: Path) -> None:
    from kotapintar.triage.cli import app

    corrections = tmp_path / "c.jsonl"
    corrections.write_text(
        json.dumps({"text": "titian ulin ka sakolah rabah", "service": "jembatan_rusak", "urgency": "P3"})
        + "\n",
        encoding="utf-8",
    )
    out = tmp_path / "candidate.joblib"
    run = CliRunner().invoke(app, ["train", "--with-corrections", str(corrections), "--out", str(out)])
    assert run.exit_code == 0, run.output
    assert out.exists() and "SESUDAH" in run.output
