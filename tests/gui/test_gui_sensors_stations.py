"""Sensor list (status from the API and from PUB status) and the station browser (local repository)."""

from __future__ import annotations

from pathlib import Path

import pytest

import station_db
from gui.sensors import SensorsWidget
from gui.stations import StationsWidget, local_search


def test_sensor_rows_and_status_updates(qapp):
    w = SensorsWidget()
    chosen: list[str] = []
    w.sensor_selected.connect(chosen.append)
    w.set_sensors([{"sensor_id": "js-01", "province": "JS", "lat": 31.3, "lon": 120.6, "status": "live",
                    "last_seen": "2026-11-25T12:00:00.000000Z", "spool_depth": 3, "drops": 0},
                   {"sensor_id": "zj-02", "province": "ZJ", "lat": 30.2, "lon": 120.1, "status": "down",
                    "last_seen": None, "spool_depth": None, "drops": None}])
    t = w.table
    assert t.rowCount() == 2
    assert [t.item(0, c).text() for c in range(7)] == ["js-01", "Jiangsu", "31.3000 N 120.6000 E", "live",
                                                       "2026-11-25 12:00:00", "3", "0"]
    assert t.item(1, 3).background().color().name() == "#ff5050"
    w.update_status("zj-02", {"status_code": 1.0, "spool_depth": 120.0, "dropped_samples": 7.0})
    assert w.status_of("zj-02") == "late" and t.item(1, 3).text() == "late" and t.item(1, 5).text() == "120"
    t.selectRow(1)
    assert chosen == ["zj-02"]
    w.set_sensors(list(w.sensors.values()))  # a refresh keeps the selection without re-emitting
    assert w.selected_id() == "zj-02" and chosen == ["zj-02"]


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    from coordination.stations import open_stations

    sample = Path(station_db.__file__).parent / "data" / "sample_stations.csv"
    r = open_stations(sample, tmp_path_factory.mktemp("stations"))
    yield r
    r.close()


def test_browser_query_arguments_follow_the_form(qapp):
    w = StationsWidget()
    assert w.query_args() == {}
    w.set_query(freq_mhz=409.8, span_khz=25.0, province="ZJ", service="land_mobile")
    args = w.query_args()
    assert args["f_lo_hz"] == pytest.approx(409.7875e6) and args["f_hi_hz"] == pytest.approx(409.8125e6)
    assert args["province"] == "ZJ" and args["service"] == "land_mobile"
    asked: list[dict] = []
    w.search_requested.connect(asked.append)
    w.search_button.click()
    assert asked == [args]


def test_local_search_matches_the_repository_and_shows_the_record(qapp, repo):
    all_js = local_search(repo, {"province": "JS"})
    assert all_js and {s["province"] for s in all_js} == {"JS"}
    f = all_js[0]["tx_freq_hz"]
    near = local_search(repo, {"f_lo_hz": f - 1.0, "f_hi_hz": f + 1.0})
    assert all_js[0]["station_id"] in {s["station_id"] for s in near}
    assert all(s["tx_freq_hz"] - s["necessary_bw_hz"] / 2 <= f + 1 for s in near)
    w = StationsWidget()
    w.show_results(near)
    assert w.table.rowCount() == len(near) and w.count_label.text() == f"{len(near)} stations found"
    w.select_row(0)
    assert near[0]["licensee"] in w.record.toPlainText()
