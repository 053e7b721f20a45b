"""Two-level burst segmentation: an emission's packets against its own on/off levels.

A floor-plus-margin threshold answers "is anything there?"; it cannot see packets on top of a residual
carrier that a transmitter leaves on between them (a remote whose carrier sits 16 dB over the floor
between packets 29 dB over it is "on" from its first packet to its last). So the frame SNR of one
emission (dB over the noise expected in its band, 0 dB = noise) is segmented twice:

1. against the floor: runs above ``threshold_db`` (closed over gaps up to ``merge_gap_s``);
2. inside each such run, against the emission's own levels: when its frames fall into two tight
   clusters (Otsu's split of the frame SNRs) at least ``min_step_db`` apart, few frames between them
   (a keyed level steps, a fading one glides), the lower cluster itself above the threshold and
   showing alone for a while (longer than keying: slow ASK symbols are two levels too), the upper
   cluster's runs are the packets and the run is reported as a carrier. A run whose low frames are
   noise (OOK gaps) or whose level wanders (fading, speech) is one burst.

And a check against the emission's off level: bursts that rise less than ``threshold_db`` above the
median of the frames outside them are a steady emission whose level wanders across the threshold (a
weak spur in noise), not bursts: the result then has none and says ``steady``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.ndimage

from dsp.bursts import Burst, segment_bursts

#: Fewest frames in a run for its two levels to be told apart.
MIN_LEVEL_FRAMES = 10
#: Share of a run's frames the smaller level must hold to count as a level.
MIN_LEVEL_SHARE = 0.05
#: A frame alone over the threshold counts only this far (dB) over it.
LONE_DB = 6.0
#: Shortest stretch (s) the residual carrier must show alone between or around its packets.
MIN_CARRIER_ALONE_S = 0.02
#: Largest share of a run's frames between its two levels: keyed packets step, a fading level glides.
MAX_BETWEEN_SHARE = 0.1


@dataclass(frozen=True)
class Segmentation:
    """Bursts (packets) of one emission, the residual-carrier spans around them, and its levels (dB)."""

    bursts: tuple[Burst, ...]
    carrier: tuple[Burst, ...]
    on_level_db: float  # median frame SNR of the bursts (nan without bursts)
    off_level_db: float  # median frame SNR outside the first-level runs (nan when they fill the series)
    steady: bool  # level wanders across the threshold without standing clear of the off level


def otsu_split(values: np.ndarray) -> float:
    """The threshold that maximises the between-class variance of ``values`` (Otsu); their mean if < 2 values."""
    v = np.sort(np.asarray(values, dtype=np.float64))
    n = v.size
    if n < 2:
        return float(v.mean()) if n else float("nan")
    csum = np.cumsum(v)
    k = np.arange(1, n)  # size of the low class
    mean_lo = csum[:-1] / k
    mean_hi = (csum[-1] - csum[:-1]) / (n - k)
    between = k * (n - k) * (mean_hi - mean_lo) ** 2
    best = int(np.argmax(between))
    return float((v[best] + v[best + 1]) / 2.0)


def _iqr(v: np.ndarray) -> float:
    q75, q25 = np.percentile(v, [75.0, 25.0])
    return float(q75 - q25)


def segment_two_level(
    snr_db: np.ndarray,
    frame_dt_s: float,
    *,
    threshold_db: float,
    merge_gap_s: float = 0.0,
    min_duration_s: float = 0.0,
    min_step_db: float = 8.0,
) -> Segmentation:
    """Segment one emission's frame SNR series (dB over its band's noise); see the module docstring."""
    x = np.asarray(snr_db, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"snr_db must be one-dimensional, got shape {x.shape}")
    if min_step_db <= 0:
        raise ValueError(f"min_step_db must be > 0, got {min_step_db}")
    nan = float("nan")
    # A lone frame just over the threshold is as likely noise (a narrow band is one or two bins of a
    # short frame) as a transmitter; it must not start a burst, nor stretch one across the merge gap.
    # A lone frame well over it is a keyed symbol (OOK at 1 kbit/s) and counts.
    above = x > threshold_db
    lone = above & ~scipy.ndimage.binary_opening(above, structure=np.ones(2, bool)) & (x < threshold_db + LONE_DB)
    x = np.where(lone, threshold_db, x)
    first = segment_bursts(x, frame_dt_s, threshold_db=threshold_db, merge_gap_s=merge_gap_s,
                           min_duration_s=min_duration_s, floor_db=0.0)
    if not first:
        return Segmentation((), (), nan, nan, False)
    spans = [(round(b.start_s / frame_dt_s), round((b.start_s + b.duration_s) / frame_dt_s)) for b in first]
    inside = np.zeros(x.size, bool)
    for a, b in spans:
        inside[a:b] = True
    above = inside & (x > threshold_db)
    on_level = float(np.median(x[above])) if above.any() else nan
    off = ~inside
    off_level = float(np.median(x[off])) if off.sum() >= max(MIN_LEVEL_FRAMES, 0.1 * x.size) else nan
    if np.isfinite(off_level) and on_level - off_level < threshold_db:
        return Segmentation((), (), on_level, off_level, True)

    bursts: list[Burst] = []
    carrier: list[Burst] = []
    for (a, b), run in zip(spans, first):
        packets = _packets_on_carrier(x, a, b, frame_dt_s, threshold_db, merge_gap_s, min_duration_s, min_step_db)
        if packets:
            bursts.extend(packets)
            carrier.append(run)
        else:
            bursts.append(run)
    return Segmentation(tuple(bursts), tuple(carrier), on_level, off_level, False)


def _packets_on_carrier(x: np.ndarray, a: int, b: int, dt: float, threshold_db: float, merge_gap_s: float,
                        min_duration_s: float, min_step_db: float) -> list[Burst]:
    """Packets above a residual carrier in frames a..b-1 (absolute times), or [] if the run is one level."""
    v = x[a:b]
    if v.size < MIN_LEVEL_FRAMES:
        return []
    split = otsu_split(v)
    low, high = v[v <= split], v[v > split]
    least = max(3, int(MIN_LEVEL_SHARE * v.size))
    if low.size < least or high.size < least:
        return []
    step = float(np.median(high) - np.median(low))
    if step < min_step_db or np.median(low) < threshold_db:
        return []  # one level, or the low frames are noise (keying gaps): one burst
    lo_med, hi_med = float(np.median(low)), float(np.median(high))
    between = np.count_nonzero((v > lo_med + step / 4.0) & (v < hi_med - step / 4.0))
    if max(_iqr(low), _iqr(high)) > step / 2.0 or between > MAX_BETWEEN_SHARE * v.size:
        return []  # the level wanders (fading, speech) instead of stepping: no two levels
    inner = segment_bursts(v, dt, threshold_db=split, merge_gap_s=merge_gap_s, min_duration_s=min_duration_s,
                           floor_db=0.0)
    # The carrier must show on its own between the packets, longer than keying does (slow ASK symbols
    # are two levels too, but a run of low symbols is short): a stretch of twice the merge gap at least.
    edges = [0.0] + [t for p in inner for t in (p.start_s, p.start_s + p.duration_s)] + [v.size * dt]
    longest_alone = max(edges[i + 1] - edges[i] for i in range(0, len(edges) - 1, 2))
    if not inner or longest_alone < max(MIN_CARRIER_ALONE_S, 2.0 * merge_gap_s):
        return []
    return [Burst(start_s=p.start_s + a * dt, duration_s=p.duration_s) for p in inner]
