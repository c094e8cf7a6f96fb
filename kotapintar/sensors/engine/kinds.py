"""Device kinds, their canonical attributes (Smart Data Models names) and unit conversion to canonical units."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from kotapintar.core.errors import ValidationFailed


class DeviceKind(StrEnum):
    """What a device measures; one kind has one or more canonical attributes."""

    WATER_LEVEL = "water_level"
    RAIN_GAUGE = "rain_gauge"
    AIR_QUALITY = "air_quality"
    WEATHER = "weather"
    TRAFFIC = "traffic"
    FIRE_HOTSPOT = "fire_hotspot"


class UnitError(ValidationFailed):
    """A unit that is unknown or cannot be converted into the attribute's canonical unit."""

    code = "sensor_unit_invalid"


@dataclass(frozen=True)
class AttributeSpec:
    """One canonical attribute: its Smart Data Models name, canonical unit, dimension and labels."""

    name: str
    unit: str
    dimension: str
    label_id: str
    label_en: str
    aliases: tuple[str, ...] = ()


# Canonical attributes. Names follow Smart Data Models (WaterObserved, WeatherObserved,
# AirQualityObserved, TrafficFlowObserved); `frp` (fire radiative power) follows NASA FIRMS.
ATTRIBUTES: dict[str, AttributeSpec] = {
    spec.name: spec
    for spec in (
        AttributeSpec("waterLevel", "m", "length", "Tinggi muka air", "Water level", ("wl", "tma", "level")),
        AttributeSpec(
            "precipitation", "mm", "depth", "Curah hujan", "Precipitation", ("p", "rain", "ch", "rr")
        ),
        AttributeSpec("pm25", "µg/m³", "concentration", "PM2,5", "PM2.5", ("pm2_5", "pm2.5", "p25")),
        AttributeSpec("pm10", "µg/m³", "concentration", "PM10", "PM10", ("p10",)),
        AttributeSpec("temperature", "°C", "temperature", "Suhu udara", "Temperature", ("t_air", "temp")),
        AttributeSpec(
            "relativeHumidity", "%", "fraction", "Kelembapan relatif", "Relative humidity", ("rh", "hum")
        ),
        AttributeSpec("windSpeed", "m/s", "speed", "Kecepatan angin", "Wind speed", ("ws", "wind")),
        AttributeSpec(
            "intensity", "veh/h", "flow", "Volume lalu lintas", "Traffic intensity", ("flow", "vol")
        ),
        AttributeSpec("frp", "MW", "power", "Daya radiasi api", "Fire radiative power", ("fire_power",)),
    )
}

KIND_ATTRIBUTES: dict[DeviceKind, tuple[str, ...]] = {
    DeviceKind.WATER_LEVEL: ("waterLevel",),
    DeviceKind.RAIN_GAUGE: ("precipitation",),
    # Air-quality stations also report the air's temperature and humidity (AirQualityObserved carries them);
    # PM2.5 stays the main attribute.
    DeviceKind.AIR_QUALITY: ("pm25", "pm10", "temperature", "relativeHumidity"),
    DeviceKind.WEATHER: ("temperature", "relativeHumidity", "windSpeed", "precipitation"),
    DeviceKind.TRAFFIC: ("intensity",),
    DeviceKind.FIRE_HOTSPOT: ("frp",),
}

KIND_LABELS: dict[DeviceKind, tuple[str, str]] = {
    DeviceKind.WATER_LEVEL: ("Pos duga air (AWLR)", "River gauge"),
    DeviceKind.RAIN_GAUGE: ("Penakar hujan (ARG)", "Rain gauge"),
    DeviceKind.AIR_QUALITY: ("Stasiun kualitas udara", "Air quality station"),
    DeviceKind.WEATHER: ("Stasiun cuaca (AWS)", "Weather station"),
    DeviceKind.TRAFFIC: ("Penghitung lalu lintas", "Traffic counter"),
    DeviceKind.FIRE_HOTSPOT: ("Titik panas", "Fire hotspot"),
}

_ALIASES: dict[str, str] = {}
for _spec in ATTRIBUTES.values():
    _ALIASES[_spec.name.lower()] = _spec.name
    for _alias in _spec.aliases:
        _ALIASES[_alias.lower()] = _spec.name


def canonical_attribute(name: str) -> str | None:
    """The canonical attribute name for `name` or one of its short aliases (case-insensitive), or None."""
    return _ALIASES.get(name.strip().lower())


# Unit conversion to the canonical unit of each dimension: (scale, offset) so canonical = v * scale + offset.
# Keys are normalised spellings; UN/CEFACT common codes (NGSI-LD `unitCode`) are accepted too.
_Conv = tuple[float, float]
_UNITS: dict[str, dict[str, _Conv]] = {
    "length": {
        "m": (1.0, 0.0),
        "mtr": (1.0, 0.0),
        "cm": (0.01, 0.0),
        "cmt": (0.01, 0.0),
        "mm": (0.001, 0.0),
        "mmt": (0.001, 0.0),
        "in": (0.0254, 0.0),
        "inch": (0.0254, 0.0),
        "inh": (0.0254, 0.0),
        "ft": (0.3048, 0.0),
        "fot": (0.3048, 0.0),
    },
    "depth": {
        "mm": (1.0, 0.0),
        "mmt": (1.0, 0.0),
        "cm": (10.0, 0.0),
        "cmt": (10.0, 0.0),
        "m": (1000.0, 0.0),
        "mtr": (1000.0, 0.0),
        "in": (25.4, 0.0),
        "inch": (25.4, 0.0),
        "inh": (25.4, 0.0),
    },
    "concentration": {
        "µg/m³": (1.0, 0.0),
        "ug/m3": (1.0, 0.0),
        "gq": (1.0, 0.0),
        "mg/m3": (1000.0, 0.0),
        "gp": (1000.0, 0.0),
    },
    "temperature": {
        "°c": (1.0, 0.0),
        "c": (1.0, 0.0),
        "degc": (1.0, 0.0),
        "cel": (1.0, 0.0),
        "°f": (5.0 / 9.0, -32.0 * 5.0 / 9.0),
        "f": (5.0 / 9.0, -32.0 * 5.0 / 9.0),
        "degf": (5.0 / 9.0, -32.0 * 5.0 / 9.0),
        "fah": (5.0 / 9.0, -32.0 * 5.0 / 9.0),
        "k": (1.0, -273.15),
        "kel": (1.0, -273.15),
    },
    "fraction": {
        "%": (1.0, 0.0),
        "p1": (1.0, 0.0),
        "pct": (1.0, 0.0),
        "1": (100.0, 0.0),
        "c62": (100.0, 0.0),
    },
    "speed": {
        "m/s": (1.0, 0.0),
        "mts": (1.0, 0.0),
        "km/h": (1.0 / 3.6, 0.0),
        "kmh": (1.0 / 3.6, 0.0),
        "kn": (0.514444, 0.0),
        "knot": (0.514444, 0.0),
        "knt": (0.514444, 0.0),
        "mph": (0.44704, 0.0),
        "hm": (0.44704, 0.0),
    },
    "flow": {"veh/h": (1.0, 0.0), "veh/min": (60.0, 0.0), "e50": (1.0, 0.0)},
    "power": {"mw": (1.0, 0.0), "maw": (1.0, 0.0), "kw": (0.001, 0.0), "kwt": (0.001, 0.0)},
}


def _normalise_unit(unit: str) -> str:
    text = unit.strip().lower().replace(" ", "")
    text = text.replace("μ", "µ").replace("³", "3").replace("º", "°")
    if text in ("µg/m3", "mcg/m3"):
        return "ug/m3"
    return text


def converter(attribute: str, unit: str | None) -> Callable[[float], float]:
    """A function turning values of `attribute` in `unit` into its canonical unit; raises UnitError."""
    spec = ATTRIBUTES.get(attribute)
    if spec is None:
        raise UnitError(f"Atribut tidak dikenal: '{attribute}'.", attribute=attribute)
    if unit is None or unit == "" or unit == spec.unit:
        return _identity
    table = _UNITS[spec.dimension]
    key = _normalise_unit(unit)
    conv = table.get(key)
    if conv is None:
        raise UnitError(
            f"Satuan '{unit}' tidak dapat diubah ke '{spec.unit}' untuk {attribute}.",
            attribute=attribute,
            unit=unit,
            canonical=spec.unit,
        )
    scale, offset = conv
    if scale == 1.0 and offset == 0.0:
        return _identity
    return lambda value: value * scale + offset


def to_canonical(attribute: str, value: float, unit: str | None) -> float:
    """`value` of `attribute` given in `unit` (None = already canonical), in the canonical unit."""
    return converter(attribute, unit)(value)


def canonical_unit(attribute: str) -> str:
    """The canonical unit of a canonical attribute name."""
    return ATTRIBUTES[attribute].unit


def _identity(value: float) -> float:
    return value


def from_canonical(attribute: str, value: float, unit: str | None) -> float:
    """`value` of `attribute` in its canonical unit, expressed in `unit` (inverse of to_canonical)."""
    spec = ATTRIBUTES[attribute]
    if unit is None or unit == "" or unit == spec.unit:
        return value
    conv = _UNITS[spec.dimension].get(_normalise_unit(unit))
    if conv is None:
        raise UnitError(f"Satuan '{unit}' tidak dikenal untuk {attribute}.", attribute=attribute, unit=unit)
    scale, offset = conv
    return (value - offset) / scale
