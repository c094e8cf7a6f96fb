"""The report classifier: character and word n-gram TF-IDF with logistic regression; train, save, load, predict."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import sklearn
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, softmax
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import FeatureUnion, Pipeline

from kotapintar.cases.lifecycle import Priority
from kotapintar.core.errors import ValidationFailed
from kotapintar.triage.classify.dataset import Example, data_dir, examples_hash
from kotapintar.triage.classify.letters import focus, model_view, segments
from kotapintar.triage.classify.normalise import NORMALISER_VERSION, features_text
from kotapintar.triage.classify.priority import decide_priority
from kotapintar.triage.classify.urgency import CueMatch

MODEL_FILE = "model.joblib"
META_FILE = "model.json"
# Below this confidence a report goes to the operator's triage queue with the top three suggestions.
# Measured on the held-out split (docs/triage.md): at 0.6, 86 % of reports are routed automatically and
# 94 % of those are right; the logistic model is over-confident, so lower values route almost everything.
DEFAULT_REVIEW_THRESHOLD = 0.6
MAX_TEXT_CHARS = 5000
# Calibration of the shipped model (docs/triage.md, "Perbandingan model v3").
SHIPPED_CALIBRATION: str | None = "temperature"
CALIBRATIONS = ("temperature", "sigmoid", "isotonic")
SEED = 20260101


@dataclass(frozen=True)
class Classification:
    """What triage suggests for one report: service, urgency, confidence, alternatives and urgency cues."""

    service: str
    urgency: Priority
    confidence: float
    alternatives: list[tuple[str, float]]
    cues: list[str] = field(default_factory=list)
    default_urgency: Priority = Priority.P4
    # Other services a multi-issue text names (suggestions for the operator), best first.
    others: list[str] = field(default_factory=list)
    # Why this priority (priority.PriorityDecision.reason) and the cues with the reporter's words.
    priority_reason: str = "bawaan_layanan"
    cue_matches: tuple[CueMatch, ...] = ()

    def needs_review(self, threshold: float = DEFAULT_REVIEW_THRESHOLD) -> bool:
        """True when the confidence is below `threshold`: an operator must confirm the service."""
        return self.confidence < threshold

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready form (the `kotapintar triage classify` output)."""
        return {
            "service": self.service,
            "urgency": self.urgency.value,
            "confidence": round(self.confidence, 4),
            "alternatives": [[code, round(p, 4)] for code, p in self.alternatives],
            "cues": self.cues,
            "others": self.others,
            "priority_reason": self.priority_reason,
        }


def build_pipeline(c: float = 20.0, calibration: str | None = None) -> Pipeline:
    """Untrained TF-IDF (char_wb 2-5 + word 1-2 n-grams) + multinomial logistic regression pipeline.

    With `calibration` "sigmoid" or "isotonic" the regression is wrapped in a 5-fold
    CalibratedClassifierCV (compared in docs/triage.md; both made the model under-confident here).
    "temperature" keeps the plain regression: `train` fits one temperature on out-of-fold scores instead.
    """
    features = FeatureUnion(
        [
            (
                "char",
                TfidfVectorizer(
                    analyzer="char_wb", ngram_range=(2, 5), min_df=2, sublinear_tf=True, dtype=np.float32
                ),
            ),
            (
                "word",
                TfidfVectorizer(
                    analyzer="word",
                    ngram_range=(1, 2),
                    min_df=1,
                    sublinear_tf=True,
                    token_pattern=r"(?u)\b\w+\b",
                    dtype=np.float32,
                ),
            ),
        ]
    )
    model: Any = LogisticRegression(C=c, max_iter=3000, random_state=SEED)
    if calibration in {"sigmoid", "isotonic"}:
        model = CalibratedClassifierCV(model, method=calibration, cv=5, ensemble=False)
    return Pipeline([("features", features), ("model", model)])


def check_text(text: str) -> str:
    """The text stripped; raises ValidationFailed when it is empty, blank or too long."""
    if not isinstance(text, str) or not text.strip():
        raise ValidationFailed(
            "Teks laporan kosong: tulis apa yang terjadi dan di mana. (Report text is empty.)",
            code="empty_report_text",
        )
    if len(text) > MAX_TEXT_CHARS:
        raise ValidationFailed(
            f"Teks laporan terlalu panjang (maksimum {MAX_TEXT_CHARS} karakter). (Report text too long.)",
            code="report_text_too_long",
        )
    return text.strip()


class Classifier:
    """A trained classifier with its metadata; classify() gives a Classification for one text."""

    def __init__(self, pipeline: Pipeline, metadata: dict[str, Any]) -> None:
        self.pipeline = pipeline
        self.metadata = metadata
        self.stem: bool = bool(metadata.get("stem", False))
        self.classes: list[str] = [str(c) for c in pipeline.classes_]

    @classmethod
    def load(cls, path: Path | None = None) -> Classifier:
        """The model at `path` (a .joblib with its .json beside it); default the shipped one, cached."""
        return _load_cached(str(path or data_dir() / MODEL_FILE))

    def prepare(self, texts: Sequence[str]) -> list[str]:
        """Normalised texts as the model was trained on them (long letters without their formulas)."""
        return [features_text(model_view(t), stem=self.stem) for t in texts]

    def _raw_proba(self, texts: Sequence[str]) -> np.ndarray[Any, np.dtype[np.float64]]:
        """Probabilities of the texts as given (no complaint focus), temperature-scaled when calibrated."""
        temperature = float(self.metadata.get("temperature") or 1.0)
        if temperature == 1.0:
            proba: np.ndarray[Any, np.dtype[np.float64]] = self.pipeline.predict_proba(self.prepare(texts))
            return proba
        scores = self.pipeline.decision_function(self.prepare(texts))
        return np.asarray(softmax(np.asarray(scores, dtype=np.float64) / temperature, axis=1))

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray[Any, np.dtype[np.float64]]:
        """Class probabilities, one row per text, columns in `self.classes` order.

        A long text whose complaint sentences are only part of its body is read twice, as a whole and as
        its complaint sentences, and the two distributions are averaged: the body keeps the context, the
        complaint keeps the letter's point from drowning in it.
        """
        views: list[str] = []
        owners: list[int] = []
        for index, text in enumerate(texts):
            views.append(text)
            owners.append(index)
            complaint = focus(text) if self.metadata.get("focus", False) else None
            if complaint:
                views.append(complaint)
                owners.append(index)
        raw = self._raw_proba(views)
        if len(views) == len(texts):
            return raw
        sums = np.zeros((len(texts), raw.shape[1]))
        counts = np.zeros(len(texts))
        np.add.at(sums, owners, raw)
        np.add.at(counts, owners, 1.0)
        return sums / counts[:, None]

    def predict(self, texts: Sequence[str]) -> list[str]:
        """The most likely service code of each text."""
        proba = self.predict_proba(texts)
        return [self.classes[i] for i in proba.argmax(axis=1)]

    def other_issues(self, text: str, main: str, min_probability: float = 0.5) -> list[str]:
        """Services other than `main` that a multi-issue text names, one per segment that is sure of it."""
        parts = segments(text)
        if len(parts) < 2:
            return []
        proba = self._raw_proba(parts)
        others: list[str] = []
        for row in proba:
            best = int(row.argmax())
            code = self.classes[best]
            if row[best] >= min_probability and code != main and code not in others:
                others.append(code)
        return others

    def classify_many(
        self, texts: Sequence[str], *, threshold: float = DEFAULT_REVIEW_THRESHOLD
    ) -> list[Classification]:
        """Classify several texts at once (faster than one by one); each must be non-empty.

        The priority follows priority.decide_priority: the guessed service's default counts only when
        the guess is confident (≥ `threshold`); a life threat is P1 whatever the guess.
        """
        cleaned = [check_text(t) for t in texts]
        if not cleaned:
            return []
        proba = self.predict_proba(cleaned)
        results: list[Classification] = []
        for text, row in zip(cleaned, proba, strict=True):
            order = np.argsort(-row, kind="stable")[:3]
            alternatives = [(self.classes[i], float(row[i])) for i in order]
            service, confidence = alternatives[0]
            decision = decide_priority(
                text, alternatives, confident=confidence >= threshold, severity_raises=True
            )
            results.append(
                Classification(
                    service=service,
                    urgency=decision.priority,
                    confidence=confidence,
                    alternatives=alternatives,
                    cues=decision.urgency.cues,
                    default_urgency=decision.urgency.default,
                    others=self.other_issues(text, service),
                    priority_reason=decision.reason,
                    cue_matches=decision.urgency.matches,
                )
            )
        return results

    def classify(self, text: str, *, threshold: float = DEFAULT_REVIEW_THRESHOLD) -> Classification:
        """Service, urgency, confidence, top-3 alternatives and urgency cues for one report text."""
        return self.classify_many([text], threshold=threshold)[0]


@lru_cache(maxsize=4)
def _load_cached(path: str) -> Classifier:
    model_path = Path(path)
    meta_path = model_path.with_suffix(".json")
    if not model_path.exists() or not meta_path.exists():
        raise ValidationFailed(
            f"Model triage tidak ditemukan: {model_path} (jalankan `kotapintar triage train`).",
            code="triage_model_missing",
        )
    metadata = json.loads(meta_path.read_text(encoding="utf-8"))
    if metadata.get("normaliser_version") != NORMALISER_VERSION:
        raise ValidationFailed(
            "Model triage dilatih dengan normalisasi versi lain; latih ulang dengan `kotapintar triage train`.",
            code="triage_model_stale",
        )
    # joblib uses pickle: only ever load files this project wrote (the shipped model or a local candidate).
    pipeline = joblib.load(model_path)
    return Classifier(pipeline, metadata)


def train(
    examples: Sequence[Example],
    *,
    stem: bool = False,
    c: float = 20.0,
    calibration: str | None = SHIPPED_CALIBRATION,
    use_focus: bool = True,
) -> Classifier:
    """Fit a classifier on `examples` (all of them: pass the train split only for evaluation)."""
    if not examples:
        raise ValidationFailed("Tidak ada contoh untuk melatih model.", code="no_training_data")
    texts = [features_text(model_view(e.text), stem=stem) for e in examples]
    labels = [e.service for e in examples]
    if calibration is not None and calibration not in CALIBRATIONS:
        raise ValidationFailed(f"Kalibrasi tidak dikenal: {calibration!r}", code="unknown_calibration")
    pipeline = build_pipeline(c=c, calibration=calibration)
    temperature = fit_temperature(texts, labels, c=c) if calibration == "temperature" else None
    pipeline.fit(texts, labels)
    approach = "tfidf-char_wb2-5+word1-2-logreg" + (f"+calibrated-{calibration}" if calibration else "")
    metadata: dict[str, Any] = {
        "approach": approach,
        "calibration": calibration,
        "temperature": temperature,
        "focus": use_focus,
        "training_data_sha256": examples_hash(list(examples)),
        "n_examples": len(examples),
        "classes": [str(x) for x in pipeline.classes_],
        "sklearn_version": sklearn.__version__,
        "normaliser_version": NORMALISER_VERSION,
        "stem": stem,
        "C": c,
        "seed": SEED,
    }
    return Classifier(pipeline, metadata)


def fit_temperature(texts: Sequence[str], labels: Sequence[str], *, c: float = 20.0) -> float:
    """One temperature T for softmax(scores / T), fitted on 5-fold out-of-fold scores of the training data.

    Temperature scaling (Guo et al., 2017) keeps the ranking of the classes and only stretches or
    flattens the probabilities until their log-loss on unseen folds is lowest; with one parameter it
    cannot overfit a small data set the way per-class sigmoid/isotonic calibrators do.
    """
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=SEED)
    scores = cross_val_predict(
        build_pipeline(c=c), list(texts), list(labels), cv=folds, method="decision_function"
    )
    classes = sorted(set(labels))
    truth = np.array([classes.index(label) for label in labels])
    rows = np.arange(len(truth))

    def loss(t: float) -> float:
        return float(-log_softmax(scores / t, axis=1)[rows, truth].mean())

    result = minimize_scalar(loss, bounds=(0.2, 5.0), method="bounded")
    return round(float(result.x), 4)


def save(classifier: Classifier, path: Path) -> str:
    """Write the model (joblib, compressed) and its JSON metadata beside it; returns the model's SHA-256."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for _, vectorizer in classifier.pipeline.named_steps["features"].transformer_list:
        # sklearn caches id() of the stop-word list: a memory address that would make the bytes of two
        # identical trainings differ. Dropping it only re-runs a consistency check on next use.
        vectorizer.__dict__.pop("_stop_words_id", None)
    joblib.dump(classifier.pipeline, path, compress=("xz", 6))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    metadata = {**classifier.metadata, "model_sha256": digest}
    path.with_suffix(".json").write_text(
        json.dumps(metadata, indent=2, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8"
    )
    _load_cached.cache_clear()
    return digest
