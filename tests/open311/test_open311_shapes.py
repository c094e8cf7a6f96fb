"""Open311 documents over real HTTP: exact XML element names, JSON shapes, POST variants, errors, anonymity."""

from __future__ import annotations

import io
import re

from PIL import Image

from kotapintar.core.settings import Settings
from kotapintar.intake.media import media_paths
from tests.open311.open311_support import EMAIL, PHONE, Open311, children, xml

W3C = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)$")


def test_discovery_lists_both_formats(o311: Open311) -> None:
    root = xml(o311.http.get("/open311/v2/discovery.xml"))
    assert root.tag == "discovery"
    endpoint = root.find("endpoints/endpoint")
    assert endpoint.findtext("specification") == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint.findtext("url").endswith("/open311/v2/")
    assert [f.text for f in endpoint.findall("formats/format")] == ["text/xml", "application/json"]
    doc = o311.http.get("/open311/v2/discovery.json")
    assert doc.headers["content-type"] == "application/json; charset=utf-8"
    assert doc.json()["endpoints"][0]["formats"] == ["text/xml", "application/json"]


def test_service_list_and_definition_have_the_spec_names(o311: Open311) -> None:
    root = xml(o311.http.get("/open311/v2/services.xml"))
    assert root.tag == "services"
    service = next(s for s in root.findall("service") if s.findtext("service_code") == "kebakaran")
    assert children(service) == [
        "service_code",
        "service_name",
        "description",
        "metadata",
        "type",
        "keywords",
        "group",
    ]
    assert service.findtext("metadata") == "true"
    assert service.findtext("type") == "realtime"
    listed = o311.http.get("/open311/v2/services.json").json()
    assert all(isinstance(s["service_code"], str) for s in listed)
    assert {"kebakaran", "jalan_rusak"} <= {s["service_code"] for s in listed}

    definition = xml(o311.http.get("/open311/v2/services/kebakaran.xml"))
    assert definition.tag == "service_definition"
    assert definition.findtext("service_code") == "kebakaran"
    first = definition.find("attributes/attribute")
    assert children(first)[:7] == [
        "variable",
        "code",
        "datatype",
        "required",
        "datatype_description",
        "order",
        "description",
    ]
    assert first.findtext("code") == "ada_korban"
    assert [v.findtext("key") for v in first.findall("values/value")] == ["ya", "tidak", "tidak_tahu"]
    as_json = o311.http.get("/open311/v2/services/kebakaran.json").json()
    assert as_json["attributes"][0]["values"][0] == {"key": "ya", "name": "Ya"}
    assert as_json["attributes"][0]["order"] == 1


def test_post_form_returns_the_ticket_as_string(o311: Open311) -> None:
    root = xml(o311.post("xml", **{"attribute[kedalaman]": "sedang"}))
    assert root.tag == "service_requests"
    request = root.find("request")
    ticket = request.findtext("service_request_id")
    assert re.fullmatch(r"KPS-\d{4}-\d{6}", ticket)
    assert request.find("token") is None  # never both
    assert ticket in request.findtext("service_notice")
    answer = o311.post("json", address_string="Jl. Pemuda, Selat, Kuala Kapuas", lat=None, long=None)
    assert answer.status_code == 200
    assert isinstance(answer.json()[0]["service_request_id"], str)


def _jpeg_with_gps() -> bytes:
    image = Image.new("RGB", (64, 48), (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "SecretPhoneMaker"  # Make
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


def test_post_multipart_with_media_stores_a_clean_photo(o311: Open311, settings: Settings) -> None:
    photo = _jpeg_with_gps()
    assert b"SecretPhoneMaker" in photo
    response = o311.post("json", files=[("media", ("lubang.jpg", photo, "image/jpeg"))])
    assert response.status_code == 200, response.text
    ticket = response.json()[0]["service_request_id"]
    found = o311.http.get(f"/open311/v2/requests/{ticket}.json").json()[0]
    assert found["media_url"].startswith("http://127.0.0.1:")
    token = found["media_url"].rsplit("/", 1)[-1].removesuffix(".jpg")
    stored = media_paths(settings, token)[0].read_bytes()  # read the stored file back
    assert stored[:2] == b"\xff\xd8" and b"SecretPhoneMaker" not in stored
    with Image.open(io.BytesIO(stored)) as image:
        assert not image.getexif()
    served = o311.http.get(found["media_url"])  # what a client following media_url downloads
    assert served.status_code == 200 and b"SecretPhoneMaker" not in served.content
    not_a_photo = o311.post("xml", files=[("media", ("x.jpg", b"MZ this is no image", "image/jpeg"))])
    assert not_a_photo.status_code == 400
    assert xml(not_a_photo).find("error/code").text == "400"


def test_errors_have_the_open311_shape_and_status(o311: Open311) -> None:
    cases = [
        (o311.post("xml", api_key=None), 403),
        (o311.post("xml", api_key="kpk_wrong"), 403),
        (o311.post("xml", service_code="tidak_ada"), 404),
        (o311.post("xml", service_code=None), 400),
        (o311.post("xml", lat=None, long=None), 400),
        (o311.post("xml", lat="banyak"), 400),
        (o311.post("xml", description="x" * 4001), 400),
        (o311.post("xml", service_code="kebakaran", **{"attribute[ada_korban]": "mungkin"}), 400),
        (o311.http.get("/open311/v2/requests/KPS-1999-999999.xml"), 404),
        (o311.http.get("/open311/v2/services/tidak_ada.xml"), 404),
        (o311.http.get("/open311/v2/requests.xml?status=pending"), 400),
        (o311.http.get("/open311/v2/requests.xml?start_date=kemarin"), 400),
        (o311.http.get("/open311/v2/requests.yaml"), 404),
        (o311.http.get("/open311/v2/tidak-ada.xml"), 404),
    ]
    for response, status in cases:
        assert response.status_code == status, (response.request.url, response.text)
        root = xml(response)
        assert root.tag == "errors"
        assert children(root.find("error")) == ["code", "description"]
        assert root.findtext("error/code") == str(status)
        assert root.findtext("error/description")
    as_json = o311.post("json", api_key="kpk_wrong")
    assert as_json.status_code == 403
    assert as_json.headers["content-type"] == "application/json; charset=utf-8"
    assert as_json.json()[0]["code"] == 403 and as_json.json()[0]["description"]


def test_get_request_fields_and_zoned_datetimes(o311: Open311) -> None:
    ticket = o311.ticket()
    root = xml(o311.http.get(f"/open311/v2/requests/{ticket}.xml"))
    request = root.find("request")
    names = children(request)
    assert names[:2] == ["service_request_id", "status"]
    for name in (
        "service_name",
        "service_code",
        "description",
        "agency_responsible",
        "service_notice",
        "requested_datetime",
        "updated_datetime",
        "expected_datetime",
        "lat",
        "long",
    ):
        assert name in names, name
    assert request.findtext("status") == "open"
    assert "Pekerjaan Umum" in request.findtext("agency_responsible")
    for name in ("requested_datetime", "updated_datetime", "expected_datetime"):
        assert W3C.match(request.findtext(name)), request.findtext(name)
    assert request.findtext("expected_datetime") > request.findtext("requested_datetime")


def test_reporter_contact_never_appears_in_any_get(o311: Open311) -> None:
    ticket = o311.ticket(email=EMAIL, phone=PHONE, first_name="Budi", last_name="Santoso", device_id="dev-77")
    token_post = o311.post("xml", email=EMAIL, phone=PHONE)
    assert token_post.status_code == 200
    bodies = [
        o311.http.get(path).text
        for path in (
            "/open311/v2/requests.xml",
            "/open311/v2/requests.json?extensions=true",
            f"/open311/v2/requests/{ticket}.xml?extensions=true",
            f"/open311/v2/requests/{ticket}.json",
            "/open311/v2/servicerequestupdates.xml",
            "/open311/v2/servicerequestupdates.json",
        )
    ]
    for body in bodies:
        assert ticket in body
        for secret in (EMAIL, PHONE, "81234567890", "Santoso", "dev-77"):
            assert secret not in body


def test_per_phone_limit_answers_429_with_retry_after(o311: Open311, settings: Settings) -> None:
    settings.rate_limit_per_phone = "10/hour"  # the shipped default (tests run with a high one)
    phone = "+6285700011122"
    answers = [
        o311.post("xml", phone=phone, description=f"Jalan rusak berat nomor {i} di desa") for i in range(12)
    ]
    assert [a.status_code for a in answers[:10]] == [200] * 10
    limited = answers[-1]
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) > 0
    assert xml(limited).findtext("error/code") == "429"
