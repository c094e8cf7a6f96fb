"""Straight-line travel estimate (haversine × detour factor) for when there is no road network, or boats."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from kotapintar.dispatch.engine.network import FloatArray, haversine_m
from kotapintar.dispatch.engine.profiles import SpeedProfile

METHOD_ROAD = "road_network"
METHOD_STRAIGHT = "straight_line"


def straight_line_estimate(
    profile: SpeedProfile, incident: tuple[float, float], lon: npt.ArrayLike, lat: npt.ArrayLike
) -> tuple[FloatArray, FloatArray]:
    """(eta_s, distance_m) of each origin: great-circle distance × detour factor at the profile's speed."""
    lon_a = np.atleast_1d(np.asarray(lon, dtype=np.float64))
    lat_a = np.atleast_1d(np.asarray(lat, dtype=np.float64))
    dist = haversine_m(lon_a, lat_a, incident[0], incident[1]) * profile.detour_factor
    return dist / (profile.straight_line_kmh / 3.6), dist
