"""End-to-end triage evaluation on a set labelled with service *and* priority (the real-style set).

The held-out split measures the category model alone. What an operator lives with is the whole decision:
which service, which priority, and whether the report is forwarded or sent to review. This module loads a
set where every text carries a hand-labelled priority (and optionally trap tags and the other services a
multi-issue letter mentions) and scores any `Decider` on it: per-code precision/recall, macro-F1, P1
recall, the false-P1 rate among non-urgent texts, the review share, the accuracy of what was forwarded,
a confusion list, the result of every trap and the latency per text.
"""

from __future__ import annotations

import re
import statistics
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sklearn.metrics import f1_score, precision_recall_fscore_support

from kotapintar.cases.lifecycle import Priority
from kotapintar.core.errors import ValidationFailed
from kotapintar.triage.classify.dataset import data_dir
from kotapintar.triage.classify.urgency import SERVICE_CODES

REALSTYLE_FILE = "realstyle_eval.yaml"
# "P3 #dbd #minta-tolong +sampah,drainase | text": priority, trap tags, other services mentioned.
_ITEM = re.compile(r"^(P[1-4])((?:\s+[#+][\w,\-]+)*)\s*\|\s*(.+)$", re.DOTALL)


@dataclass(frozen=True)
class LabelledReport:
    """One text of an end-to-end set: its main service, its priority and what makes it hard."""

    text: str
    service: str
    priority: Priority
    tags: tuple[str, ...] = ()
    also: tuple[str, ...] = ()

    @property
    def is_trap(self) -> bool:
        """True for a tagged hard case (the tags name the trap, e.g. `dbd`, `rawan`, `lampau`)."""
        return bool(self.tags)


@dataclass(frozen=True)
class Decision:
    """What a triage pipeline decided for one text (the parts an operator sees)."""

    service: str
    priority: Priority
    needs_review: bool
    confidence: float
    cues: tuple[str, ...] = ()
    others: tuple[str, ...] = ()


Decider = Callable[[str], Decision]


def parse_labelled(item: str, service: str, where: str) -> LabelledReport:
    """One `"P3 #tag +code | text"` item; refuses a missing priority or an unknown extra service code."""
    match = _ITEM.match(item.strip())
    if not match:
        raise ValidationFailed(f"{where}: butir tanpa urgensi `P1..P4 | teks`: {item[:60]!r}")
    tags: list[str] = []
    also: list[str] = []
    for token in match.group(2).split():
        if token.startswith("#"):
            tags.append(token[1:])
        else:
            for code in token[1:].split(","):
                if code not in SERVICE_CODES:
                    raise ValidationFailed(f"{where}: kode layanan tambahan tidak dikenal: {code!r}")
                also.append(code)
    return LabelledReport(match.group(3).strip(), service, Priority(match.group(1)), tuple(tags), tuple(also))


def load_labelled(path: Path | None = None) -> list[LabelledReport]:
    """The real-style set (default) or another file in its format: service → list of labelled items."""
    source = path or data_dir() / REALSTYLE_FILE
    raw = yaml.safe_load(source.read_text(encoding="utf-8"))
    if not isinstance(raw, dict):
        raise ValidationFailed(f"{source}: harus pemetaan kode layanan → daftar teks")
    reports: list[LabelledReport] = []
    for service, items in raw.items():
        if service not in SERVICE_CODES:
            raise ValidationFailed(f"{source}: kode layanan tidak dikenal: {service!r}")
        for item in items or []:
            if not isinstance(item, str):
                raise ValidationFailed(f"{source}: butir di {service!r} bukan teks: {item!r}")
            reports.append(parse_labelled(item, service, str(source)))
    return reports


@dataclass(frozen=True)
class TrapResult:
    """One tagged hard case: was its service and its priority right?"""

    report: LabelledReport
    decision: Decision

    @property
    def ok(self) -> bool:
        """Right service (or sent to review) and the right side of the P1 line."""
        service_ok = self.decision.service == self.report.service or self.decision.needs_review
        p1_ok = (self.decision.priority == Priority.P1) == (self.report.priority == Priority.P1)
        return service_ok and p1_ok


@dataclass
class EndToEnd:
    """The figures of one decider on one labelled set (the issue's targets, plus what explains them)."""

    name: str
    n: int
    macro_f1: float
    accuracy: float
    per_code: dict[str, tuple[float, float, int]]  # precision, recall, support
    p1_recall: float
    p1_total: int
    false_p1_rate: float
    non_urgent_total: int
    review_share: float
    forwarded_accuracy: float
    p50_ms: float
    confusions: list[tuple[str, str, int]]
    calibration_error: float = 0.0  # expected calibration error of the top confidence (10 bins)
    missed_p1: list[str] = field(default_factory=list)
    false_p1: list[str] = field(default_factory=list)
    traps: list[TrapResult] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The headline figures as plain numbers (benchmark JSON, docs tables)."""
        return {
            "name": self.name,
            "n": self.n,
            "macro_f1": round(self.macro_f1, 4),
            "accuracy": round(self.accuracy, 4),
            "p1_recall": round(self.p1_recall, 4),
            "p1_total": self.p1_total,
            "false_p1_rate": round(self.false_p1_rate, 4),
            "non_urgent_total": self.non_urgent_total,
            "review_share": round(self.review_share, 4),
            "forwarded_accuracy": round(self.forwarded_accuracy, 4),
            "p50_ms": round(self.p50_ms, 2),
            "calibration_error": round(self.calibration_error, 4),
            "traps_ok": sum(t.ok for t in self.traps),
            "traps_total": len(self.traps),
        }


def evaluate_decider(name: str, decide: Decider, reports: Sequence[LabelledReport]) -> EndToEnd:
    """Run `decide` on every text once (timed one by one, as live reports arrive) and score it."""
    decisions: list[Decision] = []
    timings: list[float] = []
    for report in reports:
        start = time.perf_counter()
        decisions.append(decide(report.text))
        timings.append((time.perf_counter() - start) * 1000)
    truth = [r.service for r in reports]
    predicted = [d.service for d in decisions]
    present = sorted(set(truth))
    precision, recall, _, support = precision_recall_fscore_support(
        truth, predicted, labels=present, zero_division=0
    )
    per_code = {
        code: (float(p), float(r), int(s))
        for code, p, r, s in zip(present, precision, recall, support, strict=True)
    }
    urgent = [(r, d) for r, d in zip(reports, decisions, strict=True) if r.priority == Priority.P1]
    calm = [(r, d) for r, d in zip(reports, decisions, strict=True) if r.priority != Priority.P1]
    forwarded = [(r, d) for r, d in zip(reports, decisions, strict=True) if not d.needs_review]
    confusions = Counter((t, p) for t, p in zip(truth, predicted, strict=True) if t != p)
    return EndToEnd(
        name=name,
        n=len(reports),
        macro_f1=float(f1_score(truth, predicted, labels=present, average="macro", zero_division=0)),
        accuracy=sum(t == p for t, p in zip(truth, predicted, strict=True)) / max(len(reports), 1),
        per_code=per_code,
        p1_recall=sum(d.priority == Priority.P1 for _, d in urgent) / max(len(urgent), 1),
        p1_total=len(urgent),
        false_p1_rate=sum(d.priority == Priority.P1 for _, d in calm) / max(len(calm), 1),
        non_urgent_total=len(calm),
        review_share=sum(d.needs_review for d in decisions) / max(len(decisions), 1),
        forwarded_accuracy=sum(r.service == d.service for r, d in forwarded) / max(len(forwarded), 1),
        p50_ms=statistics.median(timings) if timings else 0.0,
        confusions=[(t, p, n) for (t, p), n in confusions.most_common()],
        calibration_error=expected_calibration_error(
            [d.confidence for d in decisions], [t == p for t, p in zip(truth, predicted, strict=True)]
        ),
        missed_p1=[r.text for r, d in urgent if d.priority != Priority.P1],
        false_p1=[r.text for r, d in calm if d.priority == Priority.P1],
        traps=[TrapResult(r, d) for r, d in zip(reports, decisions, strict=True) if r.is_trap],
    )


def expected_calibration_error(
    confidences: Sequence[float], correct: Sequence[bool], bins: int = 10
) -> float:
    """Mean |accuracy - confidence| over equal-width confidence bins, weighted by bin size (0 = perfect)."""
    total = len(confidences)
    if not total:
        return 0.0
    error = 0.0
    for b in range(bins):
        low, high = b / bins, (b + 1) / bins
        members = [i for i, c in enumerate(confidences) if low <= c < high or (b == bins - 1 and c == 1.0)]
        if members:
            accuracy = sum(correct[i] for i in members) / len(members)
            mean_conf = sum(confidences[i] for i in members) / len(members)
            error += len(members) / total * abs(accuracy - mean_conf)
    return error


def _short(text: str, width: int = 90) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def format_end_to_end(result: EndToEnd, *, details: bool = True) -> str:
    """A plain-text report in Indonesian: targets first, then per-code figures and the confusion list."""
    lines = [
        f"== {result.name} ({result.n} teks) ==",
        f"macro-F1 {result.macro_f1:.3f}   akurasi {result.accuracy:.3f}",
        f"recall P1 {result.p1_recall:.3f} ({round(result.p1_recall * result.p1_total)}/{result.p1_total})   "
        f"P1 palsu {result.false_p1_rate:.1%} dari {result.non_urgent_total} teks tidak mendesak",
        f"ke tinjauan {result.review_share:.1%}   benar di antara yang diteruskan {result.forwarded_accuracy:.1%}",
        f"latensi p50 {result.p50_ms:.2f} ms/teks   jebakan benar {sum(t.ok for t in result.traps)}/{len(result.traps)}   "
        f"galat kalibrasi (ECE) {result.calibration_error:.3f}",
    ]
    if not details:
        return "\n".join(lines)
    lines.append(f"{'layanan':<22} {'presisi':>7} {'recall':>7} {'n':>4}")
    for code, (p, r, s) in result.per_code.items():
        lines.append(f"{code:<22} {p:7.3f} {r:7.3f} {s:4d}")
    if result.confusions:
        lines.append("kebingungan (label benar → prediksi: jumlah):")
        lines.extend(f"  {t} → {p}: {n}" for t, p, n in result.confusions)
    if result.missed_p1:
        lines.append("P1 yang terlewat:")
        lines.extend(f"  - {_short(t)}" for t in result.missed_p1)
    if result.false_p1:
        lines.append("P1 palsu:")
        lines.extend(f"  - {_short(t)}" for t in result.false_p1)
    failed = [t for t in result.traps if not t.ok]
    if failed:
        lines.append("jebakan yang gagal:")
        lines.extend(
            f"  - [{','.join(t.report.tags)}] {t.report.service}/{t.report.priority.value} → "
            f"{t.decision.service}/{t.decision.priority.value}: {_short(t.report.text, 70)}"
            for t in failed
        )
    return "\n".join(lines)
