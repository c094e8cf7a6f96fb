"""The analytics tables: the rollup (one narrow row per task and per 112/dispatch incident, kept by the
transactions that change them) and the stored monthly accountability reports.

The figures used to aggregate tasks joined to cases and, for time to scene, window functions over the event
log; at a million cases that cost 10–45× one plain GROUP BY. The rollup rows carry exactly what the figures
read — the grouping keys (denormalized from the case), the period keys (local week and month), the states
and times, and the durations already in seconds — so every figure is a GROUP BY (and a percentile) over a
narrow indexed table. They are derived data: `kotapintar analytics rebuild` recomputes them from the tasks,
cases and events (tested equal to the incremental rows).

Monthly reports are kept in the database (the PDF and a zip of its CSV tables) so every web machine serves
the same file the worker generated (no shared reports directory to mount).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, Index, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kotapintar.core.db.base import Base, BigId


class StoredReport(Base):
    """One generated report: its local month (YYYY-MM) and agency ('' = city-wide), unique together, so
    several workers that race to generate it store it once."""

    __tablename__ = "monthly_reports"
    __table_args__ = (UniqueConstraint("month", "agency", name="uq_monthly_reports_month_agency"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    month: Mapped[str] = mapped_column(String(7), index=True)
    agency: Mapped[str] = mapped_column(String(40))
    pdf: Mapped[bytes] = mapped_column(LargeBinary)
    csv_zip: Mapped[bytes] = mapped_column(LargeBinary)
    pdf_bytes: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(80))


GROUPING_COLUMNS = ("agency", "service", "kecamatan", "desa", "channel", "week", "month")


class TaskMetric(Base):
    """One task as the figures see it. Grouping keys are never NULL ('-' for none) so indexes serve them."""

    __tablename__ = "metric_tasks"

    task_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    case_id: Mapped[int] = mapped_column(Integer, index=True)
    agency: Mapped[str] = mapped_column(String(60))
    service: Mapped[str] = mapped_column(String(60))
    kecamatan: Mapped[str] = mapped_column(String(40))
    desa: Mapped[str] = mapped_column(String(40))
    channel: Mapped[str] = mapped_column(String(40))
    confidential: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime]
    week: Mapped[str] = mapped_column(String(10))  # the local Monday, YYYY-MM-DD
    month: Mapped[str] = mapped_column(String(7))  # local, YYYY-MM
    status: Mapped[str] = mapped_column(String(30))
    due_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    accept_s: Mapped[float | None] = mapped_column(Float)  # created → accepted
    complete_s: Mapped[float | None] = mapped_column(Float)  # created → done (done tasks only)

    __table_args__ = (
        Index("ix_metric_tasks_created_at", "created_at"),  # the period cohort
        Index("ix_metric_tasks_status_agency_due_at", "status", "agency", "due_at"),  # the backlog
        Index("ix_metric_tasks_due_at", "due_at"),  # the late list, longest overdue first
        # SQLite reads each group's order statistics off these (`ORDER BY duration LIMIT 2 OFFSET rank`)
        *(
            Index(f"ix_metric_tasks_{key}_{value}", key, value, "created_at")
            for key in GROUPING_COLUMNS
            for value in ("accept_s", "complete_s")
        ),
    )


class IncidentMetric(Base):
    """One 112/dispatch incident with its NFPA segment seconds (`metrics.response_times.segments_of`)."""

    __tablename__ = "metric_incidents"

    case_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    ticket: Mapped[str | None] = mapped_column(String(40))
    title: Mapped[str | None] = mapped_column(String(300))
    service: Mapped[str | None] = mapped_column(String(60))
    agency: Mapped[str | None] = mapped_column(String(60))
    kecamatan: Mapped[str | None] = mapped_column(String(40))
    desa: Mapped[str | None] = mapped_column(String(40))
    channel: Mapped[str | None] = mapped_column(String(40))
    confidential: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    answering: Mapped[float | None] = mapped_column(Float)
    processing: Mapped[float | None] = mapped_column(Float)
    turnout: Mapped[float | None] = mapped_column(Float)
    travel: Mapped[float | None] = mapped_column(Float)
    total: Mapped[float | None] = mapped_column(Float)

    __table_args__ = (Index("ix_metric_incidents_created_at", "created_at"),)


class CaseMetric(Base):
    """One case as the hotspots and the public board see it: the case's filter keys, its H3 cell at the
    hotspot resolution (computed in SQL from the stored cell, so hotspots are a GROUP BY, not a Python
    pass over every fine cell) and its time from report to resolution in seconds."""

    __tablename__ = "metric_cases"

    case_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    agency: Mapped[str | None] = mapped_column(String(60))  # the case's (NULL while unrouted)
    service: Mapped[str] = mapped_column(String(60))
    kecamatan: Mapped[str] = mapped_column(String(40))
    channel: Mapped[str] = mapped_column(String(40))
    confidential: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime]
    cell: Mapped[str | None] = mapped_column(String(16))  # resolution 7 (repository.HOTSPOT_RESOLUTION)
    resolved_at: Mapped[datetime | None]
    resolve_s: Mapped[float | None] = mapped_column(Float)

    __table_args__ = (
        Index("ix_metric_cases_created_at_cell", "created_at", "cell"),  # hotspots: an index-only read
        Index("ix_metric_cases_agency_resolve_s", "agency", "resolve_s", "resolved_at"),  # the board's median
    )
