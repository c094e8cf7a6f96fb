"""The admin pages (/admin): readiness of the deployment, units and stations, users (role admin)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from kotapintar.admin import service
from kotapintar.admin.readiness import missing_setup
from kotapintar.catalog import service as catalog
from kotapintar.catalog import staff
from kotapintar.catalog.setup import SetupReport, report_lines
from kotapintar.core.access import accounts
from kotapintar.core.access.roles import Role
from kotapintar.core.errors import DomainError, NotFound
from kotapintar.core.http.deps import ActorDep, DbDep, SettingsDep, current_actor
from kotapintar.core.http.pages import flash_error, page_context, require_roles, templates
from kotapintar.core.http.security import require_csrf

router = APIRouter(include_in_schema=False)
CSRF = [Depends(current_actor), Depends(require_csrf)]
ADMIN = frozenset({Role.ADMIN})


def _render(request: Request, name: str, context: dict[str, Any], error: DomainError | None) -> Response:
    """The page, with a refused change's message on top and its status (4xx, never 500)."""
    if error is not None:
        # The service's own message names the field and value (a code's generic text would not).
        context["messages"].append(("error", str(error)) if str(error) else flash_error(request, error))
    status = error.http_status if error is not None else 200
    return templates.TemplateResponse(request, name, context, status_code=status)


@router.get("/admin", response_class=HTMLResponse)
def admin_home(request: Request, db: DbDep, settings: SettingsDep, actor: ActorDep) -> Response:
    """What the deployment still lacks (with the command that fills it) and the admin sections."""
    require_roles(request, actor, ADMIN)
    context = page_context(request, settings, actor, missing=missing_setup(db, settings.region_code))
    return templates.TemplateResponse(request, "admin/index.html", context)


def _units_page(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    actor: ActorDep,
    error: DomainError | None = None,
    crew_link: tuple[str, str] | None = None,
) -> Response:
    context = page_context(
        request,
        settings,
        actor,
        units=catalog.units(db),
        agencies=catalog.agencies(db),
        kinds=service.UNIT_KINDS,
        crew_link=crew_link,
    )
    return _render(request, "admin/units.html", context, error)


@router.get("/admin/unit", response_class=HTMLResponse)
def units_page(request: Request, db: DbDep, settings: SettingsDep, actor: ActorDep) -> Response:
    """Every unit with its agency, kind and base; the form to add or change one."""
    require_roles(request, actor, ADMIN)
    return _units_page(request, db, settings, actor)


@router.post("/admin/unit", dependencies=CSRF)
async def save_unit(request: Request, db: DbDep, settings: SettingsDep, actor: ActorDep) -> Response:
    """Add or change a unit; dispatch recommends it at once (no restart)."""
    require_roles(request, actor, ADMIN)
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    try:
        service.save_unit(db, actor, form, settings.region_code)
    except DomainError as exc:
        return _units_page(request, db, settings, actor, exc)
    return RedirectResponse("/admin/unit?ok=saved", status_code=303)


def _users_page(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    actor: ActorDep,
    error: DomainError | None = None,
    new_password: tuple[str, str] | None = None,
) -> Response:
    context = page_context(
        request,
        settings,
        actor,
        users=service.users(db, actor),
        agencies=catalog.agencies(db),
        roles=list(Role),
        new_password=new_password,
    )
    return _render(request, "admin/users.html", context, error)


@router.get("/admin/pengguna", response_class=HTMLResponse)
def users_page(request: Request, db: DbDep, settings: SettingsDep, actor: ActorDep) -> Response:
    """Every account: roles, agency, active, last login; create, disable and enable."""
    require_roles(request, actor, ADMIN)
    return _users_page(request, db, settings, actor)


@router.post("/admin/pengguna", dependencies=CSRF)
async def create_user(request: Request, db: DbDep, settings: SettingsDep, actor: ActorDep) -> Response:
    """Create an account with its roles and agency."""
    require_roles(request, actor, ADMIN)
    raw = await request.form()
    try:
        staff.create_user(
            db,
            actor,
            username=str(raw.get("username", "")).strip(),
            password=str(raw.get("password", "")),
            full_name=str(raw.get("full_name", "")).strip() or str(raw.get("username", "")),
            agency_code=str(raw.get("agency", "")),
            roles=[str(r) for r in raw.getlist("roles")],
        )
    except DomainError as exc:
        return _users_page(request, db, settings, actor, exc)
    return RedirectResponse("/admin/pengguna?ok=saved", status_code=303)


@router.post("/admin/pengguna/{username}/{action}", dependencies=CSRF)
async def user_action(
    username: str, action: str, request: Request, db: DbDep, settings: SettingsDep, actor: ActorDep
) -> Response:
    """Disable (`nonaktifkan`), enable (`aktifkan`), set roles and agency (`peran`) or reset the password
    (`atur-ulang-sandi`, the generated one shown once) of an account; disabling and resetting end its sessions."""
    require_roles(request, actor, ADMIN)
    raw = await request.form()
    try:
        if action == "nonaktifkan":
            accounts.disable_user(db, actor, username)
        elif action == "aktifkan":
            accounts.enable_user(db, actor, username)
        elif action == "peran":
            service.change_user_access(
                db,
                actor,
                username,
                roles=[str(r) for r in raw.getlist("roles")],
                agency=str(raw.get("agency", "")),
            )
        elif action == "atur-ulang-sandi":
            password = service.reset_user_password(db, actor, username)
            return _users_page(request, db, settings, actor, new_password=(username, password))
        else:
            return _users_page(
                request, db, settings, actor, NotFound("Tindakan tidak dikenal / unknown action.")
            )
    except DomainError as exc:
        return _users_page(request, db, settings, actor, exc)
    return RedirectResponse("/admin/pengguna?ok=saved", status_code=303)


def _services_page(
    request: Request, db: DbDep, settings: SettingsDep, actor: ActorDep, error: DomainError | None = None
) -> Response:
    context = page_context(request, settings, actor, services=catalog.services(db, active_only=False))
    return _render(request, "admin/services.html", context, error)


@router.get("/admin/layanan", response_class=HTMLResponse)
def services_page(request: Request, db: DbDep, settings: SettingsDep, actor: ActorDep) -> Response:
    """The service catalogue: open or closed for reports, default priority, responsible agency."""
    require_roles(request, actor, ADMIN)
    return _services_page(request, db, settings, actor)


@router.post("/admin/layanan/{code}", dependencies=CSRF)
async def update_service(
    code: str, request: Request, db: DbDep, settings: SettingsDep, actor: ActorDep
) -> Response:
    """Open/close a service and set its default priority."""
    require_roles(request, actor, ADMIN)
    raw = await request.form()
    try:
        service.update_service(
            db, actor, code, active=raw.get("active") == "1", priority=str(raw.get("priority", ""))
        )
    except DomainError as exc:
        return _services_page(request, db, settings, actor, exc)
    return RedirectResponse("/admin/layanan?ok=saved", status_code=303)


def _keys_page(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    actor: ActorDep,
    error: DomainError | None = None,
    new_key: str | None = None,
) -> Response:
    context = page_context(request, settings, actor, keys=service.api_keys(db, actor), new_key=new_key)
    return _render(request, "admin/keys.html", context, error)


@router.get("/admin/kunci-api", response_class=HTMLResponse)
def keys_page(request: Request, db: DbDep, settings: SettingsDep, actor: ActorDep) -> Response:
    """Client applications' API keys (Open311 partners): create, revoke."""
    require_roles(request, actor, ADMIN)
    return _keys_page(request, db, settings, actor)


@router.post("/admin/kunci-api", dependencies=CSRF)
async def create_key(request: Request, db: DbDep, settings: SettingsDep, actor: ActorDep) -> Response:
    """Create a key and show it once on the answering page (never stored in clear)."""
    require_roles(request, actor, ADMIN)
    raw = await request.form()
    try:
        key = service.create_api_key(db, actor, str(raw.get("name", "")))
    except DomainError as exc:
        return _keys_page(request, db, settings, actor, exc)
    return _keys_page(request, db, settings, actor, new_key=key)


@router.post("/admin/kunci-api/{name}/cabut", dependencies=CSRF)
def revoke_key(name: str, request: Request, db: DbDep, settings: SettingsDep, actor: ActorDep) -> Response:
    """Revoke a key: the client is refused from its next request."""
    require_roles(request, actor, ADMIN)
    try:
        service.revoke_api_key(db, actor, name)
    except DomainError as exc:
        return _keys_page(request, db, settings, actor, exc)
    return RedirectResponse("/admin/kunci-api?ok=saved", status_code=303)


def _sop_page(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    actor: ActorDep,
    error: DomainError | None = None,
    check: service.SopCheck | None = None,
) -> Response:
    context = page_context(request, settings, actor, sops=service.sops(db), check=check)
    return _render(request, "admin/sop.html", context, error)


@router.get("/admin/sop", response_class=HTMLResponse)
def sop_page(request: Request, db: DbDep, settings: SettingsDep, actor: ActorDep) -> Response:
    """The SOP versions in force; upload a YAML to check it."""
    require_roles(request, actor, ADMIN)
    return _sop_page(request, db, settings, actor)


async def _sop_text(request: Request) -> tuple[str, str]:
    raw = await request.form()
    upload = raw.get("file")
    text = str(raw.get("text") or "")
    if upload is not None and not isinstance(upload, str):
        text = (await upload.read()).decode("utf-8", errors="replace") or text
    return text, str(raw.get("note") or "")


@router.post("/admin/sop/periksa", dependencies=CSRF)
async def check_sop(request: Request, db: DbDep, settings: SettingsDep, actor: ActorDep) -> Response:
    """Validate an uploaded SOP (line-numbered errors) and show its diff against the version in force."""
    require_roles(request, actor, ADMIN)
    text, _note = await _sop_text(request)
    check = service.check_sop(db, actor, text)
    status = 422 if check.errors else 200
    response = _sop_page(request, db, settings, actor, check=check)
    response.status_code = status
    return response


@router.post("/admin/sop/terbitkan", dependencies=CSRF)
async def publish_sop(request: Request, db: DbDep, settings: SettingsDep, actor: ActorDep) -> Response:
    """Publish the checked SOP with the admin's note: a new version for new cases."""
    require_roles(request, actor, ADMIN)
    text, note = await _sop_text(request)
    try:
        service.publish_sop(db, actor, text, note)
    except DomainError as exc:
        return _sop_page(request, db, settings, actor, exc, check=service.check_sop(db, actor, text))
    return RedirectResponse("/admin/sop?ok=saved", status_code=303)


SETUP_PARTS = ("regions", "agencies", "services", "units", "users")


def _wizard_page(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    actor: ActorDep,
    error: DomainError | None = None,
    report: SetupReport | None = None,
) -> Response:
    context = page_context(
        request,
        settings,
        actor,
        region_code=settings.region_code,
        missing=missing_setup(db, settings.region_code),
        report=report_lines(report) if report is not None else None,
        problems=getattr(error, "problems", None),
    )
    if context["problems"]:  # a refused set-up: the list of problems is the page's message
        return templates.TemplateResponse(request, "admin/wizard.html", context, status_code=422)
    return _render(request, "admin/wizard.html", context, error)


@router.get("/admin/siapkan", response_class=HTMLResponse)
def wizard_page(request: Request, db: DbDep, settings: SettingsDep, actor: ActorDep) -> Response:
    """The set-up wizard: the same files as `kotapintar setup`, uploaded from the browser."""
    require_roles(request, actor, ADMIN)
    return _wizard_page(request, db, settings, actor)


@router.post("/admin/siapkan", dependencies=CSRF)
async def wizard_submit(request: Request, db: DbDep, settings: SettingsDep, actor: ActorDep) -> Response:
    """Set the city up from the uploaded files: all or nothing, every problem named by file and line."""
    require_roles(request, actor, ADMIN)
    raw = await request.form()
    uploads: dict[str, list[tuple[str, bytes]]] = {}
    for part in SETUP_PARTS:
        for item in raw.getlist(part):
            if not isinstance(item, str):
                uploads.setdefault(part, []).append((item.filename or part, await item.read()))
    try:
        report = service.setup_from_uploads(db, actor, settings.region_code, uploads)
    except DomainError as exc:
        return _wizard_page(request, db, settings, actor, exc)
    return _wizard_page(request, db, settings, actor, report=report)


# ---------------------------------------------------------------- adminmore (issue 21 item 3)


@router.post("/admin/unit/{code}/tautan-awak", dependencies=CSRF)
def unit_crew_link(
    code: str, request: Request, db: DbDep, settings: SettingsDep, actor: ActorDep
) -> Response:
    """Show a unit's crew page link (its token), as `kotapintar dispatch unit-token` prints it; audited."""
    require_roles(request, actor, ADMIN)
    try:
        link = service.unit_crew_link(db, actor, settings, code)
    except DomainError as exc:
        return _units_page(request, db, settings, actor, exc)
    return _units_page(request, db, settings, actor, crew_link=(code, link))


def _agencies_page(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    actor: ActorDep,
    error: DomainError | None = None,
    form: dict[str, str] | None = None,
    editing_code: str | None = None,
) -> Response:
    editing = catalog.agency(db, editing_code or request.query_params.get("ubah"))
    context = page_context(
        request, settings, actor, agencies=catalog.agencies(db), editing=editing, form=form or {}
    )
    return _render(request, "admin/agencies.html", context, error)


@router.get("/admin/instansi", response_class=HTMLResponse)
def agencies_page(request: Request, db: DbDep, settings: SettingsDep, actor: ActorDep) -> Response:
    """Every agency (internal OPD or external body) with contacts and jurisdiction; `?ubah=code` edits one."""
    require_roles(request, actor, ADMIN)
    return _agencies_page(request, db, settings, actor)


async def _agency_form(request: Request) -> dict[str, str]:
    return {k: v for k, v in (await request.form()).items() if isinstance(v, str)}


@router.post("/admin/instansi", dependencies=CSRF)
async def create_agency(request: Request, db: DbDep, settings: SettingsDep, actor: ActorDep) -> Response:
    """Add an agency (a taken code is refused, nothing overwritten)."""
    require_roles(request, actor, ADMIN)
    form = await _agency_form(request)
    try:
        service.save_agency(db, actor, form, edit=False)
    except DomainError as exc:
        return _agencies_page(request, db, settings, actor, exc, form)
    return RedirectResponse("/admin/instansi?ok=saved", status_code=303)


@router.post("/admin/instansi/{code}", dependencies=CSRF)
async def update_agency(
    code: str, request: Request, db: DbDep, settings: SettingsDep, actor: ActorDep
) -> Response:
    """Change an agency's name, kind, contacts and jurisdiction (its code stays: cases refer to it)."""
    require_roles(request, actor, ADMIN)
    form = {**await _agency_form(request), "code": code}
    try:
        service.save_agency(db, actor, form, edit=True)
    except DomainError as exc:
        return _agencies_page(request, db, settings, actor, exc, form, editing_code=code)
    return RedirectResponse("/admin/instansi?ok=saved", status_code=303)


def _sensors_page(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    actor: ActorDep,
    error: DomainError | None = None,
    new_key: tuple[str, str] | None = None,
) -> Response:
    context = page_context(
        request, settings, actor, devices=service.sensor_devices(db, actor), new_key=new_key
    )
    return _render(request, "admin/sensors.html", context, error)


@router.get("/admin/sensor", response_class=HTMLResponse)
def sensors_page(request: Request, db: DbDep, settings: SettingsDep, actor: ActorDep) -> Response:
    """Every sensor device: kind, region, owner, state, last reading; register a device file."""
    require_roles(request, actor, ADMIN)
    return _sensors_page(request, db, settings, actor)


@router.post("/admin/sensor", dependencies=CSRF)
async def register_sensors(request: Request, db: DbDep, settings: SettingsDep, actor: ActorDep) -> Response:
    """Register the devices of an uploaded device file (the CLI's format), all or none."""
    require_roles(request, actor, ADMIN)
    raw = await request.form()
    upload = raw.get("file")
    text, name = str(raw.get("text") or ""), "devices.yaml"
    if upload is not None and not isinstance(upload, str):
        name = upload.filename or name
        text = (await upload.read()).decode("utf-8", errors="replace") or text
    try:
        service.register_sensor_devices(db, actor, text, name)
    except DomainError as exc:
        return _sensors_page(request, db, settings, actor, exc)
    return RedirectResponse("/admin/sensor?ok=saved", status_code=303)


@router.post("/admin/sensor/{device_id}/{action}", dependencies=CSRF)
def sensor_action(
    device_id: str, action: str, request: Request, db: DbDep, settings: SettingsDep, actor: ActorDep
) -> Response:
    """Disable (`nonaktifkan`), enable (`aktifkan`) or re-key (`kunci-baru`, shown once) a device."""
    require_roles(request, actor, ADMIN)
    try:
        if action in ("nonaktifkan", "aktifkan"):
            service.set_sensor_device_active(db, actor, device_id, action == "aktifkan")
        elif action == "kunci-baru":
            key = service.issue_sensor_key(db, actor, device_id)
            return _sensors_page(request, db, settings, actor, new_key=(device_id, key))
        else:
            return _sensors_page(
                request, db, settings, actor, NotFound("Tindakan tidak dikenal / unknown action.")
            )
    except DomainError as exc:
        return _sensors_page(request, db, settings, actor, exc)
    return RedirectResponse("/admin/sensor?ok=saved", status_code=303)
