"""Parse sensor payloads (UltraLight 2.0, JSON attrs, NGSI-LD entities, HTTP batches) into canonical readings."""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any

from kotapintar.core.errors import ValidationFailed
from kotapintar.sensors.engine.kinds import (
    ATTRIBUTES,
    UnitError,
    canonical_attribute,
    canonical_unit,
    to_canonical,
)

MAX_PAYLOAD_BYTES = 1_000_000
MAX_READINGS_PER_PAYLOAD = 10_000
TIME_KEYS = frozenset({"t", "timeinstant", "observedat", "dateobserved", "observed_at", "time", "ts"})
DEVICE_KEYS = ("deviceId", "device_id", "device")
_DEVICE_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,127}$")
_CANONICAL_NAMES = tuple(ATTRIBUTES)


class PayloadError(ValidationFailed):
    """A payload that cannot be turned into readings; `reason` is a short stable word, message for a person."""

    code = "sensor_payload_invalid"

    def __init__(self, message: str, *, reason: str, **details: Any) -> None:
        super().__init__(message, reason=reason, **details)
        self.reason = reason


@dataclass(frozen=True, slots=True, order=True)
class Reading:
    """One measurement of one attribute of one device, in the canonical unit, at an aware UTC time."""

    observed_at: datetime
    device_id: str
    attribute: str
    value: float
    unit: str

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form (ISO time with `Z`)."""
        return {
            "device_id": self.device_id,
            "attribute": self.attribute,
            "value": self.value,
            "unit": self.unit,
            "observed_at": iso_z(self.observed_at),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Reading:
        """The reading written by `to_dict`."""
        return cls(
            observed_at=parse_time(data["observed_at"]),
            device_id=str(data["device_id"]),
            attribute=str(data["attribute"]),
            value=float(data["value"]),
            unit=str(data["unit"]),
        )

    @property
    def key(self) -> tuple[str, str, datetime]:
        """Identity of the measurement slot: device, attribute and time (a second value here is a conflict)."""
        return (self.device_id, self.attribute, self.observed_at)


@dataclass(frozen=True, slots=True)
class Topic:
    """A parsed FIWARE IoT Agent MQTT topic `/[ul|json/]<apiKey>/<deviceId>/attrs[/<attribute>]`."""

    api_key: str
    device_id: str
    attribute: str | None = None
    protocol: str | None = None


UnitsFor = Callable[[str], Mapping[str, str] | None]


def iso_z(moment: datetime) -> str:
    """ISO 8601 UTC with a `Z` and whole seconds unless there are fractions."""
    text = moment.astimezone(UTC).isoformat()
    return text.replace("+00:00", "Z")


def parse_time(value: Any, *, assume_tz: tzinfo | None = None) -> datetime:
    """An aware UTC datetime from ISO 8601 text or epoch seconds/milliseconds; naive text needs `assume_tz`."""
    if isinstance(value, bool):
        raise PayloadError("Waktu pengamatan tidak valid.", reason="bad_time", value=value)
    if isinstance(value, int | float):
        try:
            seconds = float(value)
        except OverflowError:  # a JSON integer beyond float range
            seconds = math.inf
        if not math.isfinite(seconds):
            raise PayloadError("Waktu pengamatan tidak valid.", reason="bad_time", value=value)
        if seconds > 1e11:  # milliseconds
            seconds /= 1000.0
        try:
            return datetime.fromtimestamp(seconds, tz=UTC)
        except (OverflowError, OSError, ValueError) as exc:
            raise PayloadError("Waktu pengamatan di luar jangkauan.", reason="bad_time", value=value) from exc
    if isinstance(value, Mapping) and "@value" in value:  # NGSI-LD typed literal {"@type": "DateTime", ...}
        return parse_time(value["@value"], assume_tz=assume_tz)
    if not isinstance(value, str) or not value.strip():
        raise PayloadError("Waktu pengamatan kosong atau bukan teks.", reason="bad_time", value=repr(value))
    text = value.strip()
    if re.fullmatch(r"\d{9,13}(\.\d+)?", text):
        return parse_time(float(text))
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise PayloadError(
            f"Waktu '{text}' bukan ISO 8601 (contoh: 2026-11-29T03:00:00Z).", reason="bad_time", value=text
        ) from exc
    if moment.tzinfo is None:
        if assume_tz is None:
            raise PayloadError(
                f"Waktu '{text}' tanpa zona waktu; kirim dengan Z atau +07:00.",
                reason="naive_time",
                value=text,
            )
        moment = moment.replace(tzinfo=assume_tz)
    try:
        return moment.astimezone(UTC)
    except OverflowError as exc:  # year 1 with a positive offset, year 9999 with a negative one
        raise PayloadError(f"Waktu '{text}' di luar jangkauan.", reason="bad_time", value=text) from exc


def parse_topic(topic: str) -> Topic:
    """Split an IoT Agent topic; raises PayloadError(reason='bad_topic') for anything else."""
    parts = topic.split("/")
    if len(parts) < 4 or parts[0] != "":
        raise PayloadError(f"Topik '{topic}' bukan /<apiKey>/<deviceId>/attrs.", reason="bad_topic")
    parts = parts[1:]
    protocol = None
    if parts[0] in ("ul", "json") and len(parts) >= 4:
        protocol, parts = parts[0], parts[1:]
    if len(parts) not in (3, 4) or parts[2] != "attrs" or not parts[0] or not parts[1]:
        raise PayloadError(f"Topik '{topic}' bukan /<apiKey>/<deviceId>/attrs.", reason="bad_topic")
    if not _DEVICE_ID_RE.match(parts[1]):
        raise PayloadError(f"ID perangkat '{parts[1]}' tidak valid.", reason="bad_device_id")
    attribute = parts[3] if len(parts) == 4 else None
    if attribute == "":
        raise PayloadError(f"Topik '{topic}' berakhir dengan '/'.", reason="bad_topic")
    return Topic(api_key=parts[0], device_id=parts[1], attribute=attribute, protocol=protocol)


def _number(raw: Any, attribute: str) -> float:
    if isinstance(raw, bool):
        raise PayloadError(f"Nilai {attribute} bukan angka.", reason="bad_value", attribute=attribute)
    if isinstance(raw, int | float):
        try:
            value = float(raw)
        except OverflowError:  # a JSON integer beyond float range: as good as infinite
            value = math.inf
    elif isinstance(raw, str):
        try:
            value = float(raw.strip().replace(",", "."))
        except ValueError as exc:
            raise PayloadError(
                f"Nilai {attribute} '{raw}' bukan angka.", reason="bad_value", attribute=attribute
            ) from exc
    else:
        raise PayloadError(f"Nilai {attribute} bukan angka.", reason="bad_value", attribute=attribute)
    if not math.isfinite(value):
        raise PayloadError(f"Nilai {attribute} tidak terhingga/NaN.", reason="bad_value", attribute=attribute)
    return value


def _make(
    device_id: str,
    key: str,
    raw: Any,
    observed_at: datetime,
    units: Mapping[str, str] | None,
    unit: object = None,
) -> Reading:
    attribute = canonical_attribute(key)
    if attribute is None:
        raise PayloadError(f"Atribut '{key}' tidak dikenal.", reason="unknown_attribute", attribute=key)
    value = _number(raw, attribute)
    given_unit = unit if unit is not None else (units or {}).get(attribute)
    if given_unit is not None and not isinstance(given_unit, str):
        raise PayloadError(
            f"Satuan {attribute} bukan teks.", reason="bad_unit", attribute=attribute, unit=repr(given_unit)
        )
    try:
        value = to_canonical(attribute, value, given_unit)
    except UnitError as exc:
        raise PayloadError(exc.message, reason="bad_unit", attribute=attribute, unit=given_unit) from exc
    return Reading(observed_at, device_id, attribute, value, canonical_unit(attribute))


def _text(payload: str | bytes) -> str:
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise PayloadError("Muatan terlalu besar.", reason="too_large", size=len(payload))
    if isinstance(payload, bytes):
        try:
            return payload.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise PayloadError("Muatan bukan UTF-8.", reason="bad_encoding") from exc
    return payload


def _check_count(readings: Sequence[Reading]) -> None:
    if len(readings) > MAX_READINGS_PER_PAYLOAD:
        raise PayloadError("Terlalu banyak pengukuran dalam satu muatan.", reason="too_many")


_TIMESTAMP_RE = re.compile(r"^\s*\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


def _looks_like_time(text: str) -> bool:
    """An ISO 8601 date-time at the start of an UltraLight group (the IoT Agent's timestamp syntax)."""
    return bool(_TIMESTAMP_RE.match(text))


def _attribute_of(key: str, keys: Mapping[str, str] | None) -> str | None:
    """What a payload key measures: the device's own mapping first, then the shared aliases."""
    if keys:
        mapped = keys.get(key)
        if mapped is not None:
            return mapped
    return canonical_attribute(key)


def _is_time_key(key: str, keys: Mapping[str, str] | None) -> bool:
    """A time key (`t`, `TimeInstant`, …) unless the device's mapping makes it a measurement."""
    return key.lower() in TIME_KEYS and not (keys and key in keys)


def _note_ignored(ignored: Counter[str] | None, keys: Sequence[str]) -> None:
    if ignored is not None:
        ignored.update(keys)


def _nothing_known(keys: Sequence[str]) -> PayloadError:
    """The error for a message whose every measurement is an attribute nobody maps."""
    names = ", ".join(sorted(set(keys))[:10])
    return PayloadError(
        f"Tidak ada atribut yang dikenal; diabaikan: {names}.", reason="unknown_attribute", attributes=names
    )


def parse_ultralight(
    payload: str | bytes,
    *,
    device_id: str,
    received_at: datetime,
    units: Mapping[str, str] | None = None,
    assume_tz: tzinfo | None = None,
    ignored: Counter[str] | None = None,
    keys: Mapping[str, str] | None = None,
) -> list[Reading]:
    """Parse UltraLight 2.0 `t|<time>|wl|1.23|...`, groups separated by `#`; no `t` means `received_at`.

    A group may also start with a bare timestamp, the IoT Agent's own syntax (`2016-06-13T00:35:30Z|wl|1.2`).
    Keys that are no known attribute (battery, rssi, …) are left out and counted in `ignored`, as an IoT
    Agent passes unmapped attributes by: one extra field must not cost the measurements next to it. `keys`
    is the device's mapping (object_id -> attribute), which wins over the aliases: with `t -> temperature`,
    `t` is a measurement, not the time.
    """
    text = _text(payload).strip()
    if not text:
        raise PayloadError("Muatan UltraLight kosong.", reason="empty")
    readings: list[Reading] = []
    skipped: list[str] = []
    for group in text.split("#"):
        group = group.strip()
        if not group:
            continue
        fields = group.split("|")
        observed_at = received_at
        if len(fields) % 2 and _looks_like_time(fields[0]):
            observed_at = parse_time(fields[0].strip(), assume_tz=assume_tz)
            fields = fields[1:]
        if len(fields) % 2:
            raise PayloadError(
                f"Kelompok UltraLight '{group[:60]}' tidak berpasangan kunci|nilai.", reason="bad_ultralight"
            )
        pairs = [(fields[i].strip(), fields[i + 1].strip()) for i in range(0, len(fields), 2)]
        for key, raw in pairs:
            if _is_time_key(key, keys):
                observed_at = parse_time(raw, assume_tz=assume_tz)
        measured = [(key, raw) for key, raw in pairs if not _is_time_key(key, keys)]
        if not measured:
            raise PayloadError("Kelompok UltraLight tanpa pengukuran.", reason="no_measurement")
        for key, raw in measured:
            if not key:
                raise PayloadError("Kunci UltraLight kosong.", reason="bad_ultralight")
            attribute = _attribute_of(key, keys)
            if attribute is None:
                skipped.append(key)
                continue
            readings.append(_make(device_id, attribute, raw, observed_at, units))
    _note_ignored(ignored, skipped)
    if not readings:
        if skipped:
            raise _nothing_known(skipped)
        raise PayloadError("Muatan UltraLight tanpa pengukuran.", reason="no_measurement")
    _check_count(readings)
    return readings


def _load_json(payload: str | bytes | Any) -> Any:
    if isinstance(payload, str | bytes):
        try:
            return json.loads(_text(payload))
        except json.JSONDecodeError as exc:
            raise PayloadError(f"JSON tidak valid: {exc.msg}.", reason="bad_json") from exc
        except (ValueError, RecursionError) as exc:  # an integer over the digit limit, nesting too deep
            raise PayloadError(
                "JSON tidak valid: angka terlalu panjang atau terlalu bersarang.", reason="bad_json"
            ) from exc
    return payload


def _attrs_object(
    obj: Mapping[str, Any],
    *,
    device_id: str,
    received_at: datetime,
    units: Mapping[str, str] | None,
    assume_tz: tzinfo | None,
    skip: frozenset[str] = frozenset(),
    ignored: Counter[str] | None = None,
    keys: Mapping[str, str] | None = None,
) -> list[Reading]:
    observed_at = received_at
    for key, raw in obj.items():
        if _is_time_key(key, keys):
            observed_at = parse_time(raw, assume_tz=assume_tz)
    out: list[Reading] = []
    skipped: list[str] = []
    for key, raw in obj.items():
        if _is_time_key(key, keys) or key in skip:
            continue
        attribute = _attribute_of(key, keys)
        if attribute is None:
            skipped.append(key)
            continue
        unit = None
        value = raw
        when = observed_at
        if isinstance(raw, Mapping):
            if "value" not in raw:
                raise PayloadError(f"Atribut '{key}' tanpa 'value'.", reason="bad_value", attribute=key)
            value = raw["value"]
            unit = raw.get("unitCode", raw.get("unit"))
            if "observedAt" in raw:
                when = parse_time(raw["observedAt"], assume_tz=assume_tz)
        out.append(_make(device_id, attribute, value, when, units, unit))
    _note_ignored(ignored, skipped)
    if not out:
        if skipped:
            raise _nothing_known(skipped)
        raise PayloadError("Objek JSON tanpa pengukuran.", reason="no_measurement")
    return out


def parse_json_attrs(
    payload: str | bytes | Any,
    *,
    device_id: str,
    received_at: datetime,
    units: Mapping[str, str] | None = None,
    assume_tz: tzinfo | None = None,
    ignored: Counter[str] | None = None,
    keys: Mapping[str, str] | None = None,
) -> list[Reading]:
    """Parse IoT Agent JSON `{"wl": 1.23, "TimeInstant": "..."}` or an array of such measure objects.

    Fields that are no known attribute (battery, rssi, …) are left out and counted in `ignored`; `keys` is
    the device's mapping (object_id -> attribute).
    """
    data = _load_json(payload)
    objects = data if isinstance(data, list) else [data]
    if not objects:
        raise PayloadError("Larik JSON kosong.", reason="empty")
    readings: list[Reading] = []
    for obj in objects:
        if not isinstance(obj, Mapping):
            raise PayloadError("Pengukuran JSON harus berupa objek.", reason="bad_json")
        readings.extend(
            _attrs_object(
                obj,
                device_id=device_id,
                received_at=received_at,
                units=units,
                assume_tz=assume_tz,
                ignored=ignored,
                keys=keys,
            )
        )
    _check_count(readings)
    return readings


def parse_single_value(
    payload: str | bytes,
    *,
    device_id: str,
    attribute: str,
    received_at: datetime,
    units: Mapping[str, str] | None = None,
    keys: Mapping[str, str] | None = None,
) -> list[Reading]:
    """Parse the raw value published on `/<apiKey>/<deviceId>/attrs/<attribute>` (the attribute may be an
    object_id of the device's mapping)."""
    text = _text(payload).strip()
    if not text:
        raise PayloadError("Nilai kosong.", reason="empty")
    return [_make(device_id, _attribute_of(attribute, keys) or attribute, text, received_at, units)]


# NGSI-LD properties that describe an entity rather than measure something: never readings, never "ignored".
_NGSI_SKIP = frozenset(
    {"id", "type", "@context", "location", "address", "name", "description", "refDevice", "dateObserved"}
)
# Entity-level observation times, in order of preference (FloodMonitoring uses `observationDateTime`).
_NGSI_TIME_KEYS = ("dateObserved", "observationDateTime", "TimeInstant")

# Which property of a Smart Data Models entity type is which canonical attribute. In NGSI-LD only these
# exact names count, never the short aliases of the IoT Agent formats: `flow` of a WaterObserved is the
# water flow (m³/s), not traffic intensity. The first source present wins (a WaterObserved with both
# `waterLevel` and `height` gives `waterLevel`); another type may use any canonical name as it is.
NGSI_TYPE_ATTRIBUTES: dict[str, tuple[tuple[str, str], ...]] = {
    "WaterObserved": (("waterLevel", "waterLevel"), ("height", "waterLevel")),
    "FloodMonitoring": (("currentLevel", "waterLevel"),),
    "AirQualityObserved": tuple(
        (a, a) for a in ("pm25", "pm10", "temperature", "relativeHumidity", "precipitation", "windSpeed")
    ),
    "WeatherObserved": tuple(
        (a, a) for a in ("temperature", "relativeHumidity", "windSpeed", "precipitation")
    ),
    "TrafficFlowObserved": (("intensity", "intensity"),),
}
# The unit a Smart Data Models property has when it carries no `unitCode` and the device registration names
# none, where it differs from the canonical one: `relativeHumidity` is "a number between 0 and 1".
NGSI_MODEL_UNITS: dict[str, str] = {"relativeHumidity": "C62"}

_NGSI_URN_RE = re.compile(r"^(?:urn|uri):ngsi(?:-ld)?:[^:]+:(.+)$")


def ngsi_term(name: str) -> str:
    """The short term of an attribute or type name: an expanded IRI (`https://…/dataModel.X/waterLevel`, or
    the core context's default vocabulary) becomes its last segment, as compacting with the Smart Data
    Models context would give."""
    if name.startswith(("http://", "https://", "urn:")):
        for sep in ("#", "/", ":"):
            if sep in name:
                name = name.rsplit(sep, 1)[1] or name
                break
    return name


def ngsi_device_id(entity: Mapping[str, Any]) -> str:
    """The device id of an NGSI-LD entity: its `refDevice` object, else the local part of its `id`.

    `urn:ngsi-ld:<Type>:<id>` is the spec's form; the `urn:ngsi:` and `uri:ngsi:` forms found in official
    Smart Data Models examples are read the same way.
    """
    ref = entity.get("refDevice")
    urn: Any = None
    if isinstance(ref, Mapping):
        urn = ref.get("object", ref.get("value"))
    elif isinstance(ref, str):
        urn = ref
    if urn is None:
        urn = entity.get("id")
    if not isinstance(urn, str) or not urn:
        raise PayloadError("Entitas NGSI-LD tanpa 'id'.", reason="bad_ngsi")
    if urn.startswith(("urn:ngsi-ld:", "urn:ngsi:", "uri:ngsi:")):
        match = _NGSI_URN_RE.match(urn)
        if match is None:
            raise PayloadError(f"ID NGSI-LD '{urn}' bukan urn:ngsi-ld:<Tipe>:<id>.", reason="bad_ngsi")
        urn = match.group(1)
    if not _DEVICE_ID_RE.match(urn):
        raise PayloadError(f"ID perangkat '{urn}' tidak valid.", reason="bad_device_id")
    return str(urn)


def _ngsi_value(prop: Any) -> Any:
    """The value of a normalized property (`value`, a Relationship's `object`) or of a concise one."""
    if isinstance(prop, Mapping):
        for key in ("value", "object", "@value"):
            if key in prop:
                return prop[key]
    return prop


def parse_ngsi_entity(
    entity: Any,
    *,
    received_at: datetime,
    units_for: UnitsFor | None = None,
    assume_tz: tzinfo | None = UTC,
    ignored: Counter[str] | None = None,
) -> list[Reading]:
    """Readings of one NGSI-LD entity (normalized or concise), per its Smart Data Models type.

    Mapped properties (`NGSI_TYPE_ATTRIBUTES`) become readings; numeric properties nobody maps (`no2`,
    `airQualityIndex`, a water `flow`, …) are left out and counted in `ignored`, as a broker stores what it
    does not understand without refusing the rest. The time is the property's `observedAt`, else the
    entity's `dateObserved` / `observationDateTime`, else `received_at`; a time without a zone is UTC, as
    the models define ("ISO8601 UTC format"). A unit comes from `unitCode`, else the device registration,
    else the model (`NGSI_MODEL_UNITS`).
    """
    if not isinstance(entity, Mapping) or "type" not in entity:
        raise PayloadError("Entitas NGSI-LD harus objek dengan 'id' dan 'type'.", reason="bad_ngsi")
    device_id = ngsi_device_id(entity)
    entity_type = ngsi_term(str(entity["type"]))
    props = {ngsi_term(k): v for k, v in entity.items()}
    units = dict(units_for(device_id) or {}) if units_for else {}
    default_time = received_at
    for key in _NGSI_TIME_KEYS:
        if key in props:
            default_time = parse_time(_ngsi_value(props[key]), assume_tz=assume_tz)
            break
    mapping = NGSI_TYPE_ATTRIBUTES.get(entity_type) or tuple((a, a) for a in _CANONICAL_NAMES)
    readings: list[Reading] = []
    used: set[str] = set()
    for source, attribute in mapping:
        prop = props.get(source)
        if prop is None:
            continue
        used.add(source)
        if attribute in {r.attribute for r in readings}:
            continue  # an alternative source of an attribute already read (`height` after `waterLevel`)
        when = default_time
        unit: Any = None
        if isinstance(prop, Mapping):
            if "value" not in prop:
                raise PayloadError(f"Properti '{source}' tanpa 'value'.", reason="bad_ngsi", attribute=source)
            unit = prop.get("unitCode")
            if "observedAt" in prop:
                when = parse_time(prop["observedAt"], assume_tz=assume_tz)
        if unit is None and attribute not in units and attribute in NGSI_MODEL_UNITS:
            unit = NGSI_MODEL_UNITS[attribute]
        readings.append(_make(device_id, attribute, _ngsi_value(prop), when, units, unit))
    skipped = [
        key
        for key, prop in props.items()
        if key not in used
        and key not in _NGSI_SKIP
        and key not in _NGSI_TIME_KEYS
        and isinstance(_ngsi_value(prop), int | float)
        and not isinstance(_ngsi_value(prop), bool)
    ]
    _note_ignored(ignored, skipped)
    if not readings:
        if skipped:
            raise _nothing_known(skipped)
        raise PayloadError(
            f"Entitas '{entity.get('id')}' tanpa pengukuran yang dikenal.", reason="no_measurement"
        )
    return readings


def parse_ngsi_ld(
    payload: str | bytes | Any,
    *,
    received_at: datetime,
    units_for: UnitsFor | None = None,
    assume_tz: tzinfo | None = UTC,
    ignored: Counter[str] | None = None,
) -> list[Reading]:
    """Parse one NGSI-LD entity or an array (normalized or concise); see `parse_ngsi_entity`."""
    data = _load_json(payload)
    entities = data if isinstance(data, list) else [data]
    if not entities:
        raise PayloadError("Larik entitas kosong.", reason="empty")
    readings: list[Reading] = []
    for entity in entities:
        readings.extend(
            parse_ngsi_entity(
                entity, received_at=received_at, units_for=units_for, assume_tz=assume_tz, ignored=ignored
            )
        )
    _check_count(readings)
    return readings


@dataclass
class ParsedItem:
    """One item of an HTTP batch: its readings and ignored attributes, or why it was refused."""

    index: int
    device_id: str | None
    readings: list[Reading]
    ignored: Counter[str]
    error: PayloadError | None = None


def _is_ngsi(item: Mapping[str, Any]) -> bool:
    """An NGSI-LD entity (an `id` and a `type`, no IoT Agent `deviceId`)."""
    ident = item.get("id")
    if isinstance(ident, str) and ident.startswith("urn:ngsi-ld:"):
        return True
    return isinstance(ident, str) and "type" in item and not any(k in item for k in DEVICE_KEYS)


def _parse_item(
    index: int,
    item: Any,
    *,
    received_at: datetime,
    units_for: UnitsFor | None,
    assume_tz: tzinfo | None,
    keys_for: UnitsFor | None = None,
) -> ParsedItem:
    ignored: Counter[str] = Counter()
    if not isinstance(item, Mapping):
        error = PayloadError("Setiap butir harus objek JSON.", reason="bad_json")
        return ParsedItem(index, None, [], ignored, error)
    device_id: str | None = None
    try:
        if _is_ngsi(item):
            device_id = ngsi_device_id(item)
            readings = parse_ngsi_entity(
                item,
                received_at=received_at,
                units_for=units_for,
                assume_tz=assume_tz if assume_tz is not None else UTC,
                ignored=ignored,
            )
        else:
            device_key = next((k for k in DEVICE_KEYS if k in item), None)
            if device_key is None:
                raise PayloadError("Objek tanpa 'deviceId'.", reason="no_device")
            raw_id = item[device_key]
            if not isinstance(raw_id, str) or not _DEVICE_ID_RE.match(raw_id):
                raise PayloadError(f"ID perangkat '{raw_id}' tidak valid.", reason="bad_device_id")
            device_id = raw_id
            readings = _attrs_object(
                item,
                device_id=device_id,
                received_at=received_at,
                units=units_for(device_id) if units_for else None,
                assume_tz=assume_tz,
                skip=frozenset({device_key, "apiKey", "api_key"}),
                ignored=ignored,
                keys=keys_for(device_id) if keys_for else None,
            )
    except PayloadError as exc:
        return ParsedItem(index, device_id, [], ignored, exc)
    return ParsedItem(index, device_id, readings, ignored)


def parse_http_items(
    payload: str | bytes | Any,
    *,
    received_at: datetime,
    units_for: UnitsFor | None = None,
    assume_tz: tzinfo | None = None,
    keys_for: UnitsFor | None = None,
) -> list[ParsedItem]:
    """Parse an HTTP body item by item, so one bad item costs only its own readings.

    Raises PayloadError only for what spoils the whole body: invalid JSON, an empty array, too many readings.
    """
    data = _load_json(payload)
    items = data if isinstance(data, list) else [data]
    if not items:
        raise PayloadError("Larik kosong.", reason="empty")
    parsed = [
        _parse_item(
            i, item, received_at=received_at, units_for=units_for, assume_tz=assume_tz, keys_for=keys_for
        )
        for i, item in enumerate(items)
    ]
    _check_count([r for p in parsed for r in p.readings])
    return parsed


def parse_http(
    payload: str | bytes | Any,
    *,
    received_at: datetime,
    units_for: UnitsFor | None = None,
    assume_tz: tzinfo | None = None,
) -> list[Reading]:
    """Parse an HTTP body: one object or an array of `{"deviceId": ..., <attrs>}` or NGSI-LD entities.

    All or nothing (the first bad item raises); `parse_http_items` gives the per-item outcome.
    """
    readings: list[Reading] = []
    for item in parse_http_items(payload, received_at=received_at, units_for=units_for, assume_tz=assume_tz):
        if item.error is not None:
            raise item.error
        readings.extend(item.readings)
    return readings


def parse_mqtt(
    topic: str,
    payload: str | bytes,
    *,
    received_at: datetime,
    units_for: UnitsFor | None = None,
    assume_tz: tzinfo | None = None,
    ignored: Counter[str] | None = None,
    keys_for: UnitsFor | None = None,
) -> tuple[Topic, list[Reading]]:
    """Parse an MQTT message: the topic, then the payload as single value, JSON or UltraLight 2.0."""
    parsed = parse_topic(topic)
    units = units_for(parsed.device_id) if units_for else None
    keys = keys_for(parsed.device_id) if keys_for else None
    if parsed.attribute is not None:
        return parsed, parse_single_value(
            payload,
            device_id=parsed.device_id,
            attribute=parsed.attribute,
            received_at=received_at,
            units=units,
            keys=keys,
        )
    text = _text(payload)
    is_json = parsed.protocol == "json" or (parsed.protocol is None and text.lstrip()[:1] in ("{", "["))
    if is_json:
        readings = parse_json_attrs(
            text,
            device_id=parsed.device_id,
            received_at=received_at,
            units=units,
            assume_tz=assume_tz,
            ignored=ignored,
            keys=keys,
        )
    else:
        readings = parse_ultralight(
            text,
            device_id=parsed.device_id,
            received_at=received_at,
            units=units,
            assume_tz=assume_tz,
            ignored=ignored,
            keys=keys,
        )
    return parsed, readings


def format_ultralight(readings: Sequence[Reading], *, units: Mapping[str, str] | None = None) -> str:
    """UltraLight 2.0 text for readings of one device: one `t|<time>|key|value…` group per time, `#` between."""
    from kotapintar.sensors.engine.kinds import from_canonical

    groups: dict[datetime, list[Reading]] = {}
    for r in sorted(readings):
        groups.setdefault(r.observed_at, []).append(r)
    out = []
    for when, items in groups.items():
        fields = ["t", iso_z(when)]
        for r in items:
            value = from_canonical(r.attribute, r.value, (units or {}).get(r.attribute))
            fields += [r.attribute, repr(round(value, 9))]
        out.append("|".join(fields))
    return "#".join(out)


def format_json_attrs(readings: Sequence[Reading], *, units: Mapping[str, str] | None = None) -> str:
    """IoT Agent JSON text for readings of one device: an array of `{"TimeInstant": ..., <attr>: value}`."""
    from kotapintar.sensors.engine.kinds import from_canonical

    groups: dict[datetime, dict[str, Any]] = {}
    for r in sorted(readings):
        item = groups.setdefault(r.observed_at, {"TimeInstant": iso_z(r.observed_at)})
        item[r.attribute] = round(from_canonical(r.attribute, r.value, (units or {}).get(r.attribute)), 9)
    return json.dumps(list(groups.values()))


def format_ngsi_ld(readings: Sequence[Reading], *, entity_type: str) -> list[dict[str, Any]]:
    """NGSI-LD entities (normalized form) for readings: one entity per device and time, `observedAt` set."""
    groups: dict[tuple[str, datetime], dict[str, Any]] = {}
    for r in sorted(readings):
        entity = groups.setdefault(
            (r.device_id, r.observed_at),
            {
                "id": f"urn:ngsi-ld:{entity_type}:{r.device_id}",
                "type": entity_type,
                "refDevice": {"type": "Relationship", "object": f"urn:ngsi-ld:Device:{r.device_id}"},
            },
        )
        entity[r.attribute] = {"type": "Property", "value": r.value, "observedAt": iso_z(r.observed_at)}
    return list(groups.values())
