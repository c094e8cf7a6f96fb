"""Read an OSMnx GraphML road network (no osmnx needed) into a RoadNetwork."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from lxml import etree

from kotapintar.core.errors import ValidationFailed
from kotapintar.dispatch.engine.network import FloatArray, RoadNetwork, haversine_m
from kotapintar.dispatch.engine.profiles import parse_highway, parse_maxspeed

_NS = "{http://graphml.graphdrawing.org/xmlns}"


def parse_linestring(wkt: str | None) -> FloatArray | None:
    """(k, 2) lon/lat array from a WKT LINESTRING, None when absent or not a linestring."""
    if not wkt:
        return None
    text = wkt.strip()
    if not text.upper().startswith("LINESTRING"):
        return None
    inner = text[text.find("(") + 1 : text.rfind(")")]
    try:
        coords = [tuple(float(c) for c in pair.split()[:2]) for pair in inner.split(",") if pair.strip()]
    except ValueError:
        return None
    if len(coords) < 2:
        return None
    return np.asarray(coords, dtype=np.float64)


def read_graphml(path: Path | str, *, piece_m: float = 50.0) -> RoadNetwork:
    """Read a GraphML file written by OSMnx: node x/y, edge length/highway/maxspeed/geometry.

    `highway` may be a list string (the first class is used, as OSMnx does); `maxspeed` may be "40",
    "40 mph" or a list (the mean is used). Edges are taken as directed (OSMnx stores both directions of a
    two-way street); an undirected GraphML gets both directions of every edge.
    """
    path = Path(path)
    keys: dict[str, tuple[str, str]] = {}
    directed = True
    node_index: dict[str, int] = {}
    lon: list[float] = []
    lat: list[float] = []
    eu: list[int] = []
    ev: list[int] = []
    elen: list[float] = []
    ehw: list[str] = []
    espeed: list[float] = []
    egeom: list[FloatArray | None] = []
    pending: list[tuple[str, str, dict[str, str]]] = []
    try:
        context = etree.iterparse(
            str(path), events=("start", "end"), resolve_entities=False, no_network=True, huge_tree=True
        )
        for event, el in context:
            tag = el.tag.replace(_NS, "") if isinstance(el.tag, str) else ""
            if event == "start":
                if tag == "graph":
                    directed = el.get("edgedefault", "directed") == "directed"
                continue
            if tag == "key":
                keys[el.get("id", "")] = (el.get("for", ""), el.get("attr.name", ""))
            elif tag == "node":
                attrs = {keys.get(d.get("key", ""), ("", ""))[1]: (d.text or "") for d in el}
                try:
                    x, y = float(attrs["x"]), float(attrs["y"])
                except (KeyError, ValueError) as exc:
                    raise ValidationFailed(
                        f"GraphML {path.name}: simpul {el.get('id')} tanpa koordinat x/y yang valid.",
                        code="invalid_network",
                    ) from exc
                node_index[el.get("id", "")] = len(lon)
                lon.append(x)
                lat.append(y)
                el.clear()
            elif tag == "edge":
                attrs = {keys.get(d.get("key", ""), ("", ""))[1]: (d.text or "") for d in el}
                pending.append((el.get("source", ""), el.get("target", ""), attrs))
                el.clear()
    except etree.XMLSyntaxError as exc:
        raise ValidationFailed(
            f"GraphML {path.name} tidak dapat dibaca: {exc}", code="invalid_network"
        ) from exc
    for src, dst, attrs in pending:
        if src not in node_index or dst not in node_index:
            raise ValidationFailed(
                f"GraphML {path.name}: sisi {src}→{dst} merujuk simpul yang tidak ada.",
                code="invalid_network",
            )
        u, v = node_index[src], node_index[dst]
        geom: FloatArray | None = parse_linestring(attrs.get("geometry"))
        try:
            length = float(attrs["length"])
        except (KeyError, ValueError):
            length = math.nan
        if not math.isfinite(length):
            g = geom if geom is not None else np.array([[lon[u], lat[u]], [lon[v], lat[v]]])
            length = float(haversine_m(g[:-1, 0], g[:-1, 1], g[1:, 0], g[1:, 1]).sum())
        hw = parse_highway(attrs.get("highway"))
        ms = parse_maxspeed(attrs.get("maxspeed"))
        directions = (
            [(u, v, geom)] if directed else [(u, v, geom), (v, u, None if geom is None else geom[::-1])]
        )
        for a, b, g_dir in directions:
            eu.append(a)
            ev.append(b)
            elen.append(length)
            ehw.append(hw)
            espeed.append(ms)
            egeom.append(g_dir)
    classes = sorted(set(ehw)) or [""]
    lut = {c: i for i, c in enumerate(classes)}
    ids = list(node_index)
    node_ids = (
        np.array([int(i) for i in ids], dtype=np.int64) if all(i.isdigit() for i in ids) else np.array(ids)
    )
    return RoadNetwork.from_arrays(
        node_ids=node_ids,
        lon=lon,
        lat=lat,
        edge_u=eu,
        edge_v=ev,
        length_m=elen,
        classes=classes,
        class_code=[lut[c] for c in ehw],
        maxspeed_kmh=espeed,
        geometries=egeom,
        source=str(path),
        piece_m=piece_m,
    )
