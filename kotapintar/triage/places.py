"""Importing the deployment's well-known places (the gazetteer's schools, markets, bridges, jalan)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from kotapintar.catalog.repository import AgencyRepository
from kotapintar.core import versions
from kotapintar.core.access.actors import Actor
from kotapintar.core.access.roles import Permission
from kotapintar.core.db.database import Database
from kotapintar.core.errors import ValidationFailed
from kotapintar.core.events.types import utcnow
from kotapintar.triage.context import forget_triage_context
from kotapintar.triage.repository import TriageRepository

PLACE_KINDS = frozenset(
    {
        "sekolah",
        "pasar",
        "puskesmas",
        "rumah_sakit",
        "jembatan",
        "jalan",
        "kantor",
        "masjid",
        "gereja",
        "terminal",
        "dermaga",
        "lapangan",
        "lainnya",
    }
)


@dataclass
class PlacesImport:
    """What a places import did."""

    created: int = 0
    updated: int = 0
    errors: list[str] = field(default_factory=list)


def _place_values(raw: Any, i: int, source: str, agency_names: dict[str, list[str]]) -> dict[str, Any]:
    where = f"{source}: places[{i}]"
    if not isinstance(raw, dict):
        raise ValidationFailed(f"{where}: harus mapping (name, kind, lon, lat, ...).")
    name = str(raw.get("name") or "").strip()
    if not name:
        raise ValidationFailed(f"{where}: 'name' kosong.")
    kind = str(raw.get("kind") or "")
    if kind not in PLACE_KINDS:
        raise ValidationFailed(f"{where} ({name}): kind '{kind}' tidak dikenal; pilih {sorted(PLACE_KINDS)}.")
    try:
        lon, lat = float(raw["lon"]), float(raw["lat"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ValidationFailed(f"{where} ({name}): lon/lat wajib berupa angka.") from exc
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise ValidationFailed(f"{where} ({name}): lon/lat di luar jangkauan (tertukar?).")
    aliases = [str(a).strip() for a in raw.get("aliases") or () if str(a).strip()]
    agency = raw.get("agency")
    if agency is not None:
        if agency not in agency_names:
            raise ValidationFailed(f"{where} ({name}): instansi '{agency}' tidak dikenal.")
        aliases += agency_names[agency]  # an office is also found by its agency's names
    return {
        "name": name[:200],
        "kind": kind,
        "aliases": list(dict.fromkeys(aliases)),
        "lon": lon,
        "lat": lat,
        "region_code": str(raw["region"]) if raw.get("region") else None,
        "source": str(raw.get("source") or source)[:300],
    }


def import_places(db: Database, actor: Actor, data: Any, *, source: str = "import") -> PlacesImport:
    """Insert or update places from a parsed places file (all or nothing: a bad entry stops the import)."""
    actor.require(Permission.MANAGE_CATALOGUE)
    if not isinstance(data, dict) or not isinstance(data.get("places"), list):
        raise ValidationFailed(f"{source}: berkas tempat harus berisi 'places: [...]'.")
    result = PlacesImport()
    now = utcnow()
    with db.transaction() as uow:
        agency_names = {a.code: [a.name, a.short] for a in uow.repo(AgencyRepository).all()}
        repo = TriageRepository(uow.session)
        file_source = str(data.get("source") or source)
        for i, raw in enumerate(data["places"]):
            values = _place_values(raw, i, file_source, agency_names)
            if repo.upsert_place({**values, "updated_at": now}):
                result.created += 1
            else:
                result.updated += 1
        versions.bump(uow.session, versions.TRIAGE)  # every process's gazetteer rebuilds (issue 19)
    forget_triage_context(db)
    return result


def import_places_file(db: Database, actor: Actor, path: Path) -> PlacesImport:
    """Import places from a YAML file on disk."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ValidationFailed(f"{path}: YAML tidak sah: {exc}") from exc
    return import_places(db, actor, data, source=path.name)
