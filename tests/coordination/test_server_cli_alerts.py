"""``borderwatch alerts`` formatting: the readable line (the GeoJSON export: test_alert_geojson.py)."""

from __future__ import annotations

from server_testkit import make_alert

from borderwatch.cmd_alerts import format_alert_line


def test_alert_line_names_what_where_and_who():
    line = format_alert_line(make_alert("A1").to_json())
    for part in ("OPENED", "major", "[unlicensed,cross_border]", "PMR 400", "446.05000 MHz", "ZJ->JS",
                 "pos unknown", "js-01 40.0 dBuV/m", "id=A1"):
        assert part in line, part
