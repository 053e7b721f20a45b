"""Live spectrum widget: traces, holds, average, units, floor/threshold, markers, station spans."""

from __future__ import annotations

import numpy as np
import pytest
from gui_testkit import sweep

from gui.spectrum import MAX_STATION_SPANS, SpectrumWidget, StationSpan


@pytest.fixture
def widget(qapp):
    w = SpectrumWidget(average_frames=4)
    w.resize(800, 400)
    yield w
    w.deleteLater()


def test_current_trace_is_the_last_sweep_on_its_exact_axis(widget):
    p = np.linspace(-120, -60, 64).astype(np.float32)
    widget.set_spectrum(sweep(power=p, f_start_hz=446.0e6, f_step_hz=3125.0))
    x, y = widget.curves["current"].getData()
    assert np.allclose(x, (446.0e6 + 3125.0 * np.arange(64)) / 1e6)
    assert np.array_equal(y, p)


def test_max_and_min_hold_are_elementwise_extremes_and_reset(widget):
    rows = [np.full(64, v, np.float32) for v in (-100.0, -90.0, -110.0)]
    rows[1][10] = -40.0
    widget.set_spectra([sweep(i, r) for i, r in enumerate(rows)])
    assert widget.trace_dbm("max")[10] == -40.0
    assert widget.trace_dbm("max")[0] == -90.0
    assert widget.trace_dbm("min")[0] == -110.0
    widget.reset_holds()
    assert np.all(widget.trace_dbm("max") == -110.0) and np.all(widget.trace_dbm("min") == -110.0)


def test_average_is_running_mean_then_exponential_over_average_frames(widget):
    vals = [-100.0, -96.0, -98.0, -102.0]  # first 4 frames (average_frames=4): plain mean = -99
    widget.set_spectra([sweep(i, np.full(64, v, np.float32)) for i, v in enumerate(vals)])
    assert widget.trace_dbm("average")[0] == pytest.approx(-99.0, abs=1e-4)
    widget.set_spectrum(sweep(9, np.full(64, -91.0, np.float32)))  # then alpha = 1/4
    assert widget.trace_dbm("average")[0] == pytest.approx(-99.0 + (-91.0 + 99.0) / 4, abs=1e-4)


def test_field_strength_unit_adds_107_db_and_the_antenna_factor(widget):
    widget.set_spectrum(sweep(power=np.full(64, -80.0, np.float32), af_db_m=12.0, floor_dbm=-112.0,
                              threshold_dbm=-106.0))
    widget.set_unit("dBuV/m")
    _, y = widget.curves["current"].getData()
    assert np.allclose(y, -80.0 + 107.0 + 12.0)
    assert widget.floor_line.value() == pytest.approx(-112.0 + 119.0)
    assert widget.threshold_line.value() == pytest.approx(-106.0 + 119.0)
    widget.set_unit("dBm")
    assert np.allclose(widget.curves["max"].getData()[1], -80.0)
    with pytest.raises(ValueError, match="unit"):
        widget.set_unit("W")


def test_floor_and_threshold_lines_follow_the_sweep(widget):
    widget.set_spectrum(sweep(floor_dbm=-115.5, threshold_dbm=-105.5))
    assert widget.floor_line.isVisible() and widget.floor_line.value() == pytest.approx(-115.5)
    assert widget.threshold_line.value() == pytest.approx(-105.5)


def test_marker_reads_the_level_of_the_bin_at_its_frequency(widget):
    p = np.full(64, -110.0, np.float32)
    p[16] = -55.5
    widget.set_spectrum(sweep(power=p))
    widget.add_marker(446.0e6 + 16 * 3125.0 + 1000.0)  # inside bin 16
    widget.add_marker(447.0e6)  # outside the sweep
    (f1, l1), (_f2, l2) = widget.marker_readouts()
    assert f1 == pytest.approx(446.0e6 + 16 * 3125.0 + 1000.0)
    assert l1 == pytest.approx(-55.5) and l2 is None
    assert "M1: 446.05100 MHz  -55.5" in widget.readout.text()
    widget.clear_markers()
    assert widget.marker_readouts() == []


def test_station_spans_drawn_only_inside_the_sweep_and_bounded(widget):
    widget.set_spectrum(sweep())
    inside = StationSpan(446.05e6 - 6250, 446.05e6 + 6250, "ZJ-PMR-1")
    outside = StationSpan(460e6, 460.0125e6, "far")
    widget.set_stations([inside, outside])
    items = widget.station_items()
    assert len(items) == 1
    lo, hi = items[0].getRegion()
    assert (lo, hi) == pytest.approx((446.04375, 446.05625))
    many = [StationSpan(446.0e6 + k * 100.0, 446.0e6 + k * 100.0 + 50.0, f"s{k}") for k in range(400)]
    widget.set_stations(many)
    assert len(widget.station_items()) == MAX_STATION_SPANS


def test_new_frequency_axis_restarts_the_holds(widget):
    widget.set_spectrum(sweep(power=np.full(64, -50.0, np.float32)))
    widget.set_spectrum(sweep(power=np.full(128, -100.0, np.float32), n_bins=128, f_start_hz=440e6))
    assert widget.trace_dbm("max").size == 128 and np.all(widget.trace_dbm("max") == -100.0)
    assert widget.frames == 1


def test_station_names_shown_only_when_few_enough_are_in_view(qapp, widget):
    widget.set_spectrum(sweep(n_bins=64))  # 446.0 .. 446.197 MHz
    spans = [StationSpan(446.0e6 + k * 5000.0, 446.0e6 + k * 5000.0 + 2000.0, f"S{k}") for k in range(40)]
    widget.set_stations(spans)
    widget.plot.setXRange(446.0, 446.2, padding=0)
    assert widget.station_labels_shown() == []  # 40 in view: unreadable, only the spans
    widget.plot.setXRange(446.0, 446.022, padding=0)
    qapp.processEvents()
    assert widget.station_labels_shown() == ["S0", "S1", "S2", "S3", "S4"]
    assert widget.station_items()[0].toolTip() == "S0"


def test_unknown_threshold_hides_its_line(widget):
    widget.set_spectrum(sweep(floor_dbm=-115.0, threshold_dbm=float("nan")))  # e.g. an archive without it
    assert widget.floor_line.isVisible() and not widget.threshold_line.isVisible()
    widget.set_spectrum(sweep(1, floor_dbm=-115.0, threshold_dbm=-105.0))
    assert widget.threshold_line.isVisible() and widget.threshold_line.value() == pytest.approx(-105.0)
