"""Admin commands behind the admin pages: units and users; each one transaction with its audit event.

A change bumps the version of its kind of reference data, so every process (web, worker, dispatch) sees it
on its next read without a restart.
"""

from __future__ import annotations

import re
import secrets
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from shapely.geometry import Point, shape

from kotapintar.admin.repository import AdminRepository
from kotapintar.catalog.models import Agency, Unit
from kotapintar.catalog.repository import (
    AgencyRepository,
    RegionRepository,
    ServiceRepository,
    UnitRepository,
)
from kotapintar.catalog.setup import SetupFiles, SetupReport, setup_city
from kotapintar.core import versions
from kotapintar.core.access import accounts, auth
from kotapintar.core.access.actors import Actor
from kotapintar.core.access.roles import Permission, Role
from kotapintar.core.db.database import Database
from kotapintar.core.errors import Conflict, NotFound, ValidationFailed
from kotapintar.core.events.types import utcnow
from kotapintar.core.settings import Settings, served_base_url
from kotapintar.dispatch.units import unit_token
from kotapintar.sensors import devices as sensor_service
from kotapintar.sensors.engine.registry import parse_devices
from kotapintar.sensors.repository import SensorRepository
from kotapintar.sop import library as sop_library
from kotapintar.sop import versioning as sop_versioning
from kotapintar.sop.loader import validate_text

UNIT_KINDS = (
    "fire_truck", "water_tender", "ambulance", "rescue_boat", "police_patrol", "satpolpp_team", "trc_team",
    "pln_crew", "pdam_crew", "road_crew",
)  # fmt: skip


BASE_TOLERANCE_DEG = 0.05  # a base up to ~5 km outside the boundary (posts at the border)


@dataclass(frozen=True)
class UserRow:
    """One account as the admin page lists it."""

    username: str
    full_name: str
    agency_code: str
    roles: list[str]
    active: bool
    last_login: datetime | None


def users(db: Database, actor: Actor) -> list[UserRow]:
    """Every account with its roles, agency, state and last login."""
    actor.require(Permission.MANAGE_USERS)
    with db.reading() as uow:
        logins = uow.repo(AdminRepository).last_logins()
        return [
            UserRow(u.username, u.full_name, u.agency_code, list(u.roles or []), u.active, logins.get(u.id))
            for u in uow.users.all()
        ]


def _number(form: dict[str, str], name: str, lo: float, hi: float) -> float:
    try:
        value = float(form.get(name, "").replace(",", "."))
    except ValueError as exc:
        raise ValidationFailed(f"'{name}' harus angka / must be a number.", field=name) from exc
    if not lo <= value <= hi:
        raise ValidationFailed(f"'{name}' di luar rentang {lo}..{hi}.", field=name)
    return value


def save_unit(db: Database, actor: Actor, form: dict[str, Any], region_code: str) -> Unit:
    """Create or change a unit from the admin form; the base must lie in the served kabupaten."""
    actor.require(Permission.MANAGE_CATALOGUE)
    code = str(form.get("code", "")).strip()
    name = str(form.get("name", "")).strip()
    kind = str(form.get("kind", "")).strip()
    agency = str(form.get("agency", "")).strip()
    if not code or not name:
        raise ValidationFailed("Kode dan nama unit wajib diisi / code and name are required.", field="code")
    if kind not in UNIT_KINDS:
        raise ValidationFailed(f"Jenis unit '{kind}' tidak dikenal / unknown kind.", field="kind")
    lon = _number(form, "base_lon", -180, 180)
    lat = _number(form, "base_lat", -90, 90)
    now = utcnow()
    with db.transaction() as uow:
        if uow.repo(AgencyRepository).get(agency) is None:
            raise ValidationFailed(f"Instansi '{agency}' tidak ada / unknown agency.", field="agency")
        boundary = uow.repo(RegionRepository).get(region_code)
        if (
            boundary is not None
            and boundary.geometry is not None
            and shape(boundary.geometry).distance(Point(lon, lat)) > BASE_TOLERANCE_DEG
        ):
            raise ValidationFailed(
                f"Pos ({lon}, {lat}) di luar wilayah {boundary.name}; lon dan lat tertukar?",
                field="base_lon",
            )
        old = uow.repo(UnitRepository).get(code)
        unit = Unit(
            code=code,
            name=name,
            agency_code=agency,
            kind=kind,
            status=old.status if old else "available",
            base_name=str(form.get("base_name") or "").strip() or None,
            base_lon=lon,
            base_lat=lat,
            lon=old.lon if old else lon,
            lat=old.lat if old else lat,
            crew=int(_number(form, "crew", 0, 100)) if form.get("crew") else 0,
            capabilities=list(old.capabilities or []) if old else [],
            mutual_aid=bool(old.mutual_aid) if old else False,
            position_at=old.position_at if old else None,
            updated_at=now,
        )
        uow.repo(UnitRepository).add(unit)
        versions.bump(uow.session, versions.UNITS)
        uow.events.append(
            stream="system",
            case_id=None,
            type="unit_changed" if old else "unit_created",
            actor=actor.name,
            at=now,
            payload={"code": code, "agency": agency, "kind": kind, "base": [lon, lat]},
        )
    return unit


def update_service(db: Database, actor: Actor, code: str, *, active: bool, priority: str) -> None:
    """Open or close a service for reports and set its default priority; every process sees it at once."""
    actor.require(Permission.MANAGE_CATALOGUE)
    if priority not in ("P1", "P2", "P3", "P4"):
        raise ValidationFailed(
            "Prioritas harus P1, P2, P3 atau P4 / priority must be P1..P4.", field="priority"
        )
    now = utcnow()
    with db.transaction() as uow:
        service = uow.repo(ServiceRepository).get(code)
        if service is None:
            raise NotFound(f"Layanan '{code}' tidak ada / unknown service.")
        before = {"active": service.active, "priority": service.priority}
        service.active, service.priority = active, priority
        versions.bump(uow.session, versions.CATALOGUE)
        uow.events.append(
            stream="system",
            case_id=None,
            type="service_changed",
            actor=actor.name,
            at=now,
            payload={"code": code, "before": before, "after": {"active": active, "priority": priority}},
        )


@dataclass(frozen=True)
class KeyRow:
    """One client application's API key as the admin page lists it (never the key itself)."""

    name: str
    created_at: datetime
    revoked_at: datetime | None


def api_keys(db: Database, actor: Actor) -> list[KeyRow]:
    """Every API key by name, with when it was made and revoked."""
    actor.require(Permission.MANAGE_USERS)
    with db.reading() as uow:
        return [KeyRow(k.name, k.created_at, k.revoked_at) for k in uow.api_keys.all()]


def _audit(db: Database, actor: Actor, type_: str, payload: dict[str, Any]) -> None:
    with db.transaction() as uow:
        uow.events.append(
            stream="system", case_id=None, type=type_, actor=actor.name, at=utcnow(), payload=payload
        )


def create_api_key(db: Database, actor: Actor, name: str) -> str:
    """A new key for a client application (shown once), audited."""
    actor.require(Permission.MANAGE_USERS)
    name = name.strip()
    if not name or len(name) > 120:
        raise ValidationFailed("Nama aplikasi wajib (maks. 120 karakter) / a name is required.", field="name")
    key = auth.create_api_key(db, name)
    _audit(db, actor, "api_key_created", {"name": name})
    return key


def revoke_api_key(db: Database, actor: Actor, name: str) -> None:
    """Revoke a client application's key, audited."""
    actor.require(Permission.MANAGE_USERS)
    auth.revoke_api_key(db, name)
    _audit(db, actor, "api_key_revoked", {"name": name})


@dataclass
class SopCheck:
    """An uploaded SOP checked against the city's agencies and services, and its diff to the version in force."""

    text: str
    code: str | None = None
    errors: list[str] = field(default_factory=list)
    diff: list[str] = field(default_factory=list)
    current_version: int | None = None


def check_sop(db: Database, actor: Actor, text: str, file: str = "sop.yaml") -> SopCheck:
    """Validate SOP YAML (every error as `file:line: step: message`) and diff it against the version in force."""
    actor.require(Permission.MANAGE_CATALOGUE)
    with db.reading() as uow:
        agencies = [a.code for a in uow.repo(AgencyRepository).all()]
        services = [s.code for s in uow.repo(ServiceRepository).all(active_only=False)]
    spec, errors = validate_text(text, file, known_agencies=agencies, known_services=services)
    out = SopCheck(text=text, errors=[str(e) for e in errors])
    if spec is None:
        return out
    out.code = spec.code
    try:
        view, current = sop_library.get_spec(db, spec.code)
    except NotFound:
        out.diff = ["SOP baru: belum ada versi yang berlaku / a new SOP."]
        return out
    out.current_version = view.version
    out.diff = sop_versioning.diff(current, spec) or ["Tidak ada perubahan / no change."]
    return out


def publish_sop(db: Database, actor: Actor, text: str, note: str) -> sop_library.PublishResult:
    """Publish a checked SOP as a new immutable version, with the admin's note in the same transaction."""
    check = check_sop(db, actor, text)
    if check.errors:
        raise ValidationFailed("\n".join(check.errors), field="sop")
    note = note.strip()
    if len(note) < 5:
        raise ValidationFailed(
            "Tulis catatan perubahan (min. 5 karakter) / a note is required.", field="note"
        )
    with db.transaction() as uow:
        result = sop_library.publish_in(uow, actor.name, text, "sop.yaml")
        uow.events.append(
            stream="system",
            case_id=None,
            type="sop_publish_note",
            actor=actor.name,
            at=utcnow(),
            payload={
                "sop": result.code,
                "version": result.version,
                "created": result.created,
                "note": note[:1000],
            },
        )
    return result


def sops(db: Database) -> list[sop_library.SopVersionView]:
    """The SOP versions in force, for the admin's list."""
    return sop_library.list_sops(db)


def setup_from_uploads(
    db: Database, actor: Actor, region_code: str, uploads: dict[str, list[tuple[str, bytes]]]
) -> SetupReport:
    """The web wizard's set-up: the uploaded files go through `setup_city`, exactly as the CLI's do.

    `uploads` maps a part (regions, agencies, services, units, users) to (file name, content) pairs; the
    files are written under their own names to a private temporary folder so every error names them.
    """
    actor.require(Permission.MANAGE_CATALOGUE)
    with tempfile.TemporaryDirectory(prefix="kotapintar-setup-") as tmp:
        folder = Path(tmp)
        saved: dict[str, list[Path]] = {}
        for part, files in uploads.items():
            for i, (name, content) in enumerate(files):
                if not content:
                    continue
                safe = re.sub(r"[^A-Za-z0-9_.-]", "_", Path(name).name) or f"{part}.txt"
                target = folder / f"{part}-{i}" / safe
                target.parent.mkdir()
                target.write_bytes(content)
                saved.setdefault(part, []).append(target)

        def one(part: str) -> Path | None:
            return saved[part][0] if saved.get(part) else None

        plan = SetupFiles(
            kabupaten=region_code,
            regions=saved.get("regions", []),
            agencies=one("agencies"),
            services=one("services"),
            units=one("units"),
            users=one("users"),
        )
        return setup_city(db, actor, plan)


# ---------------------------------------------------------------- adminmore (issue 21 item 3)


def change_user_access(db: Database, actor: Actor, username: str, *, roles: list[str], agency: str) -> None:
    """Set an account's roles and agency; the next request of the user acts with them (roles are read
    from the account at every request, so no session has to end)."""
    actor.require(Permission.MANAGE_USERS)
    try:
        role_set = sorted({Role(r).value for r in roles})
    except ValueError as exc:
        raise ValidationFailed(
            f"Peran tidak dikenal: {', '.join(roles)}; pilih dari {', '.join(r.value for r in Role)}.",
            field="roles",
        ) from exc
    if not role_set:
        raise ValidationFailed(
            "Pengguna perlu minimal satu peran / a user needs at least one role.", field="roles"
        )
    if actor.name == f"user:{username}" and Role.ADMIN.value not in role_set:
        raise ValidationFailed(
            "Anda tidak dapat mencabut peran admin Anda sendiri / you cannot drop your own admin role.",
            field="roles",
        )
    with db.transaction() as uow:
        user = uow.users.by_username(username)
        if user is None:
            raise NotFound(f"Pengguna '{username}' tidak ada / no user named '{username}'.")
        if uow.repo(AgencyRepository).get(agency) is None:
            raise ValidationFailed(f"Instansi '{agency}' tidak ada / unknown agency.", field="agency")
        before = {"roles": list(user.roles or []), "agency": user.agency_code}
        user.roles, user.agency_code = role_set, agency
        uow.events.append(
            stream="system",
            case_id=None,
            type="user_access_changed",
            actor=actor.name,
            at=utcnow(),
            payload={"username": username, "before": before, "after": {"roles": role_set, "agency": agency}},
        )


def reset_user_password(db: Database, actor: Actor, username: str) -> str:
    """A generated password (shown once to the admin), set through the same reset as
    `kotapintar user reset-password`: the user's sessions and tokens end and the reset is an event."""
    password = secrets.token_urlsafe(12)
    accounts.reset_password(db, actor, username, password)
    return password


AGENCY_CODE = re.compile(r"^[a-z0-9_.-]{1,40}$")
REGION_CODE = re.compile(r"^\d{2}(\.\d{2}){1,3}(\.\d{4})?$")


def _agency_fields(db: Database, form: dict[str, str]) -> dict[str, Any]:
    """The agency form checked field by field (every refusal names the field)."""
    name = form.get("name", "").strip()
    if not name or len(name) > 300:
        raise ValidationFailed("Nama instansi wajib (maks. 300 karakter) / a name is required.", field="name")
    short = form.get("short", "").strip()
    if len(short) > 80:
        raise ValidationFailed("Singkatan maks. 80 karakter / short name too long.", field="short")
    kind = form.get("kind", "internal").strip()
    if kind not in ("internal", "external"):
        raise ValidationFailed(f"Jenis '{kind}': pilih internal atau external.", field="kind")
    codes = [c for c in re.split(r"[\s,;]+", form.get("jurisdiction", "").strip()) if c]
    with db.reading() as uow:
        known = {r.code for r in uow.repo(RegionRepository).all()}
    for c in codes:
        if not REGION_CODE.match(c) or c not in known:
            raise ValidationFailed(
                f"Wilayah '{c}' tidak dikenal (kode Kemendagri, mis. 62.03.01) / unknown region.",
                field="jurisdiction",
            )
    email = form.get("email", "").strip()
    if email and ("@" not in email or len(email) > 200):
        raise ValidationFailed(f"Surel '{email}' tidak sah / invalid e-mail.", field="email")
    phone = form.get("phone", "").strip()
    if phone and not re.fullmatch(r"[0-9+() -]{3,40}", phone):
        raise ValidationFailed(f"Telepon '{phone}': angka, +, spasi, tanda hubung saja.", field="phone")
    return {
        "name": name,
        "short": short,
        "kind": kind,
        "jurisdiction": codes,
        "phone": phone or None,
        "email": email or None,
    }


def save_agency(db: Database, actor: Actor, form: dict[str, str], *, edit: bool) -> Agency:
    """Create an agency (a taken code is refused) or change one (`edit`); audited, seen by every process."""
    actor.require(Permission.MANAGE_CATALOGUE)
    code = form.get("code", "").strip()
    if not AGENCY_CODE.match(code):
        raise ValidationFailed(
            f"Kode '{code}': huruf kecil, angka, _ . - saja (maks. 40) / lowercase code.", field="code"
        )
    fields = _agency_fields(db, form)
    fields["short"] = fields["short"] or code
    with db.transaction() as uow:
        repo = uow.repo(AgencyRepository)
        agency = repo.get(code)
        if edit and agency is None:
            raise NotFound(f"Instansi '{code}' tidak ada / unknown agency.")
        if not edit and agency is not None:
            raise Conflict(f"Kode instansi '{code}' sudah dipakai / agency code already taken.")
        before = None
        if agency is None:
            agency = Agency(code=code, command_center=False, parent_code=None, **fields)
            repo.add(agency)
        else:
            before = {k: getattr(agency, k) for k in fields}
            for key, value in fields.items():
                setattr(agency, key, value)
        versions.bump(uow.session, versions.CATALOGUE)
        uow.events.append(
            stream="system",
            case_id=None,
            type="agency_changed" if edit else "agency_created",
            actor=actor.name,
            at=utcnow(),
            payload={"code": code, "before": before, "after": fields},
        )
    return agency


def unit_crew_link(db: Database, actor: Actor, settings: Settings, code: str) -> str:
    """The crew page link of a unit, as `kotapintar dispatch unit-token` prints it; showing it is audited
    (the link is the crew's credential)."""
    actor.require(Permission.MANAGE_CATALOGUE)
    with db.reading() as uow:
        if uow.repo(UnitRepository).get(code) is None:
            raise NotFound(f"Unit '{code}' tidak ada / unknown unit.")
    base = settings.public_base_url.strip() or served_base_url("127.0.0.1", 8000)
    link = f"{base.rstrip('/')}/unit/{code}?token={unit_token(settings, code)}"
    _audit(db, actor, "unit_crew_link_shown", {"code": code})
    return link


@dataclass(frozen=True)
class DeviceRow:
    """One sensor device as the admin page lists it (never its key)."""

    id: str
    name: str
    kind: str
    region_code: str
    owner_agency: str
    active: bool
    has_key: bool
    last_seen: datetime | None


def sensor_devices(db: Database, actor: Actor) -> list[DeviceRow]:
    """Every registered device, active or not."""
    actor.require(Permission.MANAGE_CATALOGUE)
    with db.reading() as uow:
        return [
            DeviceRow(
                d.id, d.name, d.kind, d.region_code, d.owner_agency, bool(d.active), d.api_key_hash is not None,
                d.last_seen,
            )
            for d in SensorRepository(uow.session).devices(active_only=False)
        ]  # fmt: skip


def register_sensor_devices(db: Database, actor: Actor, text: str, file: str) -> tuple[int, int]:
    """Register the devices of an uploaded device file exactly as `kotapintar sensors register` does (all
    or none; an error names the line and field); audited with the device ids."""
    devices = parse_devices(text, name=file)
    created, updated = sensor_service.register_devices(db, actor, devices)
    _audit(
        db,
        actor,
        "sensor_devices_registered",
        {"devices": [d.id for d in devices], "created": created, "updated": updated},
    )
    return created, updated


def set_sensor_device_active(db: Database, actor: Actor, device_id: str, active: bool) -> None:
    """Disable or enable a device (readings refused / accepted again at once), audited."""
    before = sensor_service.set_device_active(db, actor, device_id, active)
    _audit(
        db, actor, "sensor_device_enabled" if active else "sensor_device_disabled",
        {"device": device_id, "was_active": before},
    )  # fmt: skip


def issue_sensor_key(db: Database, actor: Actor, device_id: str) -> str:
    """A new random key for a device (shown once), as `kotapintar sensors issue-key`; audited."""
    key = sensor_service.issue_device_key(db, actor, device_id)
    _audit(db, actor, "sensor_device_key_issued", {"device": device_id})
    return key
