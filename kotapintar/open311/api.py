"""Open311 GeoReport v2 at /open311/v2/ (plus mySociety servicerequestupdates): parse, call services, format.

Every answer, errors included, is in the format the URL asks for (`.xml` or `.json`), with the Open311
error list and HTTP 400/403/404; the API's own `{error: …}` shape is never used here.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from kotapintar.core.access.actors import Actor
from kotapintar.core.access.auth import client_for_api_key
from kotapintar.core.db.database import Database
from kotapintar.core.errors import DomainError, NotFound, PermissionDenied, ValidationFailed
from kotapintar.core.events.types import utcnow
from kotapintar.core.http.bounds import check_datetime
from kotapintar.core.http.deps import read_db
from kotapintar.core.settings import Settings
from kotapintar.intake.media import Upload
from kotapintar.open311 import format as fmt_
from kotapintar.open311 import sync as o311

router = APIRouter(prefix="/open311/v2", tags=["open311"])
_STARTED = utcnow()
_MAX_UPLOADS = 5


class BadRequest(Exception):
    """A malformed Open311 request (HTTP 400) found while parsing."""


def _db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _status_of(exc: DomainError) -> int:
    if exc.http_status in (404, 429):
        return exc.http_status
    if exc.http_status in (401, 403):
        return 403
    return 400


async def _answer(fmt: str, work: Callable[[], Awaitable[Response]]) -> Response:
    """Run `work` and turn every refusal into the Open311 error list in the asked format."""
    if fmt not in fmt_.FORMATS:
        return fmt_.errors("xml", 404, "Bad extension. We support .xml and .json / format tidak dikenal.")
    try:
        return await work()
    except BadRequest as exc:
        return fmt_.errors(fmt, 400, str(exc))
    except DomainError as exc:
        response = fmt_.errors(fmt, _status_of(exc), exc.message)
        retry_after = exc.details.get("retry_after_s")
        if response.status_code == 429 and retry_after is not None:
            response.headers["Retry-After"] = str(retry_after)
        return response


def _param(params: Any, name: str) -> str | None:
    """An argument; empty counts as absent (Open311 'Optional Arguments')."""
    value = params.get(name)
    if value is None or isinstance(value, UploadFile):
        return None
    value = str(value).strip()
    return value or None


def _check_jurisdiction(params: Any, settings: Settings) -> None:
    given = _param(params, "jurisdiction_id")
    if given and settings.open311_jurisdiction_id and given != settings.open311_jurisdiction_id:
        raise NotFound(f"jurisdiction_id '{given}' tidak dilayani di sini / unknown jurisdiction_id.")


def _datetime(params: Any, name: str, tz: str) -> datetime | None:
    value = _param(params, name)
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace(" ", "+"))
    except ValueError as exc:
        raise BadRequest(
            f"{name} bukan tanggal W3C (mis. 2026-01-31T08:00:00+07:00) / {name} is not a W3C datetime."
        ) from exc
    parsed = parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=ZoneInfo(tz))
    try:
        check_datetime(parsed, name)
    except ValidationFailed as exc:
        raise BadRequest(exc.message) from exc
    return parsed


def _int(params: Any, name: str, default: int, low: int, high: int) -> int:
    value = _param(params, name)
    if value is None:
        return default
    if not value.isdigit() or not low <= int(value) <= high:
        raise BadRequest(f"{name} harus bilangan {low}..{high} / {name} must be an integer {low}..{high}.")
    return int(value)


def _csv(params: Any, name: str) -> tuple[str, ...]:
    value = _param(params, name)
    return tuple(p.strip() for p in value.split(",") if p.strip()) if value else ()


def _flag(params: Any, name: str) -> bool:
    return (_param(params, name) or "").lower() in ("true", "1", "yes")


async def _form(request: Request) -> FormData:
    if request.method != "POST":
        return FormData()
    try:
        return await request.form(max_files=_MAX_UPLOADS, max_fields=1000)
    except Exception as exc:  # malformed multipart or urlencoded body
        raise BadRequest(f"Badan permintaan tidak dapat dibaca / unreadable request body: {exc}") from exc


def _caller(db: Database, request: Request) -> Actor | None:
    """The client a GET comes from, when it sends its key (FixMyStreet always does); else None."""
    key = _param(request.query_params, "api_key") or request.headers.get("x-api-key")
    return client_for_api_key(db, key) if key else None


def _client(db: Database, request: Request, form: FormData) -> Actor:
    key = (
        _param(form, "api_key") or _param(request.query_params, "api_key") or request.headers.get("x-api-key")
    )
    client = client_for_api_key(db, key) if key else None
    if client is None:
        raise PermissionDenied(
            "api_key tidak ada atau tidak sah / invalid api_key received -- can't proceed with the request."
        )
    return client


# ---------------------------------------------------------------- discovery and services


@router.get("/discovery.{fmt}")
@router.head("/discovery.{fmt}", include_in_schema=False)
async def discovery(fmt: str, request: Request) -> Response:
    """Where this endpoint lives, which formats it speaks and how to get a key."""

    async def work() -> Response:
        base = str(request.base_url).rstrip("/") + "/open311/v2/"
        doc = fmt_.discovery(base, fmt_.w3c(_STARTED, "UTC"), "Command Center — Kotapintar")
        return fmt_.respond(fmt, "discovery", None, doc)

    return await _answer(fmt, work)


@router.get("/services.{fmt}")
@router.head("/services.{fmt}", include_in_schema=False)
async def services(fmt: str, request: Request) -> Response:
    """The service list (kinds of problems) from the catalogue."""
    settings = _settings(request)

    async def work() -> Response:
        _check_jurisdiction(request.query_params, settings)
        found = await run_in_threadpool(o311.open311_services, read_db(request))
        entries = [fmt_.service_entry(s, batch=settings.open311_return_token) for s in found]
        return fmt_.respond(fmt, "services", "service", entries)

    return await _answer(fmt, work)


@router.get("/services/{service_code}.{fmt}")
@router.head("/services/{service_code}.{fmt}", include_in_schema=False)
async def service_definition(service_code: str, fmt: str, request: Request) -> Response:
    """One service's definition: the extra attributes a client asks for."""

    async def work() -> Response:
        _check_jurisdiction(request.query_params, _settings(request))
        found = await run_in_threadpool(o311.open311_service, read_db(request), service_code)
        return fmt_.respond(fmt, "service_definition", None, fmt_.service_definition(found))

    return await _answer(fmt, work)


# ---------------------------------------------------------------- requests


def _attributes(form: FormData) -> dict[str, Any]:
    """`attribute[code]=v` as a string, `attribute[code][]=v1&…` as a list."""
    out: dict[str, Any] = {}
    for key, value in form.multi_items():
        if not key.startswith("attribute[") or isinstance(value, UploadFile):
            continue
        inner = key[len("attribute[") :]
        code, _, rest = inner.partition("]")
        if not code:
            continue
        if rest == "[]":
            out.setdefault(code, [])
            if isinstance(out[code], list):
                out[code].append(value)
        else:
            out[code] = value
    return out


def _uploads(form: FormData) -> list[UploadFile]:
    files = [
        v for k, v in form.multi_items() if isinstance(v, UploadFile) and (k.startswith(("media", "photo")))
    ]
    if len(files) > _MAX_UPLOADS:
        raise BadRequest(f"Maksimum {_MAX_UPLOADS} berkas media / at most {_MAX_UPLOADS} media files.")
    return files


@router.post("/requests.{fmt}")
async def post_request(fmt: str, request: Request) -> Response:
    """Create a service request (form-urlencoded or multipart with `media`); needs an api_key."""
    db, settings = _db(request), _settings(request)

    async def work() -> Response:
        form = await _form(request)
        _check_jurisdiction(form, settings)
        client = await run_in_threadpool(_client, db, request, form)
        service_code = _param(form, "service_code")
        if service_code is None:
            raise BadRequest("service_code wajib diisi / service_code is required.")
        body = o311.Open311RequestIn(
            service_code=service_code,
            description=_param(form, "description") or "",
            lat=_param(form, "lat"),
            long=_param(form, "long"),
            address_string=_param(form, "address_string"),
            address_id=_param(form, "address_id"),
            email=_param(form, "email"),
            device_id=_param(form, "device_id") or _param(form, "deviceid"),
            account_id=_param(form, "account_id"),
            first_name=_param(form, "first_name"),
            last_name=_param(form, "last_name"),
            phone=_param(form, "phone"),
            media_urls=[
                str(v).strip()
                for k, v in form.multi_items()
                if k in ("media_url", "media_url[]") and str(v).strip()
            ],
            attributes=_attributes(form),
        )
        uploads = [Upload(await f.read(), f.filename or "") for f in _uploads(form)]
        result = await run_in_threadpool(o311.submit_open311_request, db, client, body, settings, uploads)
        entry: dict[str, Any]
        if settings.open311_return_token:
            entry = {"token": o311.token_for(result, settings)}
        else:
            entry = {"service_request_id": await run_in_threadpool(o311.request_id_of, db, result)}
        base = str(request.base_url)
        entry["service_notice"] = (
            f"Laporan Anda tercatat dengan nomor {result.ticket}; pantau di {base}lacak/{result.ticket} / "
            f"your report is ticket {result.ticket}."
        )
        return fmt_.respond(fmt, "service_requests", "request", [entry])

    return await _answer(fmt, work)


def _query(request: Request, settings: Settings) -> o311.RequestQuery:
    params, tz = request.query_params, settings.timezone
    statuses = tuple(s.lower() for s in _csv(params, "status"))
    if any(s not in ("open", "closed") for s in statuses):
        raise BadRequest("status hanya 'open' atau 'closed' / status must be open or closed.")
    updated_after = _datetime(params, "updated_after", tz)
    updated_before = _datetime(params, "updated_before", tz)
    start, end = o311.default_window(
        _datetime(params, "start_date", tz),
        _datetime(params, "end_date", tz),
        updated_filter=updated_after is not None or updated_before is not None,
    )
    page = _int(params, "page", 1, 1, 100_000)
    page_size = _int(params, "page_size", o311.MAX_REQUESTS, 1, o311.MAX_REQUESTS)
    if page * page_size > o311.MAX_PAGE_DEPTH:
        raise BadRequest("Halaman terlalu jauh; persempit tanggal / page too deep, narrow the dates.")
    return o311.RequestQuery(
        ids=_csv(params, "service_request_id"),
        service_codes=_csv(params, "service_code"),
        statuses=statuses,
        start=start,
        end=end,
        updated_after=updated_after,
        updated_before=updated_before,
        page=page,
        page_size=page_size,
        extensions=_flag(params, "extensions"),
    )


@router.get("/requests.{fmt}")
@router.head("/requests.{fmt}", include_in_schema=False)
async def get_requests(fmt: str, request: Request) -> Response:
    """Public service requests: filters, the 90-day / 1,000 default, pages and extensions."""
    settings = _settings(request)

    async def work() -> Response:
        _check_jurisdiction(request.query_params, settings)
        query = _query(request, settings)
        found = await run_in_threadpool(o311.find_requests, read_db(request), query, settings)
        entries = [
            fmt_.request_entry(
                v, settings.timezone, extensions=query.extensions, base_url=str(request.base_url)
            )
            for v in found
        ]
        return fmt_.respond(fmt, "service_requests", "request", entries)

    return await _answer(fmt, work)


@router.get("/requests/{service_request_id}.{fmt}")
@router.head("/requests/{service_request_id}.{fmt}", include_in_schema=False)
async def get_request(service_request_id: str, fmt: str, request: Request) -> Response:
    """One public service request by its id (the ticket)."""
    settings = _settings(request)

    async def work() -> Response:
        _check_jurisdiction(request.query_params, settings)
        extensions = _flag(request.query_params, "extensions")
        view = await run_in_threadpool(
            o311.find_request, read_db(request), service_request_id, settings, extensions
        )
        entry = fmt_.request_entry(
            view, settings.timezone, extensions=extensions, base_url=str(request.base_url)
        )
        return fmt_.respond(fmt, "service_requests", "request", [entry])

    return await _answer(fmt, work)


@router.get("/tokens/{token}.{fmt}")
@router.head("/tokens/{token}.{fmt}", include_in_schema=False)
async def get_token(token: str, fmt: str, request: Request) -> Response:
    """The service_request_id a token from POST requests stands for."""
    settings = _settings(request)

    async def work() -> Response:
        _check_jurisdiction(request.query_params, settings)
        ticket = await run_in_threadpool(o311.request_id_for_token, read_db(request), token, settings)
        return fmt_.respond(
            fmt, "service_requests", "request", [{"service_request_id": ticket, "token": token}]
        )

    return await _answer(fmt, work)


# ---------------------------------------------------------------- mySociety servicerequestupdates


@router.get("/servicerequestupdates.{fmt}")
@router.head("/servicerequestupdates.{fmt}", include_in_schema=False)
async def get_updates(fmt: str, request: Request) -> Response:
    """Public status changes in a time window (default: the last two hours)."""
    settings = _settings(request)

    async def work() -> Response:
        params = request.query_params
        _check_jurisdiction(params, settings)
        start = _datetime(params, "start_date", settings.timezone)
        end = _datetime(params, "end_date", settings.timezone)
        caller = await run_in_threadpool(_caller, _db(request), request)
        found = await run_in_threadpool(o311.list_updates, _db(request), start, end, caller)
        entries = [fmt_.update_entry(u, settings.timezone) for u in found]
        return fmt_.respond(fmt, "service_requests_updates", "request_update", entries)

    return await _answer(fmt, work)


@router.post("/servicerequestupdates.{fmt}")
async def post_update(fmt: str, request: Request) -> Response:
    """A comment or status change from a client system (FixMyStreet, a back office); needs an api_key."""
    db, settings = _db(request), _settings(request)

    async def work() -> Response:
        form = await _form(request)
        _check_jurisdiction(form, settings)
        client = await run_in_threadpool(_client, db, request, form)
        ticket, status = _param(form, "service_request_id"), _param(form, "status")
        if ticket is None or status is None:
            raise BadRequest(
                "service_request_id dan status wajib / service_request_id and status are required."
            )
        update = o311.UpdateIn(
            service_request_id=ticket,
            status=status,
            description=_param(form, "description") or "",
            # FixMyStreet's extended updates send its comment id as update_id_ext instead of update_id.
            update_id=_param(form, "update_id") or _param(form, "update_id_ext"),
            updated_datetime=_datetime(form, "updated_datetime", settings.timezone),
            media_urls=tuple(
                str(v).strip()
                for k, v in form.multi_items()
                if k in ("media_url", "media_url[]") and str(v).strip()
            ),
        )
        update_id = await run_in_threadpool(o311.apply_update, db, client, update, settings)
        return fmt_.respond(fmt, "service_request_updates", "request_update", [{"update_id": update_id}])

    return await _answer(fmt, work)


# ---------------------------------------------------------------- the OpenAPI description


@router.get("/openapi.json", include_in_schema=False)
def openapi() -> Response:
    """The OpenAPI 3 description of the Open311 endpoints (a static file shipped in the package)."""
    text = (resources.files("kotapintar.open311") / "openapi.yaml").read_text(encoding="utf-8")
    return Response(json.dumps(yaml.safe_load(text)), media_type="application/json")


@router.options("/{rest:path}", include_in_schema=False)
async def preflight(rest: str) -> Response:
    """CORS preflight of a browser client (it sends `X-Api-Key`, so the browser asks first): allowed from any
    origin, as the Open311 GETs already are; the key still decides what a POST may do."""
    return Response(status_code=204, headers=fmt_.CORS_PREFLIGHT)


@router.api_route(
    "/{rest:path}", methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False
)
async def not_found(rest: str) -> Response:
    """Anything else under /open311/v2/: the Open311 404, in JSON when the path asks for it."""
    fmt = "json" if rest.endswith(".json") else "xml"
    return fmt_.errors(fmt, 404, "Resource not found / sumber tidak ditemukan.")


def open311_error_response(status: int, message: str, path: str) -> Response:
    """An error raised outside the Open311 handlers (a method not allowed, a body too large), in the Open311
    error format of the path's suffix."""
    fmt = "json" if path.endswith(".json") else "xml"
    return fmt_.errors(fmt, status if status in (403, 404, 429) else 400 if status < 500 else status, message)
