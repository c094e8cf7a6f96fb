"""The NGSI-LD API subset a device or a context broker uses (ETSI GS CIM 009), as pure functions.

Kotapintar is not a context broker: an NGSI-LD entity it receives is an observation of a registered device
(the payload parsers turn it into readings) and an entity it serves is a view of that device's latest
values. What lives here is the part of the standard that does not need the database: the JSON-LD
`@context` rules of a request and a response, the spec's ProblemDetails errors, the entity type of a
device kind and the entity built from latest values.

`@context` handling: remote contexts are never fetched (the server has no outside network and must not
depend on one). Attribute and type names are matched by their compact Smart Data Models terms; an expanded
IRI (`https://smartdatamodels.org/dataModel.Environment/waterLevel`, or the core context's default
vocabulary) is matched by its last segment (`payloads.ngsi_term`). Responses name the Smart Data Models
context of the entity's data model and the NGSI-LD core context, in the body (`application/ld+json`) or
in a `Link` header (`application/json`), as the spec asks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kotapintar.sensors.engine.kinds import DeviceKind
from kotapintar.sensors.engine.payloads import iso_z

CORE_CONTEXT = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld"
JSONLD = "application/ld+json"
JSON = "application/json"
CONTEXT_REL = "http://www.w3.org/ns/json-ld#context"
ERROR_BASE = "https://uri.etsi.org/ngsi-ld/errors/"

# The Smart Data Models entity type a device of each kind is served as, and that model's context.
KIND_TYPES: dict[DeviceKind, str] = {
    DeviceKind.WATER_LEVEL: "WaterObserved",
    DeviceKind.RAIN_GAUGE: "WeatherObserved",
    DeviceKind.AIR_QUALITY: "AirQualityObserved",
    DeviceKind.WEATHER: "WeatherObserved",
    DeviceKind.TRAFFIC: "TrafficFlowObserved",
    DeviceKind.FIRE_HOTSPOT: "FireHotspotObserved",  # no Smart Data Model yet: Kotapintar's own type
}
TYPE_CONTEXTS: dict[str, str] = {
    "WaterObserved": "https://raw.githubusercontent.com/smart-data-models/dataModel.Environment/master/context.jsonld",
    "AirQualityObserved": "https://raw.githubusercontent.com/smart-data-models/dataModel.Environment/master/context.jsonld",
    "FloodMonitoring": "https://raw.githubusercontent.com/smart-data-models/dataModel.Environment/master/context.jsonld",
    "WeatherObserved": "https://raw.githubusercontent.com/smart-data-models/dataModel.Weather/master/context.jsonld",
    "TrafficFlowObserved": "https://raw.githubusercontent.com/smart-data-models/dataModel.Transportation/master/context.jsonld",
}
# Canonical unit -> UN/CEFACT common code (the `unitCode` of an NGSI-LD property).
UNIT_CODES: dict[str, str] = {
    "m": "MTR",
    "mm": "MMT",
    "µg/m³": "GQ",
    "°C": "CEL",
    "m/s": "MTS",
    "veh/h": "E50",
    "MW": "MAW",
}


class NgsiProblem(Exception):
    """An NGSI-LD error: the spec's problem type, the HTTP status and a message for a person."""

    def __init__(self, status: int, kind: str, detail: str, *, title: str | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.kind = kind
        self.detail = detail
        self.title = title or kind

    def body(self, instance: str | None = None) -> dict[str, Any]:
        """The ProblemDetails body (RFC 7807 as NGSI-LD uses it)."""
        body: dict[str, Any] = {"type": problem_type(self.kind), "title": self.title, "detail": self.detail}
        if instance:
            body["instance"] = instance
        return body


def problem_type(kind: str) -> str:
    """The problem type URI: the spec's own for its error kinds, Kotapintar's for access errors."""
    if kind in ("Unauthorized", "Forbidden", "NotAcceptable", "UnsupportedMediaType", "MethodNotAllowed"):
        return f"urn:kotapintar:errors:{kind}"
    return ERROR_BASE + kind


def problem_for_status(status: int, detail: str) -> NgsiProblem:
    """The ProblemDetails of an HTTP error raised outside the NGSI-LD handlers (unknown path, method)."""
    kind = {
        400: "BadRequestData",
        401: "Unauthorized",
        403: "Forbidden",
        404: "ResourceNotFound",
        405: "MethodNotAllowed",
        406: "NotAcceptable",
        409: "AlreadyExists",
        413: "BadRequestData",
        415: "UnsupportedMediaType",
        422: "InvalidRequest",
    }.get(status, "InternalError" if status >= 500 else "BadRequestData")
    return NgsiProblem(status, kind, detail)


def _media(value: str | None) -> str:
    return (value or "").split(";", 1)[0].strip().lower()


@dataclass(frozen=True)
class RequestContext:
    """The `@context` of a write request: from the body (ld+json) or a Link header (json), else the core."""

    contexts: tuple[str, ...]


def write_media(content_type: str | None) -> str:
    """The media type of a write, `application/json` or `application/ld+json`; raises 415 otherwise."""
    media = _media(content_type)
    if media not in (JSON, JSONLD):
        raise NgsiProblem(
            415,
            "UnsupportedMediaType",
            "Content-Type harus application/json atau application/ld+json / "
            f"Content-Type must be application/json or application/ld+json, not '{media or '-'}'.",
        )
    return media


def check_write(content_type: str | None, link: str | None, body: Any) -> RequestContext:
    """Apply the spec's rules on a write's media type and `@context` (6.3.5); raises NgsiProblem.

    `application/json` must not carry `@context` in the body (a Link header may name it);
    `application/ld+json` must carry it in every entity and must not also send a Link header.
    """
    media = write_media(content_type)
    items = body if isinstance(body, list) else [body]
    with_context = [isinstance(i, Mapping) and "@context" in i for i in items]
    if media == JSON:
        if any(with_context):
            raise NgsiProblem(
                400,
                "BadRequestData",
                "Dengan application/json, @context dikirim di header Link, bukan di badan / with "
                "application/json the @context goes in a Link header, not in the body.",
            )
        linked = _linked_context(link)
        return RequestContext((linked,) if linked else (CORE_CONTEXT,))
    if link and _linked_context(link):
        raise NgsiProblem(
            400,
            "BadRequestData",
            "application/ld+json tidak boleh memakai header Link untuk @context / application/ld+json must "
            "not send the @context in a Link header.",
        )
    if not all(with_context):
        raise NgsiProblem(
            400,
            "BadRequestData",
            "Dengan application/ld+json setiap entitas wajib memuat @context / with application/ld+json "
            "every entity must carry an @context.",
        )
    contexts: list[str] = []
    for item in items:
        ctx = item["@context"]
        for c in ctx if isinstance(ctx, list) else [ctx]:
            if isinstance(c, str) and c not in contexts:
                contexts.append(c)
    return RequestContext(tuple(contexts) or (CORE_CONTEXT,))


def _linked_context(link: str | None) -> str | None:
    """The context IRI of a `Link: <iri>; rel="http://www.w3.org/ns/json-ld#context"` header."""
    if not link:
        return None
    for part in link.split(","):
        if CONTEXT_REL in part and "<" in part and ">" in part:
            return part[part.index("<") + 1 : part.index(">")].strip()
    return None


def response_media(accept: str | None) -> str:
    """`application/ld+json` or `application/json` for a GET, by the Accept header; raises 406 otherwise."""
    if not accept:
        return JSON
    choices = [_media(part) for part in accept.split(",")]
    for media in choices:
        if media in (JSON, JSONLD):
            return media
    if any(m in ("*/*", "application/*") for m in choices):
        return JSON
    raise NgsiProblem(
        406,
        "NotAcceptable",
        "Hanya application/json atau application/ld+json / only application/json or application/ld+json.",
    )


def contexts_for(entity_type: str) -> list[str]:
    """The contexts of a served entity: its data model's (when it has one) and the core context."""
    model = TYPE_CONTEXTS.get(entity_type)
    return [model, CORE_CONTEXT] if model else [CORE_CONTEXT]


def link_header(entity_type: str | None) -> str:
    """The `Link` header naming the context of an `application/json` answer."""
    ctx = TYPE_CONTEXTS.get(entity_type or "", CORE_CONTEXT)
    return f'<{ctx}>; rel="{CONTEXT_REL}"; type="{JSONLD}"'


def entity_id(entity_type: str, device_id: str) -> str:
    """The id Kotapintar serves a device's entity under."""
    return f"urn:ngsi-ld:{entity_type}:{device_id}"


@dataclass(frozen=True)
class Latest:
    """The latest value of one attribute of a device."""

    attribute: str
    value: float
    unit: str
    observed_at: datetime


def entity_view(
    *,
    device_id: str,
    kind: DeviceKind,
    lon: float,
    lat: float,
    name: str,
    latest: Sequence[Latest],
    concise: bool,
    attrs: Sequence[str] | None = None,
) -> dict[str, Any]:
    """A device as an NGSI-LD entity with its latest values (normalized, or concise with `keyValues`).

    Values follow the model: `relativeHumidity` is served as the model's fraction 0–1 (`unitCode` C62),
    though Kotapintar stores and shows percent.
    """
    entity_type = KIND_TYPES[kind]
    entity: dict[str, Any] = {"id": entity_id(entity_type, device_id), "type": entity_type}
    point = {"type": "Point", "coordinates": [lon, lat]}
    wanted = set(attrs) if attrs else None

    def add(name_: str, normalized: dict[str, Any], value: Any) -> None:
        if wanted is None or name_ in wanted:
            entity[name_] = value if concise else normalized

    add("name", {"type": "Property", "value": name}, name)
    add("location", {"type": "GeoProperty", "value": point}, point)
    ref = f"urn:ngsi-ld:Device:{device_id}"
    add("refDevice", {"type": "Relationship", "object": ref}, ref)
    newest: datetime | None = None
    for item in sorted(latest, key=lambda x: x.attribute):
        value, unit_code = item.value, UNIT_CODES.get(item.unit)
        if item.attribute == "relativeHumidity":
            value, unit_code = round(item.value / 100.0, 6), "C62"
        prop: dict[str, Any] = {"type": "Property", "value": value, "observedAt": iso_z(item.observed_at)}
        if unit_code:
            prop["unitCode"] = unit_code
        add(item.attribute, prop, value)
        newest = item.observed_at if newest is None or item.observed_at > newest else newest
    if newest is not None:
        add("dateObserved", {"type": "Property", "value": iso_z(newest)}, iso_z(newest))
    return entity


def with_context(entity: dict[str, Any], media: str) -> dict[str, Any]:
    """The entity as served: `@context` in the body for `application/ld+json`."""
    if media == JSONLD:
        return {**entity, "@context": contexts_for(str(entity.get("type", "")))}
    return entity


def entity_from_fragment(entity_id_: str, fragment: Any) -> dict[str, Any]:
    """The entity an attribute update (`PATCH/POST /entities/{id}/attrs`) stands for: its id, the type named
    in the id, and the attributes sent."""
    if not isinstance(fragment, Mapping) or not fragment:
        raise NgsiProblem(
            400, "BadRequestData", "Badan harus objek atribut / the body must be an attribute object."
        )
    parts = entity_id_.split(":")
    if len(parts) < 4 or parts[0] not in ("urn", "uri"):
        raise NgsiProblem(
            400, "BadRequestData", f"ID entitas '{entity_id_}' bukan urn:ngsi-ld:<Tipe>:<id> / not a URN."
        )
    body = {k: v for k, v in fragment.items() if k != "@context"}
    return {"id": entity_id_, "type": parts[2], **body}
