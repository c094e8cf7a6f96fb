"""The city's road network kept in the database: import a GraphML or OSM PBF file, route on it, export it.

`kotapintar import roads FILE` stores the file itself (compressed) next to the counts it parsed to, so every
process of the deployment routes on the same network without a path setting, and a new import reaches
every process through the roads version (no restart). KOTAPINTAR_ROAD_NETWORK_PATH, when set, still wins.
"""

from __future__ import annotations

import gzip
import hashlib
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from kotapintar.core import versions
from kotapintar.core.access.actors import Actor
from kotapintar.core.access.roles import Permission
from kotapintar.core.db.database import Database
from kotapintar.core.errors import NotFound, ValidationFailed
from kotapintar.core.events.types import utcnow
from kotapintar.dispatch.engine import RoadNetwork, load_network
from kotapintar.dispatch.models import RoadNetworkFile

_FORMATS = {".graphml": "graphml", ".xml": "graphml", ".pbf": "pbf", ".osm": "osm"}
_SUFFIX = {"graphml": ".graphml", "pbf": ".osm.pbf", "osm": ".osm"}
_lock = threading.Lock()
_cache: dict[str, tuple[int, RoadNetwork | None]] = {}


@dataclass(frozen=True)
class RoadsImported:
    """What an import stored: the file's name and format and the network it parsed to."""

    name: str
    format: str
    nodes: int
    edges: int
    sha256: str


def _format_of(path: Path) -> str:
    fmt = _FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ValidationFailed(
            f"{path.name}: format jaringan jalan tidak dikenal; gunakan .graphml (OSMnx) atau .osm.pbf "
            "/ unknown road network format.",
            code="invalid_network",
        )
    return fmt


def import_roads(db: Database, actor: Actor, path: Path) -> RoadsImported:
    """Parse `path` (refused with a reason when unusable), then store it as the city's road network."""
    actor.require(Permission.MANAGE_CATALOGUE)
    fmt = _format_of(path)
    net = load_network(path, cache=False)  # raises ValidationFailed naming the problem
    if len(net.node_ids) == 0 or len(net.edge_u) == 0:
        raise ValidationFailed(f"{path.name}: jaringan jalan kosong / the network has no roads.")
    raw = path.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    now = utcnow()
    with db.transaction() as uow:
        uow.session.execute(delete(RoadNetworkFile))
        uow.session.add(
            RoadNetworkFile(
                name=path.name,
                format=fmt,
                content=gzip.compress(raw, compresslevel=6),
                sha256=digest,
                nodes=len(net.node_ids),
                edges=len(net.edge_u),
                imported_at=now,
                imported_by=actor.name,
            )
        )
        versions.bump(uow.session, versions.ROADS)
        uow.events.append(
            stream="system",
            case_id=None,
            type="road_network_imported",
            actor=actor.name,
            at=now,
            payload={"name": path.name, "format": fmt, "nodes": len(net.node_ids), "edges": len(net.edge_u)},
        )
    return RoadsImported(path.name, fmt, len(net.node_ids), len(net.edge_u), digest)


def export_roads(db: Database, target: Path) -> RoadsImported:
    """Write the stored road network back as the file that was imported (byte for byte)."""
    with db.reading() as uow:
        row = uow.session.scalars(select(RoadNetworkFile).order_by(RoadNetworkFile.id.desc())).first()
    if row is None:
        raise NotFound("Belum ada jaringan jalan; jalankan `kotapintar import roads BERKAS`.")
    target.write_bytes(gzip.decompress(row.content))
    return RoadsImported(row.name, row.format, row.nodes, row.edges, row.sha256)


def stored_summary(db: Database) -> RoadsImported | None:
    """The stored network's name, format and size (None before the first import)."""
    with db.reading() as uow:
        row = uow.session.scalars(select(RoadNetworkFile).order_by(RoadNetworkFile.id.desc())).first()
        return None if row is None else RoadsImported(row.name, row.format, row.nodes, row.edges, row.sha256)


def stored_network(session: Session, key: str) -> RoadNetwork | None:
    """The stored network, parsed once per process and again only after a new import (roads version)."""
    version = versions.current(session, versions.ROADS)
    with _lock:
        hit = _cache.get(key)
    if hit is not None and hit[0] == version:
        return hit[1]
    row = session.scalars(select(RoadNetworkFile).order_by(RoadNetworkFile.id.desc())).first()
    net: RoadNetwork | None = None
    if row is not None:
        with tempfile.TemporaryDirectory() as tmp:
            file = Path(tmp) / f"network{_SUFFIX.get(row.format, '.graphml')}"
            file.write_bytes(gzip.decompress(row.content))
            net = load_network(file, cache=False)
    with _lock:
        _cache[key] = (version, net)
    return net
