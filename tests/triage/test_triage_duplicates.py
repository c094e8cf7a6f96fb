"""Duplicates: many reports of one incident converge on one case; different nearby incidents do not."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from kotapintar.cases.repository import ReportRepository
from kotapintar.catalog.geo import metres_between
from kotapintar.core.access.actors import channel_actor
from kotapintar.core.db.database import Database
from kotapintar.core.settings import Settings
from kotapintar.intake.submit import submit_report
from kotapintar.triage.duplicates import (
    Candidate,
    cells_around,
    rank_duplicates,
    ring_size,
    score_candidate,
)
from tests.helpers import report

FIRE = (114.3790, -3.0045)  # Jalan Pemuda, Kuala Kapuas

# Forty people describe the same fire, each in their own words.
FIRE_TEXTS = [
    "kebakaran rumah di jl pemuda, api besar",
    "ADA KEBAKARAN DI JALAN PEMUDA!!! TOLONG DAMKAR",
    "rumah terbakar jln pemuda dket pasar, asap hitam",
    "tlg damkar, kebakaran di jl. pemuda gg 3",
    "api sdh besar di rumah kayu jl pemuda",
    "kebakaran jalan pemuda, warga panik",
    "rumah di pemuda kebakaran, damkar blm dtg",
    "pak ada kebakaran di jl pemuda sebelah toko",
    "kebakaran!! jl pemuda kuala kapuas",
    "asap tebal dan api di jalan pemuda, rumah terbakar",
    "katunuan rumah di jalan pemuda, lakasi",
    "rumah tatunu di jl pemuda, api ganal",
    "kebakaran rumah warga jalan pemuda, 2 rumah kena",
    "Assalamualaikum, ada kebakaran di Jl. Pemuda, mohon pemadam segera",
    "rumah terbakar di jl pemuda, tolong",
    "kebakaran di jalan pemuda dekat masjid",
    "api dari rumah di jl pemuda merembet ke sebelah",
    "jl pemuda kebakaran, mobil damkar susah masuk",
    "kebakaran besar jl pemuda",
    "ada rumah kebakaran di jalan pemuda pak",
    "kebakaran di jl pemuda, asapnya kelihatan dari jembatan",
    "tlg cepat damkar ke jl pemuda ada kebakaran",
    "rumah kayu di jalan pemuda terbakar habis",
    "kebakaran jln pemuda gang 3, warga siram pake ember",
    "ada api besar di jl pemuda, rumah terbakar",
    "kebakaran rumah jl pemuda",
    "KEBAKARAN RUMAH JL PEMUDA KUALA KAPUAS",
    "rumah terbakar jalan pemuda, listrik sdh dipadamkan",
    "jalan pemuda ada kebakaran rumah, tolong damkar",
    "kebakaran di jl pemuda dkt pasar kapuas",
    "mohon bantuan damkar, rumah terbakar di jl pemuda",
    "api kebakaran di jalan pemuda makin besar",
    "kebakaran rumah di gg 3 jl pemuda",
    "rumah warga terbakar di jalan pemuda tadi",
    "pemadam tolong ke jl pemuda, kebakaran rumah",
    "kebakaran di pemuda, asap hitam tinggi",
    "ada kebakaran rumah di jln pemuda kapuas",
    "rumah di jl pemuda kebakar, api msh nyala",
    "kebakaran jalan pemuda, warga butuh bantuan",
    "rumah terbakar di jl pemuda dkt toko emas",
]


def _near(point: tuple[float, float], rng: random.Random, metres: float) -> tuple[float, float]:
    """A point within about `metres` of `point` (0.00001 deg ~ 1.1 m)."""
    d = metres / 111_000
    return point[0] + rng.uniform(-d, d), point[1] + rng.uniform(-d, d)


def test_ring_covers_the_radius_from_anywhere_in_the_cell() -> None:
    rng = random.Random(3)
    for radius in (30.0, 100.0, 300.0, 2000.0, 3000.0):
        assert ring_size(radius) >= 1
        for _ in range(60):
            lon, lat = _near(FIRE, rng, 300)
            cells = set(cells_around(lon, lat, radius))
            for _ in range(10):
                angle = rng.uniform(0, 6.283)
                import math

                dx = radius * 0.99 * math.cos(angle) / (111_000 * math.cos(math.radians(lat)))
                dy = radius * 0.99 * math.sin(angle) / 111_000
                import h3

                assert h3.latlng_to_cell(lat + dy, lon + dx, 9) in cells


def test_score_prefers_same_words_close_by() -> None:
    at = datetime(2026, 11, 29, 8, tzinfo=UTC)
    base = Candidate(
        1, "kebakaran", FIRE[0], FIRE[1], "kebakaran rumah di jl pemuda", at - timedelta(minutes=10)
    )
    same = score_candidate("kebakaran", "rumah terbakar jalan pemuda", FIRE[0], FIRE[1], at, base, 300, 6)
    other = score_candidate(
        "kebakaran", "gudang kopra terbakar di pulau petak", FIRE[0], FIRE[1], at, base, 300, 6
    )
    assert same is not None and other is not None
    assert same.score > other.score
    far = score_candidate(
        "kebakaran", "kebakaran rumah di jl pemuda", FIRE[0] + 0.02, FIRE[1], at, base, 300, 6
    )
    assert far is None  # 2 km away: outside the radius
    old = Candidate(2, "kebakaran", FIRE[0], FIRE[1], "kebakaran", at - timedelta(hours=7))
    assert rank_duplicates("kebakaran", "kebakaran", FIRE[0], FIRE[1], at, [old], 300, 6) == []


def test_forty_reports_of_one_fire_converge_on_one_case(db: Database, settings: Settings) -> None:
    rng = random.Random(40)
    web = channel_actor("web")
    results = []
    for text in FIRE_TEXTS:
        lon, lat = _near(FIRE, rng, 120)
        results.append(
            submit_report(
                db,
                web,
                report(service_code="kebakaran", description=text, lon=lon, lat=lat),
                settings=settings,
            )
        )
    case_ids = {r.case_id for r in results}
    assert len(case_ids) == 1, f"{len(case_ids)} cases for one fire"
    assert sum(1 for r in results if r.merged_into) == len(FIRE_TEXTS) - 1
    with db.reading() as uow:
        assert len(uow.repo(ReportRepository).for_case(results[0].case_id)) == len(FIRE_TEXTS)


def test_a_fire_and_a_flood_200_m_apart_stay_two_cases(db: Database, settings: Settings) -> None:
    web = channel_actor("web")
    fire = submit_report(
        db,
        web,
        report(
            service_code="kebakaran", description="kebakaran rumah di jl pemuda", lon=FIRE[0], lat=FIRE[1]
        ),
        settings=settings,
    )
    flood_point = (FIRE[0] + 200 / 111_000, FIRE[1])
    assert 150 < metres_between(*FIRE, *flood_point) < 250
    flood = submit_report(
        db,
        web,
        report(
            service_code="banjir",
            description="banjir masuk rumah di jl pemuda, air selutut",
            lon=flood_point[0],
            lat=flood_point[1],
        ),
        settings=settings,
    )
    assert flood.case_id != fire.case_id
    assert flood.merged_into is None


def test_two_fires_2_km_apart_stay_two_cases(db: Database, settings: Settings) -> None:
    web = channel_actor("web")
    text = "kebakaran rumah, api besar, tolong damkar"
    first = submit_report(
        db,
        web,
        report(service_code="kebakaran", description=text, lon=FIRE[0], lat=FIRE[1]),
        settings=settings,
    )
    second_point = (FIRE[0] - 2000 / 111_000, FIRE[1])
    second = submit_report(
        db,
        web,
        report(service_code="kebakaran", description=text, lon=second_point[0], lat=second_point[1]),
        settings=settings,
    )
    assert second.case_id != first.case_id


def test_unrelated_words_close_by_are_only_suggested(db: Database, settings: Settings) -> None:
    web = channel_actor("web")
    first = submit_report(
        db,
        web,
        report(
            service_code="jalan_rusak",
            description="jalan berlubang besar di depan sdn 2 selat",
            lon=FIRE[0],
            lat=FIRE[1],
        ),
        settings=settings,
    )
    near = (FIRE[0] + 20 / 111_000, FIRE[1])
    second = submit_report(
        db,
        web,
        report(
            service_code="jalan_rusak",
            description="aspal mengelupas sepanjang gang, becek kalau hujan",
            lon=near[0],
            lat=near[1],
        ),
        settings=settings,
    )
    assert second.case_id != first.case_id  # not confident enough to merge
    with db.reading() as uow:
        events = [e for e in uow.events.for_case(second.case_id) if e.type == "triage_suggested"]
    assert events and events[0].payload["possible_duplicates"][0][0] == first.case_id
