"""The indicators' table in the monthly accountability report: every indicator's value for the month, its
target and whether it is met (the same figures as /indikator)."""

from __future__ import annotations

from kotapintar.analytics import report as monthly
from kotapintar.core.access.actors import Actor
from kotapintar.core.db.database import Database
from kotapintar.core.i18n import translate
from kotapintar.core.settings import Settings
from kotapintar.indicators import service as indicator_service
from kotapintar.indicators.registry import DIMENSIONS


def indicator_tables(db: Database, actor: Actor, month: str, settings: Settings) -> list[monthly.Table]:
    """One table: dimension, indicator, the month's value, target and whether it is met."""
    grouped = indicator_service.series(db, actor, month, 1, settings=settings)
    table = monthly.Table(
        "indikator",
        translate("indicators.title", "id"),
        ["Dimensi", "Indikator", "Nilai", "Target", "Tercapai"],
    )
    for dim in DIMENSIONS:
        for s in grouped[dim]:
            ind, point = s.indicator, s.points[-1]
            target = (
                "—"
                if ind.target is None
                else f"{translate('indicators.better.' + ind.target.better, 'id')} {ind.value_text(ind.target.value)}"
            )
            met = (
                "—"
                if point.met is None
                else translate("indicators.yes" if point.met else "indicators.no", "id")
            )
            table.rows.append(
                [
                    translate(f"indicators.dimension.{dim}", "id"),
                    ind.text("name", "id"),
                    ind.value_text(point.value),
                    target,
                    met,
                ]
            )
    return [table]


def install() -> None:
    """Add the indicators' table to the city-wide monthly report (idempotent)."""
    monthly.SECTIONS["indikator"] = indicator_tables
