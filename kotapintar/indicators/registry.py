"""The indicator registry, read from `data/indicators.yaml`: the list is data a city edits, not code.

Pure (no database): loading checks every entry so a bad edit fails at start, naming the indicator.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from kotapintar.metrics.definitions import number_text

DIMENSIONS = ("masyarakat", "lingkungan", "prasarana", "ekonomi", "mobilitas", "kehidupan")
KINDS = ("computed", "imported")
REGISTRY_FILE = Path(__file__).parent / "data" / "indicators.yaml"


@dataclass(frozen=True)
class Target:
    """The value to reach and which way is better."""

    value: float
    better: str  # "lower" | "higher"

    def met(self, value: float | None) -> bool | None:
        """Whether `value` reaches the target (None when there is no value)."""
        if value is None:
            return None
        return value <= self.value if self.better == "lower" else value >= self.value


@dataclass(frozen=True)
class Indicator:
    """One indicator of the registry."""

    code: str
    dimension: str
    kind: str
    unit: str
    name: dict[str, str]
    definition: dict[str, str]
    source: str
    target: Target | None
    compute: str | None = None
    decimals: int | None = None  # fixed decimals (IKM: 2, as the regulation writes it); None: 0 or 1

    def value_text(self, value: float | None, locale: str = "id") -> str:
        """A value with its unit in the reader's language (82,5 %; 13,6 menit; 82,18 indeks): the one
        formatting /indikator and the monthly report share, so both print the same figure."""
        if value is None:
            return "—"
        decimals = self.decimals
        if decimals is None:
            decimals = 0 if float(value).is_integer() and self.unit not in ("%", "menit") else 1
        return f"{number_text(value, decimals, locale)} {self.unit}".strip()

    def text(self, field: str, locale: str) -> str:
        """The name or definition in the page's language (Indonesian when not translated)."""
        values: dict[str, str] = getattr(self, field)
        return values.get(locale) or values["id"]


def _indicator(raw: dict[str, Any]) -> Indicator:
    code = str(raw.get("code") or "")
    if not code:
        raise ValueError("indicators.yaml: an entry without a code")
    if raw.get("dimension") not in DIMENSIONS:
        raise ValueError(f"indicators.yaml {code}: dimension must be one of {', '.join(DIMENSIONS)}")
    if raw.get("kind") not in KINDS:
        raise ValueError(f"indicators.yaml {code}: kind must be computed or imported")
    if raw["kind"] == "computed" and not raw.get("compute"):
        raise ValueError(f"indicators.yaml {code}: a computed indicator names its compute function")
    target = raw.get("target")
    if target is not None and target.get("better") not in ("lower", "higher"):
        raise ValueError(f"indicators.yaml {code}: target.better must be lower or higher")
    return Indicator(
        code=code,
        dimension=str(raw["dimension"]),
        kind=str(raw["kind"]),
        unit=str(raw.get("unit") or ""),
        name=dict(raw["name"]),
        definition=dict(raw["definition"]),
        source=str(raw.get("source") or ""),
        target=None if target is None else Target(float(target["value"]), str(target["better"])),
        compute=raw.get("compute"),
        decimals=None if raw.get("decimals") is None else int(raw["decimals"]),
    )


@cache
def indicators(path: Path = REGISTRY_FILE) -> tuple[Indicator, ...]:
    """Every indicator of the registry, in file order; codes are unique."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    out = tuple(_indicator(entry) for entry in raw["indicators"])
    codes = [i.code for i in out]
    if len(set(codes)) != len(codes):
        raise ValueError("indicators.yaml: duplicate indicator codes")
    return out


def by_code() -> dict[str, Indicator]:
    """The registry keyed by code."""
    return {i.code: i for i in indicators()}
