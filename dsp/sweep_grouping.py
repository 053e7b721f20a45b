"""One emission per transmitter in a sensor's sweep: components grouped by their timing within the dwell.

A sweep's averaged spectrum shows components: the two tones of a 2-FSK packet (the spectrum between
them sinks under the margin in a time average), the keying sidebands of an OOK remote. Reported one by
one, each is a false "unlicensed" or "off-frequency" emission at the rules engine. The sensor keeps no
IQ, but its dwell's time slots (:class:`dsp.slotted_welch.SlottedWelch`: a mean PSD every few ms) say
when each component was on. Components of one transmitter key together (on together, or one as the
other is off within the same packet, as FSK tones do at slot resolution); a second device nearby, or a
steady spur beside a bursty signal, does not. The decision is :func:`dsp.grouping.group_components`
(the same one ``borderwatch detect`` applies to IQ captures), fed with each component's slot activity:
the power in its detected bins over the noise expected there, in dB.

A group is measured as ITU-R SM.443 measures a transmitter, over all of its spectrum, from the lowest
member's edge to the highest's, the spectrum between them included: x-dB and 99 % bandwidths on the
spectrum of the slots it was on in (two slots more each side of every burst, so that packets count
whole), and its centre there too (the silences between packets would bury its skirts; a skirt counts
while its mean is over the floor by more than the noise of that shorter average); power and SNR as time
averages over the dwell, like every other emission of the sweep.

A packet too weak or too short to lift the dwell's average stands out in its own slots:
:func:`burst_components` finds it on the strongest ~10 ms block of each bin against what noise reaches
there; such a weak component joins a keyed group it was on with, or is an emission of its own.

Components are compared only within one hop (two hops are different times), but a hop's slots hold
more than the part of the sweep it supplies: neighbours on both sides of a hop edge (an FSK whose tones
straddle it) are read together in the hop that reaches both. A plausible channel is at least the
profile's channel width, and at least ``GroupingConfig.min_channel_hz``. Successive sweeps are not
compared: each sweep reports what its own dwell saw.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dsp.emissions import Emission, measure_span
from dsp.floor import fcme_threshold_factor
from dsp.grouping import GroupingConfig, group_components
from dsp.sweep import remove_dc_spike

#: Slots a keyed group's on-slots are widened by, each side, for its measurement (see measure_group).
CENTRE_WIDEN_SLOTS = 2
#: Bins whose mean decides whether a skirt under the per-bin noise still belongs to a group.
SKIRT_BINS = 9
#: Time over which a burst is looked for when the dwell's average missed it (s): packets last longer.
BURST_BLOCK_S = 0.010
#: Chance per hop and sweep that noise alone makes a bin of a burst component.
BURST_PFA = 1e-4
#: Welch segments at 50 % overlap with a Hann window are not independent: the variance of their mean
#: is about 1.06 times that of independent ones; fewer effective segments than counted (conservative).
OVERLAP_DOF = 1.1
_TINY = 1e-300


@dataclass(frozen=True)
class HopSlots:
    """The time slots of one hop of a sweep.

    freqs_hz: absolute centre of each of the hop's bins, in the order of ``power``'s columns (FFT order is
    fine); power: (slots, bins) linear, row k times ``row_scale[k]`` is that slot's mean power per bin in
    the unit of the sweep's floor (e.g. mW); kept_lo_hz / kept_hi_hz: the part of the stitched sweep this
    hop supplies.
    """

    freqs_hz: np.ndarray
    power: np.ndarray
    row_scale: np.ndarray
    slot_s: float
    kept_lo_hz: float
    kept_hi_hz: float
    segments_per_slot: int = 1  # Welch segments averaged in a slot: the noise statistics of a row

    def __post_init__(self) -> None:
        if self.power.ndim != 2 or self.power.shape[1] != self.freqs_hz.size or self.freqs_hz.size < 2:
            raise ValueError(f"HopSlots: power must be (slots, {self.freqs_hz.size}), got {self.power.shape}")
        if self.row_scale.shape != (self.power.shape[0],):
            raise ValueError(f"HopSlots: one row_scale per slot ({self.power.shape[0]}), got {self.row_scale.shape}")
        if not self.slot_s > 0:
            raise ValueError(f"HopSlots: slot_s must be > 0, got {self.slot_s}")

    @functools.cached_property
    def order(self) -> np.ndarray:
        """Indices that put the hop's bins in ascending frequency."""
        return np.argsort(self.freqs_hz, kind="stable")

    @functools.cached_property
    def reach_hz(self) -> tuple[float, float]:
        """(lo, hi) of the part of the hop a measurement may read: its kept part and half of the cropped
        margin each side (the outer half of the margin is where a receiver's filter rolls off)."""
        f_lo, f_hi = float(self.freqs_hz.min()), float(self.freqs_hz.max())
        return (min(self.kept_lo_hz, (self.kept_lo_hz + f_lo) / 2.0),
                max(self.kept_hi_hz, (self.kept_hi_hz + f_hi) / 2.0))

    def bins(self, f_lo_hz: float, f_hi_hz: float) -> np.ndarray:
        """Indices of the hop's bins with centres in [f_lo_hz, f_hi_hz] (the nearest one if none)."""
        f = self.freqs_hz
        sel = np.flatnonzero((f >= f_lo_hz) & (f <= f_hi_hz))
        if sel.size == 0:
            sel = np.array([int(np.argmin(np.abs(f - (f_lo_hz + f_hi_hz) / 2.0)))])
        return sel

    def activity_db(self, bins: np.ndarray, floor_per_bin: float) -> np.ndarray:
        """Per slot: power in ``bins`` over the noise expected there (dB)."""
        band = self.power[:, bins].sum(axis=1, dtype=np.float64) * self.row_scale
        return 10.0 * np.log10(np.maximum(band, _TINY) / max(floor_per_bin * bins.size, _TINY))


@dataclass(frozen=True)
class EmissionGroup:
    """Components of one transmitter: indices into the sweep's emissions (strongest first), its hop, and
    the slots it was on in (None: steady, or no timing to go by)."""

    members: tuple[int, ...]
    hop: int
    on_slots: np.ndarray | None = None


def hop_of(hops: Sequence[HopSlots], f_hz: float) -> int:
    """Index of the hop that supplies frequency ``f_hz`` to the stitched sweep (the nearest one at an edge)."""
    for k, h in enumerate(hops):
        if h.kept_lo_hz <= f_hz < h.kept_hi_hz:
            return k
    return int(np.argmin([min(abs(f_hz - h.kept_lo_hz), abs(f_hz - h.kept_hi_hz)) for h in hops]))


def plausible_channel_hz(config: GroupingConfig, channel_width_hz: float) -> GroupingConfig:
    """The grouping settings with the profile's channel width as the smallest plausible channel."""
    return dataclasses.replace(config, min_channel_hz=max(config.min_channel_hz, float(channel_width_hz)))


def _candidates(emissions: Sequence[Emission], cfg: GroupingConfig) -> np.ndarray:
    """Emissions with a neighbour close enough to be part of the same channel: only they need timing."""
    n = len(emissions)
    out = np.zeros(n, bool)
    order = sorted(range(n), key=lambda i: emissions[i].f_lo_hz)
    for a, b in itertools.pairwise(order):
        ea, eb = emissions[a], emissions[b]
        reach = max(cfg.min_channel_hz, cfg.width_factor * max(ea.bandwidth_xdb_hz, eb.bandwidth_xdb_hz))
        if max(ea.f_hi_hz, eb.f_hi_hz) - min(ea.f_lo_hz, eb.f_lo_hz) <= reach:
            out[a] = out[b] = True
    return out


def _timing_hops(emissions: Sequence[Emission], hops: Sequence[HopSlots], hop: list[int],
                 cfg: GroupingConfig) -> list[int]:
    """The hop each emission's timing is read in: its own, except for neighbours close enough to be one
    channel that lie in two hops (an FSK whose tones straddle a hop edge). Those are read together in the
    hop whose reach (:attr:`HopSlots.reach_hz`) holds all of them, the one that supplies their middle:
    their slots are then of one time, and the grouping decides as within a hop. Burst components count
    too (a weak FSK's tones may show only in the slots, one in each hop)."""
    out = list(hop)
    order = sorted(range(len(emissions)), key=lambda i: emissions[i].f_lo_hz)
    chains: list[list[int]] = []
    for i in order:
        if chains and _extent_ok([emissions[j] for j in (chains[-1][-1], i)], cfg):
            chains[-1].append(i)
        else:
            chains.append([i])
    for chain in chains:
        if len({hop[i] for i in chain}) < 2:
            continue
        lo = min(emissions[i].f_lo_hz for i in chain)
        hi = max(emissions[i].f_hi_hz for i in chain)
        k = hop_of(hops, (lo + hi) / 2.0)
        r_lo, r_hi = hops[k].reach_hz
        if r_lo <= lo and hi <= r_hi:
            for i in chain:
                out[i] = k
    return out


def _on_slots(act_db: np.ndarray, on_db: float) -> np.ndarray:
    """Slots over ``on_db`` in runs of two at least (as :func:`dsp.grouping.group_components` counts them)."""
    on = act_db > on_db
    nxt = np.zeros_like(on)
    nxt[..., :-1] = on[..., 1:]
    prv = np.zeros_like(on)
    prv[..., 1:] = on[..., :-1]
    return on & (nxt | prv)


def _widen(on: np.ndarray, slots: int) -> np.ndarray:
    """``on`` with every on-slot spread ``slots`` slots to both sides."""
    if slots <= 0:
        return on
    return np.convolve(on.astype(np.int32), np.ones(2 * slots + 1, np.int32), mode="same") > 0


def _extent_ok(members: Sequence[Emission], cfg: GroupingConfig) -> bool:
    extent = max(e.f_hi_hz for e in members) - min(e.f_lo_hz for e in members)
    return extent <= max(cfg.min_channel_hz, cfg.width_factor * max(e.bandwidth_xdb_hz for e in members))


def group_emissions(emissions: Sequence[Emission], hops: Sequence[HopSlots], floor_per_bin: float, *,
                    channel_width_hz: float, config: GroupingConfig | None = None,
                    weak: Sequence[bool] | None = None) -> list[EmissionGroup]:
    """The sweep's emissions grouped into transmitters, groups ordered by their lowest edge.

    Every emission's activity is looked at (a keyed one is measured on its on-slots); only emissions
    with a neighbour within a plausible channel go through the grouping decision.
    weak: emissions seen only in bursts (:func:`burst_components`), too weak for their own timing to be
    compared edge to edge: one joins a keyed group within a plausible channel when at least
    ``min_overlap`` of its on-slots fall in the group's (widened by the tolerance); else it is an
    emission of its own if it keyed, and dropped if it did not (noise in one block).
    floor_per_bin: the sweep's noise floor per bin, linear, in the unit of the hops' ``power * row_scale``.
    """
    cfg = plausible_channel_hz(config or GroupingConfig(), channel_width_hz)
    if not hops:
        raise ValueError("group_emissions needs the time slots of at least one hop")
    n = len(emissions)
    is_weak = np.zeros(n, bool) if weak is None else np.asarray(weak, bool)
    if is_weak.shape != (n,):
        raise ValueError(f"weak must hold one flag per emission ({n}), got shape {is_weak.shape}")
    hop = [hop_of(hops, e.center_hz) for e in emissions]
    strong = [i for i in range(n) if not is_weak[i]]
    cand = np.zeros(n, bool)
    cand[strong] = _candidates([emissions[i] for i in strong], cfg)
    if len(hops) > 1:
        hop = _timing_hops(emissions, hops, hop, cfg)
    groups: list[EmissionGroup] = []
    for k, h in enumerate(hops):
        idx = [i for i in range(n) if hop[i] == k]
        if not idx:
            continue
        act = np.array([h.activity_db(h.bins(emissions[i].f_lo_hz, emissions[i].f_hi_hz), floor_per_bin)
                        for i in idx])
        on_each = _on_slots(act, cfg.on_db).sum(axis=1)
        keyed_each = (on_each > 0) & (on_each < cfg.continuous_fraction * act.shape[1])
        timed = [j for j, i in enumerate(idx) if cand[i]]
        parts = [[j] for j, i in enumerate(idx) if not cand[i] and not is_weak[i]]
        if int(np.count_nonzero(keyed_each[timed])) < 2:
            # steady or silent components are never joined by timing: nothing for the decision to do
            parts += [[j] for j in timed]
        else:
            ems = [emissions[idx[j]] for j in timed]
            sub = group_components(
                np.array([e.f_lo_hz for e in ems]), np.array([e.f_hi_hz for e in ems]),
                np.array([e.bandwidth_xdb_hz for e in ems]), np.array([e.power_dbm for e in ems]), act[timed],
                h.slot_s, cfg)
            parts += [[timed[m] for m in part] for part in sub]
        on_of = [np.asarray(_on_slots(act[part], cfg.on_db).any(axis=0)) for part in parts]
        tol = round(cfg.tolerance_s / h.slot_s)
        for j in (j for j, i in enumerate(idx) if is_weak[i]):
            on_j = np.asarray(_on_slots(act[j], cfg.on_db))
            n_on = int(on_j.sum())
            if n_on == 0:
                continue
            host = next((p for p, on_p in enumerate(on_of)
                         if 0 < on_p.sum() < cfg.continuous_fraction * on_p.size
                         and np.count_nonzero(on_j & _widen(on_p, tol)) >= cfg.min_overlap * n_on
                         and _extent_ok([emissions[idx[m]] for m in [*parts[p], j]], cfg)), None)
            if host is not None:
                parts[host].append(j)
            else:
                parts.append([j])
                on_of.append(on_j)
        for part, on in zip(parts, on_of, strict=True):
            keyed = 0 < int(on.sum()) < cfg.continuous_fraction * on.size
            if not keyed and all(is_weak[idx[j]] for j in part):
                continue
            groups.append(EmissionGroup(tuple(idx[j] for j in part), k, on if keyed else None))
    groups.sort(key=lambda g: min(emissions[i].f_lo_hz for i in g.members))
    return groups


def burst_components(hop: HopSlots, floor_per_bin: float, known: Sequence[Emission], *,
                     block_s: float = BURST_BLOCK_S, pfa: float = BURST_PFA, dc_bins: int = 0) -> list[Emission]:
    """Components the dwell's average missed but a burst shows: bursty and weak, a packet in a long dwell.

    The slots are averaged over blocks of about ``block_s``; a bin is hot when its strongest block is over
    what noise (``floor_per_bin``, averaged over the block's segments) exceeds with chance ``pfa`` per hop;
    runs of hot bins (two at least, gaps of two bridged as :func:`dsp.detect_emissions` does) within the
    hop's kept part that overlap no ``known`` emission are returned, roughly measured on that peak
    spectrum (edges, peak, centre; the caller measures them again on their on-slots).
    """
    rows = hop.power.shape[0]
    per_block = max(1, min(rows, round(block_s / hop.slot_s)))
    blocks = rows // per_block
    if blocks < 2:  # a dwell of one block: the average is the burst
        return []
    peak = hop.power[: blocks * per_block].reshape(blocks, per_block, -1).sum(axis=1).max(axis=0)
    peak = peak.astype(np.float64)[hop.order] * (float(hop.row_scale[0]) / per_block)
    if dc_bins:
        peak = remove_dc_spike(peak, dc_bins)
    f = hop.freqs_hz[hop.order]
    keep = (f >= hop.kept_lo_hz) & (f < hop.kept_hi_hz)
    if np.count_nonzero(keep) < 2:
        return []
    k_eff = max(1, int(per_block * hop.segments_per_slot / OVERLAP_DOF))
    threshold = floor_per_bin * fcme_threshold_factor(pfa / (blocks * np.count_nonzero(keep)), k_eff)
    idx = np.flatnonzero(keep & (peak > threshold))
    if idx.size < 2:
        return []
    # runs of hot bins, gaps of up to two bins bridged, two bins at least (as detect_emissions has them)
    breaks = np.flatnonzero(np.diff(idx) > 3)
    starts = np.concatenate([[idx[0]], idx[breaks + 1]])
    stops = np.concatenate([idx[breaks], [idx[-1]]])
    bin_hz = float(f[1] - f[0])
    out = []
    for a, b in zip(starts.tolist(), stops.tolist(), strict=True):
        if b - a < 1 or not keep[a:b + 1].all():
            continue
        lo, hi = float(f[a] - bin_hz / 2), float(f[b] + bin_hz / 2)
        if any(lo <= k.f_hi_hz + 2 * bin_hz and k.f_lo_hz - 2 * bin_hz <= hi for k in known):
            continue  # a known emission (with its skirts, which its bursts lift too)
        k_peak = a + int(np.argmax(peak[a : b + 1]))
        excess = np.clip(peak[a : b + 1] - floor_per_bin, 0.0, None)
        total = float(excess.sum())
        centre = float(np.sum(excess * f[a : b + 1]) / total) if total > 0 else float(f[k_peak])
        peak_dbm = 10.0 * np.log10(float(peak[k_peak]))
        out.append(Emission(center_hz=centre, peak_hz=float(f[k_peak]), peak_dbm=peak_dbm,
                            power_dbm=10.0 * np.log10(max(total, 1e-300)), bandwidth_xdb_hz=hi - lo, obw_hz=hi - lo,
                            snr_db=peak_dbm - 10.0 * np.log10(floor_per_bin), f_lo_hz=lo, f_hi_hz=hi))
    return out


def gated_spectrum_dbm(hop: HopSlots, on_slots: np.ndarray, dc_bins: int = 0, f_lo_hz: float = -np.inf,
                       f_hi_hz: float = np.inf) -> tuple[np.ndarray, np.ndarray]:
    """(freqs_hz ascending, level per bin in dB of the floor's unit) of the hop over the slots in ``on_slots``,
    for the bins in [f_lo_hz, f_hi_hz] (two at least; only those columns are read)."""
    on = np.asarray(on_slots, bool)
    w = np.where(on, hop.row_scale, 0.0).astype(np.float32) / max(int(on.sum()), 1)
    fs = hop.freqs_hz[hop.order]
    n = fs.size
    a = min(int(np.searchsorted(fs, f_lo_hz, side="left")), n - 2)
    b = max(int(np.searchsorted(fs, f_hi_hz, side="right")), a + 2)
    centre = n // 2
    if dc_bins and a <= centre + dc_bins and b >= centre - dc_bins:
        # the zero-IF spike is in reach: take a part symmetric about it so remove_dc_spike finds it
        r = max(centre - a, b - centre, dc_bins + 1)
        a0, b0 = max(0, centre - r), min(n, centre + r)
        r = min(centre - a0, b0 - centre)
        a0, b0 = centre - r, centre + r
        p = remove_dc_spike((w @ hop.power[:, hop.order[a0:b0]]).astype(np.float64), dc_bins)[a - a0 : b - a0]
    else:
        p = (w @ hop.power[:, hop.order[a:b]]).astype(np.float64)
    return fs[a:b], 10.0 * np.log10(np.maximum(p, _TINY))


def band_slots(hop: HopSlots, f_lo_hz: float, f_hi_hz: float, on_slots: np.ndarray | None = None) -> tuple[
        np.ndarray, np.ndarray, np.ndarray]:
    """(freqs_hz ascending, rows, use): the hop's bins in [f_lo_hz, f_hi_hz] in every slot, as mean power per
    bin in the floor's unit, and the slots an emission was on in (what :func:`dsp.classify.slot_features`
    reads).

    on_slots: a keyed emission's on-slots, of which only those inside a burst are used (a slot at a
    burst's edge is partly off: its power says when, not how the spectrum moved); None: every slot.
    """
    bins = hop.bins(f_lo_hz, f_hi_hz)
    bins = bins[np.argsort(hop.freqs_hz[bins], kind="stable")]
    use = np.ones(hop.power.shape[0], bool)
    if on_slots is not None:
        on = np.asarray(on_slots, bool)
        use = on.copy()
        use[1:] &= on[:-1]
        use[:-1] &= on[1:]
        use[0] = use[-1] = False
    return hop.freqs_hz[bins], hop.power[:, bins].astype(np.float64) * hop.row_scale[:, None], use


def _reach(lo: float, hi: float, bin_hz: float) -> float:
    """How far beyond its span a group's skirts are looked for: twice its width and 40 bins."""
    return 2.0 * (hi - lo) + 40.0 * abs(bin_hz)


def _local(f: np.ndarray, p: np.ndarray, lo: float, hi: float, lim_lo: float, lim_hi: float) -> tuple[
        np.ndarray, np.ndarray]:
    """The part of a spectrum a group's measurement can reach: its span, skirts twice as wide, within the limits."""
    reach = _reach(lo, hi, float(f[1] - f[0]))
    a = int(np.searchsorted(f, max(lim_lo, lo - reach), side="left"))
    b = int(np.searchsorted(f, min(lim_hi, hi + reach), side="right"))
    a, b = min(a, f.size - 2), max(b, a + 2)
    return f[a:b], p[a:b]


def measure_group(emissions: Sequence[Emission], group: EmissionGroup, hops: Sequence[HopSlots],
                  freqs_hz: np.ndarray, power_dbm: np.ndarray, floor_dbm: float, *, x_db: float = 26.0,
                  limit_lo_hz: float | None = None, limit_hi_hz: float | None = None,
                  dc_bins: int = 0) -> Emission:
    """One emission for the group: SM.443 centre and bandwidths while it was on, power and SNR as the
    sweep's averages.

    freqs_hz, power_dbm, floor_dbm: the sweep's stitched mean spectrum and its floor; limit_*: the
    neighbouring groups' edges, which the skirts may not cross.
    """
    members = [emissions[i] for i in group.members]
    if len(members) == 1 and group.on_slots is None:
        return members[0]
    lo = min(e.f_lo_hz for e in members)
    hi = max(e.f_hi_hz for e in members)
    h = hops[group.hop]
    # a group that reaches past its hop's kept part (read in one hop across an edge) may use the hop's reach
    own_lo = h.kept_lo_hz if lo >= h.kept_lo_hz else h.reach_hz[0]
    own_hi = h.kept_hi_hz if hi <= h.kept_hi_hz else h.reach_hz[1]
    lim_lo = own_lo if limit_lo_hz is None else max(limit_lo_hz, own_lo)
    lim_hi = own_hi if limit_hi_hz is None else min(limit_hi_hz, own_hi)
    average = measure_span(*_local(freqs_hz, power_dbm, lo, hi, lim_lo, lim_hi), floor_dbm=floor_dbm, f_lo_hz=lo,
                           f_hi_hz=hi, x_db=x_db,
                           limit_lo_hz=lim_lo, limit_hi_hz=lim_hi, skirt_bins=SKIRT_BINS) or members[0]
    if group.on_slots is None:
        return average
    # On the on-slots widened by CENTRE_WIDEN_SLOTS each side: the on-slots miss the partly-on slots at a
    # packet's ends and a weak stretch now and then, and an FSK's data moves the centroid of whatever part
    # of a packet is left out (a few hundred Hz for 50 symbols at +-2.5 kHz). Whole packets, and still few
    # off-slots (the whole dwell's average lets a steady neighbour's skirts weigh more).
    on = _widen(np.asarray(group.on_slots, bool), CENTRE_WIDEN_SLOTS)
    reach = _reach(lo, hi, float(np.diff(h.freqs_hz[h.order][:2])[0]))
    f_on, p_on = gated_spectrum_dbm(h, on, dc_bins, max(lim_lo, lo - reach), min(lim_hi, hi + reach))
    # fewer slots than the dwell: a skirt counts while its SKIRT_BINS mean is over the floor by more than
    # noise puts it there (two standard deviations), else skirts wander off over noise at low SNR
    k_on = int(np.count_nonzero(on)) * h.segments_per_slot / OVERLAP_DOF
    noise_db = 10.0 * np.log10(1.0 + 2.0 / np.sqrt(max(k_on, 1.0) * SKIRT_BINS))
    gated = measure_span(*_local(f_on, p_on, lo, hi, lim_lo, lim_hi), floor_dbm=floor_dbm + noise_db,
                         f_lo_hz=lo, f_hi_hz=hi, x_db=x_db, limit_lo_hz=lim_lo, limit_hi_hz=lim_hi,
                         skirt_bins=SKIRT_BINS)
    if gated is None:
        return average
    return dataclasses.replace(gated, peak_dbm=average.peak_dbm, power_dbm=average.power_dbm,
                               snr_db=average.snr_db)


__all__ = ["BURST_BLOCK_S", "BURST_PFA", "SKIRT_BINS", "EmissionGroup", "HopSlots", "band_slots", "burst_components",
           "gated_spectrum_dbm", "group_emissions", "hop_of",
           "measure_group", "plausible_channel_hz"]
