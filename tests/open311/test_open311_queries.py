"""GET requests: the id override, comma lists, status, dates and the 90-day window, the cap, pages, extensions."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from kotapintar.cases import service as case_service
from kotapintar.cases.repository import CaseRepository
from kotapintar.open311 import sync as open311_sync
from tests.helpers import actor
from tests.open311.open311_support import Open311, xml


def _ids(o311: Open311, query: str) -> list[str]:
    response = o311.http.get(f"/open311/v2/requests.json{query}")
    assert response.status_code == 200, response.text
    return [r["service_request_id"] for r in response.json()]


def _case_id(o311: Open311, ticket: str) -> int:
    return case_service.case_by_ticket(o311.db, ticket)


def _w3c(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_filters_and_id_override(o311: Open311) -> None:
    road = o311.ticket()
    fire = o311.ticket(service_code="kebakaran", description="Rumah terbakar di Jl. Pemuda, api besar sekali")
    trash = o311.ticket(service_code="sampah", description="Sampah menumpuk di pasar, bau sekali dan lalat")
    op = actor(o311.db, "operator")
    case_service.verify_case(o311.db, op, _case_id(o311, trash))
    case_service.resolve_case(o311.db, op, _case_id(o311, trash), "Sampah sudah diangkut truk DLH.")

    assert _ids(o311, "") == [trash, fire, road]  # newest first
    assert _ids(o311, "?service_code=kebakaran,sampah") == [trash, fire]
    assert _ids(o311, "?status=closed") == [trash]
    assert _ids(o311, "?status=open") == [fire, road]
    assert _ids(o311, "?status=open,closed&service_code=jalan_rusak") == [road]
    # service_request_id overrides every other argument, including an empty status filter result.
    assert set(_ids(o311, f"?service_request_id={road},{trash}&status=closed&service_code=kebakaran")) == {
        road,
        trash,
    }
    assert _ids(o311, "?service_request_id=KPS-1999-000001") == []
    # an empty argument counts as absent
    assert _ids(o311, "?status=&service_code=") == [trash, fire, road]
    closed = o311.http.get(f"/open311/v2/requests/{trash}.json").json()[0]
    assert closed["status"] == "closed"
    assert closed["status_notes"] == "Sampah sudah diangkut truk DLH."
    assert "service_notice" not in closed


def test_date_window_default_and_limit(o311: Open311) -> None:
    old, new = o311.ticket(), o311.ticket()
    with o311.db.transaction() as uow:  # backdate one case: nothing in the services moves time
        case = uow.repo(CaseRepository).get(_case_id(o311, old))
        assert case is not None
        case.created_at = case.created_at - timedelta(days=100)
    now = datetime.now(UTC)
    assert _ids(o311, "") == [new]  # default: the most recent 90 days
    long_ago = _w3c(now - timedelta(days=120))
    assert _ids(o311, f"?start_date={long_ago}") == [old]  # start + 90 days
    assert _ids(o311, f"?end_date={_w3c(now - timedelta(days=1))}") == []
    assert _ids(
        o311, f"?start_date={_w3c(now - timedelta(hours=1))}&end_date={_w3c(now + timedelta(hours=1))}"
    ) == [new]
    wide = o311.http.get(f"/open311/v2/requests.xml?start_date={long_ago}&end_date={_w3c(now)}")
    assert wide.status_code == 400
    assert "90" in xml(wide).findtext("error/description")
    zoned = (now - timedelta(hours=1)).astimezone().isoformat(timespec="seconds").replace("+", "%2B")
    assert _ids(o311, f"?start_date={zoned}") == [new]


def test_cap_and_pages(o311: Open311, monkeypatch: pytest.MonkeyPatch) -> None:
    tickets = [o311.ticket(description=f"Jalan berlubang nomor {i} di Jl. Pemuda km {i}") for i in range(5)]
    newest_first = tickets[::-1]
    assert _ids(o311, "?page_size=2") == newest_first[:2]
    assert _ids(o311, "?page_size=2&page=2") == newest_first[2:4]
    assert _ids(o311, "?page_size=2&page=3") == newest_first[4:]
    assert _ids(o311, "?page_size=2&page=4") == []
    assert o311.http.get("/open311/v2/requests.xml?page_size=1001").status_code == 400
    assert o311.http.get("/open311/v2/requests.xml?page=0").status_code == 400
    monkeypatch.setattr(open311_sync, "MAX_REQUESTS", 3)  # the 1,000 cap, made small for the test
    assert _ids(o311, "") == newest_first[:3]


def test_updated_after_and_before(o311: Open311) -> None:
    first, second = o311.ticket(), o311.ticket()
    time.sleep(1.1)
    middle = datetime.now(UTC)
    time.sleep(1.1)
    case_service.add_note(o311.db, actor(o311.db, "operator"), _case_id(o311, first), "dicek petugas")
    assert _ids(o311, f"?updated_after={_w3c(middle)}") == [first]
    assert _ids(o311, f"?updated_before={_w3c(middle)}") == [second]


def test_extensions_show_detailed_status_and_public_history(o311: Open311) -> None:
    ticket = o311.ticket()
    case_id = _case_id(o311, ticket)
    op = actor(o311.db, "operator")
    case_service.assign_case(o311.db, op, case_id, "pupr", note="segera", due_hours=48)
    case_service.add_note(o311.db, op, case_id, "catatan internal: jangan tampil")
    case_service.resolve_case(o311.db, op, case_id, "Lubang sudah ditambal.")
    plain = o311.http.get(f"/open311/v2/requests/{ticket}.json").json()[0]
    assert "notes" not in plain and "extended_attributes" not in plain
    rich = o311.http.get(f"/open311/v2/requests/{ticket}.json?extensions=true").json()[0]
    assert rich["extended_attributes"]["detailed_status"] == "RESOLVED"
    assert [n["type"] for n in rich["notes"]] == ["submitted", "verified", "assigned", "resolved"]
    assert rich["notes"][-1]["description"] == "Lubang sudah ditambal."
    assert "jangan tampil" not in str(rich)
    # the due time set by the disposition is the expected_datetime
    expected = datetime.fromisoformat(rich["expected_datetime"])
    requested = datetime.fromisoformat(rich["requested_datetime"])
    assert timedelta(hours=47) < expected - requested < timedelta(hours=49)
    root = xml(o311.http.get(f"/open311/v2/requests.xml?extensions=true&service_request_id={ticket}"))
    assert root.findtext("request/extended_attributes/detailed_status") == "RESOLVED"
    assert root.findtext("request/notes/note/type") == "submitted"


def test_confidential_requests_are_not_listed(o311: Open311) -> None:
    from kotapintar.intake.submit import submit_report
    from tests.helpers import report

    hidden = submit_report(o311.db, actor(o311.db, "operator"), report(confidential=True))
    public = o311.ticket()
    assert _ids(o311, "") == [public]
    assert o311.http.get(f"/open311/v2/requests/{hidden.ticket}.xml").status_code == 404
