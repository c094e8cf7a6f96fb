"""The gate a retrained candidate model must pass before it replaces the shipped one.

A candidate (trained with operators' corrections) is scored with the same end-to-end evaluation as the
current model on the same labelled set. It may be promoted only when it is not worse where it matters:
no lost life threats (P1 recall), no more false P1s, macro-F1 and the accuracy of forwarded reports not
lower by more than a noise margin. The margins are fixed here, not chosen per promotion.
"""

from __future__ import annotations

from dataclasses import dataclass

from kotapintar.triage.classify.realstyle import EndToEnd

# One text of a ~260-text set is ~0.004; allow about two texts of noise on the softer figures.
F1_MARGIN = 0.01
FORWARDED_MARGIN = 0.01


@dataclass(frozen=True)
class PromotionCheck:
    """The verdict on a candidate: the problems found (empty = may be promoted) and both sets of figures."""

    current: EndToEnd
    candidate: EndToEnd
    problems: tuple[str, ...]

    @property
    def allowed(self) -> bool:
        """True when the candidate is not worse than the current model on any guarded figure."""
        return not self.problems


def check_promotion(current: EndToEnd, candidate: EndToEnd) -> PromotionCheck:
    """Compare a candidate's figures with the current model's on the same set (Indonesian messages)."""
    problems: list[str] = []
    if candidate.p1_recall < current.p1_recall:
        problems.append(f"recall P1 turun {current.p1_recall:.3f} → {candidate.p1_recall:.3f}")
    if candidate.false_p1_rate > current.false_p1_rate:
        problems.append(f"P1 palsu naik {current.false_p1_rate:.1%} → {candidate.false_p1_rate:.1%}")
    if candidate.macro_f1 < current.macro_f1 - F1_MARGIN:
        problems.append(f"macro-F1 turun {current.macro_f1:.3f} → {candidate.macro_f1:.3f}")
    if candidate.forwarded_accuracy < current.forwarded_accuracy - FORWARDED_MARGIN:
        problems.append(
            f"akurasi yang diteruskan turun {current.forwarded_accuracy:.1%} → {candidate.forwarded_accuracy:.1%}"
        )
    return PromotionCheck(current, candidate, tuple(problems))
