"""Build the approximate boundaries of the demo city (Kabupaten Kapuas) from its kecamatan points.

Reads ``kotapintar/catalog/data/demo/kecamatan.yaml`` (one hand-written representative point per kecamatan) and
writes ``kotapintar/catalog/data/demo/regions.geojson``:

* the kabupaten: a concave hull of the points, widened by a margin and smoothed;
* each kecamatan: the Voronoi cell of its point, clipped to the kabupaten.

The shapes are deliberately approximate (the demo ships no third-party boundary data); a real deployment
imports official boundaries instead. The output is deterministic: run it again and the file is the same.

Usage: ``.venv/bin/python scripts/build_demo_city.py [--kecamatan PATH] [--out PATH]``
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import shapely
import yaml
from shapely.geometry import MultiPoint, MultiPolygon, Point, Polygon, mapping
from shapely.geometry.polygon import orient

ROOT = Path(__file__).resolve().parents[1]
DEMO_DIR = ROOT / "kotapintar" / "catalog" / "data" / "demo"
DEFAULT_KECAMATAN = DEMO_DIR / "kecamatan.yaml"
DEFAULT_OUT = DEMO_DIR / "regions.geojson"

SOURCE = "kotapintar demo: Voronoi cells around representative points, approximate"
GRID = 1e-4  # degrees; every output vertex lies on this grid (4 decimals, about 11 m)
CONCAVE_RATIO = 0.3  # shapely.concave_hull: 0 = most concave, 1 = convex hull
MARGIN = 0.12  # degrees (about 13 km) added around the hull of the points
SMOOTH = 0.08  # degrees; closing radius that rounds the inward corners of the hull
SIMPLIFY = 0.004  # degrees; tolerance that drops needless vertices from the buffered outline


@dataclass(frozen=True)
class Place:
    """One region read from kecamatan.yaml: Kemendagri code, name and representative point."""

    code: str
    name: str
    point: Point


def load_places(path: Path) -> tuple[Place, list[Place]]:
    """The kabupaten (without a point) and its kecamatan, in file order, from kecamatan.yaml."""
    doc: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    kab = doc["kabupaten"]
    kabupaten = Place(code=str(kab["code"]), name=str(kab["name"]), point=Point())
    kecamatan = [
        Place(code=str(k["code"]), name=str(k["name"]), point=Point(float(k["lon"]), float(k["lat"])))
        for k in doc["kecamatan"]
    ]
    return kabupaten, kecamatan


def kabupaten_outline(points: list[Point]) -> Polygon:
    """The approximate kabupaten: concave hull of the points, buffered by MARGIN and smoothed."""
    hull = shapely.concave_hull(MultiPoint(points), ratio=CONCAVE_RATIO)
    grown = hull.buffer(MARGIN + SMOOTH, quad_segs=8).buffer(-SMOOTH, quad_segs=8)
    outline = grown.simplify(SIMPLIFY, preserve_topology=True)
    if not isinstance(outline, Polygon):
        raise ValueError(f"kabupaten outline is a {outline.geom_type}, expected one Polygon")
    return outline


def tile(places: list[Place], outline: Polygon) -> tuple[Polygon, list[Polygon | MultiPolygon]]:
    """Split `outline` into the Voronoi cells of the places, every vertex on GRID.

    All lines (the outline and every cell edge) are noded and snapped to GRID in one operation and then
    polygonized, so neighbouring cells share their vertices exactly and together cover the returned
    kabupaten with neither gaps nor overlaps. Clipping each cell on its own would leave slivers along
    the long outline edges, where each clip rounds its new vertices separately.
    """
    cells = list(shapely.voronoi_polygons(MultiPoint([p.point for p in places]), extend_to=outline).geoms)
    owner: list[int] = []
    for place in places:
        mine = [i for i, c in enumerate(cells) if c.contains(place.point)]
        if len(mine) != 1:
            raise ValueError(f"{place.code}: {len(mine)} Voronoi cells contain its point")
        owner.append(mine[0])
    lines = [outline.exterior] + [c.exterior for c in cells]
    noded = shapely.union_all(lines, grid_size=GRID)
    faces = list(shapely.polygonize(list(getattr(noded, "geoms", [noded]))).geoms)
    parts: list[list[Polygon]] = [[] for _ in places]
    for face in faces:
        inner = face.point_on_surface()
        if not outline.contains(inner):
            continue  # the Voronoi diagram reaches beyond the kabupaten
        holders = [k for k, i in enumerate(owner) if cells[i].contains(inner)]
        if len(holders) != 1:
            raise ValueError(f"a face at {inner.wkt} lies in {len(holders)} cells")
        parts[holders[0]].append(face)
    out: list[Polygon | MultiPolygon] = []
    for place, mine_parts in zip(places, parts, strict=True):
        cell = shapely.union_all(mine_parts, grid_size=GRID)
        if not isinstance(cell, Polygon | MultiPolygon) or cell.is_empty:
            raise ValueError(f"{place.code}: its cell is {cell.geom_type}")
        out.append(cell)
    kabupaten = shapely.union_all(out, grid_size=GRID)
    if not isinstance(kabupaten, Polygon):
        raise ValueError(f"kabupaten area is a {kabupaten.geom_type}, expected one Polygon")
    return kabupaten, out


def _canonical(geom: Polygon | MultiPolygon) -> dict[str, Any]:
    """GeoJSON geometry with a canonical vertex order, exterior rings counter-clockwise, 4 decimals."""
    norm = shapely.normalize(geom)
    if isinstance(norm, MultiPolygon):
        norm = MultiPolygon([orient(p, 1.0) for p in norm.geoms])
    else:
        norm = orient(norm, 1.0)
    rounded: dict[str, Any] = _rounded(mapping(norm))
    return rounded


def _rounded(obj: Any) -> Any:
    """Recursively round floats to the 4 decimals of GRID and turn tuples into lists."""
    if isinstance(obj, float):
        return round(obj, 4) + 0.0  # + 0.0 turns -0.0 into 0.0
    if isinstance(obj, list | tuple):
        return [_rounded(x) for x in obj]
    if isinstance(obj, dict):
        return {k: _rounded(v) for k, v in obj.items()}
    return obj


def _feature(place: Place, level: str, geom: Polygon | MultiPolygon) -> dict[str, Any]:
    """One GeoJSON feature of a region with the shared properties."""
    return {
        "type": "Feature",
        "properties": {
            "kode": place.code,
            "nama": place.name,
            "level": level,
            "approximate": True,
            "source": SOURCE,
        },
        "geometry": _canonical(geom),
    }


def build(kecamatan_path: Path) -> dict[str, Any]:
    """The regions FeatureCollection: the kabupaten first, then its kecamatan in code order."""
    kabupaten, places = load_places(kecamatan_path)
    places = sorted(places, key=lambda p: p.code)
    area, cells = tile(places, kabupaten_outline([p.point for p in places]))
    features = [_feature(kabupaten, "kabupaten", area)]
    features += [_feature(place, "kecamatan", cell) for place, cell in zip(places, cells, strict=True)]
    return {"type": "FeatureCollection", "features": features}


def dump(collection: dict[str, Any]) -> str:
    """Serialise compactly with one feature per line, so diffs stay readable."""
    lines = [json.dumps(f, ensure_ascii=False, separators=(",", ":")) for f in collection["features"]]
    return '{"type":"FeatureCollection","features":[\n' + ",\n".join(lines) + "\n]}\n"


def main(argv: list[str] | None = None) -> None:
    """Command-line entry: build regions.geojson from kecamatan.yaml."""
    parser = argparse.ArgumentParser(description="Bangun batas perkiraan kota demo (regions.geojson).")
    parser.add_argument("--kecamatan", type=Path, default=DEFAULT_KECAMATAN, help="kecamatan.yaml")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="regions.geojson to write")
    args = parser.parse_args(argv)
    text = dump(build(args.kecamatan))
    args.out.write_text(text, encoding="utf-8")
    print(f"{args.out}: {len(text.encode('utf-8')) / 1024:.1f} KB")


if __name__ == "__main__":
    main()
