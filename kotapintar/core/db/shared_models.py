"""Tables of the state several processes share through the database (issue 19): versions that invalidate
process caches, and the rate-limit hits of the PostgreSQL counter storage."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Float, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from kotapintar.core.db.base import Base, BigId


class SharedVersion(Base):
    """A named version number; bumping it tells every process to drop its cached copy of that state."""

    __tablename__ = "shared_versions"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, default=0)
    changed_at: Mapped[datetime]


class RateLimitHit(Base):
    """One counted hit of a moving-window rate limit (`rate_limit_storage_url=kotapintar+postgresql://…`)."""

    __tablename__ = "rate_limit_hits"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(250))
    at: Mapped[float] = mapped_column(Float)

    __table_args__ = (Index("ix_rate_limit_hits_key_at", "key", "at"),)
