"""The agency view (/instansi): the task inbox with due clocks, task actions, the case as the agency sees it,
and the agency's own performance. A liaison of an external body sees only what was handed to that body."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from kotapintar.cases import service as case_service
from kotapintar.catalog import service as catalog_service
from kotapintar.command_center import queries
from kotapintar.core.access.actors import Actor
from kotapintar.core.db.database import Database
from kotapintar.core.errors import Conflict, DomainError, NotFound, ValidationFailed
from kotapintar.core.events.types import utcnow
from kotapintar.core.http.deps import ActorDep, DbDep, SettingsDep, current_actor
from kotapintar.core.http.pages import AGENCY_ROLES, flash_error, page_context, require_roles, templates
from kotapintar.core.http.security import require_csrf
from kotapintar.feedback import service as feedback_service
from kotapintar.intake import media
from kotapintar.sensors.queries import case_sensor_panel
from kotapintar.sop import runtime as sop_runtime
from kotapintar.sop import tasks as sop_tasks

router = APIRouter(include_in_schema=False)
CSRF = [Depends(current_actor), Depends(require_csrf)]
PERIOD_DAYS = 30


def _inbox_context(
    request: Request, db: Database, settings: Any, actor: Actor, **extra: Any
) -> dict[str, Any]:
    show = request.query_params.get("tampil", "terbuka")
    items = queries.inbox(db, actor, open_only=show != "semua")
    perf = queries.performance(db, actor, PERIOD_DAYS, agency_code=actor.agency_code).get(
        actor.agency_code or ""
    )
    agency = catalog_service.agency(db, actor.agency_code)
    agencies = [
        (a.code, a.short or a.name) for a in catalog_service.agencies(db) if a.code != actor.agency_code
    ]
    working = [t for t in items if t.task_key is not None and t.status in ("accepted", "in_progress")]
    steps = {t.id: _step(db, t.case_id, t.step_id) for t in working}  # one SOP load per task
    outputs = {tid: dict(step.outputs) if step else {} for tid, step in steps.items()}
    evidence = {tid: list(step.bukti) if step else [] for tid, step in steps.items()}
    return page_context(
        request,
        settings,
        actor,
        items=items,
        show=show,
        perf=perf,
        period_days=PERIOD_DAYS,
        agency_name=agency.name if agency else actor.agency_code,
        agency_options=agencies,
        outputs=outputs,
        evidence=evidence,
        can_approve=sop_tasks.may_approve_answers(actor, actor.agency_code or ""),
        live_url="/api/v1/stream",
        **_ikm(db, actor.agency_code),
        now=utcnow(),
        **extra,
    )


def _ikm(db: Database, agency_code: str | None) -> dict[str, Any]:
    """The agency's IKM (issue 15) over the period: per service and overall."""
    if agency_code is None:
        return {"ikm_scores": {}, "ikm_overall": None, "ikm_names": {}}
    since = utcnow() - timedelta(days=PERIOD_DAYS)
    names = {s.code: s.name for s in catalog_service.services(db, active_only=False)}
    return {
        "ikm_scores": feedback_service.ikm_table(db, "service", since=since, agency=agency_code),
        "ikm_overall": feedback_service.ikm_table(db, "agency", since=since, agency=agency_code).get(
            agency_code
        ),
        "ikm_names": names,
    }


@router.get("/instansi", response_class=HTMLResponse)
def inbox_page(request: Request, db: DbDep, settings: SettingsDep, actor: ActorDep) -> Response:
    """The agency's inbox and its performance, updating live."""
    require_roles(request, actor, AGENCY_ROLES)
    return templates.TemplateResponse(request, "ui/agency.html", _inbox_context(request, db, settings, actor))


@router.get("/instansi/kotak", response_class=HTMLResponse)
def inbox_fragment(request: Request, db: DbDep, settings: SettingsDep, actor: ActorDep) -> Response:
    """The inbox list alone, re-fetched when an event arrives."""
    require_roles(request, actor, AGENCY_ROLES)
    return templates.TemplateResponse(request, "ui/_inbox.html", _inbox_context(request, db, settings, actor))


@router.get("/instansi/kasus/{case_id}", response_class=HTMLResponse)
def agency_case(
    case_id: int, request: Request, db: DbDep, settings: SettingsDep, actor: ActorDep
) -> Response:
    """A case as the agency may see it (its own or handed to it); anything else is 404."""
    require_roles(request, actor, AGENCY_ROLES)
    try:
        detail = case_service.case_detail(db, actor, case_id)
    except NotFound:
        context = page_context(request, settings, actor, case_id=case_id)
        return templates.TemplateResponse(request, "ui/not_found.html", context, status_code=404)
    mine = [t for t in detail.tasks if t.agency_code == actor.agency_code]
    context = page_context(
        request,
        settings,
        actor,
        case=detail,
        my_tasks=mine,
        live_url="/api/v1/stream",
        now=utcnow(),
        sensor_panel=case_sensor_panel(db, actor, detail.id, detail.channel, settings=settings),
    )
    return templates.TemplateResponse(request, "ui/agency_case.html", context)


def _task_case(db: Database, actor: Actor, task_id: int) -> tuple[int, str | None]:
    """(case id, SOP task key) of one of the actor's agency's tasks; NotFound for anybody else's."""
    for item in queries.inbox(db, actor, open_only=False, limit=5000):
        if item.id == task_id:
            return item.case_id, item.task_key
    raise NotFound(f"Tugas {task_id} tidak ditemukan / task not found.")


def _step(db: Database, case_id: int, step_id: str) -> Any:
    """The SOP step of a case's task, or None without an SOP."""
    try:
        with db.reading() as uow:
            _row, spec = sop_runtime.load_instance(uow, case_id, for_update=False)
    except NotFound:
        return None
    return next((step for step in spec.steps if step.id == step_id), None)


def step_outputs(db: Database, case_id: int, step_id: str) -> dict[str, Any]:
    """The outputs the SOP step of a task declares (name -> declaration), empty without an SOP."""
    step = _step(db, case_id, step_id)
    return dict(step.outputs) if step is not None else {}


def is_answer_step(db: Database, case_id: int, step_id: str) -> bool:
    """True for a LAPOR! answer step: drafted by the agency's officer and approved by its head in the
    agency inbox, never completed from a generic task card."""
    step = _step(db, case_id, step_id)
    return bool(step is not None and step.answer)


def _evidence_kinds(photo_refs: list[str], form: dict[str, str]) -> list[str]:
    """What the completion form carries as evidence: photos, and the written report as the document
    (a step asking for `dokumen`, e.g. the incident report, gets it from the report text field)."""
    kinds = ["foto"] if photo_refs else []
    if len(form.get("document", "").strip()) >= 10:
        kinds.append("dokumen")
    return kinds


def parse_outputs(declared: dict[str, Any], form: dict[str, str]) -> dict[str, Any]:
    """Form fields `out_<name>` typed as the step declares them."""
    outputs: dict[str, Any] = {}
    for name, decl in declared.items():
        raw = form.get(f"out_{name}", "").strip()
        if raw == "":
            continue
        kind = str(getattr(decl, "type", "string"))
        try:
            if kind == "bool":
                outputs[name] = raw in ("1", "true", "ya")
            elif kind == "int":
                outputs[name] = int(raw)
            elif kind == "number":
                outputs[name] = float(raw)
            else:
                outputs[name] = raw
        except ValueError as exc:
            raise ValidationFailed(
                f"Isian '{name}' harus angka / '{name}' must be a number.", field=name
            ) from exc
    return outputs


def _store_evidence(
    db: Database, actor: Actor, settings: Any, case_id: int, photos: list[media.Upload]
) -> list[str]:
    """Store evidence photos and attach them to the case (through its first report); returns their tokens."""
    if not photos:
        return []
    detail = case_service.case_detail(db, actor, case_id)
    entries = media.store_photos(
        db, actor, photos, channel="agency", confidential=detail.confidential, settings=settings
    )
    if detail.reports:
        media.link_photos(db, entries, case_id, detail.reports[0].id)
    return [str(e["token"]) for e in entries]


def _complete(
    db: Database,
    actor: Actor,
    settings: Any,
    task_id: int,
    case_id: int,
    form: dict[str, str],
    photos: list[media.Upload],
) -> None:
    """Complete an SOP task with the outputs its step declares, photos and the written report as evidence."""
    note = form.get("output", "").strip()
    step_id = case_service.task_of(db, actor, task_id).step_id
    outputs = parse_outputs(step_outputs(db, case_id, step_id), form)
    refs = _store_evidence(db, actor, settings, case_id, photos)
    document = form.get("document", "").strip()
    if document:
        note = f"{note}\n\n{document}".strip()[:5000]
    sop_tasks.complete_task(
        db, actor, task_id, outputs=outputs, evidence=_evidence_kinds(refs, form), note=note, refs=refs
    )


def _task_action(
    db: Database,
    actor: Actor,
    settings: Any,
    task_id: int,
    action: str,
    form: dict[str, str],
    photos: list[media.Upload],
) -> int:
    """Run a task action through the SOP services (every task is an SOP task: there is no second task
    path beside the SOP, issue 14); returns the case id."""
    case_id, task_key = _task_case(db, actor, task_id)
    if task_key is None:
        raise Conflict("Tugas ini bukan tugas SOP / not an SOP task.", code="not_an_sop_task")
    if action == "terima":
        sop_tasks.accept_task(db, actor, task_id)
    elif action == "tolak":
        reason = form.get("reason", "").strip()
        if len(reason) < 5:
            raise ValidationFailed("Alasan wajib diisi (min. 5 karakter) / a reason is required.")
        sop_tasks.reject_task(db, actor, task_id, reason, form.get("suggested_agency", "").strip())
    elif action == "kemajuan":
        text = form.get("text", "").strip()
        refs = _store_evidence(db, actor, settings, case_id, photos)
        if not text and not refs:
            raise ValidationFailed("Tuliskan perkembangan atau lampirkan foto / describe the progress.")
        sop_tasks.add_task_progress(
            db, actor, task_id, note=text, evidence=["foto"] if refs else [], refs=refs
        )
    elif action == "jawab":
        text = form.get("answer", "").strip()
        if len(text) < 10:
            raise ValidationFailed(
                "Tulis tanggapan untuk pelapor (min. 10 karakter) / write the answer (10 characters or more).",
                field="answer",
            )
        sop_tasks.draft_answer(db, actor, task_id, text[:5000])
    elif action == "setujui":
        sop_tasks.approve_answer(db, actor, task_id)
    elif action == "selesai":
        _complete(db, actor, settings, task_id, case_id, form, photos)
    else:
        raise NotFound("Tindakan tidak dikenal / unknown action.")
    return case_id


@router.post("/instansi/tugas/{task_id}/{action}", dependencies=CSRF)
async def task_action(
    task_id: int, action: str, request: Request, db: DbDep, settings: SettingsDep, actor: ActorDep
) -> Response:
    """Accept, reject (bukan wewenang), report progress or complete a task; back to the inbox."""
    require_roles(request, actor, AGENCY_ROLES)
    raw = await request.form()
    form = {k: v for k, v in raw.items() if isinstance(v, str)}
    photos = [
        media.Upload(data=await f.read(), filename=f.filename or "")
        for f in raw.getlist("photos")
        if not isinstance(f, str)
    ]
    try:
        await run_in_threadpool(_task_action, db, actor, settings, task_id, action, form, photos)
    except DomainError as exc:
        context = _inbox_context(request, db, settings, actor, messages=[flash_error(request, exc)])
        status = exc.http_status  # the one error -> status map of core/errors.py (403, 404, 409, 422 …)
        return templates.TemplateResponse(request, "ui/agency.html", context, status_code=status)
    back = form.get("back", "")
    target = back if back.startswith("/instansi") and not back.startswith("//") else "/instansi"
    return RedirectResponse(f"{target}?ok=task_{action}", status_code=303)
