"""The console's coordination tab against a real server: requests waiting for my province, their border plot."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest
from gui_testkit import spin, temp_settings
from server_testkit import FakeEngine, loopback_config

from coordination.client import ApiClient
from coordination.server import Server
from gui.app import MainWindow
from gui.client import ServerClient
from station_db.exchange import station_record
from station_db.models import Station
from station_db.repository import StationRepository
from station_db.rules import load_rules

KUNSHAN_FM = Station(
    station_id="JS-FM-0977", province="JS", licensee="Kunshan FM (fictional)", service="broadcast", tx_freq_hz=104.1e6,
    rx_freq_hz=None, emission_designator="180KF3E", necessary_bw_hz=180e3, erp_dbw=30.0, antenna_height_m=120.0,
    azimuth_deg=None, pattern="omni", ground_height_m=5.0, lat=31.38, lon=120.98, valid_from=date(2026, 1, 1),
    valid_to=date(2035, 12, 31))


@pytest.fixture
def world(qapp, tmp_path):
    repo = StationRepository(tmp_path / "stations.db")
    srv = Server(loopback_config(tmp_path), engine=FakeEngine(), stations=repo, rules=load_rules()).start()
    settings = temp_settings(tmp_path / "console.ini")
    settings.setValue("province", "SH")
    client = ServerClient(srv.endpoints["api"], srv.endpoints["pub"], timeout_s=5.0)
    win = MainWindow(client=client, settings=settings, frame_interval_ms=20, refresh_interval_ms=200)
    win.resize(1400, 900)
    win.show()
    yield srv, win
    win.close()
    win.deleteLater()
    srv.stop()
    repo.close()


def test_waiting_requests_and_their_border_plot(qapp, world) -> None:
    srv, win = world
    tab = win.coordination
    assert tab.province == "SH" and tab.table.rowCount() == 0
    with ApiClient(srv.endpoints["api"]) as api:
        req = api.result("coord_submit", {"station": station_record(KUNSHAN_FM), "by": "js-planner"})
    sh = next(b for b in req["borders"] if b["neighbour"] == "SH")
    assert "SH" in req["waiting_for"]
    spin(qapp, lambda: tab.table.rowCount() == 1, timeout_s=10.0)
    assert tab.table.item(0, 0).text() == req["id"]
    assert tab.table.item(0, 4).text() == f"{sh['worst_field_dbuv_m']:.1f}"
    tab.table.selectRow(0)
    spin(qapp, lambda: tab.shown_request == req["id"], timeout_s=10.0)
    x, y = tab.field_curve.getData()
    assert len(x) == sh["n_points"] and float(np.max(y)) == pytest.approx(sh["worst_field_dbuv_m"], abs=0.01)
    assert tab.limit_line.value() == pytest.approx(34.0)  # the FM band's trigger value
    # ZJ: another province's view lists only what waits for ZJ's answer
    tab.province_box.setCurrentIndex(2)
    assert tab.province == "ZJ" and tab.shown_request is None
    spin(qapp, lambda: tab.table.rowCount() == (1 if "ZJ" in req["waiting_for"] else 0), timeout_s=10.0)
