"""Dispatch moves the SOP: sending units completes the disposition and dispatch steps and starts the informed
agencies' support tasks; the unit on scene completes the arrival step (issue 14, item 3)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from kotapintar.cases.repository import TaskRepository
from kotapintar.core.access.actors import system_actor
from kotapintar.core.db.database import Database
from kotapintar.core.events.types import utcnow
from kotapintar.core.settings import Settings
from kotapintar.dispatch import calls as call_service
from kotapintar.dispatch import recommendation as recommendation_service
from kotapintar.dispatch import units as unit_service
from kotapintar.dispatch.schemas import CallIn, ClassifyIn, DispatchIn
from kotapintar.sop.repository import SopRepository
from tests.helpers import KUALA_KAPUAS, actor, assert_invariants


@pytest.fixture
def units_home(db: Database) -> None:
    unit_service.reset_units(db, system_actor("tests"))


def _fire_case(db: Database, settings: Settings) -> int:
    op = actor(db, "operator")
    t0 = utcnow() - timedelta(seconds=40)
    call = call_service.receive_call(
        db, op, CallIn(caller_number="+6281299887766", received_at=t0, answered=False)
    )
    call_service.answer_call(db, op, call.id, at=t0 + timedelta(seconds=5))
    done = call_service.classify_call(
        db,
        op,
        call.id,
        ClassifyIn(
            classification="genuine", service_code="kebakaran", lon=KUALA_KAPUAS[0], lat=KUALA_KAPUAS[1]
        ),
        settings=settings,
    )
    assert done.case_id is not None
    return done.case_id


def _steps(db: Database, case_id: int) -> dict[str, str]:
    with db.reading() as uow:
        row = uow.repo(SopRepository).instance(case_id)
        assert row is not None
        return {step_id: st["status"] for step_id, st in row.state["steps"].items()}


def _tasks(db: Database, case_id: int) -> list[tuple[str, str, str]]:
    with db.reading() as uow:
        return [(t.step_id, t.agency_code, t.status) for t in uow.repo(TaskRepository).for_case(case_id)]


def test_a_house_fire_dispatch_and_arrival_move_its_sop(
    db: Database, settings: Settings, units_home: None
) -> None:
    op = actor(db, "operator")
    case_id = _fire_case(db, settings)
    before = _steps(db, case_id)
    assert before["disposisi"] == "active" and before["berangkatkan_unit"] == "idle"

    result = recommendation_service.dispatch_units(db, op, case_id, DispatchIn(), settings=settings)
    steps = _steps(db, case_id)
    assert steps["disposisi"] == "done" and steps["berangkatkan_unit"] == "done"
    assert steps["tiba_di_lokasi"] == "active" and steps["dukungan"] == "active"
    tasks = _tasks(db, case_id)
    support = {agency for step, agency, status in tasks if step == "dukungan" and status == "pending"}
    with db.reading() as uow:
        instance = uow.repo(SopRepository).instance(case_id)
        assert instance is not None
        informed = set(instance.state["informed_agencies"])
    # the catalogue's informed agencies of a fire (routing may add more)
    assert {"polres", "psc119"} <= informed
    assert support == informed  # one support task for each informed agency
    assert ("berangkatkan_unit", "damkar", "done") in tasks

    first = result.units[0]
    board = {u.code: u for u in unit_service.unit_board(db, op)}
    crew = unit_service.unit_actor(first, board[first].agency_code)
    unit_service.change_unit_status(db, crew, first, "en_route")
    assert _steps(db, case_id)["tiba_di_lokasi"] == "active"  # en route is not arrival
    unit_service.change_unit_status(db, crew, first, "on_scene", lon=114.39, lat=-3.0)
    assert _steps(db, case_id)["tiba_di_lokasi"] == "done"
    assert ("tiba_di_lokasi", "damkar", "done") in _tasks(db, case_id)
    assert_invariants(db)


def test_a_second_dispatch_and_units_without_an_sop_step_change_nothing(
    db: Database, settings: Settings, units_home: None
) -> None:
    op = actor(db, "operator")
    case_id = _fire_case(db, settings)
    recommendation_service.dispatch_units(db, op, case_id, DispatchIn(), settings=settings)
    after_first = _tasks(db, case_id)
    spare = next(
        u.code for u in unit_service.unit_board(db, op) if u.status == "available" and u.kind == "ambulance"
    )
    recommendation_service.dispatch_units(
        db,
        op,
        case_id,
        DispatchIn(units=[spare], override_reason="ambulans tambahan untuk korban"),
        settings=settings,
    )
    assert _tasks(db, case_id) == after_first
    assert_invariants(db)


def test_an_outside_body_sees_the_case_its_unit_was_sent_to_and_its_units_crew_page(
    db: Database, settings: Settings, units_home: None
) -> None:
    """Polres is not informed of a medical emergency, but once its patrol POL-01 is sent there its liaison
    sees the case and works POL-01's crew page; another body's liaison still sees nothing (issue 14, item 5)."""
    from fastapi.testclient import TestClient

    from kotapintar.app.web import create_app
    from kotapintar.cases import service as case_service
    from kotapintar.core.errors import NotFound
    from tests.helpers import web_client

    op = actor(db, "operator")
    call = call_service.receive_call(db, op, CallIn(caller_number="+6281299887766", answered=True))
    done = call_service.classify_call(
        db,
        op,
        call.id,
        ClassifyIn(
            classification="genuine", service_code="darurat_medis", lon=KUALA_KAPUAS[0], lat=KUALA_KAPUAS[1]
        ),
        settings=settings,
    )
    assert done.case_id is not None
    liaison = actor(db, "polres.liaison")
    with pytest.raises(NotFound):
        case_service.case_detail(db, liaison, done.case_id)
    recommendation_service.dispatch_units(
        db,
        op,
        done.case_id,
        DispatchIn(units=["POL-01"], override_reason="patroli terdekat mengawal"),
        settings=settings,
    )
    assert case_service.case_detail(db, liaison, done.case_id).id == done.case_id
    with pytest.raises(NotFound):
        case_service.case_detail(db, actor(db, "pln.liaison"), done.case_id)
    app = create_app(settings, db=db)
    assert web_client(app, "polres.liaison").get("/unit/POL-01").status_code == 200
    assert web_client(app, "pln.liaison").get("/unit/POL-01").status_code == 403
    assert TestClient(app).get("/unit/POL-01").status_code in (401, 403)
