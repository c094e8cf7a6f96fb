"""The monthly report on the worker's schedule (issue 15, item 6): with the clock set by hand to the first
day after the month, the worker's loop keeps the month's reports once; a second worker adds nothing; the
/supervisor list links the kept PDF, whose text carries the month's figures and IKM."""

from __future__ import annotations

import io
import time
import zipfile
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from pypdf import PdfReader

from kotapintar.analytics import report_store
from kotapintar.app.web import create_app
from kotapintar.catalog import service as catalog_service
from kotapintar.core.db.database import Database
from kotapintar.core.events.types import utcnow
from kotapintar.core.settings import Settings
from tests.analytics.history import build
from tests.analytics.surveys import add_surveys
from tests.helpers import actor
from tests.helpers import web_client as client

WIB = ZoneInfo("Asia/Jakarta")


def test_the_worker_keeps_last_months_report_once_and_supervisor_downloads_it(
    db: Database, settings: Settings
) -> None:
    built = build(db, utcnow())
    at = built.t0 + timedelta(hours=1)
    add_surveys(db, [built.case_ids[k] for k in ("A", "B", "C", "D")], at)
    local = at.astimezone(WIB)
    month = local.strftime("%Y-%m")
    first_of_next = (local.replace(day=28) + timedelta(days=5)).replace(day=1, hour=1, minute=0)
    clock = first_of_next.astimezone(ZoneInfo("UTC"))
    supervisor = actor(db, "supervisor")
    # before the month ends, the job looks back at the month before, never at the running one
    assert (
        report_store.previous_month(datetime(local.year, local.month, 27, tzinfo=WIB), "Asia/Jakarta") < month
    )
    assert report_store.previous_month(clock, "Asia/Jakarta") == month

    loop = report_store.start_report_loop(db, settings, interval_s=0.05, first_after_s=0, clock=lambda: clock)
    worked = report_store.agencies_with_work(db, month, "Asia/Jakarta")
    idle = {a.code for a in catalog_service.agencies(db)} - set(worked)
    assert {"pupr", "damkar"} <= set(worked) and "basarnas" in idle  # Damkar: its fires' time to scene
    expected = 1 + len(worked)  # city-wide and one per agency that had work (no empty PDFs)
    try:
        deadline = time.monotonic() + 30
        while len([r for r in report_store.listing(db, supervisor) if r.month == month]) < expected:
            assert time.monotonic() < deadline, "the worker did not keep the month's reports"
            time.sleep(0.05)
        time.sleep(0.2)  # a few more passes of the same loop: still nothing new
    finally:
        loop.stop()
    kept = [r for r in report_store.listing(db, supervisor) if r.month == month]
    assert len(kept) == expected and {r.agency for r in kept} == {"", *worked}
    assert report_store.generate_due(db, settings, clock + timedelta(days=1)) == []  # a second worker
    assert len([r for r in report_store.listing(db, supervisor) if r.month == month]) == expected

    city = next(r for r in kept if r.agency == "")
    c = client(create_app(settings, db=db), "supervisor")
    page = c.get("/supervisor").text
    assert f'data-stored-report="laporan-{month}"' in page and f"/analitik/arsip/{city.id}/pdf" in page
    pdf = c.get(f"/analitik/arsip/{city.id}/pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert f"laporan-{month}.pdf" in pdf.headers["content-disposition"]
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "kebakaran 2 13,5 mnt 16,4 mnt 50 % 15,0 mnt" in text  # the fire incidents, as on /analitik
    assert "Dinas PUPR 82,18 B 4 4" in text  # IKM with its sample (4 answered of 4: no case closed)
    zipped = zipfile.ZipFile(io.BytesIO(c.get(f"/analitik/arsip/{city.id}/csv").content))
    assert f"laporan-{month}-instansi.csv" in zipped.namelist()
    assert "Dinas PUPR" in zipped.read(f"laporan-{month}-instansi.csv").decode()
    pupr = next(r for r in kept if r.agency == "pupr")
    pupr_text = PdfReader(io.BytesIO(c.get(f"/analitik/arsip/{pupr.id}/pdf").content)).pages[0].extract_text()
    assert "Dinas PUPR" in pupr_text
    assert c.get("/analitik/arsip/999999/pdf").status_code == 404
    assert (
        client(create_app(settings, db=db), "operator").get(f"/analitik/arsip/{city.id}/pdf").status_code
        == 403
    )
