"""Finding a place a citizen names in a message (desa, kelurahan or kecamatan of the kabupaten)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from kotapintar.catalog.repository import RegionRepository
from kotapintar.core import versions
from kotapintar.core.db.database import Database
from kotapintar.core.versions import VersionedCache


@dataclass(frozen=True)
class Place:
    """A named region and the point it is labelled at."""

    code: str
    name: str
    level: str
    lon: float
    lat: float

    @property
    def source(self) -> str:
        """How a report placed here is located (data accuracy, issue 15): at a desa's point, or only by
        the words of a wider area (a kecamatan's point says little about where the problem is)."""
        return "desa_centroid" if self.level == "desa" else "address"


_PREFIX = re.compile(r"^(desa|kelurahan|kel\.?|kecamatan|kec\.?)\s+", re.IGNORECASE)


def _load_places(db: Database) -> list[Place]:
    with db.reading() as uow:
        found = [
            Place(r.code, r.name, r.level, r.label_lon, r.label_lat)
            for r in uow.repo(RegionRepository).all()
            if r.level in ("desa", "kecamatan") and r.label_lon is not None and r.label_lat is not None
        ]
    # Desa before kecamatan (more precise), longer names first ("Selat Hilir" before "Selat").
    found.sort(key=lambda p: (p.level != "desa", -len(p.name)))
    return found


# Rebuilt when regions are imported in any process (it was never rebuilt before issue 19).
_places_cache: VersionedCache[list[Place]] = VersionedCache(versions.REGIONS, _load_places)


def _places(db: Database) -> list[Place]:
    return _places_cache.get(db)


def find_place(db: Database, text: str) -> Place | None:
    """The most precise region whose name appears as whole words in `text`, or None."""
    lowered = f" {re.sub(r'[^0-9a-z]+', ' ', text.lower())} "
    for place in _places(db):
        name = _PREFIX.sub("", place.name).strip().lower()
        if len(name) >= 3 and f" {re.sub(r'[^0-9a-z]+', ' ', name).strip()} " in lowered:
            return place
    return None
