"""Emergency dispatch API: 112 calls, protocol cards, recommendation, dispatch, unit status, AVL, segments."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from kotapintar.core.access.actors import Actor
from kotapintar.core.errors import NotAuthenticated, ValidationFailed
from kotapintar.core.http.deps import SESSION_COOKIE, ActorDep, DbDep, SettingsDep, UserDep
from kotapintar.core.http.errors import error_body
from kotapintar.core.http.security import require_csrf
from kotapintar.dispatch import calls as call_service
from kotapintar.dispatch import recommendation as recommendation_service
from kotapintar.dispatch import segments as segment_service
from kotapintar.dispatch import units as unit_service
from kotapintar.dispatch.engine.unitstatus import load_unit_status
from kotapintar.dispatch.schemas import (
    AvlOutcome,
    CallIn,
    CallView,
    ClassifyIn,
    DispatchIn,
    DispatchResult,
    UnitStatusIn,
    UnitView,
)

UNIT_COOKIE = "kp_unit"
UNIT_HEADER = "x-unit-token"
UNIT_REQUEST_HEADER = (
    "x-kp-unit"  # a custom header cross-site forms cannot send: CSRF guard of the crew cookie
)


async def csrf_for_cookie_sessions(request: Request) -> None:
    """Browser calls authenticated by the session cookie need the CSRF token; bearer and unit tokens do not."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    if request.headers.get("authorization") or request.headers.get(UNIT_HEADER):
        return
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie and not request.headers.get(UNIT_REQUEST_HEADER):
        signed = request.app.state.signer.read(cookie)
        if signed is not None:  # the token is bound to the session id (runs before the actor is resolved)
            request.state.session_id = signed[1]
        await require_csrf(request)


router = APIRouter(
    prefix="/api/v1/dispatch", tags=["dispatch"], dependencies=[Depends(csrf_for_cookie_sessions)]
)

STATUS_OF_REASON = {"malformed": 422, "unknown_unit": 404, "stale": 409, "out_of_order": 409, "future": 409}


def unit_or_user(code: str, request: Request, db: DbDep, settings: SettingsDep, actor: ActorDep) -> Actor:
    """The crew of unit `code` (X-Unit-Token header, or the crew page's cookie) or a logged-in user."""
    token = request.headers.get(UNIT_HEADER)
    if token is None and request.headers.get(UNIT_REQUEST_HEADER):
        cookie = request.cookies.get(UNIT_COOKIE, "")
        cookie_code, _, cookie_token = cookie.partition(":")
        token = cookie_token if cookie_code == code else None
    if token:
        return unit_service.actor_for_unit_token(db, settings, code, token)
    if actor.kind == "public":
        raise NotAuthenticated(
            "Masuk dulu, atau kirim token unit (X-Unit-Token) / log in or send the unit token."
        )
    return actor


CrewDep = Annotated[Actor, Depends(unit_or_user)]


# ------------------------------------------------------------------ reference data


@router.get("/protocols")
def protocols() -> dict[str, Any]:
    """Protocol cards per incident type: questions whose answers set priority and (via run cards) units."""
    return call_service.protocol_cards()


@router.get("/unit-statuses")
def unit_statuses() -> dict[str, Any]:
    """The unit status state machine: statuses, labels, allowed transitions."""
    return load_unit_status().to_dict()


# ------------------------------------------------------------------ calls


@router.post("/calls", response_model=CallView, status_code=201)
def receive_call(db: DbDep, actor: UserDep, body: CallIn) -> CallView:
    """A new 112 call: the clock starts (received, and by default answered now)."""
    return call_service.receive_call(db, actor, body)


@router.get("/calls", response_model=list[CallView])
def list_calls(db: DbDep, actor: UserDep, limit: Annotated[int, Query(ge=1, le=500)] = 50) -> list[CallView]:
    """The newest calls."""
    return call_service.recent_calls(db, actor, limit)


@router.get("/calls/counts")
def call_counts(db: DbDep, actor: UserDep, since: datetime | None = None) -> dict[str, int]:
    """Calls per classification (genuine, prank, ghost, info, duplicate, unclassified) and the total."""
    return call_service.call_counts(db, actor, since)


@router.get("/calls/{call_id}", response_model=CallView)
def get_call(call_id: int, db: DbDep, actor: UserDep) -> CallView:
    """One call."""
    return call_service.get_call(db, actor, call_id)


@router.post("/calls/{call_id}/answer", response_model=CallView)
def answer_call(call_id: int, db: DbDep, actor: UserDep) -> CallView:
    """Pick up a ringing call."""
    return call_service.answer_call(db, actor, call_id)


@router.post("/calls/{call_id}/classify", response_model=CallView)
def classify_call(
    call_id: int, body: ClassifyIn, db: DbDep, actor: UserDep, settings: SettingsDep
) -> CallView:
    """Classify the call; a genuine one opens (or joins) a case, a duplicate joins the named incident."""
    return call_service.classify_call(db, actor, call_id, body, settings=settings)


@router.get("/nearby")
def nearby(
    db: DbDep,
    actor: UserDep,
    lon: Annotated[float, Query(ge=-180, le=180)],
    lat: Annotated[float, Query(ge=-90, le=90)],
    radius_m: Annotated[float, Query(gt=0, le=20000)] = 1000,
) -> list[dict[str, Any]]:
    """Active incidents near a point, nearest first (possible duplicates of a call)."""
    return call_service.nearby_active_cases(db, actor, lon, lat, radius_m)


# ------------------------------------------------------------------ recommendation and dispatch


@router.get("/cases/{case_id}/recommendation")
def recommendation(case_id: int, db: DbDep, actor: UserDep, settings: SettingsDep) -> dict[str, Any]:
    """Units to send, per needed kind, ranked by estimated travel time and explained."""
    return recommendation_service.recommend_for_case(db, actor, case_id, settings=settings)


@router.post("/cases/{case_id}/dispatch", response_model=DispatchResult)
def dispatch(
    case_id: int, body: DispatchIn, db: DbDep, actor: UserDep, settings: SettingsDep
) -> DispatchResult:
    """Send the recommended units (empty body) or a chosen list with `override_reason`."""
    return recommendation_service.dispatch_units(db, actor, case_id, body, settings=settings)


@router.get("/cases/{case_id}/segments")
def case_segments(case_id: int, db: DbDep, actor: UserDep) -> dict[str, Any]:
    """Response-time segments of one case against their targets."""
    return segment_service.case_segments(db, actor, case_id).to_dict()


@router.get("/segments")
def segments(
    db: DbDep,
    actor: UserDep,
    settings: SettingsDep,
    by: Annotated[str, Query(pattern="^(agency|kecamatan|service|period)$")] = "service",
    period: Annotated[str, Query(pattern="^(day|week|month)$")] = "month",
    since: datetime | None = None,
    until: datetime | None = None,
) -> dict[str, Any]:
    """Mean and 90th percentile of each segment per group, against targets."""
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise ValidationFailed(f"{name} perlu zona waktu, mis. 2026-11-29T08:00:00+07:00.", field=name)
    return segment_service.segments_summary(
        db, actor, by=by, period=period, since=since, until=until, settings=settings
    )


# ------------------------------------------------------------------ units


@router.get("/units", response_model=list[UnitView])
def units(db: DbDep, actor: UserDep) -> list[UnitView]:
    """The unit status board."""
    return unit_service.unit_board(db, actor)


@router.get("/units.geojson")
def units_geojson(db: DbDep, actor: UserDep) -> dict[str, Any]:
    """Units as GeoJSON points (for the operator map): properties code, name, kind, status, case."""
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [u.lon, u.lat]},
            "properties": u.model_dump(mode="json", exclude={"lon", "lat"}),
        }
        for u in unit_service.unit_board(db, actor)
        if u.lon is not None and u.lat is not None
    ]
    return {"type": "FeatureCollection", "features": features}


@router.get("/units/{code}")
def unit_detail(code: str, db: DbDep, actor: CrewDep) -> dict[str, Any]:
    """One unit with its current assignment and history (crew page; unit token or login)."""
    return unit_service.unit_detail(db, actor, code)


@router.post("/units/{code}/status", response_model=UnitView)
def unit_status(code: str, body: UnitStatusIn, db: DbDep, actor: CrewDep) -> UnitView:
    """Change a unit's status (allowed transitions only), with time and position."""
    return unit_service.change_unit_status(
        db, actor, code, body.status, at=body.at, lon=body.lon, lat=body.lat, source="http"
    )


@router.post("/units/{code}/position", response_model=AvlOutcome, status_code=202)
async def unit_position(code: str, request: Request, db: DbDep, settings: SettingsDep, user: ActorDep) -> Any:
    """AVL over HTTP: `{lon, lat, at?, speed?, heading?}` or FleetVehicleStatus-shaped JSON.

    202 when applied; otherwise the reason (malformed 422, unknown_unit 404, stale / out_of_order /
    future 409), counted either way. A fix without a time is stamped on arrival.
    """
    actor = unit_or_user(code, request, db, settings, user)
    raw = await request.body()
    outcome = unit_service.record_position(
        db, actor, code, raw, source="http", settings=settings, default_now=True
    )
    if outcome.accepted:
        return outcome
    return JSONResponse(
        error_body(outcome.reason or "rejected", f"Posisi diabaikan: {outcome.message}", unit=code),
        status_code=STATUS_OF_REASON.get(outcome.reason or "", 409),
    )


@router.get("/counters")
def counters(db: DbDep, actor: UserDep) -> dict[str, int]:
    """Ingest counters: positions and statuses accepted, and rejected per reason."""
    return unit_service.ingest_counters(db, actor)


@router.get("/coverage")
def coverage(
    db: DbDep,
    actor: UserDep,
    settings: SettingsDep,
    target_min: Annotated[float, Query(gt=0, le=180)] = 15,
    kind: str | None = None,
) -> dict[str, Any]:
    """GeoJSON of the area reachable within `target_min` from the available units, and the uncovered desa."""
    return recommendation_service.coverage_geojson(db, actor, target_min, kind=kind, settings=settings)
