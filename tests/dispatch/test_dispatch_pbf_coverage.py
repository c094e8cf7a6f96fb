"""OSM .osm.pbf import (file written with osmium's SimpleWriter) and coverage of regions."""

from __future__ import annotations

from pathlib import Path

import pytest
from shapely.geometry import box

from kotapintar.dispatch.engine import RoadNetwork, UnitPosition, compute_coverage, eta_table, load_network

osmium = pytest.importorskip("osmium")


def write_pbf(path: Path) -> None:
    """A T junction: a two-way residential street 1-2-3 and a one-way primary 3→4; a footway 1-5."""
    w = osmium.SimpleWriter(str(path))
    coords = {
        1: (114.000, -3.0),
        2: (114.001, -3.0),
        3: (114.002, -3.0),
        4: (114.002, -3.001),
        5: (114.0, -3.001),
    }
    for nid, loc in coords.items():
        w.add_node(osmium.osm.mutable.Node(id=nid, location=loc, version=1))
    w.add_way(osmium.osm.mutable.Way(id=10, nodes=[1, 2, 3], tags={"highway": "residential"}))
    w.add_way(
        osmium.osm.mutable.Way(
            id=11, nodes=[3, 4], tags={"highway": "primary", "oneway": "yes", "maxspeed": "50"}
        )
    )
    w.add_way(osmium.osm.mutable.Way(id=12, nodes=[1, 5], tags={"highway": "footway"}))
    w.close()


def test_pbf_builds_the_drivable_directed_graph(tmp_path: Path) -> None:
    p = tmp_path / "mini.osm.pbf"
    write_pbf(p)
    net = load_network(p)
    assert net.n_nodes == 4  # footway node 5 is not drivable
    assert net.n_edges == 5  # 1↔2, 2↔3, 3→4
    rows = eta_table(net, (114.002, -3.001), [("from_1", 114.0, -3.0)], profile="ambulance")
    assert rows[0].eta_s is not None
    # the one-way primary cannot be driven backwards: from node 4 to node 1 is unreachable
    back = eta_table(net, (114.0, -3.0), [("from_4", 114.002, -3.001)], profile="ambulance")
    assert back[0].eta_s is None


def test_coverage_lists_regions_no_unit_reaches_in_time(grid: RoadNetwork) -> None:
    units = [
        UnitPosition("A1", "ambulance", "psc119", 114.0, -3.0),
        UnitPosition("A2", "ambulance", "psc119", 114.004, -2.996, status="on_scene"),
    ]
    regions = {
        "62.03.01.1001": box(113.9995, -3.0005, 114.0005, -2.9995),  # around the unit
        "62.03.01.1002": box(114.0035, -2.9965, 114.0045, -2.9955),  # far corner
    }
    cov = compute_coverage(grid, units, target_s=60, kind="ambulance", regions=regions)
    assert cov.uncovered == ("62.03.01.1002",)
    assert cov.region_eta_s["62.03.01.1001"] is not None
    assert 0 < cov.covered_nodes < cov.total_nodes
    assert cov.area.contains(box(113.9999, -3.0001, 114.0001, -2.9999).centroid)
    assert not cov.area.contains(box(114.0039, -2.9961, 114.0041, -2.9959).centroid)
    # when the far unit is available too, everything is covered
    units[1] = UnitPosition("A2", "ambulance", "psc119", 114.004, -2.996)
    assert compute_coverage(grid, units, 60, kind="ambulance", regions=regions).uncovered == ()
    # straight-line coverage without a network is labelled as such
    straight = compute_coverage(None, units[:1], 60, kind="ambulance", regions=regions)
    assert straight.method == "straight_line" and straight.uncovered == ("62.03.01.1002",)
