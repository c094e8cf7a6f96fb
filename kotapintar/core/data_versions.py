"""Versions of reference data in the database, so every process's cache notices a change without a restart.

(Issue 21. core/versions.py of issue 19 plays the same role with its own table; the two can be merged by
calling its `bump(uow, name)` where this module's `bump(uow.session, name)` is called.)

A change to regions, agencies, services, units or the road network bumps its counter in the same transaction
as the change; a per-process cache keeps the version it was built from and rebuilds when `current` differs.
One small indexed read per use is cheaper than a stale answer for minutes after an admin's edit.
"""

from __future__ import annotations

from sqlalchemy import Integer, String, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from kotapintar.core.db.base import Base

REGIONS = "regions"
CATALOGUE = "catalogue"  # agencies and services
UNITS = "units"
ROADS = "roads"


class DataVersion(Base):
    """One named counter: how many times this kind of reference data has changed."""

    __tablename__ = "data_versions"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=0)


def bump(session: Session, name: str) -> None:
    """Count one more change of `name`, in the caller's transaction (visible to others after commit)."""
    done = session.execute(
        update(DataVersion).where(DataVersion.name == name).values(version=DataVersion.version + 1)
    )
    if getattr(done, "rowcount", 0) == 0:
        session.add(DataVersion(name=name, version=1))
        session.flush()


def current(session: Session, name: str) -> int:
    """The number of changes of `name` so far (0 when it never changed)."""
    value = session.execute(select(DataVersion.version).where(DataVersion.name == name)).scalar()
    return int(value or 0)
