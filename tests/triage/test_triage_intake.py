"""Triage in intake: urgency cues raise the priority, `auto` service, low confidence -> triage queue."""

from __future__ import annotations

from kotapintar.cases.service import case_detail
from kotapintar.core.access.actors import channel_actor
from kotapintar.core.db.database import Database
from kotapintar.core.settings import Settings
from kotapintar.intake.assess import assess_report
from kotapintar.intake.submit import submit_report
from kotapintar.triage.corrections import triage_queue
from tests.helpers import actor, report


def test_life_threat_cue_in_a_mundane_category_makes_a_p1_case(db: Database, settings: Settings) -> None:
    text = "sampah numpuk di pinggir sungai, tadi ada anak tenggelam waktu mau ambil bola"
    result = submit_report(
        db, channel_actor("web"), report(service_code="sampah", description=text), settings=settings
    )
    detail = case_detail(db, actor(db, "operator"), result.case_id)
    assert detail.service_code == "sampah" and detail.priority == "P1"
    suggested = [e for e in detail.timeline if e.type == "triage_suggested"]
    assert suggested and "tenggelam" in suggested[0].payload["cues"]
    calm = submit_report(
        db,
        channel_actor("web"),
        report(
            service_code="sampah",
            description="sampah numpuk di pinggir sungai, tidak ada korban",
            lon=114.45,
            lat=-2.985,
        ),
        settings=settings,
    )
    assert case_detail(db, actor(db, "operator"), calm.case_id).priority == "P3"  # the catalogue default


def test_auto_service_is_chosen_from_the_text(db: Database, settings: Settings) -> None:
    result = assess_report(
        db,
        report(service_code="auto", description="pohon besar tumbang menutup jalan, motor gk bisa lewat"),
        settings,
    )
    assert result.service.code == "pohon_tumbang"
    assert result.suggestions and result.suggestions[0][0] == "pohon_tumbang"
    assert len(result.suggestions) == 3


def test_low_confidence_goes_to_the_queue_with_three_suggestions(db: Database, settings: Settings) -> None:
    unsure = settings.model_copy(update={"triage_review_threshold": 0.999})
    result = submit_report(
        db,
        channel_actor("web"),
        report(service_code="auto", description="tolong pak ada masalah di depan rumah"),
        settings=unsure,
    )
    queue = triage_queue(db, actor(db, "operator"))
    item = next(i for i in queue if i.case_id == result.case_id)
    assert "low_confidence" in item.reasons
    assert len(item.suggestions) == 3
