"""Pure ingest pipeline: authenticate the device, parse, check attributes, drop duplicates, order by time."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from kotapintar.domain.errors import DomainError
from kotapintar.sensors.payloads import PayloadError, Reading, parse_http, parse_mqtt, parse_topic
from kotapintar.sensors.registry import BadApiKey, DeviceRegistry, UnknownDevice


@dataclass
class IngestResult:
    """Readings accepted from one message or request, and rejections by reason (never stored as data)."""

    readings: list[Reading] = field(default_factory=list)
    rejected: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    by_device: Counter[tuple[str, str]] = field(default_factory=Counter)

    def reject(self, reason: str, message: str, count: int = 1, device_id: str = "-") -> None:
        """Count `count` rejected items under `reason` (and the claimed device, `-` when unknown)."""
        self.rejected[reason] += count
        self.by_device[(device_id[:128], reason)] += count
        if len(self.errors) < 20:
            self.errors.append(message)


def _reason(exc: DomainError) -> str:
    if isinstance(exc, PayloadError):
        return exc.reason
    if isinstance(exc, UnknownDevice):
        return "unknown_device"
    if isinstance(exc, BadApiKey):
        return "bad_api_key"
    return exc.code


def accept_mqtt(
    topic: str, payload: str | bytes, *, registry: DeviceRegistry, received_at: datetime
) -> IngestResult:
    """Turn one MQTT message into readings of a known device with a matching key, or count the rejection."""
    result = IngestResult()
    claimed = "-"
    try:
        parsed = parse_topic(topic)
        claimed = parsed.device_id
        device = registry.authenticate(parsed.device_id, parsed.api_key)
        _, readings = parse_mqtt(topic, payload, received_at=received_at, units_for=registry.units_for)
        for r in readings:
            registry.check_attribute(device, r.attribute)
    except DomainError as exc:
        result.reject(_reason(exc), exc.message, device_id=claimed)
        return result
    result.readings = normalise(readings)
    return result


def accept_http(
    payload: str | bytes | object,
    *,
    registry: DeviceRegistry,
    received_at: datetime,
    api_keys: Mapping[str, str] | None = None,
    api_key: str | None = None,
) -> IngestResult:
    """Turn an HTTP body (single or batch) into readings; each device needs its key (header or per-device map).

    Readings of unknown devices, with a wrong key or a wrong attribute are rejected and counted per device;
    the rest of the batch is kept.
    """
    result = IngestResult()
    try:
        readings = parse_http(payload, received_at=received_at, units_for=registry.units_for)
    except PayloadError as exc:
        result.reject(exc.reason, exc.message)
        return result
    by_device: dict[str, list[Reading]] = {}
    for r in readings:
        by_device.setdefault(r.device_id, []).append(r)
    accepted: list[Reading] = []
    for device_id, items in sorted(by_device.items()):
        key = (api_keys or {}).get(device_id, api_key)
        try:
            if key is None:
                raise BadApiKey(f"Kunci API perangkat '{device_id}' tidak ada.", device_id=device_id)
            device = registry.authenticate(device_id, key)
            for r in items:
                registry.check_attribute(device, r.attribute)
        except DomainError as exc:
            result.reject(_reason(exc), exc.message, len(items), device_id=device_id)
            continue
        accepted.extend(items)
    result.readings = normalise(accepted)
    return result


def normalise(readings: Iterable[Reading]) -> list[Reading]:
    """Readings in time order (late and out-of-order ones placed by their observed time), exact duplicates dropped."""
    return sorted(set(readings))


def conflicts(readings: Sequence[Reading]) -> list[tuple[Reading, Reading]]:
    """Pairs with the same device, attribute and time but different values (kept: first in time order wins)."""
    seen: dict[tuple[str, str, datetime], Reading] = {}
    out = []
    for r in sorted(readings):
        other = seen.get(r.key)
        if other is not None and other.value != r.value:
            out.append((other, r))
        seen.setdefault(r.key, r)
    return out


def drop_known(readings: Iterable[Reading], known: Iterable[Reading]) -> list[Reading]:
    """New readings minus exact duplicates of readings already stored (e.g. a device re-sending its buffer)."""
    stored = set(known)
    return [r for r in normalise(readings) if r not in stored]
