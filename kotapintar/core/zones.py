"""The city's time zone: where its days begin and how its clocks are labelled (WIB, WITA, WIT).

Times are stored in UTC; a kabupaten in Sulawesi or Papua must cut its daily rollups and show its times at its
own midnight and in its own zone, so nothing below hard-codes WIB.
"""

from __future__ import annotations

from functools import lru_cache
from zoneinfo import ZoneInfo

# Indonesia's three zones by their IANA names (Permendagri time zones: WIB +7, WITA +8, WIT +9).
_LABELS = {
    "Asia/Jakarta": "WIB",
    "Asia/Pontianak": "WIB",
    "Asia/Makassar": "WITA",
    "Asia/Ujung_Pandang": "WITA",
    "Asia/Jayapura": "WIT",
}


@lru_cache(maxsize=16)
def local_zone(name: str) -> ZoneInfo:
    """The zone of `name` (settings.timezone), e.g. Asia/Jakarta."""
    return ZoneInfo(name)


def zone_label(name: str) -> str:
    """WIB, WITA or WIT for an Indonesian zone; the zone's own abbreviation elsewhere."""
    return _LABELS.get(name) or name.rsplit("/", 1)[-1]
