"""Emission detection on a calibrated spectrum, with ITU-R SM.443 bandwidth measurements.

Input is per-bin power in dBm on a uniform frequency axis, and a noise floor (scalar or per bin) in
the same unit. Per-bin power should be the PSD times the bin width (``welch_psd(..., scaling="density")
* bin_hz``): then noise and wideband emissions integrate to their true power. (With
``scaling="spectrum"`` a CW peak reads its true power but integrated powers read ``enbw_bins`` too high.)

An emission is a run of bins above ``floor + margin``; runs separated by at most ``merge_hz`` are
one emission (an FM or OFDM signal dips between sidebands); runs narrower than ``min_width_hz`` are
dropped (single-bin noise peaks).

For the measurements the run is widened outward while the level stays above the floor, so the skirts
below the detection margin still count. On that extent:

* ``power_dbm``: integrated power, noise subtracted bin by bin;
* ``center_hz``: power-weighted centre frequency (noise subtracted);
* ``obw_hz``: SM.443 occupied bandwidth, beta = 1 %: the span holding 99 % of the noise-subtracted power
  (0.5 % cut from each side), each bin treated as uniform over its width;
* ``bandwidth_xdb_hz``: SM.443 x-dB bandwidth: between the outermost points where the level is
  ``x_db`` below the peak, interpolated linearly (in dB) between bins;
* ``snr_db``: peak level over the floor at the peak bin;
* ``f_lo_hz`` / ``f_hi_hz``: outer bin edges of the detected run (above floor + margin).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

from dsp.obw import span_power

# Defaults when merge_hz / min_width_hz are None, in bins.
DEFAULT_MERGE_BINS = 2
DEFAULT_MIN_WIDTH_BINS = 2
OBW_BETA = 0.01


@dataclass(frozen=True)
class Emission:
    """One detected emission; frequencies absolute (Hz) as on the input axis, powers in dBm."""

    center_hz: float
    peak_hz: float
    peak_dbm: float
    power_dbm: float
    bandwidth_xdb_hz: float
    obw_hz: float
    snr_db: float
    f_lo_hz: float
    f_hi_hz: float

    def to_dict(self) -> dict[str, float]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Emission:
        """Build from a mapping with exactly the dataclass fields; each must be a finite number."""
        names = [f.name for f in fields(cls)]
        missing = [n for n in names if n not in data]
        extra = [k for k in data if k not in names]
        if missing or extra:
            raise ValueError(f"Emission: missing field(s) {missing}, unknown field(s) {extra}")
        values: dict[str, float] = {}
        for n in names:
            v = data[n]
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
                raise ValueError(f"Emission.{n}: expected a finite number, got {v!r}")
            values[n] = float(v)
        return cls(**values)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Inclusive (start, stop) index pairs of the runs of True in a 1-D boolean mask."""
    padded = np.concatenate([[False], mask, [False]])
    d = np.diff(padded.astype(np.int8))
    starts = np.flatnonzero(d == 1)
    stops = np.flatnonzero(d == -1) - 1
    return list(zip(starts.tolist(), stops.tolist()))


def _crossing(f_in: float, l_in: float, f_out: float, l_out: float, level: float) -> float:
    """Frequency where the straight line (in dB) from (f_in, l_in >= level) to (f_out, l_out) hits level."""
    if l_in == l_out:
        return f_in
    t = (l_in - level) / (l_in - l_out)
    return f_in + min(max(t, 0.0), 1.0) * (f_out - f_in)


def _obw(freqs: np.ndarray, p_lin: np.ndarray, bin_hz: float) -> float:
    """Width holding (1 - beta) of the power, bins uniform over [f - bin/2, f + bin/2]."""
    total = p_lin.sum()
    if total <= 0:
        return 0.0
    cum = np.concatenate([[0.0], np.cumsum(p_lin)])  # cum[j] = power below the lower edge of bin j
    edges = np.concatenate([freqs - bin_hz / 2.0, [freqs[-1] + bin_hz / 2.0]])

    def at(frac: float) -> float:
        target = frac * total
        j = int(np.clip(np.searchsorted(cum, target, side="right") - 1, 0, p_lin.size - 1))
        within = (target - cum[j]) / p_lin[j] if p_lin[j] > 0 else 0.0
        return float(edges[j] + min(max(within, 0.0), 1.0) * bin_hz)

    return at(1.0 - OBW_BETA / 2.0) - at(OBW_BETA / 2.0)


def detect_emissions(
    freqs_hz: np.ndarray,
    power_dbm: np.ndarray,
    *,
    floor_dbm: float | np.ndarray,
    margin_db: float = 6.0,
    merge_hz: float | None = None,
    min_width_hz: float | None = None,
    x_db: float = 26.0,
) -> list[Emission]:
    """Emissions in a spectrum of per-bin power (dBm) above ``floor_dbm + margin_db``, lowest first.

    merge_hz: gaps between runs no wider than this (Hz) are bridged (default 2 bins).
    min_width_hz: runs narrower than this are dropped (default 2 bins; width = bins * bin width).
    """
    f = np.asarray(freqs_hz, dtype=np.float64)
    p = np.asarray(power_dbm, dtype=np.float64)
    p = np.where(np.isnan(p), -np.inf, p)  # a missing bin is no power, not a detection
    if f.ndim != 1 or p.shape != f.shape:
        raise ValueError(f"freqs_hz and power_dbm must be 1-D of the same length, got {f.shape} and {p.shape}")
    n = f.size
    if n < 2:
        raise ValueError("detect_emissions needs at least two bins")
    bin_hz = (f[-1] - f[0]) / (n - 1)
    if not bin_hz > 0:
        raise ValueError("freqs_hz must be ascending")
    if np.ndim(floor_dbm) and np.shape(floor_dbm) != f.shape:
        raise ValueError(f"floor_dbm must be a scalar or have shape {f.shape}, got {np.shape(floor_dbm)}")
    floor = np.broadcast_to(np.asarray(floor_dbm, dtype=np.float64), f.shape)
    if x_db <= 0:
        raise ValueError(f"x_db must be positive, got {x_db}")
    if margin_db < 0:
        raise ValueError(f"margin_db must be >= 0 (dB above the floor), got {margin_db}")
    merge_bins = DEFAULT_MERGE_BINS if merge_hz is None else merge_hz / bin_hz
    min_bins = DEFAULT_MIN_WIDTH_BINS if min_width_hz is None else min_width_hz / bin_hz

    runs = _runs(p > floor + margin_db)
    merged: list[list[int]] = []
    for a, b in runs:
        # gap in bins between the runs = a - prev_b - 1
        if merged and (a - merged[-1][1] - 1) < merge_bins + 1e-9:
            merged[-1][1] = b
        else:
            merged.append([a, b])
    kept = [(a, b) for a, b in merged if (b - a + 1) >= min_bins - 1e-9]

    emissions: list[Emission] = []
    for idx, (a, b) in enumerate(kept):
        # Widen the extent over the skirts above the floor, but not into a neighbouring emission.
        lo_lim = kept[idx - 1][1] + 1 if idx > 0 else 0
        hi_lim = kept[idx + 1][0] - 1 if idx + 1 < len(kept) else n - 1
        emissions.append(_measure(f, p, floor, a, b, lo_lim, hi_lim, x_db, bin_hz))
    return emissions


def _measure(f: np.ndarray, p: np.ndarray, floor: np.ndarray, a: int, b: int, lo_lim: int, hi_lim: int,
             x_db: float, bin_hz: float, skirt_bins: int = 1, averages: int | None = None,
             max_gap_bins: int = 32) -> Emission:
    """Measurements of the run of bins a..b, widened over its skirts above the floor within lo_lim..hi_lim.

    skirt_bins > 1: a skirt bin counts while the mean of the ``skirt_bins`` bins around it is above the
    floor (a skirt under the per-bin noise, keying sidebands at a few dB SNR, is still the emission's).
    averages (Welch segments behind ``p``): instead, the extent, power, centre and 99 % bandwidth come
    from the signed excess over the floor within its significant extent (:mod:`dsp.obw`).
    """
    if averages is not None:
        sp = span_power(f, 10.0 ** (p / 10.0), 10.0 ** (floor / 10.0), a, b, lo_lim, hi_lim, averages=averages,
                        max_gap_bins=max_gap_bins, beta=OBW_BETA)
        return _emission(f, p, floor, a, b, sp.lo, sp.hi, x_db, bin_hz, sp.power, sp.center_hz, sp.obw_hz)
    skirt_dbm = p
    if skirt_bins > 1:
        lin = 10.0 ** (p / 10.0)
        skirt_dbm = 10.0 * np.log10(np.maximum(np.convolve(lin, np.ones(skirt_bins) / skirt_bins, mode="same"),
                                               1e-300))
    lo, hi = a, b
    while lo > lo_lim and (p[lo - 1] > floor[lo - 1] or skirt_dbm[lo - 1] > floor[lo - 1]):
        lo -= 1
    while hi < hi_lim and (p[hi + 1] > floor[hi + 1] or skirt_dbm[hi + 1] > floor[hi + 1]):
        hi += 1
    sl = slice(lo, hi + 1)
    sig = np.clip(10.0 ** (p[sl] / 10.0) - 10.0 ** (floor[sl] / 10.0), 0.0, None)
    total = float(sig.sum())
    center = float(np.sum(sig * f[sl]) / total) if total > 0 else float(f[a + int(np.argmax(p[a : b + 1]))])
    return _emission(f, p, floor, a, b, lo, hi, x_db, bin_hz, total, center, _obw(f[sl], sig, bin_hz))


def _emission(f: np.ndarray, p: np.ndarray, floor: np.ndarray, a: int, b: int, lo: int, hi: int, x_db: float,
              bin_hz: float, total: float, center: float, obw_hz: float) -> Emission:
    """The Emission of core a..b measured over lo..hi: x-dB points, peak and SNR here, the rest given."""
    n = f.size
    sl = slice(lo, hi + 1)
    k_peak = a + int(np.argmax(p[a : b + 1]))
    peak_dbm = float(p[k_peak])
    level = peak_dbm - x_db
    ok = np.flatnonzero(p[sl] >= level) + lo
    j_lo, j_hi = int(ok[0]), int(ok[-1])
    f_x_lo = _crossing(f[j_lo], p[j_lo], f[j_lo - 1], p[j_lo - 1], level) if j_lo > 0 else f[0] - bin_hz / 2
    f_x_hi = _crossing(f[j_hi], p[j_hi], f[j_hi + 1], p[j_hi + 1], level) if j_hi < n - 1 else f[-1] + bin_hz / 2
    return Emission(
        center_hz=center,
        peak_hz=float(f[k_peak]),
        peak_dbm=peak_dbm,
        power_dbm=float(10.0 * np.log10(total)) if total > 0 else peak_dbm,
        bandwidth_xdb_hz=float(f_x_hi - f_x_lo),
        obw_hz=obw_hz,
        snr_db=float(peak_dbm - floor[k_peak]),
        f_lo_hz=float(f[a] - bin_hz / 2.0),
        f_hi_hz=float(f[b] + bin_hz / 2.0),
    )


def measure_span(
    freqs_hz: np.ndarray,
    power_dbm: np.ndarray,
    *,
    floor_dbm: float | np.ndarray,
    f_lo_hz: float,
    f_hi_hz: float,
    x_db: float = 26.0,
    limit_lo_hz: float | None = None,
    limit_hi_hz: float | None = None,
    skirt_bins: int = 1,
    averages: int | None = None,
    max_gap_hz: float | None = None,
) -> Emission | None:
    """The measurements of :func:`detect_emissions` over a given span: one emission made of several parts.

    The bins with centres in [f_lo_hz, f_hi_hz] are the emission (for a group of components: from the
    lowest part's lower edge to the highest part's upper edge, the spectrum between them included, as
    SM.443 measures a transmitter over all of its spectrum); the extent widens over the skirts above
    the floor, not beyond ``limit_lo_hz`` / ``limit_hi_hz`` (a neighbouring emission); with
    ``skirt_bins`` > 1 also over skirts whose local mean is above it. None when the span holds no bin.
    With ``averages`` (the Welch segments behind the spectrum), the extent is where the excess over
    the floor is significant (blocks of it up to ``max_gap_hz`` beyond the edge, default 32 bins) and the
    power, centre and 99 % bandwidth are of the signed excess (:mod:`dsp.obw`): right at low SNR.
    """
    f = np.asarray(freqs_hz, dtype=np.float64)
    p = np.asarray(power_dbm, dtype=np.float64)
    p = np.where(np.isnan(p), -np.inf, p)
    if f.ndim != 1 or p.shape != f.shape or f.size < 2:
        raise ValueError(f"freqs_hz and power_dbm must be 1-D of the same length >= 2, got {f.shape} and {p.shape}")
    if np.ndim(floor_dbm) and np.shape(floor_dbm) != f.shape:
        raise ValueError(f"floor_dbm must be a scalar or have shape {f.shape}, got {np.shape(floor_dbm)}")
    floor = np.broadcast_to(np.asarray(floor_dbm, dtype=np.float64), f.shape)
    bin_hz = (f[-1] - f[0]) / (f.size - 1)
    inside = np.flatnonzero((f >= f_lo_hz) & (f <= f_hi_hz))
    if inside.size == 0:
        return None
    lo_lim = 0 if limit_lo_hz is None else int(np.searchsorted(f, limit_lo_hz, side="left"))
    hi_lim = f.size - 1 if limit_hi_hz is None else int(np.searchsorted(f, limit_hi_hz, side="right")) - 1
    a, b = int(inside[0]), int(inside[-1])
    gap = 32 if max_gap_hz is None else max(1, round(max_gap_hz / bin_hz))
    return _measure(f, p, floor, a, b, min(lo_lim, a), max(hi_lim, b), x_db, bin_hz, skirt_bins, averages, gap)
