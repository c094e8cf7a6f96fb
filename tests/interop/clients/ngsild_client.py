"""Drive Kotapintar's NGSI-LD API with ngsildclient (the FIWARE community client), as a city's platform would.

Runs in the outside clients' venv (`make interop-clients`), not the project's: ngsildclient pins httpx < 0.24.
Usage: ngsild_client.py <base-url> <device-key> <now-iso>; prints what each call gave, as JSON.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime, timedelta
from urllib.parse import urlparse

from ngsildclient import Client, Entity
from requests.auth import AuthBase


class DeviceKey(AuthBase):
    """Kotapintar's device key, sent with every request of the client's session."""

    def __init__(self, key: str) -> None:
        self.key = key

    def __call__(self, request):  # type: ignore[no-untyped-def]
        request.headers["X-Device-Key"] = self.key
        return request


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def main() -> None:
    base, key, now_text = sys.argv[1], sys.argv[2], sys.argv[3]
    now = datetime.strptime(now_text, "%Y-%m-%dT%H:%M:%SZ")
    url = urlparse(base)
    out: dict[str, object] = {}
    client = Client(hostname=url.hostname, port=url.port, custom_auth=DeviceKey(key), verbose=False)
    out["connected"] = client.is_connected()

    water = Entity("WaterObserved", "T2-NP-018")
    water.prop("waterLevel", 2.10, unitcode="MTR", observedat=iso(now - timedelta(minutes=30)))
    water.prop("flow", 12.0)  # water flow: not traffic, not mapped
    out["create"] = client.create(water)

    water2 = Entity("WaterObserved", "T2-NP-018")
    water2.prop("waterLevel", 215, unitcode="CMT", observedat=iso(now - timedelta(minutes=20)))
    weather = Entity("WeatherObserved", "device-0A3478")
    weather.prop("temperature", 31.5, unitcode="CEL", observedat=iso(now - timedelta(minutes=20)))
    weather.prop("relativeHumidity", 0.81, observedat=iso(now - timedelta(minutes=20)))
    result = client.upsert([water2, weather])
    out["upsert"] = {"ok": result.n_ok, "total": result.n_tot, "success": list(result.success)}

    stranger = Entity("WaterObserved", "TIDAK-TERDAFTAR")
    stranger.prop("waterLevel", 1.0, observedat=iso(now - timedelta(minutes=10)))
    water3 = Entity("WaterObserved", "T2-NP-018")
    water3.prop("waterLevel", 2.2, observedat=iso(now - timedelta(minutes=10)))
    result = client.create([water3, stranger])
    out["batch_create"] = {
        "ok": result.n_ok,
        "total": result.n_tot,
        "success": list(result.success),
        "errors": [str(e) for e in result.errors],
    }

    patch = client.session.patch(
        f"{base}/ngsi-ld/v1/entities/urn:ngsi-ld:WaterObserved:T2-NP-018/attrs",
        data=json.dumps(
            {
                "waterLevel": {
                    "type": "Property",
                    "value": 2.25,
                    "observedAt": iso(now - timedelta(minutes=5)),
                },
                "batteryLevel": {"type": "Property", "value": 0.9},
            }
        ),
        headers={"Content-Type": "application/json"},
    )
    out["patch"] = {"status": patch.status_code, "body": patch.json() if patch.content else None}

    out["get"] = client.get("urn:ngsi-ld:WaterObserved:T2-NP-018", asdict=True)
    out["get_weather"] = client.get("urn:ngsi-ld:WeatherObserved:device-0A3478", asdict=True)
    out["count_water"] = client.count(type="WaterObserved")
    out["query_weather"] = [e.to_dict() for e in client.query(type="WeatherObserved")]
    try:
        client.get("urn:ngsi-ld:WaterObserved:TIDAK-ADA")
        out["missing"] = None
    except Exception as exc:  # the client's own exception for a ProblemDetails answer
        out["missing"] = {"exception": type(exc).__name__, "text": str(exc)}
    print(json.dumps(out, default=str))


if __name__ == "__main__":
    main()
