"""The map shows an alert's TDOA fix and, selected, the hyperbola of each sensor pair.

The branches' geometry is station_db.hyperbolas' (tests/station_db/test_station_hyperbolas.py)."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
import pytest
from gui_testkit import shown

from gui.map import MapWidget
from station_db.hyperbolas import tdoa_hyperbolas

S0, S1, S2 = (31.15, 121.12), (31.385, 120.98), (30.83, 120.92)
TRUTH = (31.08, 120.95)


def _dist_m(a: tuple[float, float], lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    r = 6371008.8
    p1, p2 = np.radians(a[0]), np.radians(lat)
    dp, dl = p2 - p1, np.radians(lon - a[1])
    h = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * r * np.arcsin(np.sqrt(h))


def _rd(other: tuple[float, float]) -> float:
    return float(_dist_m(other, np.array(TRUTH[0]), np.array(TRUTH[1])) - _dist_m(S0, np.array(TRUTH[0]),
                                                                                    np.array(TRUTH[1])))


def _alert(selected_pairs: int = 2) -> dict:
    tdoa = {"reference_sensor": "SH-QINGPU", "position": {"lat": TRUTH[0], "lon": TRUTH[1]},
            "sensors": [{"sensor_id": "SH-QINGPU", "lat": S0[0], "lon": S0[1]},
                        {"sensor_id": "JS-KUNSHAN", "lat": S1[0], "lon": S1[1]},
                        {"sensor_id": "ZJ-JIASHAN", "lat": S2[0], "lon": S2[1]}],
            "pairs": [{"sensor_id": "JS-KUNSHAN", "range_diff_m": _rd(S1)},
                      {"sensor_id": "ZJ-JIASHAN", "range_diff_m": _rd(S2)}][:selected_pairs]}
    pos = {"lat": TRUTH[0], "lon": TRUTH[1], "error_km": 0.2, "semi_major_km": 0.08, "semi_minor_km": 0.05,
           "orientation_deg": 20.0, "kind": "ellipse", "method": "fused"}
    return {"id": "T1", "state": "open", "severity": "major", "position": pos, "tdoa": tdoa}


def test_map_draws_the_fix_and_the_selected_alerts_hyperbolas(qapp) -> None:
    assert len(tdoa_hyperbolas(_alert()["tdoa"])) == 2
    with shown(MapWidget(), 800, 700) as w:
        w.set_alerts([_alert()])
        items = w.region_items["T1"]
        crosses = [i for i in items if isinstance(i, pg.ScatterPlotItem)]
        assert len(crosses) == 1 and crosses[0].points()[0].pos().x() == pytest.approx(TRUTH[1])
        assert len(items) == 2  # the region and the fix; no hyperbolas until selected
        w.select_alert("T1")
        curves = [i for i in w.region_items["T1"] if isinstance(i, pg.PlotCurveItem)]
        assert len(curves) == 3  # the region and one branch per pair
        for c in curves[1:]:
            x, y = c.getData()
            d_km = np.hypot((x - TRUTH[1]) * 111.2 * math.cos(math.radians(31.1)), (y - TRUTH[0]) * 111.2)
            assert d_km.min() < 0.5  # each branch passes by the fix
