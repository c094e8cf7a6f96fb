"""The command center and the public portal: operator, sensor, agency, supervisor, portal and open-data pages."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response

from kotapintar.analytics import api as analytics_api
from kotapintar.analytics import pages as analytics_pages
from kotapintar.analytics import report_pages as analytics_report_pages
from kotapintar.command_center import agency, operator, sensors, supervisor
from kotapintar.core.access import pages as auth
from kotapintar.core.http.pages import PageForbidden, PageRedirect, page_context, templates
from kotapintar.indicators import pages as indicator_pages
from kotapintar.portal import opendata
from kotapintar.portal import pages as portal


def install(app: FastAPI) -> None:
    """Include the UI routers and the handlers that turn page guards into a redirect or a 403 page."""
    for module in (auth, operator, sensors, agency, supervisor, portal, opendata):
        app.include_router(module.router)
    app.include_router(analytics_pages.router)  # /analitik (issue 15)
    app.include_router(analytics_report_pages.router)  # kept monthly reports (issue 15)
    app.include_router(analytics_api.router)
    app.include_router(indicator_pages.router)  # /indikator (issue 15)

    @app.exception_handler(PageRedirect)
    async def _redirect(_: Request, exc: PageRedirect) -> Response:
        return RedirectResponse(exc.url, status_code=303)

    @app.exception_handler(PageForbidden)
    async def _forbidden(request: Request, _: PageForbidden) -> Response:
        settings = request.app.state.settings
        actor = getattr(request.state, "ui_actor", None)
        context = page_context(request, settings, actor)
        return templates.TemplateResponse(request, "ui/forbidden.html", context, status_code=403)
