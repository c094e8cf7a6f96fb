"""The monthly report: its PDF text and CSV carry the same figures as the pages (issue 15, item 6)."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from pypdf import PdfReader

from kotapintar.analytics import service as analytics
from kotapintar.analytics.report import build_monthly, month_scope, to_csv, to_pdf
from kotapintar.app.web import create_app
from kotapintar.cases.models import Case
from kotapintar.core.db.database import Database
from kotapintar.core.errors import ValidationFailed
from kotapintar.core.events.types import utcnow
from kotapintar.core.settings import Settings
from kotapintar.metrics.definitions import share_text
from tests.analytics.history import build
from tests.analytics.surveys import add_surveys
from tests.helpers import actor
from tests.helpers import web_client as client


def test_monthly_pdf_and_csv_agree_with_the_figures(db: Database) -> None:
    """The month of the fire incidents: the PDF's text has the title, the agency table with the figures the
    service computes for that month, the fire incidents' total response time, and the definitions."""
    built = build(db, utcnow())
    k_local = (built.t0 + timedelta(hours=1)).astimezone(ZoneInfo("Asia/Jakarta"))
    month = k_local.strftime("%Y-%m")
    supervisor = actor(db, "supervisor")
    report = build_monthly(db, supervisor, month)
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(to_pdf(report))).pages)
    assert "Laporan Akuntabilitas Bulanan" in text and "Kinerja instansi" in text
    scope = month_scope(month, "Asia/Jakarta", None)
    pupr = next(f for f in analytics.task_figures(db, supervisor, scope) if f.key == "pupr")
    line = next(row for row in text.splitlines() if row.startswith("Dinas PUPR"))
    assert f"{pupr.tasks} {pupr.late} {share_text(pupr.on_time_share)}" in line
    csv_text = to_csv(report)["instansi.csv"]
    row = next(csv.reader(io.StringIO(csv_text.split("Dinas PUPR", 1)[1])))  # "66,7 %" comes quoted
    assert ["Dinas PUPR", str(pupr.tasks), str(pupr.late), share_text(pupr.on_time_share)] == [
        "Dinas PUPR",
        *row[1:4],
    ]
    fire = next(g for g in analytics.segment_figures(db, supervisor, scope) if g.key == "kebakaran")
    assert f"kebakaran {fire.incidents}" in text
    assert "Terlambat" in text and "Definisi" in text and "Permendagri" in text
    assert "waktu_tanggap.csv" in to_csv(report)


def test_a_bad_month_is_refused_with_a_message(db: Database) -> None:
    """--month 2026-13 names the problem instead of a traceback."""
    with pytest.raises(ValidationFailed, match="2026-13"):
        build_monthly(db, actor(db, "supervisor"), "2026-13")


def test_supervisor_downloads_the_report(db: Database, settings: Settings) -> None:
    """The /supervisor card links the PDF; its text and the CSV carry the page's figures; bad input → 4xx."""
    built = build(db, utcnow())
    month = (built.t0 + timedelta(hours=1)).astimezone(ZoneInfo("Asia/Jakarta")).strftime("%Y-%m")
    c = client(create_app(settings, db=db), "supervisor")
    assert "data-monthly-report" in c.get("/supervisor").text
    pdf = c.get(f"/analitik/laporan.pdf?bulan={month}")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "kebakaran 2 13,5 mnt 16,4 mnt 50 % 15,0 mnt" in text  # K and L, as on /analitik
    csv_text = c.get(f"/analitik/laporan.csv?bulan={month}&tabel=waktu_tanggap").text
    assert 'kebakaran,2,"13,5 mnt","16,4 mnt",50 %,"15,0 mnt"' in csv_text
    assert c.get(f"/analitik/laporan.csv?bulan={month}&tabel=planet").status_code == 422
    assert c.get("/analitik/laporan.pdf?bulan=2026-13").status_code == 422
    assert (
        client(create_app(settings, db=db), "operator")
        .get(f"/analitik/laporan.pdf?bulan={month}")
        .status_code
        == 403
    )


def test_the_pdf_carries_ikm_with_sample_size_nrr_and_the_rounding_note(db: Database) -> None:
    """Four PUPR respondents in the month: the PDF shows IKM 82,18 grade B with 4 respondents against the
    regulation's minimum sample (6 of 6 closed cases: the warning), the NRR of every element (u9 3,333), and the 0,111 note
    with the figure the rounded weight would give (82,09)."""
    built = build(db, utcnow())
    at = built.t0 + timedelta(hours=1)
    month = at.astimezone(ZoneInfo("Asia/Jakarta")).strftime("%Y-%m")
    add_surveys(db, [built.case_ids[k] for k in ("A", "B", "C", "D")], at)
    with db.transaction() as uow:  # six PUPR cases closed in the month: the population of the sample
        for key in ("A", "B", "C", "D", "F", "G"):
            case = uow.session.get(Case, built.case_ids[key])
            assert case is not None
            case.closed_at = at
    for agency in (None, "pupr"):
        report = build_monthly(db, actor(db, "supervisor"), month, agency)
        text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(to_pdf(report))).pages)
        assert "Indeks Kepuasan Masyarakat (IKM)" in text
        # 4 answered where Krejcie & Morgan ask 6 of 6 closed cases: shown with the warning (its cell wraps)
        flat = " ".join(text.split())
        assert "Dinas PUPR 82,18 B 4 6 sampel kurang: perlu 6 dari 6 kasus ditutup" in flat
        nrr = next(row for row in text.splitlines() if row.startswith("Dinas PUPR 3,000 3,500"))
        assert nrr.endswith("3,750 3,000 3,333")
        assert "0,111" in text and "82,09" in text
        assert 'Dinas PUPR,"82,18",B,4,6,sampel kurang' in to_csv(report)["ikm.csv"]
