"""Spectrum occupancy per ITU-R SM.1880: FCO per channel, FBO per band, Wilson confidence intervals.

A channel is *occupied* in a revisit (one sweep) when its level exceeds the threshold. The level is the
integrated power of the bins whose centres fall inside ``[centre - width/2, centre + width/2)``
(``level="power"``, what a channel-power measurement reads) or the strongest such bin
(``level="peak"``).

* FCO (frequency channel occupancy): fraction of revisits in which the channel was occupied.
* FBO (frequency band occupancy): fraction of channel-samples occupied over the whole band, i.e. the
  share of channels occupied per revisit averaged over revisits (equal to the mean FCO).
* Each FCO carries a 95 % Wilson score interval, which, unlike the normal approximation, stays inside
  [0, 1] and is honest for FCO near 0 or 1 and for few revisits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from dsp import _kernels

WILSON_Z_95 = 1.959963984540054


@dataclass(frozen=True)
class OccupancyResult:
    """SM.1880 occupancy over ``revisits`` sweeps; per-channel tuples are in ``channel_centers_hz`` order."""

    channel_centers_hz: tuple[float, ...]
    fco: tuple[float, ...]
    fco_ci_low: tuple[float, ...]
    fco_ci_high: tuple[float, ...]
    revisits: int
    fbo: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "channel_centers_hz": list(self.channel_centers_hz),
            "fco": list(self.fco),
            "fco_ci_low": list(self.fco_ci_low),
            "fco_ci_high": list(self.fco_ci_high),
            "revisits": self.revisits,
            "fbo": self.fbo,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OccupancyResult:
        """Inverse of :meth:`to_dict`, validating every field (lengths agree, fractions in [0, 1])."""
        names = ("channel_centers_hz", "fco", "fco_ci_low", "fco_ci_high", "revisits", "fbo")
        missing = [n for n in names if n not in data]
        if missing:
            raise ValueError(f"OccupancyResult: missing field(s) {missing}")
        arrays: dict[str, tuple[float, ...]] = {}
        for n in names[:4]:
            v = data[n]
            if not isinstance(v, list | tuple) or not all(
                isinstance(e, int | float) and not isinstance(e, bool) and math.isfinite(e) for e in v
            ):
                raise ValueError(f"OccupancyResult.{n}: expected a list of finite numbers")
            arrays[n] = tuple(float(e) for e in v)
        n_ch = len(arrays["channel_centers_hz"])
        for n in names[1:4]:
            if len(arrays[n]) != n_ch:
                raise ValueError(f"OccupancyResult.{n}: {len(arrays[n])} values for {n_ch} channels")
            if any(not 0.0 <= e <= 1.0 for e in arrays[n]):
                raise ValueError(f"OccupancyResult.{n}: fractions must lie in [0, 1]")
        revisits = data["revisits"]
        if isinstance(revisits, bool) or not isinstance(revisits, int) or revisits < 1:
            raise ValueError(f"OccupancyResult.revisits: expected an integer >= 1, got {revisits!r}")
        fbo = data["fbo"]
        if isinstance(fbo, bool) or not isinstance(fbo, int | float) or not 0.0 <= fbo <= 1.0:
            raise ValueError(f"OccupancyResult.fbo: expected a fraction in [0, 1], got {fbo!r}")
        return cls(revisits=revisits, fbo=float(fbo), **arrays)


def wilson_interval(successes: np.ndarray | int, trials: int, z: float = WILSON_Z_95) -> tuple[Any, Any]:
    """Wilson score interval (low, high) for a binomial proportion successes / trials."""
    if trials < 1:
        raise ValueError(f"trials must be >= 1, got {trials}")
    k = np.asarray(successes, dtype=np.float64)
    p = k / trials
    z2n = z * z / trials
    centre = (p + z2n / 2.0) / (1.0 + z2n)
    half = z * np.sqrt(p * (1.0 - p) / trials + z2n / (4.0 * trials)) / (1.0 + z2n)
    # At k = 0 and k = n the bounds are exactly 0 and 1; set them so rounding does not leave 1e-19.
    low = np.where(k <= 0, 0.0, np.clip(centre - half, 0.0, 1.0))
    high = np.where(k >= trials, 1.0, np.clip(centre + half, 0.0, 1.0))
    return low, high


def channel_bins(freqs_hz: np.ndarray, channel_centers_hz: np.ndarray, channel_width_hz: float) -> tuple:
    """(lo, hi) bin index ranges, hi exclusive, of bins whose centres lie in each channel."""
    f = np.asarray(freqs_hz, dtype=np.float64)
    c = np.asarray(channel_centers_hz, dtype=np.float64)
    lo = np.searchsorted(f, c - channel_width_hz / 2.0, side="left")
    hi = np.searchsorted(f, c + channel_width_hz / 2.0, side="left")
    return lo.astype(np.int64), hi.astype(np.int64)


def channel_occupancy(
    frames_dbm: np.ndarray,
    freqs_hz: np.ndarray,
    channel_centers_hz: np.ndarray,
    channel_width_hz: float,
    threshold_dbm: float | np.ndarray,
    *,
    level: str = "power",
) -> OccupancyResult:
    """SM.1880 occupancy of channels over a series of sweeps.

    frames_dbm: (revisits, bins) per-bin power in dBm, one row per sweep, on the ascending ``freqs_hz``.
    threshold_dbm: scalar or one value per channel, compared with the channel level (see module doc).
    """
    frames = np.asarray(frames_dbm, dtype=np.float64)
    f = np.asarray(freqs_hz, dtype=np.float64)
    centres = np.atleast_1d(np.asarray(channel_centers_hz, dtype=np.float64))
    if frames.ndim != 2 or frames.shape[1] != f.size:
        raise ValueError(f"frames_dbm must be (revisits, {f.size}) to match freqs_hz, got {frames.shape}")
    if frames.shape[0] < 1:
        raise ValueError("channel_occupancy needs at least one revisit")
    if f.size > 1 and np.any(np.diff(f) <= 0):
        raise ValueError("freqs_hz must be strictly ascending")
    if not channel_width_hz > 0:
        raise ValueError(f"channel_width_hz must be positive, got {channel_width_hz}")
    if level not in ("power", "peak"):
        raise ValueError(f"level must be 'power' or 'peak', got {level!r}")
    if np.ndim(threshold_dbm) and np.shape(threshold_dbm) != centres.shape:
        raise ValueError(
            f"threshold_dbm must be a scalar or one value per channel ({centres.size}), got {np.shape(threshold_dbm)}"
        )
    thr = np.broadcast_to(np.asarray(threshold_dbm, dtype=np.float64), centres.shape)
    lo, hi = channel_bins(f, centres, channel_width_hz)
    empty = np.flatnonzero(hi <= lo)
    if empty.size:
        raise ValueError(
            f"channel at {centres[empty[0]]} Hz (width {channel_width_hz} Hz) contains no frequency bin"
        )
    levels = np.empty((frames.shape[0], centres.size))
    _kernels.channel_levels(10.0 ** (frames / 10.0), lo, hi, level == "peak", levels)
    occupied = 10.0 * np.log10(np.maximum(levels, np.finfo(np.float64).tiny)) > thr[None, :]
    revisits = frames.shape[0]
    counts = occupied.sum(axis=0)
    fco = counts / revisits
    ci_lo, ci_hi = wilson_interval(counts, revisits)
    return OccupancyResult(
        channel_centers_hz=tuple(float(v) for v in centres),
        fco=tuple(float(v) for v in fco),
        fco_ci_low=tuple(float(v) for v in ci_lo),
        fco_ci_high=tuple(float(v) for v in ci_hi),
        revisits=int(revisits),
        fbo=float(occupied.mean()),
    )
