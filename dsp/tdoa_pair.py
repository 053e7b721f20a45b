"""One sensor pair's time difference of arrival from two synchronised snapshots.

A snapshot is one sensor's continuous recording on one sample clock: the reference broadcaster
(``ref_before``), the target, the reference again (``ref_after``), with the settling samples after each
retune already excluded from the three windows. The chain for sensor i against sensor 0:

1. reference lags: coarse by the FM discriminator (wide window, immune to the crystals' frequency
   offset), then the frequency offset of the aligned pair, a first rate from it (the RTL-SDR's tuner and
   sampler share one crystal), sensor i resampled onto sensor 0's clock and the lag refined to sub-sample;
2. clock map: the two reference lags minus the broadcaster's known path difference give sensor i's
   offset and rate against sensor 0 (:func:`dsp.clock_align.fit_clock_map`); each sensor's multipath pull
   of the broadcaster, read from the envelope of its own reference segments (:mod:`dsp.fm_multipath`), is
   taken out of both lags (one pull per link: the rate stays the data's);
3. target: sensor i's target window resampled through the clock map, the lag looked for first by the
   blocks' summed correlation power (blind to the residual carrier offset), that offset removed, the lag
   measured within the geometric window (+- baseline / c): that lag is the TDOA. An FM target's links are
   pulled by their multipath like the reference's and read the same way, from each sensor's own envelope,
   when the caller says the target is FM (a noise-like or digital target's envelope does not trace the
   channel: there the pulls stay in, and the caller's model term covers them).

The sigma of the TDOA adds the target lag's, the clock map's at the target and the reference geometry's
(the broadcaster's licensed position is known to some tens of metres).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from dsp.clock_align import ClockMap, fit_clock_map, resample, rotate
from dsp.fm_multipath import MIN_MULTIPATH_SAMPLES, SIGMA_UNREAD_S, FmMultipath, fm_multipath
from dsp.link_multipath import envelope_kurtosis
from dsp.xcorr import (
    DelayEstimate,
    XcorrError,
    coarse_delay_blocks,
    coarse_delay_fm,
    estimate_delay,
    estimate_freq_offset,
)

#: Samples kept clear of a window's ends when resampling into it (the interpolator's reach).
EDGE_SAMPLES = 24
#: Block length of the target's first look (s): a residual carrier offset up to ~40 Hz turns a block's
#: correlation by under half a cycle.
TARGET_BLOCK_S = 0.0125
#: A target the caller says is constant-envelope (FM) is read only where its recording looks it: E|x|^4 / (E|x|^2)^2
#: below this (2 - (S / (S + N))^2 for a constant envelope with noise: 1.17 at 10 dB, 1.75 at 0 dB; 2 for a
#: noise-like signal). Not a test of the class on its own: a root-raised-cosine QPSK carrier reads ~1.25, and its
#: envelope against its instantaneous frequency can look like a channel's curvature (one read a 900 m pull).
CONSTANT_ENVELOPE_MAX_KURTOSIS = 1.8


class TdoaPairError(ValueError):
    """A pair that gives no time difference (no reference correlation, windows that do not overlap)."""


@dataclass(frozen=True)
class SnapshotWindows:
    """One sensor's recording and where its three segments lie in it (sample indices, settling excluded)."""

    iq: np.ndarray
    sample_rate_hz: float
    ref_before: tuple[int, int]
    target: tuple[int, int]
    ref_after: tuple[int, int]
    ref_freq_hz: float
    target_freq_hz: float
    pps_locked: bool = False

    def segment(self, span: tuple[int, int]) -> np.ndarray:
        return np.asarray(self.iq[span[0] : span[1]])


@dataclass(frozen=True)
class PairTdoa:
    """Sensor i's arrival minus sensor 0's (seconds) and what it rests on."""

    tdoa_s: float
    sigma_s: float
    target: DelayEstimate
    clock: ClockMap
    ref_estimates: tuple[DelayEstimate, ...]
    #: each sensor's multipath pull of the reference (sensor 0's, sensor i's; averaged over the two segments),
    #: already removed from the clock map; empty when not estimated (PPS, or the correction turned off)
    ref_multipath: tuple[FmMultipath, ...] = ()
    #: the same for the target links (sensor 0's, sensor i's) of an FM target, already removed from ``tdoa_s``;
    #: empty when not read (the target not said to be FM, too weak at a sensor, or not sweeping the band)
    target_multipath: tuple[FmMultipath, ...] = ()


def _ref_lag(s0: SnapshotWindows, si: SnapshotWindows, span0: tuple[int, int], spani: tuple[int, int],
             max_clock_lag: int, multipath: tuple[FmMultipath, FmMultipath] | None = None
             ) -> tuple[float, float, DelayEstimate, float]:
    """Lag of sensor i behind sensor 0 on one reference segment: (n0 centre, lag, estimate, rate guess).

    ``multipath``: the two links' estimated pulls (sensor 0's, sensor i's), taken out of the lag."""
    n = min(span0[1] - span0[0], spani[1] - spani[0])
    a = s0.iq[span0[0] : span0[0] + n]
    b_i0 = spani[0]
    b = si.iq[b_i0 : b_i0 + n]
    k = coarse_delay_fm(a, b, max_lag=max_clock_lag) + (b_i0 - span0[0])
    # frequency offset and the rate it implies (shared crystal: rate error = - offset / carrier)
    kk = k - (b_i0 - span0[0])
    dnu = estimate_freq_offset(a, b, kk)
    ratio = 1.0 - dnu * s0.sample_rate_hz / s0.ref_freq_hz
    # sensor-0 samples whose counterparts fall inside sensor i's window, with a margin
    n0 = np.arange(span0[0], span0[1], dtype=np.float64)
    centre = 0.5 * (span0[0] + span0[1])
    pos = n0 + k + (ratio - 1.0) * (n0 - centre)
    keep = (pos >= spani[0] + EDGE_SAMPLES) & (pos < spani[1] - EDGE_SAMPLES)
    if keep.sum() < 256:
        raise TdoaPairError(f"reference windows overlap by {int(keep.sum())} samples only (clock lag {k})")
    n0, pos = n0[keep], pos[keep]
    y = resample(si.iq[spani[0] : spani[1]], pos - spani[0])
    x = s0.iq[int(n0[0]) : int(n0[-1]) + 1].astype(np.complex128)
    y = rotate(y, estimate_freq_offset(x, y, 0.0))
    est = estimate_delay(x, y, centre=0, max_lag=8)
    if not est.reliable:
        raise TdoaPairError(f"reference correlation unreliable (peak {est.peak:.2f}, "
                            f"sidelobe {est.sidelobe_ratio:.2f})")
    mid = 0.5 * (n0[0] + n0[-1])
    lag = k + (ratio - 1.0) * (mid - centre) + est.delay_samples * ratio
    if multipath is not None:
        lag -= (multipath[1].pull_s - multipath[0].pull_s) * s0.sample_rate_hz
    return mid, lag, est, ratio


def _link_multipath(s: SnapshotWindows, span: tuple[int, int]) -> FmMultipath:
    """One sensor's pull on one reference segment; a segment too short to read is left uncorrected."""
    seg = s.segment(span)
    if seg.size < MIN_MULTIPATH_SAMPLES:
        return FmMultipath(0.0, SIGMA_UNREAD_S, math.nan)
    return fm_multipath(seg, s.sample_rate_hz)


def _mean_multipath(a: FmMultipath, b: FmMultipath) -> FmMultipath:
    """One link seen in two segments: the pulls averaged, the larger sigma and ripple kept."""
    return FmMultipath(0.5 * (a.pull_s + b.pull_s), max(a.sigma_s, b.sigma_s), max(a.ripple, b.ripple))


def target_multipath(s0: SnapshotWindows, si: SnapshotWindows) -> tuple[FmMultipath, FmMultipath] | None:
    """Both target links' multipath pulls of an FM target, or None where either cannot be read.

    The same physics as the reference links: an FM target's envelope at each sensor traces that link's
    channel gain across the swept band (:mod:`dsp.fm_multipath`). Each sensor's segment is read on its own
    clock (a pull is a time). Not read: a segment whose envelope is not constant to within the noise
    (``CONSTANT_ENVELOPE_MAX_KURTOSIS``: a sensor that hears the target near or under its noise), or one that
    sweeps too little of the band (narrowband FM)."""
    seg0, segi = s0.segment(s0.target), si.segment(si.target)
    if min(seg0.size, segi.size) < MIN_MULTIPATH_SAMPLES:
        return None
    if not max(envelope_kurtosis(seg0), envelope_kurtosis(segi)) < CONSTANT_ENVELOPE_MAX_KURTOSIS:  # nan: silent
        return None
    links = fm_multipath(seg0, s0.sample_rate_hz), fm_multipath(segi, si.sample_rate_hz)
    return links if all(math.isfinite(m.ripple) for m in links) else None


def clock_map(s0: SnapshotWindows, si: SnapshotWindows, ref_geometric_lag_s: float,
              max_clock_lag_s: float = 0.025, pps_sigma_s: float = 50e-9, *, multipath_correction: bool = True
              ) -> tuple[ClockMap, tuple[DelayEstimate, ...], tuple[FmMultipath, ...]]:
    """Sensor i's clock against sensor 0's, from the two reference segments (or PPS when both have it).

    With ``multipath_correction`` each link's multipath pull of the FM reference (:mod:`dsp.fm_multipath`) is
    read from its own envelope and taken out of every reference lag; returned are the two links' pulls."""
    fs = s0.sample_rate_hz
    if s0.pps_locked and si.pps_locked:
        return ClockMap.identity(pps_sigma_s * fs * math.sqrt(2)), (), ()
    max_lag = math.ceil(max_clock_lag_s * fs)
    spans = ((s0.ref_before, si.ref_before), (s0.ref_after, si.ref_after))
    links: tuple[FmMultipath, FmMultipath] | None = None
    if multipath_correction:
        # One channel in both segments: one pull per link for both, so the correction moves the clock map's
        # offset and leaves its rate alone (two segments' own estimates differ by their noise, which over the
        # 0.1-0.2 s between them would tilt the rate by ppm: at UHF a carrier offset of a kHz on the target).
        links = (_mean_multipath(_link_multipath(s0, s0.ref_before), _link_multipath(s0, s0.ref_after)),
                 _mean_multipath(_link_multipath(si, si.ref_before), _link_multipath(si, si.ref_after)))
    points = [_ref_lag(s0, si, a, b, max_lag, links) for a, b in spans]
    geo = ref_geometric_lag_s * fs
    cmap = fit_clock_map(np.array([p[0] for p in points]), np.array([p[1] for p in points]),
                         np.array([p[2].sigma_samples for p in points]), geo)
    return cmap, tuple(p[2] for p in points), links if links is not None else ()


def pair_tdoa(s0: SnapshotWindows, si: SnapshotWindows, *, ref_geometric_lag_s: float, max_tdoa_s: float,
              ref_geometry_sigma_s: float = 0.0, max_clock_lag_s: float = 0.025,
              ref_multipath_correction: bool = True, target_fm: bool = False) -> PairTdoa:
    """TDOA of the target at sensor i minus sensor 0 (seconds), with its 1-sigma (without the multipath
    terms: the reference links' are in ``ref_multipath``; the target links' are a model term of the caller, or,
    when the caller knows the target is FM (``target_fm``: its class from the detection) and both links could be
    read, in ``target_multipath``, their pulls already taken out of ``tdoa_s``)."""
    if abs(s0.sample_rate_hz - si.sample_rate_hz) > 1e-6 * s0.sample_rate_hz + 1.0:
        raise TdoaPairError(f"sample rates differ ({s0.sample_rate_hz} vs {si.sample_rate_hz} Hz)")
    fs = s0.sample_rate_hz
    try:
        cmap, refs, links = clock_map(s0, si, ref_geometric_lag_s, max_clock_lag_s,
                                      multipath_correction=ref_multipath_correction)
    except XcorrError as exc:
        raise TdoaPairError(f"reference: {exc}") from exc
    a0, b0 = s0.target
    ai, bi = si.target
    n0 = np.arange(a0, b0, dtype=np.float64)
    pos = cmap.index_at(n0)
    max_lag = math.ceil(max_tdoa_s * fs) + 2
    keep = (pos >= ai + EDGE_SAMPLES) & (pos < bi - EDGE_SAMPLES)
    if keep.sum() < 256:
        raise TdoaPairError(f"target windows overlap by {int(keep.sum())} samples only")
    n0, pos = n0[keep], pos[keep]
    y = resample(si.iq[ai:bi], pos - ai)
    x = s0.iq[int(n0[0]) : int(n0[-1]) + 1].astype(np.complex128)
    # the frequency offset the clock implies at the target carrier, then what remains from the data
    y = rotate(y, -(cmap.ratio - 1.0) * si.target_freq_hz / fs)
    try:
        # The first look has the residual offset still in (tens of Hz from the clock map's rate at UHF), which
        # cancels a whole window's correlation: it sums the correlation power of blocks short enough
        # (TARGET_BLOCK_S) that the offset turns each by a fraction of a cycle.
        first_lag = coarse_delay_blocks(x, y, max_lag=max_lag, block_samples=round(TARGET_BLOCK_S * fs))
        y = rotate(y, estimate_freq_offset(x, y, first_lag))
        # Look again without the offset, and take it again where the peak now is. The answer is searched over
        # the whole geometric window: centred on the first look, a wrong first look cut the true peak off.
        again = estimate_delay(x, y, centre=0, max_lag=max_lag, weighted=False)
        if round(again.delay_samples) != first_lag:
            y = rotate(y, estimate_freq_offset(x, y, again.delay_samples))
        est = estimate_delay(x, y, centre=0, max_lag=max_lag)
    except XcorrError as exc:
        raise TdoaPairError(f"target: {exc}") from exc
    mid = 0.5 * (n0[0] + n0[-1])
    sigma = math.sqrt(est.sigma_samples**2 + cmap.sigma_at(mid) ** 2) / fs
    sigma = math.sqrt(sigma**2 + ref_geometry_sigma_s**2)
    tdoa_s = est.delay_samples / fs
    tlinks = target_multipath(s0, si) if target_fm else None
    if tlinks is not None:
        tdoa_s -= tlinks[1].pull_s - tlinks[0].pull_s
    return PairTdoa(tdoa_s=tdoa_s, sigma_s=sigma, target=est, clock=cmap, ref_estimates=refs,
                    ref_multipath=links, target_multipath=tlinks if tlinks is not None else ())
