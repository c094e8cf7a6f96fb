"""The answer loop on the web with the real app over HTTP: the approved answer on /lacak, dispute (reopens
through the SOP), confirm, the IKM survey form, and the public timeline showing every step."""

from __future__ import annotations

import re

import httpx

from kotapintar.core.access.actors import channel_actor
from kotapintar.core.db.database import Database
from kotapintar.core.settings import Settings
from kotapintar.intake import submit as report_intake
from kotapintar.intake.pages import tracking_key
from tests.conftest import LiveServer
from tests.feedback.loop_support import (
    ANSWER,
    answer_and_resolve,
    case_status,
    events,
    finish_work,
    open_task,
)
from tests.helpers import report

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _ticket(db: Database, case_id: int) -> str:
    from kotapintar.cases.repository import CaseRepository

    with db.reading() as uow:
        case = uow.repo(CaseRepository).get(case_id)
        assert case is not None and case.ticket
        return case.ticket


def test_answer_dispute_confirm_and_survey_on_the_web(
    live_server: LiveServer, db: Database, settings: Settings
) -> None:
    case_id = report_intake.submit_report(
        db, channel_actor("web"), report(channel="web", reporter=None), settings=settings
    ).case_id
    ticket = _ticket(db, case_id)
    key = tracking_key(settings, ticket)
    answer_and_resolve(db, case_id)
    browser = httpx.Client(base_url=live_server.url, timeout=30, follow_redirects=False)

    public = browser.get(f"/lacak/{ticket}").text
    assert ANSWER in public and "data-loop-confirm" in public
    assert 'name="pilihan"' not in public, "without the reporter's key there is no form"
    page = browser.get(f"/lacak/{ticket}", params={"k": key}).text
    assert 'value="belum"' in page and "ditutup otomatis" in page
    token = CSRF.search(page)
    assert token
    form = {"csrf_token": token.group(1), "k": key}

    wrong = browser.post(f"/lacak/{ticket}/tanggapan", data={**form, "k": "x" * 20, "pilihan": "sesuai"})
    assert wrong.status_code == 403 and "tautan lengkap" in wrong.text
    no_reason = browser.post(f"/lacak/{ticket}/tanggapan", data={**form, "pilihan": "belum", "alasan": ""})
    assert no_reason.status_code == 303 and "galat=alasan" in no_reason.headers["location"]
    shown = browser.get(no_reason.headers["location"]).text
    assert "Tuliskan apa yang belum sesuai" in shown
    assert case_status(db, case_id) == "resolved"

    disputed = browser.post(
        f"/lacak/{ticket}/tanggapan", data={**form, "pilihan": "belum", "alasan": "Lubang belum ditambal"}
    )
    assert disputed.status_code == 303
    assert "dibuka kembali" in browser.get(disputed.headers["location"]).text
    assert case_status(db, case_id) == "in_progress"
    assert events(db, case_id, "case_reopened")
    assert open_task(db, case_id, "kerjakan").agency_code == "pupr"
    again = browser.post(f"/lacak/{ticket}/tanggapan", data={**form, "pilihan": "sesuai"})
    assert again.status_code == 409  # nothing to confirm while the agency works on it again

    finish_work(db, case_id)
    page = browser.get(f"/lacak/{ticket}", params={"k": key}).text
    form["csrf_token"] = CSRF.search(page).group(1)  # type: ignore[union-attr]
    closed = browser.post(f"/lacak/{ticket}/tanggapan", data={**form, "pilihan": "sesuai"})
    assert closed.status_code == 303
    assert case_status(db, case_id) == "closed"
    page = browser.get(f"/lacak/{ticket}", params={"k": key}).text
    assert f"/lacak/{ticket}/survei?k={key}" in page
    timeline = page[page.index('class="timeline"') :]
    for label in ("Jawaban instansi", "Tanggapan pelapor", "Dibuka kembali", "Kasus ditutup"):
        assert label in timeline, label

    assert browser.get(f"/lacak/{ticket}/survei").status_code == 403
    survey = browser.get(f"/lacak/{ticket}/survei", params={"k": key})
    assert survey.status_code == 200 and survey.text.count('type="radio"') == 36
    fields = {"csrf_token": CSRF.search(survey.text).group(1), "k": key}  # type: ignore[union-attr]
    bad = browser.post(f"/lacak/{ticket}/survei", data={**fields, "u1": "5", "u2": "4"})
    assert bad.status_code == 422 and 'value="4" checked' in bad.text
    bad_age = browser.post(f"/lacak/{ticket}/survei", data={**fields, "u1": "3", "age": "lima"})
    assert bad_age.status_code == 422 and "Usia ditulis dengan angka" in bad_age.text
    answers = {f"u{i}": str(v) for i, v in enumerate([3, 3, 2, 4, 3, 3, 4, 2, 3], start=1)}
    profile = {"gender": "P", "age": "34", "education": "sma", "occupation": "wirausaha"}
    done = browser.post(f"/lacak/{ticket}/survei", data={**fields, **answers, **profile})
    assert done.status_code == 200 and "survei Anda tercatat" in done.text
    assert "sudah diisi" in browser.get(f"/lacak/{ticket}/survei", params={"k": key}).text
    assert events(db, case_id, "survey_answered")[0].payload == {
        "channel": "web",
        "answered": 9,
        "how": "web",
    }
