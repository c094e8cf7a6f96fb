"""Coverage: where the available units can reach within the target time, and which regions they cannot."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import h3
import numpy as np
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import dijkstra
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from kotapintar.core.errors import ValidationFailed
from kotapintar.dispatch.engine.network import EARTH_RADIUS_M, FloatArray, RoadNetwork
from kotapintar.dispatch.engine.profiles import ProfileBook, SpeedProfile, load_profiles
from kotapintar.dispatch.engine.recommend import AVAILABLE, UnitPosition
from kotapintar.dispatch.engine.straightline import METHOD_ROAD, METHOD_STRAIGHT, straight_line_estimate


@dataclass(frozen=True)
class CoverageResult:
    """Reachable area within the target, per-region ETA of the nearest unit, and uncovered region codes."""

    target_s: float
    method: str
    area: BaseGeometry
    cells: tuple[str, ...]
    covered_nodes: int
    total_nodes: int
    region_eta_s: Mapping[str, float | None] = field(default_factory=dict)
    uncovered: tuple[str, ...] = ()

    def to_geojson(self) -> dict[str, Any]:
        """A GeoJSON Feature of the covered area with the summary in its properties."""
        return {
            "type": "Feature",
            "geometry": shapely.geometry.mapping(self.area),
            "properties": {
                "target_s": self.target_s,
                "method": self.method,
                "covered_nodes": self.covered_nodes,
                "total_nodes": self.total_nodes,
                "uncovered": list(self.uncovered),
            },
        }


def _cells_area(lon: FloatArray, lat: FloatArray, resolution: int) -> tuple[tuple[str, ...], BaseGeometry]:
    cells = sorted({h3.latlng_to_cell(float(y), float(x), resolution) for x, y in zip(lon, lat, strict=True)})
    if not cells:
        return (), shapely.geometry.GeometryCollection()
    geo = h3.cells_to_h3shape(cells).__geo_interface__
    return tuple(cells), shape(geo)


def compute_coverage(
    network: RoadNetwork | None,
    units: Sequence[UnitPosition],
    target_s: float,
    *,
    kind: str | None = None,
    regions: Mapping[str, BaseGeometry] | None = None,
    profiles: ProfileBook | None = None,
    profile: SpeedProfile | None = None,
    h3_resolution: int = 9,
    available_statuses: frozenset[str] = frozenset({AVAILABLE}),
) -> CoverageResult:
    """Area reachable within `target_s` from the available units (of `kind`, if given), by road.

    One multi-source Dijkstra on the forward graph from every unit's snapped position (partial edge and
    off-road leg included), stopped at the target. A region counts as covered when the travel time to its
    representative point (snapped to the road) is within the target. Without a network (or for a
    straight-line profile) the same is estimated in a straight line × detour factor, labelled as such.
    """
    if not target_s > 0:
        raise ValidationFailed("Target waktu cakupan harus positif.", code="invalid_target")
    book = profiles or load_profiles()
    prof = profile or book.for_kind(kind or "default")
    pool = [u for u in units if u.status in available_statuses and (kind is None or u.kind == kind)]
    regions = regions or {}
    codes = list(regions)
    rep = [regions[c].representative_point() for c in codes]
    rlon = np.array([p.x for p in rep])
    rlat = np.array([p.y for p in rep])
    ulon = np.array([u.lon for u in pool])
    ulat = np.array([u.lat for u in pool])
    if network is None or prof.mode == "straight_line":
        return _straight_coverage(prof, target_s, ulon, ulat, codes, rlon, rlat, h3_resolution)
    n = network.n_nodes
    w = network.edge_weights(prof)
    off_speed = prof.offroad_kmh / 3.6
    start = np.full(n, np.inf)
    if pool:
        s = network.snap(ulon, ulat)
        fwd = network.street_fwd[s.street]
        bwd = network.street_bwd[s.street]
        off = s.offroad_m / off_speed
        to_b = np.where(fwd >= 0, off + (1 - s.t) * w[np.maximum(fwd, 0)], np.inf)
        to_a = np.where(bwd >= 0, off + s.t * w[np.maximum(bwd, 0)], np.inf)
        np.minimum.at(start, s.b, to_b)
        np.minimum.at(start, s.a, to_a)
    seeds = np.flatnonzero(np.isfinite(start))
    rows = np.concatenate([network.edge_u, np.full(len(seeds), n)])
    cols = np.concatenate([network.edge_v, seeds])
    data = np.concatenate([w, np.maximum(start[seeds], 1e-9)])
    matrix = sp.csr_matrix((data, (rows, cols)), shape=(n + 1, n + 1))
    node_time = np.asarray(dijkstra(matrix, directed=True, indices=n, limit=float(target_s)))[:n]
    reach = node_time <= target_s
    # area: H3 cells of reachable nodes and of the vertices of streets reachable at both ends
    both = reach[network.street_a] & reach[network.street_b]
    off_ = network.street_geom_offsets
    vert_street = np.repeat(np.arange(len(network.street_a)), np.diff(off_))
    vmask = both[vert_street]
    cells, area = _cells_area(
        np.concatenate([network.lon[reach], network.street_geom_lon[vmask]]),
        np.concatenate([network.lat[reach], network.street_geom_lat[vmask]]),
        h3_resolution,
    )
    region_eta: dict[str, float | None] = {}
    if codes:
        rs = network.snap(rlon, rlat)
        fwd = network.street_fwd[rs.street]
        bwd = network.street_bwd[rs.street]
        via_a = np.where(fwd >= 0, node_time[rs.a] + rs.t * w[np.maximum(fwd, 0)], np.inf)
        via_b = np.where(bwd >= 0, node_time[rs.b] + (1 - rs.t) * w[np.maximum(bwd, 0)], np.inf)
        eta = np.minimum(via_a, via_b) + rs.offroad_m / off_speed
        region_eta = {c: (float(e) if e <= target_s else None) for c, e in zip(codes, eta, strict=True)}
    uncovered = tuple(sorted(c for c, e in region_eta.items() if e is None))
    return CoverageResult(
        target_s=float(target_s),
        method=METHOD_ROAD,
        area=area,
        cells=cells,
        covered_nodes=int(reach.sum()),
        total_nodes=n,
        region_eta_s=region_eta,
        uncovered=uncovered,
    )


def _straight_coverage(
    prof: SpeedProfile,
    target_s: float,
    ulon: FloatArray,
    ulat: FloatArray,
    codes: list[str],
    rlon: FloatArray,
    rlat: FloatArray,
    resolution: int,
) -> CoverageResult:
    radius_m = target_s * prof.straight_line_kmh / 3.6 / prof.detour_factor
    circles = []
    for x, y in zip(ulon, ulat, strict=True):
        r_lat = math.degrees(radius_m / EARTH_RADIUS_M)
        circle = shapely.Point(x, y).buffer(r_lat, quad_segs=16)
        circles.append(
            shapely.affinity.scale(circle, xfact=1 / max(math.cos(math.radians(y)), 1e-6), yfact=1)
        )
    area = shapely.union_all(circles) if circles else shapely.geometry.GeometryCollection()
    region_eta: dict[str, float | None] = {}
    for c, x, y in zip(codes, rlon, rlat, strict=True):
        if len(ulon):
            eta, _ = straight_line_estimate(prof, (float(x), float(y)), ulon, ulat)
            best = float(eta.min())
            region_eta[c] = best if best <= target_s else None
        else:
            region_eta[c] = None
    return CoverageResult(
        target_s=float(target_s),
        method=METHOD_STRAIGHT,
        area=area,
        cells=(),
        covered_nodes=0,
        total_nodes=0,
        region_eta_s=region_eta,
        uncovered=tuple(sorted(c for c, e in region_eta.items() if e is None)),
    )
