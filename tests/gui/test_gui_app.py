"""The console window against a real coordination server (simulated sensor over the real protocol).

The server runs with the scripted FakeEngine of the server tests, so the alert that appears is
exactly the one queued; everything between (ROUTER/PUB sockets, store, API, client worker, frame
batching, widgets) is real.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
import zmq
from gui_testkit import spin, temp_settings
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from server_testkit import T0, FakeEngine, SimSensor, emission, loopback_config, make_alert, power_row

import station_db
from coordination.alerts import AlertEvent, Position
from coordination.client import ApiClient
from coordination.protocol import Occupancy, format_utc
from coordination.server import Server
from coordination.stations import open_stations
from gui.alerts import COLUMNS
from gui.app import MainWindow
from gui.client import ServerClient


@pytest.fixture
def world(qapp, tmp_path):
    repo = open_stations(Path(station_db.__file__).parent / "data" / "sample_stations.csv", tmp_path / "st")
    engine = FakeEngine()
    srv = Server(loopback_config(tmp_path), engine=engine, stations=repo).start()
    ctx = zmq.Context()
    sensor = SimSensor(ctx, srv.endpoints["sensors"])
    sensor.hello()
    client = ServerClient(srv.endpoints["api"], srv.endpoints["pub"], timeout_s=5.0)
    win = MainWindow(client=client, settings=temp_settings(tmp_path / "console.ini"), frame_interval_ms=20,
                     refresh_interval_ms=200, waterfall_rows=50)
    win.resize(1400, 900)
    win.show()
    yield srv, engine, sensor, win, repo
    win.close()
    win.deleteLater()
    sensor.close()
    ctx.destroy(linger=0)
    srv.stop()
    repo.close()


def feed_until(qapp, sensor: SimSensor, pred, start_seq: int = 1, timeout_s: float = 10.0) -> int:
    """Send a sweep every ~20 ms while the UI runs, until pred(); return the next seq."""
    seq = [start_seq]

    def step():
        sensor.send(sensor.spectrum(seq[0]))
        sensor.pump(0)
        seq[0] += 1
        return pred()

    spin(qapp, step, timeout_s, step_s=0.02)
    return seq[0]


def test_live_window_shows_sensor_spectrum_alert_map_and_acks_through_the_ui(qapp, world):
    srv, engine, sensor, win, repo = world
    feed_until(qapp, sensor, lambda: win.spectrum.frames >= 5 and win.waterfall.count >= 5)
    # sensors dock and map: the registered sensor, live
    assert list(win.sensors_view.sensors) == ["js-01"]
    spin(qapp, lambda: win.sensors_view.status_of("js-01") == "live")
    assert [p.data() for p in win.map.sensors_item.points()] == ["js-01"]
    # spectrum: the exact sweep last drawn, on its exact axis
    last = win.spectrum._last
    assert np.array_equal(win.spectrum.curves["current"].getData()[1], power_row(last.seq))
    assert win.spectrum.curves["current"].getData()[0][0] == pytest.approx(446.0)
    assert win.selected_profile == "pmr446" and win.profile_box.currentText() == "pmr446"
    assert np.array_equal(win.waterfall.latest_row(), power_row(win.waterfall.last_seq))
    # every licensed station reached the map, through several pages of the 64 KiB-limited API
    spin(qapp, lambda: len(win.map._stations) == repo.count())

    # an alert with a position: published on the PUB, shown in the table and on the map
    pos = Position(lat=31.1, lon=120.4, error_km=5.0, semi_major_km=3.0, semi_minor_km=1.5, orientation_deg=30.0,
                   provinces=(("ZJ", 0.7), ("JS", 0.3)))
    engine.queued = [AlertEvent("opened", make_alert("A7").evolve(position=pos))]
    sensor.send(sensor.emissions(10_000, [emission(446.05e6, -70.0)]))
    spin(qapp, lambda: "A7" in win.alerts.visible_ids(), 10.0)
    row = win.alerts.visible_ids().index("A7")
    proxy = win.alerts.proxy
    assert proxy.data(proxy.index(row, COLUMNS.index("provinces"))) == "Zhejiang -> Jiangsu"
    assert proxy.data(proxy.index(row, COLUMNS.index("state"))) == "open"
    assert [p.data() for p in win.map.alerts_item.points()] == ["A7"]
    assert len(win.map.region_items["A7"]) == 1

    # clicking the alert on the map selects it everywhere
    win.map.alert_clicked.emit("A7")
    assert win.alerts.selected_id() == "A7" and win.map.selected_alert == "A7"
    assert win.spectrum.highlight_item.getRegion() == pytest.approx((446.046, 446.054))

    # acknowledge through the UI: operator name, button click -> API -> server state and table
    win.alerts.by_edit.setText("Wang")
    QTest.mouseClick(win.alerts.ack_button, Qt.MouseButton.LeftButton)
    with ApiClient(srv.endpoints["api"]) as api:
        spin(qapp, lambda: api.result("alert", {"id": "A7"})["state"] == "acknowledged", 10.0)
        assert api.result("alert", {"id": "A7"})["acknowledged_by"] == "Wang"
    spin(qapp, lambda: win.alerts.model.alert("A7")["state"] == "acknowledged")
    assert proxy.data(proxy.index(win.alerts.visible_ids().index("A7"), COLUMNS.index("state"))) == "acknowledged"
    assert not win.alerts.ack_button.isEnabled() and win.alerts.resolve_button.isEnabled()


def test_occupancy_of_the_selected_sensor_comes_from_the_api(qapp, world):
    _srv, _engine, sensor, win, _repo = world
    feed_until(qapp, sensor, lambda: win.spectrum.frames >= 1)
    fco = np.zeros(16, np.float32)
    fco[4] = 0.75
    for k in range(3):
        sensor.send(Occupancy("js-01", 20_000 + k, format_utc(T0 + timedelta(minutes=k + 1)), profile="pmr446",
                              t_start_utc=format_utc(T0 + timedelta(minutes=k)),
                              t_end_utc=format_utc(T0 + timedelta(minutes=k + 1)), revisits=60, fbo=0.75 / 16,
                              channel_centers_hz=446.00625e6 + 12_500.0 * np.arange(16), fco=fco))
    spin(qapp, lambda: len(win.occupancy.rows) == 3, 10.0)
    assert win.occupancy.image.image[:, 4] == pytest.approx([75.0, 75.0, 75.0])


def test_no_server_says_so_and_keeps_the_window_alive(qapp, tmp_path):
    client = ServerClient("tcp://127.0.0.1:9", "tcp://127.0.0.1:10", timeout_s=0.3)
    win = MainWindow(client=client, settings=temp_settings(tmp_path / "c.ini"), refresh_interval_ms=60_000)
    try:
        spin(qapp, lambda: "No answer" in win.state_label.text(), 5.0)
        assert not win.has_data()
    finally:
        win.close()
        win.deleteLater()
