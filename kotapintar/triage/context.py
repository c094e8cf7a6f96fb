"""What triage reads on every report, built once and cached: the gazetteer and the routing table.

Both change rarely (regions, catalogue, imported places, learned overrides). Each of those changes bumps a
version in the database in its own transaction, so every process rebuilds on its next report (issue 19);
the routing file is read from disk and changes with a restart.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kotapintar.catalog.repository import AgencyRepository, RegionRepository, ServiceRepository
from kotapintar.core import versions
from kotapintar.core.db.database import Database
from kotapintar.core.settings import Settings
from kotapintar.triage.classify.dataset import data_dir
from kotapintar.triage.gazetteer import Gazetteer, GazetteerEntry
from kotapintar.triage.repository import TriageRepository
from kotapintar.triage.routing import RoutingTable, load_routing

ROUTING_FILE = "routing.yaml"


@dataclass(frozen=True)
class TriageContext:
    """The gazetteer and routing table of one deployment."""

    gazetteer: Gazetteer
    routing: RoutingTable


_contexts: versions.VersionedCache[TriageContext] = versions.VersionedCache(
    (versions.REGIONS, versions.CATALOGUE, versions.TRIAGE)
)


def routing_path(settings: Settings) -> Path:
    """The routing file in use: the configured one, else the shipped demo rules."""
    return Path(settings.triage_routing_file) if settings.triage_routing_file else data_dir() / ROUTING_FILE


def build_context(db: Database, settings: Settings) -> TriageContext:
    """Read regions, places, agencies, services and overrides and build the gazetteer and routing table."""
    with db.reading() as uow:
        repo = TriageRepository(uow.session)
        entries: list[GazetteerEntry] = []
        for region in uow.repo(RegionRepository).all():
            if (
                region.level not in ("kecamatan", "desa")
                or region.label_lon is None
                or region.label_lat is None
            ):
                continue
            entries.append(
                GazetteerEntry(
                    name=region.name,
                    kind=region.level,
                    precision=region.level,
                    lon=region.label_lon,
                    lat=region.label_lat,
                    region_code=region.code,
                )
            )
        for place in repo.places():
            entries.append(
                GazetteerEntry(
                    name=place.name,
                    kind=place.kind,
                    precision="point",
                    lon=place.lon,
                    lat=place.lat,
                    region_code=place.region_code,
                    aliases=tuple(str(a) for a in place.aliases or ()),
                )
            )
        services = {s.code for s in uow.repo(ServiceRepository).all(active_only=False)}
        agencies = {a.code for a in uow.repo(AgencyRepository).all()}
        overrides = [(o.service_code, o.region_code, o.agency_code) for o in repo.overrides()]
    routing = load_routing(routing_path(settings), services=services, agencies=agencies)
    return TriageContext(
        gazetteer=Gazetteer(entries, min_score=settings.triage_place_min_score * 100.0),
        routing=routing.with_overrides(overrides),
    )


def triage_context(db: Database, settings: Settings) -> TriageContext:
    """The cached context of `db`, rebuilt when regions, catalogue, places or overrides changed anywhere."""
    key = (str(routing_path(settings)), settings.triage_place_min_score)
    return _contexts.get(db, key, lambda: build_context(db, settings))


def forget_triage_context(db: Database) -> None:
    """Drop this process's context now (the version bump of the change does it for every process)."""
    _contexts.invalidate(db)
