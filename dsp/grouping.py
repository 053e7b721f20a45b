"""Emission grouping: spectral components that share their time behaviour are one transmitter.

A spectrum shows components, not transmitters. A 2-FSK packet shows its two tones (the spectrum between
them is lower, and in a time average of a bursty signal it drops under the detection margin); an OOK
remote shows keying sidebands; a wideband signal can dip between lobes. What the parts of one
transmitter share is *when* they are on: their packets start and end together, or, for FSK tones, one
switches on as the other switches off inside the same packet. Two devices on nearby frequencies, or a
continuous spur beside a bursty signal, do not share that.

Each component's activity is its frame SNR series (dB over the noise in its band). Its *bursts* are
the runs where it is above ``on_db``, closed over gaps up to ``gap_s`` (symbols, keying, FSK tone
alternation), holding three on-frames at least; a lone frame counts only ``LONE_DB`` over the
threshold (just over it, it is as likely noise as a transmitter; well over it, a symbol: an FSK tone
at 10 dB is on in every other frame). A weaker component keys with a stronger one when its on-frames
lie in the stronger one's bursts, it is on for at least half of each burst it shares, and starts or
ends with it within the edge tolerance (or ``edge_fraction`` of a long burst's length). It may miss
a weak packet, where it is under the threshold; it may not have a burst the other lacks. A
component whose bursts cover (nearly) all the time carries no timing information and is never
joined by timing.

The edge tolerance is ``tolerance_s``, or more where the frames of a burst are often under the
threshold: an FSK tone at 10 dB fills only part of a frame with its symbols, and a frame holding one
symbol of it crosses the threshold now and then. If a share q of a component's frames in its
bursts are on, a burst edge is first seen k frames late with chance (1 - q)^k; the
tolerance is the lateness exceeded at one edge in ``1 / EDGE_MISS`` (the larger of the two
components'), at most ``gap_s`` over ``tolerance_s``. A component that hovers at the threshold (its
on-frames' median under ``LONE_DB`` over it: the spectrum between an FSK's tones at 10 dB) breaks
into fragments, so its q is taken in the stronger one's bursts; on in fewer than half of those
frames, its edges and lengths say nothing: it keys with a stronger one when its bursts lie in the
other's. Two devices whose bursts overlap partly still stay apart: their edges are tens of ms
apart, not a few frames.

Components are taken strongest first; each joins the first group whose strongest member it shares
timing with, as long as the group stays within a plausible channel: at most
``max(min_channel_hz, width_factor * widest member's bandwidth)`` from lowest to highest edge.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.ndimage

from dsp.segments import LONE_DB

#: Share of a stronger component's burst a weaker one must be on for to key with it.
MIN_COVER = 0.5
#: Chance that a burst edge is seen later than the edge tolerance (per edge; see the module docstring).
EDGE_MISS = 0.01
#: A component on in fewer than this share of its in-burst frames has no edges to compare (it hovers at the
#: threshold): it keys with a stronger one when its bursts lie in the other's, whatever their edges.
EDGES_SHARE = 0.5
#: On-frames a burst holds at least (after its gaps are closed).
MIN_ON_FRAMES = 3


@dataclass(frozen=True)
class GroupingConfig:
    """Thresholds of :func:`group_components` (dB, seconds, Hz)."""

    on_db: float = 6.0
    gap_s: float = 0.010
    tolerance_s: float = 0.006
    min_overlap: float = 0.8
    edge_fraction: float = 0.05
    min_channel_hz: float = 100e3
    width_factor: float = 2.5
    continuous_fraction: float = 0.8

    def __post_init__(self) -> None:
        if not 0.0 < self.min_overlap <= 1.0:
            raise ValueError(f"min_overlap must be in (0, 1], got {self.min_overlap}")
        if self.gap_s < 0 or self.tolerance_s < 0:
            raise ValueError(f"gap_s and tolerance_s must be >= 0, got {self.gap_s}, {self.tolerance_s}")
        if self.min_channel_hz <= 0 or self.width_factor <= 0:
            raise ValueError("min_channel_hz and width_factor must be > 0")


def activity_runs(on: np.ndarray, frame_dt_s: float, gap_s: float, min_on: int = 1) -> list[tuple[int, int]]:
    """(start, stop) frame runs of ``on`` after closing gaps up to ``gap_s``, each holding at least ``min_on``
    on-frames: the component's bursts."""
    on = np.asarray(on, dtype=bool)
    idx = np.flatnonzero(on)
    if idx.size == 0:
        return []
    gap = round(gap_s / frame_dt_s)
    breaks = np.flatnonzero(np.diff(idx) > gap + 1)
    first = np.concatenate([[0], breaks + 1])
    last = np.concatenate([breaks, [idx.size - 1]])
    keep = last - first + 1 >= min_on
    return list(zip(idx[first[keep]].tolist(), (idx[last[keep]] + 1).tolist()))


def on_share(on: np.ndarray, runs: list[tuple[int, int]]) -> float:
    """Share of the frames inside the component's bursts that are on (1.0 with no bursts)."""
    total = sum(b - a for a, b in runs)
    return sum(int(np.count_nonzero(on[a:b])) for a, b in runs) / total if total else 1.0


def edge_lateness_frames(share: float, miss: float = EDGE_MISS) -> int:
    """Frames by which a burst edge is seen late with chance ``miss``, for a component whose in-burst frames
    are on with chance ``share`` (its :func:`on_share`): the first on-frame is k frames past the edge with
    chance (1 - share)^k."""
    if share >= 1.0:
        return 0
    if share <= 0.0:
        raise ValueError(f"share must be in (0, 1], got {share}")
    return math.ceil(math.log(miss) / math.log1p(-share))


def runs_mask(runs: list[tuple[int, int]], frames: int, widen: int = 0) -> np.ndarray:
    """Boolean frames covered by the runs, each widened by ``widen`` frames on both sides."""
    mask = np.zeros(frames, bool)
    for a, b in runs:
        mask[max(0, a - widen) : b + widen] = True
    return mask


def shares_timing(on_weak: np.ndarray, runs_weak: list[tuple[int, int]], runs_strong: list[tuple[int, int]],
                  tolerance_frames: int, min_overlap: float, edge_fraction: float = 0.0, *,
                  most_frames: int | None = None, strong_late_frames: int = 0, hovers: bool = False) -> bool:
    """True when the weaker component keys with the stronger one.

    Its on-frames lie inside the stronger one's bursts (widened by the tolerance) for at least
    ``min_overlap`` of them; each of its bursts lies inside one of the stronger one's; and in each
    such burst it starts or ends with it (within the tolerance, or ``edge_fraction`` of that burst's
    length if more: a weak tone may drop under the threshold before the packet ends) and is on for at
    least half of it.
    A sideband or tone may miss a weak packet (under the threshold there) or dip inside one, so the
    stronger component may have bursts the weaker one lacks; what the weaker may not have is activity
    the stronger does not share edge to edge (another device keyed meanwhile).
    most_frames: the tolerance follows the weaker component's on-share in its own bursts (and
    ``strong_late_frames``, the stronger one's edge lateness), from ``tolerance_frames`` up to
    ``most_frames``. None: the tolerance is ``tolerance_frames``.
    hovers: the weaker component's on-frames are only just over the threshold, so noise decides which
    frames are on and its own bursts are fragments: its on-share is taken in the stronger one's bursts it
    is on in, and under :data:`EDGES_SHARE` its edges and lengths say nothing and only the first two
    conditions are judged (see the module docstring).
    """
    n_on = int(np.count_nonzero(on_weak))
    if n_on == 0 or not runs_strong or not runs_weak:
        return False
    tol, weak_edges = tolerance_frames, True
    if most_frames is not None:
        share = on_share(on_weak, runs_weak)
        if hovers:
            shared = [(sa, sb) for sa, sb in runs_strong if on_weak[sa:sb].any()]
            share = min(share, on_share(on_weak, shared))
            weak_edges = share >= EDGES_SHARE
        tol = min(most_frames, max(tol, strong_late_frames, edge_lateness_frames(share)))
    env = runs_mask(runs_strong, on_weak.size, tol)
    if np.count_nonzero(on_weak & env) < min_overlap * n_on:
        return False
    inside: dict[int, list[tuple[int, int]]] = {}
    for a, b in runs_weak:
        host = next((k for k, (sa, sb) in enumerate(runs_strong) if a >= sa - tol and b <= sb + tol), None)
        if host is None:
            return False
        inside.setdefault(host, []).append((a, b))
    if not weak_edges:
        return True

    def together(k: int, ws: list[tuple[int, int]]) -> bool:
        sa, sb = runs_strong[k]
        edge = max(tol, edge_fraction * (sb - sa))  # a weaker part crosses the threshold a little later
        starts = abs(min(a for a, _ in ws) - sa) <= edge
        ends = abs(max(b for _, b in ws) - sb) <= edge
        covered = sum(min(b, sb) - max(a, sa) for a, b in ws) >= MIN_COVER * (sb - sa)
        return (starts or ends) and covered

    return all(together(k, ws) for k, ws in inside.items())


def group_components(
    f_lo_hz: np.ndarray,
    f_hi_hz: np.ndarray,
    width_hz: np.ndarray,
    strength_db: np.ndarray,
    snr_db: np.ndarray,
    frame_dt_s: float,
    config: GroupingConfig | None = None,
    *,
    continuous: np.ndarray | None = None,
) -> list[list[int]]:
    """Groups of component indices (each group strongest first), groups ordered by their lowest edge.

    f_lo_hz, f_hi_hz, width_hz, strength_db: one value per component (edges, measured bandwidth, a
    level to rank them by: integrated power); snr_db: (components, frames) activity, dB over the noise
    in each band; continuous: components the caller knows to be steady (never joined by timing).
    """
    cfg = config or GroupingConfig()
    lo = np.asarray(f_lo_hz, dtype=np.float64)
    hi = np.asarray(f_hi_hz, dtype=np.float64)
    width = np.asarray(width_hz, dtype=np.float64)
    strength = np.asarray(strength_db, dtype=np.float64)
    act = np.asarray(snr_db, dtype=np.float64)
    n = lo.size
    if not (hi.shape == width.shape == strength.shape == (n,)) or act.ndim != 2 or act.shape[0] != n:
        raise ValueError(f"one edge/width/strength per component and snr_db of shape (components, frames); "
                         f"got {lo.shape}, {hi.shape}, {width.shape}, {strength.shape}, {act.shape}")
    if not frame_dt_s > 0:
        raise ValueError(f"frame_dt_s must be positive, got {frame_dt_s!r}")
    # A lone frame just over the threshold is as likely noise (a narrow band is one or two bins of a short
    # frame) as a transmitter; a lone frame well over it is a symbol (an FSK tone at 10 dB fills every
    # other frame: dropping every lone frame took its bursts apart). Bursts hold two on-frames at least.
    above = act > cfg.on_db
    if act.size:
        above &= scipy.ndimage.binary_opening(above, structure=np.ones((1, 2), bool)) | (act >= cfg.on_db + LONE_DB)
    frames = act.shape[1]
    runs = [activity_runs(above[i], frame_dt_s, cfg.gap_s, MIN_ON_FRAMES) for i in range(n)]
    on = np.array([above[i] & runs_mask(runs[i], frames) for i in range(n)], bool).reshape(act.shape)
    tol = round(cfg.tolerance_s / frame_dt_s)
    most = tol + round(cfg.gap_s / frame_dt_s)
    late = [edge_lateness_frames(on_share(on[i], runs[i])) for i in range(n)]  # share > 0: bursts hold on-frames
    # on-frames only just over the threshold (their median under the level a lone frame needs): noise
    # decides which of its frames are on
    hovers = [bool(on[i].any()) and float(np.median(act[i][on[i]])) < cfg.on_db + LONE_DB for i in range(n)]
    # on (nearly) all the time, or so often that its bursts close up: no timing to share
    steady = np.array([runs_mask(r, frames).sum() >= cfg.continuous_fraction * max(1, frames) for r in runs], bool)
    if continuous is not None:
        steady |= np.asarray(continuous, dtype=bool)

    groups: list[list[int]] = []
    for i in np.argsort(-strength, kind="stable").tolist():
        placed = False
        if not steady[i] and on[i].any():
            for g in groups:
                seed = g[0]
                if steady[seed]:
                    continue
                members = [*g, i]
                extent = hi[members].max() - lo[members].min()
                plausible = max(cfg.min_channel_hz, cfg.width_factor * float(width[members].max()))
                if extent <= plausible and shares_timing(on[i], runs[i], runs[seed], tol, cfg.min_overlap,
                                                         cfg.edge_fraction, most_frames=most,
                                                         strong_late_frames=late[seed], hovers=hovers[i]):
                    g.append(i)
                    placed = True
                    break
        if not placed:
            groups.append([i])
    groups.sort(key=lambda g: float(lo[g].min()))
    return groups
