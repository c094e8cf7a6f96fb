"""GraphML import, caching, speeds from road class / maxspeed, and snapping to the nearest edge."""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from kotapintar.dispatch.engine import RoadNetwork, load_network, load_profiles, read_graphml
from kotapintar.dispatch.engine.profiles import parse_highway, parse_maxspeed


def test_balikpapan_loads_fast_with_all_nodes_and_is_cached(balikpapan: RoadNetwork) -> None:
    t0 = time.perf_counter()
    fresh = read_graphml(balikpapan.source)
    assert time.perf_counter() - t0 < 2.0
    assert fresh.n_nodes == 1207
    # 2,683 directed edges in the file; parallel edges collapse to the shortest of each pair
    assert 2600 < fresh.n_edges <= 2683
    assert "residential" in fresh.classes and "trunk" in fresh.classes
    assert load_network(balikpapan.source) is balikpapan


def test_list_highway_and_maxspeed_strings_are_parsed() -> None:
    assert parse_highway("['primary', 'secondary']") == "primary"
    assert parse_highway("residential") == "residential"
    assert parse_maxspeed("40") == 40
    assert math.isclose(parse_maxspeed("40 mph"), 64.37376)
    assert parse_maxspeed("['40', '60']") == 50
    assert math.isnan(parse_maxspeed("none"))
    assert math.isnan(parse_maxspeed(None))


@given(st.integers(min_value=1, max_value=200))
def test_mph_is_always_converted_to_kmh(n: int) -> None:
    assert math.isclose(parse_maxspeed(f"{n} mph"), n * 1.609344)


GRAPHML = """<?xml version='1.0' encoding='utf-8'?>
<graphml xmlns="http://graphml.graphdrawing.org/xmlns">
  <key id="x" for="node" attr.name="x" attr.type="string"/>
  <key id="y" for="node" attr.name="y" attr.type="string"/>
  <key id="l" for="edge" attr.name="length" attr.type="string"/>
  <key id="h" for="edge" attr.name="highway" attr.type="string"/>
  <key id="m" for="edge" attr.name="maxspeed" attr.type="string"/>
  <key id="g" for="edge" attr.name="geometry" attr.type="string"/>
  <graph edgedefault="{default}">
    <node id="1"><data key="x">114.000</data><data key="y">-3.000</data></node>
    <node id="2"><data key="x">114.010</data><data key="y">-3.000</data></node>
    <node id="3"><data key="x">114.010</data><data key="y">-3.010</data></node>
    <edge source="1" target="2"><data key="l">1113.2</data><data key="h">['primary', 'secondary']</data>
      <data key="m">40 mph</data></edge>
    <edge source="2" target="3"><data key="h">residential</data>
      <data key="g">LINESTRING (114.010 -3.000, 114.012 -3.005, 114.010 -3.010)</data></edge>
  </graph>
</graphml>
"""


def test_small_graphml_speeds_geometry_and_undirected(tmp_path: Path) -> None:
    p = tmp_path / "mini.graphml"
    p.write_text(GRAPHML.format(default="directed"))
    net = read_graphml(p)
    assert net.n_edges == 2
    prof = load_profiles()["ambulance"]
    w = net.edge_weights(prof)
    e12 = int(np.flatnonzero((net.edge_u == 0) & (net.edge_v == 1))[0])
    # maxspeed 40 mph beats the primary class speed: 64.4 km/h × 1.1
    assert math.isclose(w[e12], 1113.2 / (40 * 1.609344 * prof.maxspeed_factor / 3.6), rel_tol=1e-9)
    e23 = int(np.flatnonzero((net.edge_u == 1) & (net.edge_v == 2))[0])
    # no length attribute: measured along the curved geometry, longer than the straight 1.1 km
    assert net.length_m[e23] > 1150
    # the curved geometry is used for snapping: a point near its bend snaps onto it
    s = net.snap([114.0119], [-3.005])
    assert s.offroad_m[0] < 15
    undirected = tmp_path / "undirected.graphml"
    undirected.write_text(GRAPHML.format(default="undirected"))
    assert read_graphml(undirected).n_edges == 4


def test_snap_is_the_exact_nearest_point_of_any_edge(balikpapan: RoadNetwork) -> None:
    net = balikpapan
    x, y = net.project(net.street_geom_lon, net.street_geom_lat)
    off = net.street_geom_offsets
    lines = shapely.linestrings(
        np.column_stack([x, y]), indices=np.repeat(np.arange(len(off) - 1), np.diff(off))
    )
    rng = np.random.default_rng(5)
    b = net.bounds()
    lon = rng.uniform(b[0], b[2], 300)
    lat = rng.uniform(b[1], b[3], 300)
    snaps = net.snap(lon, lat)
    px, py = net.project(lon, lat)
    pts = shapely.points(px, py)
    tree = shapely.STRtree(lines)
    _, dist = tree.query_nearest(pts, return_distance=True, all_matches=False)
    assert np.allclose(snaps.offroad_m, dist, atol=0.01)


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=0, max_value=10_000), st.floats(min_value=0.0, max_value=1.0))
def test_a_point_on_a_street_snaps_onto_it(balikpapan: RoadNetwork, street_seed: int, t: float) -> None:
    net = balikpapan
    s = street_seed % len(net.street_a)
    a, b = net.street_geom_offsets[s], net.street_geom_offsets[s + 1]
    # a point on the first segment of the street polyline
    lon = net.street_geom_lon[a] + t * (net.street_geom_lon[a + 1] - net.street_geom_lon[a])
    lat = net.street_geom_lat[a] + t * (net.street_geom_lat[a + 1] - net.street_geom_lat[a])
    snap = net.snap([lon], [lat])
    assert snap.offroad_m[0] < 0.01
    assert b - a >= 2
