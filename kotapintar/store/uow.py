"""The unit of work: one session and the repositories that share it, for one command or query."""

from __future__ import annotations

from sqlalchemy.orm import Session

from kotapintar.store.repositories.accounts import ApiKeyRepository, UserRepository
from kotapintar.store.repositories.cases import CaseRepository, ReportRepository
from kotapintar.store.repositories.catalog import AgencyRepository, RegionRepository, ServiceRepository
from kotapintar.store.repositories.events import EventRepository
from kotapintar.store.repositories.tasks import TaskRepository, UnitRepository


class UnitOfWork:
    """Repositories over one session; the Database commits or rolls it back as a whole."""

    def __init__(self, session: Session, dialect: str) -> None:
        self.session = session
        self.dialect = dialect
        self.regions = RegionRepository(session)
        self.agencies = AgencyRepository(session)
        self.services = ServiceRepository(session)
        self.users = UserRepository(session)
        self.api_keys = ApiKeyRepository(session)
        self.cases = CaseRepository(session)
        self.reports = ReportRepository(session)
        self.tasks = TaskRepository(session)
        self.units = UnitRepository(session)
        self.events = EventRepository(session)

    def flush(self) -> None:
        """Send pending changes so generated ids and constraints are checked now."""
        self.session.flush()

    def before_commit(self) -> None:
        """Last writes of the transaction: the heads of the event chains touched."""
        self.events.write_anchors()
