"""Jinja2 environment shared by every page: autoescape, `_` translation, static URLs, time and badge filters."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from enum import Enum
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, Undefined, pass_context, select_autoescape
from jinja2.runtime import Context
from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Scope

from kotapintar.core.i18n import (
    DEFAULT_LOCALE,
    LOCALE_COOKIE,
    Locale,
    negotiate_locale,
    ntranslate,
    translate,
)
from kotapintar.core.i18n.formats import (
    ZONE_SUFFIX,
    as_aware,
    format_date,
    format_datetime,
    format_distance,
    format_duration,
    format_number,
    format_percent,
    zone_suffix,
)
from kotapintar.core.i18n.labels import (
    actor_label,
    channel_label,
    event_label,
    role_label,
    sensor_kind_label,
    task_status_label,
    unit_kind_label,
    unit_status_label,
)

WEB_DIR = Path(__file__).resolve().parents[2] / "web"  # templates/ and static/ stay central
STATIC_DIR = WEB_DIR / "static"
TEMPLATES_DIR = WEB_DIR / "templates"
STATIC_PREFIX = "/static"
STATIC_ROUTE_NAME = "static"

PRIORITIES = ("P1", "P2", "P3", "P4")
STATUSES = ("received", "verified", "assigned", "in_progress", "resolved", "closed", "rejected", "merged")


# --- locale of the request -------------------------------------------------------------------------


def request_locale(request: Request) -> Locale:
    """The request's locale: set by LocaleMiddleware in `request.state.locale`, else negotiated now."""
    found = getattr(request.state, "locale", None)
    if isinstance(found, Locale):
        return found
    return negotiate_locale(request)


def _context_locale(ctx: Context) -> Locale:
    """The locale of a template context: its `locale` variable, else its request's, else Indonesian."""
    value = ctx.get("locale")
    if isinstance(value, Locale):
        return value
    if isinstance(value, str) and value in Locale.__members__.values():
        return Locale(value)
    request = ctx.get("request")
    if isinstance(request, Request):
        return request_locale(request)
    return DEFAULT_LOCALE


@pass_context
def _gettext(ctx: Context, key: str, /, **placeholders: object) -> str:
    """`{{ _("case.status.received") }}` in a template: the message in the request's locale."""
    return translate(key, _context_locale(ctx), **placeholders)


@pass_context
def _ngettext(ctx: Context, key: str, count: int, /, **placeholders: object) -> str:
    """`{{ _n("time.minutes_ago", 5) }}`: a counted message in the request's locale."""
    return ntranslate(key, count, _context_locale(ctx), **placeholders)


# --- static files with cache busting ------------------------------------------------------------------

_hash_cache: dict[str, tuple[float, str]] = {}


def static_version(path: str) -> str:
    """First 10 hex digits of the SHA-256 of a static file's content (re-read when its mtime changes)."""
    file = (STATIC_DIR / path).resolve()
    if not file.is_relative_to(STATIC_DIR) or not file.is_file():
        raise FileNotFoundError(f"static file not found: {path!r} (looked in {STATIC_DIR})")
    mtime = file.stat().st_mtime
    cached = _hash_cache.get(path)
    if cached is not None and cached[0] == mtime:
        return cached[1]
    digest = hashlib.sha256(file.read_bytes()).hexdigest()[:10]
    _hash_cache[path] = (mtime, digest)
    return digest


@pass_context
def static_url(ctx: Context, path: str) -> str:
    """`{{ static_url("css/kotapintar.css") }}` -> `/static/css/kotapintar.css?v=<content hash>`.

    A missing file raises at render time, so a typo fails the page's test instead of a silent 404.
    """
    request = ctx.get("request")
    root = request.scope.get("root_path", "") if isinstance(request, Request) else ""
    return f"{root}{STATIC_PREFIX}/{path.lstrip('/')}?v={static_version(path.lstrip('/'))}"


class CachedStaticFiles(StaticFiles):
    """StaticFiles that lets browsers keep versioned (`?v=`) files for a year and revalidate the rest."""

    def file_response(
        self, full_path: Any, stat_result: Any, scope: Scope, status_code: int = 200
    ) -> Response:
        """The file, with Cache-Control chosen by whether the URL carries a content version."""
        response = super().file_response(full_path, stat_result, scope, status_code)
        if b"v=" in scope.get("query_string", b""):
            response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        else:
            response.headers["Cache-Control"] = "no-cache"
        return response


def mount_static(app: FastAPI, path: str = STATIC_PREFIX) -> None:
    """Serve kotapintar/web/static/ at `/static` (route name `static`), versioned files cached long."""
    app.mount(path, CachedStaticFiles(directory=STATIC_DIR), name=STATIC_ROUTE_NAME)


# --- time filters ---------------------------------------------------------------------------------------


_as_aware = as_aware


def format_local_time(
    moment: datetime, tz: str = "Asia/Jakarta", locale: Locale | str = DEFAULT_LOCALE
) -> str:
    """`29 Nov 2026 11.05 WIB`: an instant shown in a zone, in the locale's way (see `format_datetime`)."""
    return format_datetime(moment, tz, locale)


def format_relative(
    moment: datetime, now: datetime | None = None, locale: Locale | str = DEFAULT_LOCALE
) -> str:
    """`5 menit lalu` / `dalam 2 jam`: how far an instant is from now, in the coarsest whole unit."""
    reference = _as_aware(now) if now is not None else datetime.now(UTC)
    delta = reference - _as_aware(moment)
    future = delta < timedelta(0)
    seconds = abs(delta.total_seconds())
    if seconds < 60:
        return translate("time.just_now", locale)
    if seconds < 3600:
        unit, count = "minutes", int(seconds // 60)
    elif seconds < 86400:
        unit, count = "hours", int(seconds // 3600)
    else:
        unit, count = "days", int(seconds // 86400)
    key = f"time.in_{unit}" if future else f"time.{unit}_ago"
    return ntranslate(key, count, locale)


@pass_context
def _local_time_filter(ctx: Context, moment: datetime | None, tz: str | None = None) -> str:
    """`{{ case.created_at | local_time }}`; zone from the argument, else the context's `timezone`."""
    if moment is None:
        return "—"
    zone = tz or ctx.get("timezone") or "Asia/Jakarta"
    return format_local_time(moment, zone, _context_locale(ctx))


@pass_context
def _relative_filter(ctx: Context, moment: datetime | None, now: datetime | None = None) -> Markup:
    """`{{ case.created_at | relative }}`: a <time> element with the relative text and the exact instant."""
    if moment is None:
        return Markup("—")
    aware = _as_aware(moment)
    text = format_relative(aware, now, _context_locale(ctx))
    zone = ctx.get("timezone") or "Asia/Jakarta"
    title = format_local_time(aware, zone, _context_locale(ctx))
    return Markup('<time datetime="{}" title="{}">{}</time>').format(
        aware.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"), title, text
    )


@pass_context
def _datetime_filter(ctx: Context, moment: datetime | str | None, tz: str | None = None) -> str:
    """`{{ warning.sent | datetime }}`: `4 Des 2026 02.50 WIB`, the zone from the page's settings; an ISO
    string (as APIs and feeds carry times) is read first."""
    if isinstance(moment, str):
        text = moment
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return text
    return format_datetime(moment, tz or ctx.get("timezone") or "Asia/Jakarta", _context_locale(ctx))


@pass_context
def _date_filter(ctx: Context, day: object, tz: str | None = None) -> str:
    """`{{ sop.published_at | date }}`: `4 Des 2026`; an ISO date string is read first."""
    if isinstance(day, str):
        try:
            day = datetime.fromisoformat(day)
        except ValueError:
            return str(day)
    if not isinstance(day, date | datetime):
        return "—"
    return format_date(day, tz or ctx.get("timezone") or "Asia/Jakarta", _context_locale(ctx))


@pass_context
def _number_filter(ctx: Context, value: float | int | None, decimals: int = 0) -> str:
    """`{{ 12500 | number }}` -> `12.500`; `{{ 1.25 | number(1) }}` -> `1,3` in Indonesian."""
    return format_number(value, decimals, _context_locale(ctx))


@pass_context
def _percent_filter(ctx: Context, value: float | None, decimals: int = 0) -> str:
    """`{{ 0.875 | percent(1) }}` -> `87,5%`."""
    return format_percent(value, decimals, _context_locale(ctx))


@pass_context
def _duration_filter(ctx: Context, seconds: float | None) -> str:
    """`{{ 90 | duration }}` -> `1,5 menit`; `{{ 385200 | duration }}` -> `4 hari 11 jam`."""
    return format_duration(seconds, _context_locale(ctx))


@pass_context
def _distance_filter(ctx: Context, metres: float | None) -> str:
    """`{{ 1234 | distance }}` -> `1,2 km`."""
    return format_distance(metres, _context_locale(ctx))


def _label_filter(label: Callable[[object, Locale | str | None], str]) -> Callable[..., str]:
    @pass_context
    def apply(ctx: Context, code: object) -> str:
        return label(code, _context_locale(ctx))

    apply.__doc__ = f"`{{{{ code | ... }}}}`: {label.__doc__}"
    return apply


_CODE_SPAN = re.compile(r"`([^`]+)`")


def code_spans(text: object) -> Markup:
    """`{{ meaning | code_spans }}`: `in_progress` between backticks becomes <code>in_progress</code>, so
    a data dictionary can name column values as code while the rest of the sentence reads as words."""
    escaped = str(escape(str(text)))
    return Markup(_CODE_SPAN.sub(r"<code>\1</code>", escaped))


# --- badges ------------------------------------------------------------------------------------------


def _code(value: object) -> str:
    return str(value.value) if isinstance(value, Enum) else str(value)


def render_priority_badge(
    priority: object, locale: Locale | str = DEFAULT_LOCALE, *, long: bool = False
) -> Markup:
    """`<span class="badge badge-p1">P1 Darurat</span>`, full meaning in the title (for hover and AT)."""
    code = _code(priority).upper()
    if code not in PRIORITIES:
        return Markup('<span class="badge">{}</span>').format(code)
    short = translate(f"priority.{code}.short", locale)
    full = translate(f"priority.{code}", locale)
    return Markup('<span class="badge badge-{}" title="{}">{} {}</span>').format(
        code.lower(), full, code, full if long else short
    )


def render_status_badge(status: object, locale: Locale | str = DEFAULT_LOCALE) -> Markup:
    """`<span class="badge badge-status-received">diterima</span>`."""
    code = _code(status).lower()
    if code not in STATUSES:
        return Markup('<span class="badge">{}</span>').format(code)
    return Markup('<span class="badge badge-status-{}">{}</span>').format(
        code.replace("_", "-"), translate(f"case.status.{code}", locale)
    )


@pass_context
def _priority_badge_filter(ctx: Context, priority: object, long: bool = False) -> Markup:
    """`{{ case.priority | priority_badge }}`."""
    return render_priority_badge(priority, _context_locale(ctx), long=long)


@pass_context
def _status_badge_filter(ctx: Context, status: object) -> Markup:
    """`{{ case.status | status_badge }}`."""
    return render_status_badge(status, _context_locale(ctx))


# --- language switch ------------------------------------------------------------------------------


def lang_url(request: Request, locale: Locale | str) -> str:
    """A same-page link that switches to `locale` (path + query with `lang=` replaced; no host)."""
    url = request.url.include_query_params(**{LOCALE_COOKIE: str(locale)})
    return f"{url.path}?{url.query}"  # url.path already includes any root_path


def require_value(value: object, name: str) -> object:
    """Template guard: the value, or a loud error when it is missing (e.g. a form without `csrf_token`)."""
    if value is None or value == "" or isinstance(value, Undefined):
        raise RuntimeError(f"template needs `{name}` in its context (and macros imported `with context`)")
    return value


def _i18n_context(request: Request) -> dict[str, Any]:
    locale = request_locale(request)
    return {"locale": locale, "locales": list(Locale)}


def make_environment(extra_globals: dict[str, Callable[..., Any]] | None = None) -> Environment:
    """The Jinja2 environment: templates from kotapintar/web/templates, autoescape always on."""
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(
        {
            "_": _gettext,
            "_n": _ngettext,
            "static_url": static_url,
            "lang_url": lang_url,
            "require_value": require_value,
            "PRIORITIES": PRIORITIES,
            "STATUSES": STATUSES,
        }
    )
    env.filters.update(
        {
            "local_time": _local_time_filter,
            "relative": _relative_filter,
            "priority_badge": _priority_badge_filter,
            "status_badge": _status_badge_filter,
            "datetime": _datetime_filter,
            "date": _date_filter,
            "number": _number_filter,
            "percent": _percent_filter,
            "duration": _duration_filter,
            "distance": _distance_filter,
            "unit_kind": _label_filter(unit_kind_label),
            "unit_status": _label_filter(unit_status_label),
            "sensor_kind": _label_filter(sensor_kind_label),
            "role": _label_filter(role_label),
            "channel": _label_filter(channel_label),
            "task_status": _label_filter(task_status_label),
            "event_label": _label_filter(event_label),
            "actor_label": _label_filter(actor_label),
            "code_spans": code_spans,
        }
    )
    if extra_globals:
        env.globals.update(extra_globals)
    return env


def make_templates(extra_globals: dict[str, Callable[..., Any]] | None = None) -> Jinja2Templates:
    """The `Jinja2Templates` every router renders with: `templates.TemplateResponse(request, name, ctx)`."""
    return Jinja2Templates(env=make_environment(extra_globals), context_processors=[_i18n_context])


__all__ = [
    "STATIC_DIR",
    "TEMPLATES_DIR",
    "ZONE_SUFFIX",
    "CachedStaticFiles",
    "format_local_time",
    "format_relative",
    "lang_url",
    "make_environment",
    "make_templates",
    "mount_static",
    "render_priority_badge",
    "render_status_badge",
    "request_locale",
    "static_url",
    "static_version",
    "zone_suffix",
]
