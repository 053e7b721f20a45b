"""Archive replay: read a server data directory (HDF5 spectra + SQLite) read-only, drive the window by time."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from gui_testkit import ARCHIVE_T0 as T0
from gui_testkit import archive_row as row
from gui_testkit import temp_settings, write_archive

from coordination.protocol import format_utc
from gui.app import MainWindow
from gui.archive import ArchiveError, ArchiveReader


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    return write_archive(tmp_path_factory.mktemp("archive") / "data")


def digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_reader_lists_time_range_spectra_alerts_and_occupancy(data_dir):
    before = digest(data_dir)
    r = ArchiveReader(data_dir)
    assert r.sensor_profiles() == [("js-01", "pmr446")]
    assert r.time_range_s() == (T0.timestamp(), (T0 + timedelta(seconds=119)).timestamp())
    got = r.spectra("js-01", "pmr446", (T0 + timedelta(seconds=50)).timestamp(), 10)
    assert [m.seq for m in got] == list(range(41, 51))
    assert np.array_equal(got[-1].power_dbm, row(50)) and got[-1].noise_floor_dbm == -62.0
    assert got[-1].t_utc == format_utc(T0 + timedelta(seconds=50)) and got[-1].f_step_hz == 3125.0
    assert [a["id"] for a in r.alerts(at_s=(T0 + timedelta(seconds=60)).timestamp())] == ["A1"]
    centers, rows = r.occupancy("js-01", "pmr446", at_s=(T0 + timedelta(seconds=70)).timestamp())
    assert centers.size == 16 and len(rows) == 1 and rows[0]["fbo"] == 0.25
    assert r.sensors()[0] | {"last_seen": None} == {"sensor_id": "js-01", "province": "JS", "lat": 31.3,
                                                     "lon": 120.6, "height_m": 10.0, "last_seen": None,
                                                     "status": "down", "spool_depth": None, "drops": None}
    after = digest(data_dir)  # read-only: no stored byte changes (SQLite may add its empty WAL side files)
    assert {k: after[k] for k in before} == before
    assert set(after) - set(before) <= {"server.db-wal", "server.db-shm"}


def test_window_replays_the_archive_at_the_slider_time(qapp, data_dir, tmp_path):
    w = MainWindow(archive=ArchiveReader(data_dir), settings=temp_settings(tmp_path / "s.ini"), waterfall_rows=100)
    try:
        assert w.selected_sensor == "js-01" and w.selected_profile == "pmr446"
        assert w.waterfall.count == 100  # the latest 100 of 120 sweeps
        assert np.array_equal(w.spectrum.trace_dbm("current"), row(119))
        assert sorted(w.alerts.visible_ids()) == ["A1", "A2"]
        w.archive_bar.set_time((T0 + timedelta(seconds=45)).timestamp())
        assert w.waterfall.count == 46
        assert np.array_equal(w.spectrum.trace_dbm("current"), row(45))
        assert np.array_equal(w.spectrum.trace_dbm("min"), row(0))  # holds over the replayed window
        assert w.alerts.visible_ids() == ["A1"]
        assert len(w.occupancy.rows) == 0
        w.archive_bar.set_time((T0 + timedelta(seconds=61)).timestamp())
        assert len(w.occupancy.rows) == 1
        assert "A1" in w.map.alerts
        w.alerts.select_alert("A1")
        w.alerts.by_edit.setText("li")
        w.alerts.ack_button.click()
        assert "cannot be changed" in w.alerts.status.text()
    finally:
        w.close()
        w.deleteLater()


def test_play_advances_time(qapp, data_dir, tmp_path):
    from gui_testkit import spin

    w = MainWindow(archive=ArchiveReader(data_dir), settings=temp_settings(tmp_path / "s.ini"))
    try:
        bar = w.archive_bar
        bar.speed_box.setCurrentIndex(bar.speed_box.findData(10))
        bar._timer.setInterval(10)
        bar.play_button.setChecked(True)  # at the end: starts again from the beginning
        spin(qapp, lambda: bar.slider.value() >= 30)
        bar.play_button.setChecked(False)
        assert bar.play_button.text() == "Play"
    finally:
        w.close()
        w.deleteLater()


def test_not_a_data_directory(tmp_path):
    with pytest.raises(ArchiveError, match="no such directory"):
        ArchiveReader(tmp_path / "missing")
    with pytest.raises(ArchiveError, match="neither"):
        ArchiveReader(tmp_path)


def test_dock_layout_and_operator_are_remembered_between_runs(qapp, data_dir, tmp_path):
    settings_path = tmp_path / "layout.ini"
    w = MainWindow(archive=ArchiveReader(data_dir), settings=temp_settings(settings_path))
    w.show()
    w.docks["stations"].setVisible(False)
    w.docks["alerts"].setFloating(True)
    w.alerts.by_edit.setText("Chen")
    w.close()  # closeEvent saves
    w.deleteLater()
    w2 = MainWindow(archive=ArchiveReader(data_dir), settings=temp_settings(settings_path))
    try:
        w2.show()
        assert w2.docks["alerts"].isFloating()
        assert not w2.docks["stations"].isVisible() and w2.docks["spectrum"].isVisible()
        assert w2.alerts.by_edit.text() == "Chen"
    finally:
        w2.close()
        w2.deleteLater()


def test_archive_with_a_local_station_database(qapp, data_dir, tmp_path):
    import station_db
    from coordination.stations import open_stations

    repo = open_stations(Path(station_db.__file__).parent / "data" / "sample_stations.csv", tmp_path / "st")
    w = MainWindow(archive=ArchiveReader(data_dir), station_repo=repo, settings=temp_settings(tmp_path / "s.ini"))
    try:
        assert len(w.map._stations) == repo.count()
        w.station_browser.set_query(province="AH", service="aeronautical")
        w.station_browser.search()
        found = w.station_browser.results
        assert found and {(s["province"], s["service"]) for s in found} == {("AH", "aeronautical")}
    finally:
        w.close()
        w.deleteLater()
        repo.close()
