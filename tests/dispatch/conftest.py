"""Fixtures for the dispatch tests: the real Balikpapan network and small synthetic networks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kotapintar.dispatch.engine import RoadNetwork, load_network

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
BALIKPAPAN = SHARED / "roads" / "balikpapan_kota_drive.graphml"


@pytest.fixture(scope="session")
def balikpapan() -> RoadNetwork:
    """The real Balikpapan Kota network, or skip when ../shared/data is absent."""
    if not BALIKPAPAN.exists():
        pytest.skip("../shared/data absent: roads/balikpapan_kota_drive.graphml is needed")
    return load_network(BALIKPAPAN)


@pytest.fixture(scope="session")
def grid() -> RoadNetwork:
    """A 5×5 two-way residential grid with ~111 m blocks near Kapuas."""
    return grid_network()


def grid_network(
    nx_: int = 5, ny: int = 5, spacing_deg: float = 0.001, lon0: float = 114.0, lat0: float = -3.0
) -> RoadNetwork:
    """A two-way residential grid: node (i, j) at lon0 + i·spacing, lat0 + j·spacing."""
    ii, jj = np.meshgrid(np.arange(nx_), np.arange(ny), indexing="ij")
    lon = (lon0 + ii * spacing_deg).ravel()
    lat = (lat0 + jj * spacing_deg).ravel()
    idx = (ii * ny + jj).ravel()
    right = idx[(ii < nx_ - 1).ravel()]
    up = idx[(jj < ny - 1).ravel()]
    u = np.concatenate([right, right + ny, up, up + 1])
    v = np.concatenate([right + ny, right, up + 1, up])
    from kotapintar.dispatch.engine import haversine_m

    length = haversine_m(lon[u], lat[u], lon[v], lat[v])
    return RoadNetwork.from_arrays(
        node_ids=np.arange(len(lon)),
        lon=lon,
        lat=lat,
        edge_u=u,
        edge_v=v,
        length_m=length,
        classes=["residential"],
        class_code=np.zeros(len(u), np.int32),
    )
