"""Placing a point in its desa/kelurahan, kecamatan and kabupaten with a spatial index (shapely STRtree)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from shapely import STRtree
from shapely.geometry import Point, shape
from shapely.geometry.base import BaseGeometry
from shapely.ops import nearest_points

LEVEL_ORDER = {"province": 0, "kabupaten": 1, "kecamatan": 2, "desa": 3}


def level_of_code(code: str) -> str:
    """The administrative level of a Kemendagri code from its number of parts."""
    parts = code.count(".") + 1
    return {1: "province", 2: "kabupaten", 3: "kecamatan"}.get(parts, "desa")


def metres_between(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance in metres (haversine)."""
    r = 6_371_008.8
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(min(1.0, a)))


@dataclass(frozen=True)
class RegionShape:
    """A region's code, name, level and boundary, as the index needs them."""

    code: str
    name: str
    level: str
    geometry: BaseGeometry


@dataclass(frozen=True)
class Location:
    """Where a point falls: the most precise region found, its parents, and how sure we are."""

    region_code: str | None  # the most precise region (desa if known, else kecamatan …)
    kecamatan_code: str | None
    kabupaten_code: str | None
    precision: str  # desa | kecamatan | kabupaten | outside
    outside_by_m: float = 0.0  # > 0 when the point lies outside the served area (nearest region used)


class RegionIndex:
    """Point-in-region lookups over the regions of one deployment."""

    def __init__(self, regions: Iterable[RegionShape]) -> None:
        self.by_level: dict[str, list[RegionShape]] = {}
        self.by_code: dict[str, RegionShape] = {}
        for region in regions:
            self.by_level.setdefault(region.level, []).append(region)
            self.by_code[region.code] = region
        self._trees = {level: STRtree([r.geometry for r in items]) for level, items in self.by_level.items()}

    @classmethod
    def from_geojson_rows(cls, rows: Iterable[tuple[str, str, str, dict[str, Any] | None]]) -> RegionIndex:
        """Build from (code, name, level, GeoJSON geometry) rows; rows without geometry are skipped."""
        shapes = [
            RegionShape(code, name, level, shape(geom))
            for code, name, level, geom in rows
            if geom is not None
        ]
        return cls(shapes)

    def __len__(self) -> int:
        return len(self.by_code)

    def _covering(self, level: str, point: Point) -> RegionShape | None:
        tree = self._trees.get(level)
        if tree is None:
            return None
        items = self.by_level[level]
        hits = [items[int(i)] for i in tree.query(point, predicate="covered_by")]
        if not hits:
            return None
        # On a shared border two regions cover the point: pick the lowest code, so the answer is stable.
        return min(hits, key=lambda r: r.code)

    def _nearest(self, level: str, point: Point) -> tuple[RegionShape, float] | None:
        tree = self._trees.get(level)
        if tree is None:
            return None
        items = self.by_level[level]
        idx = tree.nearest(point)
        if idx is None:
            return None
        region = items[int(idx)]
        near = nearest_points(region.geometry, point)[0]
        return region, metres_between(point.x, point.y, near.x, near.y)

    def locate(self, lon: float, lat: float, tolerance_m: float = 0.0) -> Location:
        """The regions containing (lon, lat); within `tolerance_m` outside, the nearest ones."""
        point = Point(lon, lat)
        found: dict[str, str] = {}
        outside_by = 0.0
        for level in ("desa", "kecamatan", "kabupaten"):
            hit = self._covering(level, point)
            if hit is not None:
                found[level] = hit.code
        if "kecamatan" not in found and "desa" not in found and tolerance_m > 0:
            for level in ("desa", "kecamatan"):
                near = self._nearest(level, point)
                if near is not None and near[1] <= tolerance_m:
                    found[level] = near[0].code
                    outside_by = max(outside_by, near[1])
        desa = found.get("desa")
        kec = found.get("kecamatan") or (desa.rsplit(".", 1)[0] if desa else None)
        kab = found.get("kabupaten") or (kec.rsplit(".", 1)[0] if kec else None)
        if desa:
            precision = "desa"
        elif kec:
            precision = "kecamatan"
        elif kab:
            precision = "kabupaten"
        else:
            precision = "outside"
        if outside_by > 0:
            precision = "outside" if not (desa or kec) else precision
        return Location(
            region_code=desa or kec or kab,
            kecamatan_code=kec,
            kabupaten_code=kab,
            precision=precision,
            outside_by_m=outside_by,
        )

    def distance_outside_m(self, lon: float, lat: float, level: str = "kabupaten") -> float:
        """0 inside the union of regions of `level`, else the distance to the nearest one in metres."""
        point = Point(lon, lat)
        if self._covering(level, point) is not None:
            return 0.0
        near = self._nearest(level, point)
        return near[1] if near is not None else math.inf
