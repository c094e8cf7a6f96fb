"""`kotapintar setup`: stand a kabupaten/kota up from its own files, all or nothing, in one transaction.

The files are the city's: its boundary, kecamatan and desa (GeoJSON, e.g. a whole province's file, of which
only the features inside the chosen kabupaten are kept), its agencies, services, units and users (YAML or
CSV). Everything is checked first; any problem refuses the whole set-up with every problem named by file,
line and field, and nothing is written. The demo city is set up through the same function.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry
from shapely.strtree import STRtree

from kotapintar.catalog.geo import level_of_code
from kotapintar.catalog.models import Agency, Region, Service, Unit
from kotapintar.catalog.regions import _parse_feature
from kotapintar.catalog.repository import (
    AgencyRepository,
    RegionRepository,
    ServiceRepository,
    UnitRepository,
)
from kotapintar.catalog.setupfiles import Problem, Row, SetupRefused, as_bool, as_list, read_rows
from kotapintar.core import versions
from kotapintar.core.access.actors import Actor
from kotapintar.core.access.auth import hash_password
from kotapintar.core.access.models import User
from kotapintar.core.access.passwords import DEMO_PASSWORD, check_password
from kotapintar.core.access.roles import Permission, Role
from kotapintar.core.db.database import Database
from kotapintar.core.errors import ValidationFailed
from kotapintar.core.events.types import utcnow

SHIPPED_SERVICES = resources.files("kotapintar.catalog") / "data" / "services.yaml"
KABUPATEN_CODE = re.compile(r"^\d{2}\.\d{2}$")
AGENCY_CODE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,39}$")
UNIT_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")
USERNAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{1,79}$")
PRIORITIES = ("P1", "P2", "P3", "P4")
INSIDE_SHARE = 0.9  # a kecamatan/desa is inside the kabupaten when 90 % of its area lies in the boundary
OVERLAP_SHARE = 0.05  # two siblings overlapping by more than 5 % of the smaller one: a broken file
BASE_TOLERANCE_DEG = 0.05  # a unit base up to ~5 km outside the boundary is accepted (posts at the border)


@dataclass
class SetupFiles:
    """The files of one set-up; None leaves that part as it is in the database."""

    kabupaten: str
    regions: list[Path] = field(default_factory=list)
    agencies: Path | None = None
    services: Path | None = None  # None: the shipped catalogue (services of absent agencies stay disabled)
    units: Path | None = None
    users: Path | None = None
    demo_users: bool = False  # the demo city's users: the published demo password is allowed


@dataclass
class SetupReport:
    """What a set-up did, and what it left out and why."""

    kabupaten: str = ""
    kabupaten_name: str = ""
    regions: dict[str, int] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    agencies: int = 0
    services: int = 0
    units: int = 0
    users: int = 0
    passwords: dict[str, str] = field(default_factory=dict)  # generated ones, shown once


# ------------------------------------------------------------------ regions


def _line_of(text: str, code: str) -> int:
    at = text.find(f'"{code}"')
    return text.count("\n", 0, at) + 1 if at >= 0 else 1


def _region_candidates(
    files: Iterable[Path], problems: list[Problem], report: SetupReport
) -> list[tuple[Region, str]]:
    found: list[tuple[Region, str]] = []
    seen: set[str] = set()
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
            data = json.loads(text)
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(Problem(str(path), f"tidak dapat dibaca / unreadable: {exc}"))
            continue
        except json.JSONDecodeError as exc:
            problems.append(Problem(f"{path.name}:{exc.lineno}", f"JSON tidak sah / invalid JSON: {exc.msg}"))
            continue
        features = data.get("features") if isinstance(data, dict) else None
        if not isinstance(features, list):
            problems.append(
                Problem(f"{path.name}:1", "bukan GeoJSON FeatureCollection / not a FeatureCollection")
            )
            continue
        for i, feature in enumerate(features):
            region, why = _parse_feature(feature, seen, path.name)
            if region is None:
                report.skipped.append(f"{path.name}: feature #{i + 1}: {why}")
                continue
            found.append(
                (region, f"{path.name}:{_line_of(text, region.code)}: feature #{i + 1} (kode {region.code})")
            )
    return found


def _boundary(
    kab: str, candidates: list[tuple[Region, str]], existing: Region | None, problems: list[Problem]
) -> tuple[Region | None, BaseGeometry | None]:
    own = [r for r, _ in candidates if r.code == kab]
    region = own[0] if own else existing
    if region is None or region.geometry is None:
        kabs = sorted({r.code for r, _ in candidates if r.level == "kabupaten"})
        known = f" (kabupaten di berkas / in the files: {', '.join(kabs)})" if kabs else ""
        problems.append(
            Problem(
                "--regions",
                f"batas kabupaten/kota {kab} tidak ada di berkas wilayah maupun basis data{known}; "
                f"sertakan berkas kabupaten yang memuat kode {kab} / no boundary for {kab}",
            )
        )
        return None, None
    return region, shape(region.geometry)


def select_regions(
    kab: str,
    candidates: list[tuple[Region, str]],
    existing: Region | None,
    problems: list[Problem],
    report: SetupReport,
) -> list[Region]:
    """The features inside kabupaten `kab` (by code and by area), overlaps between siblings refused."""
    region, boundary = _boundary(kab, candidates, existing, problems)
    if region is None or boundary is None:
        return []
    near = boundary.buffer(0.005)
    kept: list[Region] = [region] if region is not existing else []
    shapes: dict[str, list[tuple[Region, BaseGeometry, str]]] = {}
    for r, where in candidates:
        if r.code == kab:
            continue
        if not r.code.startswith(kab + "."):
            report.skipped.append(f"{where}: di luar {kab} (kode) / outside {kab} by code")
            continue
        if r.geometry is None:
            kept.append(r)
            continue
        geom = shape(r.geometry)
        inside = geom.intersection(near).area / geom.area if geom.area > 0 else 0.0
        if inside < INSIDE_SHARE:
            report.skipped.append(
                f"{where}: hanya {inside:.0%} luasnya di dalam batas {kab} / only {inside:.0%} inside the boundary"
            )
            continue
        kept.append(r)
        shapes.setdefault(r.level, []).append((r, geom, where))
    for siblings in shapes.values():
        _refuse_overlaps(siblings, problems)
    return kept


def _refuse_overlaps(siblings: list[tuple[Region, BaseGeometry, str]], problems: list[Problem]) -> None:
    tree = STRtree([g for _, g, _ in siblings])
    for i, (_, ga, where) in enumerate(siblings):
        for j in tree.query(ga):
            if int(j) <= i:
                continue
            b, gb, _ = siblings[int(j)]
            share = ga.intersection(gb).area / max(min(ga.area, gb.area), 1e-12)
            if share > OVERLAP_SHARE:
                problems.append(
                    Problem(
                        where, f"bertumpang tindih {share:.0%} dengan {b.code} ({b.name}) / overlaps {b.code}"
                    )
                )


# ------------------------------------------------------------------ agencies, services, units, users


def _required(row: Row, name: str, problems: list[Problem]) -> str:
    value = row.data.get(name)
    if value is None or str(value).strip() == "":
        problems.append(Problem(row.where(name), "wajib diisi / required"))
        return ""
    return str(value).strip()


def _agencies(rows: list[Row], regions: set[str], problems: list[Problem]) -> list[Agency]:
    out: list[Agency] = []
    seen: set[str] = set()
    for row in rows:
        code = _required(row, "code", problems)
        name = _required(row, "name", problems)
        if code and not AGENCY_CODE.match(code):
            problems.append(Problem(row.where("code"), f"'{code}': huruf kecil, angka, _ . - saja"))
        if code in seen:
            problems.append(Problem(row.where("code"), f"'{code}' dipakai dua kali / duplicate code"))
        seen.add(code)
        kind = str(row.data.get("kind") or "internal")
        if kind not in ("internal", "external"):
            problems.append(Problem(row.where("kind"), f"'{kind}': pilih internal atau external"))
        jurisdiction = [str(c) for c in as_list(row.data.get("jurisdiction"))]
        for c in jurisdiction:
            if c not in regions:
                problems.append(
                    Problem(row.where("jurisdiction"), f"wilayah '{c}' tidak dikenal / unknown region")
                )
        out.append(
            Agency(
                code=code,
                name=name,
                short=str(row.data.get("short") or code),
                kind=kind,
                command_center=as_bool(row.data.get("command_center", False)),
                parent_code=row.data.get("parent") or None,
                jurisdiction=jurisdiction,
                phone=str(row.data["phone"]) if row.data.get("phone") else None,
                email=str(row.data["email"]) if row.data.get("email") else None,
            )
        )
    if out and not any(a.command_center for a in out):
        problems.append(
            Problem(rows[0].file, "tidak ada instansi command_center: true (pengelola command center)")
        )
    return out


def _service(
    row: Row, agencies: set[str], shipped: bool, problems: list[Problem], report: SetupReport
) -> Service:
    code = _required(row, "code", problems)
    name = _required(row, "name", problems)
    agency = str(row.data.get("agency") or "")
    active = as_bool(row.data.get("active", True))
    if agency not in agencies:
        if shipped:
            active = False
            report.notes.append(f"layanan {code} dinonaktifkan: instansi '{agency}' tidak ada / disabled")
        else:
            problems.append(
                Problem(row.where("agency"), f"instansi '{agency}' tidak dikenal / unknown agency")
            )
    priority = str(row.data.get("priority") or "P3")
    if priority not in PRIORITIES:
        problems.append(Problem(row.where("priority"), f"'{priority}': harus P1, P2, P3 atau P4"))
    informed = [str(a) for a in as_list(row.data.get("informed"))]
    unknown = [a for a in informed if a not in agencies]
    if unknown and not shipped:
        problems.append(Problem(row.where("informed"), f"instansi tidak dikenal: {', '.join(unknown)}"))
    return Service(
        code=code,
        name=name,
        name_en=str(row.data.get("name_en") or name),
        description=str(row.data.get("description") or ""),
        description_en=str(row.data.get("description_en") or ""),
        group=str(row.data.get("group") or "governance"),
        priority=priority,
        agency_code=agency,
        informed=[a for a in informed if a in agencies],
        emergency=as_bool(row.data.get("emergency", False)),
        sensitive=as_bool(row.data.get("sensitive", False)),
        keywords=as_list(row.data.get("keywords")),
        dedupe=dict(row.data.get("dedupe") or {}),
        attributes=list(row.data.get("attributes") or []),
        active=active,
    )


def _units(
    rows: list[Row], agencies: set[str], boundary: BaseGeometry | None, problems: list[Problem]
) -> list[Unit]:
    out: list[Unit] = []
    seen: set[str] = set()
    now = utcnow()
    near = boundary.buffer(BASE_TOLERANCE_DEG) if boundary is not None else None
    for row in rows:
        code = _required(row, "code", problems)
        if code and not UNIT_CODE.match(code):
            problems.append(Problem(row.where("code"), f"'{code}': huruf, angka, _ . - saja"))
        if code in seen:
            problems.append(Problem(row.where("code"), f"'{code}' dipakai dua kali / duplicate code"))
        seen.add(code)
        agency = _required(row, "agency", problems)
        if agency and agency not in agencies:
            problems.append(
                Problem(row.where("agency"), f"instansi '{agency}' tidak dikenal / unknown agency")
            )
        kind = _required(row, "kind", problems)
        given = row.data.get("base")
        base: dict[str, Any] = given if isinstance(given, dict) else {}
        lon_raw = base.get("lon", row.data.get("base_lon"))
        lat_raw = base.get("lat", row.data.get("base_lat"))
        try:
            lon, lat = float(str(lon_raw)), float(str(lat_raw))  # None and "" raise ValueError
        except (TypeError, ValueError):
            problems.append(
                Problem(row.where("base_lon"), "lokasi pos (lon, lat WGS84) wajib angka / base required")
            )
            lon, lat = 0.0, 0.0
        mutual_aid = as_bool(row.data.get("mutual_aid", False))
        if (
            near is not None
            and not mutual_aid
            and not near.contains(shape({"type": "Point", "coordinates": [lon, lat]}))
        ):
            problems.append(
                Problem(row.where("base_lon"), f"pos ({lon}, {lat}) di luar wilayah; lon dan lat tertukar?")
            )
        try:
            crew = int(row.data.get("crew") or 0)
        except ValueError:
            problems.append(Problem(row.where("crew"), "harus bilangan bulat / must be a whole number"))
            crew = 0
        out.append(
            Unit(
                code=code,
                name=str(row.data.get("name") or code),
                agency_code=agency,
                kind=kind,
                status="available",
                base_name=str(base.get("name") or row.data.get("base_name") or "") or None,
                base_lon=lon,
                base_lat=lat,
                lon=lon,
                lat=lat,
                crew=crew,
                capabilities=as_list(row.data.get("capabilities")),
                mutual_aid=mutual_aid,
                position_at=None,
                updated_at=now,
            )
        )
    return out


def _users(
    rows: list[Row], agencies: set[str], demo: bool, problems: list[Problem], report: SetupReport
) -> list[tuple[User, str]]:
    out: list[tuple[User, str]] = []
    seen: dict[str, int] = {}
    now = utcnow()
    for row in rows:
        username = _required(row, "username", problems)
        if username and not USERNAME.match(username):
            problems.append(Problem(row.where("username"), f"'{username}': huruf kecil, angka, _ . - saja"))
        if username in seen:
            problems.append(
                Problem(
                    row.where("username"), f"'{username}' sudah dipakai di baris {seen[username]} / duplicate"
                )
            )
        seen.setdefault(username, row.line)
        agency = _required(row, "agency", problems)
        if agency and agency not in agencies:
            problems.append(
                Problem(row.where("agency"), f"instansi '{agency}' tidak dikenal / unknown agency")
            )
        roles = [str(r) for r in as_list(row.data.get("roles"))]
        bad = [r for r in roles if r not in {x.value for x in Role}]
        if bad or not roles:
            problems.append(
                Problem(
                    row.where("roles"),
                    f"peran {bad or '(kosong)'}; pilih dari {', '.join(r.value for r in Role)}",
                )
            )
        password = str(row.data.get("password") or "")
        if not password and demo:  # the demo city's accounts share the published demo password
            password = DEMO_PASSWORD
        elif not password:
            password = secrets.token_urlsafe(12)
            report.passwords[username] = password
        else:
            try:
                check_password(password, username=username, allow_demo=demo)
            except ValidationFailed as exc:
                problems.append(Problem(row.where("password"), str(exc)))
        user = User(
            username=username,
            full_name=str(row.data.get("full_name") or username),
            password_hash="",
            agency_code=agency,
            roles=roles,
            position=row.data.get("position") or None,
            active=True,
            created_at=now,
        )
        out.append((user, password))
    return out


def _service_rows(files: SetupFiles) -> tuple[list[Row], bool]:
    if files.services is not None:
        return read_rows(files.services, "services"), False
    return read_rows(Path(str(SHIPPED_SERVICES)), "services"), True


# ------------------------------------------------------------------ the command


def check_kabupaten_code(code: str) -> None:
    """Refuse anything but a kabupaten/kota code like 62.71."""
    if not KABUPATEN_CODE.match(code):
        raise SetupRefused(
            [Problem("--kabupaten", f"'{code}' bukan kode kabupaten/kota Kemendagri seperti 62.71")]
        )


def setup_city(db: Database, actor: Actor, files: SetupFiles) -> SetupReport:
    """Check every file, then write regions, agencies, services, units and users in one transaction."""
    actor.require(Permission.MANAGE_CATALOGUE)
    actor.require(Permission.MANAGE_USERS)
    kab = files.kabupaten
    check_kabupaten_code(kab)
    report = SetupReport(kabupaten=kab)
    problems: list[Problem] = []
    candidates = _region_candidates(files.regions, problems, report)
    with db.reading() as uow:
        existing = uow.repo(RegionRepository).get(kab)
        known_regions = {
            r.code for r in uow.repo(RegionRepository).all() if r.code == kab or r.code.startswith(kab + ".")
        }
        known_agencies = {a.code for a in uow.repo(AgencyRepository).all()}
        known_users = {u.username: u for u in uow.users.all()}
    if problems:
        raise SetupRefused(problems)
    regions = select_regions(kab, candidates, existing, problems, report)
    boundary_region = next((r for r in regions if r.code == kab), existing)
    boundary = (
        shape(boundary_region.geometry) if boundary_region is not None and boundary_region.geometry else None
    )
    region_codes = known_regions | {r.code for r in regions}
    agencies = (
        _agencies(read_rows(files.agencies, "agencies"), region_codes, problems) if files.agencies else []
    )
    agency_codes = known_agencies | {a.code for a in agencies}
    service_rows, shipped = _service_rows(files)
    services = [_service(r, agency_codes, shipped, problems, report) for r in service_rows]
    units = _units(read_rows(files.units, "units"), agency_codes, boundary, problems) if files.units else []
    users = (
        _users(read_rows(files.users, "users"), agency_codes, files.demo_users, problems, report)
        if files.users
        else []
    )
    if problems:
        raise SetupRefused(problems)
    _write(db, actor, report, _Plan(regions, agencies, services, units, users, known_users))
    report.kabupaten_name = boundary_region.name if boundary_region is not None else kab
    return report


@dataclass
class _Plan:
    """Everything checked and ready to write."""

    regions: list[Region]
    agencies: list[Agency]
    services: list[Service]
    units: list[Unit]
    users: list[tuple[User, str]]
    known_users: dict[str, User]


def _write(db: Database, actor: Actor, report: SetupReport, plan: _Plan) -> None:
    now = utcnow()
    hashes: dict[str, str] = {}
    with db.transaction() as uow:
        for region in plan.regions:
            uow.repo(RegionRepository).upsert(region)
            report.regions[region.level] = report.regions.get(region.level, 0) + 1
        for agency in plan.agencies:
            uow.repo(AgencyRepository).add(agency)
        uow.flush()
        for service in plan.services:
            uow.repo(ServiceRepository).add(service)
        for unit in plan.units:
            old = uow.repo(UnitRepository).get(unit.code)
            if old is not None:  # keep the live status and position of a unit that already exists
                unit.status, unit.lon, unit.lat, unit.position_at = (
                    old.status,
                    old.lon,
                    old.lat,
                    old.position_at,
                )
            uow.repo(UnitRepository).add(unit)
        uow.flush()
        for user, password in plan.users:
            existing = plan.known_users.get(user.username)
            if existing is not None:  # re-running the set-up updates the account, never its password
                row = uow.users.by_username(user.username)
                assert row is not None
                row.full_name, row.agency_code, row.roles, row.position = (
                    user.full_name,
                    user.agency_code,
                    user.roles,
                    user.position,
                )
                report.passwords.pop(user.username, None)
                continue
            if password not in hashes:  # argon2 is slow on purpose; the demo users share one password
                hashes[password] = hash_password(password)
            user.password_hash = hashes[password]
            uow.users.add(user)
            report.users += 1
        for name in (versions.REGIONS, versions.CATALOGUE, versions.UNITS):
            versions.bump(uow.session, name)
        uow.events.append(
            stream="system",
            case_id=None,
            type="city_set_up",
            actor=actor.name,
            at=now,
            payload={
                "kabupaten": report.kabupaten,
                "regions": dict(report.regions),
                "agencies": len(plan.agencies),
                "services": len(plan.services),
                "units": len(plan.units),
                "users": [u.username for u, _ in plan.users],
            },
        )
    report.agencies, report.services, report.units = len(plan.agencies), len(plan.services), len(plan.units)


def kabupaten_of(code: str) -> str:
    """The kabupaten/kota part of a region code (62.03.01.2001 → 62.03)."""
    return ".".join(code.split(".")[:2]) if level_of_code(code) != "province" else code


def report_lines(report: SetupReport) -> list[str]:
    """The set-up report as lines for the terminal."""
    levels = ", ".join(f"{n} {level}" for level, n in sorted(report.regions.items())) or "tidak ada yang baru"
    lines = [
        f"kabupaten/kota {report.kabupaten} ({report.kabupaten_name}) siap / set up",
        f"  wilayah: {levels}",
        f"  instansi {report.agencies}, layanan {report.services}, unit {report.units}, pengguna baru {report.users}",
        f"  dilewati / skipped: {len(report.skipped)}",
    ]
    lines += [f"    {s}" for s in report.skipped]
    lines += [f"  catatan: {n}" for n in report.notes]
    for username, password in report.passwords.items():
        lines.append(f"  kata sandi awal {username}: {password}  (tampil sekali; ganti setelah masuk)")
    return lines


def as_json(report: SetupReport) -> dict[str, Any]:
    """The report as data (for the wizard page)."""
    return {
        "kabupaten": report.kabupaten,
        "regions": report.regions,
        "skipped": report.skipped,
        "notes": report.notes,
        "agencies": report.agencies,
        "services": report.services,
        "units": report.units,
        "users": report.users,
    }
