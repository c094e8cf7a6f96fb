"""Table of the IKM survey (SKM, PermenPANRB 14/2017): one row per closed case, answered on the web or by chat.

The row is written as the answers come (a chat survey asks one element per message and may stop at any time),
so an element left unanswered stays NULL and counts for no element's average.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from kotapintar.cases import models as _cases_tables  # noqa: F401  (tables its foreign keys name)
from kotapintar.core.db.base import Base, BigId


class SurveyResponse(Base):
    """One reporter's answers about one closed case: nine elements 1–4 and the optional respondent fields."""

    __tablename__ = "ikm_responses"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), unique=True)
    agency_code: Mapped[str | None] = mapped_column(String(40), index=True)
    service_code: Mapped[str] = mapped_column(String(60), index=True)
    channel: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(index=True)
    updated_at: Mapped[datetime]
    stopped_at: Mapped[datetime | None]
    u1: Mapped[int | None] = mapped_column(SmallInteger)
    u2: Mapped[int | None] = mapped_column(SmallInteger)
    u3: Mapped[int | None] = mapped_column(SmallInteger)
    u4: Mapped[int | None] = mapped_column(SmallInteger)
    u5: Mapped[int | None] = mapped_column(SmallInteger)
    u6: Mapped[int | None] = mapped_column(SmallInteger)
    u7: Mapped[int | None] = mapped_column(SmallInteger)
    u8: Mapped[int | None] = mapped_column(SmallInteger)
    u9: Mapped[int | None] = mapped_column(SmallInteger)
    # The regulation's respondent profile (all optional): jenis kelamin, usia, pendidikan, pekerjaan.
    gender: Mapped[str | None] = mapped_column(String(1))
    age: Mapped[int | None] = mapped_column(SmallInteger)
    education: Mapped[str | None] = mapped_column(String(10))
    occupation: Mapped[str | None] = mapped_column(String(20))
    suggestion: Mapped[str | None] = mapped_column(String(1000))
