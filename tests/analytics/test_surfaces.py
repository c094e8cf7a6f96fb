"""Every surface shows the same figures of the hand-built history (tests/analytics/history.py):
/supervisor, the public scoreboard on /beranda, the API and /analitik (issue 15)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from kotapintar.app.web import create_app
from kotapintar.core.db.database import Database
from kotapintar.core.events.types import utcnow
from kotapintar.core.settings import Settings
from tests.analytics.history import Built, build
from tests.helpers import web_client as client


@pytest.fixture
def history(db: Database, settings: Settings) -> tuple[Any, Built]:
    """The app over the history."""
    built = build(db, utcnow())
    return create_app(settings, db=db), built


def figures(html: str, marker: str) -> dict[str, str]:
    """The data-fig cells (their text, tags stripped) of the row carrying `marker`."""
    start = html.index(marker)
    row = html[start : html.index("</tr>", start)]
    cells = re.findall(r'data-fig="([a-z0-9_]+)">(.*?)</td>', row, flags=re.S)
    return {name: re.sub(r"<[^>]+>", "", text).strip() for name, text in cells}


PUPR = {
    "open_now": "4",
    "late_now": "3",
    "tasks": "8",
    "late": "3",
    "on_time": "75 %",
    "accept_median": "20 menit",
    "accept_p90": "30 menit",
    "accept_within": "100 %",
    "complete_median": "4 jam",
    "complete_p90": "2 hari 18 jam",
}


def test_supervisor_page_shows_the_figures(history: tuple[Any, Built]) -> None:
    """The supervisor's table: backlog (escalated counted), period late and on time, medians and p90s."""
    app, _ = history
    page = client(app, "supervisor").get("/supervisor?hari=30").text
    assert figures(page, 'data-agency="pupr"') == PUPR
    assert 'href="/supervisor/terlambat?instansi=pupr"' in page
    assert figures(page, 'data-agency="dlh"')["on_time"] == "—"
    late = client(app, "supervisor").get("/supervisor/terlambat?instansi=pupr").text
    assert late.count('href="/operator/kasus/') == 3  # C, F2 and OLD: the rows behind "late now"
    assert "Tugas yang dibuat dalam periode ini" in page  # each figure's definition next to it


def test_public_scoreboard_agrees(history: tuple[Any, Built]) -> None:
    """The public board shows the same tasks, late and on-time share, and the public resolve median."""
    app, _ = history
    page = client(app).get("/beranda?hari=30").text
    assert figures(page, 'data-agency="pupr"') == {
        "tasks": "8",
        "late": "3",
        "on_time": "75 %",
        "resolved": "1",
        "median_resolve": "2 jam",
    }


def test_api_agrees(history: tuple[Any, Built]) -> None:
    """The API gives the same numbers, unrounded, with the definitions."""
    app, built = history
    c = client(app, "supervisor")
    body = c.get("/api/v1/analitik/tugas", params={"by": "agency", "hari": 30}).json()
    pupr = next(g for g in body["groups"] if g["key"] == "pupr")
    assert (pupr["tasks"], pupr["late"], pupr["on_time_share"], pupr["late_now"]) == (8, 3, 0.75, 3)
    assert (pupr["accept"]["median_s"], pupr["complete"]["median_s"]) == (1200, 14400)
    assert "escalated" in body["definitions"]["late"]
    channel = {g["key"]: g for g in c.get("/api/v1/analitik/tugas?by=channel&instansi=pupr").json()["groups"]}
    assert (channel["sms"]["tasks"], channel["sms"]["late"], channel["sms"]["on_time_share"]) == (2, 1, None)
    scene = c.get("/api/v1/analitik/waktu-tanggap?by=service").json()
    fire = next(g for g in scene["groups"] if g["key"] == "kebakaran")["segments"]["total"]
    assert (fire["median_s"], fire["p90_s"], fire["within_share"], fire["target_s"]) == (
        812.5,
        982.5,
        0.5,
        900,
    )
    assert c.get("/api/v1/analitik/tugas?by=planet").status_code == 422
    officer = client(app, "pupr.petugas")
    assert officer.get("/api/v1/analitik/tugas?instansi=pupr").status_code == 200
    assert officer.get("/api/v1/analitik/tugas").status_code == 403
    assert built.case_ids["K"]


def test_analytics_page_agrees_and_draws_without_javascript(history: tuple[Any, Built]) -> None:
    """/analitik: the league row equals the supervisor's, the channel breakdown, SVG charts, time to scene
    with each incident linked to its segments, hotspots; supervisors only."""
    app, built = history
    c = client(app, "supervisor")
    page = c.get("/analitik?hari=30").text
    league = page[page.index("data-league") :]
    assert figures(league, 'data-agency="pupr"') == PUPR
    assert figures(page, 'data-key="sms"') == {"tasks": "2", "late": "1", "on_time": "—"}
    assert "<svg" in page and "<script" not in page.split("<main", 1)[-1].split("</main>", 1)[0]
    assert f'href="/112/kasus/{built.case_ids["K"]}"' in page
    fire = page[page.index('data-service="kebakaran"') :]
    fire = fire[: fire.index("</tr>")]
    assert "13,5 mnt / 16,4 mnt / 50 %" in fire  # total: median 812,5 s, p90 982,5 s, 1 of 2 within 15 min
    assert client(app, "operator").get("/analitik").status_code == 403
    accuracy = c.get("/analitik/akurasi?hari=30").text
    assert 'data-fig="case_merged">0<' in accuracy and "Kasus publik" in accuracy
