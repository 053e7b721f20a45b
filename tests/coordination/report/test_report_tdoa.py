"""The report says per alert what gave its position: received levels, TDOA, or both fused."""

from __future__ import annotations

import json
import re

from report_testkit import PERIOD, alert_docs, build_world

from coordination.alerts import Position
from coordination.report import Period, ReportOptions, build_report, render_html
from coordination.store import Store


def test_alert_rows_and_html_state_the_position_method(tmp_path) -> None:
    world = build_world(tmp_path)
    a4 = next(d for d in alert_docs() if d["id"] == "A4")
    # A5: A4's twin whose evidence holds a TDOA fix 400 m from its level fix, 60 m 95 % region
    fix = tmp_path / "data" / "evidence" / "A5" / "tdoa-A5-1.tdoa.json"
    fix.parent.mkdir(parents=True)
    tdoa = Position(lat=a4["position"]["lat"] + 0.0036, lon=a4["position"]["lon"], error_km=0.06,
                    semi_major_km=0.025, semi_minor_km=0.015, orientation_deg=10.0, kind="ellipse", n_sensors=4,
                    method="tdoa")
    fix.write_text(json.dumps({"round": "tdoa-A5-1", "position": tdoa.to_json(), "reference_sensor": "js-01",
                               "pairs": [], "dropped": []}))
    a5 = a4 | {"id": "A5", "evidence": [str(fix)]}
    store = Store(world.data_dir / "server.db")
    store.alerts.save_alert_json(a5)
    store.commit()
    store.close()
    report = build_report(world.data_dir, ReportOptions(Period.parse(PERIOD), stations=world.stations_csv))
    methods = {r.id: r.position_method for r in report.alerts.rows}
    assert methods["A4"] == "rss" and methods["A5"] == "fused" and methods["A1"] == ""
    row = next(r for r in report.alerts.rows if r.id == "A5")
    assert abs(row.lat - tdoa.lat) < 0.0002  # the fused fix sits at the TDOA one (40x tighter)
    html = render_html(report, "en")
    cells = dict(re.findall(r'<tr class="alert" data-id="(A\d)".*?data-method="(\w*)"', html, re.S))
    assert cells == {"A1": "", "A2": "", "A4": "rss", "A5": "fused"}
    assert "levels + TDOA" in html
    assert "场强 + 到达时间差" in render_html(report, "zh_CN")
