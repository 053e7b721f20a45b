"""The time-difference kernels against their numpy twins."""

from __future__ import annotations

import numpy as np

from dsp import _tdoa_kernels as k


def test_resample_at_matches_numpy():
    rng = np.random.default_rng(3)
    x = rng.standard_normal(300) + 1j * rng.standard_normal(300)
    pos = np.concatenate([rng.uniform(-5, 305, 200), [0.0, 17.0, 299.0]])
    out = np.empty(pos.size, np.complex128)
    k.resample_at(x, pos, k.SINC_HALF_TAPS, out)
    np.testing.assert_allclose(out, k.resample_at_np(x, pos), rtol=1e-10, atol=1e-12)
    # on the grid the interpolator returns the sample itself
    np.testing.assert_allclose(out[-3:], x[[0, 17, 299]], rtol=1e-12)


def test_spectrum_derivs_matches_numpy_and_finite_differences():
    rng = np.random.default_rng(4)
    c = rng.standard_normal(64) + 1j * rng.standard_normal(64)
    omega = 2 * np.pi * np.fft.fftfreq(64)
    got = k.spectrum_derivs(c, omega, 0.3)
    ref = k.spectrum_derivs_np(c, omega, 0.3)
    np.testing.assert_allclose(np.array(got), np.array(ref), rtol=1e-10)
    h = 1e-5
    fd = (k.spectrum_derivs_np(c, omega, 0.3 + h)[0] - k.spectrum_derivs_np(c, omega, 0.3 - h)[0]) / (2 * h)
    assert abs(fd - got[1]) < 1e-6 * abs(got[1]) + 1e-9
