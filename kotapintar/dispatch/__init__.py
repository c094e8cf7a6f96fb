"""Emergency dispatch core: road network, travel times, run cards, unit recommendation and coverage."""

from kotapintar.dispatch.coverage import CoverageResult, compute_coverage
from kotapintar.dispatch.graphml import read_graphml
from kotapintar.dispatch.loader import load_network
from kotapintar.dispatch.network import RoadNetwork, Snaps, TravelTimes, haversine_m
from kotapintar.dispatch.pbf import read_pbf
from kotapintar.dispatch.profiles import ProfileBook, SpeedProfile, load_profiles
from kotapintar.dispatch.recommend import (
    Candidate,
    EtaRow,
    KindRecommendation,
    Override,
    Recommendation,
    UnitPosition,
    eta_table,
    recommend_units,
)
from kotapintar.dispatch.runcards import Need, RunCard, RunCardBook, load_runcards
from kotapintar.dispatch.straightline import METHOD_ROAD, METHOD_STRAIGHT, straight_line_estimate

__all__ = [
    "METHOD_ROAD",
    "METHOD_STRAIGHT",
    "Candidate",
    "CoverageResult",
    "EtaRow",
    "KindRecommendation",
    "Need",
    "Override",
    "ProfileBook",
    "Recommendation",
    "RoadNetwork",
    "RunCard",
    "RunCardBook",
    "Snaps",
    "SpeedProfile",
    "TravelTimes",
    "UnitPosition",
    "compute_coverage",
    "eta_table",
    "haversine_m",
    "load_network",
    "load_profiles",
    "load_runcards",
    "read_graphml",
    "read_pbf",
    "recommend_units",
    "straight_line_estimate",
]
