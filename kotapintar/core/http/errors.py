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
from kotapintar.core.i18n import translate
from kotapintar.core.i18n.validation import humanize_errors, summary


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


# Paths whose clients are programs: they always get the JSON error shape, whatever they accept.
API_PREFIXES = (
    "/api/",
    "/open311/",
    "/ngsi-ld/",
    "/channels/",
    "/media/",
    "/data/",
    "/openapi.json",
    "/healthz",
)


def wants_html(request: Request) -> bool:
    """True for a browser opening a page: it accepts HTML, it is not htmx or fetch, and the path is no API."""
    if request.url.path.startswith(API_PREFIXES) or request.headers.get("hx-request"):
        return False
    accept = request.headers.get("accept", "")
    return "text/html" in accept


def _locale(request: Request) -> str:
    return str(getattr(request.state, "locale", None) or "id")


def _back_url(request: Request) -> str | None:
    """Where the reader came from, when it is a page of this site (a refused form goes back to its page)."""
    referer = request.headers.get("referer") or ""
    origin = f"{request.url.scheme}://{request.url.netloc}"
    if referer.startswith(origin + "/") and referer.rstrip("/") != str(request.url).rstrip("/"):
        return referer[len(origin) :]
    return None


def html_error(
    request: Request, status: int, message: str, headers: dict[str, str] | None = None
) -> Response:
    """The error as a page in the site's layout: title, the message, a way back and home."""
    from kotapintar.core.http.pages import page_context, templates  # pages import this module's users

    locale = _locale(request)
    title_key = f"page_error.title.{status}"
    title = translate(title_key, locale)
    if title == title_key:
        title = translate("page_error.title.other", locale)
    settings = getattr(request.app.state, "settings", None)
    actor = getattr(request.state, "ui_actor", None)
    context = (
        page_context(request, settings, actor)
        if settings is not None
        else {"kabupaten": None, "nav_items": [], "messages": [], "timezone": "Asia/Jakarta"}
    )
    context.update(status=status, title=title, message=message, back_url=_back_url(request))
    return templates.TemplateResponse(
        request, "pages/error.html", context, status_code=status, headers=headers
    )


def _http_message(request: Request, status: int, detail: str) -> str:
    """A framework refusal (404, 405) in the reader's words; our own details are already sentences."""
    key = f"page_error.text.{status}"
    if detail in ("Not Found", "Method Not Allowed") or not detail:
        text = translate(key, _locale(request))
        return text if text != key else detail
    return detail


def domain_error_response(request: Request, exc: DomainError) -> Response:
    """A domain refusal: the path's standard shape, an HTML page for a browser, else the JSON error shape."""
    other = _other_format(request, exc.http_status, exc.message)
    if other is not None:
        return other
    headers: dict[str, str] = {}
    if exc.http_status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="kotapintar"'
    retry = exc.details.get("retry_after_s")
    if isinstance(retry, int | float):
        headers["Retry-After"] = str(int(retry))
    if wants_html(request):
        return html_error(request, exc.http_status, exc.message, headers)
    return JSONResponse(
        error_body(exc.code, exc.message, **exc.details), status_code=exc.http_status, headers=headers
    )


def install_error_handlers(app: FastAPI) -> None:
    """Register handlers so no domain refusal or malformed request ever becomes a 500."""

    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> Response:
        return domain_error_response(request, exc)

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
        locale = _locale(request)
        for err in errors:
            if err.get("type") == "json_invalid":
                return JSONResponse(
                    error_body("malformed_json", translate("validation.json", locale)), status_code=400
                )
        problems = humanize_errors(errors, locale)
        message = summary(problems, locale)
        if wants_html(request):
            return html_error(request, 422, message)
        return JSONResponse(error_body("invalid_input", message, problems=problems), status_code=422)

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
        message = _http_message(request, exc.status_code, str(exc.detail))
        if wants_html(request):
            return html_error(request, exc.status_code, message, getattr(exc, "headers", None))
        return JSONResponse(
            error_body(code, message),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )
