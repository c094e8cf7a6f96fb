"""Undoing a merge (issue 15, item 5): the case gets its reports back, returns to the status it had, its SOP
runs again from where the case was, the event log says so (`case_unmerged`), /analitik/akurasi counts it, and
`kotapintar check` and the projections audit stay clean."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from kotapintar.analytics import service as analytics
from kotapintar.app.web import create_app
from kotapintar.cases import service as case_service
from kotapintar.cases.models import Report
from kotapintar.cases.projections import check_projections
from kotapintar.cases.repository import TaskRepository
from kotapintar.core.access.actors import channel_actor
from kotapintar.core.db.database import Database
from kotapintar.core.errors import Conflict, PermissionDenied, ValidationFailed
from kotapintar.core.events.repository import case_stream
from kotapintar.core.settings import Settings
from kotapintar.intake.submit import submit_report
from kotapintar.sop.repository import SopRepository
from tests.helpers import DEMO_PASSWORD, actor, assert_invariants, report, spot
from tests.helpers import web_client as client

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _open(db: Database, n: int) -> int:
    return submit_report(db, channel_actor("web"), report(**spot(n))).case_id


def _reports(db: Database, case_id: int) -> list[int]:
    with db.reading() as uow:
        return list(
            uow.session.scalars(select(Report.id).where(Report.case_id == case_id).order_by(Report.id))
        )


def _tasks(db: Database, case_id: int) -> list[tuple[str, str, str]]:
    with db.reading() as uow:
        return [(t.step_id, t.agency_code, t.status) for t in uow.repo(TaskRepository).for_case(case_id)]


def _sop_status(db: Database, case_id: int) -> str:
    with db.reading() as uow:
        row = uow.repo(SopRepository).instance(case_id)
        assert row is not None
        return row.status


def test_unmerge_restores_reports_status_and_sop(db: Database) -> None:
    op = actor(db, "operator")
    survivor, assigned, fresh = _open(db, 0), _open(db, 3), _open(db, 6)
    case_service.assign_case(db, op, assigned, "pupr")
    own_reports = _reports(db, assigned)
    case_service.merge_case(db, op, assigned, survivor, reason="laporan yang sama")
    case_service.merge_case(db, op, fresh, survivor, reason="laporan yang sama")
    assert _reports(db, assigned) == [] and _sop_status(db, assigned) == "cancelled"

    back = case_service.unmerge_case(db, op, assigned, "bukan lubang yang sama, 300 m jauhnya")
    assert back.status == "assigned"
    assert _reports(db, assigned) == own_reports and set(own_reports).isdisjoint(_reports(db, survivor))
    assert _sop_status(db, assigned) == "running"
    # the SOP stands where the case stood: verified and disposed again, PUPR's task offered anew
    assert ("tanggapi", "pupr", "pending") in _tasks(db, assigned)
    assert case_service.unmerge_case(db, op, fresh, "laporan lain, bukan duplikat").status == "received"
    assert [s for s, _a, st in _tasks(db, fresh) if st == "pending"] == ["verifikasi"]

    with db.reading() as uow:
        events = [e for e in uow.events.stream_events(case_stream(assigned)) if e.type == "case_unmerged"]
        on_survivor = [e.type for e in uow.events.stream_events(case_stream(survivor))]
    assert events[0].payload["to"] == "assigned" and events[0].payload["report_ids"] == own_reports
    assert on_survivor.count("report_unmerged") == 2
    acc = analytics.accuracy(db, actor(db, "supervisor"), analytics.scope_of_days(1))
    assert acc.merges.get("case_merged") == 2 and acc.merges.get("case_unmerged") == 2
    assert_invariants(db)
    assert check_projections(db)[1] == []

    with pytest.raises(Conflict):  # not merged (any more)
        case_service.unmerge_case(db, op, assigned, "sekali lagi dibatalkan")
    case_service.merge_case(db, op, fresh, survivor)
    with pytest.raises(ValidationFailed):
        case_service.unmerge_case(db, op, fresh, "")
    with pytest.raises(PermissionDenied):
        case_service.unmerge_case(db, actor(db, "pupr.petugas"), fresh, "bukan duplikat sama sekali")


def test_operator_undoes_a_merge_on_the_case_page(db: Database, settings: Settings) -> None:
    op = actor(db, "operator")
    survivor, duplicate = _open(db, 0), _open(db, 3)
    case_service.merge_case(db, op, duplicate, survivor, reason="laporan yang sama")
    c = client(create_app(settings, db=db), "operator")
    page = c.get(f"/operator/kasus/{duplicate}").text
    assert "data-unmerge" in page and "Batalkan penggabungan" in page
    token = CSRF.search(page)
    assert token
    done = c.post(
        f"/operator/kasus/{duplicate}/pisah",
        data={"csrf_token": token.group(1), "reason": "beda lokasi, bukan duplikat"},
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"].endswith("?ok=pisah")
    assert case_service.case_detail(db, op, duplicate).status == "received"
    again = c.post(
        f"/operator/kasus/{duplicate}/pisah",
        data={"csrf_token": token.group(1), "reason": "beda lokasi, bukan duplikat"},
    )
    assert again.status_code == 409
    assert c.get("/analitik/akurasi").status_code == 403  # the accuracy page is the supervisor's
    # the same through the API (bearer token), as the merge is
    case_service.merge_case(db, op, duplicate, survivor)
    token_r = c.post("/api/v1/auth/token", data={"username": "operator", "password": DEMO_PASSWORD})
    bearer = {"Authorization": f"Bearer {token_r.json()['access_token']}"}
    assert (
        c.post(f"/api/v1/cases/{duplicate}/unmerge", json={"reason": "x"}, headers=bearer).status_code == 422
    )
    api = c.post(f"/api/v1/cases/{duplicate}/unmerge", json={"reason": "bukan duplikat"}, headers=bearer)
    assert api.status_code == 200 and api.json()["status"] == "received"
    shown = client(create_app(settings, db=db), "supervisor").get("/analitik/akurasi").text
    assert 'data-fig="case_unmerged">2<' in shown


def _informed(db: Database, case_id: int) -> list[str]:
    with db.reading() as uow:
        row = uow.repo(SopRepository).instance(case_id)
        assert row is not None
        return list(row.state.get("informed_agencies", []))


def test_unmerge_keeps_the_agencies_triage_informed(db: Database) -> None:
    """A house fire informs the police and PSC 119 (services.yaml); after its merge is undone the restarted
    SOP still informs them (the restart used to start with nobody informed)."""
    op = actor(db, "operator")
    survivor = _open(db, 0)
    fire = submit_report(
        db,
        channel_actor("web"),
        report(service_code="kebakaran", description="Rumah terbakar di gang Mawar, api besar.", **spot(9)),
    ).case_id
    informed = _informed(db, fire)
    assert {"polres", "psc119"} <= set(informed)
    case_service.merge_case(db, op, fire, survivor, reason="laporan yang sama")
    case_service.unmerge_case(db, op, fire, "kebakaran, bukan jalan rusak")
    assert _sop_status(db, fire) == "running"
    assert _informed(db, fire) == informed
