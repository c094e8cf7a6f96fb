"""Agency heads are scoped to their agency (issue 16, item 2): `<agency>.kepala` no longer holds the
city-wide supervisor reach — no confidential Polres case with a witness's NIK, no PLN case to resolve."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.security.security_support import login as _login

NIK, PHONE = "6203011201850007", "+6281355551234"


def _report(client: TestClient, service: str, text: str, lon: float, **extra: object) -> tuple[int, str]:
    r = client.post(
        "/api/v1/reports",
        json={"service_code": service, "description": text, "lon": lon, "lat": -3.0, **extra},
    )
    assert r.status_code == 201, r.text
    return r.json()["case_id"], r.json()["ticket"]


def test_agency_head_sees_and_acts_on_own_agency_only(client: TestClient) -> None:
    police, _ = _report(
        client,
        "kriminalitas",
        "Saksi melihat pencurian motor di gudang, pelaku dikenal",
        114.38,
        confidential=True,
        reporter={"name": "Saksi Rahasia", "phone": PHONE, "nik": NIK},
    )
    power, _ = _report(client, "listrik_padam", "Listrik padam satu kampung sejak pagi", 114.41)
    road, _ = _report(client, "jalan_rusak", "Jalan berlubang besar dekat jembatan", 114.40)
    op = _login(client, "operator")
    for case_id, agency in ((police, "polres"), (power, "pln"), (road, "pupr")):
        r = client.post(f"/api/v1/cases/{case_id}/assign", headers=op, json={"agency_code": agency})
        assert r.status_code == 200, r.text

    head = _login(client, "pupr.kepala")
    assert client.get(f"/api/v1/cases/{police}", headers=head).status_code == 404
    listed = client.get("/api/v1/cases?limit=500", headers=head)
    assert listed.status_code == 200
    assert NIK not in listed.text and PHONE not in listed.text
    ids = {c["id"] for c in listed.json()["items"]}
    assert road in ids and police not in ids and power not in ids
    resolve = {"resolution": "Sudah ditangani oleh tim kami"}
    assert client.post(f"/api/v1/cases/{power}/resolve", headers=head, json=resolve).status_code in (403, 404)
    assert client.post(f"/api/v1/cases/{police}/verify", headers=head).status_code in (403, 404)
    # Its own agency's case: readable and resolvable.
    assert client.get(f"/api/v1/cases/{road}", headers=head).status_code == 200
    r = client.post(f"/api/v1/cases/{road}/resolve", headers=head, json=resolve)
    assert r.status_code == 200, r.text
    # The city-wide supervisor keeps the whole city.
    sup = _login(client, "supervisor")
    assert client.get(f"/api/v1/cases/{police}", headers=sup).status_code == 200
