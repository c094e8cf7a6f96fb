"""What every command-center and portal page shares: templates, the page context, who may open a page."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from fastapi import Request
from jinja2 import pass_context
from jinja2.runtime import Context

from kotapintar.core.access.actors import Actor
from kotapintar.core.access.roles import Role
from kotapintar.core.errors import DomainError
from kotapintar.core.events.types import EventType
from kotapintar.core.http.security import page_csrf_token
from kotapintar.core.http.templating import make_templates, request_locale
from kotapintar.core.i18n import translate
from kotapintar.core.i18n.formats import format_duration
from kotapintar.core.settings import Settings

templates = make_templates()


def iso_utc(moment: datetime | None) -> str:
    """An aware ISO 8601 time for data-* attributes (naive values from SQLite are UTC)."""
    if moment is None:
        return ""
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat()


@pass_context
def duration(ctx: Context, seconds: float | None) -> str:
    """A duration in the page's language: `45 detik`, `1,5 menit`, `4 hari 11 jam`; an em dash for none."""
    return format_duration(seconds, ctx.get("locale") or "id")


templates.env.globals["iso_utc"] = iso_utc
templates.env.globals["duration"] = duration

COMMAND_ROLES = frozenset({Role.OPERATOR, Role.SUPERVISOR, Role.ADMIN})
SUPERVISOR_ROLES = frozenset({Role.SUPERVISOR, Role.ADMIN})
AGENCY_ROLES = frozenset({Role.AGENCY_OFFICER, Role.LIAISON, Role.AGENCY_HEAD})


LIVE_EVENTS = ",".join(e.value for e in EventType)


class PageRedirect(Exception):
    """Raised by a page guard: answer with a redirect (to the login page) instead of the page."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.url = url


class PageForbidden(Exception):
    """Raised by a page guard: the user is logged in but their role may not open this page."""


def kabupaten_name(settings: Settings) -> str:
    """The name in the header."""
    return "Kabupaten Kapuas" if settings.region_code == "62.03" else settings.region_code


def _served_name(request: Request, settings: Settings) -> str:
    """The served kabupaten/kota's own name from its imported boundary (app.state.region_name, set by the
    app), else the fixed demo name."""
    lookup = getattr(request.app.state, "region_name", None)
    if lookup is not None:
        try:
            found = lookup(settings.region_code)
        except Exception:
            found = None
        if found:
            return str(found)
    return kabupaten_name(settings)


def home_for(actor: Actor) -> str:
    """Where a user lands after login, by role."""
    if actor.roles & COMMAND_ROLES:
        return "/operator"
    if actor.roles & AGENCY_ROLES:
        return "/instansi"
    return "/beranda"


def require_roles(request: Request, actor: Actor, roles: Iterable[Role]) -> Actor:
    """The actor if logged in with one of `roles`; else a redirect to login or a 403 page."""
    if actor.kind != "user":
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise PageRedirect("/masuk?next=" + quote(target, safe=""))
    if not actor.roles & frozenset(roles):
        request.state.ui_actor = actor
        raise PageForbidden()
    return actor


def nav_for(request: Request, actor: Actor | None) -> list[tuple[str, str, bool]]:
    """The navigation entries this reader may use, the current one marked."""
    path = request.url.path
    items: list[tuple[str, str]] = []
    if actor is not None and actor.kind == "user":
        if actor.roles & COMMAND_ROLES:
            items.append(("/operator", "nav.operator"))
            items.append(("/112", "calltaker.nav"))  # issue 20: the 112 console was reachable by URL only
            items.append(("/operator/sensor", "ui.sensors.nav"))
        if actor.roles & SUPERVISOR_ROLES:
            items.append(("/supervisor", "nav.supervisor"))
        if actor.roles & AGENCY_ROLES:
            items.append(("/instansi", "nav.inbox"))
        if Role.ADMIN in actor.roles:
            items.append(("/admin", "admin.title"))
    items += [("/beranda", "nav.portal"), ("/sop", "nav.sop"), ("/data", "nav.opendata")]
    # The current entry is the longest one the path is under: /operator/sensor, not also /operator.
    under = [href for href, _ in items if path == href or path.startswith(href + "/")]
    current = max(under, key=len, default=None)
    return [(href, key, href == current) for href, key in items]


def page_context(request: Request, settings: Settings, actor: Actor | None, **extra: Any) -> dict[str, Any]:
    """The context base.html expects, plus `extra`."""
    user = actor is not None and actor.kind == "user"
    messages: list[tuple[str, str]] = []
    locale = request_locale(request)
    ok = request.query_params.get("ok")
    if ok and ok.isidentifier():
        messages.append(("success", translate(f"ui.flash.{ok}", locale)))
    err = request.query_params.get("err")
    if err and err.replace("_", "").isalnum():
        messages.append(("error", translate(f"error.{err}", locale)))
    return {
        "kabupaten": _served_name(request, settings),
        "nav_items": nav_for(request, actor),
        "csrf_token": page_csrf_token(request),  # never None: pages read with a bearer token render too
        "messages": messages,
        "user_name": actor.name.removeprefix("user:") if user and actor is not None else None,
        "logout_url": "/keluar" if user else None,
        "timezone": settings.timezone,
        "home_url": home_for(actor) if user and actor is not None else "/beranda",
        "actor": actor,
        "live_events": LIVE_EVENTS,
        **extra,
    }


def error_code(exc: DomainError) -> str:
    """The stable code of a domain error, for the `?err=` of a redirect."""
    return str(getattr(exc, "code", "domain_error"))


def flash_error(request: Request, exc: DomainError) -> tuple[str, str]:
    """A flash message for a refused action: the translated code, else the service's own message."""
    key = f"error.{error_code(exc)}"
    text = translate(key, request_locale(request))
    return ("error", str(exc) if text == key else text)
