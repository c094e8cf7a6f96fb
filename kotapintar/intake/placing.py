"""Where a citizen's point is, in words a citizen reads: "Titik ini di luar Kabupaten Kapuas (sekitar 613 km
dari batas)" instead of a distance with a decimal and the coordinate order of the API's message."""

from __future__ import annotations

from dataclasses import dataclass

from kotapintar.catalog.locating import locate_report, region_index, region_name
from kotapintar.core.db.database import Database
from kotapintar.core.errors import ValidationFailed
from kotapintar.core.settings import Settings

SOURCES = ("gps", "map", "manual", "address")


@dataclass(frozen=True)
class PlaceProblem:
    """Why a point cannot be used: an i18n key and its placeholders."""

    key: str
    placeholders: dict[str, str]


def about_km(metres: float) -> str:
    """A distance for people: '613', '1.250' (dot for thousands), '4,5' below 10 km (decimal comma)."""
    km = metres / 1000
    if km < 10:
        return f"{km:.1f}".replace(".", ",")
    return f"{round(km):,}".replace(",", ".")


def place_problem(
    db: Database, settings: Settings, lon: float | None, lat: float | None
) -> PlaceProblem | None:
    """None when the point can be used (or there is none); otherwise what to tell the citizen."""
    if lon is None and lat is None:
        return None
    if lon is None or lat is None:
        return PlaceProblem("citizen.place.incomplete", {})
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        # not a point on Earth as given; when the other order is one inside the area, say they are swapped
        if -180 <= lat <= 180 and -90 <= lon <= 90 and place_problem(db, settings, lat, lon) is None:
            return PlaceProblem("citizen.place.outside_swapped", {"region": _served(db, settings)})
        return PlaceProblem("citizen.place.incomplete", {})
    try:
        locate_report(
            db, lon, lat, served_code=settings.region_code, tolerance_m=settings.location_tolerance_m
        )
    except ValidationFailed as exc:
        outside = exc.details.get("outside_by_m")
        if not isinstance(outside, int | float):
            return PlaceProblem("citizen.place.incomplete", {})
        index = region_index(db)
        region = _served(db, settings)
        swapped = -90 <= lon <= 90 and index.distance_outside_m(lat, lon) <= settings.location_tolerance_m
        if swapped:
            return PlaceProblem("citizen.place.outside_swapped", {"region": region})
        return PlaceProblem("citizen.place.outside", {"region": region, "km": about_km(float(outside))})
    return None


def _served(db: Database, settings: Settings) -> str:
    """The served area's name as people say it: 'Kabupaten Kapuas'."""
    served = region_name(region_index(db), settings.region_code) or settings.region_code
    return served if served.lower().startswith(("kabupaten", "kota")) else f"Kabupaten {served}"
