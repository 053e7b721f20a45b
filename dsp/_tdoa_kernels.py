"""Numba kernels of the time-difference chain, each with the plain numpy twin that defines it.

Two hot loops: evaluating a band-limited sequence between its samples (fractional resampling, used to
put one dongle's samples on another dongle's clock and, in the simulator, to sample a waveform at
arbitrary times) and evaluating a cross-spectrum at a fractional lag with its first two derivatives
(the Newton refinement of a correlation peak). Both are O(N) per call and run many times per fix.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

#: Half-length of the windowed-sinc interpolator (taps on each side of the point).
SINC_HALF_TAPS = 16


@njit(cache=True, nogil=True)
def resample_at(x, pos, half, out):  # pragma: no cover - compiled
    """out[k] = band-limited value of ``x`` at fractional index ``pos[k]`` (Blackman-windowed sinc).

    ``half`` taps on each side; taps falling outside ``x`` count as zero. Why windowed sinc: the signals
    are complex baseband with energy up to ~0.8 of the sample rate, where linear or cubic interpolation
    would bend the correlation peak by a good fraction of a sample.

    Cost: the taps of one point sit at whole-sample steps u = j - frac, so their trigonometry follows by
    angle addition from four values per point instead of three calls per tap: sin(pi u) only flips sign
    from tap to tap, the window's cos(2 pi u / span) turns by a fixed rotation, and its second harmonic is
    2 cos^2 - 1 of the first (the window is 0.34 + 0.5 c + 0.16 c^2). A 32-step rotation adds ~1e-15.
    """
    n = x.shape[0]
    span = 2.0 * half
    theta = 2.0 * math.pi / span
    cos_t = math.cos(theta)
    sin_t = math.sin(theta)
    for k in range(pos.shape[0]):
        p = pos[k]
        i0 = int(math.floor(p))  # noqa: RUF046 - an int index in Numba too
        frac = p - i0
        j0 = -half + 1
        u0 = j0 - frac
        # sin(pi (j - frac)) = -(-1)^j sin(pi frac): one sine per point, its sign alternating per tap
        # (from the nearer whole sample: pi * frac near pi would lose the small sine's relative precision)
        s_num = math.sin(math.pi * (frac if frac <= 0.5 else 1.0 - frac))
        if j0 % 2 == 0:
            s_num = -s_num
        c = math.cos(theta * u0)  # the window's phasor at the first tap, rotated by theta per tap
        sn = math.sin(theta * u0)
        acc = 0j
        for j in range(j0, half + 1):
            i = i0 + j
            u = j - frac
            if 0 <= i < n:
                w = 0.34 + c * (0.5 + 0.16 * c)
                s = 1.0 if abs(u) < 1e-12 else s_num / (math.pi * u)
                acc += x[i] * (s * w)
            s_num = -s_num
            c, sn = c * cos_t - sn * sin_t, sn * cos_t + c * sin_t
        out[k] = acc


def resample_at_np(x: np.ndarray, pos: np.ndarray, half: int = SINC_HALF_TAPS) -> np.ndarray:
    """Numpy twin of :func:`resample_at` (returns the complex128 result)."""
    i0 = np.floor(pos).astype(np.int64)
    frac = pos - i0
    out = np.zeros(pos.shape[0], np.complex128)
    span = 2.0 * half
    for j in range(-half + 1, half + 1):
        i = i0 + j
        ok = (i >= 0) & (i < x.shape[0])
        u = j - frac
        w = 0.42 + 0.5 * np.cos(2 * np.pi * u / span) + 0.08 * np.cos(4 * np.pi * u / span)
        out[ok] += x[i[ok]] * (np.sinc(u) * w)[ok]
    return out


@njit(cache=True, nogil=True)
def spectrum_derivs(c, omega, tau):  # pragma: no cover - compiled
    """r(tau) = sum c[m] exp(j omega[m] tau) and its first two derivatives in tau (complex128 each)."""
    r0 = 0j
    r1 = 0j
    r2 = 0j
    for m in range(c.shape[0]):
        w = omega[m]
        ph = w * tau
        v = c[m] * complex(math.cos(ph), math.sin(ph))
        r0 += v
        r1 += v * (1j * w)
        r2 -= v * (w * w)
    return r0, r1, r2


def spectrum_derivs_np(c: np.ndarray, omega: np.ndarray, tau: float) -> tuple[complex, complex, complex]:
    """Numpy twin of :func:`spectrum_derivs`."""
    v = c * np.exp(1j * omega * tau)
    return complex(v.sum()), complex((v * 1j * omega).sum()), complex((-v * omega**2).sum())
