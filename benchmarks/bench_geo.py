"""Benchmark: station_db.geo on the server's hot path (province lookup, border distance).

Run: ``.venv/bin/python benchmarks/bench_geo.py``

Points are uniform over the Yangtze River Delta box (27-36 N, 114-123.5 E: the four provinces,
their neighbours and some sea). Figures are the best of ``REPEATS`` runs, in points per second:

* load: the shipped boundaries parsed, indexed and the shared border lines found (cold, no cache);
* provinces_of: vectorised point-in-polygon (latitude-band ray casting);
* province_of: one point per call (what a per-alert lookup costs);
* distances_to_border_km: vectorised, any border and one given border;
* distance_to_border_km: one point per call;
* a brute-force numpy ray cast over every edge, as the reference the band index is measured against.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from station_db import geo
from station_db._boundaries import parse_geojson
from station_db._geometry import PolygonIndex

REPEATS = 3
N_VECTOR = 200_000
N_SCALAR = 2_000
N_BRUTE = 2_000


def _best(fn, repeats: int = REPEATS) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _brute_locate(rings: list[np.ndarray], owners: list[int], lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    out = np.full(len(lat), -1)
    for ring, owner in zip(rings, owners):
        x1, y1 = ring[:, 0][:, None], ring[:, 1][:, None]
        x2, y2 = np.roll(ring[:, 0], -1)[:, None], np.roll(ring[:, 1], -1)[:, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            cross = ((y1 > lat) != (y2 > lat)) & (lon < x1 + (lat - y1) * (x2 - x1) / (y2 - y1))
        out[(cross.sum(axis=0) % 2 == 1)] = owner
    return out


def main() -> int:
    rng = np.random.default_rng(0)
    lat = rng.uniform(27.0, 36.0, N_VECTOR)
    lon = rng.uniform(114.0, 123.5, N_VECTOR)

    from importlib import resources

    text = resources.files("station_db").joinpath("data", "provinces.geojson").read_text("utf-8")
    t_load = _best(lambda: geo.Boundaries(parse_geojson(text, "shipped")), repeats=2)
    bnd = geo.load_boundaries()
    n_edges = sum(len(r) for c in bnd.codes for r in bnd._rings[c])
    print(f"boundaries: {len(bnd.codes)} provinces, {n_edges} edges; cold load {t_load * 1e3:.0f} ms")

    bnd.distances_to_border_km(lat[:1000], lon[:1000])  # build the lazy border indices once
    bnd.distances_to_border_km(lat[:1000], lon[:1000], "JS")

    rows = []
    t = _best(lambda: bnd.provinces_of(lat, lon))
    rows.append(("provinces_of (vectorised)", N_VECTOR / t))
    t = _best(lambda: [bnd.province_of(a, b) for a, b in zip(lat[:N_SCALAR], lon[:N_SCALAR])])
    rows.append(("province_of (one point per call)", N_SCALAR / t))
    t = _best(lambda: bnd.distances_to_border_km(lat, lon))
    rows.append(("distances_to_border_km (any border)", N_VECTOR / t))
    t = _best(lambda: bnd.distances_to_border_km(lat, lon, "JS"))
    rows.append(("distances_to_border_km (other='JS')", N_VECTOR / t))
    t = _best(lambda: [bnd.distance_to_border_km(a, b) for a, b in zip(lat[:N_SCALAR], lon[:N_SCALAR])])
    rows.append(("distance_to_border_km (one point per call)", N_SCALAR / t))

    rings = [r for c in bnd.codes for r in bnd._rings[c]]
    owners = [i for i, c in enumerate(bnd.codes) for _ in bnd._rings[c]]
    t = _best(lambda: _brute_locate(rings, owners, lat[:N_BRUTE], lon[:N_BRUTE]), repeats=1)
    brute_rate = N_BRUTE / t
    rows.append(("reference: brute-force ray cast, all edges", brute_rate))
    same = np.array_equal(
        _brute_locate(rings, owners, lat[:N_BRUTE], lon[:N_BRUTE]),
        PolygonIndex(rings, owners).locate(lat[:N_BRUTE], lon[:N_BRUTE]),
    )

    width = max(len(r[0]) for r in rows)
    for name, rate in rows:
        print(f"{name:<{width}}  {rate:>12,.0f} points/s")
    print(f"band index vs brute force: {rows[0][1] / brute_rate:.0f}x faster, identical results: {same}")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
