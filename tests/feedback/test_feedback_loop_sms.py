"""The answer loop over SMS, through the real SMS webhook: the answer arrives with an absolute link, the
reporter disputes (the SOP reopens the case, not a new report), confirms, then rates the service 1–4."""

from __future__ import annotations

import re

import httpx

from kotapintar.channels.adapters.outbound import ConsoleGateway
from kotapintar.channels.notifier import notify_once
from kotapintar.core.db.database import Database
from kotapintar.core.settings import Settings
from kotapintar.feedback import service as feedback_service
from kotapintar.sop import tasks as sop_tasks
from tests.conftest import LiveServer
from tests.feedback.conftest import PUBLIC
from tests.feedback.loop_support import (
    ANSWER,
    answer_and_resolve,
    case_status,
    events,
    finish_work,
    open_task,
)
from tests.helpers import actor
from tests.intake.intake_helpers import count_cases, sms_post

TICKET = re.compile(r"KPS-\d{4}-\d{6}")
PHONE = "+6281377778888"


def test_answer_dispute_confirm_and_survey_by_sms(
    live_server: LiveServer, db: Database, settings: Settings
) -> None:
    base = live_server.url
    n = iter(range(1000))

    def say(text: str) -> str:
        response = sms_post(base, {"id": f"loop-{next(n)}", "from": PHONE, "text": text})
        assert response.status_code == 200, response.text
        return "\n".join(response.json()["replies"])

    first = say("LAPOR#jalan_rusak#Selat#Jalan berlubang besar depan SDN 2 Selat")
    ticket = TICKET.search(first)
    assert ticket, first
    case_id = httpx.get(f"{base}/api/v1/tickets/{ticket.group(0)}", timeout=30).json()["id"]
    gateway = ConsoleGateway()
    notify_once(db, settings, gateway)  # the notifier starts at the newest event
    # A bare YA with nothing asked is answered, never taken for a report.
    assert "Tidak ada pertanyaan" in say("YA")
    answer_and_resolve(db, case_id)
    notify_once(db, settings, gateway)
    texts = gateway.to(PHONE)
    link = f"{PUBLIC}/lacak/{ticket.group(0)}"
    answer_text = next(t for t in texts if ANSWER in t)
    assert link in answer_text, answer_text  # absolute, never a relative /lacak/...
    confirm_text = next(t for t in texts if "Balas YA" in t)
    assert link in confirm_text and "Batas tanggapan:" in confirm_text and "WIB" in confirm_text

    cases_before = count_cases(db)
    reply = say("BELUM, masih berlubang di sisi kiri")
    assert "dibuka kembali" in reply
    assert count_cases(db) == cases_before, "a dispute is not a new report"
    assert case_status(db, case_id) == "in_progress"
    disputed = events(db, case_id, "closure_confirmed")[-1]
    assert disputed.payload["by"] == "citizen" and disputed.payload["satisfied"] is False
    assert "masih berlubang" in disputed.payload["note"]
    assert events(db, case_id, "case_reopened")
    assert open_task(db, case_id, "kerjakan").agency_code == "pupr"  # the SOP's work step again

    finish_work(db, case_id)
    reply = say("ya")
    assert "ditutup" in reply and "(1/9)" in reply
    assert case_status(db, case_id) == "closed"
    assert [e.payload["satisfied"] for e in events(db, case_id, "closure_confirmed")] == [False, True]

    sent = len(gateway.to(PHONE))
    notify_once(db, settings, gateway)
    assert not any("(1/9)" in text for text in gateway.to(PHONE)[sent:]), "the survey is not asked twice"
    answers = [4, 3, 4, 4, 3, 4, 4, 3, 4]
    assert "angka 1, 2, 3 atau 4" in say("7")
    for i, value in enumerate(answers, start=1):
        reply = say(str(value))
        if i < 9:
            assert f"({i + 1}/9)" in reply, reply
    assert "survei selesai" in reply
    assert count_cases(db) == cases_before
    survey = events(db, case_id, "survey_answered")
    assert len(survey) == 1 and survey[0].payload["answered"] == 9
    score = feedback_service.ikm_table(db, "agency")["pupr"]
    assert score.respondents == 1
    assert str(score.rounded) == "91.67"  # (33 / 9) × 25 = 91,666…
    assert score.grade == "A"


def test_survey_invitation_after_operator_closure_and_stop_any_time(
    live_server: LiveServer, db: Database, settings: Settings
) -> None:
    base = live_server.url
    n = iter(range(1000))
    phone = "+6281399990000"

    def say(text: str) -> str:
        response = sms_post(base, {"id": f"stop-{next(n)}", "from": phone, "text": text})
        assert response.status_code == 200, response.text
        return "\n".join(response.json()["replies"])

    ticket = TICKET.search(say("LAPOR#jalan_rusak#Selat#Jalan amblas dekat dermaga Selat"))
    assert ticket
    case_id = httpx.get(f"{base}/api/v1/tickets/{ticket.group(0)}", timeout=30).json()["id"]
    gateway = ConsoleGateway()
    notify_once(db, settings, gateway)
    answer_and_resolve(db, case_id)
    sop_tasks.confirm_closure(db, actor(db, "operator"), case_id)  # the operator's check closes it
    notify_once(db, settings, gateway)
    invitation = [t for t in gateway.to(phone) if "(1/9)" in t]
    assert len(invitation) == 1 and "1=Tidak sesuai" in invitation[0] and "STOP" in invitation[0]
    assert "(2/9)" in say("2")
    assert "(3/9)" in say("1")
    assert "dihentikan" in say("STOP")
    cases = count_cases(db)
    assert "Tidak ada pertanyaan" in say("ya")  # nothing is asked any more; not a report either
    assert count_cases(db) == cases
    score = feedback_service.ikm_table(db, "agency")["pupr"]
    assert score.respondents == 1 and score.ikm is None  # 2 of 9 elements: no index, counted per element
    assert [e.answered for e in score.elements] == [1, 1, 0, 0, 0, 0, 0, 0, 0]
    assert events(db, case_id, "survey_answered")[-1].payload == {
        "channel": "sms",
        "answered": 2,
        "how": "stopped",
    }
