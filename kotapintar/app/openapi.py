"""The OpenAPI of the application states how each operation is authenticated and what its errors look like.

Built from the route policies of `access_policy.py`: the security schemes (bearer token, session cookie with
its CSRF header, client API key, unit crew token) and, on every operation, the one error body of the API
(`{"error": {"code", "message", "details"}}`) for 401, 403, 404, 409, 422 and 429.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from kotapintar.app.access_policy import ROUTE_ACCESS, Access

SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    "bearerAuth": {
        "type": "http",
        "scheme": "bearer",
        "description": "A token from POST /api/v1/auth/token (revoke with DELETE /api/v1/auth/token).",
    },
    "sessionCookie": {
        "type": "apiKey",
        "in": "cookie",
        "name": "kp_session",
        "description": "Browser session from POST /api/v1/auth/session; unsafe calls also need X-CSRF-Token "
        "(csrf_token of GET /api/v1/me) and the same origin.",
    },
    "apiKeyQuery": {
        "type": "apiKey",
        "in": "query",
        "name": "api_key",
        "description": "A client key (Open311).",
    },
    "unitToken": {
        "type": "apiKey",
        "in": "header",
        "name": "X-Unit-Token",
        "description": "A unit crew token.",
    },
}
STAFF: list[dict[str, list[str]]] = [{"bearerAuth": []}, {"sessionCookie": []}]
REQUIREMENTS: dict[Access, list[dict[str, list[str]]]] = {
    Access.STAFF: STAFF,
    Access.COMMAND: STAFF,
    Access.SUPERVISOR: STAFF,
    Access.AGENCY: STAFF,
    Access.ADMIN: STAFF,
    Access.CLIENT_KEY: [{"clientApiKey": []}, {"apiKeyQuery": []}],  # clientApiKey: core.http.openapi
    Access.DEVICE_KEY: [{"deviceKey": []}],
    Access.CREW: [{"unitToken": []}, *STAFF],
}
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "description": "stable code, e.g. not_found, rate_limited"},
                "message": {"type": "string", "description": "for a person: Indonesian / English"},
                "details": {"type": "object"},
            },
        }
    },
}
ERRORS = {
    "401": "Not logged in, or the session/token was revoked",
    "403": "The role may not do this, or the CSRF check failed",
    "404": "Not found, or not visible to the caller",
    "409": "Conflicts with the current state (e.g. an Idempotency-Key reused for another body)",
    "422": "Invalid input; `details.problems` lists each field",
    "429": "Too many requests or failed logins; see Retry-After",
}


def install_access_openapi(app: FastAPI) -> None:
    """Wrap `app.openapi` so the schema carries the route policies' security and the error bodies.

    Installed after `core.http.openapi.install_openapi` (the true error shapes, /docs), which it wraps; NGSI-LD
    operations keep their ProblemDetails errors.
    """
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = original()
        components = schema.setdefault("components", {})
        components.setdefault("securitySchemes", {}).update(SECURITY_SCHEMES)
        components.setdefault("schemas", {})["Error"] = ERROR_SCHEMA
        for path, operations in schema.get("paths", {}).items():
            for method, operation in operations.items():
                policy = ROUTE_ACCESS.get(f"{method.upper()} {path}")
                if policy in REQUIREMENTS:
                    operation["security"] = REQUIREMENTS[policy]
                if path.startswith("/ngsi-ld/"):
                    continue  # the NGSI-LD API answers in ProblemDetails (core.http.openapi)
                responses = operation.setdefault("responses", {})
                for status, text in ERRORS.items():
                    if status in responses:
                        continue  # core.http.openapi declared it already, with its true shape
                    responses[status] = {
                        "description": text,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                    }
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
