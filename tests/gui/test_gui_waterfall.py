"""Waterfall: ring buffer order, frequency transform, levels, axis changes."""

from __future__ import annotations

import numpy as np
import pytest
from gui_testkit import sweep

from gui.waterfall import WaterfallWidget


@pytest.fixture
def wf(qapp):
    w = WaterfallWidget(rows=8)
    yield w
    w.deleteLater()


def test_rows_are_the_latest_sweeps_oldest_first_after_wrapping(wf):
    sweeps = [sweep(i, np.full(16, -100.0 + i, np.float32), n_bins=16) for i in range(13)]
    wf.add_spectra(sweeps)
    img = wf.image_rows()
    assert img.shape == (8, 16)
    assert list(img[:, 0]) == [-100.0 + i for i in range(5, 13)]
    assert wf.count == 13 and wf.latest_row()[0] == -88.0
    shown = wf.image.image
    assert shown.shape == (8, 16) and np.shares_memory(shown, wf._buf)  # a view, no copy per frame


def test_image_x_axis_is_frequency_in_mhz(wf):
    wf.add_spectrum(sweep(n_bins=16, f_start_hz=100.0e6, f_step_hz=25_000.0))
    tr = wf.image.transform()
    # pixel column k spans [f_k - step/2, f_k + step/2]; its centre maps to f_k
    assert tr.map(0.5, 0.0)[0] == pytest.approx(100.0)
    assert tr.map(15.5, 0.0)[0] == pytest.approx(100.0 + 15 * 0.025)


def test_levels_set_by_value_and_by_data(wf):
    wf.set_levels(-130.0, -50.0)
    assert wf.levels() == (-130.0, -50.0)
    assert (wf.lo_box.value(), wf.hi_box.value()) == (-130.0, -50.0)
    with pytest.raises(ValueError, match="hi > lo"):
        wf.set_levels(-50.0, -60.0)
    rng = np.random.default_rng(1)
    rows = [(-110.0 + rng.standard_normal(64)).astype(np.float32) for _ in range(8)]
    rows[3][5] = -40.0
    wf.add_spectra([sweep(i, r) for i, r in enumerate(rows)])
    wf.auto_levels()
    lo, hi = wf.levels()
    assert -116.0 < lo < -110.0 and hi == pytest.approx(-37.0)
    wf.lo_box.setValue(-120.0)
    assert wf.levels()[0] == -120.0


def test_a_new_axis_restarts_the_waterfall(wf):
    wf.add_spectra([sweep(i, n_bins=16) for i in range(5)])
    wf.add_spectrum(sweep(9, n_bins=32))
    assert wf.count == 1 and wf.image_rows().shape == (8, 32)
    with pytest.raises(ValueError, match="does not match"):
        wf.add_row(np.zeros(16, np.float32))


def test_too_few_rows_is_refused(qapp):
    with pytest.raises(ValueError, match="rows"):
        WaterfallWidget(rows=1)
