"""Border distances and border lines: the shared line between provinces, never the coast."""

from __future__ import annotations

import math

import numpy as np
import pytest

from station_db import geo
from station_db._boundaries import Boundaries, NoSharedBorderError, UnknownProvinceError
from station_db._geometry import EARTH_RADIUS_KM, haversine_km


def _square(lon0: float, lat0: float, lon1: float, lat1: float) -> np.ndarray:
    return np.array([[lon0, lat0], [lon1, lat0], [lon1, lat1], [lon0, lat1]])


@pytest.fixture(scope="module")
def two_squares() -> Boundaries:
    """A = 120..121 E, B = 121..122 E, both 30..31 N: their only border is the meridian 121 E."""
    return Boundaries({"AA": [_square(120, 30, 121, 31)], "BB": [_square(121, 30, 122, 31)]})


def _km_to_meridian(lat: float, dlon_deg: float) -> float:
    """Exact great-circle distance from a point to a meridian dlon_deg away."""
    return EARTH_RADIUS_KM * math.asin(math.cos(math.radians(lat)) * math.sin(math.radians(dlon_deg)))


def test_distance_to_shared_edge_is_great_circle_exact(two_squares: Boundaries) -> None:
    d_km, (lat, lon) = two_squares.distance_to_border_km(30.5, 120.9)
    assert d_km == pytest.approx(_km_to_meridian(30.5, 0.1), abs=1e-3)  # 9.584 km
    assert d_km == pytest.approx(9.584, abs=0.01)
    assert lon == pytest.approx(121.0, abs=1e-9)
    assert lat == pytest.approx(30.5, abs=1e-3)


def test_coast_is_not_a_border(two_squares: Boundaries) -> None:
    # 0.05 deg from A's west coast, 0.95 deg from the A-B line: the line is what counts.
    d_km, (_, lon) = two_squares.distance_to_border_km(30.5, 120.05)
    assert d_km == pytest.approx(_km_to_meridian(30.5, 0.95), abs=1e-3)
    assert lon == pytest.approx(121.0)


def test_shared_line_found_despite_extra_vertices_and_10_m_offset() -> None:
    b_ring = np.array([[121.00009, 30.0], [122, 30], [122, 31], [121.00009, 31], [121.00009, 30.4]])
    bnd = Boundaries({"AA": [_square(120, 30, 121, 31)], "BB": [b_ring]}, shared_tol_km=0.05)
    assert bnd.neighbours("AA") == ("BB",)
    assert bnd.border_length_km("AA", "BB") == pytest.approx(111.2, abs=0.1)
    strict = Boundaries({"AA": [_square(120, 30, 121, 31)], "BB": [b_ring]}, shared_tol_km=0.001)
    assert strict.neighbours("AA") == ()


def test_point_outside_every_province_is_nan_unless_close(two_squares: Boundaries) -> None:
    far_d, far_p = two_squares.distance_to_border_km(30.5, 118.0)  # ~190 km west of A
    assert math.isnan(far_d) and math.isnan(far_p[0])
    near_d, _ = two_squares.distance_to_border_km(30.5, 119.9)  # 9.6 km off A's coast -> A
    assert near_d == pytest.approx(_km_to_meridian(30.5, 1.1), abs=1e-3)


def test_shanghai_jiangsu_line_distance_and_point() -> None:
    lat, lon = 31.30, 121.20  # Jiading district, Shanghai
    d_km, (blat, blon) = geo.distance_to_border_km(lat, lon, "JS")
    # The distance is the great-circle distance to the returned point ...
    assert d_km == pytest.approx(haversine_km(lat, lon, blat, blon), abs=1e-6)
    assert 3.0 < d_km < 12.0
    # ... which lies on both provinces' outlines (to the ~1 m coordinate rounding of the file),
    for code in ("SH", "JS"):
        assert geo.distances_to_province_km([blat], [blon], code)[0] < 0.005
    # ... and no sample of the SH-JS line is nearer.
    line = geo.border_line("SH", "JS", 0.05)
    assert haversine_km(lat, lon, line[:, 0], line[:, 1]).min() == pytest.approx(d_km, abs=0.03)


def test_any_border_is_the_nearest_of_the_neighbour_borders() -> None:
    lat, lon = 30.90, 121.00  # Shanghai, Jinshan/Qingpu: near both JS and ZJ
    d_any, _ = geo.distance_to_border_km(lat, lon)
    d_js, _ = geo.distance_to_border_km(lat, lon, "JS")
    d_zj, _ = geo.distance_to_border_km(lat, lon, "ZJ")
    assert d_any == pytest.approx(min(d_js, d_zj), abs=1e-9)


def test_shanghai_coast_is_far_from_any_border() -> None:
    lat, lon = 30.85, 121.95  # 2 km off Shanghai's Lingang coast (outside every polygon)
    assert geo.province_of(lat, lon) is None
    assert geo.distances_to_province_km([lat], [lon], "SH")[0] == pytest.approx(2.2, abs=0.1)
    d_border, (_, blon) = geo.distance_to_border_km(lat, lon)  # attached to SH (< 25 km off)
    assert d_border == pytest.approx(66.8, abs=0.1)  # the SH-ZJ line at Jinshan, not the sea
    assert blon == pytest.approx(121.27, abs=0.01)


def test_point_on_the_border_is_at_zero_km() -> None:
    line = geo.border_line("JS", "ZJ", 10.0)
    lat, lon = line[len(line) // 2]
    d_km, (blat, blon) = geo.distance_to_border_km(lat, lon, "ZJ", province="JS")
    assert d_km < 0.001
    assert haversine_km(lat, lon, blat, blon) < 0.001


def test_province_override_and_non_neighbour_give_nan() -> None:
    d_km, _ = geo.distance_to_border_km(31.23, 121.47, "AH")  # Shanghai and Anhui do not touch
    assert math.isnan(d_km)
    d_km, _ = geo.distance_to_border_km(31.23, 121.47, "SH")  # own province
    assert math.isnan(d_km)
    # A licence in Jiangsu whose coordinates are in Shanghai: measured to the JS borders.
    d_js, _ = geo.distance_to_border_km(31.23, 121.47, province="JS")
    assert d_js > 0 and not math.isnan(d_js)
    with pytest.raises(UnknownProvinceError, match="XX"):
        geo.distance_to_border_km(31.23, 121.47, "XX")


def test_vectorised_distances_equal_scalar() -> None:
    rng = np.random.default_rng(3)
    lats = rng.uniform(29.0, 33.5, 200)
    lons = rng.uniform(117.0, 122.5, 200)
    for other in (None, "JS"):
        d, p = geo.distances_to_border_km(lats, lons, other)
        assert d.shape == (200,) and p.shape == (200, 2)
        for i in range(0, 200, 7):
            ds, ps = geo.distance_to_border_km(lats[i], lons[i], other)
            if math.isnan(ds):
                assert math.isnan(d[i])
            else:
                assert d[i] == pytest.approx(ds, abs=1e-9)
                assert p[i] == pytest.approx(ps, abs=1e-9)


def test_vectorised_distance_matches_brute_force_over_sampled_line() -> None:
    rng = np.random.default_rng(11)
    lats = rng.uniform(31.0, 31.6, 50)
    lons = rng.uniform(120.9, 121.8, 50)
    d, _ = geo.distances_to_border_km(lats, lons, "JS", provinces=np.full(50, "SH", dtype=object))
    line = geo.border_line("SH", "JS", 0.02)
    brute = haversine_km(lats[:, None], lons[:, None], line[None, :, 0], line[None, :, 1]).min(axis=1)
    assert np.all(d <= brute + 0.001)  # 1 m: chords of 1 km pieces vs the lon/lat-linear line
    assert np.all(brute - d < 0.011)  # half the 20 m sampling step, at most


@pytest.mark.parametrize(("a", "b"), [("SH", "JS"), ("SH", "ZJ"), ("JS", "AH"), ("ZJ", "AH"), ("AH", "HE")])
def test_border_line_spacing_and_ends(a: str, b: str) -> None:
    step_km = 2.0
    pieces = geo.default_boundaries().border_lines(a, b, step_km)
    total = geo.default_boundaries().border_length_km(a, b)
    n_expected = sum(math.ceil(p.length_km / step_km) + 1 for p in geo.default_boundaries().border_polylines(a, b))
    assert sum(len(p) for p in pieces) == n_expected
    assert sum(len(p) for p in pieces) >= total / step_km
    for piece in pieces:
        gaps = haversine_km(piece[:-1, 0], piece[:-1, 1], piece[1:, 0], piece[1:, 1])
        assert np.all(gaps <= step_km * (1 + 1e-3))  # lon/lat-linear line vs great circle
        assert np.all(gaps[:-1] > 0.5 * step_km)  # only the last gap is a remainder
    stacked = geo.border_line(a, b, step_km)
    assert stacked.shape == (sum(len(p) for p in pieces), 2)
    # every sample lies on both provinces' outlines
    for code in (a, b):
        assert geo.distances_to_province_km(stacked[:, 0], stacked[:, 1], code).max() < 0.005


def test_border_line_is_the_same_line_both_ways() -> None:
    ab = geo.border_line("SH", "JS", 1.0)
    ba = geo.border_line("JS", "SH", 1.0)
    assert len(ab) == len(ba)
    assert geo.default_boundaries().border_length_km("SH", "JS") == pytest.approx(
        geo.default_boundaries().border_length_km("JS", "SH")
    )


def test_border_lengths_of_the_four_are_plausible() -> None:
    bnd = geo.default_boundaries()
    # Natural Earth 1:10m lengths; the real lines are somewhat longer (finer wiggles).
    assert 60 < bnd.border_length_km("SH", "JS") < 130
    assert 50 < bnd.border_length_km("SH", "ZJ") < 110
    assert 800 < bnd.border_length_km("JS", "AH") < 1100


def test_border_line_errors() -> None:
    with pytest.raises(NoSharedBorderError, match="SH and AH"):
        geo.border_line("SH", "AH", 1.0)
    with pytest.raises(UnknownProvinceError, match="'QQ'"):
        geo.border_line("SH", "QQ", 1.0)
    with pytest.raises(ValueError, match="step_km"):
        geo.border_line("SH", "JS", 0.0)


def test_mismatched_array_shapes_are_rejected() -> None:
    with pytest.raises(ValueError, match="shapes differ"):
        geo.distances_to_border_km(np.zeros((2, 3)), np.zeros(6))
    with pytest.raises(ValueError, match="shapes differ"):
        geo.provinces_of(np.zeros(3), np.zeros(4))
