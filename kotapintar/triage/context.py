"""What triage reads on every report, built once and cached: the gazetteer and the routing table.

Both change rarely (regions, places, routing file, learned overrides); they are rebuilt at most every
few seconds, and at once after a place import or a learned override (`forget_triage_context`).
"""

from __future__ import annotations

import threading
import time
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

CONTEXT_TTL_S = 30.0
ROUTING_FILE = "routing.yaml"


@dataclass(frozen=True)
class TriageContext:
    """The gazetteer and routing table of one deployment."""

    gazetteer: Gazetteer
    routing: RoutingTable


_lock = threading.Lock()
_cache: dict[str, tuple[float, tuple[int, int], TriageContext]] = {}


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
    """The cached context of `db` (rebuilt after CONTEXT_TTL_S or `forget_triage_context`)."""
    now = time.monotonic()
    with db.reading() as uow:  # regions or catalogue changed in any process: rebuild now (issue 21)
        stamp = (
            versions.current(uow.session, versions.REGIONS),
            versions.current(uow.session, versions.CATALOGUE),
        )
    with _lock:
        hit = _cache.get(db.url)
        if hit is not None and now - hit[0] < CONTEXT_TTL_S and hit[1] == stamp:
            return hit[2]
    context = build_context(db, settings)
    with _lock:
        _cache[db.url] = (now, stamp, context)
    return context


def forget_triage_context(db: Database) -> None:
    """Drop the cached context (after places were imported or an override was learned)."""
    with _lock:
        _cache.pop(db.url, None)
