"""mySociety servicerequestupdates both ways: our status changes out, a back office's changes in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from kotapintar.cases import service as case_service
from kotapintar.core.access.auth import create_api_key
from kotapintar.core.db.database import Database
from kotapintar.core.settings import Settings
from tests.helpers import actor
from tests.open311.open311_support import LAT, LON, Open311, children, server, xml


def _w3c(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_get_updates_lists_public_status_changes(o311: Open311) -> None:
    ticket = o311.ticket()
    case_id = case_service.case_by_ticket(o311.db, ticket)
    op = actor(o311.db, "operator")
    case_service.assign_case(o311.db, op, case_id, "pupr")
    case_service.add_note(o311.db, op, case_id, "internal: tidak untuk mitra")
    case_service.resolve_case(o311.db, op, case_id, "Sudah ditambal aspal.")
    now = datetime.now(UTC)
    params = f"?api_key={o311.key}&start_date={_w3c(now - timedelta(minutes=5))}&end_date={_w3c(now + timedelta(minutes=1))}"
    root = xml(o311.http.get(f"/open311/v2/servicerequestupdates.xml{params}"))
    updates = [u for u in root.findall("request_update") if u.findtext("service_request_id") == ticket]
    assert children(updates[0]) == [
        "update_id",
        "service_request_id",
        "status",
        "updated_datetime",
        "description",
        "media_url",
    ]
    # The "open" of the request this client posted itself is not echoed back to it (issue 18).
    assert [u.findtext("status") for u in updates] == ["investigating", "action_scheduled", "fixed"]
    assert updates[-1].findtext("description") == "Sudah ditambal aspal."
    assert len({u.findtext("update_id") for u in updates}) == len(updates)
    assert "tidak untuk mitra" not in o311.http.get(f"/open311/v2/servicerequestupdates.json{params}").text
    earlier = f"?start_date={_w3c(now - timedelta(days=2))}&end_date={_w3c(now - timedelta(days=1))}"
    assert o311.http.get(f"/open311/v2/servicerequestupdates.json{earlier}").json() == []
    bad = o311.http.get(
        f"/open311/v2/servicerequestupdates.xml?start_date={_w3c(now)}&end_date={_w3c(now - timedelta(days=1))}"
    )
    assert bad.status_code == 400


def _post_update(http: httpx.Client, key: str, ticket: str, status: str, **extra: str) -> httpx.Response:
    data = {
        "api_key": key,
        "service_request_id": ticket,
        "status": status,
        "description": extra.pop("description", "Catatan dari back office"),
        "updated_datetime": _w3c(datetime.now(UTC)),
        "first_name": "Siti",
        "last_name": "Petugas",
        "email": "siti@example.org",
        **extra,
    }
    return http.post("/open311/v2/servicerequestupdates.xml", data=data)


def test_post_updates_change_the_case_for_trusted_clients_only(db: Database, settings: Settings) -> None:
    trusted, plain = create_api_key(db, "backoffice"), create_api_key(db, "citizen-app")
    with (
        server(db, settings, open311_status_clients=["backoffice"]) as url,
        httpx.Client(base_url=url) as http,
    ):
        posted = http.post(
            "/open311/v2/requests.xml",
            data={
                "api_key": plain,
                "service_code": "jalan_rusak",
                "lat": LAT,
                "long": LON,
                "description": "Jalan amblas di depan pasar, mobil tidak bisa lewat",
            },
        )
        ticket = xml(posted).findtext("request/service_request_id")
        case_id = case_service.case_by_ticket(db, ticket)

        # a plain client may comment but not change the status
        refused = _post_update(http, plain, ticket, "FIXED", update_id="c-1")
        assert refused.status_code == 403 and xml(refused).findtext("error/code") == "403"
        comment = _post_update(
            http, plain, ticket, "INVESTIGATING", update_id="c-2", description="Warga: makin parah"
        )
        assert comment.status_code == 200, comment.text
        assert xml(comment).tag == "service_request_updates"
        assert xml(comment).findtext("request_update/update_id")
        fms_style = _post_update(http, plain, ticket, "OPEN", update_id="c-3", description="Masih ada")
        assert fms_style.status_code == 200, fms_style.text  # FixMyStreet's comment on an open problem
        assert case_service.case_detail(db, actor(db, "operator"), case_id).status == "received"

        fixed = _post_update(
            http, trusted, ticket, "FIXED", update_id="bo-7", description="Sudah diperbaiki kontraktor"
        )
        assert fixed.status_code == 200, fixed.text
        fixed_id = xml(fixed).findtext("request_update/update_id")
        detail = case_service.case_detail(db, actor(db, "operator"), case_id)
        assert detail.status == "resolved" and detail.resolution == "Sudah diperbaiki kontraktor"
        # the same update sent again changes nothing and gets the same id
        again = _post_update(
            http, trusted, ticket, "FIXED", update_id="bo-7", description="Sudah diperbaiki kontraktor"
        )
        assert xml(again).findtext("request_update/update_id") == fixed_id
        assert len(case_service.case_detail(db, actor(db, "operator"), case_id).timeline) == len(
            detail.timeline
        )
        # our id of that update is the status change FixMyStreet will see in GET servicerequestupdates
        listed = http.get("/open311/v2/servicerequestupdates.json").json()
        entry = next(u for u in listed if u["update_id"] == fixed_id)
        assert {"update_id": fixed_id, "status": "fixed"}.items() <= entry.items(), entry

        reopened = _post_update(http, trusted, ticket, "REOPEN", update_id="bo-8", description="Rusak lagi")
        assert reopened.status_code == 200
        assert case_service.case_detail(db, actor(db, "operator"), case_id).status == "in_progress"
        closed = _post_update(
            http, trusted, ticket, "CLOSED", update_id="bo-9", description="Selesai dan dicek"
        )
        assert closed.status_code == 200
        final = case_service.case_detail(db, actor(db, "operator"), case_id)
        assert final.status == "closed"
        assert http.get(f"/open311/v2/requests/{ticket}.json").json()[0]["status"] == "closed"
        # personal data of the back-office officer never lands in the log
        assert "siti@example.org" not in str([e.payload for e in final.timeline])

        assert _post_update(http, trusted, ticket, "MAYBE").status_code == 400
        assert _post_update(http, trusted, "KPS-1999-000001", "FIXED").status_code == 404
        assert _post_update(http, "kpk_nope", ticket, "FIXED").status_code == 403


def test_not_responsible_rejects_a_fresh_request(db: Database, settings: Settings) -> None:
    key = create_api_key(db, "backoffice")
    with (
        server(db, settings, open311_status_clients=["backoffice"]) as url,
        httpx.Client(base_url=url) as http,
    ):
        posted = http.post(
            "/open311/v2/requests.json",
            data={
                "api_key": key,
                "service_code": "jalan_rusak",
                "address_string": "Jl. Tambun Bungai, Selat",
                "description": "Jalan nasional berlubang dekat jembatan",
            },
        )
        ticket = posted.json()[0]["service_request_id"]
        answer = _post_update(
            http, key, ticket, "NOT_COUNCILS_RESPONSIBILITY", description="Jalan nasional: BPJN"
        )
        assert answer.status_code == 200, answer.text
        shown = http.get(f"/open311/v2/requests/{ticket}.json?extensions=true").json()[0]
        assert shown["status"] == "closed" and shown["extended_attributes"]["detailed_status"] == "REJECTED"
