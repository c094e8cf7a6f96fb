"""Pure ingest pipeline: authenticate the device, parse, check attributes, drop duplicates, order by time."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from weakref import WeakKeyDictionary

from kotapintar.core.errors import DomainError
from kotapintar.sensors.engine.kinds import UnitError, canonical_attribute, canonical_unit, converter
from kotapintar.sensors.engine.payloads import (
    MAX_PAYLOAD_BYTES,
    MAX_READINGS_PER_PAYLOAD,
    TIME_KEYS,
    PayloadError,
    Reading,
    parse_http_items,
    parse_mqtt,
    parse_time,
    parse_topic,
)
from kotapintar.sensors.engine.registry import BadApiKey, Device, DeviceRegistry, UnknownDevice

MAX_ITEM_RESULTS = 1000


@dataclass
class IngestResult:
    """Readings accepted from one message or request, and rejections by reason (never stored as data).

    `ignored` counts attributes left out of accepted messages (not known, or not measured by the device's
    kind); `messages` keeps the last message per (claimed device, reason) so the rejection counters can say
    why; `items` is the per-item outcome of an HTTP batch; `held` counts readings from the future beyond the
    device's tolerance (stored flagged `clock_skew`, kept out of last seen, health and rules).
    """

    readings: list[Reading] = field(default_factory=list)
    rejected: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    by_device: Counter[tuple[str, str]] = field(default_factory=Counter)
    ignored: Counter[str] = field(default_factory=Counter)
    messages: dict[tuple[str, str], str] = field(default_factory=dict)
    items: list[dict[str, object]] = field(default_factory=list)
    held: int = 0

    def reject(self, reason: str, message: str, count: int = 1, device_id: str = "-") -> None:
        """Count `count` rejected items under `reason` (and the claimed device, `-` when unknown)."""
        self.rejected[reason] += count
        self.by_device[(device_id[:128], reason)] += count
        self.messages[(device_id[:128], reason)] = message[:300]
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
    """Turn one MQTT message into readings of a known device with a matching key, or count the rejection.

    A batch of one, so single messages and batches cannot drift apart; its readings are in time order.
    """
    result = accept_mqtt_batch([(topic, payload)], registry=registry, received_at=received_at)
    result.readings.sort()
    return result


def accept_mqtt_batch(
    messages: Sequence[tuple[str, str | bytes]], *, registry: DeviceRegistry, received_at: datetime
) -> IngestResult:
    """Turn a batch of MQTT messages (topic, payload) into one result, at a fraction of the per-message cost.

    The outcome is exactly that of `accept_mqtt` per message, merged: the same readings (exact duplicates
    dropped within a message, not across messages), the same rejections per reason and claimed device, the
    same first 20 error messages in message order. The readings are NOT sorted: the caller sorts once.

    Why it is fast: the topic outcome (parsed, device known, key checked) is remembered per topic string,
    and a well-formed UltraLight message `[t|<time>|]key|value|...` of an accepted topic is read by a
    short path that remembers per topic and key the canonical attribute, unit conversion and unit, and per
    batch the parsed time of each time text. Anything that path does not recognise — JSON, `#` groups, a
    single-value topic, an unknown or repeated key, a bad number or time — goes through the precise path
    (`_accept_precise`), so every rejection keeps its reason and message.
    """
    result = IngestResult()
    readings = result.readings
    routes = _routes_of(registry)
    times: dict[str, datetime] = {}
    for topic, payload in messages:
        route = routes.get(topic)
        if route is None:
            if len(routes) >= _MAX_ROUTES:
                routes.clear()  # unbounded distinct topics (e.g. a flood of guessed keys) must not grow memory
            route = routes[topic] = _route(topic, registry)
        if isinstance(route, _Refusal):
            result.reject(route.reason, route.message, device_id=route.claimed)
            continue
        fast = route.ultralight(payload, received_at, times) if route.fast else None
        if fast is None:
            _accept_precise(topic, payload, registry=registry, received_at=received_at, result=result)
        else:
            readings.extend(fast)
    return result


def _accept_precise(
    topic: str, payload: str | bytes, *, registry: DeviceRegistry, received_at: datetime, result: IngestResult
) -> None:
    """The reference pipeline for one message: every check in order, the first failure is the rejection."""
    claimed = "-"
    ignored: Counter[str] = Counter()
    try:
        parsed = parse_topic(topic)
        claimed = parsed.device_id
        device = registry.authenticate(parsed.device_id, parsed.api_key)
        _, readings = parse_mqtt(
            topic,
            payload,
            received_at=received_at,
            units_for=registry.units_for,
            ignored=ignored,
            keys_for=registry.keys_for,
        )
        readings = _measured_by(registry, device, readings, ignored)
    except DomainError as exc:
        result.reject(_reason(exc), exc.message, device_id=claimed)
        return
    result.ignored.update(ignored)
    result.readings.extend(normalise(readings))


def _measured_by(
    registry: DeviceRegistry, device: Device, readings: list[Reading], ignored: Counter[str]
) -> list[Reading]:
    """The readings of attributes the device's kind measures; the others are counted in `ignored`.

    A weather value inside an AirQualityObserved or a temperature sent by a river gauge's logger is not an
    error in the message, so it must not cost the measurements next to it. Only a message with nothing the
    device measures is refused (`sensor_wrong_attribute`), so a misconfigured device is still visible.
    """
    kept = [r for r in readings if r.attribute in device.attributes]
    if not kept and readings:
        registry.check_attribute(device, readings[0].attribute)  # raises sensor_wrong_attribute
    ignored.update(r.attribute for r in readings if r.attribute not in device.attributes)
    return kept


# Topics remembered per registry; cleared when this many distinct topics were seen.
_MAX_ROUTES = 10_000
# Raw UltraLight keys remembered per topic (spelling variants of a device's few attributes).
_MAX_KEYS = 64

_KeySpec = tuple[str, Callable[[float], float], str]


@dataclass(frozen=True, slots=True)
class _Refusal:
    """A topic that is always rejected (bad topic, unknown device, wrong key): no payload can change that."""

    reason: str
    message: str
    claimed: str


@dataclass(slots=True)
class _Route:
    """An authenticated topic: the device, and what its UltraLight keys mean (filled as keys are seen)."""

    device: Device
    fast: bool
    keys: dict[str, _KeySpec] = field(default_factory=dict)

    def ultralight(
        self, payload: str | bytes, received_at: datetime, times: dict[str, datetime]
    ) -> list[Reading] | None:
        """Readings of a plain one-group UltraLight payload, or None to leave the message to the precise path.

        None is returned for anything irregular, so this path only ever accepts what the precise path
        accepts, with the same readings (same float parsing, same conversion function, same time).
        """
        if len(payload) > MAX_PAYLOAD_BYTES:
            return None
        if isinstance(payload, bytes):
            try:
                text = payload.decode("utf-8")
            except UnicodeDecodeError:
                return None
        elif isinstance(payload, str):
            text = payload
        else:
            return None
        if "#" in text:
            return None
        fields = text.split("|")
        n = len(fields)
        if n & 1:
            return None
        if fields[0] == "t":
            raw_time = fields[1]
            when = times.get(raw_time)
            if when is None:
                try:
                    when = parse_time(raw_time.strip())
                except PayloadError:
                    return None
                times[raw_time] = when
            start = 2
        else:
            when, start = received_at, 0
        if n == start or (n - start) // 2 > MAX_READINGS_PER_PAYLOAD:
            return None
        device_id = self.device.id
        keys = self.keys
        out: list[Reading] = []
        for i in range(start, n, 2):
            spec = keys.get(fields[i]) or self._learn(fields[i])
            if spec is None:
                return None
            try:
                value = float(fields[i + 1])  # float() strips the same whitespace as str.strip()
            except ValueError:
                return None  # includes the decimal comma, which the precise path accepts
            if not math.isfinite(value):
                return None
            attribute, convert, unit = spec
            out.append(Reading(when, device_id, attribute, convert(value), unit))
        if len(out) > 1 and len({r.attribute for r in out}) < len(out):
            return None  # a repeated attribute: duplicates and conflicts are the precise path's business
        return out

    def _learn(self, raw_key: str) -> _KeySpec | None:
        """What an UltraLight key means for this device; None when the precise path must decide."""
        key = raw_key.strip()
        if not key or key.lower() in TIME_KEYS:
            return None
        attribute = canonical_attribute(key)
        if attribute is None or attribute not in self.device.attributes:
            return None
        try:
            convert = converter(attribute, self.device.units.get(attribute))
        except UnitError:
            return None
        if len(self.keys) >= _MAX_KEYS:
            self.keys.clear()
        spec = self.keys[raw_key] = (attribute, convert, canonical_unit(attribute))
        return spec


_ROUTES: WeakKeyDictionary[DeviceRegistry, dict[str, _Route | _Refusal]] = WeakKeyDictionary()


def _routes_of(registry: DeviceRegistry) -> dict[str, _Route | _Refusal]:
    """The topic memory of one registry (a new registry, e.g. after devices changed, starts empty)."""
    routes = _ROUTES.get(registry)
    if routes is None:
        routes = _ROUTES[registry] = {}
    return routes


def _route(topic: str, registry: DeviceRegistry) -> _Route | _Refusal:
    """Parse and authenticate a topic once; the outcome depends on nothing but the topic and the registry."""
    try:
        parsed = parse_topic(topic)
    except PayloadError as exc:
        return _Refusal(exc.reason, exc.message, "-")
    try:
        device = registry.authenticate(parsed.device_id, parsed.api_key)
    except DomainError as exc:
        return _Refusal(_reason(exc), exc.message, parsed.device_id)
    # A device with its own key mapping (`t` may be temperature) always takes the precise path.
    fast = parsed.attribute is None and parsed.protocol != "json" and not device.mapping
    return _Route(device, fast)


def accept_http(
    payload: str | bytes | object,
    *,
    registry: DeviceRegistry,
    received_at: datetime,
    api_keys: Mapping[str, str] | None = None,
    api_key: str | None = None,
) -> IngestResult:
    """Turn an HTTP body (single or batch) into readings; each device needs its key (header or per-device map).

    Item by item: an item that cannot be read, of an unknown device, with a wrong key or with nothing the
    device measures is rejected with its reason and counted; the rest of the batch is kept. `items` says,
    per item in body order, `accepted` (with readings, ignored attributes and readings held for a time in
    the future) or `rejected` (with the reason and a message).
    """
    result = IngestResult()
    try:
        parsed = parse_http_items(
            payload, received_at=received_at, units_for=registry.units_for, keys_for=registry.keys_for
        )
    except PayloadError as exc:
        result.reject(exc.reason, exc.message)
        return result
    devices: dict[str, Device | DomainError] = {}
    accepted: list[Reading] = []
    for item in parsed:
        claimed = item.device_id or "-"
        try:
            if item.error is not None:
                raise item.error
            device_id = item.device_id or "-"
            known = devices.get(device_id)
            if known is None:
                key = (api_keys or {}).get(device_id, api_key)
                try:
                    if key is None:
                        raise BadApiKey(f"Kunci API perangkat '{device_id}' tidak ada.", device_id=device_id)
                    known = registry.authenticate(device_id, key)
                except DomainError as exc:
                    known = exc
                devices[device_id] = known
            if isinstance(known, DomainError):
                raise known
            readings = _measured_by(registry, known, item.readings, item.ignored)
        except DomainError as exc:
            reason = _reason(exc)
            result.reject(reason, exc.message, max(len(item.readings), 1), device_id=claimed)
            _note_item(result, item.index, claimed, "rejected", reason=reason, message=exc.message)
            continue
        limit = received_at + timedelta(seconds=known.max_clock_skew_s)
        held = sum(1 for r in readings if r.observed_at > limit)
        result.held += held
        result.ignored.update(item.ignored)
        accepted.extend(readings)
        _note_item(
            result,
            item.index,
            claimed,
            "accepted",
            readings=len(readings),
            ignored=sorted(item.ignored),
            held_future=held,
        )
    result.readings = normalise(accepted)
    return result


def _note_item(result: IngestResult, index: int, device_id: str, status: str, **details: object) -> None:
    """Record one item's outcome (bounded: a huge batch reports its first MAX_ITEM_RESULTS items)."""
    if len(result.items) < MAX_ITEM_RESULTS:
        result.items.append({"index": index, "device_id": device_id, "status": status, **details})


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
