"""The analytics pages (/analitik, /analitik/akurasi): distributions, trends, the agency league, time to
scene of 112 incidents, hotspots and data accuracy — server-side SVG, readable without JavaScript."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import pass_context
from jinja2.runtime import Context

from kotapintar.analytics import charts
from kotapintar.analytics import report as monthly
from kotapintar.analytics import service as analytics
from kotapintar.catalog import service as catalog_service
from kotapintar.core.errors import ValidationFailed
from kotapintar.core.http.deps import ActorDep, ReadDbDep, SettingsDep
from kotapintar.core.http.pages import SUPERVISOR_ROLES, page_context, require_roles, templates
from kotapintar.core.i18n import translate
from kotapintar.metrics.definitions import number_text, share_text
from kotapintar.metrics.response_times import SEGMENT_LABELS, SEGMENTS

router = APIRouter(include_in_schema=False)
PERIODS = (7, 30, 90, 365)
BREAKDOWNS = ("channel", "service", "kecamatan", "desa", "agency")
Text = Annotated[str, Query(max_length=60, pattern=r"^[A-Za-z0-9_.\-]*$")]


@pass_context
def pct(ctx: Context, value: float | None) -> str:
    """A share in the page's language (83,3 %)."""
    return share_text(value, str(ctx.get("locale") or "id"))


@pass_context
def num(ctx: Context, value: float | None, decimals: int = 0) -> str:
    """A number in the page's language (1.234,5)."""
    return number_text(value, decimals, str(ctx.get("locale") or "id"))


templates.env.globals["pct"] = pct
templates.env.globals["num"] = num


def _minutes(seconds: float | None) -> str:
    return "—" if seconds is None else number_text(seconds / 60, 1) + " mnt"


def _names(db: Any) -> dict[str, str]:
    return {a.code: a.short or a.name for a in catalog_service.agencies(db)}


@router.get("/analitik", response_class=HTMLResponse)
def analytics_page(
    request: Request,
    db: ReadDbDep,
    settings: SettingsDep,
    actor: ActorDep,
    hari: int | None = None,
    layanan: Text = "",
    kanal: Text = "",
    rinci: Text = "channel",
) -> Response:
    """The league of agencies, a breakdown (by channel unless chosen), weekly trends, time to scene and hotspots."""
    require_roles(request, actor, SUPERVISOR_ROLES)
    assert actor is not None
    days = hari if hari in PERIODS else 30
    by = rinci if rinci in BREAKDOWNS else "channel"
    scope = analytics.scope_of_days(days, service=layanan or None, channel=kanal or None)
    tasks = analytics.task_figures_by(db, actor, scope, ("agency", by, "week"), settings=settings)
    breakdown, weeks = tasks[by], tasks["week"]
    league = sorted(tasks["agency"], key=lambda f: (f.on_time_share is None, -(f.on_time_share or 0), f.key))
    scene = analytics.incident_overview(db, actor, scope, "service", "total", limit=30, settings=settings)
    segments, histogram = scene.segments, scene.histogram
    cells = analytics.hotspots(db, actor, scope)
    locale = str(getattr(request.state, "locale", "id") or "id")
    context = page_context(
        request,
        settings,
        actor,
        days=days,
        periods=PERIODS,
        service=layanan,
        channel=kanal,
        by=by,
        breakdowns=BREAKDOWNS,
        league=league,
        breakdown=breakdown,
        weeks=weeks,
        segments=segments,
        segment_names=SEGMENTS,
        segment_labels=SEGMENT_LABELS,
        incidents=scene.incidents,
        cells=cells[:10],
        names=_names(db),
        services=[(s.code, s.name) for s in catalog_service.services(db, active_only=False)],
        week_chart=charts.bar_chart(
            [w.key[5:] for w in weeks],
            [(w.on_time_share or 0) * 100 for w in weeks],
            value_text=[share_text(w.on_time_share, locale) for w in weeks],
            title=translate("analytics.chart.on_time_weekly", locale),
        ),
        late_chart=charts.bar_chart(
            [w.key[5:] for w in weeks],
            [float(w.late) for w in weeks],
            title=translate("analytics.chart.late_weekly", locale),
        ),
        histogram_chart=charts.bar_chart(
            [f"{int(b // 60)}" for b, _ in histogram],
            [float(n) for _, n in histogram],
            title=translate("analytics.chart.total_histogram", locale),
            target=None,
        )
        if histogram
        else "",
        map_chart=charts.hex_map(cells, title=translate("analytics.chart.hotspots", locale)),
        minutes=_minutes,
    )
    return templates.TemplateResponse(request, "ui/analytics.html", context)


@router.get("/analitik/akurasi", response_class=HTMLResponse)
def accuracy_page(
    request: Request, db: ReadDbDep, settings: SettingsDep, actor: ActorDep, hari: int | None = None
) -> Response:
    """How accurate the data shown is: triage corrections by service, merges, location precision, sensors."""
    require_roles(request, actor, SUPERVISOR_ROLES)
    assert actor is not None
    days = hari if hari in PERIODS else 30
    scope = analytics.scope_of_days(days)
    context = page_context(
        request,
        settings,
        actor,
        days=days,
        periods=PERIODS,
        acc=analytics.accuracy(db, actor, scope),
        service_names={s.code: s.name for s in catalog_service.services(db, active_only=False)},
        sensors=analytics.sensor_completeness(db, actor, scope),
        freshness=analytics.open_data_freshness(db, actor),
        now=datetime.now().astimezone(),
    )
    return templates.TemplateResponse(request, "ui/accuracy.html", context)


Month = Annotated[str, Query(max_length=7, description="YYYY-MM; the previous month when empty")]


def _month(value: str, tz: str) -> str:
    """The asked month, or the previous local month (checked after the role, so a stranger gets 403)."""
    if value:
        return value
    first = datetime.now(ZoneInfo(tz)).replace(day=1)
    return (first - timedelta(days=1)).strftime("%Y-%m")


@router.get("/analitik/laporan.pdf")
def monthly_pdf(
    request: Request,
    db: ReadDbDep,
    settings: SettingsDep,
    actor: ActorDep,
    bulan: Month = "",
    instansi: Text = "",
) -> Response:
    """The monthly accountability report as PDF (the same as `kotapintar report monthly`)."""
    require_roles(request, actor, SUPERVISOR_ROLES)
    assert actor is not None
    bulan = _month(bulan, settings.timezone)
    report = monthly.build_monthly(db, actor, bulan, instansi or None, settings=settings)
    name = f"laporan-{bulan}" + (f"-{instansi}" if instansi else "")
    return Response(
        monthly.to_pdf(report),
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}.pdf"'},
    )


@router.get("/analitik/laporan.csv")
def monthly_csv(
    request: Request,
    db: ReadDbDep,
    settings: SettingsDep,
    actor: ActorDep,
    bulan: Month = "",
    tabel: Text = "instansi",
    instansi: Text = "",
) -> Response:
    """One table of the monthly report as CSV (instansi, kanal, layanan, waktu_tanggap, terlambat, akurasi)."""
    require_roles(request, actor, SUPERVISOR_ROLES)
    assert actor is not None
    bulan = _month(bulan, settings.timezone)
    tables = monthly.to_csv(monthly.build_monthly(db, actor, bulan, instansi or None, settings=settings))
    text = tables.get(f"{tabel}.csv")
    if text is None:
        raise ValidationFailed(
            f"Tabel '{tabel}' tidak ada; pilih {', '.join(t.removesuffix('.csv') for t in tables)}.",
            field="tabel",
        )
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="laporan-{bulan}-{tabel}.csv"'},
    )
