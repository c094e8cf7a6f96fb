"""One public CAP 1.2 message by its identifier: the link of its Atom feed entry and of `references`."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from kotapintar.core.http.conditional import conditional_response
from kotapintar.core.http.deps import DbDep
from kotapintar.sensors.cap_feed import cap_message

router = APIRouter(tags=["sensors"])
ALERT_PATH = "/api/v1/public/warnings/{identifier}.cap.xml"


def alert_url(request: Request, identifier: str) -> str:
    """The absolute URL of one CAP message (for feed entries)."""
    return str(request.url_for("cap_alert", identifier=identifier))


@router.get(ALERT_PATH, response_class=Response, name="cap_alert")
def cap_alert(identifier: str, request: Request, db: DbDep) -> Response:
    """One CAP 1.2 message (current or superseded), with ETag/Last-Modified; 404 for an unknown identifier."""
    message = cap_message(db, identifier)
    return conditional_response(
        request, message.xml, last_modified=message.sent, media_type="application/cap+xml; charset=utf-8"
    )
