"""The OpenAPI description made true, and /docs served from the project (no outside host).

FastAPI's generated description declares its own 422 body (`{"detail": [...]}`) while the app answers every
error as `{"error": {code, message, details}}`, declares no way to authenticate and none of the 401/403/404
answers the routes give. `install_openapi` rewrites the generated document once: the app's error shape for
400/401/403/404/422 under /api and /open311, the NGSI-LD ProblemDetails under /ngsi-ld, the security
schemes (bearer token, session cookie, client API key, device key) and the `WWW-Authenticate` header of a
401. `/docs` is Swagger UI from the copy shipped in the package (`core/http/docs_assets`, see scripts/vendor_assets.sh),
served at /docs/assets: the CSP allows only this origin and no inline script.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ERROR = "#/components/schemas/Error"
PROBLEM = "#/components/schemas/ProblemDetails"
DOCS_ASSETS = Path(__file__).resolve().parent / "docs_assets"
HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})
WWW_AUTHENTICATE = 'Bearer realm="kotapintar"'

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Every error of the API: a stable code, a message for a person (Indonesian first), details.",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "details"],
            "properties": {
                "code": {"type": "string", "examples": ["invalid_input"]},
                "message": {"type": "string"},
                "details": {"type": "object", "additionalProperties": True},
            },
        }
    },
}
PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "NGSI-LD ProblemDetails (ETSI GS CIM 009, RFC 7807).",
    "required": ["type", "title"],
    "properties": {
        "type": {"type": "string", "examples": ["https://uri.etsi.org/ngsi-ld/errors/BadRequestData"]},
        "title": {"type": "string"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
    },
}
SECURITY_SCHEMES: dict[str, Any] = {
    "bearerAuth": {
        "type": "http",
        "scheme": "bearer",
        "description": "Token from POST /api/v1/auth/token (staff).",
    },
    "sessionCookie": {"type": "apiKey", "in": "cookie", "name": "kp_session", "description": "Web session."},
    "clientApiKey": {
        "type": "apiKey",
        "in": "header",
        "name": "X-Api-Key",
        "description": "A partner system's key (`kotapintar apikey create NAME`); Open311 also takes `api_key`.",
    },
    "deviceKey": {
        "type": "apiKey",
        "in": "header",
        "name": "X-Device-Key",
        "description": "A sensor device's (or gateway's) key (`kotapintar sensors issue-key ID`).",
    },
}
_DEVICE_WRITES = ("/api/v1/sensors/ingest", "/api/v1/sensors/ngsi-ld/", "/ngsi-ld/v1/")
_DESCRIPTIONS = {
    "400": "Permintaan tidak dapat dibaca / bad request",
    "401": "Perlu autentikasi / authentication required",
    "403": "Tidak berwenang / not allowed",
    "404": "Tidak ditemukan / not found",
    "406": "Format jawaban tidak didukung / not acceptable",
    "415": "Jenis isi tidak didukung / unsupported media type",
    "422": "Data tidak valid / invalid input",
}


def _answer(code: str, ref: str) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "description": _DESCRIPTIONS[code],
        "content": {"application/json": {"schema": {"$ref": ref}}},
    }
    if code == "401" and ref == ERROR:
        answer["headers"] = {
            "WWW-Authenticate": {"description": "how to authenticate", "schema": {"type": "string"}}
        }
    return answer


def true_openapi(app: FastAPI) -> dict[str, Any]:
    """The generated description with the app's real error shapes, statuses and security schemes."""
    schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas["Error"] = ERROR_SCHEMA
    schemas["ProblemDetails"] = PROBLEM_SCHEMA
    components["securitySchemes"] = SECURITY_SCHEMES
    schema["security"] = [{}, {"bearerAuth": []}, {"sessionCookie": []}, {"clientApiKey": []}]
    for path, item in schema.get("paths", {}).items():
        ngsi = path.startswith("/ngsi-ld/")
        for method, operation in item.items():
            if method not in HTTP_METHODS:
                continue
            responses = operation.setdefault("responses", {})
            codes: tuple[str, ...]
            if ngsi:
                responses.pop("422", None)
                codes = ("400", "401", "403", "404", "406", "415")
            else:
                codes = ("400", "401", "403", "404", "422")
            for code in codes:
                responses[code] = _answer(code, PROBLEM if ngsi else ERROR)
            if method != "get" and path.startswith(_DEVICE_WRITES):
                operation["security"] = [{"deviceKey": []}]
    return schema


def install_openapi(app: FastAPI) -> None:
    """Serve the true description at /openapi.json (built once) and Swagger UI at /docs."""

    def build() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = true_openapi(app)
        return app.openapi_schema

    app.openapi = build  # type: ignore[method-assign]
    app.include_router(docs_router)
    # Swagger UI (swagger-ui-dist, Apache-2.0) from the package, apart from the pages' /static assets.
    app.mount("/docs/assets", StaticFiles(directory=DOCS_ASSETS), name="docs_assets")


docs_router = APIRouter(include_in_schema=False)

_DOCS_PAGE = """<!doctype html>
<html lang="id">
<head>
<meta charset="utf-8">
<title>Kotapintar API — dokumentasi</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-openapi-url="/openapi.json"></div>
<script src="/docs/assets/swagger-ui/swagger-ui-bundle.js"></script>
<script src="/docs/assets/swagger-init.js"></script>
</body>
</html>
"""


@docs_router.get("/docs", response_class=HTMLResponse)
def docs() -> HTMLResponse:
    """Swagger UI of /openapi.json from the project's own copy (the CSP forbids a CDN and inline script)."""
    return HTMLResponse(_DOCS_PAGE)
