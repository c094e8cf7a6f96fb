"""All SQL of emergency dispatch: calls, unit assignments, the unit status log and ingest counters."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from kotapintar.cases.lifecycle import OPEN_STATUSES
from kotapintar.cases.models import Case
from kotapintar.catalog.models import Region, Unit
from kotapintar.core.events.models import Event
from kotapintar.dispatch.models import Call, DispatchCounter, UnitAssignment, UnitStatusLog

TIMELINE_TYPES = (
    "call_received",
    "call_answered",
    "case_created",
    "unit_dispatched",
    "unit_en_route",
    "unit_on_scene",
    "unit_cleared",
)


class DispatchRepository:
    """Queries and writes of the dispatch tables (over the unit of work's session)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    # ---------------------------------------------------------------- calls
    def insert_call(self, call: Call) -> Call:
        """Store a new call and give it its id."""
        self.session.add(call)
        self.session.flush()
        return call

    def get_call(self, call_id: int, *, for_update: bool = False) -> Call | None:
        """One call by id (locked for the transaction when `for_update`)."""
        stmt = select(Call).where(Call.id == call_id)
        if for_update:
            stmt = stmt.with_for_update()
        return self.session.scalars(stmt).first()

    def call_by_client_key(self, key: str) -> Call | None:
        """The call opened with this idempotency key, if any."""
        return self.session.scalars(select(Call).where(Call.client_key == key)).first()

    def open_calls(self, limit: int = 50) -> Sequence[Call]:
        """Calls not yet classified (still to be classified or closed), newest first."""
        return self.session.scalars(
            select(Call)
            .where(Call.classification.is_(None))
            .order_by(Call.received_at.desc(), Call.id.desc())
            .limit(limit)
        ).all()

    def recent_calls(self, limit: int = 50) -> Sequence[Call]:
        """The newest calls first."""
        return self.session.scalars(
            select(Call).order_by(Call.received_at.desc(), Call.id.desc()).limit(limit)
        ).all()

    def calls_by_classification(self, since: datetime | None = None) -> dict[str, int]:
        """How many calls of each classification (`unclassified` for calls still open)."""
        stmt = select(Call.classification, func.count()).group_by(Call.classification)
        if since is not None:
            stmt = stmt.where(Call.received_at >= since)
        return {str(k or "unclassified"): int(n) for k, n in self.session.execute(stmt).all()}

    def calls_of_case(self, case_id: int) -> Sequence[Call]:
        """The calls that opened or joined a case, oldest first."""
        return self.session.scalars(
            select(Call).where(Call.case_id == case_id).order_by(Call.received_at)
        ).all()

    # ---------------------------------------------------------------- cases near a point
    def open_cases_in_box(
        self, min_lon: float, min_lat: float, max_lon: float, max_lat: float, limit: int = 20
    ) -> Sequence[Case]:
        """Open cases with a location inside a box (candidates for 'duplicate of an active incident')."""
        return self.session.scalars(
            select(Case)
            .where(
                Case.status.in_([s.value for s in OPEN_STATUSES]),
                Case.lon.between(min_lon, max_lon),
                Case.lat.between(min_lat, max_lat),
            )
            .order_by(Case.created_at.desc())
            .limit(limit)
        ).all()

    # ---------------------------------------------------------------- units
    def units(self) -> Sequence[Unit]:
        """Every unit, by code."""
        return self.session.scalars(select(Unit).order_by(Unit.code)).all()

    def unit_for_update(self, code: str) -> Unit | None:
        """One unit, locked for this transaction (status and position changes serialise per unit)."""
        return self.session.scalars(select(Unit).where(Unit.code == code).with_for_update()).first()

    def reset_units(self, now: datetime) -> int:
        """Put every unit back at its base, available; close open assignments (demo and test resets)."""
        self.session.execute(
            update(UnitAssignment).where(UnitAssignment.cleared_at.is_(None)).values(cleared_at=now)
        )
        result = self.session.execute(
            update(Unit).values(
                status="available", lon=Unit.base_lon, lat=Unit.base_lat, position_at=None, updated_at=now
            )
        )
        return int(getattr(result, "rowcount", 0) or 0)

    # ---------------------------------------------------------------- assignments
    def insert_assignment(self, assignment: UnitAssignment) -> None:
        """Store a new assignment."""
        self.session.add(assignment)

    def open_assignment(self, unit_code: str) -> UnitAssignment | None:
        """The unit's current assignment, if any."""
        return self.session.scalars(
            select(UnitAssignment)
            .where(UnitAssignment.unit_code == unit_code, UnitAssignment.cleared_at.is_(None))
            .order_by(UnitAssignment.id.desc())
        ).first()

    def assignments_of_case(self, case_id: int) -> Sequence[UnitAssignment]:
        """Every unit sent to a case, in dispatch order."""
        return self.session.scalars(
            select(UnitAssignment).where(UnitAssignment.case_id == case_id).order_by(UnitAssignment.id)
        ).all()

    # ---------------------------------------------------------------- status log
    def insert_status(self, row: UnitStatusLog) -> None:
        """Store one status change."""
        self.session.add(row)

    def last_status_at(self, unit_code: str) -> datetime | None:
        """When the unit's status last changed."""
        value = self.session.scalar(
            select(func.max(UnitStatusLog.at)).where(UnitStatusLog.unit_code == unit_code)
        )
        return value if value is None or isinstance(value, datetime) else None

    def status_history(self, unit_code: str, limit: int = 50) -> Sequence[UnitStatusLog]:
        """A unit's recent status changes, newest first."""
        return self.session.scalars(
            select(UnitStatusLog)
            .where(UnitStatusLog.unit_code == unit_code)
            .order_by(UnitStatusLog.at.desc(), UnitStatusLog.id.desc())
            .limit(limit)
        ).all()

    # ---------------------------------------------------------------- counters
    def bump_counter(self, name: str, reason: str | None, now: datetime) -> None:
        """Add one to a named counter (created at 1)."""
        row = self.session.get(DispatchCounter, name, with_for_update=True)
        if row is None:
            self.session.add(
                DispatchCounter(name=name, count=1, last_reason=(reason or "")[:300], updated_at=now)
            )
        else:
            row.count += 1
            row.last_reason = (reason or "")[:300] or row.last_reason
            row.updated_at = now

    def counters(self, prefix: str = "") -> dict[str, int]:
        """Every counter whose name starts with `prefix`."""
        rows = self.session.execute(
            select(DispatchCounter.name, DispatchCounter.count).where(DispatchCounter.name.startswith(prefix))
        ).all()
        return {str(n): int(c) for n, c in rows}

    # ---------------------------------------------------------------- regions and timelines
    def region_geometries(
        self, region_prefix: str, level: str = "desa"
    ) -> list[tuple[str, str, dict[str, Any]]]:
        """(code, name, GeoJSON geometry) of every region of one level (desa/kelurahan) under a kabupaten."""
        rows = self.session.execute(
            select(Region.code, Region.name, Region.geometry).where(
                Region.level == level, Region.code.startswith(region_prefix), Region.geometry.is_not(None)
            )
        ).all()
        return [(str(c), str(n), dict(g)) for c, n, g in rows if g]

    def dispatch_cases(
        self, since: datetime | None = None, until: datetime | None = None, limit: int = 5000
    ) -> Sequence[Case]:
        """Cases that came from a 112 call or had a unit sent, newest first."""
        ids = select(Call.case_id).where(Call.case_id.is_not(None)).union(select(UnitAssignment.case_id))
        stmt = select(Case).where(Case.id.in_(ids))
        if since is not None:
            stmt = stmt.where(Case.created_at >= since)
        if until is not None:
            stmt = stmt.where(Case.created_at < until)
        return self.session.scalars(stmt.order_by(Case.created_at.desc()).limit(limit)).all()

    # ---------------------------------------------------------------- the CAD boards
    def active_incidents(self, services: Sequence[str], limit: int = 60) -> Sequence[Case]:
        """Open cases that are emergencies (a service with a run card), came from a 112 call or have a
        unit on them now: the incident board's rows, newest first."""
        from_calls = select(Call.case_id).where(Call.case_id.is_not(None))
        with_units = select(UnitAssignment.case_id).where(UnitAssignment.cleared_at.is_(None))
        stmt = select(Case).where(
            Case.status.in_([s.value for s in OPEN_STATUSES]),
            or_(Case.service_code.in_(list(services)), Case.id.in_(from_calls), Case.id.in_(with_units)),
        )
        return self.session.scalars(stmt.order_by(Case.created_at.desc()).limit(limit)).all()

    def cases_by_ids(self, ids: Sequence[int]) -> Sequence[Case]:
        """The cases with these ids (any status)."""
        if not ids:
            return []
        return self.session.scalars(select(Case).where(Case.id.in_(list(ids)))).all()

    def open_assignments(self) -> Sequence[UnitAssignment]:
        """Every assignment not yet cleared, in dispatch order."""
        return self.session.scalars(
            select(UnitAssignment).where(UnitAssignment.cleared_at.is_(None)).order_by(UnitAssignment.id)
        ).all()

    def last_status_times(self) -> dict[str, datetime]:
        """When each unit's status last changed (units never changed are absent)."""
        rows = self.session.execute(
            select(UnitStatusLog.unit_code, func.max(UnitStatusLog.at)).group_by(UnitStatusLog.unit_code)
        ).all()
        return {str(code): at for code, at in rows if isinstance(at, datetime)}

    def desa_labels(self, region_prefix: str) -> Sequence[tuple[str, str, str | None, float, float]]:
        """(code, name, parent code, label lon, label lat) of every desa under a code, without boundaries."""
        rows = self.session.execute(
            select(Region.code, Region.name, Region.parent_code, Region.label_lon, Region.label_lat)
            .where(
                Region.level == "desa",
                Region.code.startswith(region_prefix),
                Region.label_lon.is_not(None),
                Region.label_lat.is_not(None),
            )
            .order_by(Region.name, Region.code)
        ).all()
        return [
            (str(c), str(n), p, float(lon), float(lat))
            for c, n, p, lon, lat in rows
            if lon is not None and lat is not None
        ]

    def region_names(self, level: str, region_prefix: str) -> dict[str, str]:
        """Code -> name of the regions of one level under a code."""
        rows = self.session.execute(
            select(Region.code, Region.name).where(
                Region.level == level, Region.code.startswith(region_prefix)
            )
        ).all()
        return {str(c): str(n) for c, n in rows}

    def timeline_events(self, case_ids: Sequence[int]) -> Sequence[Event]:
        """The events the response-time segments use, of the given cases, in time order."""
        if not case_ids:
            return []
        return self.session.scalars(
            select(Event)
            .where(Event.case_id.in_(list(case_ids)), Event.type.in_(TIMELINE_TYPES))
            .order_by(Event.occurred_at, Event.id)
        ).all()

    # --- invariants (kotapintar check)
    def open_assignments_without_dispatch_event(self, dispatched_type: str) -> Sequence[Any]:
        """Units assigned to a case (not cleared) whose dispatch is not in the case's event log."""
        dispatched = (
            select(Event.id)
            .where(Event.case_id == UnitAssignment.case_id, Event.type == dispatched_type)
            .where(Event.payload["unit"].as_string() == UnitAssignment.unit_code)
            .exists()
        )
        return self.session.execute(
            select(UnitAssignment.id, UnitAssignment.unit_code, UnitAssignment.case_id)
            .where(UnitAssignment.cleared_at.is_(None), ~dispatched)
            .order_by(UnitAssignment.id)
        ).all()

    def busy_units_without_assignment(self, on_case_statuses: Sequence[str]) -> Sequence[Any]:
        """Units in a working status (dispatched, en route, on scene …) with no open assignment."""
        open_assignment = (
            select(UnitAssignment.id)
            .where(UnitAssignment.unit_code == Unit.code, UnitAssignment.cleared_at.is_(None))
            .exists()
        )
        return self.session.execute(
            select(Unit.code, Unit.status).where(Unit.status.in_(list(on_case_statuses)), ~open_assignment)
        ).all()
