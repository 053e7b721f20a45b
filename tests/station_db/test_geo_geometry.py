"""The numerical pieces behind station_db.geo, each against a plain brute-force twin."""

from __future__ import annotations

import math

import numpy as np
import pytest

from station_db._geometry import (
    EARTH_RADIUS_KM,
    PolygonIndex,
    SegmentIndex,
    douglas_peucker,
    haversine_km,
)


def _brute_inside(ring: np.ndarray, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Textbook even-odd ray casting over every edge."""
    inside = np.zeros(len(lat), dtype=bool)
    n = len(ring)
    for i in range(n):
        (x1, y1), (x2, y2) = ring[i], ring[(i + 1) % n]
        with np.errstate(divide="ignore", invalid="ignore"):
            cross = ((y1 > lat) != (y2 > lat)) & (lon < x1 + (lat - y1) * (x2 - x1) / (y2 - y1))
        inside ^= cross
    return inside


def _star(cx: float, cy: float, r: float, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    ang = np.sort(rng.uniform(0, 2 * np.pi, n))
    rad = r * rng.uniform(0.3, 1.0, n)
    return np.column_stack([cx + rad * np.cos(ang), cy + rad * np.sin(ang)])


def test_haversine_known_distances() -> None:
    assert haversine_km(30.0, 120.0, 31.0, 120.0) == pytest.approx(math.pi * EARTH_RADIUS_KM / 180, rel=1e-12)
    assert haversine_km(0.0, 0.0, 0.0, 180.0) == pytest.approx(math.pi * EARTH_RADIUS_KM, rel=1e-12)
    d = haversine_km(np.array([31.0, 32.0]), 121.0, 31.0, np.array([121.0, 122.0]))
    assert d.shape == (2,) and d[0] == 0.0


def test_polygon_index_matches_brute_force_ray_casting() -> None:
    rings = [_star(120.0, 30.0, 1.0, 300, 1), _star(123.0, 30.5, 1.5, 500, 2), _star(120.2, 30.1, 0.2, 40, 3)]
    owners = [0, 1, 0]  # third ring is a hole of owner 0 (inside the first star)
    idx = PolygonIndex(rings, owners, band_deg=0.013)
    rng = np.random.default_rng(5)
    lat = rng.uniform(28.0, 32.5, 20000)
    lon = rng.uniform(118.5, 125.0, 20000)
    got = idx.locate(lat, lon)
    in0 = _brute_inside(rings[0], lat, lon) ^ _brute_inside(rings[2], lat, lon)
    in1 = _brute_inside(rings[1], lat, lon)
    want = np.where(in0, 0, np.where(in1, 1, -1))
    assert np.array_equal(got, want)
    assert (got == 0).sum() > 500 and (got == 1).sum() > 1000 and (got == -1).sum() > 1000


def test_polygon_index_chunking_does_not_change_results() -> None:
    idx = PolygonIndex([_star(0.0, 0.0, 1.0, 100, 9)], [0])
    rng = np.random.default_rng(1)
    lat, lon = rng.uniform(-1.2, 1.2, (2, 5000))
    assert np.array_equal(idx.locate(lat, lon, chunk=333), idx.locate(lat, lon))


def test_segment_index_matches_brute_force() -> None:
    rng = np.random.default_rng(4)
    start = np.column_stack([rng.uniform(30, 31, 150), rng.uniform(120, 121, 150)])
    end = start + rng.normal(0, 0.03, (150, 2))
    idx = SegmentIndex(start, end, max_piece_km=0.5)
    qlat, qlon = rng.uniform(29.8, 31.2, 60), rng.uniform(119.8, 121.2, 60)
    d_km, plat, plon, _ = idx.nearest(qlat, qlon)
    # Brute force: dense samples along every segment (5 m apart at most).
    t = np.linspace(0, 1, 1000)[:, None, None]
    samples = (start[None] + t * (end - start)[None]).reshape(-1, 2)
    brute = haversine_km(qlat[:, None], qlon[:, None], samples[None, :, 0], samples[None, :, 1]).min(axis=1)
    assert np.all(np.abs(d_km - brute) < 0.003)
    assert d_km.max() > 1.0  # queries are not all sitting on segments
    assert np.allclose(haversine_km(qlat, qlon, plat, plon), d_km, atol=1e-6)


def test_segment_index_labels_follow_the_nearest_segment() -> None:
    idx = SegmentIndex(np.array([[30.0, 120.0], [30.0, 122.0]]), np.array([[31.0, 120.0], [31.0, 122.0]]),
                       labels=np.array([7, 9]))
    _, _, _, lab = idx.nearest(np.array([30.5, 30.5]), np.array([120.4, 121.7]))
    assert lab.tolist() == [7, 9]


def test_douglas_peucker_keeps_shape_within_tolerance() -> None:
    x = np.linspace(0, 10, 201)
    pts = np.column_stack([x, np.sin(x)])
    keep = douglas_peucker(pts, 0.01)
    assert keep[0] == 0 and keep[-1] == 200 and 10 < len(keep) < 100
    kept = pts[keep]
    y_interp = np.interp(x, kept[:, 0], kept[:, 1])
    assert np.max(np.abs(y_interp - pts[:, 1])) <= 0.01 * math.sqrt(2)  # vertical error, slope <= 1
    assert douglas_peucker(np.column_stack([x, 2 * x]), 1e-9).tolist() == [0, 200]  # straight line


def test_douglas_peucker_on_a_closed_arc_keeps_a_baseline() -> None:
    ang = np.linspace(0, 2 * np.pi, 50)
    ring = np.column_stack([np.cos(ang), np.sin(ang)])  # first == last
    keep = douglas_peucker(ring, 0.05)
    assert len(keep) >= 4
