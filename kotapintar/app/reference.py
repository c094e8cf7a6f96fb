"""Loading reference data shipped as YAML: the service catalogue, agencies, units and demo users."""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from kotapintar.cases.lifecycle import Priority
from kotapintar.catalog.models import Agency, Service, Unit
from kotapintar.catalog.repository import AgencyRepository, ServiceRepository, UnitRepository
from kotapintar.catalog.staff import create_user
from kotapintar.core import versions
from kotapintar.core.access.actors import Actor
from kotapintar.core.access.auth import hash_password
from kotapintar.core.access.passwords import DEMO_PASSWORD as DEMO_PASSWORD  # README; demo accounts only
from kotapintar.core.access.roles import Permission, Role
from kotapintar.core.db.database import Database
from kotapintar.core.errors import ValidationFailed
from kotapintar.core.events.types import utcnow

DATA = resources.files("kotapintar.catalog") / "data"


def _yaml(path: Path | Any) -> Any:
    with path.open("r", encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def load_agencies(db: Database, actor: Actor, path: Path | Any | None = None) -> int:
    """Create or update agencies from an agencies YAML file (default: the demo city's)."""
    actor.require(Permission.MANAGE_CATALOGUE)
    data = _yaml(path or DATA / "demo" / "agencies.yaml")
    rows = data.get("agencies") or []
    with db.transaction() as uow:
        for item in rows:
            uow.repo(AgencyRepository).add(
                Agency(
                    code=item["code"],
                    name=item["name"],
                    short=item.get("short") or item["code"],
                    kind=item.get("kind", "internal"),
                    command_center=bool(item.get("command_center", False)),
                    parent_code=item.get("parent"),
                    jurisdiction=list(item.get("jurisdiction") or []),
                    phone=item.get("phone"),
                    email=item.get("email"),
                )
            )
        versions.bump(uow.session, versions.CATALOGUE)  # every process's cached catalogue rebuilds
    return len(rows)


def load_services(db: Database, actor: Actor, path: Path | Any | None = None) -> int:
    """Create or update the service catalogue from a services YAML file (default: the shipped one)."""
    actor.require(Permission.MANAGE_CATALOGUE)
    data = _yaml(path or DATA / "services.yaml")
    rows = data.get("services") or []
    with db.transaction() as uow:
        known = {a.code for a in uow.repo(AgencyRepository).all()}
        for item in rows:
            code = item.get("code", "?")
            if item.get("agency") not in known:
                raise ValidationFailed(
                    f"layanan '{code}': instansi '{item.get('agency')}' belum dimuat; muat instansi dahulu."
                )
            try:
                priority = Priority(item.get("priority", "P3")).value
            except ValueError as exc:
                raise ValidationFailed(f"layanan '{code}': prioritas harus P1..P4.") from exc
            uow.repo(ServiceRepository).add(
                Service(
                    code=code,
                    name=item["name"],
                    name_en=item.get("name_en") or item["name"],
                    description=item.get("description") or "",
                    description_en=item.get("description_en") or "",
                    group=item.get("group") or "governance",
                    priority=priority,
                    agency_code=item["agency"],
                    informed=list(item.get("informed") or []),
                    emergency=bool(item.get("emergency", False)),
                    sensitive=bool(item.get("sensitive", False)),
                    keywords=list(item.get("keywords") or []),
                    dedupe=dict(item.get("dedupe") or {}),
                    attributes=list(item.get("attributes") or []),
                    active=bool(item.get("active", True)),
                )
            )
        versions.bump(uow.session, versions.CATALOGUE)
    return len(rows)


def load_units(db: Database, actor: Actor, path: Path | Any | None = None) -> int:
    """Create or update units from a units YAML file (default: the demo city's)."""
    actor.require(Permission.MANAGE_CATALOGUE)
    data = _yaml(path or DATA / "demo" / "units.yaml")
    rows = data.get("units") or []
    now = utcnow()
    with db.transaction() as uow:
        for item in rows:
            base = item.get("base") or {}
            existing = uow.repo(UnitRepository).get(item["code"])
            uow.repo(UnitRepository).add(
                Unit(
                    code=item["code"],
                    name=item["name"],
                    agency_code=item["agency"],
                    kind=item["kind"],
                    status=existing.status if existing else "available",
                    base_name=base.get("name"),
                    base_lon=base.get("lon"),
                    base_lat=base.get("lat"),
                    lon=existing.lon if existing else base.get("lon"),
                    lat=existing.lat if existing else base.get("lat"),
                    crew=int(item.get("crew") or 0),
                    capabilities=list(item.get("capabilities") or []),
                    mutual_aid=bool(item.get("mutual_aid", False)),
                    position_at=existing.position_at if existing else None,
                    updated_at=now,
                )
            )
        versions.bump(uow.session, versions.UNITS)
    return len(rows)


def load_demo_users(db: Database, actor: Actor, path: Path | Any | None = None) -> int:
    """Create the demo users that do not exist yet, all with the documented demo password."""
    data = _yaml(path or DATA / "demo" / "users.yaml")
    created = 0
    with db.reading() as uow:
        existing = {u.username for u in uow.users.all()}
    # argon2 is slow on purpose; the demo accounts share one password, so hash it once.
    password_hash = hash_password(DEMO_PASSWORD)
    for item in data.get("users") or []:
        if item["username"] in existing:
            continue
        create_user(
            db,
            actor,
            username=item["username"],
            password=DEMO_PASSWORD,
            password_hash=password_hash,
            full_name=item.get("full_name") or item["username"],
            agency_code=item["agency"],
            roles=[Role(r).value for r in item.get("roles") or []],
            position=item.get("position"),
            demo=True,
        )
        created += 1
    return created


@dataclass
class DemoLoad:
    """What loading the demo city did."""

    regions: int = 0
    agencies: int = 0
    services: int = 0
    units: int = 0
    users: int = 0
    notes: list[str] = field(default_factory=list)


def load_reference_data(db: Database, actor: Actor) -> DemoLoad:
    """Agencies and the service catalogue: what every deployment needs before the first report."""
    out = DemoLoad()
    out.agencies = load_agencies(db, actor)
    out.services = load_services(db, actor)
    from kotapintar.sop.library import publish_shipped_sops

    publish_shipped_sops(db, actor)
    return out


# The real boundaries beside the project (../shared/data/wilayah, third-party data read in place, never
# copied into the package). When the desa file is there the demo uses the real Kabupaten Kapuas: its
# boundary and 17 kecamatan from the province files and its 231 desa; otherwise the shipped approximate
# kabupaten and kecamatan (no desa: reports are placed per kecamatan).
SHARED_WILAYAH = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "wilayah"
DEMO_DESA = "kapuas_desa_62.03.geojson"
DEMO_PROVINCE_FILES = ("kalteng_kabupaten_62.geojson", "kalteng_kecamatan_62.geojson")


def demo_region_files(folder: Path = SHARED_WILAYAH) -> list[Path]:
    """The GeoJSON files the demo sets Kapuas up from (see SHARED_WILAYAH)."""
    real = [folder / name for name in (*DEMO_PROVINCE_FILES, DEMO_DESA)]
    if all(path.is_file() for path in real):
        return real
    shipped = Path(str(DATA / "demo" / "regions.geojson"))
    if (folder / DEMO_DESA).is_file():
        return [shipped, folder / DEMO_DESA]
    return [shipped]


def load_demo_city(db: Database, actor: Actor, *, with_users: bool = True) -> DemoLoad:
    """The demo city, Kabupaten Kapuas, set up through `kotapintar setup`'s own code (no second path).

    Regions: see `demo_region_files`; agencies, units and users from the demo's YAML files; the shipped
    service catalogue and SOP library; then the demo's sensors.
    """
    from kotapintar.catalog.setup import SetupFiles, setup_city

    demo = Path(str(DATA / "demo"))
    files = SetupFiles(
        kabupaten="62.03",
        regions=demo_region_files(),
        agencies=demo / "agencies.yaml",
        services=None,
        units=demo / "units.yaml",
        users=demo / "users.yaml" if with_users else None,
        demo_users=True,
    )
    report = setup_city(db, actor, files)
    from kotapintar.sop.library import publish_shipped_sops

    publish_shipped_sops(db, actor)
    out = DemoLoad(
        regions=sum(report.regions.values()),
        agencies=report.agencies,
        services=report.services,
        units=report.units,
        users=report.users,
        notes=list(report.notes),
    )
    from kotapintar.sensors.devices import load_demo_devices  # the Kapuas river, rain and air sensors

    load_demo_devices(db, actor)
    return out
