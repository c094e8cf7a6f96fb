"""`kotapintar triage promote`: a candidate must not be worse than the current model; promotion is an event."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from kotapintar.core.access.actors import system_actor
from kotapintar.core.db.database import Database
from kotapintar.core.errors import ValidationFailed
from kotapintar.core.events.types import EventType
from kotapintar.triage.classify.dataset import data_dir
from kotapintar.triage.classify.model import MODEL_FILE
from kotapintar.triage.classify.promotion import check_promotion
from kotapintar.triage.classify.realstyle import EndToEnd
from kotapintar.triage.cli import app
from kotapintar.triage.promotion import promote_model

SHIPPED = data_dir() / MODEL_FILE


def figures(**changes: Any) -> EndToEnd:
    base = EndToEnd(
        name="x", n=100, macro_f1=0.92, accuracy=0.92, per_code={}, p1_recall=1.0, p1_total=20,
        false_p1_rate=0.02, non_urgent_total=80, review_share=0.1, forwarded_accuracy=0.95, p50_ms=3.0,
        confusions=[],
    )  # fmt: skip
    return replace(base, **changes)


def test_candidate_that_loses_a_life_threat_is_refused() -> None:
    check = check_promotion(figures(), figures(p1_recall=0.95, macro_f1=0.95))
    assert not check.allowed and "recall P1" in check.problems[0]


def test_candidate_with_more_false_p1_is_refused() -> None:
    assert not check_promotion(figures(), figures(false_p1_rate=0.03)).allowed


def test_candidate_within_noise_on_macro_f1_is_allowed() -> None:
    assert check_promotion(figures(), figures(macro_f1=0.915)).allowed
    assert not check_promotion(figures(), figures(macro_f1=0.90)).allowed


def copy_model(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / MODEL_FILE
    shutil.copyfile(SHIPPED, target)
    shutil.copyfile(SHIPPED.with_suffix(".json"), target.with_suffix(".json"))
    return target


def test_promotion_replaces_the_files_and_is_an_event(db: Database, tmp_path: Path) -> None:
    target = tmp_path / "live" / MODEL_FILE
    target.parent.mkdir()
    target.write_bytes(b"old model")
    target.with_suffix(".json").write_text("{}", encoding="utf-8")
    candidate = copy_model(tmp_path / "candidate")
    done = promote_model(db, system_actor("test"), candidate, target, {"macro_f1": 0.92})
    assert target.read_bytes() == SHIPPED.read_bytes()
    assert target.with_suffix(".json").read_text(encoding="utf-8") == SHIPPED.with_suffix(".json").read_text(
        encoding="utf-8"
    )
    with db.reading() as uow:
        [event] = list(uow.events.of_type(EventType.TRIAGE_MODEL_PROMOTED))
    assert event.payload["sha256"] == done.sha256 and event.payload["previous_sha256"] == done.previous_sha256
    assert event.payload["figures"] == {"macro_f1": 0.92} and event.payload["forced"] is False


def test_promote_command_compares_before_it_replaces(tmp_path: Path) -> None:
    candidate = copy_model(tmp_path / "candidate")
    small = tmp_path / "kecil.yaml"
    small.write_text("kebakaran:\n  - 'P1 | rumah terbakar, api besar'\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["promote", str(candidate), "--set", str(small), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "SEKARANG" in result.output and "KANDIDAT" in result.output and "DITOLAK" not in result.output


@pytest.mark.parametrize("missing", ["model", "meta"])
def test_incomplete_candidate_is_refused(db: Database, tmp_path: Path, missing: str) -> None:
    candidate = copy_model(tmp_path / "candidate")
    (candidate if missing == "model" else candidate.with_suffix(".json")).unlink()
    with pytest.raises(ValidationFailed, match="tidak lengkap"):
        promote_model(db, system_actor("test"), candidate, tmp_path / "t" / MODEL_FILE, {})
