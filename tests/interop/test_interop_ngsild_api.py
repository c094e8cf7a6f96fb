"""The standard NGSI-LD API subset with its real client, ngsildclient, over real HTTP (issue 18).

ngsildclient connects (its `count` probe), creates an entity, batch-upserts and batch-creates (one entity of
an unregistered device: 207 with a ProblemDetails for it), updates attributes, reads entities back by id
and by type with their latest values, and gets the spec's error for a missing entity. The spec's @context
rules, ProblemDetails on every error under /ngsi-ld/, and a broker subscription's notification are checked
with plain HTTP as a broker sends them.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from kotapintar.core.db.database import Database
from kotapintar.core.settings import Settings
from kotapintar.sensors import devices as sensor_devices
from kotapintar.sensors import queries as sensor_queries
from kotapintar.sensors.engine.payloads import iso_z
from tests.interop.interop_support import GATEWAY_KEY, example, register_example_devices, run_client

pytestmark = pytest.mark.interop

KEY = {"X-Device-Key": GATEWAY_KEY}
CORE = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld"


@pytest.fixture
def server(db: Database, live_server: object) -> Iterator[str]:
    """The live server's URL, with the devices of the official examples registered."""
    register_example_devices(db)
    yield live_server.url  # type: ignore[attr-defined]


def _values(db: Database, settings: Settings, device_id: str, attribute: str, now: datetime) -> list[float]:
    series = sensor_queries.device_series(
        db, device_id, start=now - timedelta(hours=2), end=now, attribute=attribute, settings=settings
    )
    return [p["value"] for p in series["points"]]


def test_ngsildclient_creates_upserts_updates_and_reads_entities(
    server: str, db: Database, settings: Settings
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    out = run_client("ngsild_client.py", server, GATEWAY_KEY, iso_z(now))
    assert out["connected"] is True
    assert out["create"] is True
    assert out["upsert"] == {
        "ok": 2,
        "total": 2,
        "success": ["urn:ngsi-ld:WaterObserved:T2-NP-018", "urn:ngsi-ld:WeatherObserved:device-0A3478"],
    }
    assert out["batch_create"]["ok"] == 1 and out["batch_create"]["total"] == 2
    assert "TIDAK-TERDAFTAR" in out["batch_create"]["errors"][0]
    assert out["patch"]["status"] == 207
    assert out["patch"]["body"]["updated"] == ["waterLevel"]
    assert [n["attributeName"] for n in out["patch"]["body"]["notUpdated"]] == ["batteryLevel"]

    # Every write is an observation of the device, in canonical units (215 CMT = 2.15 m).
    assert _values(db, settings, "T2-NP-018", "waterLevel", now) == pytest.approx([2.10, 2.15, 2.2, 2.25])
    assert _values(db, settings, "device-0A3478", "relativeHumidity", now) == pytest.approx([81.0])

    got = out["get"]
    assert got["id"] == "urn:ngsi-ld:WaterObserved:T2-NP-018" and got["type"] == "WaterObserved"
    assert got["waterLevel"] == {
        "type": "Property",
        "value": 2.25,
        "unitCode": "MTR",
        "observedAt": iso_z(now - timedelta(minutes=5)),
    }
    assert got["refDevice"] == {"type": "Relationship", "object": "urn:ngsi-ld:Device:T2-NP-018"}
    assert got["location"]["type"] == "GeoProperty"
    assert "@context" in got  # asked as application/ld+json
    assert "flow" not in got and "intensity" not in got
    weather = out["get_weather"]
    assert weather["relativeHumidity"]["value"] == pytest.approx(0.81)  # the model's fraction
    assert weather["relativeHumidity"]["unitCode"] == "C62"
    assert weather["temperature"]["value"] == pytest.approx(31.5)
    devices = sensor_devices.sensor_context(db, settings).devices.values()
    assert out["count_water"] == sum(1 for d in devices if d.kind == "water_level")
    weather_ids = [e["id"] for e in out["query_weather"]]
    assert "urn:ngsi-ld:WeatherObserved:device-0A3478" in weather_ids
    assert len(weather_ids) == sum(1 for d in devices if d.kind in ("weather", "rain_gauge"))
    assert out["missing"] is not None and "TIDAK-ADA" in out["missing"]["text"]


def _problem(r: httpx.Response, status: int, kind: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body: dict[str, Any] = r.json()
    assert body["type"].endswith(kind), body
    assert body["title"] and body["detail"]
    return body


def test_context_rules_and_problem_details(server: str) -> None:
    entity = example("WaterObserved-example-normalized.jsonld")  # carries its @context
    with httpx.Client(base_url=server, timeout=30) as http:
        # application/ld+json: the @context is in the body (the official example as it is).
        r = http.post(
            "/ngsi-ld/v1/entities", json=entity, headers={**KEY, "Content-Type": "application/ld+json"}
        )
        assert r.status_code == 201, r.text
        assert r.headers["Location"] == "/ngsi-ld/v1/entities/urn:ngsi:WaterObserved:MNCA-001"
        assert "flow" in r.headers["Kotapintar-Ignored-Attributes"].split(",")
        # application/json with an @context in the body, ld+json without one, ld+json with a Link: 400.
        _problem(
            http.post(
                "/ngsi-ld/v1/entities", json=entity, headers={**KEY, "Content-Type": "application/json"}
            ),
            400,
            "BadRequestData",
        )
        bare = {k: v for k, v in entity.items() if k != "@context"}
        _problem(
            http.post(
                "/ngsi-ld/v1/entities", json=bare, headers={**KEY, "Content-Type": "application/ld+json"}
            ),
            400,
            "BadRequestData",
        )
        link = f'<{CORE}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'
        r = http.post(
            "/ngsi-ld/v1/entities",
            json=bare,
            headers={**KEY, "Content-Type": "application/json", "Link": link},
        )
        assert r.status_code == 201, r.text
        _problem(
            http.post("/ngsi-ld/v1/entities", content=b"wl=1", headers={**KEY, "Content-Type": "text/plain"}),
            415,
            "UnsupportedMediaType",
        )
        _problem(http.post("/ngsi-ld/v1/entities", json=bare), 401, "Unauthorized")
        _problem(
            http.post(
                "/ngsi-ld/v1/entities", content=b"{", headers={**KEY, "Content-Type": "application/json"}
            ),
            400,
            "InvalidRequest",
        )
        # A GET as application/json names the context in a Link header and keeps the body free of it.
        r = http.get(
            "/ngsi-ld/v1/entities/urn:ngsi-ld:WaterObserved:T2-NP-018", headers={"Accept": "application/json"}
        )
        assert r.status_code == 200 and "@context" not in r.json()
        assert 'rel="http://www.w3.org/ns/json-ld#context"' in r.headers["Link"]
        concise = http.get(
            "/ngsi-ld/v1/entities/urn:ngsi-ld:WaterObserved:T2-NP-018", params={"options": "keyValues"}
        ).json()
        assert concise["waterLevel"] == pytest.approx(3.52)
        _problem(
            http.get(
                "/ngsi-ld/v1/entities/urn:ngsi-ld:WaterObserved:T2-NP-018", headers={"Accept": "text/html"}
            ),
            406,
            "NotAcceptable",
        )
        # Errors the handlers never see are ProblemDetails too under /ngsi-ld/: unknown path, method, query.
        _problem(http.get("/ngsi-ld/v1/nothing-here"), 404, "ResourceNotFound")
        _problem(http.delete("/ngsi-ld/v1/entityOperations/upsert"), 405, "MethodNotAllowed")
        _problem(
            http.get("/ngsi-ld/v1/entities", params={"type": "WaterObserved", "limit": "-1"}),
            400,
            "BadRequestData",
        )
        _problem(http.get("/ngsi-ld/v1/entities"), 400, "BadRequestData")


def test_a_broker_subscription_notification_is_ingested(
    server: str, db: Database, settings: Settings
) -> None:
    """Orion-LD / Stellio send `{"type": "Notification", "subscriptionId", "notifiedAt", "data": [...]}` to the
    subscription's endpoint with its receiverInfo headers."""
    now = datetime.now(UTC).replace(microsecond=0)
    flood = example("FloodMonitoring-example-normalized.jsonld")
    flood["observationDateTime"]["value"] = iso_z(now - timedelta(minutes=15))
    notification = {
        "id": "urn:ngsi-ld:Notification:5fd0fa684eb81930c97005f3",
        "type": "Notification",
        "subscriptionId": "urn:ngsi-ld:Subscription:kotapintar-banjir",
        "notifiedAt": iso_z(now),
        "data": [flood, example("WeatherObserved-example.jsonld")],
    }
    with httpx.Client(base_url=server, timeout=30) as http:
        r = http.post("/api/v1/sensors/ngsi-ld/notify", json=notification, headers=KEY)
        assert r.status_code == 200, r.text
        assert r.json()["success"] == [flood["id"], notification["data"][1]["id"]]
        assert r.json()["errors"] == []
        assert "alertLevel" in r.json()["ignored"][flood["id"]]
        _problem(
            http.post("/api/v1/sensors/ngsi-ld/notify", json={"data": []}, headers=KEY), 400, "BadRequestData"
        )
        _problem(http.post("/api/v1/sensors/ngsi-ld/notify", json=notification), 401, "Unauthorized")
    assert _values(db, settings, "Pune-NoiseLevelObserved", "waterLevel", now) == pytest.approx([1.98])
