"""Batch MQTT ingest: one call for many messages, with exactly the outcome of the message-by-message path."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from kotapintar.core.errors import DomainError
from kotapintar.sensors.engine.ingest import IngestResult, accept_mqtt, accept_mqtt_batch, normalise
from kotapintar.sensors.engine.payloads import PayloadError, parse_mqtt, parse_topic
from kotapintar.sensors.engine.registry import (
    BadApiKey,
    Device,
    DeviceRegistry,
    UnknownDevice,
    derive_api_key,
    hash_api_key,
    load_devices,
)

T0 = datetime(2026, 11, 29, 3, 5, tzinfo=UTC)
SECRET = "rahasia-uji"
DEVICES = load_devices()
IDS = [d.id for d in DEVICES]
ATTRIBUTES = {d.id: d.attributes for d in DEVICES}
# A second registry whose devices send other units, one unit that cannot be converted, and a stored key hash.
VARIANT_UNITS = {
    "KPS-AWLR-01": {"waterLevel": "MMT"},
    "KPS-AQ-01": {"pm25": "mg/m3", "pm10": "µg/m³"},
    "KPS-ARG-01": {"precipitation": "furlong"},
    "KPS-AWS-01": {"temperature": "degF", "windSpeed": "knot", "relativeHumidity": "1"},
}
STORED_KEY = "kunci-tersimpan-42"


def _variant_devices() -> list[Device]:
    out = []
    for d in DEVICES:
        update: dict[str, object] = {}
        if d.id in VARIANT_UNITS:
            update["units"] = VARIANT_UNITS[d.id]
        if d.id == "KPS-ARG-02":
            update["api_key_hash"] = hash_api_key(STORED_KEY)
        out.append(d.model_copy(update=update))
    return out


REGISTRIES = {
    "demo": DeviceRegistry(DEVICES, key_secret=SECRET),
    "variant": DeviceRegistry(_variant_devices(), key_secret=SECRET),
}


def key_of(device_id: str) -> str:
    """The key a registry built with SECRET accepts (the stored hash wins for KPS-ARG-02 in the variant)."""
    return derive_api_key(SECRET, device_id)


def reference(topic: str, payload: str | bytes, registry: DeviceRegistry) -> IngestResult:
    """The message-by-message pipeline written out from the public parsers: the oracle for the batch."""
    result = IngestResult()
    claimed = "-"
    try:
        parsed = parse_topic(topic)
        claimed = parsed.device_id
        device = registry.authenticate(parsed.device_id, parsed.api_key)
        _, readings = parse_mqtt(topic, payload, received_at=T0, units_for=registry.units_for)
        # Attributes the device does not measure are left out; only a message with none it measures is
        # refused (issue 18: one extra field must not cost the measurements next to it).
        measured = [r for r in readings if r.attribute in device.attributes]
        if not measured:
            registry.check_attribute(device, readings[0].attribute)
        readings = measured
    except DomainError as exc:
        if isinstance(exc, PayloadError):
            reason = exc.reason
        elif isinstance(exc, UnknownDevice):
            reason = "unknown_device"
        elif isinstance(exc, BadApiKey):
            reason = "bad_api_key"
        else:
            reason = exc.code
        result.reject(reason, exc.message, device_id=claimed)
        return result
    result.readings = normalise(readings)
    return result


def merged(
    messages: Sequence[tuple[str, str | bytes]], one: Callable[[str, str | bytes], IngestResult]
) -> IngestResult:
    """Merge per-message results the way the sensor service did before batches existed."""
    out = IngestResult()
    for topic, payload in messages:
        res = one(topic, payload)
        out.readings.extend(res.readings)
        out.rejected.update(res.rejected)
        out.by_device.update(res.by_device)
        if res.errors and len(out.errors) < 20:
            out.errors.extend(res.errors)
    return out


def outcome(result: IngestResult) -> tuple[object, ...]:
    """What must be equal between two results: readings as a multiset, counters, errors in order."""
    return (sorted(result.readings), dict(result.rejected), dict(result.by_device), result.errors)


# --- message strategies -------------------------------------------------------------------------------

KEY_SPELLINGS = {
    "waterLevel": ["wl", "WL", "tma", "level", "waterLevel", " wl "],
    "precipitation": ["p", "rain", "ch", "RR", "precipitation"],
    "pm25": ["pm25", "pm2.5", "p25", "PM2_5"],
    "pm10": ["pm10", "p10"],
    "temperature": ["temp", "t_air", "temperature"],
    "relativeHumidity": ["rh", "hum"],
    "windSpeed": ["ws", "wind"],
    "intensity": ["flow"],
    "frp": ["frp"],
}
ODD_KEYS = ["battery", "", " ", "t", "T", "ts", "TimeInstant", "{", "wl\x00", " wl ", "Wl", "PM2.5"]
GOOD_VALUES = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.integers(-1000, 100000).map(str),
    st.sampled_from(["1.5e2", "-0.0", "0", "007", "3.", ".5"]),
)
ODD_VALUES = st.sampled_from(
    ["1,5", " 2.25 ", "nan", "inf", "-inf", "1e400", "abc", "", "1_0", "0x10", "\t3\n", "\u0661\u0662", "1 2"]
)
GOOD_TIMES = st.sampled_from(
    ["2026-11-29T03:00:00Z", "2026-11-29T03:10:00Z", "2026-11-29T10:10:00+07:00", "2026-11-29T03:00:00.250Z"]
)
ODD_TIMES = st.sampled_from(
    [
        " 2026-11-29T03:00:00Z ",
        "2026-11-29T03:00:00",  # naive
        "1764385200",  # epoch seconds
        "1764385200000",  # epoch milliseconds
        "kemarin",
        "",
        "0001-01-01T00:00:00+07:00",  # out of range once in UTC
    ]
)
FLAWS = [
    "odd_value",
    "odd_key",
    "other_attribute",
    "odd_time",
    "time_key",
    "no_time",
    "late_time",
    "repeat",
    "unpaired",
    "groups",
    "space",
    "empty",
]


@st.composite
def topics(draw: st.DrawFn) -> tuple[str, str]:
    """A topic and the device it claims; mostly valid, sometimes a wrong key, unknown device or bad shape."""
    device_id = draw(st.sampled_from(IDS))
    key = key_of(device_id)
    kind = draw(
        st.sampled_from(
            ["plain"] * 6
            + ["ul", "json", "attr", "wrong_key", "other_key", "stored_key", "unknown", "bad", "bad_id"]
        )
    )
    if kind == "plain":
        return f"/{key}/{device_id}/attrs", device_id
    if kind == "ul":
        return f"/ul/{key}/{device_id}/attrs", device_id
    if kind == "json":
        return f"/json/{key}/{device_id}/attrs", device_id
    if kind == "attr":
        attr = draw(st.sampled_from([*KEY_SPELLINGS[ATTRIBUTES[device_id][0]], "battery", "pm25"]))
        return f"/{key}/{device_id}/attrs/{attr}", device_id
    if kind == "wrong_key":
        return f"/{key[:-1]}0/{device_id}/attrs", device_id
    if kind == "other_key":
        return (
            f"/{key_of('KPS-AWLR-01' if device_id != 'KPS-AWLR-01' else 'KPS-ARG-01')}/{device_id}/attrs",
            device_id,
        )
    if kind == "stored_key":
        return f"/{STORED_KEY}/KPS-ARG-02/attrs", "KPS-ARG-02"
    if kind == "unknown":
        return f"/{key}/KPS-NOPE-{draw(st.integers(1, 3))}/attrs", device_id
    if kind == "bad":
        return draw(
            st.sampled_from(["/a/b", "a/b/c/attrs", f"/{key}/{device_id}/attr", f"/{key}/{device_id}/attrs/"])
        ), device_id
    return f"/{key}/bad id!/attrs", device_id


@st.composite
def ultralight(draw: st.DrawFn, device_id: str) -> str:
    """UltraLight text of the device: mostly well-formed, else with one flaw of the kinds devices really send."""
    own = ATTRIBUTES[device_id]

    def group() -> list[str]:
        attrs = draw(st.permutations(own))[: draw(st.integers(1, len(own)))]
        fields = ["t", draw(GOOD_TIMES)]
        for attr in attrs:
            fields += [draw(st.sampled_from(KEY_SPELLINGS[attr][:3])), draw(GOOD_VALUES)]
        return fields

    fields = group()
    flaw = draw(st.sampled_from(["none"] * len(FLAWS) + FLAWS))
    pair = 2 * draw(st.integers(1, len(fields) // 2 - 1))  # index of one key
    if flaw == "odd_value":
        fields[pair + 1] = draw(ODD_VALUES)
    elif flaw == "odd_key":
        fields[pair] = draw(st.sampled_from(ODD_KEYS))
    elif flaw == "other_attribute":
        others = [a for a in KEY_SPELLINGS if a not in own]
        fields[pair] = KEY_SPELLINGS[draw(st.sampled_from(others))][0]
    elif flaw == "odd_time":
        fields[1] = draw(ODD_TIMES)
    elif flaw == "time_key":
        fields[0] = draw(st.sampled_from(["T", "ts", " t", "TimeInstant", "x"]))
    elif flaw == "no_time":
        fields = fields[2:]
    elif flaw == "late_time":
        fields += ["ts", draw(st.one_of(GOOD_TIMES, ODD_TIMES))]
    elif flaw == "repeat":
        fields += [fields[pair], draw(st.sampled_from([fields[pair + 1], "99"]))]
    elif flaw == "unpaired":
        fields.append(draw(st.one_of(GOOD_VALUES, st.sampled_from(KEY_SPELLINGS[own[0]]))))
    elif flaw == "groups":
        return "|".join(fields) + draw(st.sampled_from(["#", "#", "# "])) + "|".join(group())
    elif flaw == "space":
        return (
            draw(st.sampled_from([" ", "\n", "\t"])) + "|".join(fields) + draw(st.sampled_from(["", " \n"]))
        )
    elif flaw == "empty":
        return draw(st.sampled_from(["", " ", "t|2026-11-29T03:00:00Z", "|", "||"]))
    return "|".join(fields)


@st.composite
def json_payload(draw: st.DrawFn, device_id: str) -> str:
    """IoT Agent JSON attrs with unit codes and times, sometimes broken."""
    obj: dict[str, object] = {}
    for attr in draw(st.lists(st.sampled_from(ATTRIBUTES[device_id]), min_size=1, max_size=3)):
        key = draw(st.sampled_from(KEY_SPELLINGS[attr]))
        value = draw(st.floats(-100, 1000))
        if draw(st.booleans()):
            unit = draw(st.sampled_from(["CMT", "MMT", "MTR", "INH", "KMH", "FAH", "XYZ"]))
            obj[key] = {"value": value, "unitCode": unit}
        else:
            obj[key] = value
    if draw(st.booleans()):
        obj["TimeInstant"] = draw(st.one_of(GOOD_TIMES, ODD_TIMES))
    text = json.dumps(obj if draw(st.integers(0, 3)) else [obj, obj])
    hostile = [
        '{"wl": ' + "9" * 400 + "}",
        '{"wl": ' + "9" * 5000 + "}",
        "[" * 50_000,
        '{"p": {"value": 1, "unitCode": 7}}',
        '{"p": 1, "t": ' + "9" * 400 + "}",
    ]
    return draw(st.sampled_from([text] * 8 + [text[:-1]] + hostile))


@st.composite
def messages(draw: st.DrawFn) -> list[tuple[str, str | bytes]]:
    """A batch mixing good, bad and repeated messages, as text or bytes."""
    out: list[tuple[str, str | bytes]] = []
    for _ in range(draw(st.integers(1, 40))):
        if out and draw(st.integers(0, 5)) == 0:
            out.append(draw(st.sampled_from(out)))  # a device re-sending the same message
            continue
        topic, device_id = draw(topics())
        shape = draw(st.sampled_from(["ul"] * 8 + ["json", "junk"]))
        if shape == "ul":
            payload: str | bytes = draw(ultralight(device_id))
        elif shape == "json":
            payload = draw(json_payload(device_id))
        else:
            payload = draw(st.one_of(st.text(max_size=20), st.binary(max_size=20)))
        if isinstance(payload, str) and draw(st.booleans()):
            payload = payload.encode()
        out.append((topic, payload))
    return out


@settings(max_examples=400, deadline=None)
@given(batch=messages(), which=st.sampled_from(sorted(REGISTRIES)), fresh=st.booleans())
def test_batch_has_exactly_the_outcome_of_message_by_message(
    batch: list[tuple[str, str | bytes]], which: str, fresh: bool
) -> None:
    """Readings, counters per reason and device, and the first error messages all match the oracle."""
    registry = REGISTRIES[which]
    if fresh:  # nothing remembered from earlier batches
        registry = DeviceRegistry(list(registry), key_secret=SECRET)
    expected = outcome(merged(batch, lambda t, p: reference(t, p, registry)))
    got = accept_mqtt_batch(batch, registry=registry, received_at=T0)
    assert outcome(got) == expected
    again = accept_mqtt_batch(batch, registry=registry, received_at=T0)  # now with everything remembered
    assert outcome(again) == expected
    one_by_one = merged(batch, lambda t, p: accept_mqtt(t, p, registry=registry, received_at=T0))
    assert outcome(one_by_one) == expected


def test_wrong_key_is_rejected_and_counted_even_after_the_right_key_was_accepted() -> None:
    """A device's key accepted once must not let another key through, in the same batch or a later one."""
    registry = DeviceRegistry(DEVICES, key_secret=SECRET)
    good = f"/{key_of('KPS-AWLR-01')}/KPS-AWLR-01/attrs"
    bad = f"/{key_of('KPS-AWLR-02')}/KPS-AWLR-01/attrs"
    payload = "t|2026-11-29T03:00:00Z|wl|1.4"
    for _ in range(2):
        res = accept_mqtt_batch(
            [(good, payload), (bad, payload), (bad, "wl|9")], registry=registry, received_at=T0
        )
        assert [(r.device_id, r.value) for r in res.readings] == [("KPS-AWLR-01", 1.4)]
        assert res.rejected == {"bad_api_key": 2}
        assert res.by_device == {("KPS-AWLR-01", "bad_api_key"): 2}
        assert res.errors == ["Kunci API salah untuk perangkat 'KPS-AWLR-01'."] * 2
    alone = accept_mqtt(bad, payload, registry=registry, received_at=T0)
    assert alone.readings == [] and alone.rejected == {"bad_api_key": 1}


def test_batch_stays_right_after_many_distinct_topics() -> None:
    """A flood of guessed keys (more topics than are remembered) neither lets one through nor loses good ones."""
    registry = DeviceRegistry(DEVICES, key_secret=SECRET)
    good = (f"/{key_of('KPS-ARG-06')}/KPS-ARG-06/attrs", b"t|2026-11-29T03:00:00Z|p|0.5")
    flood = [(f"/tebak{i:05d}/KPS-ARG-06/attrs", "p|1") for i in range(10_050)]
    res = accept_mqtt_batch([good, *flood, good, (flood[0][0], "p|1")], registry=registry, received_at=T0)
    assert res.rejected == {"bad_api_key": 10_051}
    assert len(res.errors) == 20
    assert [(r.attribute, r.value, r.unit) for r in res.readings] == [("precipitation", 12.7, "mm")] * 2
