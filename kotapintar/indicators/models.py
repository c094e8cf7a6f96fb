"""Table of imported indicator values: one number per indicator and month (computed ones are never stored;
they are computed from the cases when asked, so they always agree with /analitik)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kotapintar.core.db.base import Base, BigId


class IndicatorValue(Base):
    """An imported figure: the indicator's code, its month (YYYY-MM) and the value, with when and from
    which file it came (a re-import of the same month replaces the value)."""

    __tablename__ = "indicator_values"
    __table_args__ = (UniqueConstraint("code", "period", name="uq_indicator_values_code_period"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(60), index=True)
    period: Mapped[str] = mapped_column(String(7))
    value: Mapped[float] = mapped_column(Float)
    source_file: Mapped[str] = mapped_column(String(200))
    imported_at: Mapped[datetime]
    imported_by: Mapped[str] = mapped_column(String(80))
