"""Map: province outlines from station_db, sensors, stations by band, alerts with uncertainty regions."""

from __future__ import annotations

import numpy as np
import pytest
from gui_testkit import shown, spin
from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest

from gui.map import MapWidget, province_rings
from gui.occupancy import BandChoice
from station_db.geo import default_boundaries
from station_db.regions import KM_PER_DEG_LAT


def alert(aid: str, lat: float, lon: float, state: str = "open", **pos) -> dict:
    position = {"lat": lat, "lon": lon, "error_km": 4.0, "semi_major_km": 3.0, "semi_minor_km": 1.0,
                "orientation_deg": 90.0, "provinces": {"ZJ": 0.8, "JS": 0.2}, "kind": "ellipse"} | pos
    return {"id": aid, "state": state, "severity": "major", "position": position}


@pytest.fixture
def map_widget(qapp):
    with shown(MapWidget(), 800, 700) as w:
        yield w


def test_the_four_provinces_are_outlined_labelled_and_framed(map_widget):
    rings = province_rings(default_boundaries())
    assert {"SH", "JS", "ZJ", "AH"} <= set(rings)
    assert len(map_widget.province_items) == sum(len(r) for r in rings.values())
    assert {c: t.textItem.toPlainText() for c, t in map_widget.province_labels.items()} == {
        "SH": "Shanghai", "JS": "Jiangsu", "ZJ": "Zhejiang", "AH": "Anhui"}
    (x0, x1), (y0, y1) = map_widget.plot.getPlotItem().vb.viewRange()
    assert x0 < 115.0 and x1 > 122.0 and y0 < 27.5 and y1 > 34.5  # the member provinces' box
    assert x1 - x0 < 20.0  # and not the whole country


def test_sensors_drawn_at_their_positions_coloured_by_status(map_widget):
    map_widget.set_sensors([{"sensor_id": "js-01", "lat": 31.3, "lon": 120.6, "status": "live"},
                            {"sensor_id": "zj-02", "lat": 30.2, "lon": 120.1, "status": "down"}])
    pts = map_widget.sensors_item.points()
    assert [(p.pos().x(), p.pos().y(), p.data()) for p in pts] == [(120.6, 31.3, "js-01"), (120.1, 30.2, "zj-02")]
    assert pts[0].brush().color().name() == "#40e080" and pts[1].brush().color().name() == "#ff5050"
    assert [t.textItem.toPlainText() for t in map_widget.sensor_labels] == ["js-01", "zj-02"]


def test_stations_filtered_by_band(map_widget):
    map_widget.set_bands([BandChoice("PMR 400", 409.75e6, 410.0e6), BandChoice("FM", 87.5e6, 108e6)])
    stations = [{"station_id": f"s{k}", "lat": 30.0 + k * 0.1, "lon": 120.0, "tx_freq_hz": f}
                for k, f in enumerate([409.8e6, 409.9e6, 98.1e6, 160e6])]
    map_widget.set_stations(stations)
    assert len(map_widget.stations_item.points()) == 4
    map_widget.select_band("PMR 400")
    assert [p.data() for p in map_widget.stations_item.points()] == ["s0", "s1"]
    assert map_widget.info.text() == "2 stations shown"
    map_widget.select_band("FM")
    assert [p.data() for p in map_widget.stations_item.points()] == ["s2"]


def test_open_alerts_drawn_with_regions_resolved_and_unlocated_ones_not(map_widget):
    map_widget.set_alerts([alert("A1", 30.5, 120.5), alert("A2", 31.0, 119.0, state="resolved"),
                           {"id": "A3", "state": "open", "position": None},
                           alert("A4", 31.2, 121.0, kind="annulus", r_inner_km=5.0, r_outer_km=15.0)])
    assert sorted(map_widget.alerts) == ["A1", "A4"]
    assert [p.data() for p in map_widget.alerts_item.points()] == ["A1", "A4"]
    assert len(map_widget.region_items["A1"]) == 1 and len(map_widget.region_items["A4"]) == 2
    _x, y = map_widget.region_items["A4"][1].getData()  # outer circle of the annulus
    assert (np.max(y) - 31.2) * KM_PER_DEG_LAT == pytest.approx(15.0, rel=1e-3)


def test_clicking_an_alert_emits_its_id_and_selecting_zooms_to_it(qapp, map_widget):
    map_widget.set_alerts([alert("A1", 30.5, 120.5), alert("A9", 31.5, 118.0)])
    got: list[str] = []
    map_widget.alert_clicked.connect(got.append)
    qapp.processEvents()
    vb = map_widget.plot.getPlotItem().vb
    scene_pt = vb.mapViewToScene(QPointF(118.0, 31.5))
    view_pt = map_widget.plot.mapFromScene(scene_pt)
    QTest.mouseClick(map_widget.plot.viewport(), Qt.MouseButton.LeftButton, pos=view_pt)
    spin(qapp, lambda: got)
    assert got == ["A9"]
    map_widget.select_alert("A9")
    (x0, x1), (y0, y1) = vb.viewRange()
    assert x0 < 118.0 < x1 and y0 < 31.5 < y1 and (y1 - y0) < 1.0
    sel = next(p for p in map_widget.alerts_item.points() if p.data() == "A9")
    assert sel.size() == 22
