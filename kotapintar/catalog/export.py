"""Export of the city's reference data in the formats `kotapintar setup` reads (a city keeps them in git)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kotapintar.catalog.regions import regions_geojson
from kotapintar.catalog.repository import AgencyRepository, ServiceRepository, UnitRepository
from kotapintar.catalog.setupfiles import write_rows
from kotapintar.core.db.database import Database

AGENCY_COLUMNS = [
    "code",
    "name",
    "short",
    "kind",
    "command_center",
    "parent",
    "jurisdiction",
    "phone",
    "email",
]
SERVICE_COLUMNS = [
    "code", "name", "name_en", "description", "description_en", "group", "priority", "agency", "informed",
    "emergency", "sensitive", "keywords", "active",
]  # fmt: skip
UNIT_COLUMNS = [
    "code",
    "name",
    "agency",
    "kind",
    "base_name",
    "base_lon",
    "base_lat",
    "crew",
    "capabilities",
    "mutual_aid",
]
USER_COLUMNS = ["username", "full_name", "agency", "roles", "position", "active"]


def export_table(db: Database, what: str, target: Path) -> int:
    """Write `what` (regions, agencies, services, units, users) to `target`; the number of records."""
    if what == "regions":
        data = regions_geojson(db)
        target.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        return len(data["features"])
    rows, columns = _rows(db, what)
    write_rows(target, what, rows, columns)
    return len(rows)


def _rows(db: Database, what: str) -> tuple[list[dict[str, Any]], list[str]]:
    with db.reading() as uow:
        if what == "agencies":
            return [
                {
                    "code": a.code, "name": a.name, "short": a.short, "kind": a.kind,
                    "command_center": a.command_center, "parent": a.parent_code,
                    "jurisdiction": list(a.jurisdiction or []), "phone": a.phone, "email": a.email,
                }
                for a in uow.repo(AgencyRepository).all()
            ], AGENCY_COLUMNS  # fmt: skip
        if what == "services":
            return [
                {
                    "code": s.code, "name": s.name, "name_en": s.name_en, "description": s.description,
                    "description_en": s.description_en, "group": s.group, "priority": s.priority,
                    "agency": s.agency_code, "informed": list(s.informed or []), "emergency": s.emergency,
                    "sensitive": s.sensitive, "keywords": list(s.keywords or []), "active": s.active,
                }
                for s in uow.repo(ServiceRepository).all(active_only=False)
            ], SERVICE_COLUMNS  # fmt: skip
        if what == "units":
            return [
                {
                    "code": u.code, "name": u.name, "agency": u.agency_code, "kind": u.kind,
                    "base_name": u.base_name, "base_lon": u.base_lon, "base_lat": u.base_lat, "crew": u.crew,
                    "capabilities": list(u.capabilities or []), "mutual_aid": u.mutual_aid,
                }
                for u in uow.repo(UnitRepository).all()
            ], UNIT_COLUMNS  # fmt: skip
        if what == "users":  # never a password or its hash
            return [
                {
                    "username": u.username, "full_name": u.full_name, "agency": u.agency_code,
                    "roles": list(u.roles or []), "position": u.position, "active": u.active,
                }
                for u in uow.users.all()
            ], USER_COLUMNS  # fmt: skip
    raise ValueError(what)
