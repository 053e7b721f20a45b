"""DC-spike removal, hop planning and stitching with rtl_power crop semantics."""

from __future__ import annotations

import numpy as np
import pytest

import dsp
from dsp.welch import psd_frequencies

FS_HZ = 2.4e6


def test_dc_spike_replaced_by_line_between_neighbours():
    p = np.ones(16)
    p[7:10] = [50.0, 1000.0, 60.0]  # centre is index 8
    p[6], p[10] = 2.0, 6.0
    out = dsp.remove_dc_spike(p, bins=3)
    np.testing.assert_allclose(out[7:10], [3.0, 4.0, 5.0])
    np.testing.assert_array_equal(out[:7], p[:7])
    np.testing.assert_array_equal(out[10:], p[10:])
    assert p[8] == 1000.0  # input untouched


def test_dc_spike_bins_configurable_and_2d():
    p = np.tile(np.arange(32, dtype=float), (3, 1))
    p[:, 16] = 1e6
    out = dsp.remove_dc_spike(p, bins=1)
    np.testing.assert_allclose(out[:, 16], 16.0)
    out5 = dsp.remove_dc_spike(p, bins=5)
    np.testing.assert_allclose(out5, np.tile(np.arange(32.0), (3, 1)))
    np.testing.assert_array_equal(dsp.remove_dc_spike(p, bins=0), p)


def test_plan_hops_covers_band_with_kept_bandwidth_step():
    centers = dsp.plan_hops(100e6, 110e6, FS_HZ, 0.25)
    step = FS_HZ * 0.75
    assert len(centers) == int(np.ceil(10e6 / step))  # 6 hops
    np.testing.assert_allclose(np.diff(centers), step)
    assert centers[0] - step / 2 == pytest.approx(100e6)
    assert centers[-1] + step / 2 >= 110e6


@pytest.mark.parametrize(("nfft", "crop"), [(1024, 0.25), (512, 0.5), (256, 0.0), (1000, 0.2)])
def test_stitched_axis_is_exact_and_contiguous(nfft, crop):
    centers = dsp.plan_hops(433.05e6, 434.79e6, FS_HZ, crop, nfft=nfft)
    offsets = psd_frequencies(FS_HZ, nfft)
    bin_hz = FS_HZ / nfft
    # power encodes the absolute frequency, so we can check each kept bin came from the right place
    hops = [(c, offsets, c + offsets) for c in centers]
    f, p = dsp.stitch_hops(hops, crop)
    c_bins = round(nfft * crop / 2)
    kept = nfft - 2 * c_bins
    assert f.size == len(centers) * kept
    np.testing.assert_allclose(np.diff(f), bin_hz, rtol=1e-12)
    assert f[0] == centers[0] + offsets[c_bins]
    np.testing.assert_allclose(p, f, rtol=0, atol=1e-6)  # every bin's power sits at its own frequency
    assert f[0] <= 433.05e6 + bin_hz and f[-1] >= 434.79e6 - bin_hz


def test_stitch_crops_rtl_power_style_half_at_each_edge():
    nfft, crop = 64, 0.25  # 8 bins cut at each edge
    offsets = psd_frequencies(FS_HZ, nfft)
    power = np.arange(nfft, dtype=float)
    f, p = dsp.stitch_hops([(100e6, offsets, power)], crop)
    np.testing.assert_array_equal(p, power[8:56])
    np.testing.assert_allclose(f, 100e6 + offsets[8:56])


def test_stitch_sorts_hops_and_splits_overlap_in_the_middle():
    nfft = 32
    offsets = psd_frequencies(FS_HZ, nfft)
    bin_hz = FS_HZ / nfft
    c0, c1 = 100e6, 100e6 + 28 * bin_hz  # 4 bins of overlap with no crop
    f, p = dsp.stitch_hops([(c1, offsets, np.full(nfft, 2.0)), (c0, offsets, np.full(nfft, 1.0))], 0.0)
    assert f.size == 60
    np.testing.assert_allclose(np.diff(f), bin_hz, rtol=1e-12)
    assert (p == 1.0).sum() == 30 and (p == 2.0).sum() == 30


def test_stitch_gap_raises():
    offsets = psd_frequencies(FS_HZ, 64)
    with pytest.raises(ValueError, match="gap"):
        dsp.stitch_hops([(100e6, offsets, np.ones(64)), (103e6, offsets, np.ones(64))], 0.0)


def test_stitch_off_grid_raises():
    offsets = psd_frequencies(FS_HZ, 64)
    with pytest.raises(ValueError, match="off the bin grid"):
        dsp.stitch_hops([(100e6, offsets, np.ones(64)), (100e6 + 1.5e6 + 10e3, offsets, np.ones(64))], 0.0)
