"""Benchmark: recommend all units for one incident vs one scipy Dijkstra (lower bound) and per-unit networkx.

Usage: .venv/bin/python benchmarks/dispatch.py [--quick | --full] [--sizes 10000,100000]
Quick (default, CI smoke): the 10k-node network only. --full: 10k, 100k and 1M nodes. 500 units each.
The naive networkx approach (one shortest path per unit) is timed on a sample of units and extrapolated
to all 500 (labelled "extrapolated").
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import itertools
import math
import os
import statistics
import time

import networkx as nx
import numpy as np
from scipy.sparse.csgraph import dijkstra

from kotapintar.dispatch.engine import (
    RoadNetwork,
    UnitPosition,
    haversine_m,
    load_profiles,
    load_runcards,
    recommend_units,
)

CLASSES = ["residential", "tertiary", "secondary", "primary", "trunk", "living_street"]
CLASS_P = [0.60, 0.15, 0.10, 0.08, 0.04, 0.03]
N_UNITS = 500
KINDS = ["fire_truck"] * 150 + ["ambulance"] * 200 + ["police_patrol"] * 150


def generate_network(n_nodes: int, seed: int = 1) -> RoadNetwork:
    """A perturbed grid (~120 m blocks near Kapuas) with random road classes, one-ways and missing links."""
    rng = np.random.default_rng(seed)
    side = math.ceil(math.sqrt(n_nodes))
    spacing = 0.0011
    ii, jj = np.meshgrid(np.arange(side), np.arange(side), indexing="ij")
    lon = (114.0 + ii * spacing + rng.normal(0, spacing * 0.15, ii.shape)).ravel()
    lat = (-3.0 + jj * spacing + rng.normal(0, spacing * 0.15, ii.shape)).ravel()
    idx = (ii * side + jj).ravel()
    right = idx[(ii < side - 1).ravel()]
    up = idx[(jj < side - 1).ravel()]
    a = np.concatenate([right, up])
    b = np.concatenate([right + side, up + 1])
    keep = rng.random(len(a)) > 0.03  # a few missing links
    a, b = a[keep], b[keep]
    cls = rng.choice(len(CLASSES), size=len(a), p=CLASS_P).astype(np.int32)
    # arterials: every 10th row/column is primary/secondary
    arterial = ((a // side) % 10 == 0) & ((b // side) % 10 == 0) | ((a % side) % 10 == 0) & (
        (b % side) % 10 == 0
    )
    cls[arterial] = 3
    length = haversine_m(lon[a], lat[a], lon[b], lat[b]) * rng.uniform(1.0, 1.15, len(a))
    oneway = rng.random(len(a)) < 0.10
    flip = rng.random(len(a)) < 0.5
    fu = np.where(flip, b, a)
    fv = np.where(flip, a, b)
    two = ~oneway
    u = np.concatenate([fu, fv[two]])
    v = np.concatenate([fv, fu[two]])
    maxspeed = np.where(rng.random(len(a)) < 0.2, rng.choice([30.0, 40.0, 60.0], len(a)), np.nan)
    return RoadNetwork.from_arrays(
        node_ids=np.arange(len(lon)),
        lon=lon,
        lat=lat,
        edge_u=u,
        edge_v=v,
        length_m=np.concatenate([length, length[two]]),
        classes=CLASSES,
        class_code=np.concatenate([cls, cls[two]]),
        maxspeed_kmh=np.concatenate([maxspeed, maxspeed[two]]),
        piece_m=150.0,
    )


def timed(fn, repeat: int) -> float:  # type: ignore[no-untyped-def]
    """Median wall time of `repeat` calls, in seconds."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def run(n_nodes: int, naive_sample: int, repeat: int) -> dict[str, float]:
    """One size: build, warm up, then time recommend / scipy Dijkstra / networkx per-unit paths."""
    print(f"\n== {n_nodes:,} nodes (generated perturbed grid), {N_UNITS} units ==")
    t0 = time.perf_counter()
    net = generate_network(n_nodes)
    build = time.perf_counter() - t0
    rng = np.random.default_rng(7)
    nodes = rng.integers(0, net.n_nodes, N_UNITS + 1)
    jitter = rng.normal(0, 0.0002, (N_UNITS + 1, 2))
    incident = (float(net.lon[nodes[0]] + jitter[0, 0]), float(net.lat[nodes[0]] + jitter[0, 1]))
    units = [
        UnitPosition(
            f"U{i}",
            KINDS[i],
            "bench",
            float(net.lon[nodes[i + 1]] + jitter[i + 1, 0]),
            float(net.lat[nodes[i + 1]] + jitter[i + 1, 1]),
        )
        for i in range(N_UNITS)
    ]
    card = load_runcards().select("kebakaran", "P1")  # fire_truck ×2, ambulance, police_patrol
    profiles = load_profiles()
    t0 = time.perf_counter()
    rec = recommend_units(net, incident, units, card)  # warm: routing CSR per profile + snap index
    warm = time.perf_counter() - t0
    print(
        f"network: {net.n_nodes:,} nodes, {net.n_edges:,} edges; build {build:.2f} s; "
        f"first call (builds 3 profile graphs + snap index) {warm:.2f} s"
    )
    t_rec = timed(lambda: recommend_units(net, incident, units, card), repeat)
    # (a) lower bound: one scipy Dijkstra from one node on the same graph (ambulance weights), no snapping
    amb = profiles["ambulance"]
    fwd = net.forward_matrix(amb)
    src = int(nodes[0])
    t_dij = timed(lambda: dijkstra(fwd, directed=True, indices=src), repeat)
    # (b) naive: networkx shortest path per unit (unit node → incident node), on a sample, extrapolated
    t0 = time.perf_counter()
    g = nx.DiGraph()
    weights = {k: net.edge_weights(profiles[k]) for k in ("fire_truck", "ambulance", "police_patrol")}
    g.add_edges_from(
        (int(u), int(v), {"fire_truck": float(f), "ambulance": float(am), "police_patrol": float(p)})
        for u, v, f, am, p in zip(
            net.edge_u,
            net.edge_v,
            weights["fire_truck"],
            weights["ambulance"],
            weights["police_patrol"],
            strict=True,
        )
    )
    nx_build = time.perf_counter() - t0
    sample = rng.choice(N_UNITS, size=min(naive_sample, N_UNITS), replace=False)
    t0 = time.perf_counter()
    for i in sample:
        with contextlib.suppress(nx.NetworkXNoPath):
            nx.shortest_path_length(g, int(nodes[i + 1]), src, weight=KINDS[i])
    t_nx_sample = time.perf_counter() - t0
    t_nx = t_nx_sample / len(sample) * N_UNITS
    label = "measured" if len(sample) == N_UNITS else f"extrapolated from {len(sample)} units"
    del g
    gc.collect()
    sel = ", ".join(f"{k.kind}: {[c.unit_id for c in k.selected]}" for k in rec.kinds)
    print(f"recommendation: {sel}")
    print(f"recommend_units (3 kinds → 3 reversed Dijkstras + snapping + ranking): {t_rec * 1000:9.1f} ms")
    print(
        f"(a) one scipy Dijkstra, same graph (lower bound):                    {t_dij * 1000:9.1f} ms"
        f"   ratio recommend/(a) = {t_rec / t_dij:.2f}× (per profile {t_rec / t_dij / 3:.2f}×)"
    )
    print(
        f"(b) networkx shortest path per unit ×{N_UNITS} ({label}):"
        f" {t_nx * 1000:9.0f} ms   ratio (b)/recommend = {t_nx / t_rec:,.0f}×   (networkx graph build {nx_build:.1f} s)"
    )
    return {"n": float(net.n_nodes), "rec": t_rec, "dij": t_dij, "nx": t_nx}


def main() -> None:
    """Parse the options and run the sizes."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="10k nodes only (default)")
    mode.add_argument("--full", action="store_true", help="10k, 100k and 1M nodes")
    parser.add_argument("--sizes", help="comma-separated node counts (overrides --quick/--full)")
    args = parser.parse_args()
    full = args.full or os.environ.get("KOTAPINTAR_BENCH_FULL") == "1"
    sizes = (
        [int(s) for s in args.sizes.split(",")]
        if args.sizes
        else ([10_000, 100_000, 1_000_000] if full else [10_000])
    )
    samples = {10_000: 100, 100_000: 10, 1_000_000: 3}
    results = [run(n, samples.get(n, max(3, int(1e6 / n))), repeat=5 if n <= 100_000 else 3) for n in sizes]
    if len(results) > 1:
        print("\n== growth with graph size (time ∝ n^k) ==")
        for prev, cur in itertools.pairwise(results):
            f = math.log(cur["n"] / prev["n"])
            print(
                f"{int(prev['n']):>9,} → {int(cur['n']):>9,} nodes: recommend k={math.log(cur['rec'] / prev['rec']) / f:.2f}, "
                f"scipy Dijkstra k={math.log(cur['dij'] / prev['dij']) / f:.2f}, "
                f"networkx per-unit k={math.log(cur['nx'] / prev['nx']) / f:.2f}"
            )


if __name__ == "__main__":
    main()
