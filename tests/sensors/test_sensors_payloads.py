"""Payload parsing (UltraLight 2.0, JSON attrs, NGSI-LD, HTTP, topics) and unit conversion."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kotapintar.sensors.engine.kinds import UnitError, canonical_attribute, from_canonical, to_canonical
from kotapintar.sensors.engine.payloads import (
    PayloadError,
    Reading,
    format_json_attrs,
    format_ngsi_ld,
    format_ultralight,
    parse_http,
    parse_json_attrs,
    parse_mqtt,
    parse_ngsi_ld,
    parse_time,
    parse_topic,
    parse_ultralight,
)

NOW = datetime(2026, 11, 29, 3, 5, tzinfo=UTC)


def test_ultralight_with_time_and_several_groups() -> None:
    text = "t|2026-11-29T03:00:00Z|wl|1.23#t|2026-11-29T10:10:00+07:00|wl|1.25"
    readings = parse_ultralight(text, device_id="KPS-AWLR-01", received_at=NOW)
    assert [r.observed_at for r in readings] == [
        datetime(2026, 11, 29, 3, 0, tzinfo=UTC),
        datetime(2026, 11, 29, 3, 10, tzinfo=UTC),
    ]
    assert [(r.attribute, r.value, r.unit) for r in readings] == [("waterLevel", 1.23, "m")] * 1 + [
        ("waterLevel", 1.25, "m")
    ]


def test_ultralight_without_time_uses_receive_time_and_device_units() -> None:
    readings = parse_ultralight(
        "wl|123|p|0.5", device_id="X-1", received_at=NOW, units={"waterLevel": "cm", "precipitation": "in"}
    )
    by_attr = {r.attribute: r for r in readings}
    assert by_attr["waterLevel"].value == pytest.approx(1.23)
    assert by_attr["precipitation"].value == pytest.approx(12.7)
    assert all(r.observed_at == NOW for r in readings)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ("wl|1.2|p", "bad_ultralight"),
        ("wl|abc", "bad_value"),
        ("wl|nan", "bad_value"),
        ("battery|3.7", "unknown_attribute"),
        ("t|yesterday|wl|1", "bad_time"),
        ("t|2026-11-29T03:00:00|wl|1", "naive_time"),
        ("", "empty"),
        ("t|2026-11-29T03:00:00Z", "no_measurement"),
    ],
)
def test_ultralight_errors_have_a_reason(payload: str, reason: str) -> None:
    with pytest.raises(PayloadError) as info:
        parse_ultralight(payload, device_id="X-1", received_at=NOW)
    assert info.value.reason == reason
    assert info.value.message


def test_json_attrs_object_array_and_unit_code() -> None:
    one = parse_json_attrs(
        '{"wl": 1.5, "TimeInstant": "2026-11-29T03:00:00Z"}', device_id="A", received_at=NOW
    )
    assert one == [Reading(datetime(2026, 11, 29, 3, tzinfo=UTC), "A", "waterLevel", 1.5, "m")]
    many = parse_json_attrs(
        [{"pm25": "35,5", "pm10": 50, "t": 1795921200}, {"pm25": {"value": 0.04, "unitCode": "GP"}}],
        device_id="A",
        received_at=NOW,
    )
    assert [(r.attribute, r.value) for r in many] == [("pm25", 35.5), ("pm10", 50.0), ("pm25", 40.0)]
    assert many[0].observed_at == datetime.fromtimestamp(1795921200, tz=UTC)
    with pytest.raises(PayloadError) as info:
        parse_json_attrs("{not json", device_id="A", received_at=NOW)
    assert info.value.reason == "bad_json"


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ('{"wl": ' + "9" * 400 + "}", "bad_value"),  # an integer beyond float range
        ('{"wl": ' + "9" * 5000 + "}", "bad_json"),  # beyond the integer digit limit
        ("[" * 100_000 + "]" * 100_000, "bad_json"),  # nested deeper than the parser can go
        ('{"wl": 1, "t": ' + "9" * 400 + "}", "bad_time"),
        ('{"wl": 1, "t": "0001-01-01T00:00:00+07:00"}', "bad_time"),  # before year 1 in UTC
        ('{"wl": 1, "t": "9999-12-31T23:00:00-07:00"}', "bad_time"),  # after year 9999 in UTC
        ('{"wl": {"value": 1, "unitCode": 5}}', "bad_unit"),
        ('{"wl": {"value": 1, "unitCode": ["m"]}}', "bad_unit"),
    ],
)
def test_hostile_json_is_rejected_with_a_reason_not_raised(payload: str, reason: str) -> None:
    """One device's malformed message must be a counted rejection, never an exception that loses the batch."""
    with pytest.raises(PayloadError) as info:
        parse_json_attrs(payload, device_id="A", received_at=NOW)
    assert info.value.reason == reason


def test_ultralight_time_out_of_range_is_a_bad_time() -> None:
    with pytest.raises(PayloadError) as info:
        parse_ultralight("t|0001-01-01T00:00:00+07:00|wl|1", device_id="A", received_at=NOW)
    assert info.value.reason == "bad_time"


def test_ngsi_ld_entity_normalized_and_concise() -> None:
    entity = {
        "id": "urn:ngsi-ld:WaterObserved:KPS-AWLR-01",
        "type": "WaterObserved",
        "@context": "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld",
        "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [114.38, -3.0]}},
        "waterLevel": {
            "type": "Property",
            "value": 123,
            "unitCode": "CMT",
            "observedAt": "2026-11-29T03:00:00Z",
        },
    }
    readings = parse_ngsi_ld(json.dumps(entity), received_at=NOW)
    assert readings == [
        Reading(datetime(2026, 11, 29, 3, tzinfo=UTC), "KPS-AWLR-01", "waterLevel", 1.23, "m")
    ]
    concise = [
        {
            "id": "urn:ngsi-ld:AirQualityObserved:aq-1",
            "type": "AirQualityObserved",
            "refDevice": {"type": "Relationship", "object": "urn:ngsi-ld:Device:KPS-AQ-01"},
            "dateObserved": {
                "type": "Property",
                "value": {"@type": "DateTime", "@value": "2026-11-29T02:00:00Z"},
            },
            "pm25": 80.5,
            "pm10": {"type": "Property", "value": 120},
            "airQualityLevel": "moderate",
        }
    ]
    got = parse_ngsi_ld(concise, received_at=NOW)
    assert {(r.device_id, r.attribute, r.value) for r in got} == {
        ("KPS-AQ-01", "pm25", 80.5),
        ("KPS-AQ-01", "pm10", 120.0),
    }
    assert all(r.observed_at == datetime(2026, 11, 29, 2, tzinfo=UTC) for r in got)
    with pytest.raises(PayloadError) as info:
        parse_ngsi_ld({"id": "urn:ngsi-ld:WaterObserved:X", "type": "WaterObserved"}, received_at=NOW)
    assert info.value.reason == "no_measurement"


def test_http_single_batch_and_ngsi_mix() -> None:
    body = [
        {"deviceId": "KPS-ARG-01", "precipitation": 2.4, "observedAt": "2026-11-29T02:50:00Z"},
        {"id": "urn:ngsi-ld:WaterObserved:KPS-AWLR-01", "type": "WaterObserved", "waterLevel": 1.1},
    ]
    readings = parse_http(json.dumps(body), received_at=NOW)
    assert {(r.device_id, r.attribute) for r in readings} == {
        ("KPS-ARG-01", "precipitation"),
        ("KPS-AWLR-01", "waterLevel"),
    }
    with pytest.raises(PayloadError) as info:
        parse_http({"precipitation": 1}, received_at=NOW)
    assert info.value.reason == "no_device"


def test_topics() -> None:
    assert parse_topic("/key123/KPS-AWLR-01/attrs").device_id == "KPS-AWLR-01"
    t = parse_topic("/ul/key123/KPS-AWLR-01/attrs/wl")
    assert (t.api_key, t.device_id, t.attribute, t.protocol) == ("key123", "KPS-AWLR-01", "wl", "ul")
    for bad in ["key/dev/attrs", "/key/dev/cmd", "/key//attrs", "/k/d/attrs/", "/k/bad id/attrs"]:
        with pytest.raises(PayloadError):
            parse_topic(bad)


def test_mqtt_sniffs_json_and_ultralight_and_single_value() -> None:
    _, ul = parse_mqtt("/k/D-1/attrs", b"wl|1.5", received_at=NOW)
    _, js = parse_mqtt("/k/D-1/attrs", b'{"wl": 1.5}', received_at=NOW)
    _, single = parse_mqtt("/k/D-1/attrs/waterLevel", b"1.5", received_at=NOW)
    assert ul == js == single == [Reading(NOW, "D-1", "waterLevel", 1.5, "m")]


def test_unit_conversion() -> None:
    assert to_canonical("temperature", 98.6, "°F") == pytest.approx(37.0)
    assert to_canonical("temperature", 300.15, "K") == pytest.approx(27.0)
    assert to_canonical("windSpeed", 36, "km/h") == pytest.approx(10.0)
    assert to_canonical("pm25", 0.05, "mg/m3") == pytest.approx(50.0)
    assert to_canonical("pm25", 12, "μg/m³") == 12
    assert to_canonical("waterLevel", 1500, "mm") == pytest.approx(1.5)
    assert canonical_attribute("PM2.5") == "pm25"
    with pytest.raises(UnitError):
        to_canonical("waterLevel", 1, "kg")


def test_time_parsing() -> None:
    assert parse_time("2026-11-29T10:00:00+07:00") == datetime(2026, 11, 29, 3, tzinfo=UTC)
    assert parse_time(1795921200000) == parse_time(1795921200)
    assert parse_time("2026-11-29T10:00:00", assume_tz=UTC).tzinfo is UTC


values = st.floats(min_value=-5, max_value=500, allow_nan=False).map(lambda v: round(v, 3))
moments = st.integers(min_value=0, max_value=10_000).map(lambda m: NOW + timedelta(minutes=m))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(moments, st.sampled_from(["waterLevel", "precipitation"]), values), min_size=1, max_size=20
    )
)
def test_formatters_round_trip(items: list[tuple[datetime, str, float]]) -> None:
    readings = sorted(
        {Reading(t, "D-1", a, v, "m" if a == "waterLevel" else "mm") for t, a, v in items},
        key=lambda r: (r.observed_at, r.attribute),
    )
    # one value per (time, attribute) slot, as a device sends
    slots = {(r.observed_at, r.attribute): r for r in readings}
    readings = sorted(slots.values())
    units = {"waterLevel": "cm", "precipitation": "in"}
    for text, parser in (
        (format_ultralight(readings, units=units), parse_ultralight),
        (format_json_attrs(readings, units=units), parse_json_attrs),
    ):
        parsed = parser(text, device_id="D-1", received_at=NOW, units=units)
        assert [(r.observed_at, r.attribute) for r in sorted(parsed)] == [
            (r.observed_at, r.attribute) for r in readings
        ]
        for a, b in zip(sorted(parsed), readings, strict=True):
            assert a.value == pytest.approx(b.value, abs=1e-5)
    # Each attribute in the Smart Data Models type that defines it (a WaterObserved has no precipitation).
    entities = format_ngsi_ld(
        [r for r in readings if r.attribute == "waterLevel"], entity_type="WaterObserved"
    ) + format_ngsi_ld([r for r in readings if r.attribute != "waterLevel"], entity_type="WeatherObserved")
    assert sorted(parse_ngsi_ld(entities, received_at=NOW)) == readings
    assert from_canonical("waterLevel", 1.5, "cm") == pytest.approx(150)
