"""Helpers of the Open311 tests: a client of the live server with a key, XML parsing, own servers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from lxml import etree

from kotapintar.core.db.database import Database
from kotapintar.core.settings import Settings

# A point inside Kecamatan Selat (Kuala Kapuas town) in the demo city.
LON, LAT = 114.39, -3.0
PHONE, EMAIL = "+6281234567890", "budi.rahasia@example.org"


@dataclass
class Open311:
    """A client of a live server's /open311/v2/ holding a valid key."""

    http: httpx.Client
    key: str
    db: Database
    posted: int = 0

    def post(self, fmt: str = "xml", files: Any = None, **fields: Any) -> httpx.Response:
        """POST requests.{fmt} with the key and a valid default request; fields override (None drops).

        Each default request lies ~150 m from the previous one, so triage never merges them as duplicates.
        """
        self.posted += 1
        data: dict[str, Any] = {
            "api_key": self.key,
            "service_code": "jalan_rusak",
            "lat": f"{LAT - 0.0014 * self.posted:.6f}",
            "long": str(LON),
            "description": "Jalan berlubang besar di depan SDN 2 Selat, bahaya untuk motor.",
        }
        data.update(fields)
        body = {k: v for k, v in data.items() if v is not None}
        return self.http.post(f"/open311/v2/requests.{fmt}", data=body, files=files)

    def ticket(self, **fields: Any) -> str:
        """Post a request and return its service_request_id."""
        response = self.post("json", **fields)
        assert response.status_code == 200, response.text
        return str(response.json()[0]["service_request_id"])


def xml(response: httpx.Response) -> Any:
    """The parsed XML body, after checking the declaration and the content type."""
    assert response.headers["content-type"] == "text/xml; charset=utf-8"
    assert response.content.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    return etree.fromstring(response.content)


def children(element: Any) -> list[str]:
    """The tag names of an element's children, in order."""
    return [c.tag for c in element]


@contextmanager
def server(db: Database, settings: Settings, **overrides: Any) -> Iterator[str]:
    """A live server of the app with some settings changed; yields its base URL."""
    from kotapintar.app.web import create_app
    from kotapintar.intake.abuse import limiter
    from tests.conftest import LiveServer

    limiter().reset()  # the per-phone limit is process-wide; each server starts with a clean count

    live = LiveServer(create_app(settings.model_copy(update=overrides), db=db))
    live.start()
    try:
        yield live.url
    finally:
        live.stop()
