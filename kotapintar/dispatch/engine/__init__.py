"""Emergency dispatch core: road network, travel times, run cards, unit recommendation and coverage."""

from kotapintar.dispatch.engine.coverage import CoverageResult, compute_coverage
from kotapintar.dispatch.engine.graphml import read_graphml
from kotapintar.dispatch.engine.loader import load_network
from kotapintar.dispatch.engine.network import RoadNetwork, Snaps, TravelTimes, haversine_m
from kotapintar.dispatch.engine.pbf import read_pbf
from kotapintar.dispatch.engine.profiles import ProfileBook, SpeedProfile, load_profiles
from kotapintar.dispatch.engine.recommend import (
    Candidate,
    EtaRow,
    KindRecommendation,
    Override,
    Recommendation,
    UnitPosition,
    eta_table,
    recommend_units,
)
from kotapintar.dispatch.engine.runcards import Need, RunCard, RunCardBook, load_runcards
from kotapintar.dispatch.engine.straightline import METHOD_ROAD, METHOD_STRAIGHT, straight_line_estimate

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
