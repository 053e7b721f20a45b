"""Point-in-province on known places, with the shipped boundaries."""

from __future__ import annotations

import numpy as np
import pytest

from station_db import geo

KNOWN_PLACES = [
    ("Kunshan", 31.385, 120.98, "JS"),
    ("Qingpu", 31.15, 121.12, "SH"),
    ("Jiashan", 30.83, 120.92, "ZJ"),
    ("Ma'anshan", 31.67, 118.51, "AH"),
    ("Nanjing", 32.06, 118.79, "JS"),
    ("Hangzhou", 30.27, 120.15, "ZJ"),
    ("Hefei", 31.82, 117.23, "AH"),
    ("Shanghai People's Square", 31.23, 121.47, "SH"),
    ("Jinan", 36.65, 117.00, "SD"),
    ("Zhengzhou", 34.75, 113.65, "HE"),
    ("Wuhan", 30.59, 114.30, "HU"),
    ("Nanchang", 28.68, 115.86, "JX"),
    ("Fuzhou", 26.07, 119.30, "FJ"),
    ("Suzhou", 31.30, 120.62, "JS"),
    ("Huzhou", 30.87, 120.09, "ZJ"),
    ("Xuancheng", 30.94, 118.76, "AH"),
]


@pytest.mark.parametrize(("name", "lat", "lon", "code"), KNOWN_PLACES, ids=[p[0] for p in KNOWN_PLACES])
def test_known_place_lies_in_its_province(name: str, lat: float, lon: float, code: str) -> None:
    assert geo.province_of(lat, lon) == code


@pytest.mark.parametrize(
    ("lat", "lon"),
    [(30.5, 123.5), (31.0, 125.0), (37.56, 126.97), (10.0, 10.0), (float("nan"), 120.0)],
    ids=["East China Sea", "farther offshore", "Seoul", "Gulf of Guinea", "nan"],
)
def test_points_outside_china_have_no_province(lat: float, lon: float) -> None:
    assert geo.province_of(lat, lon) is None


def test_vectorised_equals_scalar_on_a_grid() -> None:
    rng = np.random.default_rng(7)
    lats = rng.uniform(27.0, 36.0, 3000)
    lons = rng.uniform(114.0, 123.5, 3000)
    vec = geo.provinces_of(lats, lons)
    assert vec.shape == (3000,) and vec.dtype == object
    assert list(vec[:300]) == [geo.province_of(a, b) for a, b in zip(lats[:300], lons[:300])]
    assert {"SH", "JS", "ZJ", "AH", None} <= set(vec.tolist())


def test_vectorised_keeps_input_shape() -> None:
    lats = np.array([[31.385, 31.15], [30.83, 31.67]])
    lons = np.array([[120.98, 121.12], [120.92, 118.51]])
    assert geo.provinces_of(lats, lons).tolist() == [["JS", "SH"], ["ZJ", "AH"]]


def test_names_cover_every_shipped_province_in_both_languages() -> None:
    codes = geo.load_boundaries().codes
    assert len(codes) == 31
    assert {"SH", "JS", "ZJ", "AH", "SD", "HE", "HU", "JX", "FJ"} <= set(codes)
    assert set(codes) <= set(geo.PROVINCE_NAMES) and set(codes) <= set(geo.PROVINCE_NAMES_ZH)
    assert (geo.PROVINCE_NAMES["SH"], geo.PROVINCE_NAMES_ZH["SH"]) == ("Shanghai", "上海")
    assert [geo.PROVINCE_NAMES_ZH[c] for c in ("JS", "ZJ", "AH")] == ["江苏", "浙江", "安徽"]


def test_neighbours_of_the_four() -> None:
    assert geo.neighbours("SH") == ("JS", "ZJ")
    assert geo.neighbours("JS") == ("AH", "SD", "SH", "ZJ")
    assert geo.neighbours("ZJ") == ("AH", "FJ", "JS", "JX", "SH")
    assert geo.neighbours("AH") == ("HE", "HU", "JS", "JX", "SD", "ZJ")
