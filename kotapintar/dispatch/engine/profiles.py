"""Speed profiles per unit kind (data in kotapintar/dispatch/data/profiles.yaml) and OSM tag parsing."""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import yaml

from kotapintar.core.errors import ValidationFailed

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
PROFILES_PATH = DATA_DIR / "profiles.yaml"
DEFAULT_PROFILE = "default"

_MPH = 1.609344
_KNOTS = 1.852
_NUMBER = re.compile(r"^\s*(\d+(?:[.,]\d+)?)\s*(km/h|kmh|kph|mph|knots)?\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class SpeedProfile:
    """How fast one kind of unit moves: km/h per highway class, maxspeed rule, off-road and fallback speeds."""

    name: str
    label: str = ""
    mode: Literal["road", "straight_line"] = "road"
    speeds: Mapping[str, float] = field(default_factory=dict)
    default_kmh: float = 25.0
    use_maxspeed: bool = True
    maxspeed_factor: float = 1.0
    min_kmh: float = 5.0
    max_kmh: float = 100.0
    offroad_kmh: float = 10.0
    straight_line_kmh: float = 30.0
    detour_factor: float = 1.4

    def cache_key(self) -> tuple[Any, ...]:
        """A hashable key of every value that changes travel times (the speeds mapping is not hashable)."""
        return (
            self.name,
            self.mode,
            tuple(sorted(self.speeds.items())),
            self.default_kmh,
            self.use_maxspeed,
            self.maxspeed_factor,
            self.min_kmh,
            self.max_kmh,
            self.offroad_kmh,
        )

    def edge_speeds_kmh(
        self,
        classes: Sequence[str],
        class_codes: npt.NDArray[np.int32],
        maxspeed_kmh: npt.NDArray[np.float64],
    ) -> npt.NDArray[np.float64]:
        """Vectorised speed (km/h) of every edge from its class code and maxspeed (NaN when absent)."""
        lut = np.array([self.speeds.get(c, self.default_kmh) for c in classes] or [self.default_kmh])
        speed = lut[class_codes].astype(np.float64)
        if self.use_maxspeed:
            known = np.isfinite(maxspeed_kmh) & (maxspeed_kmh > 0)
            speed = np.where(known, maxspeed_kmh * self.maxspeed_factor, speed)
        return np.clip(speed, self.min_kmh, self.max_kmh)


def _positive(raw: Mapping[str, Any], key: str, default: float, where: str) -> float:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ValidationFailed(
            f"Profil {where}: '{key}' harus angka positif (dapat: {value!r}).", code="invalid_profile"
        )
    return float(value)


def profile_from_dict(name: str, raw: Mapping[str, Any]) -> SpeedProfile:
    """Build and validate one profile from its YAML mapping; raise ValidationFailed naming the field."""
    mode = raw.get("mode", "road")
    if mode not in ("road", "straight_line"):
        raise ValidationFailed(
            f"Profil {name}: mode harus 'road' atau 'straight_line' (dapat: {mode!r}).",
            code="invalid_profile",
        )
    speeds_raw = raw.get("speeds") or {}
    if not isinstance(speeds_raw, Mapping):
        raise ValidationFailed(
            f"Profil {name}: 'speeds' harus pemetaan kelas → km/jam.", code="invalid_profile"
        )
    speeds = {str(k): _positive(speeds_raw, str(k), 0, f"{name}.speeds") for k in speeds_raw}
    return SpeedProfile(
        name=name,
        label=str(raw.get("label", name)),
        mode=mode,
        speeds=speeds,
        default_kmh=_positive(raw, "default_kmh", 25.0, name),
        use_maxspeed=bool(raw.get("use_maxspeed", True)),
        maxspeed_factor=_positive(raw, "maxspeed_factor", 1.0, name),
        min_kmh=_positive(raw, "min_kmh", 5.0, name),
        max_kmh=_positive(raw, "max_kmh", 100.0, name),
        offroad_kmh=_positive(raw, "offroad_kmh", 10.0, name),
        straight_line_kmh=_positive(raw, "straight_line_kmh", 30.0, name),
        detour_factor=_positive(raw, "detour_factor", 1.4, name),
    )


class ProfileBook(dict[str, SpeedProfile]):
    """All speed profiles by unit kind; an unknown kind falls back to the `default` profile."""

    def for_kind(self, kind: str) -> SpeedProfile:
        """The profile of a unit kind, or the default profile when the kind has none of its own."""
        return self.get(kind) or self[DEFAULT_PROFILE]


def parse_profiles(doc: Mapping[str, Any]) -> ProfileBook:
    """Validate a profiles document ({version, profiles: {name: {...}}}) into a ProfileBook."""
    profiles = doc.get("profiles")
    if not isinstance(profiles, Mapping) or not profiles:
        raise ValidationFailed("Berkas profil kecepatan tidak berisi 'profiles'.", code="invalid_profile")
    book = ProfileBook({str(n): profile_from_dict(str(n), p or {}) for n, p in profiles.items()})
    if DEFAULT_PROFILE not in book:
        book[DEFAULT_PROFILE] = SpeedProfile(name=DEFAULT_PROFILE)
    return book


@lru_cache(maxsize=8)
def load_profiles(path: Path | str | None = None) -> ProfileBook:
    """Load (once, cached) the speed profiles from YAML; the shipped file when no path is given."""
    with Path(path or PROFILES_PATH).open(encoding="utf-8") as fh:
        return parse_profiles(yaml.safe_load(fh) or {})


def parse_list_string(value: str | None) -> list[str]:
    """Split an OSMnx attribute that may be a list literal ("['primary', 'secondary']") into strings."""
    if value is None:
        return []
    text = value.strip()
    if text.startswith("[") and text.endswith("]"):
        try:
            parsed = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            parsed = [p.strip(" '\"") for p in text[1:-1].split(",")]
        return [str(p).strip() for p in parsed if str(p).strip()]
    if ";" in text:  # raw OSM multi-values, e.g. "40;60"
        return [p.strip() for p in text.split(";") if p.strip()]
    return [text] if text else []


def parse_highway(value: str | None) -> str:
    """The highway class of an edge: the first of a list (OSMnx convention), '' when absent."""
    classes = parse_list_string(value)
    return classes[0] if classes else ""


def parse_maxspeed(value: str | None) -> float:
    """Maxspeed in km/h from "40", "40 mph", "25 knots" or a list (mean, as OSMnx does); NaN if unusable."""
    speeds: list[float] = []
    for part in parse_list_string(value):
        match = _NUMBER.match(part)
        if not match:
            continue  # "none", "walk", "signals", "ID:urban" …: no usable number
        number = float(match.group(1).replace(",", "."))
        unit = (match.group(2) or "").lower()
        factor = _MPH if unit == "mph" else _KNOTS if unit == "knots" else 1.0
        if number > 0:
            speeds.append(number * factor)
    return sum(speeds) / len(speeds) if speeds else math.nan
