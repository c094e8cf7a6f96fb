"""Is this deployment set up? What production start checks, each gap with the command that fills it."""

from __future__ import annotations

from kotapintar.catalog.repository import RegionRepository, ServiceRepository
from kotapintar.core.access.roles import Role
from kotapintar.core.db.database import Database


def missing_setup(db: Database, region_code: str) -> list[str]:
    """Every missing piece that would make the center fail its first citizen, naming the command to run."""
    missing: list[str] = []
    with db.reading() as uow:
        boundary = uow.repo(RegionRepository).get(region_code)
        services = uow.repo(ServiceRepository).all(active_only=True)
        admins = [u for u in uow.users.all() if u.active and Role.ADMIN.value in (u.roles or [])]
    if boundary is None or boundary.geometry is None:
        missing.append(
            f"batas kabupaten/kota {region_code} belum dimuat / no boundary: "
            f"kotapintar setup --kabupaten {region_code} --regions KABUPATEN.geojson --regions KECAMATAN.geojson"
        )
    if not services:
        missing.append(
            "katalog layanan kosong / no service catalogue: "
            f"kotapintar setup --kabupaten {region_code} --agencies INSTANSI.yaml (--services LAYANAN.yaml)"
        )
    if not admins:
        missing.append(
            "belum ada admin aktif / no admin: "
            f"kotapintar setup --kabupaten {region_code} --users PENGGUNA.csv (peran admin), "
            "atau kotapintar user create --role admin --username admin --agency KODE"
        )
    return missing
