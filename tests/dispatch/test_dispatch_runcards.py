"""Run cards: the shipped cards and the selection rules."""

from __future__ import annotations

import pytest

from kotapintar.core.errors import NotFound, ValidationFailed
from kotapintar.dispatch.engine import load_runcards
from kotapintar.dispatch.engine.runcards import Need, parse_runcards


def test_house_fire_needs_two_fire_trucks_an_ambulance_and_police() -> None:
    needs = load_runcards().needs_for("kebakaran", "P1")
    assert needs == (Need("fire_truck", 2), Need("ambulance", 1), Need("police_patrol", 1))


def test_traffic_accident_with_injuries_needs_ambulance_and_police() -> None:
    book = load_runcards()
    assert book.needs_for("kecelakaan", "P1", {"ada_korban": True}) == (
        Need("ambulance", 1),
        Need("police_patrol", 1),
    )
    assert book.needs_for("kecelakaan", "P1", {"ada_korban": False}) == (Need("police_patrol", 1),)
    # the most specific card wins: injured and trapped adds a fire truck for extrication
    trapped = book.select("kecelakaan", "P1", {"ada_korban": True, "terjebak": True})
    assert Need("fire_truck", 1) in trapped.needs


def test_priority_selects_the_card_and_unknown_service_has_none() -> None:
    book = load_runcards()
    assert book.select("darurat_medis", "P1").target_s == 480
    assert book.select("darurat_medis", "P3").target_s == 900
    with pytest.raises(NotFound) as err:
        book.select("jalan_rusak", "P3")
    assert err.value.code == "no_runcard"


@pytest.mark.parametrize(
    "card",
    [
        {"service": "bukan_layanan", "needs": [{"kind": "ambulance", "count": 1}]},
        {"service": "kebakaran", "needs": [{"kind": "ambulance", "count": 0}]},
        {"service": "kebakaran", "needs": []},
        {"service": "kebakaran", "priority": "P9", "needs": [{"kind": "ambulance"}]},
        {"service": "kebakaran", "needs": [{"kind": "Ambulans!"}]},
    ],
)
def test_invalid_cards_are_refused_on_load(card: dict[str, object]) -> None:
    with pytest.raises(ValidationFailed):
        parse_runcards({"runcards": [card]})
