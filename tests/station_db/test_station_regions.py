"""Uncertainty-region outlines: the ellipse in km with its azimuth, annuli, positions without a region."""

from __future__ import annotations

import math

import numpy as np
import pytest

from coordination.localisation import _Frame
from station_db.regions import KM_PER_DEG_LAT, KM_PER_DEG_LON_EQ, ellipse_lonlat, position_outlines


def _km(lat0: float, lon0: float, ring: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(east, north) km of the outline's points from its centre."""
    return ((ring[:, 0] - lon0) * KM_PER_DEG_LON_EQ * math.cos(math.radians(lat0)),
            (ring[:, 1] - lat0) * KM_PER_DEG_LAT)


def test_ellipse_has_the_stated_axes_with_azimuth_clockwise_from_north():
    east, north = _km(30.0, 120.0, ellipse_lonlat(30.0, 120.0, 10.0, 2.0, 90.0))  # major axis east
    assert east.max() == pytest.approx(10.0, rel=1e-3) and north.max() == pytest.approx(2.0, rel=1e-3)
    east, north = _km(30.0, 120.0, ellipse_lonlat(30.0, 120.0, 10.0, 2.0, 0.0))  # major axis north
    assert north.max() == pytest.approx(10.0, rel=1e-3) and east.max() == pytest.approx(2.0, rel=1e-3)
    east, north = _km(31.0, 121.0, ellipse_lonlat(31.0, 121.0, 8.0, 1.0, 45.0, n=9))
    tip = np.argmax(np.hypot(east, north))
    assert math.degrees(math.atan2(east[tip], north[tip])) % 180.0 == pytest.approx(45.0, abs=0.5)


def test_outline_is_closed_and_every_point_lies_on_the_ellipse():
    ring = ellipse_lonlat(31.2, 120.4, 6.0, 3.0, 30.0, n=37)
    assert ring.shape == (37, 2) and np.array_equal(ring[0], ring[-1])
    east, north = _km(31.2, 120.4, ring)
    az = math.radians(30.0)
    along = east * math.sin(az) + north * math.cos(az)
    across = east * math.cos(az) - north * math.sin(az)
    np.testing.assert_allclose((along / 6.0) ** 2 + (across / 3.0) ** 2, 1.0, rtol=1e-9)


def test_outline_is_drawn_in_the_localisers_own_frame():
    """Map and export draw the region where the localiser computed it: its frame inverts our outline."""
    ring = ellipse_lonlat(30.9, 120.1, 5.0, 5.0, 0.0)
    x, y = _Frame(30.9, 120.1).to_xy(ring[:, 1], ring[:, 0])
    np.testing.assert_allclose(np.hypot(x, y), 5.0, rtol=1e-9)


def test_annulus_gives_inner_and_outer_circles_and_no_position_gives_nothing():
    inner, outer = position_outlines({"lat": 31.0, "lon": 120.0, "kind": "annulus", "semi_major_km": 15.0,
                                      "semi_minor_km": 15.0, "r_inner_km": 5.0, "r_outer_km": 15.0})
    assert _km(31.0, 120.0, inner)[1].max() == pytest.approx(5.0, rel=1e-3)
    assert _km(31.0, 120.0, outer)[1].max() == pytest.approx(15.0, rel=1e-3)
    assert position_outlines(None) == [] and position_outlines({}) == []
    assert position_outlines({"lat": 31.0, "lon": 120.0, "semi_major_km": 0.0}) == []  # a point, no region
    (line,) = position_outlines({"lat": 31.0, "lon": 120.0, "semi_major_km": 4.0, "semi_minor_km": 0.0})
    assert np.abs(_km(31.0, 120.0, line)[0]).max() < 1e-9  # a degenerate ellipse stays a line, not a circle


def test_too_few_points_is_refused():
    with pytest.raises(ValueError, match="at least 4"):
        ellipse_lonlat(31.0, 120.0, 1.0, 1.0, 0.0, n=3)
