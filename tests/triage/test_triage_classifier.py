"""Tests of the report classifier: shipped-model quality, urgency cues, normalisation, CLI, determinism."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import f1_score
from typer.testing import CliRunner

from kotapintar.cases.lifecycle import Priority
from kotapintar.core.errors import ValidationFailed
from kotapintar.triage.classify import Classification, Classifier
from kotapintar.triage.classify.corrections import read_corrections
from kotapintar.triage.classify.dataset import Example, load_examples, load_external, split_of
from kotapintar.triage.classify.model import train
from kotapintar.triage.classify.normalise import normalise
from kotapintar.triage.classify.urgency import SERVICE_CODES, assess_urgency
from kotapintar.triage.cli import app


@pytest.fixture(scope="module")
def clf() -> Classifier:
    return Classifier.load()


@pytest.fixture(scope="module")
def test_split() -> list[Example]:
    return [e for e in load_examples() if e.split == "test"]


def test_data_has_at_least_60_examples_per_service() -> None:
    examples = load_examples()
    for code in SERVICE_CODES:
        assert sum(e.service == code for e in examples) >= 60, code


def test_split_is_deterministic_and_about_a_fifth() -> None:
    examples = load_examples()
    share = sum(e.split == "test" for e in examples) / len(examples)
    assert 0.18 <= share <= 0.27
    assert all(split_of(e.text) == e.split for e in examples)


def test_shipped_model_macro_f1_on_held_out(clf: Classifier, test_split: list[Example]) -> None:
    predicted = clf.predict([e.text for e in test_split])
    truth = [e.service for e in test_split]
    # Target of the issue: macro-F1 >= 0.90 on the held-out split (measured 0.926, docs/triage.md).
    assert f1_score(truth, predicted, average="macro") >= 0.90


def test_shipped_model_was_trained_without_the_held_out_split(clf: Classifier) -> None:
    n_train = sum(e.split == "train" for e in load_examples())
    assert clf.metadata["n_examples"] == n_train
    assert clf.classes == sorted(SERVICE_CODES)


def test_external_style_set_is_not_in_training_data() -> None:
    training = {normalise(e.text) for e in load_examples()}
    assert not [e.text for e in load_external() if normalise(e.text) in training]


def test_contract_example(clf: Classifier) -> None:
    c = clf.classify("jln depan SDN 2 selat berlubang besar, bahaya")
    assert isinstance(c, Classification)
    assert c.service == "jalan_rusak"
    assert c.urgency == Priority.P2  # P3 default raised by "bahaya"
    assert 0.0 <= c.confidence <= 1.0
    assert len(c.alternatives) == 3 and c.alternatives[0] == (c.service, c.confidence)
    assert "bahaya" in c.cues


@pytest.mark.parametrize(
    ("text", "cue"),
    [
        ("lampu jalan mati, ada anak tenggelam di parit", "tenggelam"),
        ("sampah numpuk di pinggir sungai, tadi ada org hanyut", "hanyut"),
        ("jalan rusak parah, ada pengendara tdk sadarkan diri", "tidak sadarkan diri"),
        ("ktp sy hilang waktu rumah kebakaran, api membesar anak terjebak", "terjebak"),
        ("air pdam mati, anak sy hilang sejak pagi", "orang hilang"),
    ],
)
def test_life_threat_cue_raises_mundane_report_to_p1(clf: Classifier, text: str, cue: str) -> None:
    c = clf.classify(text)
    assert c.urgency == Priority.P1
    assert cue in [m.label for m in c.cue_matches]
    assert any(shown.startswith(cue) for shown in c.cues)


def test_negated_cue_does_not_raise() -> None:
    assert assess_urgency("jalan_rusak", "jalan berlubang, untung tidak ada korban").priority == Priority.P3
    assert assess_urgency("lampu_jalan", "lampu jalan mati di gang mawar").priority == Priority.P4


def test_severity_cue_raises_one_step_at_most_to_p2() -> None:
    assert assess_urgency("lampu_jalan", "tiang lampu miring, bahaya").priority == Priority.P3
    assert assess_urgency("drainase", "selokan meluap makin parah").priority == Priority.P2
    assert assess_urgency("kebakaran", "gudang terbakar").priority == Priority.P1


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("jln dket rmh sy gk bisa dilewati", "jalan dekat rumah saya tidak bisa dilewati"),
        ("TLG BGT, BANJIIIR", "tolong sekali banjir"),
        ("ulun kada kawa mandi, banyu pdam mati", "saya tidak bisa mandi air pdam mati"),
        ("anak2 udh blm pulang", "anak anak sudah belum pulang"),
    ],
)
def test_slang_normalisation(raw: str, expected: str) -> None:
    assert normalise(raw) == expected


def test_classify_cli_prints_one_json_per_line() -> None:
    stdin = "lampu jalan mati di jl pemuda\n\nPOHON TUMBANG DI JALAN TAMBUN BUNGAI\n"
    result = CliRunner().invoke(app, ["classify", "--threshold", "0.3"], input=stdin)
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert len(lines) == 3
    assert lines[0]["service"] == "lampu_jalan"
    assert set(lines[0]) >= {"service", "urgency", "confidence", "alternatives", "needs_review"}
    assert lines[1]["error"] == "empty_report_text"
    assert lines[2]["service"] == "pohon_tumbang"


def test_training_is_deterministic(test_split: list[Example]) -> None:
    train_split = [e for e in load_examples() if e.split == "train"]
    texts = [e.text for e in test_split]
    first = train(train_split).predict_proba(texts)
    second = train(train_split).predict_proba(texts)
    assert (first == second).all()


def test_needs_review_below_threshold(clf: Classifier) -> None:
    vague = clf.classify("tolong pak ada masalah di sini")
    clear = clf.classify("lampu jalan mati sdh seminggu di jl pemuda, gelap")
    assert vague.needs_review(threshold=max(vague.confidence + 0.01, 0.01))
    assert not clear.needs_review(threshold=clear.confidence - 0.01)
    assert clear.confidence > vague.confidence


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_empty_text_is_refused(clf: Classifier, text: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        clf.classify(text)
    assert info.value.code == "empty_report_text"


@settings(max_examples=40, deadline=None)
@given(st.text(min_size=1, max_size=200).filter(lambda s: s.strip()))
def test_any_text_gives_a_valid_classification(clf: Classifier, text: str) -> None:
    c = clf.classify(text)
    assert c.service in SERVICE_CODES
    probabilities = [p for _, p in c.alternatives]
    assert probabilities == sorted(probabilities, reverse=True) and sum(probabilities) <= 1.0 + 1e-6
    # The service's default is a floor only when triage is sure of the service and the text does not
    # place the emergency in the past (docs/triage.md, "priority under uncertainty"); a life threat is P1.
    if c.priority_reason == "bawaan_layanan":
        assert c.urgency.rank <= assess_urgency(c.service, "").default.rank
    if c.priority_reason == "ancaman_nyawa":
        assert c.urgency.rank == 1
    assert c.priority_reason in {
        "ancaman_nyawa",
        "bawaan_layanan",
        "bukan_kejadian_sekarang",
        "tanpa_korban",
        "tidak_pasti_darurat_sekarang",
        "tidak_pasti_alternatif",
        "tidak_pasti_darurat_tanpa_isyarat",
    }


def test_corrections_are_read_and_validated(tmp_path: Path) -> None:
    good = tmp_path / "good.jsonl"
    good.write_text(
        '{"text": "lampu merah mati di simpang", "service": "lalu_lintas", "urgency": "P3"}\n\n',
        encoding="utf-8",
    )
    [example] = read_corrections(good)
    assert example.service == "lalu_lintas" and example.split == "train"
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "x", "service": "tidak_ada"}\n', encoding="utf-8")
    with pytest.raises(ValidationFailed, match=":1:"):
        read_corrections(bad)
