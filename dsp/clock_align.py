"""Put one dongle's samples on another dongle's clock, measured on a common broadcast.

Why: an RTL-SDR's sample clock is its crystal (+-50 ppm typical) and its start time is whatever NTP
gave the host (+-10 ms). Both are far larger than a time difference of arrival (a 40 km baseline is
133 us). A broadcaster heard by both sensors, recorded just before and just after the signal of
interest on the same running sample counter, fixes the relation between the two counters: at each
reference segment the measured lag minus the known path difference of the broadcaster is the clock
lag, and two such points give offset and rate (a straight line; a crystal drifts slowly over a second).

The relation is a :class:`ClockMap`: for an instant that sensor 0 sampled at index ``n0``, sensor i
sampled it at ``offset + ratio * n0``. Indices count from each recording's first sample (the sample
counter runs on through the retunes). A sensor with a GPS PPS-disciplined clock needs no reference:
its map to another disciplined sensor is the identity to within the PPS jitter.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from dsp._tdoa_kernels import SINC_HALF_TAPS, resample_at


class ClockAlignError(ValueError):
    """Reference measurements that cannot define a clock map (fewer than two, coincident, no sigma)."""


@dataclass(frozen=True)
class ClockMap:
    """Sensor i's sample index of the instant sensor 0 sampled at ``n0``: ``offset + ratio * n0``.

    ``cov`` is the 2x2 covariance of (offset at ``n_ref``, ratio); evaluating away from ``n_ref``
    grows the uncertainty with the rate's. Units: samples, and samples per sample.
    """

    offset_samples: float
    ratio: float
    n_ref: float = 0.0
    cov: tuple[tuple[float, float], tuple[float, float]] = ((0.0, 0.0), (0.0, 0.0))

    @classmethod
    def identity(cls, sigma_samples: float = 0.0) -> ClockMap:
        """Two disciplined clocks (GPS PPS): same start, same rate, jitter ``sigma_samples``."""
        return cls(0.0, 1.0, 0.0, ((sigma_samples**2, 0.0), (0.0, 0.0)))

    def index_at(self, n0: np.ndarray) -> np.ndarray:
        """Sensor i's (fractional) sample indices at sensor 0's indices ``n0``."""
        return self.offset_samples + self.ratio * np.asarray(n0, dtype=np.float64)

    def lag_at(self, n0: float) -> float:
        """Clock lag ``index_at(n0) - n0`` (samples)."""
        return self.offset_samples + (self.ratio - 1.0) * float(n0)

    def sigma_at(self, n0: float) -> float:
        """1-sigma of the clock lag at ``n0`` (samples)."""
        d = float(n0) - self.n_ref
        (c00, c01), (_, c11) = self.cov
        return math.sqrt(max(0.0, c00 + 2 * d * c01 + d * d * c11))

    @property
    def rate_error_ppm(self) -> float:
        """Sensor i's sample rate relative to sensor 0's, minus one, in ppm."""
        return (self.ratio - 1.0) * 1e6


def fit_clock_map(n0: np.ndarray, lag_samples: np.ndarray, sigma_samples: np.ndarray,
                  geometric_lag_samples: np.ndarray | float = 0.0) -> ClockMap:
    """Weighted straight line through reference lags: clock lag = measured lag - geometric lag.

    ``n0``: sensor 0's index at each reference measurement (e.g. each reference segment's centre);
    ``lag_samples``: sensor i's index minus sensor 0's for the same wavefront there; ``geometric_lag_samples``:
    the broadcaster's known path difference (d_i - d_0) / c * sample rate.
    """
    n0 = np.asarray(n0, dtype=np.float64)
    lag = np.asarray(lag_samples, dtype=np.float64) - np.asarray(geometric_lag_samples, dtype=np.float64)
    sig = np.asarray(sigma_samples, dtype=np.float64)
    if n0.size < 2 or lag.size != n0.size or sig.size != n0.size:
        raise ClockAlignError(f"a clock map needs >= 2 reference lags with sigmas, got {n0.size}")
    if not np.all(np.isfinite(sig)) or np.any(sig <= 0):
        raise ClockAlignError("every reference lag needs a finite positive sigma")
    if float(np.ptp(n0)) <= 0:
        raise ClockAlignError("reference lags measured at one instant cannot give a rate")
    w = 1.0 / sig**2
    n_ref = float(np.sum(w * n0) / np.sum(w))
    X = np.stack([np.ones_like(n0), n0 - n_ref], axis=1)
    XtW = X.T * w
    cov = np.linalg.inv(XtW @ X)
    beta = cov @ (XtW @ lag)
    # lag(n0) = c0 + c1 (n0 - n_ref)  ->  index = n0 + lag = (c0 - c1 n_ref) + (1 + c1) n0
    c0, c1 = float(beta[0]), float(beta[1])
    # covariance of (lag at n_ref, rate) is cov itself: keep n_ref so sigma_at grows away from it.
    return ClockMap(offset_samples=c0 - c1 * n_ref, ratio=1.0 + c1, n_ref=n_ref,
                    cov=((float(cov[0, 0]), float(cov[0, 1])), (float(cov[1, 0]), float(cov[1, 1]))))


def resample(x: np.ndarray, positions: np.ndarray, half_taps: int = SINC_HALF_TAPS) -> np.ndarray:
    """Band-limited values of ``x`` at fractional indices ``positions`` (windowed sinc, complex128).

    Points within ``half_taps`` of an end see zeros beyond it: callers keep a margin.
    """
    x = np.ascontiguousarray(x, dtype=np.complex128)
    pos = np.ascontiguousarray(positions, dtype=np.float64)
    out = np.empty(pos.size, np.complex128)
    resample_at(x, pos, int(half_taps), out)
    return out


def rotate(x: np.ndarray, freq_cycles_per_sample: float, n_start: float = 0.0) -> np.ndarray:
    """``x`` shifted down by ``freq_cycles_per_sample`` (undo a frequency offset)."""
    n = n_start + np.arange(x.size, dtype=np.float64)
    return x * np.exp(-2j * np.pi * freq_cycles_per_sample * n)
