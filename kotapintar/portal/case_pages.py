"""The public case list (/kasus) with filters, search and pages; its map data and Atom feed per filter;
and one public page per case (/kasus/{ticket}) with a shareable link.

Everything works without JavaScript: the filters are a GET form, pages are links, the feed is a link.
With JavaScript the map shows the same filter's cases (`/kasus.geojson?<same query>`).
"""

from __future__ import annotations

import json
from typing import Any
from xml.etree import ElementTree as ET

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from kotapintar.cases import service as case_service
from kotapintar.cases.public import public_case
from kotapintar.catalog import service as catalog_service
from kotapintar.core.errors import NotFound
from kotapintar.core.http.deps import ActorDep, ReadDbDep, SettingsDep
from kotapintar.core.http.pages import page_context, templates
from kotapintar.core.http.templating import request_locale
from kotapintar.core.i18n import translate
from kotapintar.core.settings import Settings
from kotapintar.portal import listing

router = APIRouter(include_in_schema=False)
ATOM = "http://www.w3.org/2005/Atom"


def _base_url(request: Request, settings: Settings) -> str:
    """The address people share: the configured public one, else the one this request came to."""
    return (settings.public_base_url or str(request.base_url)).rstrip("/")


@router.get("/kasus", response_class=HTMLResponse)
def case_list(request: Request, db: ReadDbDep, settings: SettingsDep, actor: ActorDep) -> Response:
    """Public cases, newest first: filter by service, kecamatan/desa, status and period, search words, pages."""
    locale = request_locale(request)
    options = listing.choices(db, str(locale))
    query = listing.read_query(dict(request.query_params), settings, options)
    page = listing.list_page(db, query)
    context = page_context(
        request,
        settings,
        actor,
        query=query,
        page=page,
        options=options,
        statuses=listing.PUBLIC_STATUSES,
        open_value=listing.OPEN,
        errors={k: translate(v, locale) for k, v in query.errors.items()},
        names=_agency_names(db),
        tile_url=settings.tile_url,
        tile_attribution=settings.tile_attribution,
        share_url=f"{_base_url(request, settings)}/kasus?{query.link()}".rstrip("?"),
    )
    status = 400 if query.errors else 200
    return templates.TemplateResponse(request, "portal/list.html", context, status_code=status)


def _agency_names(db: Any) -> dict[str, str]:
    return {a.code: a.name for a in catalog_service.agencies(db)}


@router.get("/kasus.geojson")
def case_map(request: Request, db: ReadDbDep, settings: SettingsDep) -> Response:
    """The located public cases of the same filter as the list, for its map (GeoJSON)."""
    query = listing.read_query(dict(request.query_params), settings, listing.choices(db))
    body = json.dumps(
        {"type": "FeatureCollection", "features": listing.map_features(db, query)},
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return Response(body, media_type="application/geo+json")


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attrs)
    if text is not None:
        element.text = text
    return element


@router.get("/kasus.atom")
def case_feed(request: Request, db: ReadDbDep, settings: SettingsDep) -> Response:
    """An Atom feed of the newest public cases of a filter (subscribe to one kecamatan, one service …)."""
    locale = request_locale(request)
    options = listing.choices(db, str(locale))
    query = listing.read_query(dict(request.query_params), settings, options)
    items = listing.newest(db, query)
    base = _base_url(request, settings)
    link = query.link()
    ET.register_namespace("", ATOM)
    root = ET.Element(f"{{{ATOM}}}feed")
    title = translate("portal.feed.title", locale, kabupaten=_kabupaten(settings))
    _sub(root, "title", title)
    _sub(root, "id", f"{base}/kasus.atom?{link}".rstrip("?"))
    _sub(root, "link", rel="self", href=f"{base}/kasus.atom?{link}".rstrip("?"))
    _sub(root, "link", rel="alternate", type="text/html", href=f"{base}/kasus?{link}".rstrip("?"))
    newest_update = max((i["updated_at"] for i in items), default=None)
    _sub(root, "updated", newest_update or "1970-01-01T00:00:00+00:00")
    names = _agency_names(db)
    for item in items:
        entry = _sub(root, "entry")
        url = f"{base}{item['url']}"
        _sub(entry, "id", url)
        _sub(entry, "title", f"{item['ticket']}: {item['title']}")
        _sub(entry, "link", href=url)
        _sub(entry, "published", item["created_at"])
        _sub(entry, "updated", item["updated_at"])
        status = translate(f"case.status.{item['status']}", locale)
        place = options.region_name(item["region_code"]) or options.region_name(item["kecamatan_code"]) or "—"
        agency = names.get(item["agency_code"] or "", "—")
        summary = translate(
            "portal.feed.summary",
            locale,
            service=item["service_name"],
            status=status,
            place=place,
            agency=agency,
        )
        _sub(entry, "summary", summary)
        author = _sub(entry, "author")
        _sub(author, "name", _kabupaten(settings))
    body = ET.tostring(root, encoding="unicode", xml_declaration=False)
    return Response('<?xml version="1.0" encoding="utf-8"?>\n' + body, media_type="application/atom+xml")


def _kabupaten(settings: Settings) -> str:
    return "Kabupaten Kapuas" if settings.region_code == "62.03" else settings.region_code


@router.get("/kasus/{ticket}", response_class=HTMLResponse)
def case_page(
    ticket: str, request: Request, db: ReadDbDep, settings: SettingsDep, actor: ActorDep
) -> Response:
    """One case as the public may see it: status, public timeline, the agency's public answer, public photos,
    and the link to share. Built from `cases.public.PublicCase` (a whitelist); rahasia cases are not found."""
    clean = ticket.strip().upper()[:40]
    try:
        case = public_case(db, case_service.case_by_ticket(db, clean))
    except NotFound:
        context = page_context(request, settings, actor, case=None, ticket=clean)
        return templates.TemplateResponse(request, "portal/case.html", context, status_code=404)
    options = listing.choices(db, str(request_locale(request)))
    photos = [m for r in case.reports for m in r.media if "thumb_url" in m and "url" in m]
    context = page_context(
        request,
        settings,
        actor,
        case=case,
        ticket=case.ticket,
        service_name=options.service_name(case.service_code) or case.service_code,
        kecamatan_name=options.region_name(case.kecamatan_code),
        desa_name=options.region_name(case.region_code),
        agency_name=_agency_names(db).get(case.agency_code or ""),
        photos=photos,
        share_url=f"{_base_url(request, settings)}/kasus/{case.ticket}",
        tile_url=settings.tile_url,
        tile_attribution=settings.tile_attribution,
    )
    return templates.TemplateResponse(request, "portal/case.html", context)
