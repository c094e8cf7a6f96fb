"""Importing administrative regions from GeoJSON (Kemendagri codes) and serving them back as GeoJSON."""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shapely.geometry import mapping, shape
from shapely.validation import make_valid

from kotapintar.catalog.geo import level_of_code
from kotapintar.catalog.locating import forget_region_index
from kotapintar.catalog.models import Region
from kotapintar.catalog.repository import RegionRepository
from kotapintar.core import versions
from kotapintar.core.access.actors import Actor
from kotapintar.core.access.roles import Permission
from kotapintar.core.db.database import Database
from kotapintar.core.errors import ValidationFailed

CODE_PATTERN = re.compile(r"^\d{2}(\.\d{2}(\.\d{2}(\.\d{4})?)?)?$")


@dataclass
class ImportResult:
    """What an import did: how many regions were new or updated, and each skipped feature with why."""

    created: int = 0
    updated: int = 0
    skipped: list[tuple[int, str]] = field(default_factory=list)
    levels: dict[str, int] = field(default_factory=dict)

    @property
    def loaded(self) -> int:
        """Regions written (new + updated)."""
        return self.created + self.updated


def _parse_feature(feature: Any, seen: set[str], source: str) -> tuple[Region | None, str | None]:
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        return None, "not a GeoJSON Feature"
    props = feature.get("properties") or {}
    code = str(props.get("kode") or props.get("code") or "").strip()
    name = str(props.get("nama") or props.get("name") or "").strip()
    if not code:
        return None, "no 'kode' property"
    if not CODE_PATTERN.match(code):
        return None, f"kode '{code}' is not a Kemendagri code like 62.03.01.2001"
    if not name:
        return None, f"kode {code}: no 'nama' property"
    if code in seen:
        return None, f"kode {code} appears twice in the file; the first one was kept"
    geometry = feature.get("geometry")
    geom_json: dict[str, Any] | None = None
    bounds: tuple[float, float, float, float] | None = None
    label: tuple[float, float] | None = None
    if geometry is not None:
        try:
            geom = shape(geometry)
        except (ValueError, TypeError, AttributeError, KeyError) as exc:
            return None, f"kode {code}: unreadable geometry ({exc})"
        if geom.is_empty:
            return None, f"kode {code}: empty geometry"
        if geom.geom_type not in ("Polygon", "MultiPolygon"):
            return None, f"kode {code}: geometry is a {geom.geom_type}, expected a Polygon or MultiPolygon"
        if not geom.is_valid:
            geom = make_valid(geom)
        minx, miny, maxx, maxy = geom.bounds
        if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
            return None, f"kode {code}: coordinates out of range (are lon and lat swapped?)"
        geom_json = dict(mapping(geom))
        bounds = geom.bounds
        point = geom.representative_point()
        label = (point.x, point.y)
    if "lng" in props and "lat" in props:
        with contextlib.suppress(TypeError, ValueError):
            label = (float(props["lng"]), float(props["lat"]))
    seen.add(code)
    level = str(props.get("level") or level_of_code(code))
    region = Region(
        code=code,
        name=name,
        level=level,
        parent_code=code.rsplit(".", 1)[0] if "." in code else None,
        geometry=geom_json,
        label_lon=label[0] if label else None,
        label_lat=label[1] if label else None,
        min_lon=bounds[0] if bounds else None,
        min_lat=bounds[1] if bounds else None,
        max_lon=bounds[2] if bounds else None,
        max_lat=bounds[3] if bounds else None,
        approximate=bool(props.get("approximate", False)),
        source=str(props.get("source") or source)[:300],
    )
    return region, None


def import_regions(
    db: Database, actor: Actor, data: dict[str, Any], *, source: str = "import"
) -> ImportResult:
    """Load a FeatureCollection of regions; each bad feature is skipped with its reason, the rest saved."""
    actor.require(Permission.MANAGE_CATALOGUE)
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection":
        raise ValidationFailed(
            "Berkas bukan GeoJSON FeatureCollection / the file is not a FeatureCollection."
        )
    features = data.get("features")
    if not isinstance(features, list):
        raise ValidationFailed("FeatureCollection tanpa daftar 'features'.")
    result = ImportResult()
    seen: set[str] = set()
    with db.transaction() as uow:
        for i, feature in enumerate(features):
            region, why = _parse_feature(feature, seen, source)
            if region is None:
                result.skipped.append((i, why or "skipped"))
                continue
            if uow.repo(RegionRepository).upsert(region):
                result.created += 1
            else:
                result.updated += 1
            result.levels[region.level] = result.levels.get(region.level, 0) + 1
        versions.bump(uow.session, versions.REGIONS)  # every process's region index rebuilds (issue 21)
    forget_region_index(db)
    return result


def import_regions_file(db: Database, actor: Actor, path: Path) -> ImportResult:
    """Load regions from a GeoJSON file on disk."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValidationFailed(f"{path}:{exc.lineno}: JSON tidak sah / invalid JSON: {exc.msg}") from exc
    return import_regions(db, actor, data, source=path.name)


def regions_geojson(
    db: Database, level: str | None = None, parent: str | None = None, simplify: float = 0.0
) -> dict[str, Any]:
    """Regions as a GeoJSON FeatureCollection (optionally simplified for drawing)."""
    with db.reading() as uow:
        rows = uow.repo(RegionRepository).all(level=level, parent_prefix=parent)
    features = []
    for r in rows:
        geometry = r.geometry
        if geometry is not None and simplify > 0:
            geometry = dict(mapping(shape(geometry).simplify(simplify, preserve_topology=True)))
        features.append(
            {
                "type": "Feature",
                "id": r.code,
                "geometry": geometry,
                "properties": {
                    "kode": r.code,
                    "nama": r.name,
                    "level": r.level,
                    "parent": r.parent_code,
                    "approximate": r.approximate,
                    "label": [r.label_lon, r.label_lat] if r.label_lon is not None else None,
                },
            }
        )
    return {"type": "FeatureCollection", "features": features}
