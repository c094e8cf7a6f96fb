"""The operator's command center: live map and queue (/operator) and the case page with its actions."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from kotapintar.cases import service as case_service
from kotapintar.cases.lifecycle import OPEN_STATUS_CODES as OPEN
from kotapintar.cases.lifecycle import CaseStatus, Priority, allowed_next
from kotapintar.cases.schemas import CaseDetail
from kotapintar.catalog import service as catalog_service
from kotapintar.command_center import queries
from kotapintar.command_center.agency import is_answer_step, parse_outputs, step_outputs
from kotapintar.command_center.filters import QueueFilter
from kotapintar.core.access.actors import Actor
from kotapintar.core.access.roles import Permission
from kotapintar.core.db.database import Database
from kotapintar.core.errors import DomainError, NotFound, ValidationFailed
from kotapintar.core.events.types import utcnow
from kotapintar.core.http.deps import ActorDep, DbDep, SettingsDep, current_actor
from kotapintar.core.http.pages import COMMAND_ROLES, flash_error, page_context, require_roles, templates
from kotapintar.core.http.security import require_csrf
from kotapintar.core.settings import Settings
from kotapintar.dispatch import recommendation as recommendation_service
from kotapintar.dispatch.engine.profiles import load_profiles
from kotapintar.dispatch.schemas import DispatchIn
from kotapintar.metrics.performance import OPEN_TASKS
from kotapintar.sensors.queries import case_sensor_panel
from kotapintar.sop import tasks as sop_tasks
from kotapintar.triage.corrections import correct_triage

router = APIRouter(include_in_schema=False)
CSRF = [Depends(current_actor), Depends(require_csrf)]
MAP_DEFAULT_LIMIT = 10000


def _filter(
    kecamatan: str | None, agency: str | None, service: str | None, status: str | None
) -> QueueFilter:
    statuses = (status,) if status in OPEN else OPEN
    return QueueFilter(
        kecamatan_code=kecamatan or None,
        agency_code=agency or None,
        service_code=service or None,
        statuses=statuses,
    )


def _filter_options(db: Database) -> dict[str, Any]:
    return {
        "kecamatan_options": [(r.code, r.name) for r in catalog_service.regions(db, "kecamatan")],
        "agency_options": [(a.code, a.short or a.name) for a in catalog_service.agencies(db)],
        "service_options": [(s.code, s.name) for s in catalog_service.services(db, active_only=False)],
    }


@router.get("/operator", response_class=HTMLResponse)
def operator_page(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    actor: ActorDep,
    kecamatan: str | None = None,
    agency: str | None = None,
    service: str | None = None,
    status: str | None = None,
    tab: str = "antrean",
) -> Response:
    """Map and queue side by side; both follow the live stream."""
    require_roles(request, actor, COMMAND_ROLES)
    flt = _filter(kecamatan, agency, service, status)
    items = queries.triage_queue(db, actor) if tab == "triase" else queries.queue(db, actor, flt)
    query = request.url.query
    context = page_context(
        request,
        settings,
        actor,
        items=items,
        counts=queries.counts(db, actor, flt),
        triage_count=len(queries.triage_queue(db, actor)) if tab != "triase" else len(items),
        tab=tab,
        selected={
            "kecamatan": kecamatan or "",
            "agency": agency or "",
            "service": service or "",
            "status": status or "",
        },
        statuses=OPEN,
        map_url="/operator/peta.geojson" + (f"?{query}" if query else ""),
        queue_url="/operator/antrean" + (f"?{query}" if query else ""),
        tile_url=settings.tile_url,
        live_url="/api/v1/stream",
        now=utcnow(),
        **_filter_options(db),
    )
    return templates.TemplateResponse(request, "ui/operator.html", context)


@router.get("/operator/antrean", response_class=HTMLResponse)
def queue_fragment(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    actor: ActorDep,
    kecamatan: str | None = None,
    agency: str | None = None,
    service: str | None = None,
    status: str | None = None,
    tab: str = "antrean",
) -> Response:
    """The queue list alone, re-fetched by the page when an event arrives."""
    require_roles(request, actor, COMMAND_ROLES)
    flt = _filter(kecamatan, agency, service, status)
    items = queries.triage_queue(db, actor) if tab == "triase" else queries.queue(db, actor, flt)
    context = page_context(
        request, settings, actor, items=items, counts=queries.counts(db, actor, flt), tab=tab
    )
    return templates.TemplateResponse(request, "ui/_queue.html", context)


@router.get("/operator/peta.geojson")
def map_data(
    request: Request,
    db: DbDep,
    actor: ActorDep,
    kecamatan: str | None = None,
    agency: str | None = None,
    service: str | None = None,
    status: str | None = None,
    bbox: str | None = None,
    limit: Annotated[int, Query(ge=1, le=queries.MAP_LIMIT_MAX)] = MAP_DEFAULT_LIMIT,
) -> Response:
    """Open cases as compact GeoJSON (id, priority, status, title), most urgent first, bounded by `limit`."""
    require_roles(request, actor, COMMAND_ROLES)
    flt = _filter(kecamatan, agency, service, status)
    if bbox:
        try:
            a, b, c, d = (float(x) for x in bbox.split(","))
        except ValueError as exc:
            raise ValidationFailed("bbox = minLon,minLat,maxLon,maxLat", field="bbox") from exc
        flt = QueueFilter(**{**flt.__dict__, "bbox": (a, b, c, d)})
    features = queries.map_features(db, actor, flt, limit=limit)
    body = json.dumps(
        {"type": "FeatureCollection", "features": features}, separators=(",", ":"), ensure_ascii=False
    )
    return Response(body, media_type="application/geo+json", headers={"Cache-Control": "no-store"})


@router.get("/operator/kasus/{case_id}/fitur")
def case_feature(case_id: int, request: Request, db: DbDep, actor: ActorDep) -> Response:
    """One case for the live map: `{feature}` while open and located, else `{remove_id}`."""
    require_roles(request, actor, COMMAND_ROLES)
    features = queries.map_features(db, actor, QueueFilter(case_ids=(case_id,)), limit=1)
    body: dict[str, Any] = {"feature": features[0]} if features else {"remove_id": case_id}
    return Response(json.dumps(body, ensure_ascii=False), media_type="application/json")


@router.get("/operator/kasus/{case_id}/peta.geojson")
def case_point(case_id: int, request: Request, db: DbDep, actor: ActorDep) -> Response:
    """One case (any status) as a FeatureCollection for the small map of the case page."""
    require_roles(request, actor, COMMAND_ROLES)
    flt = QueueFilter(case_ids=(case_id,), statuses=())
    features = queries.map_features(db, actor, flt, limit=1)
    body = json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False)
    return Response(body, media_type="application/geo+json")


def _sop_progress(db: Database, actor: Actor, detail: CaseDetail) -> list[dict[str, Any]]:
    """SOP progress from the SOP runtime (steps done, running, late, waiting); else from the tasks."""
    try:
        progress = sop_tasks.case_sop_progress(db, actor, detail.id)
    except NotFound:
        return _sop_steps(detail)
    return [
        {
            "title": step.kegiatan,
            "state": step.status,
            "agencies": step.agencies,
            "due_at": step.due_at,
        }
        for step in progress.steps
        if step.status != "idle"
    ]


def _sop_steps(detail: CaseDetail) -> list[dict[str, Any]]:
    """SOP progress from the case's tasks: each step done, running or late."""
    now = utcnow()
    steps = []
    for task in detail.tasks:
        due = task.due_at
        if task.status in ("done", "completed"):
            state = "done"
        elif task.status in ("rejected", "cancelled", "handed_over"):
            state = "stopped"
        elif due is not None and (due if due.tzinfo else due.replace(tzinfo=now.tzinfo)) < now:
            state = "late"
        else:
            state = "running"
        steps.append(
            {"title": task.title, "state": state, "agencies": [task.agency_code], "due_at": task.due_at}
        )
    return steps


def _duplicates(db: Database, actor: Actor, detail: CaseDetail) -> list[dict[str, Any]]:
    """Possible duplicates named by triage (with their score), the case itself left out."""
    scores: dict[int, float] = {}
    for event in detail.timeline:
        if event.type in ("triage_suggested", "duplicate_suspected"):
            for item in event.payload.get("possible_duplicates") or []:
                if isinstance(item, list | tuple) and len(item) >= 2 and isinstance(item[0], int):
                    scores[item[0]] = max(scores.get(item[0], 0.0), float(item[1]))
    scores.pop(detail.id, None)
    titles = queries.case_titles(db, actor, list(scores))
    return [
        {
            "id": cid,
            "score": score,
            "ticket": titles[cid][0],
            "title": titles[cid][1],
            "status": titles[cid][2],
        }
        for cid, score in sorted(scores.items(), key=lambda kv: -kv[1])
        if cid in titles
    ]


def _triage_panel(detail: CaseDetail) -> dict[str, Any] | None:
    """What automatic triage said about the case (its last `triage_suggested` event), for the operator."""
    suggested = [e for e in detail.timeline if e.type == "triage_suggested"]
    if not suggested:
        return None
    payload = suggested[-1].payload or {}
    return {
        "needs_review": bool(payload.get("needs_review")),
        "cues": [str(c) for c in payload.get("cues") or []],
        "suggestions": [(str(s[0]), float(s[1])) for s in payload.get("suggestions") or [] if len(s) >= 2],
        "other_issues": [str(c) for c in payload.get("other_issues") or []],
        "priority_reason": payload.get("priority_reason"),
    }


def _case_context(
    request: Request, db: Database, settings: Settings, actor: Actor, case_id: int, **extra: Any
) -> dict[str, Any]:
    detail = case_service.case_detail(db, actor, case_id)
    status = CaseStatus(detail.status)
    agencies = [(a.code, a.short or a.name) for a in catalog_service.agencies(db)]
    service = catalog_service.service(db, detail.service_code)
    services = [(s.code, s.name) for s in catalog_service.services(db)]
    open_dues = [t.due_at for t in detail.tasks if t.status in OPEN_TASKS and t.due_at is not None]
    own_sop_tasks = [
        {"task": t, "outputs": step_outputs(db, detail.id, t.step_id)}
        for t in detail.tasks
        if t.agency_code == actor.agency_code
        and t.status in ("pending", "accepted", "in_progress")
        and _is_sop_task(db, t.id)
        # an answer step (e.g. 'lainnya' at the command center's own agency) is drafted and approved in
        # the agency inbox; its 'complete' here could only fail (409, AnswerDrafted/AnswerApproved)
        and not is_answer_step(db, detail.id, t.step_id)
    ]
    return page_context(
        request,
        settings,
        actor,
        case=detail,
        case_due=min(open_dues) if open_dues else None,  # the queue's clock: the soonest open task's due time
        open_task_states=sorted(OPEN_TASKS),
        sop_tasks=own_sop_tasks,
        service_name=service.name if service else detail.service_code,
        steps=_sop_progress(db, actor, detail),
        duplicates=_duplicates(db, actor, detail),
        sensor_panel=case_sensor_panel(db, actor, detail.id, detail.channel, settings=settings),
        agency_options=agencies,
        agency_names=dict(agencies),
        next_statuses={s.value for s in allowed_next(status)},
        can_triage=actor.can(Permission.TRIAGE_CASES),
        can_dispatch=actor.can(Permission.DISPATCH_UNITS),
        triage=_triage_panel(detail),
        service_options=services,
        service_names=dict(services),
        priority_options=[(p.value, p.value) for p in Priority],
        can_close=actor.can(Permission.CLOSE_CASES),
        live_url="/api/v1/stream",
        tile_url=settings.tile_url,
        **extra,
    )


@router.get("/operator/kasus/{case_id}", response_class=HTMLResponse)
def case_page(case_id: int, request: Request, db: DbDep, settings: SettingsDep, actor: ActorDep) -> Response:
    """Everything about one case and the actions on it."""
    require_roles(request, actor, COMMAND_ROLES)
    try:
        context = _case_context(request, db, settings, actor, case_id)
    except NotFound:
        context = page_context(request, settings, actor, case_id=case_id)
        return templates.TemplateResponse(request, "ui/not_found.html", context, status_code=404)
    return templates.TemplateResponse(request, "ui/case.html", context)


@router.get("/operator/kasus/{case_id}/isi", response_class=HTMLResponse)
def case_body(case_id: int, request: Request, db: DbDep, settings: SettingsDep, actor: ActorDep) -> Response:
    """The case page's body alone, re-fetched live when the case changes."""
    require_roles(request, actor, COMMAND_ROLES)
    context = _case_context(request, db, settings, actor, case_id)
    return templates.TemplateResponse(request, "ui/_case_body.html", context)


@router.get("/operator/kasus/{case_id}/unit", response_class=HTMLResponse)
def dispatch_card(
    case_id: int, request: Request, db: DbDep, settings: SettingsDep, actor: ActorDep
) -> Response:
    """Units to send to any case (web, SMS, Open311, sensor or 112): the recommendation, per needed kind by
    estimated travel time, with the same run cards and overrides as the 112 console (issue 14, item 4)."""
    require_roles(request, actor, COMMAND_ROLES)
    try:
        rec: dict[str, Any] | None = recommendation_service.recommend_for_case(
            db, actor, case_id, settings=settings
        )
        problem = None
    except DomainError as exc:  # e.g. no run card for this service, or no location yet: say so in the card
        rec, problem = None, flash_error(request, exc)[1]
    profiles = load_profiles()
    context = page_context(
        request,
        settings,
        actor,
        case_id=case_id,
        rec=rec,
        problem=problem,
        kind_labels={name: p.label or name for name, p in profiles.items()},
        agency_names=catalog_service.agency_labels(db),
    )
    return templates.TemplateResponse(request, "ui/_dispatch.html", context)


def _is_sop_task(db: Database, task_id: int) -> bool:
    return case_service.is_sop_task(db, task_id)


@router.post("/operator/tugas/{task_id}/{action}", dependencies=CSRF)
async def sop_task_action(
    task_id: int, action: str, request: Request, db: DbDep, settings: SettingsDep, actor: ActorDep
) -> Response:
    """Accept or complete a command-center SOP task (e.g. verifikasi) with the outputs its step declares."""
    require_roles(request, actor, COMMAND_ROLES)
    raw = await request.form()
    form = {k: v for k, v in raw.items() if isinstance(v, str)}

    def run() -> int:
        task = case_service.task_of(db, actor, task_id)
        case_id, step_id = task.case_id, task.step_id
        if action == "terima":
            sop_tasks.accept_task(db, actor, task_id)
        elif action == "selesai":
            outputs = parse_outputs(step_outputs(db, case_id, step_id), form)
            sop_tasks.complete_task(db, actor, task_id, outputs=outputs, note=_text(form.get("note")))
        else:
            raise NotFound("Tindakan tidak dikenal / unknown action.")
        return case_id

    try:
        case_id = await run_in_threadpool(run)
    except DomainError as exc:
        back = _text(form.get("case_id"))
        if not back.isdigit():
            raise
        context = _case_context(request, db, settings, actor, int(back), messages=[flash_error(request, exc)])
        status = exc.http_status  # the one error -> status map of core/errors.py (403, 404, 409, 422 …)
        return templates.TemplateResponse(request, "ui/case.html", context, status_code=status)
    return RedirectResponse(f"/operator/kasus/{case_id}?ok=task_{action}", status_code=303)


def _text(value: str | None) -> str:
    return (value or "").strip()


def _do(action: str, db: Database, actor: Actor, case_id: int, form: dict[str, str]) -> None:
    """Run one case action through the same service the API calls."""
    if action == "verifikasi":
        case_service.verify_case(db, actor, case_id, note=_text(form.get("note")) or None)
    elif action == "tolak":
        case_service.reject_case(db, actor, case_id, _text(form.get("reason")))
    elif action == "gabung":
        target = _text(form.get("into"))
        into_id = (
            int(target) if target.isdigit() else case_service.case_by_ticket(db, target) if target else 0
        )
        case_service.merge_case(db, actor, case_id, into_id, reason=_text(form.get("reason")) or None)
    elif action == "pisah":  # undo a merge (issue 15): the case is a case of its own again
        case_service.unmerge_case(db, actor, case_id, _text(form.get("reason")))
    elif action == "alihkan":
        sop_tasks.reroute_case(
            db,
            actor,
            case_id,
            _text(form.get("agency_code")),
            _text(form.get("reason")),
            remember=form.get("remember") == "1",
        )
    elif action == "disposisi":
        hours = _text(form.get("due_hours"))
        try:
            due = float(hours) if hours else None
        except ValueError as exc:
            raise ValidationFailed("Batas waktu harus angka jam / due hours must be a number.") from exc
        if due is not None and not 0 < due <= 24 * 90:
            raise ValidationFailed("Batas waktu 0–2160 jam / due hours 0–2160.")
        case_service.assign_case(
            db,
            actor,
            case_id,
            _text(form.get("agency_code")),
            note=_text(form.get("note")) or None,
            due_hours=due,
        )
    elif action == "selesai":
        text = _text(form.get("resolution"))
        if len(text) < 3:
            raise ValidationFailed("Tuliskan hasil penanganan / describe what was done.")
        case_service.resolve_case(db, actor, case_id, text)
    elif action == "tutup":
        case_service.close_case(db, actor, case_id, note=_text(form.get("note")) or None)
    elif action == "buka":
        reason = _text(form.get("reason"))
        if len(reason) < 5:
            raise ValidationFailed("Alasan wajib diisi (min. 5 karakter) / a reason is required.")
        case_service.reopen_case(db, actor, case_id, reason)
    elif action == "triase":
        reason = _text(form.get("reason"))
        if len(reason) < 5:
            raise ValidationFailed("Alasan koreksi wajib diisi (min. 5 karakter) / a reason is required.")
        correct_triage(
            db,
            actor,
            case_id,
            service=_text(form.get("service")) or None,
            priority=_text(form.get("priority")) or None,
            reason=reason,
        )
    elif action == "catatan":
        text = _text(form.get("text"))
        if not text:
            raise ValidationFailed("Catatan kosong / the note is empty.")
        case_service.add_note(db, actor, case_id, text[:5000])
    elif action == "kirim-unit":
        chosen = sorted(
            k.removeprefix("unit_") for k, v in form.items() if k.startswith("unit_") and v == "1"
        )
        recommended = sorted(_text(form.get("recommended")).split(","))
        same = not chosen or chosen == [u for u in recommended if u]
        body = (
            DispatchIn()
            if same
            else DispatchIn(units=chosen, override_reason=_text(form.get("reason")) or None)
        )
        recommendation_service.dispatch_units(db, actor, case_id, body)
    elif action == "eskalasi":
        text = _text(form.get("text"))
        case_service.escalate_case(db, actor, case_id, text)
    else:
        raise NotFound("Tindakan tidak dikenal / unknown action.")


ACTIONS = (
    "verifikasi",
    "tolak",
    "gabung",
    "pisah",
    "disposisi",
    "alihkan",
    "selesai",
    "tutup",
    "buka",
    "catatan",
    "eskalasi",
    "triase",
    "kirim-unit",
)


@router.post("/operator/kasus/{case_id}/{action}", dependencies=CSRF)
async def case_action(
    case_id: int, action: str, request: Request, db: DbDep, settings: SettingsDep, actor: ActorDep
) -> Response:
    """One action on a case (form POST or htmx); back to the case page with a message."""
    require_roles(request, actor, COMMAND_ROLES)
    raw = await request.form()
    form = {k: v for k, v in raw.items() if isinstance(v, str)}
    try:
        if action not in ACTIONS:
            raise NotFound("Tindakan tidak dikenal / unknown action.")
        await run_in_threadpool(_do, action, db, actor, case_id, form)
    except DomainError as exc:
        try:
            context = _case_context(
                request, db, settings, actor, case_id, messages=[flash_error(request, exc)]
            )
        except NotFound:
            context = page_context(request, settings, actor, case_id=case_id)
            return templates.TemplateResponse(request, "ui/not_found.html", context, status_code=404)
        status = exc.http_status  # the one error -> status map of core/errors.py (403, 404, 409, 422 …)
        return templates.TemplateResponse(request, "ui/case.html", context, status_code=status)
    return RedirectResponse(f"/operator/kasus/{case_id}?ok={action}", status_code=303)
