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


#: Consecutive overlapping frames at the on level that make an edge (a quarter-frame hop: 2 = half a
#: frame; one keyed bit at 5 kbit/s shows in two or three).
EDGE_RUN_FRAMES = 2
#: Quantile of the off frames' excess a packet edge must rise over (one noise frame in this many beats it).
EDGE_NOISE_QUANTILE = 0.999
#: A packet's mean excess must beat this quantile of the off frames' means over as many frames.
PACKET_NOISE_QUANTILE = 0.9999
#: The level an edge is placed at, as a share of the packet's on level (half: the centre of the ramp).
EDGE_SHARE = 0.2


def _off_mask(n: int, hop_s: float, frame_s: float, bursts: tuple[Burst, ...], guard_s: float) -> np.ndarray:
    """Frames (starting every hop_s, frame_s long) that overlap no burst widened by guard_s."""
    starts = np.arange(n) * hop_s
    off = np.ones(n, bool)
    for b in bursts:
        off &= (starts + frame_s <= b.start_s - guard_s) | (starts >= b.start_s + b.duration_s + guard_s)
    return off


def _moving_mean_quantile(x: np.ndarray, m: int, q: float) -> float:
    """Quantile q of the means of m consecutive values of x; -inf when x holds fewer than 2 m values."""
    m = max(1, m)
    if x.size < 2 * m:
        return float("-inf")
    c = np.concatenate([[0.0], np.cumsum(x)])
    return float(np.quantile((c[m:] - c[:-m]) / m, q))


def refine_bursts(excess: np.ndarray, hop_s: float, frame_s: float, bursts: tuple[Burst, ...], *,
                  search_s: float) -> tuple[Burst, ...]:
    """Packet edges to a fraction of a frame, on the emission's own on and off levels; packets of noise dropped.

    excess: the emission's power over the noise expected in its band, linear (0 = noise), in frames
    ``frame_s`` long starting every ``hop_s`` (overlapping); bursts: the packets found on whole frames.

    * Off level: the frames further than ``search_s`` from every packet. Their spread says what noise
      alone reaches.
    * A packet whose mean excess is not over what ``PACKET_NOISE_QUANTILE`` of the off frames' means over
      as many frames reach holds no energy in the band: it is dropped.
    * On level of a packet: the 90th percentile of its frames (keyed symbols: its marks). Its edges are
      where the sliding frame crosses half of it (the middle of the ramp a frame makes across an edge),
      or the off frames' ``EDGE_NOISE_QUANTILE`` if that is higher (then corrected along the ramp),
      held for ``EDGE_RUN_FRAMES`` frames, searched ``search_s`` around the coarse edge: the first
      crossing up and the last crossing down, so spaces inside the packet (keying, shorter than the
      frame search) never end it.
    Packets whose refined spans meet are merged.
    """
    r = np.asarray(excess, dtype=np.float64)
    if r.ndim != 1:
        raise ValueError(f"excess must be one-dimensional, got shape {r.shape}")
    if not (hop_s > 0 and frame_s >= hop_s and search_s >= 0):
        raise ValueError(f"need hop_s > 0, frame_s >= hop_s, search_s >= 0; got {hop_s}, {frame_s}, {search_s}")
    if not bursts or r.size < 4:
        return bursts
    n = r.size
    off = _off_mask(n, hop_s, frame_s, bursts, max(frame_s, search_s))  # the edges may lie anywhere searched
    if np.count_nonzero(off) < MIN_LEVEL_FRAMES * EDGE_RUN_FRAMES:
        return bursts  # (nearly) no off time: nothing to measure the noise on
    off_r = r[off]
    noise_edge = float(np.quantile(off_r, EDGE_NOISE_QUANTILE))
    centres = np.arange(n) * hop_s + frame_s / 2.0
    run = EDGE_RUN_FRAMES
    out: list[Burst] = []
    for i, b in enumerate(bursts):
        t0, t1 = b.start_s, b.start_s + b.duration_s
        # never into the neighbouring packets: no further than halfway to them
        lo_s = (bursts[i - 1].start_s + bursts[i - 1].duration_s + t0) / 2.0 if i > 0 else -np.inf
        hi_s = (t1 + bursts[i + 1].start_s) / 2.0 if i + 1 < len(bursts) else np.inf
        inside = np.flatnonzero((centres >= t0) & (centres <= t1))
        if inside.size == 0:
            continue
        if float(r[inside].mean()) <= _moving_mean_quantile(off_r, inside.size, PACKET_NOISE_QUANTILE):
            continue  # no energy in the band: noise crossed the frame threshold
        on = float(np.percentile(r[inside], 90.0))
        level = max(EDGE_SHARE * on, noise_edge)
        if level >= 0.9 * on:
            out.append(b)  # too weak to refine: the coarse edges stand
            continue
        above = r >= level
        held = scipy.ndimage.binary_opening(above, structure=np.ones(run, bool))
        # the ramp across an edge is about one frame long: a level above half of the on level is crossed
        # that share of a frame later (rising) or earlier (falling) than the edge
        shift = (level / on - EDGE_SHARE) * frame_s
        win = np.flatnonzero(held & (centres >= max(t0 - search_s, lo_s)) & (centres <= min(t1 + search_s, hi_s)))
        if win.size == 0:
            out.append(b)
            continue
        k0, k1 = int(win[0]), int(win[-1])

        def cross(k_lo: int, k_hi: int, level: float = level) -> float:
            """Centre time where r crosses ``level`` between frame k_lo and k_hi (one hop apart)."""
            r_lo, r_hi = r[k_lo], r[k_hi]
            t = (level - r_lo) / (r_hi - r_lo) if r_hi != r_lo else 0.5
            return float(centres[k_lo] + min(max(t, 0.0), 1.0) * (centres[k_hi] - centres[k_lo]))

        start = cross(k0 - 1, k0) - shift if k0 > 0 else float(centres[k0] - frame_s / 2.0)
        stop = cross(k1 + 1, k1) + shift if k1 + 1 < n else float(centres[k1] + frame_s / 2.0)
        start, stop = max(0.0, start), min(n * hop_s + frame_s - hop_s, stop)
        if stop > start:
            out.append(Burst(start, stop - start))
    merged: list[Burst] = []
    for b in sorted(out, key=lambda b: b.start_s):
        if merged and b.start_s <= merged[-1].start_s + merged[-1].duration_s:
            last = merged.pop()
            end = max(last.start_s + last.duration_s, b.start_s + b.duration_s)
            b = Burst(last.start_s, end - last.start_s)
        merged.append(b)
    return tuple(merged)
