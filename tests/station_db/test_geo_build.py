"""The shipped provinces.geojson: reproducible from ../shared, topologically clean, within 50 m."""

from __future__ import annotations

import importlib.util
import json
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from station_db import geo

ROOT = Path(__file__).resolve().parents[2]


def _build_module():
    spec = importlib.util.spec_from_file_location("build_provinces", ROOT / "tools" / "build_provinces.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def source(shared_dir: Path) -> Path:
    return shared_dir / "data" / "boundaries" / "ne_admin1_china.geojson"


def test_shipped_file_is_rebuilt_byte_for_byte(source: Path, tmp_path: Path) -> None:
    out = tmp_path / "provinces.geojson"
    assert _build_module().main([str(source), "-o", str(out)]) == 0
    shipped = resources.files("station_db").joinpath("data", "provinces.geojson").read_bytes()
    assert out.read_bytes() == shipped
    assert len(shipped) < 1_500_000


def test_simplification_moves_no_source_vertex_more_than_50_m(source: Path) -> None:
    raw = json.loads(source.read_text("utf-8"))
    bnd = geo.load_boundaries()
    for feat in raw["features"]:
        code = feat["properties"]["code_hasc"].split(".")[-1]
        if code not in geo.FOUR_PROVINCES:
            continue
        g = feat["geometry"]
        polys = g["coordinates"] if g["type"] == "MultiPolygon" else [g["coordinates"]]
        pts = np.array([v for poly in polys for ring in poly for v in ring])
        d_km = bnd._outline(code).nearest(pts[:, 1], pts[:, 0])[0]
        assert d_km.max() < 0.052, code  # 50 m Douglas-Peucker + 1 m rounding


def test_shared_borders_have_identical_vertices_in_both_provinces() -> None:
    data = json.loads(resources.files("station_db").joinpath("data", "provinces.geojson").read_text("utf-8"))
    verts = {
        f["properties"]["code"]: {tuple(v) for poly in f["geometry"]["coordinates"] for ring in poly for v in ring}
        for f in data["features"]
    }
    bnd = geo.load_boundaries()
    for a, b in [("SH", "JS"), ("SH", "ZJ"), ("JS", "ZJ"), ("JS", "AH"), ("ZJ", "AH"), ("AH", "JX")]:
        line = np.vstack([p.latlon for p in bnd.border_polylines(a, b)])
        on_line = {(lon, lat) for lat, lon in line.tolist()}
        assert on_line <= verts[a] and on_line <= verts[b], (a, b)


@pytest.mark.parametrize(("a", "b"), [("JS", "AH"), ("ZJ", "AH"), ("AH", "HE"), ("SH", "JS"), ("ZJ", "FJ")])
def test_no_gap_or_sliver_along_borders(a: str, b: str) -> None:
    line = geo.border_line(a, b, 1.0)
    found = np.concatenate([
        geo.provinces_of(line[:, 0] + dlat, line[:, 1] + dlon)
        for dlat, dlon in [(0.001, 0), (-0.001, 0), (0, 0.001), (0, -0.001)]  # ~100 m away
    ])
    in_ab = np.isin(found, [a, b])
    assert in_ab.mean() > 0.985  # the rest: triple junctions and coastal ends
    assert (found == None).sum() <= 2  # noqa: E711 -- only where the line meets the sea
