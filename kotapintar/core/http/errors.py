"""Turning domain errors and bad requests into JSON answers a person can act on."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from kotapintar.core.errors import DomainError


def error_body(code: str, message: str, **details: Any) -> dict[str, Any]:
    """The one error shape of the API: {"error": {"code", "message", "details"}}."""
    return {"error": {"code": code, "message": message, "details": details}}


def _field_path(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def install_error_handlers(app: FastAPI) -> None:
    """Register handlers so no domain refusal or malformed request ever becomes a 500."""

    @app.exception_handler(DomainError)
    async def _domain(_: Request, exc: DomainError) -> JSONResponse:
        retry = exc.details.get("retry_after_s")
        headers = {"Retry-After": str(int(retry))} if isinstance(retry, int | float) else None
        return JSONResponse(
            error_body(exc.code, exc.message, **exc.details), status_code=exc.http_status, headers=headers
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
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
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed", 413: "too_large", 429: "rate_limited"}.get(
            exc.status_code, "http_error"
        )
        return JSONResponse(
            error_body(code, str(exc.detail)),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )
