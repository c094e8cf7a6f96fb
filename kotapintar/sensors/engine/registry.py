"""The device registry as data: device specs loaded from YAML, per-device API keys and their checks."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from kotapintar.core.errors import NotFound, PermissionDenied, ValidationFailed
from kotapintar.sensors.engine.kinds import (
    KIND_ATTRIBUTES,
    DeviceKind,
    UnitError,
    canonical_attribute,
    converter,
)
from kotapintar.sensors.engine.quality import QualityConfig

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
_REGION_RE = r"^\d{2}(\.\d{2}(\.\d{2}(\.\d{4})?)?)?$"


class UnknownDevice(NotFound):
    """A reading for a device id that is not in the registry (rejected, counted, never stored)."""

    code = "sensor_unknown_device"


class BadApiKey(PermissionDenied):
    """A reading whose API key does not belong to the device (rejected, counted, never stored)."""

    code = "sensor_bad_api_key"


class AttributeMapping(BaseModel):
    """How one key a device sends maps to an attribute, as in a FIWARE IoT Agent's device provisioning
    (`attributes: [{object_id, name, type, metadata.unitCode}]`): FIWARE's own UltraLight examples send `t`
    for temperature, so what a key means belongs to the device, not to a global alias table."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    object_id: str = Field(
        min_length=1, max_length=64, description="the key in the payload (`t`, `h`, `lvl`)"
    )
    name: str = Field(description="the attribute it is (Smart Data Models name, e.g. temperature)")
    type: str = Field("Number", description="the NGSI type; only Number is measured")
    unit: str | None = Field(None, description="unit the device sends (UN/CEFACT code or symbol)")


class Device(BaseModel):
    """One registered device: identity, kind, place, owner agency, units, valid range, interval, thresholds."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,127}$")
    name: str
    kind: DeviceKind
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    region: str = Field(pattern=_REGION_RE, description="Kemendagri code of the kecamatan (or desa)")
    owner_agency: str
    river: str | None = None
    gauge_class: str | None = Field(default=None, description="flood level class in defaults.yaml")
    tags: tuple[str, ...] = ()
    units: dict[str, str] = Field(default_factory=dict, description="attribute -> unit the device sends")
    interval_s: int = Field(gt=0, description="expected reporting interval in seconds")
    valid_range: dict[str, tuple[float, float]] = Field(default_factory=dict)
    max_rate_per_hour: dict[str, float] = Field(default_factory=dict)
    stuck_window_s: int | None = Field(default=None, gt=0)
    stuck_exempt: tuple[float, ...] = ()
    max_clock_skew_s: int = Field(default=300, ge=0)
    thresholds: dict[str, float] = Field(default_factory=dict, description="named level -> value")
    api_key_hash: str | None = Field(default=None, description="sha256 hex of the device's API key")
    mapping: tuple[AttributeMapping, ...] = Field(
        default=(),
        description="payload key -> attribute and unit (IoT Agent provisioning); wins over aliases",
    )

    @field_validator("units", "valid_range", "max_rate_per_hour")
    @classmethod
    def _canonical_keys(cls, value: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, item in value.items():
            name = canonical_attribute(key)
            if name is None:
                raise ValueError(f"unknown attribute '{key}'")
            out[name] = item
        return out

    @model_validator(mode="after")
    def _check(self) -> Device:
        allowed = set(KIND_ATTRIBUTES[self.kind])
        for attr in [*self.units, *self.valid_range, *self.max_rate_per_hour]:
            if attr not in allowed:
                raise ValueError(f"attribute '{attr}' does not belong to kind {self.kind.value}")
        seen: set[str] = set()
        for item in self.mapping:
            name = canonical_attribute(item.name)
            if name is None or name not in allowed:
                raise ValueError(
                    f"mapping {item.object_id}: '{item.name}' is not an attribute of kind {self.kind.value}"
                )
            if item.type != "Number":
                raise ValueError(f"mapping {item.object_id}: only type Number is measured, not {item.type}")
            if item.object_id in seen:
                raise ValueError(f"mapping: object_id '{item.object_id}' appears twice")
            seen.add(item.object_id)
            if item.unit is not None:
                try:
                    converter(name, item.unit)
                except UnitError as exc:
                    raise ValueError(f"mapping {item.object_id}: {exc.message}") from exc
        for attr, (low, high) in self.valid_range.items():
            if low >= high:
                raise ValueError(f"valid_range of {attr}: min {low} must be below max {high}")
        return self

    @property
    def attributes(self) -> tuple[str, ...]:
        """The canonical attributes this device may report."""
        return KIND_ATTRIBUTES[self.kind]

    @property
    def payload_keys(self) -> dict[str, str]:
        """Payload key -> canonical attribute of this device's mapping (empty without one)."""
        return {m.object_id: str(canonical_attribute(m.name)) for m in self.mapping}

    @property
    def sent_units(self) -> dict[str, str]:
        """The units the device sends: `units`, with the mapping's units over them."""
        out = dict(self.units)
        for m in self.mapping:
            if m.unit is not None:
                out[str(canonical_attribute(m.name))] = m.unit
        return out

    @property
    def primary_attribute(self) -> str:
        """The attribute rules and maps use by default (first of the kind)."""
        return KIND_ATTRIBUTES[self.kind][0]

    @property
    def interval(self) -> timedelta:
        """The expected reporting interval."""
        return timedelta(seconds=self.interval_s)

    def quality_config(self, attribute: str) -> QualityConfig:
        """The quality-check settings of one attribute of this device."""
        low, high = self.valid_range.get(attribute, (None, None))
        stuck = self.stuck_window_s if attribute == self.primary_attribute else None
        return QualityConfig(
            valid_min=low,
            valid_max=high,
            max_rate_per_hour=self.max_rate_per_hour.get(attribute),
            stuck_window=timedelta(seconds=stuck) if stuck else None,
            stuck_exempt=self.stuck_exempt,
            expected_interval=self.interval,
            max_clock_skew=timedelta(seconds=self.max_clock_skew_s),
        )


def derive_api_key(secret: str | bytes, device_id: str) -> str:
    """The placeholder API key of a device: first 24 hex of HMAC-SHA256(secret, device id)."""
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, device_id.encode(), hashlib.sha256).hexdigest()[:24]


def hash_api_key(api_key: str) -> str:
    """The sha256 hex stored for an API key (the key itself is never stored)."""
    return hashlib.sha256(api_key.encode()).hexdigest()


class DeviceRegistry:
    """Devices by id, with the check that a reading's device exists and its API key matches."""

    def __init__(self, devices: Iterable[Device], *, key_secret: str | bytes | None = None) -> None:
        self._devices: dict[str, Device] = {}
        for device in devices:
            if device.id in self._devices:
                raise ValidationFailed(f"ID perangkat ganda: {device.id}.", code="sensor_duplicate_device")
            self._devices[device.id] = device
        self._secret = key_secret
        # device id -> the last key that passed: a device sends the same key with every message, so the
        # hash is computed once per key change instead of once per message.
        self._accepted: dict[str, str] = {}

    def __contains__(self, device_id: object) -> bool:
        return device_id in self._devices

    def __iter__(self) -> Any:
        return iter(self._devices.values())

    def __len__(self) -> int:
        return len(self._devices)

    def get(self, device_id: str) -> Device:
        """The device with this id; raises UnknownDevice."""
        device = self._devices.get(device_id)
        if device is None:
            raise UnknownDevice(f"Perangkat '{device_id}' tidak terdaftar.", device_id=device_id)
        return device

    def by_id(self) -> Mapping[str, Device]:
        """All devices by id (read-only view)."""
        return dict(self._devices)

    def units_for(self, device_id: str) -> Mapping[str, str] | None:
        """The units a device sends (for the payload parsers); None for unknown devices."""
        device = self._devices.get(device_id)
        if device is None:
            return None
        return device.sent_units if device.mapping else device.units

    def keys_for(self, device_id: str) -> Mapping[str, str] | None:
        """What the payload keys of a device mean (its IoT Agent mapping); None without a mapping."""
        device = self._devices.get(device_id)
        return device.payload_keys if device is not None and device.mapping else None

    def authenticate(self, device_id: str, api_key: str) -> Device:
        """The device if `api_key` is its key (stored hash, else derived from the secret); raises otherwise."""
        device = self.get(device_id)
        known = self._accepted.get(device_id)
        if known is not None and hmac.compare_digest(known, api_key):
            return device
        if device.api_key_hash is not None:
            ok = hmac.compare_digest(hash_api_key(api_key), device.api_key_hash)
        elif self._secret is not None:
            ok = hmac.compare_digest(api_key, derive_api_key(self._secret, device_id))
        else:
            ok = False
        if not ok:
            raise BadApiKey(f"Kunci API salah untuk perangkat '{device_id}'.", device_id=device_id)
        self._accepted[device_id] = api_key
        return device

    def check_attribute(self, device: Device, attribute: str) -> None:
        """Raise ValidationFailed if the device's kind does not report `attribute`."""
        if attribute not in device.attributes:
            raise ValidationFailed(
                f"Perangkat '{device.id}' ({device.kind.value}) tidak mengukur {attribute}.",
                code="sensor_wrong_attribute",
                device_id=device.id,
                attribute=attribute,
            )


def load_devices(path: Path | None = None) -> list[Device]:
    """Devices from a YAML file (default: the Kapuas demo devices), validated as a whole.

    The file is the shipped format: `defaults` per kind merged under each entry of `devices`. Any problem
    raises ValidationFailed naming the file, the line of the entry, the device id and the field, and no
    device of the file counts: a registry half-loaded from a file with a typo is worse than none.
    """
    source = path or DATA_DIR / "devices.yaml"
    try:
        text = source.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationFailed(
            f"{source}: tidak dapat dibaca / cannot be read: {exc}", code="bad_file"
        ) from exc
    return parse_devices(text, name=str(source))


def parse_devices(text: str, *, name: str = "devices.yaml") -> list[Device]:
    """Devices from the text of a device file; see `load_devices`."""
    try:
        data = yaml.safe_load(text)
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ValidationFailed(
            f"{name}{where}: YAML tidak sah / invalid YAML: {exc}", code="bad_file"
        ) from exc
    if not isinstance(data, dict) or not isinstance(data.get("devices"), list):
        raise ValidationFailed(
            f"{name}: harus berisi daftar 'devices' / must hold a list under 'devices'", code="bad_file"
        )
    defaults = data.get("defaults") or {}
    if not isinstance(defaults, dict):
        raise ValidationFailed(
            f"{name}: 'defaults' harus peta per jenis / must map kind -> fields", code="bad_file"
        )
    lines = _entry_lines(root)
    devices: list[Device] = []
    seen: dict[str, int] = {}
    for index, raw in enumerate(data["devices"]):
        line = lines[index] if index < len(lines) else 0
        where = f"{name} line {line}" if line else f"{name} entry {index + 1}"
        if not isinstance(raw, dict):
            raise ValidationFailed(f"{where}: a device must be a mapping of fields", code="bad_device")
        kind_defaults = defaults.get(raw.get("kind"), {})
        try:
            device = Device.model_validate({**kind_defaults, **raw})
        except ValidationError as exc:
            raise ValidationFailed(
                f"{where} ({raw.get('id', '?')}): {describe_errors(exc)}", code="bad_device"
            ) from exc
        if device.id in seen:
            raise ValidationFailed(
                f"{where}: ID perangkat ganda / duplicate device id {device.id} (first at line {seen[device.id]})",
                code="sensor_duplicate_device",
            )
        seen[device.id] = line
        devices.append(device)
    return devices


def describe_errors(exc: ValidationError) -> str:
    """Pydantic's errors of a device as one line: `field: problem; field: problem`."""
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'device'}: {e['msg']}" for e in exc.errors())


def _entry_lines(root: yaml.Node | None) -> list[int]:
    """1-based line of each entry under `devices` (for messages that point at the entry to fix)."""
    if not isinstance(root, yaml.MappingNode):
        return []
    for key, value in root.value:
        if (
            isinstance(key, yaml.ScalarNode)
            and key.value == "devices"
            and isinstance(value, yaml.SequenceNode)
        ):
            return [item.start_mark.line + 1 for item in value.value]
    return []
