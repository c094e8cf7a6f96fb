"""The FastAPI application: routers, error handlers, state; built by create_app()."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import FileResponse, JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kotapintar import __version__
from kotapintar.admin import pages as admin_pages
from kotapintar.app import ui as web_ui
from kotapintar.app.openapi import install_access_openapi
from kotapintar.app.ops import install_ops
from kotapintar.app.wiring import wire
from kotapintar.cases import api as cases
from kotapintar.cases import pages
from kotapintar.cases import stream_api as stream
from kotapintar.cases.stream_tail import stop_tails
from kotapintar.catalog import api as catalog
from kotapintar.catalog.locating import region_index, region_name
from kotapintar.channels import api as channels_router
from kotapintar.core.access import api as auth
from kotapintar.core.access.auth import SessionSigner
from kotapintar.core.db.bootstrap import database_for
from kotapintar.core.db.database import Database
from kotapintar.core.events.notify import OutboxWaker
from kotapintar.core.http.cache import NoStoreForCredentials
from kotapintar.core.http.errors import error_body, install_error_handlers, register_error_format
from kotapintar.core.http.logs import install_log_redaction
from kotapintar.core.http.openapi import install_openapi
from kotapintar.core.http.read_your_writes import ReadYourWrites
from kotapintar.core.http.security import SecurityHeadersMiddleware, configure_csrf
from kotapintar.core.http.streaming import StreamSend
from kotapintar.core.http.templating import STATIC_DIR, mount_static
from kotapintar.core.i18n import LocaleMiddleware
from kotapintar.core.settings import Settings, get_settings
from kotapintar.dispatch import api as dispatch_router
from kotapintar.dispatch.pages import calltaker, crew
from kotapintar.feedback import pages as feedback_pages
from kotapintar.intake import api as reports
from kotapintar.intake import media_api as media_router
from kotapintar.intake import pages as citizen
from kotapintar.open311 import api as open311_router
from kotapintar.portal import api as public
from kotapintar.portal import audit as audit_page
from kotapintar.sensors import api as sensors_router
from kotapintar.sensors import cap_api as cap_router
from kotapintar.sensors import ngsild_api as ngsild_router
from kotapintar.sop import api as sop_router
from kotapintar.sop import pages as sop_pages
from kotapintar.sop import tasks_api as tasks_router
from kotapintar.triage import api as triage_router

ICON_CACHE = {"Cache-Control": "public, max-age=86400"}


class BodySizeLimit:
    """Refuse request bodies above the configured size with 413 before reading them all."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _TooLarge()
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        mb = self.max_bytes / 1024 / 1024
        response = JSONResponse(
            error_body("too_large", f"Permintaan terlalu besar (maksimum {mb:.0f} MB) / request too large."),
            status_code=413,
        )
        await response(scope, receive, send)


class _TooLarge(Exception):
    """Raised inside the app when the streamed body passes the limit."""


def create_app(settings: Settings | None = None, db: Database | None = None) -> FastAPI:
    """Build the application for `settings` (default: from the environment)."""
    wire()
    install_log_redaction()
    settings = settings or get_settings()
    database = db or database_for(settings)

    waker = OutboxWaker(database.url)  # one LISTEN connection wakes all SSE clients (issue 19)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        stop_tails()  # issue 19: the process's outbox tail
        waker.stop()
        if db is None:
            database.dispose()

    app = FastAPI(
        title="Kotapintar API",
        version=__version__,
        description=(
            "Command center kabupaten/kota: laporan warga, panggilan 112 dan alarm sensor menjadi kasus "
            "yang digerakkan SOP melalui instansi. Errors: `{error: {code, message, details}}`."
        ),
        lifespan=lifespan,
        docs_url=None,  # /docs comes from install_openapi, with Swagger UI served by the app itself
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.db = database
    app.state.outbox_waker = waker
    app.state.signer = SessionSigner(settings.secret_key, settings.session_max_age_s)
    app.state.sensor_ingestors = []  # MQTT sensor subscribers the server runs (set by `kotapintar serve`)
    install_error_handlers(app)
    for module in (auth, reports, cases, catalog, public, stream):
        app.include_router(module.router)
    app.include_router(pages.router)
    web_ui.install(app)  # command center, agency, supervisor, portal, open data (issue 7)
    app.include_router(open311_router.router)
    app.include_router(channels_router.router)
    app.include_router(channels_router.api_router)
    app.include_router(media_router.router)
    app.include_router(sensors_router.router)
    app.include_router(ngsild_router.router)  # the standard NGSI-LD API subset (issue 18)
    app.include_router(cap_router.router)  # one CAP message by identifier (issue 18)
    register_error_format(app, "/ngsi-ld/", ngsild_router.ngsi_error_response)
    register_error_format(app, "/open311/v2/", open311_router.open311_error_response)
    app.include_router(citizen.router)
    app.include_router(feedback_pages.router)  # confirm/dispute and the IKM survey (issue 15)
    app.include_router(dispatch_router.router)
    app.include_router(calltaker.router)
    app.include_router(crew.router)
    app.include_router(triage_router.router)
    app.include_router(tasks_router.router)  # SOP tasks, closure, re-routing (issue 3)
    app.include_router(sop_router.router)
    app.include_router(sop_pages.router)
    app.include_router(audit_page.router)  # the signed checkpoints of the event log (issue 16)
    app.include_router(admin_pages.router)  # admin: readiness, units, users (issue 21)
    app.state.region_name = lambda code: region_name(region_index(database), code)  # the header's name
    mount_static(app)
    install_openapi(app)  # the true error shapes and security schemes; /docs without a CDN (issue 18)
    install_access_openapi(app)  # each operation's security from the route policies (issue 16)
    configure_csrf(app, secret=settings.secret_key, session_id=lambda r: getattr(r.state, "session_id", None))

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> FileResponse:
        """The site's icon where browsers and feed readers look for it without reading the page (issue 20)."""
        return FileResponse(
            STATIC_DIR / "img" / "favicon.svg", media_type="image/svg+xml", headers=ICON_CACHE
        )

    app.add_middleware(LocaleMiddleware, secure_cookie=settings.cookie_secure)
    app.add_middleware(
        SecurityHeadersMiddleware, hsts=settings.environment == "production", tile_url=settings.tile_url
    )  # the base-map tiles (issue 20) are the one image host the CSP allows besides our own
    app.add_middleware(NoStoreForCredentials)
    app.add_middleware(GZipMiddleware, minimum_size=1024)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_request_bytes)
    if database.replica is not None:  # the read replica's read-your-own-writes marker (issue 19)
        app.add_middleware(
            ReadYourWrites, window_s=settings.read_your_writes_s, secure=settings.cookie_secure
        )
    install_ops(app, settings)  # /healthz, /readyz, /metrics, request ids, 503 on outage (issue 19)
    app.add_middleware(StreamSend)  # outermost: the SSE body skips the middlewares (issue 19)
    return app
