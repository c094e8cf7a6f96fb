"""Replay of exactly what FixMyStreet's Open311 client (perllib/Open311.pm) sends, parsed as it parses (XML only).

FixMyStreet: always adds jurisdiction_id when configured and api_key on POST; posts form-urlencoded with
an "extended description" (title, detail, report URL), split name, phone and email, lat/long truncated to
six decimals (or address_string = postcode, or address_id = #NOTPINPOINTED#), media_url repeated once per
photo, attribute[...] for every extra field; reads request[0].service_request_id, else request[0].token and
then polls tokens/{token}.xml; fetches requests by comma-joined ids; imports back-office requests by a
one-hour start_date/end_date window; syncs servicerequestupdates both ways.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx

from kotapintar.cases import service as case_service
from kotapintar.core.access.auth import create_api_key
from kotapintar.core.db.database import Database
from kotapintar.core.settings import Settings
from tests.helpers import actor
from tests.open311.open311_support import EMAIL, PHONE, server, xml

JURISDICTION = "kapuaskab.go.id"
POLL_INTERVAL_S, POLL_MAX_TRIES = 0.2, 5  # FixMyStreet: 2 s and 5 tries; shortened for the test


def _w3c(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class FixMyStreetClient:
    """The requests FixMyStreet's Open311 client makes, one method per client call."""

    def __init__(self, http: httpx.Client, key: str) -> None:
        self.http, self.key = http, key

    def get(self, path: str, **params: str) -> Any:
        response = self.http.get(f"/open311/v2/{path}", params={**params, "jurisdiction_id": JURISDICTION})
        assert response.status_code == 200, response.text
        return xml(response)

    def post(self, path: str, fields: list[tuple[str, str]]) -> Any:
        body = [("jurisdiction_id", JURISDICTION), ("api_key", self.key), *fields]
        response = self.http.post(
            f"/open311/v2/{path}",
            content=urlencode(body),  # repeated keys, as HTTP::Request::Common encodes them
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert response.status_code == 200, response.text
        return xml(response)

    def send_service_request(self, fields: list[tuple[str, str]]) -> str:
        root = self.post("requests.xml", fields)
        request = root.findall("request")[0]
        if request.findtext("service_request_id"):
            return str(request.findtext("service_request_id"))
        token = request.findtext("token")
        assert token
        for _ in range(POLL_MAX_TRIES):
            polled = self.get(f"tokens/{token}.xml").findall("request")
            if polled and polled[0].findtext("service_request_id"):
                return str(polled[0].findtext("service_request_id"))
            time.sleep(POLL_INTERVAL_S)
        raise AssertionError("token never resolved")


def _problem(**changes: str) -> list[tuple[str, str]]:
    fields = {
        "description": "Lubang besar di Jl. Pemuda\n\nLubangnya dalam, motor sering jatuh malam hari.\n\n"
        "https://fixmystreet.example/report/4242\n",
        "service_code": "jalan_rusak",
        "first_name": "Budi",
        "last_name": "Santoso",
        "phone": PHONE,
        "email": EMAIL,
        "lat": "-3.000123",
        "long": "114.390456",
        "attribute[kedalaman]": "dalam",
        "attribute[last_name]": "Santoso",
        "attribute[fixmystreet_id]": "4242",
    }
    fields.update(changes)
    out = [(k, v) for k, v in fields.items() if v]
    out += [
        ("media_url", "https://fixmystreet.example/photo/4242.0.full.jpeg"),
        ("media_url", "https://fixmystreet.example/photo/4242.1.full.jpeg"),
    ]
    return out


def test_fixmystreet_client_replay(db: Database, settings: Settings) -> None:
    key = create_api_key(db, "fixmystreet")
    with (
        server(
            db, settings, open311_jurisdiction_id=JURISDICTION, open311_status_clients=["fixmystreet"]
        ) as url,
        httpx.Client(base_url=url) as http,
    ):
        fms = FixMyStreetClient(http, key)
        # PopulateServiceList: services.xml then services/{code}.xml for metadata=true
        services = fms.get("services.xml").findall("service")
        road = next(s for s in services if s.findtext("service_code") == "jalan_rusak")
        assert road.findtext("metadata") == "true"
        meta = fms.get("services/jalan_rusak.xml")
        assert [a.findtext("code") for a in meta.findall("attributes/attribute")]

        pinned = fms.send_service_request(_problem())
        by_postcode = fms.send_service_request(_problem(lat="", long="", address_string="73514"))
        not_pinpointed = fms.send_service_request(_problem(lat="", long="", address_id="#NOTPINPOINTED#"))
        assert len({pinned, by_postcode, not_pinpointed}) == 3

        # get_service_requests with report_ids
        got = fms.get("requests.xml", service_request_id=f"{pinned},{by_postcode}").findall("request")
        assert {r.findtext("service_request_id") for r in got} == {pinned, by_postcode}
        first = next(r for r in got if r.findtext("service_request_id") == pinned)
        assert first.findtext("media_url") == "https://fixmystreet.example/photo/4242.0.full.jpeg"
        assert first.findtext("lat") == "-3.000123"

        # GetServiceRequests: the last hour; FMS skips requests without id, lat or long
        now = datetime.now(UTC)
        window = fms.get(
            "requests.xml",
            start_date=_w3c(now - timedelta(hours=1)),
            end_date=_w3c(now + timedelta(minutes=1)),
        )
        importable = [r for r in window.findall("request") if r.findtext("lat") and r.findtext("long")]
        assert pinned in {r.findtext("service_request_id") for r in importable}

        # the council works on it; FMS fetches updates with api_key and a start/end window
        case_id = case_service.case_by_ticket(db, pinned)
        op = actor(db, "operator")
        case_service.assign_case(db, op, case_id, "pupr")
        case_service.resolve_case(db, op, case_id, "Lubang ditambal oleh Dinas PUPR.")
        updates = fms.get(
            "servicerequestupdates.xml",
            api_key=key,
            start_date=_w3c(now - timedelta(hours=1)),
            end_date=_w3c(datetime.now(UTC) + timedelta(minutes=1)),
        ).findall("request_update")
        mine = [u for u in updates if u.findtext("service_request_id") == pinned]
        assert mine[-1].findtext("status") == "fixed"
        assert mine[-1].findtext("description") == "Lubang ditambal oleh Dinas PUPR."

        # a citizen on FMS says it is not fixed: post_service_request_update with REOPEN-less OPEN status
        answer = fms.post(
            "servicerequestupdates.xml",
            [
                ("updated_datetime", _w3c(datetime.now(UTC))),
                ("service_request_id", pinned),
                ("status", "OPEN"),
                ("description", "Belum beres, lubangnya terbuka lagi."),
                ("last_name", "Santoso"),
                ("first_name", "Budi"),
                ("phone", PHONE),
                ("email", EMAIL),
                ("update_id", "9001"),
                ("media_url", "https://fixmystreet.example/photo/c/9001.0.full.jpeg"),
            ],
        )
        update_id = answer.findall("request_update")[0].findtext("update_id")
        assert update_id and update_id.isdigit()
        assert case_service.case_detail(db, op, case_id).status == "in_progress"

        # a jurisdiction this server does not serve
        wrong = http.get("/open311/v2/services.xml", params={"jurisdiction_id": "elsewhere.example"})
        assert wrong.status_code == 404 and xml(wrong).findtext("error/code") == "404"


def test_fixmystreet_token_polling(db: Database, settings: Settings) -> None:
    key = create_api_key(db, "fixmystreet")
    with (
        server(db, settings, open311_jurisdiction_id=JURISDICTION, open311_return_token=True) as url,
        httpx.Client(base_url=url) as http,
    ):
        fms = FixMyStreetClient(http, key)
        assert {s.findtext("type") for s in fms.get("services.xml").findall("service")} == {"batch"}
        root = fms.post("requests.xml", _problem())
        request = root.findall("request")[0]
        assert request.find("service_request_id") is None and request.findtext("token")
        ticket = fms.send_service_request(_problem(description="Lubang kedua di Jl. Pemuda dekat pasar"))
        assert ticket.startswith("KPS-")
        polled = fms.get(f"tokens/{request.findtext('token')}.xml").findall("request")[0]
        assert polled.findtext("token") == request.findtext("token")
        forged = http.get("/open311/v2/tokens/1.abcdef.xml")
        assert forged.status_code == 404
