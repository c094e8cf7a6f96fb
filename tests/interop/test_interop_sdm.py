"""The official Smart Data Models examples, as a city's platform would send them, over real HTTP (issue 18).

Each example is the file published by the Smart Data Models project (tests/interop/data/sdm), normalized and
key-values form: known attributes are stored, attributes nobody maps are ignored and counted (never a reason
to refuse the rest), `WaterObserved.flow` is not traffic, `relativeHumidity` is a fraction in the model, a
batch answers per item, a clock in the future is held, and each rejection keeps its own reason.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from kotapintar.core.access.actors import system_actor
from kotapintar.core.db.database import Database
from kotapintar.core.settings import Settings
from kotapintar.sensors import queries as sensor_queries
from kotapintar.sensors.engine.payloads import iso_z, parse_ngsi_ld
from kotapintar.sensors.repository import SensorRepository
from tests.interop.interop_support import GATEWAY_KEY, example, register_example_devices

pytestmark = pytest.mark.interop

NOW = datetime(2026, 12, 4, 12, tzinfo=UTC)

# What each official example must give: device, {attribute: value}, observed time, attributes ignored.
EXPECTED: dict[str, tuple[str, dict[str, float], datetime, set[str]]] = {
    "AirQualityObserved-example-normalized.jsonld": (
        "Madrid-AmbientObserved-28079004-2016-03-15T11:00:00",
        {"temperature": 12.2, "relativeHumidity": 54.0},  # 0.54 in the model: a fraction
        datetime(2016, 3, 15, 11, tzinfo=UTC),  # "ISO8601 UTC format" per the model, written without a zone
        {"co", "no", "no2", "nox", "so2", "airQualityIndex", "precipitation", "windSpeed", "windDirection"},
    ),
    "AirQualityObserved-example.jsonld": (
        "Madrid-AmbientObserved-28079004-2016-03-15T11:00:00",
        {"temperature": 12.2, "relativeHumidity": 54.0},
        datetime(2016, 3, 15, 11, tzinfo=UTC),
        {"co", "no2", "airQualityIndex", "precipitation", "windSpeed"},
    ),
    "WaterObserved-example-normalized.jsonld": (
        "T2-NP-018",
        {"waterLevel": 3.52},  # `height`, the water level of the model; `flow` is water flow, not traffic
        datetime(2020, 3, 17, 8, 45, 0, 209000, tzinfo=UTC),
        {"flow", "measuredArea", "objectVolume"},
    ),
    "WaterObserved-example.jsonld": (
        "T2-NP-018",
        {"waterLevel": 3.52},
        datetime(2020, 3, 17, 8, 45, 0, 209000, tzinfo=UTC),
        {"flow"},
    ),
    "WeatherObserved-example-normalized.jsonld": (
        "device-0A3478",
        {"temperature": 3.3, "relativeHumidity": 100.0, "windSpeed": 2.0, "precipitation": 0.0},
        datetime(2016, 11, 30, 7, tzinfo=UTC),
        {"atmosphericPressure", "illuminance", "snowHeight", "windDirection"},
    ),
    "WeatherObserved-example.jsonld": (
        "device-0A3478",
        {"temperature": 3.3, "relativeHumidity": 100.0, "windSpeed": 2.0, "precipitation": 0.0},
        datetime(2016, 11, 30, 7, tzinfo=UTC),
        {"atmosphericPressure", "streamGauge"},
    ),
    "FloodMonitoring-example-normalized.jsonld": (
        "Pune-NoiseLevelObserved",
        {"waterLevel": 1.98},
        datetime(2020, 9, 16, 8, 0, tzinfo=UTC),  # 13:30 +05:30
        {"alertLevel", "dangerLevel", "measuredDistance", "referenceLevel"},
    ),
    "FloodMonitoring-example.jsonld": (
        "Pune-NoiseLevelObserved",
        {"waterLevel": 0.98},
        datetime(2020, 9, 16, 8, 0, tzinfo=UTC),
        {"alertLevel", "dangerLevel"},
    ),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_official_example_parses_to_its_measurements(name: str) -> None:
    device_id, values, observed, must_ignore = EXPECTED[name]
    ignored: Counter[str] = Counter()
    readings = parse_ngsi_ld(example(name), received_at=NOW, ignored=ignored)
    got = {r.attribute: round(r.value, 6) for r in readings}
    # An AirQualityObserved also carries precipitation and wind: read here, left out by an air-quality device.
    assert {a: v for a, v in got.items() if a in values} == values
    assert set(got) - set(values) <= {"precipitation", "windSpeed"}
    assert {r.device_id for r in readings} == {device_id}
    assert {r.observed_at for r in readings} == {observed}
    assert "intensity" not in {r.attribute for r in readings}
    assert must_ignore - {"precipitation", "windSpeed"} <= set(ignored), ignored


@pytest.fixture
def api(db: Database, live_server: object) -> Iterator[httpx.Client]:
    """An HTTP client on the live server, with the devices of the official examples registered."""
    register_example_devices(db)
    with httpx.Client(base_url=live_server.url, timeout=30) as client:  # type: ignore[attr-defined]
        yield client


def _series(
    api: httpx.Client, device_id: str, attribute: str, around: datetime | None = None
) -> list[dict[str, Any]]:
    around = around or datetime.now(UTC)
    r = api.get(
        f"/api/v1/sensors/devices/{device_id}/series",
        params={
            "start": iso_z(around - timedelta(days=1)),
            "end": iso_z(around + timedelta(days=1)),
            "attribute": attribute,
        },
    )
    assert r.status_code == 200, r.text
    return list(r.json()["points"])


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_official_example_is_stored_over_http(api: httpx.Client, name: str) -> None:
    device_id, values, observed, must_ignore = EXPECTED[name]
    r = api.post(
        "/api/v1/sensors/ngsi-ld/entities", json=example(name), headers={"X-Device-Key": GATEWAY_KEY}
    )
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["rejected"] == {}
    assert body["stored"] == len(values)
    assert must_ignore <= set(body["ignored"]), body["ignored"]
    assert body["items"] == [
        {
            "index": 0,
            "device_id": device_id,
            "status": "accepted",
            "readings": len(values),
            "ignored": sorted(body["ignored"]),
            "held_future": 0,
        }
    ]
    for attribute, value in values.items():
        points = _series(api, device_id, attribute, observed)
        assert [(p["t"], p["value"]) for p in points] == [(iso_z(observed), pytest.approx(value))]


def test_a_batch_answers_per_item_and_one_bad_item_costs_only_itself(api: httpx.Client, db: Database) -> None:
    batch = [
        example("WeatherObserved-example-normalized.jsonld"),
        42,
        {"deviceId": "T2-NP-018", "waterLevel": "tinggi", "observedAt": "2026-12-04T01:00:00Z"},
        example("WaterObserved-example.jsonld"),
        {**example("FloodMonitoring-example.jsonld"), "id": "urn:ngsi-ld:FloodMonitoring:TIDAK-ADA"},
    ]
    r = api.post("/api/v1/sensors/ingest", json=batch, headers={"X-Device-Key": GATEWAY_KEY})
    assert r.status_code == 202, r.text
    items = r.json()["items"]
    assert [(i["index"], i["status"]) for i in items] == [
        (0, "accepted"),
        (1, "rejected"),
        (2, "rejected"),
        (3, "accepted"),
        (4, "rejected"),
    ]
    assert [i.get("reason") for i in items] == [None, "bad_json", "bad_value", None, "unknown_device"]
    assert all(i["message"] for i in items if i["status"] == "rejected")
    assert r.json()["stored"] == 5  # four weather values and the water level
    water = _series(api, "T2-NP-018", "waterLevel", datetime(2020, 3, 17, tzinfo=UTC))
    assert [p["value"] for p in water] == [pytest.approx(3.52)]
    # Each rejection keeps its own reason and message with the counter (not the batch's first error).
    counts = {
        (c["device_id"], c["reason"]): c for c in sensor_queries.rejection_counts(db, system_actor("tests"))
    }
    assert counts[("T2-NP-018", "bad_value")]["last_message"].startswith("Nilai waterLevel")
    assert "TIDAK-ADA" in counts[("TIDAK-ADA", "unknown_device")]["last_message"]
    assert counts[("-", "bad_json")]["count"] == 1


def test_a_clock_two_hours_ahead_is_held_not_taken_as_last_seen(
    api: httpx.Client, db: Database, settings: Settings
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    good = {**example("WaterObserved-example.jsonld"), "dateObserved": iso_z(now - timedelta(minutes=5))}
    ahead = {**example("WaterObserved-example.jsonld"), "dateObserved": iso_z(now + timedelta(hours=2))}
    ahead["height"] = 4.0
    r = api.post("/api/v1/sensors/ingest", json=[good, ahead], headers={"X-Device-Key": GATEWAY_KEY})
    assert r.status_code == 202, r.text
    assert r.json()["held_future"] == 1
    assert r.json()["flagged"]["clock_skew"] == 1
    devices = {d["id"]: d for d in sensor_queries.device_overview(db, settings=settings)}
    assert devices["T2-NP-018"]["last_seen"] == iso_z(now - timedelta(minutes=5))
    assert devices["T2-NP-018"]["latest"]["waterLevel"]["value"] == pytest.approx(3.52)
    with db.reading() as uow:
        assert SensorRepository(uow.session).count_observations("T2-NP-018") == 2  # held, not lost
