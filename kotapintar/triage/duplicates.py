"""Is it already known? Scoring a new report against open cases nearby (H3 ring + time window + text).

Candidates come from the database: open cases of the same or a related service whose H3 cell (res 9) lies
in a ring of cells around the report (k from the service's dedupe radius) and that were created inside its
window. Each is scored from distance, age, text similarity and service match; the score decides between
auto-merge (above settings.duplicate_merge_threshold), "possible duplicate" and a new case.

Why these weights: the catalogue's radius and window already say "same incident is plausible"; inside them,
the words people use decide. Two reports of one fire share `api`, `kebakaran`, the place; a fire and a flood
are different services (not related) and never compared; two fires 2 km apart are outside the radius.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import h3
from rapidfuzz import fuzz

from kotapintar.catalog.geo import metres_between
from kotapintar.triage.classify.normalise import normalise

H3_RESOLUTION = 9
DEFAULT_DEDUPE = {"radius_m": 200.0, "window_hours": 24.0}
MAX_RING = 16  # at most 817 cells (about a 3.9 km radius at res 9)

# Services that describe one incident from different angles (a search for a drowning child during a flood).
RELATED_SERVICES: tuple[frozenset[str], ...] = (
    frozenset({"kebakaran", "karhutla"}),
    frozenset({"banjir", "drainase"}),
    frozenset({"banjir", "pencarian_pertolongan"}),
    frozenset({"kecelakaan", "lalu_lintas"}),
    frozenset({"kecelakaan", "darurat_medis"}),
    frozenset({"pohon_tumbang", "listrik_padam"}),
    frozenset({"pohon_tumbang", "lalu_lintas"}),
    frozenset({"jalan_rusak", "jembatan_rusak"}),
)
RELATED_FACTOR = 0.85
W_SPACE, W_TIME, W_TEXT = 0.35, 0.15, 0.50
# Similarity at or below the floor adds nothing; from the full mark on, all. Measured: forty people writing
# about one fire score 0.60-0.75 against the first report; unrelated reports of one service 0.25-0.45.
TEXT_FLOOR, TEXT_FULL = 0.25, 0.60


def related_services(service: str) -> tuple[str, ...]:
    """The service itself first, then the services related to it."""
    related = {s for group in RELATED_SERVICES if service in group for s in group} - {service}
    return (service, *sorted(related))


def ring_size(radius_m: float, edge_m: float | None = None) -> int:
    """k for h3.grid_disk so that the disk covers a circle of `radius_m` around any point of the centre cell.

    `edge_m` is the centre cell's own edge length (cells differ from the average by up to ~30 %). Along a
    straight line H3 res-9 rings advance at least 1.25 edges each (measured over 30,000 random pairs in
    Kalimantan: 0 misses with k = ceil((r/e + 1) / 1.25)); one extra ring is the safety margin.
    """
    edge = edge_m or h3.average_hexagon_edge_length(H3_RESOLUTION, unit="m")
    k = math.ceil((radius_m / edge + 1) / 1.25) + 1
    return max(1, min(MAX_RING, k))


def _edge_of(cell: str) -> float:
    """The largest centre-to-vertex distance of a cell in metres (its circumradius = edge length)."""
    lat, lon = h3.cell_to_latlng(cell)
    return max(metres_between(lon, lat, vlon, vlat) for vlat, vlon in h3.cell_to_boundary(cell))


def cells_around(lon: float, lat: float, radius_m: float) -> list[str]:
    """The H3 cells (res 9) whose cases can lie within `radius_m` of the point."""
    centre = h3.latlng_to_cell(lat, lon, H3_RESOLUTION)
    return sorted(h3.grid_disk(centre, ring_size(radius_m, _edge_of(centre))))


def text_similarity(a: str, b: str) -> float:
    """0..1 similarity of two report texts after slang normalisation (rapidfuzz token set/sort ratios)."""
    na, nb = normalise(a), normalise(b)
    if not na or not nb:
        return 0.0
    return (fuzz.token_set_ratio(na, nb) + fuzz.token_sort_ratio(na, nb)) / 200.0


@dataclass(frozen=True)
class Candidate:
    """An open case the new report may duplicate."""

    case_id: int
    service: str
    lon: float
    lat: float
    text: str
    created_at: datetime


@dataclass(frozen=True)
class DuplicateScore:
    """How likely the report is a duplicate of one case, with its parts for the operator."""

    case_id: int
    score: float
    distance_m: float
    age_hours: float
    text: float


def score_candidate(
    service: str,
    text: str,
    lon: float,
    lat: float,
    at: datetime,
    candidate: Candidate,
    radius_m: float,
    window_hours: float,
) -> DuplicateScore | None:
    """The duplicate score of `candidate` (0..1), or None when it is outside the radius or window."""
    distance = metres_between(lon, lat, candidate.lon, candidate.lat)
    age = (at - candidate.created_at).total_seconds() / 3600.0
    if distance > radius_m or age > window_hours or age < -1.0:
        return None
    # Cubic: anywhere in the inner half of the radius is nearly as good as the same spot.
    space = 1.0 - (distance / radius_m) ** 3 if radius_m > 0 else 1.0
    recency = 1.0 - max(0.0, age) / window_hours if window_hours > 0 else 1.0
    similarity = text_similarity(text, candidate.text)
    words = min(1.0, max(0.0, (similarity - TEXT_FLOOR) / (TEXT_FULL - TEXT_FLOOR)))
    score = W_SPACE * space + W_TIME * recency + W_TEXT * words
    if candidate.service != service:
        score *= RELATED_FACTOR
    return DuplicateScore(candidate.case_id, round(score, 4), distance, age, round(similarity, 4))


def rank_duplicates(
    service: str,
    text: str,
    lon: float,
    lat: float,
    at: datetime,
    candidates: Sequence[Candidate],
    radius_m: float,
    window_hours: float,
) -> list[DuplicateScore]:
    """Scores of every candidate inside radius and window, best first (ties: the older case)."""
    scored = [
        s
        for c in candidates
        if (s := score_candidate(service, text, lon, lat, at, c, radius_m, window_hours)) is not None
    ]
    return sorted(scored, key=lambda s: (-s.score, s.case_id))
