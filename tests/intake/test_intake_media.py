"""Photos: checked by content, re-encoded without EXIF/GPS (read back from disk), rahasia photos never public."""

from __future__ import annotations

import io
import re
from pathlib import Path

import httpx
from PIL import Image

from kotapintar.core.db.database import Database
from kotapintar.core.settings import Settings
from kotapintar.intake.media import media_paths
from tests.conftest import LiveServer
from tests.intake.intake_helpers import count_cases, token_for

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
GPS_IFD = 0x8825
MAKE, MODEL = 0x010F, 0x0110


def photo_with_gps(fmt: str = "JPEG") -> bytes:
    """A camera-like photo: EXIF with the device and a GPS position."""
    image = Image.new("RGB", (1200, 900), (180, 120, 60))
    exif = Image.Exif()
    exif[MAKE] = "PhoneMaker"
    exif[MODEL] = "Model X 12"
    exif[GPS_IFD] = {1: "S", 2: (3.0, 0.0, 0.0), 3: "E", 4: (114.0, 23.0, 24.0)}
    out = io.BytesIO()
    image.save(out, format=fmt, exif=exif.tobytes())
    data = out.getvalue()
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(GPS_IFD), "fixture must really carry GPS"
    return data


def _submit(base: str, files: list[tuple[str, tuple[str, bytes, str]]], **extra: str) -> httpx.Response:
    client = httpx.Client(base_url=base, timeout=30)
    token = CSRF.search(client.get("/lapor?layanan=jalan_rusak").text)
    assert token
    data = {
        "csrf_token": token.group(1),
        "service_code": "jalan_rusak",
        "description": "Jalan berlubang besar di depan SDN 2 Selat, bahaya untuk motor.",
        "lon": "114.39",
        "lat": "-3.0",
        "phone": "+6281200001111",
        **extra,
    }
    return client.post("/lapor", data=data, files=files)


def _media(base: str, ticket: str, key: str | None = None) -> list[dict[str, object]]:
    detail = httpx.get(f"{base}/api/v1/tickets/{ticket}", timeout=30).json()
    return list(detail["reports"][0]["media"])


def test_stored_photo_has_no_exif_gps_or_device(
    live_server: LiveServer, db: Database, settings: Settings
) -> None:
    original = photo_with_gps()
    response = _submit(live_server.url, [("photos", ("IMG_0001.jpg", original, "image/jpeg"))])
    assert response.status_code == 303, response.text[:1500]
    ticket = re.search(r"KPS-\d{4}-\d{6}", response.headers["location"])
    assert ticket
    entries = _media(live_server.url, ticket.group(0))
    assert len(entries) == 1
    token = str(entries[0]["token"])
    image_path, thumb_path = media_paths(settings, token)
    for path in (image_path, thumb_path):
        stored = path.read_bytes()
        assert b"PhoneMaker" not in stored and b"Model X 12" not in stored
        with Image.open(io.BytesIO(stored)) as img:
            exif = img.getexif()
            assert not exif.get_ifd(GPS_IFD) and MAKE not in exif and MODEL not in exif
            assert "exif" not in img.info
    with Image.open(image_path) as img:
        assert max(img.size) <= settings.photo_max_px
    with Image.open(thumb_path) as img:
        assert max(img.size) <= settings.thumb_max_px
    served = httpx.get(f"{live_server.url}{entries[0]['url']}", timeout=30)
    assert served.status_code == 200 and served.headers["content-type"] == "image/jpeg"
    assert b"PhoneMaker" not in served.content
    assert not Image.open(io.BytesIO(served.content)).getexif().get_ifd(GPS_IFD)
    assert httpx.get(f"{live_server.url}{entries[0]['thumb_url']}", timeout=30).status_code == 200
    # the original upload is not kept anywhere under media_dir
    stored_files = [p for p in Path(settings.media_dir).rglob("*") if p.is_file()]
    assert all(original != p.read_bytes() for p in stored_files)


def test_type_is_checked_by_content_not_extension(
    live_server: LiveServer, db: Database, settings: Settings
) -> None:
    fake = b"#!/bin/sh\necho not a photo\n" * 20
    response = _submit(live_server.url, [("photos", ("jalan.jpg", fake, "image/jpeg"))])
    assert response.status_code == 422
    assert 'id="f-photos-error"' in response.text and "JPEG, PNG atau WebP" in response.text
    png_named_txt = photo_with_gps("PNG")
    accepted = _submit(live_server.url, [("photos", ("catatan.txt", png_named_txt, "text/plain"))])
    assert accepted.status_code == 303
    assert count_cases(db) == 1  # the refused one left no case behind
    files = [p for p in Path(settings.media_dir).rglob("*.jpg")]
    assert len(files) == 2  # one photo + thumbnail, none from the refused report


def test_too_many_photos_refused(live_server: LiveServer, db: Database) -> None:
    small = photo_with_gps()
    files = [("photos", (f"p{i}.jpg", small, "image/jpeg")) for i in range(6)]
    response = _submit(live_server.url, files)
    assert response.status_code == 422 and 'id="f-photos-error"' in response.text
    assert count_cases(db) == 0


def test_rahasia_photos_are_never_public(live_server: LiveServer, db: Database, settings: Settings) -> None:
    base = live_server.url
    response = _submit(base, [("photos", ("a.jpg", photo_with_gps(), "image/jpeg"))], confidential="1")
    assert response.status_code == 303
    location = response.headers["location"]
    ticket = re.search(r"KPS-\d{4}-\d{6}", location)
    assert ticket
    # the public does not even see the case …
    assert httpx.get(f"{base}/api/v1/tickets/{ticket.group(0)}", timeout=30).status_code == 404
    assert httpx.get(f"{base}/lacak/{ticket.group(0)}", timeout=30).status_code == 404
    # … the reporter's own link shows the status only, without photos
    own = httpx.get(f"{base}{location}", timeout=30)
    assert own.status_code == 200 and "/media/" not in own.text and "Laporan rahasia" in own.text
    operator = token_for(base, "operator")
    headers = {"Authorization": f"Bearer {operator}"}
    case_id = httpx.get(f"{base}/api/v1/cases", headers=headers, timeout=30).json()["items"][0]["id"]
    detail = httpx.get(f"{base}/api/v1/cases/{case_id}", headers=headers, timeout=30).json()
    entry = detail["reports"][0]["media"][0]
    assert httpx.get(f"{base}{entry['url']}", timeout=30).status_code == 404
    assert httpx.get(f"{base}{entry['thumb_url']}", timeout=30).status_code == 404
    staff = httpx.get(f"{base}{entry['url']}", headers=headers, timeout=30)
    assert staff.status_code == 200 and staff.headers["cache-control"].startswith("private")
