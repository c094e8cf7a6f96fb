"""Recommendation travel times against an exact networkx shortest path on the real Balikpapan network."""

from __future__ import annotations

import itertools
from collections import defaultdict

import networkx as nx
import numpy as np
import pytest

from kotapintar.dispatch.engine import RoadNetwork, UnitPosition, eta_table, load_profiles, recommend_units
from kotapintar.dispatch.engine.runcards import Need


def reference_times(
    net: RoadNetwork, kind: str, incident: tuple[float, float], units: list[tuple[float, float]]
) -> tuple[list[float], list[float]]:
    """Exact (time, distance) per unit: networkx Dijkstra on the graph with every point inserted on its edge."""
    prof = load_profiles().for_kind(kind)
    w = net.edge_weights(prof)
    g = nx.DiGraph()
    for e in range(net.n_edges):
        g.add_edge(int(net.edge_u[e]), int(net.edge_v[e]), w=float(w[e]), length=float(net.length_m[e]))
    lons = [incident[0]] + [p[0] for p in units]
    lats = [incident[1]] + [p[1] for p in units]
    snaps = net.snap(lons, lats)
    on_street: dict[int, list[tuple[float, str]]] = defaultdict(list)
    names = ["P"] + [f"U{i}" for i in range(len(units))]
    for k, name in enumerate(names):
        on_street[int(snaps.street[k])].append((float(snaps.t[k]), name))
    for s, pts in on_street.items():
        pts.sort()
        a, b = int(net.street_a[s]), int(net.street_b[s])
        for edge, chain, fracs in (
            (int(net.street_fwd[s]), [a] + [p[1] for p in pts] + [b], [0.0] + [p[0] for p in pts] + [1.0]),
            (
                int(net.street_bwd[s]),
                [b] + [p[1] for p in reversed(pts)] + [a],
                [0.0] + [1 - p[0] for p in reversed(pts)] + [1.0],
            ),
        ):
            if edge < 0:
                continue
            for x, y, f0, f1 in zip(chain[:-1], chain[1:], fracs[:-1], fracs[1:], strict=True):
                df = f1 - f0
                g.add_edge(x, y, w=df * float(w[edge]), length=df * float(net.length_m[edge]))
    off_speed = prof.offroad_kmh / 3.6
    times, dists = [], []
    rev_time, rev_path = nx.single_source_dijkstra(g.reverse(copy=False), "P", weight="w")
    for k in range(1, len(names)):
        name = names[k]
        leg = (snaps.offroad_m[k] + snaps.offroad_m[0]) / off_speed
        if name not in rev_time:
            times.append(float("inf"))
            dists.append(float("nan"))
            continue
        path = list(reversed(rev_path[name]))
        length = sum(g[x][y]["length"] for x, y in itertools.pairwise(path))
        times.append(rev_time[name] + leg)
        dists.append(length + snaps.offroad_m[k] + snaps.offroad_m[0])
    return times, dists


def random_points(net: RoadNetwork, rng: np.random.Generator, n: int) -> list[tuple[float, float]]:
    """Points near the road network: a random node jittered by up to ~150 m."""
    idx = rng.integers(0, net.n_nodes, n)
    return [
        (float(net.lon[i] + rng.uniform(-0.0013, 0.0013)), float(net.lat[i] + rng.uniform(-0.0013, 0.0013)))
        for i in idx
    ]


@pytest.mark.parametrize("kind", ["ambulance", "fire_truck"])
def test_eta_matches_exact_shortest_path_on_balikpapan(kind: str, balikpapan: RoadNetwork) -> None:
    net = balikpapan
    rng = np.random.default_rng(20240601 if kind == "ambulance" else 7)
    for _ in range(10):
        incident = random_points(net, rng, 1)[0]
        pts = random_points(net, rng, 30)
        ref_t, ref_d = reference_times(net, kind, incident, pts)
        units = [UnitPosition(f"U{i}", kind, "psc119", x, y) for i, (x, y) in enumerate(pts)]
        rows = eta_table(net, incident, units, profile=kind)
        by_id = {r.id: r for r in rows}
        for i, (t, d) in enumerate(zip(ref_t, ref_d, strict=True)):
            row = by_id[f"U{i}"]
            if not np.isfinite(t):
                assert row.eta_s is None
                continue
            assert row.eta_s is not None and row.distance_m is not None
            assert abs(row.eta_s - t) < 1.0, (incident, pts[i], row, t)
            assert abs(row.distance_m - d) < 1.0 or abs(row.eta_s - t) < 1e-6
        # same order, ties aside: the k-th unit we rank has the k-th smallest exact time
        ours = [ref_t[int(r.id[1:])] for r in rows]
        assert np.allclose(ours, sorted(ref_t), atol=1.0)


def test_recommendation_ranks_units_like_exact_shortest_path(balikpapan: RoadNetwork) -> None:
    net = balikpapan
    rng = np.random.default_rng(99)
    for _ in range(10):
        incident = random_points(net, rng, 1)[0]
        pts = random_points(net, rng, 30)
        units = [UnitPosition(f"A{i}", "ambulance", "psc119", x, y) for i, (x, y) in enumerate(pts)]
        rec = recommend_units(net, incident, units, [Need("ambulance", 2)], max_candidates=None)
        ref_t, _ = reference_times(net, "ambulance", incident, pts)
        ranked = rec.kind("ambulance").candidates
        exact = sorted(t for t in ref_t if np.isfinite(t))
        assert len(ranked) == len(exact)
        for cand, t in zip(ranked, exact, strict=True):
            assert cand.eta_s is not None and abs(cand.eta_s - t) < 1.0
        assert [c.unit_id for c in rec.kind("ambulance").selected] == [c.unit_id for c in ranked[:2]]
