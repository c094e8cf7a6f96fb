"""Recommendation on a small grid: ranking, availability, mutual aid, overrides, straight-line fallback."""

from __future__ import annotations

import pytest

from kotapintar.core.errors import Conflict, NotFound, ValidationFailed
from kotapintar.dispatch.engine import (
    METHOD_ROAD,
    METHOD_STRAIGHT,
    RoadNetwork,
    UnitPosition,
    eta_table,
    load_runcards,
    recommend_units,
)
from kotapintar.dispatch.engine.runcards import Need

LON0, LAT0, D = 114.0, -3.0, 0.001  # grid of conftest.grid: 5×5 nodes, ~111 m apart


def at(i: float, j: float) -> tuple[float, float]:
    return (LON0 + i * D, LAT0 + j * D)


def unit(uid: str, kind: str, i: float, j: float, **kw: object) -> UnitPosition:
    lon, lat = at(i, j)
    return UnitPosition(uid, kind, str(kw.pop("agency", "damkar")), lon, lat, **kw)  # type: ignore[arg-type]


def test_house_fire_sends_nearest_units_of_each_kind(grid: RoadNetwork) -> None:
    card = load_runcards().select("kebakaran", "P1")
    units = [
        unit("F-far", "fire_truck", 4, 4),
        unit("F-near", "fire_truck", 0, 1),
        unit("F-mid", "fire_truck", 2, 2),
        unit("F-busy", "fire_truck", 0, 0, status="dispatched"),
        unit("A1", "ambulance", 3, 0, agency="psc119"),
        unit("P1", "police_patrol", 1, 1, agency="polres"),
    ]
    rec = recommend_units(grid, at(0, 0), units, card)
    assert rec.method == METHOD_ROAD
    fire = rec.kind("fire_truck")
    assert [c.unit_id for c in fire.selected] == ["F-near", "F-mid"]
    assert "F-busy" not in [c.unit_id for c in fire.candidates]
    assert [c.unit_id for c in rec.kind("ambulance").selected] == ["A1"]
    assert [c.unit_id for c in rec.kind("police_patrol").selected] == ["P1"]
    near = fire.selected[0]
    # ~111 m on a residential street at 20 km/h
    assert near.eta_s is not None and 15 < near.eta_s < 30
    assert near.distance_m is not None and 100 < near.distance_m < 125
    assert "perkiraan tiba" in near.explanation and "damkar" in near.explanation
    assert "jaringan jalan" in near.explanation
    assert rec.notices == []


def test_mutual_aid_is_shown_when_no_local_unit_is_within_target(grid: RoadNetwork) -> None:
    units = [
        unit("A-local", "ambulance", 4, 4),
        unit("A-aid", "ambulance", 1, 0, agency="rsud_tetangga", mutual_aid=True),
    ]
    rec = recommend_units(grid, at(0, 0), units, [Need("ambulance", 1)], target_s=60)
    part = rec.kind("ambulance")
    assert [c.unit_id for c in part.selected] == ["A-local"]
    assert [c.unit_id for c in part.mutual_aid] == ["A-aid"]
    assert part.notice is not None
    assert "Tidak ada ambulans kabupaten" in part.notice and "A-aid" in part.notice
    # with a generous target, no notice
    assert recommend_units(grid, at(0, 0), units, [Need("ambulance", 1)], target_s=3600).notices == []


def test_shortfall_is_filled_from_mutual_aid(grid: RoadNetwork) -> None:
    units = [unit("A-aid", "ambulance", 1, 0, mutual_aid=True)]
    part = recommend_units(grid, at(0, 0), units, [Need("ambulance", 2)]).kind("ambulance")
    assert [c.unit_id for c in part.selected] == ["A-aid"]
    assert part.shortfall == 1
    assert part.notice is not None


def test_override_needs_a_reason_and_a_candidate(grid: RoadNetwork) -> None:
    units = [unit("A1", "ambulance", 1, 0), unit("A2", "ambulance", 2, 0), unit("A3", "ambulance", 3, 0)]
    rec = recommend_units(grid, at(0, 0), units, [Need("ambulance", 1)])
    assert rec.selected_unit_ids() == ["A1"]
    with pytest.raises(ValidationFailed):
        rec.override("ambulance", "A3", "  ")
    with pytest.raises(NotFound):
        rec.override("ambulance", "X9", "kru lebih berpengalaman")
    with pytest.raises(Conflict):
        rec.override("ambulance", "A1", "kru lebih berpengalaman")
    new = rec.override("ambulance", "A3", "A1 sedang mengisi bahan bakar")
    assert new.selected_unit_ids() == ["A3"]
    assert new.overrides[0].replaced_unit_id == "A1"
    assert new.overrides[0].reason == "A1 sedang mengisi bahan bakar"
    assert rec.selected_unit_ids() == ["A1"]  # the original is unchanged
    assert new.to_dict()["overrides"][0]["unit_id"] == "A3"


def test_without_network_the_estimate_is_labelled_straight_line() -> None:
    units = [unit("A1", "ambulance", 1, 0), unit("A2", "ambulance", 3, 0)]
    rec = recommend_units(None, at(0, 0), units, [Need("ambulance", 1)])
    assert rec.method == METHOD_STRAIGHT
    c = rec.kind("ambulance").selected[0]
    assert c.unit_id == "A1" and c.method == METHOD_STRAIGHT
    assert "garis lurus" in c.explanation
    # 111 m × 1.4 detour at 35 km/h
    assert c.distance_m is not None and 150 < c.distance_m < 160
    assert c.eta_s is not None and abs(c.eta_s - c.distance_m / (35 / 3.6)) < 1e-6


def test_rescue_boat_moves_in_a_straight_line_even_with_a_network(grid: RoadNetwork) -> None:
    rows = eta_table(grid, at(0, 0), [("B1", *at(2, 2))], profile="rescue_boat")
    assert rows[0].method == METHOD_STRAIGHT


def test_units_on_the_same_street_ride_directly(grid: RoadNetwork) -> None:
    # incident and unit on the street from node (0,0) to (1,0): 30 % and 70 % along it
    rows = eta_table(grid, at(0.3, 0), [("U", *at(0.7, 0)), ("V", *at(0, 1))], profile="default")
    assert rows[0].id == "U"
    assert rows[0].distance_m is not None and abs(rows[0].distance_m - 0.4 * 111.3) < 2


def test_eta_table_orders_nearest_first_and_unreachable_last() -> None:
    import numpy as np

    # two separate streets: units on the other one cannot reach the incident
    net = RoadNetwork.from_arrays(
        node_ids=[1, 2, 3, 4],
        lon=[114.0, 114.001, 114.1, 114.101],
        lat=[-3.0, -3.0, -3.0, -3.0],
        edge_u=[0, 1, 2, 3],
        edge_v=[1, 0, 3, 2],
        length_m=np.array([111.0, 111.0, 111.0, 111.0]),
    )
    rows = eta_table(
        net, (114.0, -3.0), [("far", 114.1005, -3.0), ("b", 114.001, -3.0), ("a", 114.0005, -3.0)]
    )
    assert [r.id for r in rows] == ["a", "b", "far"]
    assert rows[-1].eta_s is None and rows[-1].distance_m is None


def test_invalid_incident_is_refused(grid: RoadNetwork) -> None:
    with pytest.raises(ValidationFailed):
        eta_table(grid, (float("nan"), 0.0), [])
