"""The operator case page shows what triage read (cues with the reporter's words, priority reason, other
issues) and lets an operator correct service and priority with a reason (issue 17)."""

from __future__ import annotations

from typing import Any

import pytest

from kotapintar.app.web import create_app
from kotapintar.cases.service import case_detail
from kotapintar.core.access.actors import channel_actor
from kotapintar.core.db.database import Database
from kotapintar.core.settings import Settings
from kotapintar.intake.submit import submit_report
from kotapintar.triage.corrections import triage_queue
from tests.helpers import CSRF_TOKEN, actor, report
from tests.helpers import web_client as client


@pytest.fixture
def app(db: Database, settings: Settings) -> Any:
    return create_app(settings, db=db)


def test_operator_sees_the_cue_words_and_priority_reason(app: Any, db: Database, settings: Settings) -> None:
    text = "banjir sudah sepinggang di rumah kami, ga bisa keluar, ada nenek sakit, tolong"
    result = submit_report(
        db, channel_actor("web"), report(service_code="auto", description=text), settings=settings
    )
    detail = case_detail(db, actor(db, "operator"), result.case_id)
    assert detail.priority == "P1"
    page = client(app, "operator").get(f"/operator/kasus/{result.case_id}").text
    assert "data-triage-panel" in page
    assert "terjebak: ga bisa keluar" in page
    assert "ancaman nyawa saat ini" in page


def test_operator_corrects_service_and_priority_with_a_reason(
    app: Any, db: Database, settings: Settings
) -> None:
    text = "persimpangan depan pasar rawan kecelakaan, mohon dipasang rambu"
    result = submit_report(
        db, channel_actor("web"), report(service_code="auto", description=text), settings=settings
    )
    c = client(app, "operator")
    url = f"/operator/kasus/{result.case_id}"
    page = c.get(url).text
    assert "data-triage-correction" in page
    found = CSRF_TOKEN.search(page)
    assert found
    token = found.group(1)
    refused = c.post(f"{url}/triase", data={"csrf_token": token, "service": "lalu_lintas", "priority": "P3"})
    assert refused.status_code == 422  # a reason is required (a validation refusal: the shared error map)
    done = c.post(
        f"{url}/triase",
        data={
            "csrf_token": token,
            "service": "lalu_lintas",
            "priority": "P4",
            "reason": "saran rambu, bukan laka",
        },
        follow_redirects=False,
    )
    assert done.status_code == 303
    detail = case_detail(db, actor(db, "operator"), result.case_id)
    assert detail.service_code == "lalu_lintas" and detail.priority == "P4"
    [corrected] = [e for e in detail.timeline if e.type == "triage_corrected"]
    assert corrected.payload["reason"] == "saran rambu, bukan laka"
    assert corrected.actor


def test_queue_item_carries_priority_reason_and_other_issues(db: Database, settings: Settings) -> None:
    unsure = settings.model_copy(update={"triage_review_threshold": 0.999})
    text = "jalan di gang kami berlubang besar, lampu jalannya mati sebulan, selokannya tersumbat"
    result = submit_report(
        db, channel_actor("web"), report(service_code="auto", description=text), settings=unsure
    )
    [item] = [i for i in triage_queue(db, actor(db, "operator")) if i.case_id == result.case_id]
    assert item.priority_reason == "tidak_pasti_alternatif"
    assert item.other_issues and item.service not in item.other_issues
    assert item.as_dict()["other_issues"] == item.other_issues
