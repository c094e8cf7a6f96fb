"""Unit recommendation: per needed kind, the available units ranked by estimated travel time, explained."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from kotapintar.core.errors import Conflict, NotFound, ValidationFailed
from kotapintar.dispatch.engine.network import FloatArray, RoadNetwork, Snaps
from kotapintar.dispatch.engine.profiles import ProfileBook, SpeedProfile, load_profiles
from kotapintar.dispatch.engine.runcards import Need, RunCard
from kotapintar.dispatch.engine.straightline import METHOD_ROAD, METHOD_STRAIGHT, straight_line_estimate

AVAILABLE = "available"
DEFAULT_TARGET_S = 480.0
KIND_LABELS: dict[str, str] = {
    "fire_truck": "mobil pemadam",
    "ambulance": "ambulans",
    "police_patrol": "mobil patroli",
    "rescue_boat": "perahu SAR",
    "rescue_team": "regu penyelamat",
    "tree_crew": "regu pohon tumbang",
    "trc_team": "regu TRC BPBD",
    "water_tender": "mobil tangki air",
    "satpolpp_team": "regu Satpol PP",
    "pln_crew": "regu PLN",
    "pdam_crew": "regu PDAM",
    "road_crew": "regu jalan",
}


@dataclass(frozen=True)
class UnitPosition:
    """A unit as the recommender sees it: where it is, what it is, whether it may be sent."""

    id: str
    kind: str
    agency: str
    lon: float
    lat: float
    status: str = AVAILABLE
    mutual_aid: bool = False


@dataclass(frozen=True)
class Candidate:
    """One unit ranked for one needed kind, with its estimate and an Indonesian explanation."""

    unit_id: str
    kind: str
    agency: str
    eta_s: float | None
    distance_m: float | None
    method: str
    mutual_aid: bool
    within_target: bool
    rank: int
    explanation: str


@dataclass(frozen=True)
class KindRecommendation:
    """The units recommended for one needed kind, the ranked alternatives and any mutual-aid notice."""

    kind: str
    count: int
    target_s: float
    selected: tuple[Candidate, ...]
    candidates: tuple[Candidate, ...]
    mutual_aid: tuple[Candidate, ...]
    shortfall: int
    notice: str | None


@dataclass(frozen=True)
class Override:
    """A dispatcher's choice against the recommendation, with the reason (kept for the audit trail)."""

    kind: str
    unit_id: str
    replaced_unit_id: str | None
    reason: str


@dataclass(frozen=True)
class Recommendation:
    """The recommendation for one incident: per needed kind, the chosen units; overrides recorded."""

    incident: tuple[float, float]
    method: str
    kinds: tuple[KindRecommendation, ...]
    runcard: str | None = None
    overrides: tuple[Override, ...] = ()

    def kind(self, kind: str) -> KindRecommendation:
        """The part of the recommendation for one unit kind."""
        for k in self.kinds:
            if k.kind == kind:
                return k
        raise NotFound(f"Jenis unit {kind!r} tidak ada dalam rekomendasi ini.", code="kind_not_needed")

    def selected_unit_ids(self) -> list[str]:
        """Ids of every selected unit, in need order."""
        return [c.unit_id for k in self.kinds for c in k.selected]

    @property
    def notices(self) -> list[str]:
        """All mutual-aid / shortfall notices, for the dispatcher's screen."""
        return [k.notice for k in self.kinds if k.notice]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict."""
        out = asdict(self)
        out["incident"] = list(self.incident)
        return out

    def override(self, kind: str, unit_id: str, reason: str, replaces: str | None = None) -> Recommendation:
        """Choose `unit_id` for `kind` instead of the recommended unit (`replaces`, default the slowest).

        The unit must be one of the ranked candidates or mutual-aid units of that kind; a reason is required.
        """
        reason = (reason or "").strip()
        if len(reason) < 3:
            raise ValidationFailed("Alasan penggantian unit wajib diisi.", code="override_reason_required")
        part = self.kind(kind)
        pool = {c.unit_id: c for c in (*part.candidates, *part.mutual_aid)}
        if unit_id not in pool:
            raise NotFound(
                f"Unit {unit_id} bukan kandidat {kind} yang tersedia untuk kejadian ini.",
                code="unit_not_candidate",
            )
        selected = list(part.selected)
        if any(c.unit_id == unit_id for c in selected):
            raise Conflict(f"Unit {unit_id} sudah dipilih.", code="unit_already_selected")
        if replaces is not None:
            pos = next((i for i, c in enumerate(selected) if c.unit_id == replaces), None)
            if pos is None:
                raise NotFound(f"Unit {replaces} tidak ada di pilihan {kind}.", code="unit_not_selected")
            selected[pos] = pool[unit_id]
        elif len(selected) < part.count:
            selected.append(pool[unit_id])
        elif selected:
            replaces = selected[-1].unit_id
            selected[-1] = pool[unit_id]
        else:
            selected.append(pool[unit_id])
        new_part = replace(part, selected=tuple(selected), shortfall=max(0, part.count - len(selected)))
        kinds = tuple(new_part if k.kind == kind else k for k in self.kinds)
        return replace(
            self, kinds=kinds, overrides=(*self.overrides, Override(kind, unit_id, replaces, reason))
        )


@dataclass(frozen=True)
class EtaRow:
    """One row of `eta_table`: a unit's estimated travel time and distance to the incident."""

    id: str
    eta_s: float | None
    distance_m: float | None
    method: str


@dataclass
class _Estimate:
    eta_s: FloatArray
    distance: Callable[[npt.NDArray[np.int64]], FloatArray]
    method: str


def _estimate(
    network: RoadNetwork | None,
    profile: SpeedProfile,
    incident: tuple[float, float],
    lon: FloatArray,
    lat: FloatArray,
    limit_s: float | None = None,
    snaps: tuple[Snaps, Snaps] | None = None,
) -> _Estimate:
    """Travel times of all origins to the incident: the single computation behind eta_table and recommend."""
    if network is None or profile.mode == "straight_line" or len(lon) == 0:
        eta, dist = straight_line_estimate(profile, incident, lon, lat)
        if limit_s is not None:
            eta = np.where(eta <= limit_s, eta, np.inf)
        return _Estimate(eta, lambda idx: np.where(np.isfinite(eta[idx]), dist[idx], np.nan), METHOD_STRAIGHT)
    inc_snap, org_snaps = snaps if snaps is not None else (None, None)
    tt = network.travel_times(
        profile, incident, lon, lat, limit_s=limit_s, incident_snap=inc_snap, origin_snaps=org_snaps
    )
    return _Estimate(tt.eta_s, tt.distance_m, METHOD_ROAD)


def _check_point(point: tuple[float, float], what: str) -> tuple[float, float]:
    lon, lat = float(point[0]), float(point[1])
    if not (math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90):
        raise ValidationFailed(
            f"Koordinat {what} tidak valid: {point!r} (lon, lat).", code="invalid_coordinates"
        )
    return lon, lat


def eta_table(
    network: RoadNetwork | None,
    incident: tuple[float, float],
    units: Sequence[UnitPosition] | Sequence[tuple[str, float, float]],
    *,
    profile: SpeedProfile | str = "default",
    profiles: ProfileBook | None = None,
    limit_s: float | None = None,
) -> list[EtaRow]:
    """Every unit's ETA and distance to the incident, nearest first, unreachable last (eta None)."""
    incident = _check_point(incident, "kejadian")
    prof = profile if isinstance(profile, SpeedProfile) else (profiles or load_profiles()).for_kind(profile)
    ids = [u.id if isinstance(u, UnitPosition) else str(u[0]) for u in units]
    lon = np.array([u.lon if isinstance(u, UnitPosition) else float(u[1]) for u in units], dtype=np.float64)
    lat = np.array([u.lat if isinstance(u, UnitPosition) else float(u[2]) for u in units], dtype=np.float64)
    est = _estimate(network, prof, incident, lon, lat, limit_s)
    dist = est.distance(np.arange(len(ids), dtype=np.int64))
    order = sorted(
        range(len(ids)), key=lambda i: (not np.isfinite(est.eta_s[i]), float(est.eta_s[i]), ids[i])
    )
    return [
        EtaRow(
            ids[i],
            float(est.eta_s[i]) if np.isfinite(est.eta_s[i]) else None,
            float(dist[i]) if np.isfinite(est.eta_s[i]) else None,
            est.method,
        )
        for i in order
    ]


def format_duration(seconds: float) -> str:
    """'4 mnt 05 dtk' (Indonesian short form)."""
    s = round(seconds)
    return f"{s // 60} mnt {s % 60:02d} dtk" if s >= 60 else f"{s} dtk"


def format_distance(metres: float) -> str:
    """'2,3 km' or '850 m' (Indonesian decimal comma)."""
    return f"{metres / 1000:.1f} km".replace(".", ",") if metres >= 1000 else f"{round(metres)} m"


def _explain(
    c_id: str,
    agency: str,
    eta: float | None,
    dist: float | None,
    method: str,
    rank: int,
    total: int,
    label: str,
    target_s: float,
    mutual_aid: bool,
    profile: SpeedProfile,
) -> str:
    if eta is None:
        return f"{c_id} ({agency}): tidak terjangkau lewat jaringan jalan dari posisinya."
    how = (
        "lewat jaringan jalan"
        if method == METHOD_ROAD
        else f"perkiraan garis lurus × {profile.detour_factor:g} tanpa jaringan jalan".replace(".", ",")
    )
    parts = [f"{c_id} ({agency}): perkiraan tiba {format_duration(eta)}"]
    if dist is not None and math.isfinite(dist):
        parts[0] += f", jarak {format_distance(dist)}"
    parts[0] += f" {how}"
    parts.append(f"urutan ke-{rank} dari {total} {label} tersedia")
    if eta > target_s:
        parts.append(f"melebihi target {format_duration(target_s)}")
    if mutual_aid:
        parts.append("unit bantuan (mutual aid) dari luar kabupaten")
    return "; ".join(parts) + "."


def recommend_units(
    network: RoadNetwork | None,
    incident: tuple[float, float],
    units: Sequence[UnitPosition],
    needs: RunCard | Sequence[Need],
    *,
    target_s: float | None = None,
    profiles: ProfileBook | None = None,
    max_candidates: int | None = 10,
    max_mutual_aid: int = 3,
    available_statuses: frozenset[str] = frozenset({AVAILABLE}),
) -> Recommendation:
    """Recommend, per needed kind, the available units with the shortest estimated travel time.

    One reversed Dijkstra per speed profile serves every unit of the kinds using it. Local units are
    selected first; when fewer than `count` local units can arrive within the target, the kind carries a
    notice and the nearest mutual-aid units (which also fill a shortfall of local units).
    """
    incident = _check_point(incident, "kejadian")
    book = profiles or load_profiles()
    card_name = needs.name if isinstance(needs, RunCard) else None
    if isinstance(needs, RunCard):
        target = target_s if target_s is not None else (needs.target_s or DEFAULT_TARGET_S)
        need_list: Sequence[Need] = needs.needs
    else:
        target = DEFAULT_TARGET_S if target_s is None else target_s
        need_list = needs
    need_kinds = {n.kind for n in need_list}
    pool = [u for u in units if u.kind in need_kinds and u.status in available_statuses]
    # one travel-time computation per distinct profile
    by_profile: dict[tuple[Any, ...], tuple[SpeedProfile, list[int]]] = {}
    key_of = {kind: book.for_kind(kind).cache_key() for kind in need_kinds}
    for i, u in enumerate(pool):
        by_profile.setdefault(key_of[u.kind], (book.for_kind(u.kind), []))[1].append(i)
    # snap the incident and every road unit once, shared by all profiles
    all_snaps: tuple[Snaps, Snaps] | None = None
    if network is not None and pool and any(p.mode == "road" for p, _ in by_profile.values()):
        all_snaps = (
            network.snap([incident[0]], [incident[1]]),
            network.snap([u.lon for u in pool], [u.lat for u in pool]),
        )
    eta = np.full(len(pool), np.inf)
    dist = np.full(len(pool), np.nan)
    method_of: dict[int, str] = {}
    ranked_by_kind: dict[str, tuple[list[int], list[int]]] = {}
    for prof, members in by_profile.values():
        idx = np.asarray(members, dtype=np.int64)
        est = _estimate(
            network,
            prof,
            incident,
            np.array([pool[i].lon for i in members]),
            np.array([pool[i].lat for i in members]),
            snaps=None if all_snaps is None else (all_snaps[0], all_snaps[1].take(idx)),
        )
        eta[idx] = est.eta_s
        for i in members:
            method_of[i] = est.method
        want: list[int] = []
        for kind in {pool[i].kind for i in members}:
            local = sorted(
                (j for j, i in enumerate(members) if pool[i].kind == kind and not pool[i].mutual_aid),
                key=lambda j: (est.eta_s[j], pool[members[j]].id),
            )
            aid = sorted(
                (j for j, i in enumerate(members) if pool[i].kind == kind and pool[i].mutual_aid),
                key=lambda j: (est.eta_s[j], pool[members[j]].id),
            )
            ranked_by_kind[kind] = ([members[j] for j in local], [members[j] for j in aid])
            need_n = next(n.count for n in need_list if n.kind == kind)
            want += local[: max_candidates if max_candidates is not None else None]
            want += aid[: max(need_n, max_mutual_aid)]
        if want:
            w = np.unique(np.asarray(want, dtype=np.int64))
            dist[idx[w]] = est.distance(w)

    def candidate(i: int, rank: int, total: int) -> Candidate:
        u = pool[i]
        e = float(eta[i]) if np.isfinite(eta[i]) else None
        d = float(dist[i]) if e is not None and np.isfinite(dist[i]) else None
        label = KIND_LABELS.get(u.kind, u.kind)
        text = _explain(
            u.id,
            u.agency,
            e,
            d,
            method_of[i],
            rank,
            total,
            label,
            target,
            u.mutual_aid,
            book.for_kind(u.kind),
        )
        return Candidate(
            u.id,
            u.kind,
            u.agency,
            e,
            d,
            method_of[i],
            u.mutual_aid,
            e is not None and e <= target,
            rank,
            text,
        )

    parts: list[KindRecommendation] = []
    methods: set[str] = set()
    for need in need_list:
        local, aid = ranked_by_kind.get(need.kind, ([], []))
        local_reach = [i for i in local if np.isfinite(eta[i])]
        aid_reach = [i for i in aid if np.isfinite(eta[i])]
        shown = local_reach if max_candidates is None else local_reach[:max_candidates]
        cands = tuple(candidate(i, r, len(local_reach)) for r, i in enumerate(shown, start=1))
        aid_n = max(need.count, max_mutual_aid)
        aid_c = tuple(candidate(i, r, len(aid_reach)) for r, i in enumerate(aid_reach[:aid_n], start=1))
        selected = list(cands[: need.count])
        within = sum(1 for c in cands if c.within_target)
        label = KIND_LABELS.get(need.kind, need.kind)
        notice: str | None = None
        if within < need.count:
            head = (
                f"Tidak ada {label} kabupaten yang dapat tiba dalam {format_duration(target)}"
                if within == 0
                else f"Hanya {within} dari {need.count} {label} kabupaten dapat tiba dalam {format_duration(target)}"
            )
            if aid_c:
                best = ", ".join(
                    f"{c.unit_id} ({c.agency}, {format_duration(c.eta_s or 0)})" for c in aid_c[: need.count]
                )
                notice = f"{head}. Unit bantuan (mutual aid) terdekat: {best}."
            else:
                notice = f"{head}; tidak ada unit bantuan (mutual aid) yang tersedia."
        if len(selected) < need.count:
            selected += list(aid_c[: need.count - len(selected)])
        methods.update(c.method for c in (*cands, *aid_c))
        parts.append(
            KindRecommendation(
                kind=need.kind,
                count=need.count,
                target_s=target,
                selected=tuple(selected),
                candidates=cands,
                mutual_aid=aid_c,
                shortfall=need.count - len(selected),
                notice=notice,
            )
        )
    method = (
        methods.pop()
        if len(methods) == 1
        else ("mixed" if methods else (METHOD_ROAD if network is not None else METHOD_STRAIGHT))
    )
    return Recommendation(incident=incident, method=method, kinds=tuple(parts), runcard=card_name)
