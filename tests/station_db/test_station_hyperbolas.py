"""TDOA hyperbola branches in lon/lat (the console's and the web view's maps draw the same ones)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from station_db.hyperbolas import great_circle_km, hyperbola_lonlat, tdoa_fix, tdoa_hyperbolas


def _geometries(seed: int, n: int) -> list[tuple[tuple[float, float], tuple[float, float], tuple[float, float]]]:
    """(reference sensor, other sensor, emitter) over the four provinces: baselines 3..90 km, emitters up to
    60 km from the pair's midpoint."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        lat, lon = rng.uniform(29.0, 34.0), rng.uniform(116.5, 122.5)
        base_km, az = rng.uniform(3.0, 90.0), rng.uniform(0.0, 2 * math.pi)
        r_km, az_e = rng.uniform(0.0, 60.0), rng.uniform(0.0, 2 * math.pi)
        kx = 111.32 * math.cos(math.radians(lat))
        ref = (lat - 0.5 * base_km * math.cos(az) / 110.574, lon - 0.5 * base_km * math.sin(az) / kx)
        other = (lat + 0.5 * base_km * math.cos(az) / 110.574, lon + 0.5 * base_km * math.sin(az) / kx)
        emitter = (lat + r_km * math.cos(az_e) / 110.574, lon + r_km * math.sin(az_e) / kx)
        out.append((ref, other, emitter))
    return out


def _range_diff_m(ref: tuple[float, float], other: tuple[float, float], lat: np.ndarray,
                  lon: np.ndarray) -> np.ndarray:
    return (great_circle_km(other, lat, lon) - great_circle_km(ref, lat, lon)) * 1000.0


def _km_to_polyline(xy: np.ndarray, p: tuple[float, float]) -> float:
    """Distance (km) from point p (lat, lon) to the polyline (lon/lat), in a flat frame about p."""
    kx = 111.32 * math.cos(math.radians(p[0]))
    pts = np.column_stack([(xy[:, 0] - p[1]) * kx, (xy[:, 1] - p[0]) * 110.574])
    a, b = pts[:-1], pts[1:]
    ab = b - a
    t = np.clip(-np.sum(a * ab, axis=1) / np.maximum(np.sum(ab * ab, axis=1), 1e-12), 0.0, 1.0)
    return float(np.min(np.linalg.norm(a + t[:, None] * ab, axis=1)))


@pytest.mark.parametrize("half_length_km", [60.0, 400.0])
def test_every_point_of_a_branch_has_the_pairs_range_difference_within_a_metre(half_length_km: float) -> None:
    worst_m, n_points = 0.0, 0
    for ref, other, emitter in _geometries(seed=11, n=40):
        d_m = float(_range_diff_m(ref, other, np.array(emitter[0]), np.array(emitter[1])))
        xy = hyperbola_lonlat(ref, other, d_m, half_length_km)
        # at most a tail beyond the sphere's asymptote is left out (thin branches, hundreds of km out)
        assert xy.shape[1] == 2 and len(xy) >= 0.75 * 241
        got_m = _range_diff_m(ref, other, xy[:, 1], xy[:, 0])
        worst_m = max(worst_m, float(np.max(np.abs(got_m - d_m))))
        n_points += len(xy)
        # the branch runs through the emitter (the line between samples: a chord of the curve)
        assert _km_to_polyline(xy, emitter) < 0.05
    assert n_points > 0.95 * 40 * 241 and worst_m < 1.0


def test_branch_lies_on_the_reference_sensors_side_for_a_positive_difference() -> None:
    ref, other = (31.15, 121.12), (31.385, 120.98)
    xy = hyperbola_lonlat(ref, other, 5000.0)
    assert np.all(great_circle_km(ref, xy[:, 1], xy[:, 0]) < great_circle_km(other, xy[:, 1], xy[:, 0]))
    # the vertex (middle sample) is on the baseline, d/2 from the midpoint towards the reference sensor
    mid = np.array([(ref[1] + other[1]) / 2, (ref[0] + other[0]) / 2])
    vertex = xy[120]
    base_km = float(great_circle_km(ref, np.array(other[0]), np.array(other[1])))
    assert float(great_circle_km((mid[1], mid[0]), np.array(vertex[1]), np.array(vertex[0]))) == pytest.approx(
        2.5, abs=0.01)
    assert float(great_circle_km(ref, np.array(vertex[1]), np.array(vertex[0]))) == pytest.approx(
        base_km / 2 - 2.5, abs=0.01)


def test_no_branch_for_a_range_difference_not_below_the_baseline() -> None:
    ref, other = (31.15, 121.12), (31.385, 120.98)
    baseline_m = float(great_circle_km(ref, np.array(other[0]), np.array(other[1]))) * 1000.0
    assert hyperbola_lonlat(ref, other, baseline_m * 1.01).shape == (0, 2)
    assert hyperbola_lonlat(ref, other, -baseline_m * 1.01).shape == (0, 2)
    assert hyperbola_lonlat(ref, ref, 0.0).shape == (0, 2)  # one sensor twice: no pair
    assert hyperbola_lonlat(ref, other, float("nan")).shape == (0, 2)
    with pytest.raises(ValueError, match="n=1"):
        hyperbola_lonlat(ref, other, 100.0, n=1)


def test_tdoa_detail_gives_one_branch_per_usable_pair_in_pair_order() -> None:
    ref, s1, s2, s3 = (31.15, 121.12), (31.385, 120.98), (30.83, 120.92), (31.0, 121.4)
    emitter = (31.08, 120.95)

    def rd(other: tuple[float, float]) -> float:
        return float(_range_diff_m(ref, other, np.array(emitter[0]), np.array(emitter[1])))

    tdoa = {"reference_sensor": "r", "position": {"lat": emitter[0], "lon": emitter[1]},
            "sensors": [{"sensor_id": "r", "lat": ref[0], "lon": ref[1]},
                        {"sensor_id": "a", "lat": s1[0], "lon": s1[1]},
                        {"sensor_id": "b", "lat": s2[0], "lon": s2[1]},
                        {"sensor_id": "c", "lat": s3[0], "lon": s3[1]},
                        {"sensor_id": "nowhere", "lat": "31.0", "lon": None}],
            "pairs": [{"sensor_id": "b", "range_diff_m": rd(s2)},
                      {"sensor_id": "a", "range_diff_m": rd(s1)},
                      {"sensor_id": "c", "range_diff_m": 1e6},           # beyond the baseline: no branch
                      {"sensor_id": "nowhere", "range_diff_m": 10.0},    # sensor without a position
                      {"sensor_id": "a", "range_diff_m": "12"},          # not a number
                      "junk"]}
    branches = tdoa_hyperbolas(tdoa)
    assert len(branches) == 2
    for xy, other in zip(branches, (s2, s1), strict=True):
        got = _range_diff_m(ref, other, xy[:, 1], xy[:, 0])
        assert np.max(np.abs(got - rd(other))) < 1.0
    assert tdoa_fix(tdoa) == emitter
    assert tdoa_hyperbolas({**tdoa, "reference_sensor": "unknown"}) == []
    assert tdoa_fix({"position": {"lat": 31.0}}) is None and tdoa_fix({}) is None
