"""Conditional GET for published documents (CAP feed and messages): ETag, Last-Modified, Cache-Control, 304.

Aggregators poll CAP feeds every minute or so; answering 304 when nothing changed saves both sides the
transfer and lets caches in between serve the feed.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime

from fastapi import Request
from fastapi.responses import Response

CACHE_CONTROL = "public, max-age=60"


def conditional_response(
    request: Request, body: bytes, *, last_modified: datetime, media_type: str
) -> Response:
    """`body` with a strong ETag (sha256 of the bytes), Last-Modified and Cache-Control; 304 without a body
    when the client's If-None-Match matches (it wins, RFC 9110 13.2.2) or, without it, when
    If-Modified-Since is not older than Last-Modified."""
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    modified = last_modified.astimezone(UTC).replace(microsecond=0)
    headers = {
        "ETag": etag,
        "Last-Modified": format_datetime(modified, usegmt=True),
        "Cache-Control": CACHE_CONTROL,
    }
    if _not_modified(request, etag, modified):
        return Response(status_code=304, headers=headers)
    return Response(content=body, media_type=media_type, headers=headers)


def _not_modified(request: Request, etag: str, modified: datetime) -> bool:
    match = request.headers.get("if-none-match")
    if match is not None:
        tags = {t.strip().removeprefix("W/") for t in match.split(",")}
        return etag in tags or "*" in tags
    since = request.headers.get("if-modified-since")
    if since:
        try:
            when = parsedate_to_datetime(since)
        except (TypeError, ValueError):
            return False
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return modified <= when
    return False


def feed_updated(atom: bytes) -> datetime:
    """The `updated` time of an Atom feed (its Last-Modified)."""
    from lxml import etree

    root = etree.fromstring(atom)
    text = root.findtext("{http://www.w3.org/2005/Atom}updated")
    return datetime.fromisoformat(text) if text else datetime.now(UTC)
