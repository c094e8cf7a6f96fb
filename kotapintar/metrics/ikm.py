"""Indeks Kepuasan Masyarakat (IKM) of PermenPANRB 14/2017 from summed survey answers (pure, no database).

The regulation's survey (SKM) asks nine elements (unsur), each answered 1–4. Per element the average value
(NRR, nilai rata-rata) is its total divided by how many respondents answered it; each element weighs 1/9;
IKM = Σ(NRR × 1/9) × 25, so it runs from 25 to 100. The regulation writes the weight as 0,111 (and some
worked examples as 0,11), which makes the index slightly lower than the exact mean; Kotapintar uses the
exact 1/9 and shows the figure with 0,111 beside it. Grades (mutu pelayanan): A 88,31–100 (sangat baik),
B 76,61–88,30 (baik), C 65,00–76,60 (kurang baik), D 25,00–64,99 (tidak baik), read from the index
rounded half-up to two decimals as the regulation prints it.

The sample the regulation asks for is Krejcie & Morgan's (its table of population → sample), which
`required_sample` computes from the population (here: the cases closed in the period).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

# The nine elements (unsur) in the regulation's order: code -> i18n key suffix.
ELEMENTS: tuple[str, ...] = (
    "u1",  # persyaratan
    "u2",  # sistem, mekanisme dan prosedur
    "u3",  # waktu penyelesaian
    "u4",  # biaya/tarif
    "u5",  # produk spesifikasi jenis pelayanan
    "u6",  # kompetensi pelaksana
    "u7",  # perilaku pelaksana
    "u8",  # penanganan pengaduan, saran dan masukan
    "u9",  # sarana dan prasarana
)
SCALE = (1, 2, 3, 4)
WEIGHT = 1 / len(ELEMENTS)
REGULATION_WEIGHT = 0.111  # as the regulation prints 1/9
CONVERSION = 25
# Lower bounds of each grade on the IKM scale (25–100), best first.
GRADES: tuple[tuple[Decimal, str], ...] = (
    (Decimal("88.31"), "A"),
    (Decimal("76.61"), "B"),
    (Decimal("65.00"), "C"),
    (Decimal("25.00"), "D"),
)
# Below this many respondents an index is shown with a warning even where the population is unknown.
MIN_SAMPLE_FLOOR = 30


@dataclass(frozen=True)
class ElementScore:
    """One element: total of the answers, how many answered it, and their mean (NRR)."""

    code: str
    total: int
    answered: int

    @property
    def nrr(self) -> float | None:
        """The element's mean value (1–4), None when nobody answered it."""
        return self.total / self.answered if self.answered else None


@dataclass(frozen=True)
class IkmScore:
    """The index of one service unit (and service, period) with its sample and the regulation's grade."""

    elements: tuple[ElementScore, ...]
    respondents: int
    population: int | None = None

    @property
    def complete(self) -> bool:
        """Every element has at least one answer (an index needs all nine)."""
        return all(e.answered for e in self.elements)

    @property
    def ikm(self) -> float | None:
        """Σ(NRR × 1/9) × 25; None until every element has an answer."""
        if not self.complete:
            return None
        return sum((e.nrr or 0.0) * WEIGHT for e in self.elements) * CONVERSION

    @property
    def ikm_regulation_weight(self) -> float | None:
        """The same with the regulation's rounded weight 0,111 (slightly lower): shown as a note."""
        if not self.complete:
            return None
        return sum((e.nrr or 0.0) * REGULATION_WEIGHT for e in self.elements) * CONVERSION

    @property
    def exact(self) -> Fraction | None:
        """The index as an exact fraction (no float error decides a grade boundary)."""
        if not self.complete:
            return None
        return sum((Fraction(e.total, e.answered) for e in self.elements), Fraction(0)) / len(ELEMENTS) * 25

    @property
    def rounded(self) -> Decimal | None:
        """The index rounded half-up to two decimals, as the regulation prints and grades it."""
        value = self.exact
        if value is None:
            return None
        return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(
            Decimal("0.01"), rounding=ROUND_HALF_UP
        )

    @property
    def grade(self) -> str | None:
        """A, B, C or D from the regulation's bands."""
        return grade_of(self.rounded)

    @property
    def required(self) -> int:
        """The sample the regulation asks for (Krejcie & Morgan) given the population, at least a floor."""
        if self.population is None:
            return MIN_SAMPLE_FLOOR
        return min(required_sample(self.population), max(self.population, 1))

    @property
    def sample_too_small(self) -> bool:
        """True when fewer people answered than the regulation's sample size for this population."""
        return self.respondents < self.required


def grade_of(value: Decimal | None) -> str | None:
    """The grade of an index already rounded to two decimals; None for no index."""
    if value is None:
        return None
    for floor, grade in GRADES:
        if value >= floor:
            return grade
    return "D"


def required_sample(population: int) -> int:
    """Krejcie & Morgan (1970), the table the regulation uses: χ²=3,841, P=0,5, d=0,05, rounded to the nearest
    whole respondent as their table is (50 → 44, 100 → 80, 1000 → 278)."""
    if population <= 0:
        return 0
    chi2, p, d = 3.841, 0.5, 0.05
    s = chi2 * population * p * (1 - p) / (d * d * (population - 1) + chi2 * p * (1 - p))
    return math.floor(s + 0.5)


def score(
    totals: Mapping[str, int], answered: Mapping[str, int], respondents: int, population: int | None = None
) -> IkmScore:
    """An index from per-element sums and counts (what one SQL GROUP BY returns)."""
    return IkmScore(
        elements=tuple(
            ElementScore(code, int(totals.get(code) or 0), int(answered.get(code) or 0)) for code in ELEMENTS
        ),
        respondents=respondents,
        population=population,
    )


def score_answers(rows: Sequence[Mapping[str, int | None]], population: int | None = None) -> IkmScore:
    """An index from individual answer rows (element code -> 1–4 or None): the reference for the SQL path."""
    totals = {code: sum(int(r[code] or 0) for r in rows if r.get(code) is not None) for code in ELEMENTS}
    answered = {code: sum(1 for r in rows if r.get(code) is not None) for code in ELEMENTS}
    return score(totals, answered, len(rows), population)
