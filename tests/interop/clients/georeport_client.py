"""Read Kotapintar's Open311 GeoReport v2 endpoint with the `georeport` client, in XML and in JSON.

Runs in the outside clients' venv (`make interop-clients`). Usage: georeport_client.py <base-url> <ticket>;
prints, per format, what the client's four GET calls returned, as JSON.
"""

from __future__ import annotations

import json
import sys

from georeport import GeoReport


def main() -> None:
    base, ticket = sys.argv[1], sys.argv[2]
    out = {}
    for fmt in ("xml", "json"):
        client = GeoReport(base, output_format=fmt)
        services = client.get_service_list()
        with_metadata = next(s for s in services if str(s["metadata"]).lower() == "true")
        definition = client.get_service_definition(with_metadata["service_code"])
        found = client.get_service_requests(service_request_id=ticket)
        one = client.get_service_request(ticket)
        if isinstance(found, dict):  # xmltodict gives a dict for a single <request>
            found = [found]
        out[fmt] = {
            "service_codes": sorted(str(s["service_code"]) for s in services),
            "definition_code": str(definition["service_code"]),
            "definition_attributes": len(
                definition["attributes"]["attribute"]
                if fmt == "xml" and isinstance(definition["attributes"]["attribute"], list)
                else [definition["attributes"]["attribute"]]
                if fmt == "xml"
                else definition["attributes"]
            ),
            "requests": [str(r["service_request_id"]) for r in found],
            "request": {
                k: str(one[k]) for k in ("service_request_id", "status", "service_code", "lat", "long")
            },
        }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
