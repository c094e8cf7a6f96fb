"""Build a drivable RoadNetwork from an OpenStreetMap .osm.pbf extract with pyosmium."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np

from kotapintar.core.errors import ValidationFailed
from kotapintar.dispatch.engine.network import RoadNetwork, haversine_m
from kotapintar.dispatch.engine.profiles import parse_highway, parse_maxspeed

# Highway classes a car (and so an ambulance or fire truck) can drive on.
DRIVABLE: frozenset[str] = frozenset(
    {
        "motorway",
        "motorway_link",
        "trunk",
        "trunk_link",
        "primary",
        "primary_link",
        "secondary",
        "secondary_link",
        "tertiary",
        "tertiary_link",
        "unclassified",
        "residential",
        "living_street",
        "service",
        "road",
    }
)
_NO_ACCESS = frozenset({"no", "private"})
_ONEWAY_YES = frozenset({"yes", "true", "1"})


def read_pbf(path: Path | str, *, piece_m: float = 50.0) -> RoadNetwork:
    """Read highway ways of an .osm.pbf (or .osm) file into a directed drivable graph.

    Every way node becomes a graph node (no simplification); `oneway=yes/-1`, roundabouts and motorways
    are one-way; `access=no/private` and `area=yes` ways are skipped.
    """
    try:
        import osmium
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ValidationFailed(
            "Membaca .osm.pbf membutuhkan paket 'osmium' (pyosmium).", code="missing_dependency"
        ) from exc
    path = Path(path)
    if not path.exists():
        raise ValidationFailed(f"Berkas {path} tidak ada.", code="invalid_network")
    node_index: dict[int, int] = {}
    lon: list[float] = []
    lat: list[float] = []
    eu: list[int] = []
    ev: list[int] = []
    ehw: list[str] = []
    espeed: list[float] = []
    processor = (
        osmium.FileProcessor(str(path)).with_locations().with_filter(osmium.filter.KeyFilter("highway"))
    )
    try:
        for obj in processor:
            if not isinstance(obj, osmium.osm.Way):
                continue
            way = obj
            tags = way.tags
            hw = parse_highway(tags.get("highway"))
            if hw not in DRIVABLE or tags.get("area") == "yes":
                continue
            if tags.get("access") in _NO_ACCESS or tags.get("motor_vehicle") in _NO_ACCESS:
                continue
            refs: list[int] = []
            for nref in way.nodes:
                if not nref.location.valid():
                    continue
                idx = node_index.get(nref.ref)
                if idx is None:
                    idx = node_index[nref.ref] = len(lon)
                    lon.append(nref.lon)
                    lat.append(nref.lat)
                refs.append(idx)
            oneway = str(tags.get("oneway", "")).lower()
            implied = tags.get("junction") in ("roundabout", "circular") or hw in ("motorway",)
            forward = oneway != "-1"
            backward = oneway == "-1" or not (oneway in _ONEWAY_YES or (implied and oneway != "no"))
            ms = parse_maxspeed(tags.get("maxspeed"))
            for a, b in itertools.pairwise(refs):
                if forward:
                    eu.append(a)
                    ev.append(b)
                    ehw.append(hw)
                    espeed.append(ms)
                if backward:
                    eu.append(b)
                    ev.append(a)
                    ehw.append(hw)
                    espeed.append(ms)
    except RuntimeError as exc:
        raise ValidationFailed(
            f"Berkas OSM {path.name} tidak dapat dibaca: {exc}", code="invalid_network"
        ) from exc
    if not eu:
        raise ValidationFailed(
            f"Berkas OSM {path.name} tidak berisi jalan yang dapat dilalui.", code="empty_network"
        )
    lon_a = np.asarray(lon)
    lat_a = np.asarray(lat)
    u = np.asarray(eu)
    v = np.asarray(ev)
    classes = sorted(set(ehw))
    lut = {c: i for i, c in enumerate(classes)}
    return RoadNetwork.from_arrays(
        node_ids=np.asarray(list(node_index), dtype=np.int64),
        lon=lon_a,
        lat=lat_a,
        edge_u=u,
        edge_v=v,
        length_m=haversine_m(lon_a[u], lat_a[u], lon_a[v], lat_a[v]),
        classes=classes,
        class_code=[lut[c] for c in ehw],
        maxspeed_kmh=espeed,
        source=str(path),
        piece_m=piece_m,
    )
