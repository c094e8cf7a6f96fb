"""The deployment's region index, built from the regions table and shared by every command."""

from __future__ import annotations

from kotapintar.catalog.geo import Location, RegionIndex, RegionShape
from kotapintar.catalog.repository import RegionRepository
from kotapintar.core import versions
from kotapintar.core.db.database import Database
from kotapintar.core.errors import DomainError, ValidationFailed
from kotapintar.core.versions import VersionedCache


class AreaNotSetUp(DomainError):
    """The served kabupaten/kota has no boundary yet: reports with a location cannot be placed (503)."""

    code = "area_not_set_up"
    http_status = 503


def _load_index(db: Database) -> RegionIndex:
    with db.reading() as uow:
        rows = [(r.code, r.name, r.level, r.geometry) for r in uow.repo(RegionRepository).all()]
    return RegionIndex.from_geojson_rows(rows)


_indexes: VersionedCache[RegionIndex] = VersionedCache(versions.REGIONS, _load_index)


def region_index(db: Database) -> RegionIndex:
    """The region index of `db`, rebuilt when the regions' version in the database changed (any process)."""
    return _indexes.get(db)


def forget_region_index(db: Database) -> None:
    """Drop this process's index now (the regions' version bump does it for every process)."""
    _indexes.invalidate(db)


def region_name(index: RegionIndex, code: str | None) -> str | None:
    """The name of a region code known to the index."""
    if code is None:
        return None
    shape: RegionShape | None = index.by_code.get(code)
    return shape.name if shape is not None else None


def locate_report(
    db: Database, lon: float | None, lat: float | None, *, served_code: str, tolerance_m: float
) -> Location | None:
    """Place a report's point in its regions, or explain why the point cannot be accepted."""
    if lon is None and lat is None:
        return None
    if lon is None or lat is None:
        raise ValidationFailed(
            "Isi lon dan lat bersama-sama / give both lon and lat, or neither.", field="lon"
        )
    index = region_index(db)
    if len(index) == 0:
        return None
    if served_code not in index.by_code:
        # Without the kabupaten's own boundary every point would be "infinitely far outside" (issue 21).
        raise AreaNotSetUp(
            f"Batas wilayah {served_code} belum dimuat; laporan berlokasi belum dapat diterima. "
            f"Admin: jalankan `kotapintar setup --kabupaten {served_code} --regions BERKAS.geojson` "
            "/ the served area's boundary is not set up yet."
        )
    outside = index.distance_outside_m(lon, lat)
    if outside <= tolerance_m:
        return index.locate(lon, lat, tolerance_m=tolerance_m)
    kab = index.by_code.get(served_code)
    served = kab.name if kab is not None else served_code
    hint = ""
    if -90 <= lon <= 90 and index.distance_outside_m(lat, lon) <= tolerance_m:
        hint = " Tampaknya lon dan lat tertukar / lon and lat look swapped."
    raise ValidationFailed(
        f"Lokasi ({lon:.5f}, {lat:.5f}) berada {outside / 1000:.1f} km di luar wilayah {served}; "
        f"laporan hanya diterima untuk wilayah ini (koordinat WGS84: lon, lat).{hint}",
        field="lon",
        outside_by_m=round(outside),
    )
