"""Road network as CSR arrays: travel-time weights per speed profile, edge snapping, reversed Dijkstra."""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

from kotapintar.core.errors import ValidationFailed
from kotapintar.dispatch.engine.profiles import SpeedProfile

EARTH_RADIUS_M = 6_371_008.8
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Snaps:
    """Where points meet the network: street, its end nodes a→b, fraction t from a, off-road metres."""

    street: IntArray
    a: IntArray
    b: IntArray
    t: FloatArray
    offroad_m: FloatArray
    lon: FloatArray
    lat: FloatArray

    def __len__(self) -> int:
        return len(self.street)

    def take(self, idx: npt.ArrayLike) -> Snaps:
        """The snaps of the points at positions `idx`."""
        i = np.asarray(idx, dtype=np.int64)
        return Snaps(
            self.street[i], self.a[i], self.b[i], self.t[i], self.offroad_m[i], self.lon[i], self.lat[i]
        )


@dataclass
class _Routing:
    """Travel-time data of one profile: per-edge weights and the reversed CSR with one virtual source row."""

    weight_s: FloatArray  # per directed edge (network order)
    matrix: sp.csr_matrix  # reversed graph, (n+1)×(n+1); row n = the incident (virtual node)
    keys: IntArray  # sorted (row*(n+1)+col) of the real reversed edges, aligned with lengths
    lengths: FloatArray
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class _SnapIndex:
    """KD-tree over the midpoints of short pieces of every street polyline (projected metres)."""

    tree: cKDTree
    street: IntArray
    x0: FloatArray
    y0: FloatArray
    dx: FloatArray
    dy: FloatArray
    cum0: FloatArray
    plen: FloatArray
    street_len: FloatArray
    half_max: float


class TravelTimes:
    """Result of one reversed Dijkstra: ETA of every origin to the incident, distances on demand."""

    def __init__(
        self,
        network: RoadNetwork,
        routing: _Routing,
        node_time: FloatArray,
        pred: npt.NDArray[np.int32],
        incident: Snaps,
        origins: Snaps,
        eta_s: FloatArray,
        entry: IntArray,
        fixed_len: FloatArray,
    ) -> None:
        self.network = network
        self._routing = routing
        self.node_time = node_time
        self._pred = pred
        self.incident = incident
        self.origins = origins
        self.eta_s = eta_s  # seconds, inf when unreachable
        self._entry = entry  # node where the origin joins the graph, -1 for a direct ride on the same street
        self._fixed_len = fixed_len  # off-road legs + partial edges in metres

    def distance_m(self, which: npt.ArrayLike | None = None) -> FloatArray:
        """Metres along the fastest path for the origins `which` (all by default); NaN when unreachable."""
        idx = np.arange(len(self.eta_s)) if which is None else np.asarray(which, dtype=np.int64)
        out = self._fixed_len[idx].copy()
        entry = self._entry[idx]
        ok = np.isfinite(self.eta_s[idx])
        out[~ok] = np.nan
        walk = ok & (entry >= 0)
        out[walk] += self._path_length(entry[walk])
        return out

    def _path_length(self, nodes: IntArray) -> FloatArray:
        """Sum of edge lengths from each node to the incident, following Dijkstra's predecessors."""
        n = self.network.n_nodes
        total = np.zeros(len(nodes))
        cur = nodes.astype(np.int64).copy()
        active = np.flatnonzero(cur != n)
        r = self._routing
        inc = self.incident
        fwd_len, bwd_len = self.network.partial_lengths(inc)
        while active.size:
            x = cur[active]
            p = self._pred[x].astype(np.int64)
            virt = p == n
            real = ~virt
            keys = p[real] * (n + 1) + x[real]
            total[active[real]] += r.lengths[np.searchsorted(r.keys, keys)]
            if virt.any():
                xa = x[virt]
                total[active[virt]] += np.where(xa == inc.a[0], fwd_len[0], bwd_len[0])
            cur[active] = p
            active = active[p != n]
        return total


class RoadNetwork:
    """A directed road graph: node coordinates, edge arrays, streets for snapping, routing per profile."""

    def __init__(
        self,
        *,
        node_ids: npt.NDArray[Any],
        lon: FloatArray,
        lat: FloatArray,
        edge_u: IntArray,
        edge_v: IntArray,
        length_m: FloatArray,
        classes: Sequence[str],
        class_code: npt.NDArray[np.int32],
        maxspeed_kmh: FloatArray,
        street_geom_offsets: IntArray,
        street_geom_lon: FloatArray,
        street_geom_lat: FloatArray,
        street_a: IntArray,
        street_b: IntArray,
        street_fwd: IntArray,
        street_bwd: IntArray,
        source: str = "",
        piece_m: float = 50.0,
    ) -> None:
        self.node_ids = node_ids
        self.lon = lon
        self.lat = lat
        self.edge_u = edge_u
        self.edge_v = edge_v
        self.length_m = length_m
        self.classes = tuple(classes)
        self.class_code = class_code
        self.maxspeed_kmh = maxspeed_kmh
        self.street_geom_offsets = street_geom_offsets
        self.street_geom_lon = street_geom_lon
        self.street_geom_lat = street_geom_lat
        self.street_a = street_a
        self.street_b = street_b
        self.street_fwd = street_fwd
        self.street_bwd = street_bwd
        self.source = source
        self.piece_m = piece_m
        self.lat0 = float(np.mean(lat)) if len(lat) else 0.0
        self.lon0 = float(np.mean(lon)) if len(lon) else 0.0
        self._coslat0 = math.cos(math.radians(self.lat0))
        self._routing: dict[tuple[Any, ...], _Routing] = {}
        self._snap_index: _SnapIndex | None = None
        self._build_lock = threading.Lock()

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_arrays(
        cls,
        *,
        node_ids: npt.ArrayLike,
        lon: npt.ArrayLike,
        lat: npt.ArrayLike,
        edge_u: npt.ArrayLike,
        edge_v: npt.ArrayLike,
        length_m: npt.ArrayLike,
        classes: Sequence[str] = ("",),
        class_code: npt.ArrayLike | None = None,
        maxspeed_kmh: npt.ArrayLike | None = None,
        geometries: Sequence[FloatArray | None] | None = None,
        source: str = "",
        piece_m: float = 50.0,
    ) -> RoadNetwork:
        """Build a network from node arrays and directed edges (u, v are node positions, not ids).

        Self-loops are dropped; of parallel edges u→v the shortest is kept. `geometries[i]` is an
        (k, 2) lon/lat polyline from u to v for edge i, or None for a straight line.
        """
        lon_a = np.asarray(lon, dtype=np.float64)
        lat_a = np.asarray(lat, dtype=np.float64)
        n = len(lon_a)
        u = np.asarray(edge_u, dtype=np.int64)
        v = np.asarray(edge_v, dtype=np.int64)
        length = np.asarray(length_m, dtype=np.float64)
        m = len(u)
        code = np.zeros(m, np.int32) if class_code is None else np.asarray(class_code, dtype=np.int32)
        maxspeed = np.full(m, np.nan) if maxspeed_kmh is None else np.asarray(maxspeed_kmh, dtype=np.float64)
        if not (len(v) == m and len(length) == m and len(code) == m and len(maxspeed) == m):
            raise ValidationFailed("Panjang larik sisi jalan tidak sama.", code="invalid_network")
        if m and (u.min() < 0 or v.min() < 0 or u.max() >= n or v.max() >= n):
            raise ValidationFailed("Sisi jalan merujuk simpul yang tidak ada.", code="invalid_network")
        keep = (u != v) & np.isfinite(length) & (length >= 0)
        order = np.flatnonzero(keep)
        # dedupe parallel edges: sort by (u, v, length) and keep the first of each (u, v)
        order = order[np.lexsort((length[order], v[order], u[order]))]
        if order.size:
            pair = u[order] * n + v[order]
            first = np.ones(order.size, bool)
            first[1:] = pair[1:] != pair[:-1]
            order = order[first]
        u, v, length, code, maxspeed = u[order], v[order], length[order], code[order], maxspeed[order]
        length = np.maximum(length, 0.01)  # zero-length edges would make zero travel time; keep them tiny
        # streets: undirected pairs, a < b; fwd = edge a→b, bwd = edge b→a
        a = np.minimum(u, v)
        b = np.maximum(u, v)
        skey, inverse = np.unique(a * n + b, return_inverse=True)
        ns = len(skey)
        street_a = skey // max(n, 1)
        street_b = skey % max(n, 1)
        edge_idx = np.arange(len(u))
        is_fwd = u == a
        street_fwd = np.full(ns, -1, np.int64)
        street_bwd = np.full(ns, -1, np.int64)
        street_fwd[inverse[is_fwd]] = edge_idx[is_fwd]
        street_bwd[inverse[~is_fwd]] = edge_idx[~is_fwd]
        src_geom = [geometries[int(i)] for i in order] if geometries else None
        offsets, glon, glat = cls._street_geometry(
            lon_a, lat_a, street_a, street_b, street_fwd, street_bwd, src_geom
        )
        return cls(
            node_ids=np.asarray(node_ids),
            lon=lon_a,
            lat=lat_a,
            edge_u=u,
            edge_v=v,
            length_m=length,
            classes=classes,
            class_code=code,
            maxspeed_kmh=maxspeed,
            street_geom_offsets=offsets,
            street_geom_lon=glon,
            street_geom_lat=glat,
            street_a=street_a,
            street_b=street_b,
            street_fwd=street_fwd,
            street_bwd=street_bwd,
            source=source,
            piece_m=piece_m,
        )

    @staticmethod
    def _street_geometry(
        lon: FloatArray,
        lat: FloatArray,
        street_a: IntArray,
        street_b: IntArray,
        street_fwd: IntArray,
        street_bwd: IntArray,
        geoms: Sequence[FloatArray | None] | None,
    ) -> tuple[IntArray, FloatArray, FloatArray]:
        """Flattened polylines of every street from a to b (straight unless an edge brings a geometry)."""
        ns = len(street_a)
        if not geoms or all(g is None for g in geoms):
            offsets = np.arange(0, 2 * ns + 1, 2, dtype=np.int64)
            glon = np.empty(2 * ns)
            glat = np.empty(2 * ns)
            glon[0::2], glon[1::2] = lon[street_a], lon[street_b]
            glat[0::2], glat[1::2] = lat[street_a], lat[street_b]
            return offsets, glon, glat
        parts: list[FloatArray] = []
        for s in range(ns):
            g: FloatArray | None = None
            if street_fwd[s] >= 0 and geoms[street_fwd[s]] is not None:
                g = geoms[street_fwd[s]]
            elif street_bwd[s] >= 0 and geoms[street_bwd[s]] is not None:
                g = geoms[street_bwd[s]]
                g = None if g is None else g[::-1]
            if g is None or len(g) < 2:
                g = np.array([[lon[street_a[s]], lat[street_a[s]]], [lon[street_b[s]], lat[street_b[s]]]])
            parts.append(np.asarray(g, dtype=np.float64))
        lens = np.array([len(p) for p in parts], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
        flat = np.concatenate(parts) if parts else np.empty((0, 2))
        return offsets, flat[:, 0].copy(), flat[:, 1].copy()

    # ------------------------------------------------------------------ basics
    @property
    def n_nodes(self) -> int:
        """Number of graph nodes."""
        return len(self.lon)

    @property
    def n_edges(self) -> int:
        """Number of directed edges after dropping self-loops and parallel duplicates."""
        return len(self.edge_u)

    def project(self, lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
        """Equirectangular projection around the network's mean latitude, in metres."""
        lon_a = np.asarray(lon, dtype=np.float64)
        lat_a = np.asarray(lat, dtype=np.float64)
        x = np.radians(lon_a - self.lon0) * EARTH_RADIUS_M * self._coslat0
        y = np.radians(lat_a - self.lat0) * EARTH_RADIUS_M
        return x, y

    def unproject(self, x: FloatArray, y: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Inverse of `project`."""
        lon = self.lon0 + np.degrees(x / (EARTH_RADIUS_M * self._coslat0))
        lat = self.lat0 + np.degrees(y / EARTH_RADIUS_M)
        return lon, lat

    def bounds(self) -> tuple[float, float, float, float]:
        """(min lon, min lat, max lon, max lat) of the nodes."""
        return (float(self.lon.min()), float(self.lat.min()), float(self.lon.max()), float(self.lat.max()))

    def summary(self) -> dict[str, Any]:
        """Counts and extent, for logs and the API."""
        return {
            "source": self.source,
            "nodes": self.n_nodes,
            "edges": self.n_edges,
            "streets": len(self.street_a),
            "bounds": self.bounds() if self.n_nodes else None,
        }

    # ------------------------------------------------------------------ routing data per profile
    def edge_weights(self, profile: SpeedProfile) -> FloatArray:
        """Travel time (s) of every directed edge for a profile."""
        return self.routing(profile).weight_s

    def routing(self, profile: SpeedProfile) -> _Routing:
        """The reversed CSR graph of a profile, built once and cached."""
        key = profile.cache_key()
        cached = self._routing.get(key)
        if cached is not None:
            return cached
        with self._build_lock:
            cached = self._routing.get(key)
            if cached is None:
                cached = self._build_routing(profile)
                self._routing[key] = cached
        return cached

    def _build_routing(self, profile: SpeedProfile) -> _Routing:
        n = self.n_nodes
        speed = profile.edge_speeds_kmh(self.classes, self.class_code, self.maxspeed_kmh)
        weight = self.length_m / (speed / 3.6)
        # reversed edges v→u, rows sorted by (v, u); plus 2 slots for the virtual incident row n
        rows = self.edge_v
        cols = self.edge_u
        order = np.lexsort((cols, rows))
        rows, cols = rows[order], cols[order]
        counts = np.bincount(rows, minlength=n + 1)
        counts[n] = 2
        indptr = np.zeros(n + 2, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        index_dtype = np.int32 if n + 1 < 2**31 - 1 and len(rows) + 2 < 2**31 - 1 else np.int64
        indices = np.concatenate([cols, [n, n]]).astype(index_dtype)
        data = np.concatenate([weight[order], [0.0, 0.0]])
        matrix = sp.csr_matrix((data, indices, indptr.astype(index_dtype)), shape=(n + 1, n + 1))
        keys = rows * (n + 1) + cols
        return _Routing(weight_s=weight, matrix=matrix, keys=keys, lengths=self.length_m[order])

    def forward_matrix(self, profile: SpeedProfile, extra_rows: int = 0) -> sp.csr_matrix:
        """Forward CSR of travel times (for coverage), with optional empty virtual rows at the end."""
        n = self.n_nodes + extra_rows
        w = self.edge_weights(profile)
        return sp.csr_matrix((w, (self.edge_u, self.edge_v)), shape=(n, n))

    # ------------------------------------------------------------------ snapping
    def _snap_index_get(self) -> _SnapIndex:
        if self._snap_index is None:
            with self._build_lock:
                if self._snap_index is None:
                    self._snap_index = self._build_snap_index()
        return self._snap_index

    def _build_snap_index(self) -> _SnapIndex:
        off = self.street_geom_offsets
        ns = len(off) - 1
        if ns <= 0:
            raise ValidationFailed(
                "Jaringan jalan kosong: tidak ada ruas untuk snapping.", code="empty_network"
            )
        x, y = self.project(self.street_geom_lon, self.street_geom_lat)
        npts = len(x)
        vert_street = np.repeat(np.arange(ns), np.diff(off))
        seg = np.flatnonzero(vert_street[:-1] == vert_street[1:]) if npts > 1 else np.empty(0, np.int64)
        sx0, sy0 = x[seg], y[seg]
        sdx, sdy = x[seg + 1] - sx0, y[seg + 1] - sy0
        slen = np.hypot(sdx, sdy)
        sstreet = vert_street[seg]
        # cumulative length along each street at the start of every segment
        cum = np.cumsum(slen)
        street_start = np.zeros(ns)
        first_seg = np.searchsorted(sstreet, np.arange(ns))
        has = first_seg < len(sstreet)
        before = np.concatenate([[0.0], cum])
        street_start[has] = before[first_seg[has]]
        seg_cum0 = before[:-1] - street_start[sstreet]
        street_len = np.bincount(sstreet, weights=slen, minlength=ns).astype(np.float64)
        # split segments into pieces no longer than piece_m
        k = np.maximum(1, np.ceil(slen / self.piece_m).astype(np.int64))
        rep = np.repeat(np.arange(len(seg)), k)
        j = np.arange(len(rep)) - np.repeat(np.cumsum(k) - k, k)
        frac0 = j / k[rep]
        px0 = sx0[rep] + sdx[rep] * frac0
        py0 = sy0[rep] + sdy[rep] * frac0
        pdx = sdx[rep] / k[rep]
        pdy = sdy[rep] / k[rep]
        plen = slen[rep] / k[rep]
        pcum0 = seg_cum0[rep] + slen[rep] * frac0
        mid = np.column_stack([px0 + pdx / 2, py0 + pdy / 2])
        return _SnapIndex(
            tree=cKDTree(mid),
            street=sstreet[rep],
            x0=px0,
            y0=py0,
            dx=pdx,
            dy=pdy,
            cum0=pcum0,
            plen=plen,
            street_len=street_len,
            half_max=float(plen.max() / 2) if len(plen) else 0.0,
        )

    def snap(self, lon: npt.ArrayLike, lat: npt.ArrayLike) -> Snaps:
        """Snap points to the nearest point of the nearest street (exact, not nearest node)."""
        idx = self._snap_index_get()
        lon_a = np.atleast_1d(np.asarray(lon, dtype=np.float64))
        lat_a = np.atleast_1d(np.asarray(lat, dtype=np.float64))
        if not (np.isfinite(lon_a).all() and np.isfinite(lat_a).all()):
            raise ValidationFailed("Koordinat tidak valid (NaN/inf).", code="invalid_coordinates")
        qx, qy = self.project(lon_a, lat_a)
        q = len(qx)
        npieces = len(idx.street)
        k = min(8, npieces)
        d_mid, cand = idx.tree.query(np.column_stack([qx, qy]), k=k)
        d_mid = np.asarray(d_mid).reshape(q, k)
        cand = np.asarray(cand).reshape(q, k)
        best_piece, best_d, best_f = self._closest_piece(idx, qx[:, None], qy[:, None], cand)
        # certified when no piece outside the k candidates can be closer
        uncertain: Any = np.flatnonzero(best_d > d_mid[:, -1] - idx.half_max) if npieces > k else []
        for i in uncertain:
            ball = idx.tree.query_ball_point([qx[i], qy[i]], r=best_d[i] + idx.half_max + 1e-6)
            c = np.asarray(ball, dtype=np.int64)[None, :]
            p, d, f = self._closest_piece(idx, qx[i : i + 1, None], qy[i : i + 1, None], c)
            if d[0] < best_d[i]:
                best_piece[i], best_d[i], best_f[i] = p[0], d[0], f[0]
        street = idx.street[best_piece]
        along = idx.cum0[best_piece] + best_f * idx.plen[best_piece]
        slen = idx.street_len[street]
        t = np.where(slen > 0, np.clip(along / np.maximum(slen, 1e-12), 0.0, 1.0), 0.0)
        sx = idx.x0[best_piece] + best_f * idx.dx[best_piece]
        sy = idx.y0[best_piece] + best_f * idx.dy[best_piece]
        slon, slat = self.unproject(sx, sy)
        return Snaps(
            street=street.astype(np.int64),
            a=self.street_a[street],
            b=self.street_b[street],
            t=t,
            offroad_m=best_d,
            lon=slon,
            lat=slat,
        )

    @staticmethod
    def _closest_piece(
        idx: _SnapIndex, qx: FloatArray, qy: FloatArray, cand: IntArray
    ) -> tuple[IntArray, FloatArray, FloatArray]:
        """Exact closest of the candidate pieces (rows of `cand`) to each query point."""
        dx, dy = idx.dx[cand], idx.dy[cand]
        l2 = np.maximum(dx * dx + dy * dy, 1e-12)
        f = np.clip(((qx - idx.x0[cand]) * dx + (qy - idx.y0[cand]) * dy) / l2, 0.0, 1.0)
        d = np.hypot(idx.x0[cand] + f * dx - qx, idx.y0[cand] + f * dy - qy)
        j = np.argmin(d, axis=1)
        rows = np.arange(len(cand))
        return cand[rows, j].copy(), d[rows, j].copy(), f[rows, j].copy()

    def partial_lengths(self, snaps: Snaps) -> tuple[FloatArray, FloatArray]:
        """Metres from a to the snapped point along a→b, and from b to it along b→a (NaN if no such edge)."""
        fwd = self.street_fwd[snaps.street]
        bwd = self.street_bwd[snaps.street]
        fl = np.where(fwd >= 0, snaps.t * self.length_m[np.maximum(fwd, 0)], np.nan)
        bl = np.where(bwd >= 0, (1 - snaps.t) * self.length_m[np.maximum(bwd, 0)], np.nan)
        return fl, bl

    # ------------------------------------------------------------------ travel times
    def travel_times(
        self,
        profile: SpeedProfile,
        incident: tuple[float, float],
        origins_lon: npt.ArrayLike,
        origins_lat: npt.ArrayLike,
        *,
        limit_s: float | None = None,
        incident_snap: Snaps | None = None,
        origin_snaps: Snaps | None = None,
    ) -> TravelTimes:
        """Travel time of every origin to the incident by road: one Dijkstra on the reversed graph.

        The time includes the off-road legs (point ↔ nearest road) at the profile's off-road speed and
        the partial edges at both ends; `limit_s` stops the search early (origins beyond it get inf).
        Precomputed snaps of the incident / origins may be passed to avoid snapping again.
        """
        r = self.routing(profile)
        n = self.n_nodes
        inc = incident_snap if incident_snap is not None else self.snap([incident[0]], [incident[1]])
        org = origin_snaps if origin_snaps is not None else self.snap(origins_lon, origins_lat)
        s_fwd = int(self.street_fwd[inc.street[0]])
        s_bwd = int(self.street_bwd[inc.street[0]])
        t_inc = float(inc.t[0])
        w = r.weight_s
        limit = np.inf if limit_s is None else float(limit_s)
        off_speed = profile.offroad_kmh / 3.6
        with r.lock:
            slot = r.matrix.indptr[n]
            r.matrix.indices[slot] = inc.a[0] if s_fwd >= 0 else n
            r.matrix.data[slot] = t_inc * w[s_fwd] if s_fwd >= 0 else 0.0
            r.matrix.indices[slot + 1] = inc.b[0] if s_bwd >= 0 else n
            r.matrix.data[slot + 1] = (1 - t_inc) * w[s_bwd] if s_bwd >= 0 else 0.0
            node_time, pred = dijkstra(
                r.matrix, directed=True, indices=n, return_predecessors=True, limit=limit
            )
        node_time = np.asarray(node_time, dtype=np.float64)
        pred = np.asarray(pred, dtype=np.int32)
        # origins: leave the snapped point along a→b to b, or along b→a to a, or ride straight to the incident
        fwd = self.street_fwd[org.street]
        bwd = self.street_bwd[org.street]
        fwd_ok = fwd >= 0
        bwd_ok = bwd >= 0
        via_b = np.where(fwd_ok, (1 - org.t) * w[np.maximum(fwd, 0)] + node_time[org.b], np.inf)
        via_a = np.where(bwd_ok, org.t * w[np.maximum(bwd, 0)] + node_time[org.a], np.inf)
        len_b = np.where(fwd_ok, (1 - org.t) * self.length_m[np.maximum(fwd, 0)], 0.0)
        len_a = np.where(bwd_ok, org.t * self.length_m[np.maximum(bwd, 0)], 0.0)
        same = org.street == inc.street[0]
        direct = np.full(len(org), np.inf)
        direct_len = np.zeros(len(org))
        if same.any():
            if s_fwd >= 0:
                ok = same & (org.t <= t_inc)
                direct = np.where(ok, (t_inc - org.t) * w[s_fwd], direct)
                direct_len = np.where(ok, (t_inc - org.t) * self.length_m[s_fwd], direct_len)
            if s_bwd >= 0:
                ok = same & (org.t >= t_inc) & ((org.t - t_inc) * w[s_bwd] < direct)
                direct = np.where(ok, (org.t - t_inc) * w[s_bwd], direct)
                direct_len = np.where(ok, (org.t - t_inc) * self.length_m[s_bwd], direct_len)
        options = np.column_stack([via_b, via_a, direct])
        choice = np.argmin(options, axis=1)
        road = options[np.arange(len(org)), choice]
        entry = np.choose(choice, [org.b, org.a, np.full(len(org), -1)])
        partial = np.choose(choice, [len_b, len_a, direct_len])
        offroad_s = (org.offroad_m + inc.offroad_m[0]) / off_speed
        eta = road + offroad_s
        if limit_s is not None:
            eta = np.where(eta <= limit, eta, np.inf)
        fixed_len = org.offroad_m + inc.offroad_m[0] + partial
        return TravelTimes(self, r, node_time, pred, inc, org, eta, entry.astype(np.int64), fixed_len)


def haversine_m(
    lon1: npt.ArrayLike, lat1: npt.ArrayLike, lon2: npt.ArrayLike, lat2: npt.ArrayLike
) -> FloatArray:
    """Great-circle distance in metres (vectorised)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dphi = p2 - p1
    dl = np.radians(np.asarray(lon2, dtype=np.float64) - np.asarray(lon1, dtype=np.float64))
    h = np.sin(dphi / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return np.asarray(2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0))), dtype=np.float64)
