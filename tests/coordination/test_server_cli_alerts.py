"""``borderwatch alerts`` formatting helpers: the readable line and the GeoJSON export."""

from __future__ import annotations

import math

from server_testkit import make_alert

from borderwatch.cmd_alerts import alerts_to_geojson, ellipse_ring, format_alert_line
from coordination.alerts import Position


def test_alert_line_names_what_where_and_who():
    line = format_alert_line(make_alert("A1").to_json())
    for part in ("OPENED", "major", "[unlicensed,cross_border]", "PMR 400", "446.05000 MHz", "ZJ->JS",
                 "pos unknown", "js-01 40.0 dBuV/m", "id=A1"):
        assert part in line, part


def test_ellipse_ring_has_the_stated_axes():
    ring = ellipse_ring(31.0, 120.0, 10.0, 5.0, 0.0, n=4)
    assert ring[0] == ring[-1] and len(ring) == 5
    north_km = (ring[0][1] - 31.0) * 111.32
    east_km = (ring[1][0] - 120.0) * 111.32 * math.cos(math.radians(31.0))
    assert abs(north_km - 10.0) < 1e-3 and abs(east_km - 5.0) < 1e-3


def test_geojson_has_point_and_region_per_located_alert_and_skips_the_rest():
    pos = Position(30.84, 120.25, 3.0, 2.0, 1.0, 45.0, provinces=(("ZJ", 0.9), ("JS", 0.1)))
    located = make_alert("A1").evolve(position=pos).to_json()
    fc, skipped = alerts_to_geojson([located, make_alert("A2").to_json()])
    assert skipped == 1
    assert [f["geometry"]["type"] for f in fc["features"]] == ["Point", "Polygon"]
    assert fc["features"][0]["geometry"]["coordinates"] == [120.25, 30.84]
    assert fc["features"][0]["properties"]["province_probabilities"] == {"ZJ": 0.9, "JS": 0.1}
