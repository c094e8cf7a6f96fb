"""A report without coordinates that names a desa is placed at the desa's point, and the data-accuracy
figures know it (issue 15, item 5: location source `desa_centroid`), over SMS and the web form alike."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from kotapintar.analytics import service as analytics
from kotapintar.app.web import create_app
from kotapintar.cases.models import Case, Report
from kotapintar.catalog.models import Region
from kotapintar.core.db.database import Database
from kotapintar.core.settings import Settings
from tests.conftest import LiveServer
from tests.helpers import actor
from tests.helpers import web_client as staff_client
from tests.intake.intake_helpers import sms_post

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _rows(db: Database) -> list[Any]:
    with db.reading() as uow:
        return list(
            uow.session.execute(
                select(Case, Report).join(Report, Report.case_id == Case.id).order_by(Case.id)
            ).all()
        )


def test_a_named_desa_places_the_case_at_its_centroid(
    live_server: LiveServer, db: Database, settings: Settings
) -> None:
    with db.reading() as uow:
        desa = uow.session.scalars(select(Region).where(Region.name == "Selat Hulu")).one()
    sms = sms_post(
        live_server.url,
        {
            "id": "desa-1",
            "from": "+6281234500001",
            "text": "LAPOR#jalan_rusak#desa Selat Hulu#Jalan berlubang besar",
        },
    )
    assert sms.status_code == 200, sms.text
    web = TestClient(create_app(settings, db=db), follow_redirects=False)
    token = CSRF.search(web.get("/lapor?layanan=drainase").text)
    assert token
    sent = web.post(
        "/lapor",
        data={
            "csrf_token": token.group(1),
            "service_code": "drainase",
            "description": "Saluran air tersumbat sampah, air meluap ke jalan setiap hujan.",
            "lon": "",
            "lat": "",
            "address": "Desa Selat Hulu, dekat jembatan kayu",
            "location_source": "",
        },
    )
    assert sent.status_code in (200, 303), sent.text[:500]
    rows = _rows(db)
    assert [(c.channel, r.location_source, c.location_source) for c, r in rows] == [
        ("sms", "desa_centroid", "desa_centroid"),
        ("web", "desa_centroid", "desa_centroid"),
    ]
    for case, _report in rows:
        assert (case.lon, case.lat) == (desa.label_lon, desa.label_lat) and case.region_code == desa.code
    acc = analytics.accuracy(db, actor(db, "supervisor"), analytics.scope_of_days(1))
    assert ("desa_centroid", 2, None) in acc.locations
    page = staff_client(create_app(settings, db=db), "supervisor").get("/analitik/akurasi").text
    shown = page[page.index('data-source="desa_centroid"') :][:300]
    assert "Titik tengah desa" in shown and ">2<" in shown.replace(" ", "")
