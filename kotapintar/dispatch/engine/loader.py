"""Load a road network file once (GraphML or .osm.pbf) and reuse it while the file is unchanged."""

from __future__ import annotations

import threading
from pathlib import Path

from kotapintar.core.errors import ValidationFailed
from kotapintar.dispatch.engine.graphml import read_graphml
from kotapintar.dispatch.engine.network import RoadNetwork
from kotapintar.dispatch.engine.pbf import read_pbf

_CACHE: dict[tuple[str, int, int], RoadNetwork] = {}
_LOCK = threading.Lock()


def load_network(path: Path | str, *, cache: bool = True) -> RoadNetwork:
    """A RoadNetwork from `.graphml` (OSMnx) or `.osm.pbf`/`.osm`, cached by path, size and mtime."""
    p = Path(path).resolve()
    if not p.is_file():
        raise ValidationFailed(f"Berkas jaringan jalan {path} tidak ditemukan.", code="invalid_network")
    stat = p.stat()
    key = (str(p), stat.st_size, stat.st_mtime_ns)
    if cache and key in _CACHE:
        return _CACHE[key]
    name = p.name.lower()
    with _LOCK:
        if cache and key in _CACHE:
            return _CACHE[key]
        if name.endswith(".graphml") or name.endswith(".graphml.xml"):
            net = read_graphml(p)
        elif name.endswith(".pbf") or name.endswith(".osm"):
            net = read_pbf(p)
        else:
            raise ValidationFailed(
                f"Format jaringan jalan {p.name} tidak dikenal (gunakan .graphml atau .osm.pbf).",
                code="invalid_network",
            )
        if cache:
            for old in [k for k in _CACHE if k[0] == key[0]]:
                del _CACHE[old]
            _CACHE[key] = net
    return net
