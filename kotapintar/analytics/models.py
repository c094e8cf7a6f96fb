"""Stored monthly accountability reports: the PDF and a zip of its CSV tables, kept in the database so every
web machine serves the same file the worker generated (no shared reports directory to mount)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, LargeBinary, String, UniqueConstraint
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
