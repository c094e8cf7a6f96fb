"""The SOP runtime over HTTP: inbox with clocks, task commands, re-routing, SOP JSON/SVG and the SOP pages."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from kotapintar.app.reference import DEMO_PASSWORD
from kotapintar.app.web import create_app
from kotapintar.core.access.actors import system_actor
from kotapintar.core.db.database import Database
from kotapintar.core.settings import Settings
from kotapintar.sop.library import publish_shipped_sops

REPORT = {
    "service_code": "jalan_rusak",
    "description": "Jalan berlubang besar di depan pasar, sudah dua motor jatuh.",
    "lon": 114.39,
    "lat": -3.0,
    "channel": "api",
}


@pytest.fixture
def client(db: Database, settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings, db=db)) as c:
        yield c


def login(client: TestClient, username: str) -> dict[str, str]:
    r = client.post("/api/v1/auth/token", data={"username": username, "password": DEMO_PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def _inbox(client: TestClient, headers: dict[str, str]) -> list[dict[str, object]]:
    r = client.get("/api/v1/tasks/inbox", headers=headers)
    assert r.status_code == 200, r.text
    return list(r.json())


def test_complaint_runs_through_the_api_with_rejection_and_reroute(client: TestClient) -> None:
    case_id = client.post("/api/v1/reports", json=REPORT).json()["case_id"]
    op, pupr, dlh = login(client, "operator"), login(client, "pupr.petugas"), login(client, "dlh.petugas")
    mine = [i for i in _inbox(client, op) if i["task"]["case_id"] == case_id]  # type: ignore[index]
    assert [i["task"]["step_id"] for i in mine] == ["verifikasi"]  # type: ignore[index]
    assert 0 < mine[0]["seconds_left"] <= 9 * 24 * 3600 and mine[0]["late"] is False  # type: ignore[operator]
    verify_id = mine[0]["task"]["id"]  # type: ignore[index]
    r = client.post(f"/api/v1/tasks/{verify_id}/complete", headers=op, json={"outputs": {"lengkap": "ya"}})
    assert r.status_code == 422 and "lengkap" in r.text
    r = client.post(f"/api/v1/tasks/{verify_id}/complete", headers=op, json={"outputs": {"lengkap": True}})
    assert r.status_code == 200 and r.json()["status"] == "done"
    disp = next(i for i in _inbox(client, op) if i["task"]["case_id"] == case_id)  # type: ignore[index]
    client.post(f"/api/v1/tasks/{disp['task']['id']}/complete", headers=op, json={})  # type: ignore[index]
    answer = _inbox(client, pupr)[0]
    assert answer["answer_required"] is True and answer["case_ticket"]
    task_id = answer["task"]["id"]  # type: ignore[index]
    assert (
        client.post(
            f"/api/v1/tasks/{task_id}/reject",
            headers=dlh,
            json={"reason": "bukan kami ya", "suggested_agency": "pupr"},
        ).status_code
        == 404
    )
    r = client.post(f"/api/v1/tasks/{task_id}/reject", headers=pupr, json={"reason": "Saluran, bukan jalan"})
    assert r.status_code == 422
    r = client.post(
        f"/api/v1/tasks/{task_id}/reject",
        headers=pupr,
        json={"reason": "Saluran tersumbat, wewenang DLH", "suggested_agency": "dlh"},
    )
    assert r.status_code == 200 and r.json()["status"] == "rejected"
    assert (
        client.post(f"/api/v1/cases/{case_id}/reroute", headers=pupr, json={"agency_code": "dlh"}).status_code
        == 403
    )
    r = client.post(
        f"/api/v1/cases/{case_id}/reroute", headers=op, json={"agency_code": "dlh", "reason": "usulan PUPR"}
    )
    assert r.status_code == 200 and r.json()["agency_code"] == "dlh"
    dlh_task = _inbox(client, dlh)[0]
    assert dlh_task["task"]["step_id"] == "tanggapi"  # type: ignore[index]
    timeline = client.get(f"/api/v1/cases/{case_id}", headers=op).json()["timeline"]
    rejected = [e for e in timeline if e["type"] == "task_rejected"]
    assert rejected[0]["actor"] == "user:pupr.petugas" and rejected[0]["payload"]["suggested_agency"] == "dlh"
    progress = client.get(f"/api/v1/cases/{case_id}/sop", headers=op).json()
    steps = {s["step_id"]: s for s in progress["steps"]}
    assert steps["verifikasi"]["status"] == "done" and steps["tanggapi"]["status"] == "running"
    assert steps["tanggapi"]["agencies"] == ["dlh", "pupr"]
    page = client.get(f"/sop/case/{case_id}", headers=op)
    assert page.status_code == 200 and "berjalan" in page.text and "selesai" in page.text


def test_sop_library_json_svg_and_page(client: TestClient, db: Database) -> None:
    # The demo load published the library; the PostgreSQL fixture empties non-reference tables per test.
    publish_shipped_sops(db, system_actor("tests"))
    sops = client.get("/api/v1/sop").json()
    assert len(sops) == 22 and {"banjir", "jalan_rusak"} <= {s["code"] for s in sops}
    one = client.get("/api/v1/sop/banjir").json()
    assert one["version"] == 1 and one["spec"]["identitas"]["judul"] == "Penanganan Bencana Banjir"
    assert client.get("/api/v1/sop/nothing").status_code == 404
    svg = client.get("/api/v1/sop/banjir/flowchart/1.svg")
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    assert svg.text.startswith("<svg") and "BASARNAS" in svg.text.upper()
    page = client.get("/sop/banjir")
    assert page.status_code == 200
    assert "Penanganan Bencana Banjir" in page.text and "SOP/62.03/BPBD/003/2026" in page.text
    assert "/api/v1/sop/banjir/flowchart/1.svg?version=1" in page.text
    assert "<style" not in page.text.split("</head>")[1] and 'style="' not in page.text
    english = client.get("/sop/banjir?lang=en")
    assert "Legal basis" in english.text and "Dasar Hukum" not in english.text
    index = client.get("/sop")
    assert index.status_code == 200 and 'href="/sop/jalan_rusak"' in index.text


def test_sop_templates_have_no_inline_script_or_style() -> None:
    root = Path(__file__).resolve().parents[2] / "kotapintar" / "web" / "templates" / "sop"
    paths = sorted(root.glob("*.html"))
    assert len(paths) >= 2, f"no SOP templates found in {root}: the check would pass on nothing"
    for path in paths:
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"<script>|<style|style=\"|onclick=|javascript:", text), path
