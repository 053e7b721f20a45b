"""Each Numba kernel against its plain numpy twin."""

from __future__ import annotations

import numpy as np
import pytest

from dsp import _kernels


def _cplx(shape, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)


@pytest.mark.parametrize(("nfft", "step", "nseg", "start"), [(64, 32, 10, 0), (100, 37, 7, 5), (16, 16, 1, 3)])
def test_window_segments_matches_numpy(nfft, step, nseg, start):
    x = _cplx(start + step * nseg + nfft)
    win2 = np.repeat(np.hanning(nfft).astype(np.float32), 2)
    out = np.full((nseg + 2, nfft), 99, np.complex64)
    ref = out.copy()
    _kernels.window_segments(x.view(np.float32), start, step, nseg, win2, out.view(np.float32))
    _kernels.window_segments_np(x.view(np.float32), start, step, nseg, win2, ref.view(np.float32))
    np.testing.assert_array_equal(out, ref)
    assert np.all(out[nseg:] == 99)  # rows past nseg untouched
    # and the meaning: row s is x[start + s*step : ... + nfft] * window
    s = nseg - 1
    np.testing.assert_allclose(out[s], x[start + s * step : start + s * step + nfft] * win2[::2], rtol=1e-6)


@pytest.mark.parametrize("detector", [0, 1, 2, 3])
def test_accumulate_power_matches_numpy(detector):
    spec = _cplx((12, 128), seed=detector)
    init = {0: 0.0, 1: -np.inf, 2: np.inf, 3: 0.0}[detector]
    acc = np.full(128, init)
    ref = acc.copy()
    for _ in range(2):  # twice: accumulation continues from the previous state
        _kernels.accumulate_power(spec, 10, acc, detector)
        _kernels.accumulate_power_np(spec, 10, ref, detector)
    np.testing.assert_allclose(acc, ref, rtol=1e-6)


def test_band_power_frames_matches_numpy():
    spec = _cplx((9, 256), seed=4)
    out = np.empty(9)
    _kernels.band_power_frames(spec, 30, 71, out)
    np.testing.assert_allclose(out, _kernels.band_power_frames_np(spec, 30, 71), rtol=1e-6)


@pytest.mark.parametrize("peak", [False, True])
def test_channel_levels_matches_numpy(peak):
    rng = np.random.default_rng(8)
    frames = rng.exponential(1.0, (20, 300))
    lo = np.array([0, 10, 100, 250], np.int64)
    hi = np.array([5, 30, 101, 300], np.int64)
    out = np.empty((20, 4))
    _kernels.channel_levels(frames, lo, hi, peak, out)
    np.testing.assert_allclose(out, _kernels.channel_levels_np(frames, lo, hi, peak), rtol=1e-12)
