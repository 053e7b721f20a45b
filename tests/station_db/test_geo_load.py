"""Loading users' own boundary files (official GCJ-02 data included) and the GCJ-02 transform."""

from __future__ import annotations

import json
import logging
import os
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from station_db import geo
from station_db.gcj02 import gcj02_to_wgs84, wgs84_to_gcj02


def _shipped() -> dict:
    return json.loads(resources.files("station_db").joinpath("data", "provinces.geojson").read_text("utf-8"))


def _map_coords(data: dict, fn) -> dict:
    for feat in data["features"]:
        polys = feat["geometry"]["coordinates"]
        for poly in polys:
            for k, ring in enumerate(poly):
                r = np.asarray(ring)
                lat, lon = fn(r[:, 1], r[:, 0])
                poly[k] = np.column_stack([lon, lat]).tolist()
    return data


# ------------------------------------------------------------------------------------------ GCJ-02
def test_gcj02_forward_matches_published_reference() -> None:
    # Reference pair from the widely used eviltransform test suite (Beijing).
    assert wgs84_to_gcj02(39.915, 116.404) == pytest.approx((39.91640428150164, 116.41024449916938), abs=1e-12)


def test_gcj02_offset_near_shanghai_is_about_half_a_kilometre() -> None:
    glat, glon = wgs84_to_gcj02(31.23, 121.47)
    assert 0.3 < geo.haversine_km(31.23, 121.47, glat, glon) < 0.7  # 0.48 km


def test_gcj02_round_trip_within_a_millimetre_over_china() -> None:
    lat, lon = np.meshgrid(np.linspace(18.5, 53.0, 60), np.linspace(74.0, 134.0, 60))
    glat, glon = wgs84_to_gcj02(lat, lon)
    back_lat, back_lon = gcj02_to_wgs84(glat, glon)
    err_km = geo.haversine_km(lat, lon, back_lat, back_lon)
    assert err_km.max() < 1e-6  # 1 mm (the brief asks for 1 m)
    assert geo.haversine_km(lat, lon, glat, glon).min() > 0.05  # the offset is really there


def test_gcj02_is_identity_outside_china() -> None:
    assert wgs84_to_gcj02(51.5, -0.12) == (51.5, -0.12)
    assert gcj02_to_wgs84(-33.9, 151.2) == (-33.9, 151.2)


# ------------------------------------------------------------------------------- user boundary files
def test_gcj02_file_is_converted_back_to_wgs84(tmp_path: Path) -> None:
    path = tmp_path / "official_gcj02.geojson"
    path.write_text(json.dumps(_map_coords(_shipped(), wgs84_to_gcj02)), encoding="utf-8")
    converted = geo.load_boundaries(path, crs="gcj02")
    as_if_wgs = geo.load_boundaries(path)  # the mistake the crs option prevents
    shipped = geo.load_boundaries()
    lat, lon = 31.30, 121.20
    d_ok, p_ok = converted.distance_to_border_km(lat, lon, "JS")
    d_ref, p_ref = shipped.distance_to_border_km(lat, lon, "JS")
    assert d_ok == pytest.approx(d_ref, abs=0.001)
    assert geo.haversine_km(*p_ok, *p_ref) < 0.001
    d_bad, _ = as_if_wgs.distance_to_border_km(lat, lon, "JS")
    assert 0.1 < abs(d_bad - d_ref) < 0.7  # unconverted GCJ-02 moves the line by ~0.5 km
    assert converted.border_length_km("SH", "ZJ") == pytest.approx(shipped.border_length_km("SH", "ZJ"), rel=1e-4)


def test_official_style_properties_are_recognised(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    data = _shipped()
    keep = {"SH": (310000, "上海市"), "JS": (320000, "江苏省"), "ZJ": (330000, "浙江省")}
    feats = []
    for f in data["features"]:
        code = f["properties"]["code"]
        if code in keep:
            feats.append({"type": "Feature", "properties": {"adcode": keep[code][0], "name": keep[code][1]},
                          "geometry": f["geometry"]})
    feats.append({"type": "Feature", "properties": {"adcode": "100000_JD", "name": ""},
                  "geometry": {"type": "MultiPolygon", "coordinates": [[[[122, 20], [122.1, 20], [122.1, 20.1]]]]}})
    path = tmp_path / "official.json"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats}, ensure_ascii=False), "utf-8")
    with caplog.at_level(logging.WARNING, logger="station_db._boundaries"):
        bnd = geo.load_boundaries(path)
    assert bnd.codes == ("JS", "SH", "ZJ")
    assert "feature 3" in caplog.text  # the nine-dash-line feature was skipped, with a warning
    assert bnd.province_of(31.385, 120.98) == "JS"
    assert bnd.province_of(31.67, 118.51) is None  # Anhui is not in this file
    assert bnd.neighbours("SH") == ("JS", "ZJ")


def test_code_property_option(tmp_path: Path) -> None:
    data = _shipped()
    for f in data["features"]:
        f["properties"] = {"PROV_ID": f["properties"]["code"]}
    path = tmp_path / "custom.geojson"
    path.write_text(json.dumps(data), "utf-8")
    bnd = geo.load_boundaries(path, code_property="PROV_ID")
    assert len(bnd.codes) == 31 and bnd.province_of(30.83, 120.92) == "ZJ"


def test_load_is_cached_until_the_file_changes(tmp_path: Path) -> None:
    path = tmp_path / "b.geojson"
    path.write_text(json.dumps(_shipped()), "utf-8")
    first = geo.load_boundaries(path)
    assert geo.load_boundaries(path) is first
    assert geo.load_boundaries() is geo.load_boundaries()
    os.utime(path, ns=(1, 1))
    assert geo.load_boundaries(path) is not first


def test_set_default_boundaries_redirects_module_functions(tmp_path: Path) -> None:
    data = _shipped()
    data["features"] = [f for f in data["features"] if f["properties"]["code"] in ("SH", "JS")]
    path = tmp_path / "two.geojson"
    path.write_text(json.dumps(data), "utf-8")
    try:
        geo.set_default_boundaries(geo.load_boundaries(path))
        assert geo.province_of(30.83, 120.92) is None  # Zhejiang absent from the user's file
        assert geo.neighbours("SH") == ("JS",)
    finally:
        geo.set_default_boundaries(None)
    assert geo.province_of(30.83, 120.92) == "ZJ"


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ('{"type": "FeatureCollection", "features": [\n  {,}]}', r"bad\.geojson: not valid JSON \(line 2, column 4"),
        ('{"type": "Topology"}', "expected a GeoJSON FeatureCollection or Feature"),
        ('{"type": "FeatureCollection", "features": []}', "no feature names a known province"),
        ('{"type": "Feature", "properties": {"code": "SH"}, "geometry": {"type": "Point", "coordinates": [121, 31]}}',
         r"feature 0 \(SH\): geometry.type is 'Point'"),
        ('{"type": "Feature", "properties": {"code": "SH"}, "geometry": {"type": "Polygon",'
         ' "coordinates": [[[121, 31], [121.1, 31], [121, 31]]]}}', "polygon 0 ring 0: fewer than 3 distinct"),
        ('{"type": "Feature", "properties": {"code": "SH"}, "geometry": {"type": "Polygon",'
         ' "coordinates": [[[31, 121], [31.1, 121], [31.1, 121.1], [31, 121]]]}}', r"out of range .*\[lon, lat\]"),
        ('{"type": "Feature", "properties": {"code": "SH"}, "geometry": {"type": "Polygon",'
         ' "coordinates": [[[121, 31], ["x", 31], [121.1, 31.1], [121, 31]]]}}', "coordinates are not numbers"),
    ],
    ids=["json", "type", "empty", "point", "degenerate", "swapped", "text"],
)
def test_bad_boundary_files_name_file_feature_and_field(tmp_path: Path, content: str, match: str) -> None:
    path = tmp_path / "bad.geojson"
    path.write_text(content, "utf-8")
    with pytest.raises(geo.BoundaryFileError, match=match):
        geo.load_boundaries(path)


def test_missing_file_and_unknown_crs(tmp_path: Path) -> None:
    with pytest.raises(geo.BoundaryFileError, match=r"nope\.geojson: cannot read"):
        geo.load_boundaries(tmp_path / "nope.geojson")
    path = tmp_path / "b.geojson"
    path.write_text(json.dumps(_shipped()), "utf-8")
    with pytest.raises(geo.BoundaryFileError, match="crs must be one of"):
        geo.load_boundaries(path, crs="bd09")
