"""Named alert levels (flood normal/waspada/siaga/awas, ISPU bands) and the ISPU index, loaded from YAML."""

from __future__ import annotations

import bisect
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

if TYPE_CHECKING:
    from kotapintar.sensors.engine.registry import Device

DATA_DIR = Path(__file__).resolve().parents[1] / "data"


class CapHints(BaseModel):
    """CAP 1.2 severity, urgency and certainty of a warning at one level."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    severity: Literal["Extreme", "Severe", "Moderate", "Minor", "Unknown"]
    urgency: Literal["Immediate", "Expected", "Future", "Past", "Unknown"]
    certainty: Literal["Observed", "Likely", "Possible", "Unlikely", "Unknown"]


class Level(BaseModel):
    """One level of a level set: code, labels (Indonesian, English), colour, start value, CAP hints."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    code: str
    label: tuple[str, str]
    colour: str
    start: float | None = Field(default=None, alias="from")
    cap: CapHints | None = None


class LevelSet(BaseModel):
    """An ordered set of levels (lowest first) with per-class or fixed start values."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    label: tuple[str, str]
    attribute: str
    direction: Literal["above"] = "above"
    levels: tuple[Level, ...]
    classes: dict[str, dict[str, float]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> LevelSet:
        codes = [level.code for level in self.levels]
        if len(set(codes)) != len(codes):
            raise ValueError("level codes must be unique")
        for name, table in self.classes.items():
            unknown = set(table) - set(codes)
            if unknown:
                raise ValueError(f"class {name}: unknown levels {sorted(unknown)}")
            values = [table[c] for c in codes if c in table]
            if values != sorted(values):
                raise ValueError(f"class {name}: thresholds must rise with the level")
        return self

    def codes(self) -> tuple[str, ...]:
        """Level codes, lowest first."""
        return tuple(level.code for level in self.levels)

    def rank(self, code: str) -> int:
        """Position of a level (0 = lowest); raises KeyError for an unknown code."""
        codes = self.codes()
        if code not in codes:
            raise KeyError(code)
        return codes.index(code)

    def get(self, code: str) -> Level:
        """The level with this code."""
        for level in self.levels:
            if level.code == code:
                return level
        raise KeyError(code)

    def thresholds(self, device: Device | None = None) -> dict[str, float]:
        """Start value of each level above the lowest: the device's own, its class's, or the set's fixed ones."""
        if device is not None and device.thresholds:
            table = {k: v for k, v in device.thresholds.items() if k in self.codes()}
            if table:
                return table
        if device is not None and device.gauge_class and device.gauge_class in self.classes:
            return dict(self.classes[device.gauge_class])
        return {lv.code: lv.start for lv in self.levels[1:] if lv.start is not None}

    def level_of(self, value: float, thresholds: dict[str, float]) -> str:
        """The highest level whose start value is reached by `value` (the lowest level otherwise)."""
        current = self.levels[0].code
        for level in self.levels[1:]:
            start = thresholds.get(level.code)
            if start is not None and value >= start:
                current = level.code
        return current


class LevelCatalog(BaseModel):
    """All level sets and the ISPU breakpoints."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: int = 1
    level_sets: dict[str, LevelSet]
    ispu_breakpoints: dict[str, tuple[float, ...]]

    def level_set(self, name: str) -> LevelSet:
        """The level set called `name`; raises KeyError."""
        return self.level_sets[name]

    def find_level(self, code: str) -> tuple[LevelSet, Level] | None:
        """The first level set holding a level with this code, and the level."""
        for level_set in self.level_sets.values():
            if code in level_set.codes():
                return level_set, level_set.get(code)
        return None

    def ispu(self, attribute: str, concentration: float) -> int:
        """The ISPU index (0-500, rounded) of a 24-hour concentration of pm25 or pm10 (µg/m³)."""
        index = self.ispu_breakpoints["index"]
        xs = self.ispu_breakpoints[attribute]
        if concentration <= 0:
            return 0
        if concentration >= xs[-1]:
            return int(index[-1])
        i = bisect.bisect_left(xs, concentration)
        xa, xb, ia, ib = xs[i], xs[i - 1], index[i], index[i - 1]
        return round((ia - ib) / (xa - xb) * (concentration - xb) + ib)

    def ispu_band(self, index: int) -> str:
        """The band code of an ISPU index: baik ≤50 < sedang ≤100 < tidak_sehat ≤200 < sangat_tidak_sehat ≤300."""
        for limit, code in ((50, "baik"), (100, "sedang"), (200, "tidak_sehat"), (300, "sangat_tidak_sehat")):
            if index <= limit:
                return code
        return "berbahaya"


def rank_of(code: str | None, catalog: LevelCatalog) -> int:
    """Rank of a level code in whichever set holds it (-1 if unknown or None)."""
    if code is None:
        return -1
    found = catalog.find_level(code)
    return found[0].rank(code) if found else -1


@lru_cache(maxsize=4)
def load_catalog(path: Path | None = None) -> LevelCatalog:
    """The level catalog from YAML (default: the shipped defaults.yaml), validated and cached."""
    data = yaml.safe_load((path or DATA_DIR / "defaults.yaml").read_text(encoding="utf-8"))
    return LevelCatalog.model_validate(data)
