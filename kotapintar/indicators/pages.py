"""/indikator: the smart-city indicators, one section per dimension, each indicator's monthly values, a trend
chart (the analytics package's server-side SVG), its target and whether the month meets it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from kotapintar.analytics import charts
from kotapintar.core.http.deps import ActorDep, DbDep, SettingsDep
from kotapintar.core.http.pages import SUPERVISOR_ROLES, page_context, require_roles, templates
from kotapintar.indicators import service as indicator_service
from kotapintar.indicators.registry import DIMENSIONS

router = APIRouter(include_in_schema=False)
MONTHS = (6, 12)
Month = Annotated[str, Query(max_length=7, description="YYYY-MM; the current month when empty")]


@router.get("/indikator", response_class=HTMLResponse)
def indicators_page(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    actor: ActorDep,
    bulan: Month = "",
    n: int | None = None,
) -> Response:
    """Every indicator of the registry with the last 6 (or 12) months up to `bulan`."""
    require_roles(request, actor, SUPERVISOR_ROLES)
    assert actor is not None
    count = n if n in MONTHS else 6
    last = bulan or indicator_service.current_month(settings)
    grouped = indicator_service.series(db, actor, last, count, settings=settings)
    locale = str(getattr(request.state, "locale", "id") or "id")
    chart = {
        s.indicator.code: charts.bar_chart(
            [p.period for p in s.points],
            [p.value for p in s.points],
            value_text=[s.indicator.value_text(p.value, locale) for p in s.points],
            title=s.indicator.text("name", locale),
            target=None if s.indicator.target is None else s.indicator.target.value,
            target_text=""
            if s.indicator.target is None
            else s.indicator.value_text(s.indicator.target.value, locale),
        )
        for items in grouped.values()
        for s in items
    }
    context = page_context(
        request,
        settings,
        actor,
        dimensions=DIMENSIONS,
        grouped=grouped,
        charts=chart,
        last=last,
        count=count,
        month_choices=MONTHS,
        value_text=lambda ind, v: ind.value_text(v, locale),
        locale=locale,
    )
    return templates.TemplateResponse(request, "ui/indicators.html", context)
