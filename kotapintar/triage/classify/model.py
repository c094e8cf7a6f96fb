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
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline

from kotapintar.cases.lifecycle import Priority
from kotapintar.core.errors import ValidationFailed
from kotapintar.triage.classify.dataset import Example, data_dir, examples_hash
from kotapintar.triage.classify.normalise import NORMALISER_VERSION, features_text
from kotapintar.triage.classify.urgency import assess_urgency

MODEL_FILE = "model.joblib"
META_FILE = "model.json"
# Below this confidence a report goes to the operator's triage queue with the top three suggestions.
# Measured on the held-out split (docs/triage.md): at 0.6, 86 % of reports are routed automatically and
# 94 % of those are right; the logistic model is over-confident, so lower values route almost everything.
DEFAULT_REVIEW_THRESHOLD = 0.6
MAX_TEXT_CHARS = 5000
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
        }


def build_pipeline(c: float = 20.0) -> Pipeline:
    """Untrained TF-IDF (char_wb 2-5 + word 1-2 n-grams) + multinomial logistic regression pipeline."""
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
    model = LogisticRegression(C=c, max_iter=3000, random_state=SEED)
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
        """Normalised texts as the model was trained on them."""
        return [features_text(t, stem=self.stem) for t in texts]

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray[Any, np.dtype[np.float64]]:
        """Class probabilities, one row per text, columns in `self.classes` order."""
        proba: np.ndarray[Any, np.dtype[np.float64]] = self.pipeline.predict_proba(self.prepare(texts))
        return proba

    def predict(self, texts: Sequence[str]) -> list[str]:
        """The most likely service code of each text."""
        proba = self.predict_proba(texts)
        return [self.classes[i] for i in proba.argmax(axis=1)]

    def classify_many(self, texts: Sequence[str]) -> list[Classification]:
        """Classify several texts at once (faster than one by one); each must be non-empty."""
        cleaned = [check_text(t) for t in texts]
        if not cleaned:
            return []
        proba = self.predict_proba(cleaned)
        results: list[Classification] = []
        for text, row in zip(cleaned, proba, strict=True):
            order = np.argsort(-row, kind="stable")[:3]
            alternatives = [(self.classes[i], float(row[i])) for i in order]
            service, confidence = alternatives[0]
            urgency = assess_urgency(service, text)
            results.append(
                Classification(
                    service=service,
                    urgency=urgency.priority,
                    confidence=confidence,
                    alternatives=alternatives,
                    cues=urgency.cues,
                    default_urgency=urgency.default,
                )
            )
        return results

    def classify(self, text: str) -> Classification:
        """Service, urgency, confidence, top-3 alternatives and urgency cues for one report text."""
        return self.classify_many([text])[0]


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


def train(examples: Sequence[Example], *, stem: bool = False, c: float = 20.0) -> Classifier:
    """Fit a classifier on `examples` (all of them: pass the train split only for evaluation)."""
    if not examples:
        raise ValidationFailed("Tidak ada contoh untuk melatih model.", code="no_training_data")
    texts = [features_text(e.text, stem=stem) for e in examples]
    labels = [e.service for e in examples]
    pipeline = build_pipeline(c=c)
    pipeline.fit(texts, labels)
    metadata: dict[str, Any] = {
        "approach": "tfidf-char_wb2-5+word1-2-logreg",
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
