"""Open311 GeoReport v2 serialisation: the same tree as XML (exact element names) or JSON (Spark convention)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi.responses import Response
from lxml import etree

from kotapintar.open311.sync import RequestView, ServiceInfo, UpdateView

XML_TYPE = "text/xml; charset=utf-8"
JSON_TYPE = "application/json; charset=utf-8"
SPEC_URL = "http://wiki.open311.org/GeoReport_v2"
FORMATS = ("xml", "json")

# In XML a list is a wrapper element holding one child per item; these are the child names.
LIST_CHILD = {
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
    "notes": "note",
    "groups": "group",
}


def w3c(value: datetime, tz: str) -> str:
    """A W3C-DTF datetime with its zone, in the region's local time (e.g. 2026-11-29T12:00:00+07:00)."""
    return value.astimezone(ZoneInfo(tz)).replace(microsecond=0).isoformat()


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _append(parent: Any, name: str, value: Any) -> None:
    if value is None:
        return
    element = etree.SubElement(parent, name)
    if isinstance(value, dict):
        for key, child in value.items():
            _append(element, key, child)
    elif isinstance(value, list):
        child_name = LIST_CHILD.get(name, name.rstrip("s"))
        for item in value:
            _append(element, child_name, item)
    else:
        element.text = _text(value)


def to_xml(root: str, item: str | None, payload: Any) -> bytes:
    """The XML document: `<root>` with one `<item>` per list entry (or the dict's fields when item is None)."""
    element = etree.Element(root)
    if item is None:
        for key, value in payload.items():
            _append(element, key, value)
    else:
        for entry in payload:
            _append(element, item, entry)
    body: bytes = etree.tostring(element, encoding="utf-8")
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + body


def _prune(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _prune(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_prune(v) for v in value]
    return value


def respond(fmt: str, root: str, item: str | None, payload: Any, status: int = 200) -> Response:
    """The response in the asked format, with the Open311 content types and CORS for browser clients."""
    headers = {"Access-Control-Allow-Origin": "*"}
    if fmt == "json":
        body = json.dumps(_prune(payload), ensure_ascii=False).encode("utf-8")
        return Response(body, status_code=status, media_type=JSON_TYPE, headers=headers)
    return Response(to_xml(root, item, payload), status_code=status, media_type=XML_TYPE, headers=headers)


# The answer to a CORS preflight under /open311/v2/ (browsers ask before a POST with X-Api-Key).
CORS_PREFLIGHT = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, HEAD, POST, OPTIONS",
    "Access-Control-Allow-Headers": "X-Api-Key, Content-Type, Accept",
    "Access-Control-Max-Age": "600",
}


def errors(fmt: str, status: int, description: str) -> Response:
    """The Open311 error list: `<errors><error><code/><description/></error></errors>` or its JSON array."""
    return respond(fmt, "errors", "error", [{"code": status, "description": description}], status=status)


# ---------------------------------------------------------------- documents


def discovery(base_url: str, changeset: str, contact: str) -> dict[str, Any]:
    """The discovery document of this endpoint."""
    return {
        "changeset": changeset,
        "contact": contact,
        "key_service": "Minta kunci API ke admin Command Center (kotapintar apikey create NAMA) / "
        "ask the Command Center administrator for an api_key.",
        "max_requests": 1000,
        "endpoints": [
            {
                "specification": SPEC_URL,
                "url": base_url,
                "changeset": changeset,
                "type": "production",
                "formats": ["text/xml", "application/json"],
            }
        ],
    }


def service_entry(service: ServiceInfo, *, batch: bool) -> dict[str, Any]:
    """One `<service>` of the service list."""
    return {
        "service_code": service.code,
        "service_name": service.name,
        "description": service.description,
        "metadata": bool(service.attributes),
        "type": "batch" if batch else "realtime",
        "keywords": ",".join(service.keywords),
        "group": service.group,
    }


def service_definition(service: ServiceInfo) -> dict[str, Any]:
    """The `<service_definition>` of one service: its attributes from the catalogue."""
    attributes = []
    for i, attr in enumerate(service.attributes, start=1):
        entry: dict[str, Any] = {
            "variable": bool(attr.get("variable", True)),
            "code": str(attr.get("code")),
            "datatype": str(attr.get("datatype", "string")),
            "required": bool(attr.get("required", False)),
            "datatype_description": attr.get("datatype_description") or "",
            "order": int(attr.get("order") or i),
            "description": str(attr.get("description") or attr.get("code")),
        }
        values = attr.get("values") or []
        if values:
            entry["values"] = [{"key": str(v.get("key")), "name": str(v.get("name"))} for v in values]
        attributes.append(entry)
    return {"service_code": service.code, "attributes": attributes}


def request_entry(view: RequestView, tz: str, *, extensions: bool, base_url: str = "") -> dict[str, Any]:
    """One `<request>` of GET requests; never any reporter data. Local media paths become absolute URLs."""
    media_url = view.media_url
    if media_url and media_url.startswith("/"):
        media_url = base_url.rstrip("/") + media_url
    entry: dict[str, Any] = {
        "service_request_id": view.service_request_id,
        "status": view.status,
        "status_notes": view.status_notes,
        "service_name": view.service_name,
        "service_code": view.service_code,
        "description": view.description,
        "agency_responsible": view.agency_responsible,
        "service_notice": view.service_notice,
        "requested_datetime": w3c(view.requested, tz),
        "updated_datetime": w3c(view.updated, tz),
        "expected_datetime": w3c(view.expected, tz) if view.expected else None,
        "lat": view.lat,
        "long": view.lon,
        "media_url": media_url,
    }
    if extensions:
        entry["extended_attributes"] = {"detailed_status": view.detailed_status.upper()}
        entry["notes"] = [
            {"datetime": w3c(n.at, tz), "type": n.type, "status": n.status, "description": n.description}
            for n in view.notes
        ]
    return entry


def update_entry(view: UpdateView, tz: str) -> dict[str, Any]:
    """One `<request_update>` of GET servicerequestupdates."""
    return {
        "update_id": view.update_id,
        "service_request_id": view.service_request_id,
        "status": view.status,
        "updated_datetime": w3c(view.updated, tz),
        "description": view.description,
        "media_url": view.media_url,
    }
