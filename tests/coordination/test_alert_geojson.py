"""Alerts as GeoJSON: one feature per alert (null geometry when not located), its region as a Polygon."""

from __future__ import annotations

import itertools
import json
import math

import pytest
from server_testkit import make_alert

from coordination.alert_geojson import alerts_feature_collection, located_count, region_polygon
from coordination.alerts import Position
from station_db.regions import KM_PER_DEG_LAT, KM_PER_DEG_LON_EQ


def _signed_area(ring):
    return 0.5 * sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in itertools.pairwise(ring))


def test_located_alert_has_its_point_and_its_region_unlocated_one_a_null_geometry():
    pos = Position(30.84, 120.25, 7.3, 3.0, 1.0, 45.0, provinces=(("ZJ", 0.9), ("JS", 0.1)), n_sensors=4)
    docs = [make_alert("A1").evolve(position=pos).to_json(), make_alert("A2").to_json()]
    fc = alerts_feature_collection(docs, name="alerts", extra={"A2": {"time_to_ack_s": 60.0}})
    assert fc["type"] == "FeatureCollection" and fc["name"] == "alerts"
    assert [(f["id"], f["geometry"] and f["geometry"]["type"]) for f in fc["features"]] == [
        ("A1", "Point"), ("A1#region", "Polygon"), ("A2", None)]
    a1, region, a2 = fc["features"]
    assert a1["geometry"]["coordinates"] == [120.25, 30.84]
    assert a1["properties"]["province_probabilities"] == {"ZJ": 0.9, "JS": 0.1}
    assert a1["properties"]["error_km"] == 7.3 and a1["properties"]["position_kind"] == "ellipse"
    assert region["properties"]["feature"] == "uncertainty_region" and a1["properties"]["feature"] == "position"
    assert a2["properties"]["time_to_ack_s"] == 60.0 and a2["properties"]["sensors"] == ["js-01"]
    assert located_count(fc) == (2, 1)
    json.dumps(fc, allow_nan=False)  # plain JSON, nothing a map tool cannot read


def test_region_is_the_one_sigma_ellipse_counter_clockwise_in_the_localisers_frame():
    poly = region_polygon({"lat": 31.0, "lon": 120.0, "semi_major_km": 10.0, "semi_minor_km": 5.0,
                           "orientation_deg": 0.0, "kind": "ellipse"})
    (ring,) = poly["coordinates"]
    assert ring[0] == ring[-1] and _signed_area(ring) > 0  # RFC 7946: exterior rings counter-clockwise
    north_km = (max(lat for _, lat in ring) - 31.0) * KM_PER_DEG_LAT
    east_km = (max(lon for lon, _ in ring) - 120.0) * KM_PER_DEG_LON_EQ * math.cos(math.radians(31.0))
    assert north_km == pytest.approx(10.0, abs=2e-3) and east_km == pytest.approx(5.0, abs=2e-3)


def test_single_sensor_annulus_is_a_polygon_with_a_clockwise_hole():
    poly = region_polygon({"lat": 31.0, "lon": 120.0, "semi_major_km": 15.0, "semi_minor_km": 15.0,
                           "orientation_deg": 0.0, "kind": "annulus", "r_inner_km": 5.0, "r_outer_km": 15.0})
    outer, hole = poly["coordinates"]
    assert _signed_area(outer) > 0 > _signed_area(hole)
    assert (max(lat for _, lat in outer) - 31.0) * KM_PER_DEG_LAT == pytest.approx(15.0, abs=2e-3)
    assert (max(lat for _, lat in hole) - 31.0) * KM_PER_DEG_LAT == pytest.approx(5.0, abs=2e-3)


def test_a_position_without_axes_is_a_point_without_region():
    fc = alerts_feature_collection([{"id": "A3", "position": {"lat": 31.0, "lon": 121.0, "error_km": 2.0}}])
    assert [f["geometry"]["type"] for f in fc["features"]] == ["Point"]
    assert region_polygon(None) is None
