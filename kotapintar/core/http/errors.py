"""Turning domain errors and bad requests into JSON answers a person can act on."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from kotapintar.core.errors import DomainError


def error_body(code: str, message: str, **details: Any) -> dict[str, Any]:
    """The one error shape of the API: {"error": {"code", "message", "details"}}."""
    return {"error": {"code": code, "message": message, "details": details}}


def _field_path(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


# (status, message, path) -> the answer in another standard's error shape.
ErrorFormat = Callable[[int, str, str], Response]


def register_error_format(app: FastAPI, prefix: str, fmt: ErrorFormat) -> None:
    """Answer errors under a path prefix in another standard's shape (NGSI-LD ProblemDetails, …): a client
    of that standard reads its own error format everywhere under its base path, 404 and 405 included."""
    formats: dict[str, ErrorFormat] = getattr(app.state, "error_formats", {})
    formats[prefix] = fmt
    app.state.error_formats = formats


def _other_format(request: Request, status: int, message: str) -> Response | None:
    formats: dict[str, ErrorFormat] = getattr(request.app.state, "error_formats", {})
    path = request.url.path
    for prefix, fmt in formats.items():
        if path.startswith(prefix):
            return fmt(status, message, path)
    return None


def install_error_handlers(app: FastAPI) -> None:
    """Register handlers so no domain refusal or malformed request ever becomes a 500."""

    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> Response:
        other = _other_format(request, exc.http_status, exc.message)
        if other is not None:
            return other
        headers: dict[str, str] = {}
        if exc.http_status == 401:
            headers["WWW-Authenticate"] = 'Bearer realm="kotapintar"'
        retry = exc.details.get("retry_after_s")
        if isinstance(retry, int | float):
            headers["Retry-After"] = str(int(retry))
        return JSONResponse(
            error_body(exc.code, exc.message, **exc.details), status_code=exc.http_status, headers=headers
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        errors = exc.errors()
        other = _other_format(
            request,
            400,
            "; ".join(
                f"{_field_path(tuple(e.get('loc', ())))}: {e.get('msg', 'invalid')}" for e in errors[:5]
            ),
        )
        if other is not None:
            return other
        for err in errors:
            if err.get("type") == "json_invalid":
                ctx = err.get("ctx") or {}
                return JSONResponse(
                    error_body(
                        "malformed_json",
                        f"Badan permintaan bukan JSON yang sah ({ctx.get('error', 'parse error')}) / "
                        "the request body is not valid JSON.",
                    ),
                    status_code=400,
                )
        problems = [
            {"field": _field_path(tuple(err.get("loc", ()))), "problem": str(err.get("msg", "invalid"))}
            for err in errors
        ]
        summary = "; ".join(f"{p['field']}: {p['problem']}" for p in problems[:5])
        return JSONResponse(
            error_body("invalid_input", f"Data tidak valid / invalid input — {summary}", problems=problems),
            status_code=422,
        )

    @app.exception_handler(OverflowError)
    async def _overflow(_: Request, exc: OverflowError) -> JSONResponse:
        # The last net under the range checks at the edges: a number too large for the database.
        return JSONResponse(
            error_body("invalid_input", "Angka di luar jangkauan / a number is out of range."),
            status_code=422,
        )

    @app.exception_handler(DataError)
    async def _data(_: Request, exc: DataError) -> JSONResponse:
        return JSONResponse(
            error_body("invalid_input", "Nilai di luar jangkauan basis data / a value is out of range."),
            status_code=422,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        other = _other_format(request, exc.status_code, str(exc.detail))
        if other is not None:
            return other
        code = {404: "not_found", 405: "method_not_allowed", 413: "too_large", 429: "rate_limited"}.get(
            exc.status_code, "http_error"
        )
        return JSONResponse(
            error_body(code, str(exc.detail)),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )
