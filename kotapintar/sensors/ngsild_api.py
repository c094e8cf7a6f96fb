"""The standard NGSI-LD API subset (`/ngsi-ld/v1/…`) a device, `ngsildclient` or a context broker speaks.

Writes (create, attribute update, batch upsert/create/update, a broker's subscription notification) store
observations of registered devices, authenticated by the device's key in `X-Device-Key` (a broker sends it
through its subscription's `endpoint.receiverInfo`). Reads serve each device as an entity with its latest
values. Errors are the spec's ProblemDetails. Paths are also answered with a trailing slash, which some
clients (ngsildclient) send.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse, Response

from kotapintar.core.errors import DomainError
from kotapintar.core.http.deps import DbDep, SettingsDep
from kotapintar.sensors import ngsild_service as ngsi
from kotapintar.sensors.engine.ngsild import (
    JSON,
    JSONLD,
    NgsiProblem,
    check_write,
    entity_from_fragment,
    link_header,
    problem_for_status,
    response_media,
    with_context,
    write_media,
)

router = APIRouter(tags=["ngsi-ld"])
BASE = "/ngsi-ld/v1"
MAX_BODY_BYTES = 1024 * 1024
MAX_LIMIT = 1000
KeyHeader = Annotated[
    str | None, Header(alias="X-Device-Key", description="the device's (or gateway's) API key")
]


def problem_response(problem: NgsiProblem, instance: str | None = None) -> JSONResponse:
    """A ProblemDetails answer (NGSI-LD serialises its errors as application/json)."""
    return JSONResponse(problem.body(instance), status_code=problem.status, media_type=JSON)


def ngsi_error_response(status: int, detail: str, path: str) -> JSONResponse:
    """The ProblemDetails of an error raised outside these handlers (unknown path, method, body size)."""
    return problem_response(problem_for_status(status, detail), path)


async def _guard(request: Request, handler: Callable[[], Awaitable[Response]]) -> Response:
    """Run a handler so that every refusal is a ProblemDetails answer, never the REST error shape."""
    try:
        return await handler()
    except NgsiProblem as problem:
        return problem_response(problem, request.url.path)
    except DomainError as exc:
        return problem_response(problem_for_status(exc.http_status, exc.message), request.url.path)


async def _read_body(request: Request) -> Any:
    write_media(request.headers.get("content-type"))
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        raise NgsiProblem(413, "BadRequestData", "Muatan terlalu besar (maks. 1 MB) / payload too large.")
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise NgsiProblem(400, "InvalidRequest", f"JSON tidak sah / invalid JSON: {exc}") from exc


def _ignored_header(write: ngsi.EntityWrite) -> dict[str, str]:
    names = sorted({a for attrs in write.ignored.values() for a in attrs})
    return {"Kotapintar-Ignored-Attributes": ",".join(names)} if names else {}


def _split(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


# ------------------------------------------------------------------------------------------------ reads


@router.get(f"{BASE}/entities")
@router.get(f"{BASE}/entities/", include_in_schema=False)
async def query_entities(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    type: Annotated[str | None, Query(description="entity types, comma-separated")] = None,
    id: Annotated[str | None, Query(description="entity ids, comma-separated")] = None,
    attrs: Annotated[str | None, Query(description="attributes to return, comma-separated")] = None,
    options: Annotated[str | None, Query(description="keyValues (concise) or normalized")] = None,
    limit: Annotated[int, Query(ge=0, le=MAX_LIMIT)] = 20,
    offset: Annotated[int, Query(ge=0)] = 0,
    count: Annotated[bool, Query()] = False,
) -> Response:
    """Query entities by type or id: the registered devices with their latest values (public, like the map)."""

    async def run() -> Response:
        media = response_media(request.headers.get("accept"))
        if not type and not id:
            raise NgsiProblem(400, "BadRequestData", "Sebutkan type atau id / give a type or an id.")
        entities, total = ngsi.query_entities(
            db,
            settings=settings,
            types=_split(type),
            ids=_split(id),
            attrs=_split(attrs) or None,
            concise="keyValues" in _split(options) or "concise" in _split(options),
            limit=limit,
            offset=offset,
        )
        headers = {"NGSILD-Results-Count": str(total)} if count else {}
        if media == JSON:
            headers["Link"] = link_header(_split(type)[0] if type else None)
        body = [with_context(e, media) for e in entities]
        return JSONResponse(body, media_type=media, headers=headers)

    return await _guard(request, run)


@router.get(f"{BASE}/entities/{{entity_id}}")
async def retrieve_entity(
    entity_id: str,
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    attrs: Annotated[str | None, Query(description="attributes to return, comma-separated")] = None,
    options: Annotated[str | None, Query(description="keyValues (concise) or normalized")] = None,
) -> Response:
    """One device as an entity with its latest values (`urn:ngsi-ld:<Type>:<deviceId>`)."""

    async def run() -> Response:
        media = response_media(request.headers.get("accept"))
        entity = ngsi.get_entity(
            db,
            entity_id,
            settings=settings,
            concise="keyValues" in _split(options) or "concise" in _split(options),
            attrs=_split(attrs) or None,
        )
        headers = {"Link": link_header(str(entity["type"]))} if media == JSON else {}
        return JSONResponse(with_context(entity, media), media_type=media, headers=headers)

    return await _guard(request, run)


# ----------------------------------------------------------------------------------------------- writes


@router.post(f"{BASE}/entities", status_code=201)
@router.post(f"{BASE}/entities/", include_in_schema=False, status_code=201)
async def create_entity(
    request: Request, db: DbDep, settings: SettingsDep, x_device_key: KeyHeader = None
) -> Response:
    """Create an entity: one observation of a registered device (201 with its Location).

    Kotapintar keeps observations, not entity documents: creating an id it already serves adds an
    observation instead of answering 409, so a device that only knows "create" keeps reporting.
    """

    async def run() -> Response:
        body = await _read_body(request)
        check_write(request.headers.get("content-type"), request.headers.get("link"), body)
        if not isinstance(body, dict):
            raise NgsiProblem(
                400, "BadRequestData", "Satu entitas (objek JSON) / one entity (a JSON object)."
            )
        if not isinstance(body.get("id"), str) or not isinstance(body.get("type"), str):
            raise NgsiProblem(
                400, "BadRequestData", "Entitas wajib punya 'id' dan 'type' / needs 'id' and 'type'."
            )
        write = ngsi.write_entities(db, [body], api_key=x_device_key, settings=settings)
        if write.failed:
            raise write.failed[0][1]
        headers = {"Location": f"{BASE}/entities/{body['id']}", **_ignored_header(write)}
        return Response(status_code=201, headers=headers)

    return await _guard(request, run)


async def _update_attrs(
    request: Request, entity_id: str, db: DbDep, settings: SettingsDep, key: str | None
) -> Response:
    body = await _read_body(request)
    check_write(request.headers.get("content-type"), request.headers.get("link"), body)
    entity = entity_from_fragment(entity_id, body)
    write = ngsi.write_entities(db, [entity], api_key=key, settings=settings)
    if write.failed:
        raise write.failed[0][1]
    ignored = write.ignored.get(entity_id, [])
    if not ignored:
        return Response(status_code=204)
    sent = [k for k in body if k != "@context"]
    return JSONResponse(
        {
            "updated": [a for a in sent if a not in ignored],
            "notUpdated": [
                {
                    "attributeName": a,
                    "reason": "Atribut tidak dipetakan untuk perangkat ini / attribute not mapped for this device",
                }
                for a in ignored
            ],
        },
        status_code=207,
        media_type=JSON,
    )


@router.patch(f"{BASE}/entities/{{entity_id}}/attrs", status_code=204)
async def update_attrs(
    entity_id: str, request: Request, db: DbDep, settings: SettingsDep, x_device_key: KeyHeader = None
) -> Response:
    """Update attributes of an entity: new values of the device (204, or 207 naming ignored attributes)."""
    return await _guard(request, lambda: _update_attrs(request, entity_id, db, settings, x_device_key))


@router.post(f"{BASE}/entities/{{entity_id}}/attrs", status_code=204)
@router.post(f"{BASE}/entities/{{entity_id}}/attrs/", include_in_schema=False, status_code=204)
async def append_attrs(
    entity_id: str, request: Request, db: DbDep, settings: SettingsDep, x_device_key: KeyHeader = None
) -> Response:
    """Append attributes to an entity: the same as an update for an observation sink."""
    return await _guard(request, lambda: _update_attrs(request, entity_id, db, settings, x_device_key))


async def _batch(request: Request, db: DbDep, settings: SettingsDep, key: str | None) -> Response:
    body = await _read_body(request)
    if not isinstance(body, list) or not body:
        raise NgsiProblem(
            400, "BadRequestData", "Badan harus larik entitas / the body must be an array of entities."
        )
    check_write(request.headers.get("content-type"), request.headers.get("link"), body)
    write = ngsi.write_entities(db, body, api_key=key, settings=settings)
    headers = _ignored_header(write)
    if not write.failed:
        return JSONResponse(write.stored, status_code=201, media_type=JSON, headers=headers)
    return JSONResponse(
        {
            "success": write.stored,
            "errors": [{"entityId": entity, "error": problem.body()} for entity, problem in write.failed],
        },
        status_code=207,
        media_type=JSON,
        headers=headers,
    )


@router.post(f"{BASE}/entityOperations/upsert")
@router.post(f"{BASE}/entityOperations/upsert/", include_in_schema=False)
async def batch_upsert(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    x_device_key: KeyHeader = None,
    options: Annotated[str | None, Query(description="replace or update (same effect here)")] = None,
) -> Response:
    """Batch upsert: every entity an observation (201 with the ids, or 207 BatchOperationResult)."""
    return await _guard(request, lambda: _batch(request, db, settings, x_device_key))


@router.post(f"{BASE}/entityOperations/create")
@router.post(f"{BASE}/entityOperations/create/", include_in_schema=False)
async def batch_create(
    request: Request, db: DbDep, settings: SettingsDep, x_device_key: KeyHeader = None
) -> Response:
    """Batch create: as upsert (observations are appended, never refused as existing)."""
    return await _guard(request, lambda: _batch(request, db, settings, x_device_key))


@router.post(f"{BASE}/entityOperations/update")
@router.post(f"{BASE}/entityOperations/update/", include_in_schema=False)
async def batch_update(
    request: Request, db: DbDep, settings: SettingsDep, x_device_key: KeyHeader = None
) -> Response:
    """Batch update: as upsert."""
    return await _guard(request, lambda: _batch(request, db, settings, x_device_key))


# ------------------------------------------------------------------------------- broker notifications


@router.post("/api/v1/sensors/ngsi-ld/notify")
async def broker_notification(
    request: Request, db: DbDep, settings: SettingsDep, x_device_key: KeyHeader = None
) -> Response:
    """A notification of an NGSI-LD broker subscription (Orion-LD, Stellio, Scorpio): its `data` entities
    are observations. Subscribe with `endpoint.uri` = this URL, `endpoint.accept` application/json and the
    key in `endpoint.receiverInfo` [{"key": "X-Device-Key", "value": "…"}]. 200 with the per-entity outcome."""

    async def run() -> Response:
        body = await _read_body(request)
        if (
            not isinstance(body, dict)
            or body.get("type") != "Notification"
            or not isinstance(body.get("data"), list)
        ):
            raise NgsiProblem(
                400,
                "BadRequestData",
                "Bukan notifikasi NGSI-LD: perlu type 'Notification' dan larik 'data' / not an NGSI-LD "
                "notification: needs type 'Notification' and a 'data' array.",
            )
        entities = [
            {k: v for k, v in e.items() if k != "@context"} if isinstance(e, dict) else e
            for e in body["data"]
        ]
        if not entities:
            return JSONResponse({"subscriptionId": body.get("subscriptionId"), "success": [], "errors": []})
        write = ngsi.write_entities(db, entities, api_key=x_device_key, settings=settings)
        if write.failed and not write.stored and all(p.status in (401, 403) for _, p in write.failed):
            raise write.failed[0][1]
        return JSONResponse(
            {
                "subscriptionId": body.get("subscriptionId"),
                "success": write.stored,
                "errors": [{"entityId": entity, "error": problem.body()} for entity, problem in write.failed],
                "ignored": write.ignored,
            },
            media_type=JSON,
        )

    return await _guard(request, run)


__all__ = ["BASE", "JSONLD", "ngsi_error_response", "router"]
