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


def test_resample_at_by_angle_addition_equals_the_direct_formula_to_1e_13():
    # The kernel turns its taps' sines and window cosines by angle addition; the numpy twin calls the
    # trigonometry per tap. Points next to whole samples (frac ~ 1e-9 and 1 - 1e-9) are where a sine of
    # pi * frac near pi would lose its relative precision (1e-11 before the nearer-sample form).
    rng = np.random.default_rng(5)
    x = rng.standard_normal(20_000) + 1j * rng.standard_normal(20_000)
    base = rng.integers(20, 19_980, 3000).astype(np.float64)
    pos = np.concatenate([rng.uniform(20, 19_980, 20_000), base + 1e-9, base + 1 - 1e-9, base + 0.5, base - 1e-13])
    out = np.empty(pos.size, np.complex128)
    k.resample_at(x, pos, k.SINC_HALF_TAPS, out)
    diff = float(np.max(np.abs(out - k.resample_at_np(x, pos))))
    assert diff < 1e-13, diff  # measured 2.7e-15 on values up to |4|
    for half in (4, 7):  # odd and even tap counts start the sign alternation differently
        out = np.empty(pos.size, np.complex128)
        k.resample_at(x, pos, half, out)
        assert float(np.max(np.abs(out - k.resample_at_np(x, pos, half)))) < 1e-13


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
