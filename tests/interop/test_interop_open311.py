"""Open311 GeoReport v2 as its real clients use it (issue 18): the `georeport` client in XML and JSON; a
browser client's CORS preflight and HEAD; and FixMyStreet's update flows replayed as its Open311 client sends
them (perllib/Open311.pm: extended updates carry `update_id_ext` and `service_request_id_ext`; a CLOSED
becomes two status changes here but one update id, never echoed back to the client that sent it)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from kotapintar.cases import service as case_service
from kotapintar.core.access.auth import create_api_key
from kotapintar.core.db.database import Database
from kotapintar.core.settings import Settings
from tests.helpers import actor
from tests.interop.interop_support import run_client
from tests.open311.open311_support import LAT, LON, server, xml

pytestmark = pytest.mark.interop


def _report(http: httpx.Client, key: str, lat: float = LAT) -> str:
    posted = http.post(
        "/open311/v2/requests.xml",
        data={
            "api_key": key,
            "service_code": "jalan_rusak",
            "lat": lat,
            "long": LON,
            "description": "Jalan amblas di depan pasar, mobil tidak bisa lewat",
        },
    )
    assert posted.status_code == 200, posted.text
    return str(xml(posted).findtext("request/service_request_id"))


def test_georeport_client_reads_services_and_requests_in_xml_and_json(
    db: Database, settings: Settings
) -> None:
    key = create_api_key(db, "georeport-app")
    with server(db, settings) as url, httpx.Client(base_url=url, timeout=30) as http:
        ticket = _report(http, key)
        out: dict[str, Any] = run_client("georeport_client.py", f"{url}/open311/v2", ticket)
    assert out["xml"] == out["json"]  # the two formats say the same
    assert "jalan_rusak" in out["json"]["service_codes"]
    assert out["json"]["definition_attributes"] >= 1
    assert out["json"]["requests"] == [ticket]
    assert out["json"]["request"]["service_request_id"] == ticket
    assert out["json"]["request"]["status"] == "open"
    assert float(out["json"]["request"]["lat"]) == pytest.approx(LAT, abs=0.01)


def test_browser_preflight_head_and_errors_stay_open311(db: Database, settings: Settings) -> None:
    with server(db, settings) as url, httpx.Client(base_url=url, timeout=30) as http:
        pre = http.options(
            "/open311/v2/requests.json",
            headers={
                "Origin": "https://lapor.example.org",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "x-api-key, content-type",
            },
        )
        assert pre.status_code == 204, pre.text
        assert pre.headers["Access-Control-Allow-Origin"] == "*"
        assert "POST" in pre.headers["Access-Control-Allow-Methods"]
        assert "x-api-key" in pre.headers["Access-Control-Allow-Headers"].lower()
        head = http.head("/open311/v2/services.xml")
        assert head.status_code == 200 and head.content == b""
        assert head.headers["content-type"] == "text/xml; charset=utf-8"
        assert http.head("/open311/v2/discovery.json").status_code == 200
        wrong = http.put("/open311/v2/requests.json", content=b"x")
        assert wrong.status_code == 404 and wrong.json()[0]["code"] == 404  # the Open311 error list
        missing = http.head("/open311/v2/nothing.xml")
        assert missing.status_code == 404


def _update(
    http: httpx.Client, key: str, ticket: str, status: str, comment_id: str, **extra: str
) -> httpx.Response:
    """What FixMyStreet's client posts with extended updates on (no update_id; update_id_ext instead)."""
    data = {
        "api_key": key,
        "service_request_id": ticket,
        "status": status,
        "description": "Sudah ditangani kontraktor",
        "updated_datetime": "2026-12-04T10:00:00+07:00",
        "first_name": "Siti",
        "last_name": "Petugas",
        "email": "siti@example.org",
        "public_anonymity_required": "FALSE",
        "update_id_ext": comment_id,
        "service_request_id_ext": "4711",
        **extra,
    }
    return http.post("/open311/v2/servicerequestupdates.xml", data=data)


def test_fixmystreet_update_flows(db: Database, settings: Settings) -> None:
    fms = create_api_key(db, "fixmystreet")
    with (
        server(db, settings, open311_status_clients=["fixmystreet"]) as url,
        httpx.Client(base_url=url, timeout=30) as http,
    ):
        ticket = _report(http, fms)
        case_id = case_service.case_by_ticket(db, ticket)
        # A comment, then the same comment retried (update_id_ext): one note, the same id.
        first = _update(http, fms, ticket, "INVESTIGATING", "c-501")
        assert first.status_code == 200, first.text
        before = len(case_service.case_detail(db, actor(db, "operator"), case_id).timeline)
        again = _update(http, fms, ticket, "INVESTIGATING", "c-501")
        assert xml(again).findtext("request_update/update_id") == xml(first).findtext(
            "request_update/update_id"
        )
        assert len(case_service.case_detail(db, actor(db, "operator"), case_id).timeline) == before

        # CLOSED: here a resolve and a close (two public status changes), to FixMyStreet one update id.
        closed = _update(http, fms, ticket, "CLOSED", "c-502")
        assert closed.status_code == 200, closed.text
        ids = [e.text for e in xml(closed).iter("update_id")]
        assert len(ids) == 1
        assert case_service.case_detail(db, actor(db, "operator"), case_id).status == "closed"
        # FixMyStreet polls with its key: its own changes are not echoed back to it as council updates.
        polled = http.get("/open311/v2/servicerequestupdates.json", params={"api_key": fms}).json()
        assert [u for u in polled if u["service_request_id"] == ticket] == []
        # Other readers (no key) see both public status changes.
        public = http.get("/open311/v2/servicerequestupdates.json").json()
        assert [u["status"] for u in public if u["service_request_id"] == ticket][-2:] == ["fixed", "closed"]
        assert ids[0] in {u["update_id"] for u in public}


def test_each_fixmystreet_report_merged_into_one_case_keeps_its_own_request_id(
    db: Database, settings: Settings
) -> None:
    """Two FixMyStreet reports of the same pothole become one case here; FixMyStreet must still see two
    requests, each following the case, or it attaches every update to the first report only."""
    fms, office = create_api_key(db, "fixmystreet"), create_api_key(db, "backoffice")
    with (
        server(db, settings, open311_status_clients=["backoffice"]) as url,
        httpx.Client(base_url=url, timeout=30) as http,
    ):
        first = _report(http, fms)
        second = _report(http, fms)  # the same spot and words: triage merges it into the first case
        assert second.startswith(first + "."), (first, second)
        far = _report(http, fms, lat=LAT - 0.05)  # its own case, merged later by an operator
        assert "." not in far
        op = actor(db, "operator")
        case_service.merge_case(
            db, op, case_service.case_by_ticket(db, far), case_service.case_by_ticket(db, first), "sama"
        )
        for rid in (first, second, far):  # every id answers, with the surviving case's state
            got = http.get(f"/open311/v2/requests/{rid}.json").json()[0]
            assert got["service_request_id"] == rid and got["status"] == "open"
        listed = http.get(
            "/open311/v2/requests.json", params={"service_request_id": f"{second},{far}"}
        ).json()
        assert [r["service_request_id"] for r in listed] == [second, far]

        fixed = _update(http, office, second, "FIXED", "bo-1")  # an update may name any of the ids
        assert fixed.status_code == 200, fixed.text
        polled = http.get("/open311/v2/servicerequestupdates.json", params={"api_key": fms}).json()
        fixes = {u["service_request_id"]: u["update_id"] for u in polled if u["status"] == "fixed"}
        assert set(fixes) >= {first, second, far}
        assert len(set(fixes.values())) == len(fixes)  # one update id per partner request
        assert http.get("/open311/v2/requests/KPS-1999-000001.7.json").status_code == 404
