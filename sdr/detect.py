"""Find emissions in a block of IQ and, for each, when it was on (bursts).

The frequency domain answers *what* (``dsp.detect_emissions`` on a Welch spectrum against an FCME
noise floor); the time domain answers *when*: per short frame, the power in the emission's band
divided by the noise expected in that band *in that same frame*. The per-frame noise level is the
median of the frame's bins normalised by the spectrum's floor shape, so a receiver whose floor steps
by 10 dB mid-recording (AGC, gain change) moves the reference with it instead of producing one long
false burst. An emission above threshold in most long frames is continuous: one burst spanning the
block.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import scipy.fft
import scipy.signal

from dsp import Burst, Emission, detect_emissions, noise_floor, remove_dc_spike, segment_bursts, sliding_noise_floor
from dsp import welch_psd as _welch_psd
from dsp.classify import Features, classify_emission
from dsp.emissions import measure_span
from dsp.grouping import GroupingConfig, group_components
from dsp.obw import xdb_measurable
from dsp.segments import refine_bursts, segment_two_level

#: Frames per frame length in the overlapping frames that place burst edges (a quarter-frame hop).
FINE_HOPS = 4
#: A fine-window floor this far (dB) over the coarse-window floor is a wideband emission, not noise.
WIDE_BUMP_DB = 3.0


@dataclass(frozen=True)
class DetectConfig:
    """Detection settings; the defaults suit RTL-SDR captures from 250 kS/s to 2.4 MS/s."""

    nfft: int = 4096
    margin_db: float = 6.0
    merge_hz: float | None = None  # default sample_rate / 128
    x_db: float = 26.0
    dc_bins: int = 3
    burst_threshold_db: float = 6.0
    burst_merge_gap_s: float = 0.010
    min_burst_s: float = 0.002
    frame_s: float = 0.001
    continuous_fraction: float = 0.8
    continuous_snr_db: float = 2.0
    peak_margin_db: float = 10.0
    loud_margin_db: float = 3.0  # over the floor of the loudest-quarter spectrum (its noise scatters 0.3 dB)

    def __post_init__(self) -> None:
        if self.nfft < 16 or self.nfft & (self.nfft - 1):
            raise ValueError(f"nfft must be a power of two >= 16, got {self.nfft}")
        if self.margin_db <= 0:
            raise ValueError(f"margin_db must be > 0, got {self.margin_db}")


@dataclass(frozen=True)
class DetectedEmission:
    """An emission with absolute frequencies, its power in dBm (or nominal dBm) and its bursts."""

    emission: Emission
    bursts: tuple[Burst, ...]
    continuous: bool
    carrier: tuple[Burst, ...] = ()  # residual carrier left on around the packets (two-level segmentation)
    components: int = 1  # spectral components grouped into this emission (tones, sidebands, lobes)
    emission_class: str = "unknown"
    class_confidence: float = 0.0
    features: Features | None = None  # what the class was decided on (not in the JSON)
    xdb_measurable: bool = True  # the x-dB level stands clear of the noise (else the JSON says null)

    def to_dict(self) -> dict[str, object]:
        """The pinned JSON shape of ``borderwatch detect --json`` for one emission.

        ``bandwidth_xdb_hz`` is null when the emission is less than x dB (plus the noise's spread) over
        the floor: its x-dB points are under the noise, not measurable.
        """
        e = self.emission
        return {
            "center_hz": round(e.center_hz, 1),
            "peak_hz": round(e.peak_hz, 1),
            "bandwidth_xdb_hz": round(e.bandwidth_xdb_hz, 1) if self.xdb_measurable else None,
            "obw_hz": round(e.obw_hz, 1),
            "power_dbm": round(e.power_dbm, 2),
            "snr_db": round(e.snr_db, 2),
            "continuous": self.continuous,
            "bursts": [{"start_s": round(b.start_s, 6), "duration_s": round(b.duration_s, 6)} for b in self.bursts],
            "carrier": [{"start_s": round(b.start_s, 6), "duration_s": round(b.duration_s, 6)} for b in self.carrier],
            "components": self.components,
            "emission_class": self.emission_class,
            "class_confidence": round(self.class_confidence, 2),
        }


@dataclass(frozen=True)
class DetectionResult:
    """Everything ``detect`` found in one block of IQ."""

    emissions: tuple[DetectedEmission, ...]
    center_freq_hz: float
    sample_rate_hz: float
    duration_s: float
    floor_dbm_per_hz: float
    nfft: int
    extra: dict[str, object] = field(default_factory=dict)


def _frames_power(iq: np.ndarray, frame_len: int, hop: int | None = None) -> np.ndarray:
    """|FFT|^2 of Hann-windowed frames every ``hop`` samples (default: frame_len, not overlapping),
    fftshifted: shape (frames, frame_len)."""
    hop = hop or frame_len
    win = scipy.signal.get_window("hann", frame_len).astype(np.float32)
    x = iq.astype(np.complex64, copy=False)
    if hop == frame_len:
        n = iq.size // frame_len
        frames = x[: n * frame_len].reshape(n, frame_len) * win
    else:
        frames = np.lib.stride_tricks.sliding_window_view(x, frame_len)[::hop] * win
    spec = scipy.fft.fft(frames, axis=1, workers=1)
    return np.fft.fftshift((spec.real**2 + spec.imag**2), axes=1) / float(np.sum(win)) ** 2


@dataclass(frozen=True)
class FrameNoise:
    """Noise reference of a spectrogram: floor shape per bin times a level per frame."""

    shape: np.ndarray  # (bins,) relative floor shape (filter roll-off), from the time-averaged spectrum
    level: np.ndarray  # (frames,) noise level of each frame relative to that shape


def frame_noise(frames: np.ndarray) -> FrameNoise:
    """The noise reference of ``frames`` (|FFT|^2 per frame, shape (frames, bins)).

    Level per frame: the median of the frame's bins over the shape, divided by ln 2 (the median of
    exponentially distributed noise power is ln 2 times its mean); signals fill few bins so they
    barely move the median, while a floor step moves every bin and so the level.
    """
    shape = sliding_noise_floor(frames.mean(axis=0), window_bins=max(8, frames.shape[1] // 4),
                                segments=max(1, frames.shape[0]))
    tiny = np.finfo(np.float64).tiny
    level = np.median(frames / np.maximum(shape, tiny), axis=1) / math.log(2.0)
    return FrameNoise(shape, level)


def band_snr_db(frames: np.ndarray, bins: np.ndarray, noise: FrameNoise | None = None) -> np.ndarray:
    """Per frame: power in ``bins`` over the noise expected there in that same frame (dB)."""
    noise = noise or frame_noise(frames)
    tiny = np.finfo(np.float64).tiny
    expected = noise.level * float(noise.shape[bins].sum())
    band = frames[:, bins].sum(axis=1)
    return 10.0 * np.log10(np.maximum(band, tiny) / np.maximum(expected, tiny))


def _bins_at(offsets_hz: np.ndarray, sample_rate_hz: float, frame_len: int) -> np.ndarray:
    """Indices of the fftshifted bins of a frame_len FFT that hold the given offsets."""
    bin_hz = sample_rate_hz / frame_len
    idx = np.round(np.asarray(offsets_hz) / bin_hz).astype(np.int64) + frame_len // 2
    return np.unique(np.clip(idx, 0, frame_len - 1))


def _frame_len(sample_rate_hz: float, frame_s: float) -> int:
    return max(64, 1 << round(math.log2(max(2.0, sample_rate_hz * frame_s))))


def _steady(long_snr: np.ndarray, cfg: DetectConfig) -> bool:
    """On in (nearly) every long frame: the level that (1 - continuous_fraction) of them exceed is over the floor."""
    return float(np.percentile(long_snr, 100.0 * (1.0 - cfg.continuous_fraction))) > cfg.continuous_snr_db


def floor_two_scale(per_bin: np.ndarray, nfft: int, segments: int) -> np.ndarray:
    """Per-bin noise floor: sliding FCME in nfft/8 windows (follows a receiver's roll-off), except where a
    wideband emission fills whole windows and lifts that floor into a bump: there the nfft/2 windows,
    which still hold noise beside the emission, give the floor."""
    fine = sliding_noise_floor(per_bin, window_bins=max(16, nfft // 8), segments=segments)
    coarse = sliding_noise_floor(per_bin, window_bins=max(16, nfft // 2), segments=segments)
    return np.where(fine > coarse * 10 ** (WIDE_BUMP_DB / 10), coarse, fine)


#: Fewest long frames for a loudest-quarter spectrum (a quarter of them must be a few).
MIN_LOUD_FRAMES = 16


def _loud_quarter(frames: np.ndarray, level: float) -> np.ndarray | None:
    """Per bin, the mean of its loudest quarter of frames (|FFT|^2 per frame, shape (frames, bins)), scaled
    so its median is ``level`` (the mean spectrum's); None with fewer than MIN_LOUD_FRAMES frames."""
    n = frames.shape[0]
    if n < MIN_LOUD_FRAMES:
        return None
    quarter = max(1, n // 4)
    loud = np.partition(frames, n - quarter, axis=0)[n - quarter :].mean(axis=0)
    return loud * (level / max(float(np.median(loud)), np.finfo(np.float64).tiny))


def _strongest_burst(iq: np.ndarray, rate: float, bursts: tuple[Burst, ...], snr_db: np.ndarray,
                     frame_dt: float) -> np.ndarray:
    """IQ of the burst with the most signal energy, a frame trimmed off each end: what the class is judged on.

    One burst, not all of them back to back: packets of one transmitter arrive at different levels
    (the second wM-Bus telegram is 10 dB weaker), and their level steps are not modulation.
    """
    lin = 10.0 ** (np.asarray(snr_db) / 10.0)

    def energy(b: Burst) -> float:
        return float(lin[round(b.start_s / frame_dt) : round((b.start_s + b.duration_s) / frame_dt)].sum())

    best = max(bursts, key=energy)
    trim = frame_dt if best.duration_s > 4 * frame_dt else 0.0
    a, b = round((best.start_s + trim) * rate), round((best.start_s + best.duration_s - trim) * rate)
    return iq[max(0, a) : max(a + 1, b)]


def _gated(iq: np.ndarray, rate: float, bursts: tuple[Burst, ...], nfft: int) -> list[np.ndarray] | None:
    """IQ of the bursts back to back (what the transmitter sent, without the silence), or None if < 2 nfft.

    One piece, not a spectrum per burst: a Welch hop leaves up to a segment of each burst out, and which
    symbols are left out moves the centre of an FSK packet (760 Hz, 1.3 % of its channel, for 17 ms
    packets); the joins' steps cost less.
    """
    parts = [iq[max(0, round(b.start_s * rate)) : round((b.start_s + b.duration_s) * rate)] for b in bursts]
    total = sum(p.size for p in parts)
    return [np.concatenate(parts)] if total >= 2 * nfft else None


def detect(
    iq: np.ndarray,
    sample_rate_hz: float,
    center_freq_hz: float,
    config: DetectConfig | None = None,
    *,
    dbm_offset_db: float = 0.0,
) -> DetectionResult:
    """Emissions in ``iq`` (complex64, full scale 1) with their bursts; see the module docstring.

    dbm_offset_db: added to dBFS to get antenna-port dBm (``-gain - 10`` nominal for an RTL-SDR, or a
    calibration table's offset).
    """
    cfg = config or DetectConfig()
    iq = np.asarray(iq, dtype=np.complex64)
    # A zero-IF receiver's DC offset is a constant: the block's mean. A carrier even a few Hz off the centre
    # averages out over the block, so taking the mean out leaves it whole where the DC notch would not.
    iq = iq - np.complex64(np.mean(iq, dtype=np.complex128))
    nfft = cfg.nfft
    if iq.size < 4 * nfft:
        raise ValueError(f"need at least {4 * nfft} samples for nfft={nfft}, got {iq.size}")
    duration_s = iq.size / sample_rate_hz
    bin_hz = sample_rate_hz / nfft
    merge_hz = cfg.merge_hz if cfg.merge_hz is not None else sample_rate_hz / 128
    tiny = np.finfo(np.float64).tiny

    def spectrum(x: np.ndarray, detector: str, dc_bins: int = cfg.dc_bins) -> tuple[np.ndarray, np.ndarray]:
        offsets, density = _welch_psd(x, sample_rate_hz, nfft, detector=detector, scaling="density")
        per_bin = remove_dc_spike(density * bin_hz, dc_bins) if dc_bins else density * bin_hz
        return offsets, per_bin

    def welch_of(x: list[np.ndarray] | None, on_dc: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
        """Offsets, mean per-bin power, its floor and its Welch averages: of all the IQ (None), or of the
        given pieces of IQ, weighted by their averages. on_dc: the emission covers the centre bins, which
        the DC notch would rub out (a carrier there is most of an ASK's or AM's power): not notched (the
        receiver's DC offset is already out of the IQ)."""
        if x is None and not on_dc:
            return offsets, mean_p, floor, segments
        pieces = [iq] if x is None else x
        counts = [max(1, 2 * part.size // nfft - 1) for part in pieces]
        k = sum(counts)
        p = np.sum([c * spectrum(part, "mean", 0 if on_dc else cfg.dc_bins)[1]
                    for c, part in zip(counts, pieces)], axis=0) / k
        return offsets, p, floor_two_scale(p, nfft, k), k

    def to_db(x: np.ndarray) -> np.ndarray:
        return 10.0 * np.log10(np.maximum(x, tiny))

    offsets, mean_p = spectrum(iq, "mean")
    segments = max(1, 2 * iq.size // nfft - 1)
    floor = floor_two_scale(mean_p, nfft, segments)
    dc_hz = (cfg.dc_bins + 4) * bin_hz  # an emission this close to the centre has its skirt in the notch
    freqs = center_freq_hz + offsets
    found = list(
        detect_emissions(freqs, to_db(mean_p) + dbm_offset_db, floor_dbm=to_db(floor) + dbm_offset_db,
                         margin_db=cfg.margin_db, merge_hz=merge_hz, x_db=cfg.x_db)
    )
    # Short bursts hide in an average; the max-hold spectrum shows them. Keep those the mean missed.
    _, peak_p = spectrum(iq, "peak")
    peak_floor = sliding_noise_floor(peak_p, window_bins=max(16, nfft // 8), method="percentile", percentile=50.0)
    for e in detect_emissions(freqs, to_db(peak_p) + dbm_offset_db,
                              floor_dbm=to_db(peak_floor) + dbm_offset_db, margin_db=cfg.peak_margin_db,
                              merge_hz=merge_hz, x_db=cfg.x_db):
        if not any(e.f_lo_hz <= m.f_hi_hz and m.f_lo_hz <= e.f_hi_hz for m in found):
            found.append(e)
    # A wideband signal on a fifth of the time at 10 dB over its band shows neither in the mean (2 dB x
    # duty) nor over the max-hold's own noise peaks (8 dB < 10); the mean of each bin's loudest quarter
    # of frames holds its bursts and scatters by 8 % (0.3 dB) where there is noise only.
    long_frames = _frames_power(iq, nfft)
    loud_p = _loud_quarter(long_frames, float(np.median(mean_p)))
    if loud_p is not None:
        quarter = max(1, long_frames.shape[0] // 4)
        loud_floor = sliding_noise_floor(loud_p, window_bins=max(16, nfft // 8), method="percentile",
                                         percentile=50.0, segments=quarter)
        seen = list(found)
        for e in detect_emissions(freqs, to_db(loud_p) + dbm_offset_db, floor_dbm=to_db(loud_floor) + dbm_offset_db,
                                  margin_db=cfg.loud_margin_db, merge_hz=merge_hz, x_db=cfg.x_db):
            # only where nothing was seen within a channel (or its own width): next to a found emission it
            # is a part of it the mean missed (an FSK's other tone, a skirt), whose weak timing would not
            # group with it
            w = max(e.f_hi_hz - e.f_lo_hz, GroupingConfig().min_channel_hz)
            if not any(e.f_lo_hz - w <= m.f_hi_hz and m.f_lo_hz <= e.f_hi_hz + w for m in seen):
                found.append(e)
    found.sort(key=lambda e: e.center_hz)

    frame_len = _frame_len(sample_rate_hz, cfg.frame_s)
    frame_dt = frame_len / sample_rate_hz
    short_frames = _frames_power(iq, frame_len)
    short_noise, long_noise = frame_noise(short_frames), frame_noise(long_frames)
    hot = (mean_p > floor * 10 ** (cfg.margin_db / 10)) | (peak_p > peak_floor * 10 ** (cfg.peak_margin_db / 10))
    # The bins that made each detection carry the component; the rest of its extent is mostly noise.
    comp_bins = []
    for e in found:
        inside = (freqs >= e.f_lo_hz) & (freqs <= e.f_hi_hz)
        sel = np.flatnonzero(inside & hot)
        comp_bins.append(sel if sel.size else np.flatnonzero(inside))
    activity = np.array([band_snr_db(short_frames, _bins_at(offsets[sel], sample_rate_hz, frame_len), short_noise)
                         for sel in comp_bins]).reshape(len(found), short_frames.shape[0])
    steady = np.array([_steady(band_snr_db(long_frames, sel, long_noise), cfg) for sel in comp_bins], bool)
    groups = group_components(
        np.array([e.f_lo_hz for e in found]), np.array([e.f_hi_hz for e in found]),
        np.array([e.bandwidth_xdb_hz for e in found]), np.array([e.power_dbm for e in found]), activity, frame_dt,
        GroupingConfig(on_db=cfg.burst_threshold_db, gap_s=cfg.burst_merge_gap_s,
                       continuous_fraction=cfg.continuous_fraction), continuous=steady,
    ) if found else []

    results = []
    fine: tuple[np.ndarray, FrameNoise] | None = None
    edges = [(min(found[i].f_lo_hz for i in g), max(found[i].f_hi_hz for i in g)) for g in groups]
    for k, g in enumerate(groups):
        sel = np.unique(np.concatenate([comp_bins[i] for i in g]))
        long_snr = band_snr_db(long_frames, sel, long_noise)
        snr = activity[g[0]] if len(g) == 1 else band_snr_db(
            short_frames, _bins_at(offsets[sel], sample_rate_hz, frame_len), short_noise)
        seg = segment_two_level(snr, frame_dt, threshold_db=cfg.burst_threshold_db,
                                merge_gap_s=cfg.burst_merge_gap_s, min_duration_s=cfg.min_burst_s)
        bursts, carrier = seg.bursts, seg.carrier
        continuous = not carrier and _steady(long_snr, cfg)
        if not continuous and not bursts and not seg.steady:
            # too weak for short frames: the longer frames integrate more
            bursts = tuple(segment_bursts(long_snr, nfft / sample_rate_hz, threshold_db=cfg.burst_threshold_db,
                                          merge_gap_s=cfg.burst_merge_gap_s, floor_db=0.0))
        if not carrier:
            # an emission seen on average but in no frame is weak and steady: call it continuous
            continuous = continuous or not bursts or sum(b.duration_s for b in bursts) >= (
                cfg.continuous_fraction * duration_s)
        lo, hi = edges[k]
        lim_lo = edges[k - 1][1] if k > 0 else None
        lim_hi = edges[k + 1][0] if k + 1 < len(groups) else None

        def measure(x: list[np.ndarray] | None, lo: float = lo, hi: float = hi, lim_lo: float | None = lim_lo,
                    lim_hi: float | None = lim_hi) -> tuple[Emission | None, np.ndarray, np.ndarray, int]:
            """SM.443 over the whole group, on the spectrum of what it sent (IQ x: its bursts, not the
            silences; None: all of it), noise subtracted where it stands out."""
            off, p, f, k = welch_of(x, on_dc=bool(cfg.dc_bins) and lo - dc_hz <= center_freq_hz <= hi + dc_hz)
            e = measure_span(center_freq_hz + off, to_db(p) + dbm_offset_db, floor_dbm=to_db(f) + dbm_offset_db,
                             f_lo_hz=lo, f_hi_hz=hi, x_db=cfg.x_db, limit_lo_hz=lim_lo, limit_hi_hz=lim_hi,
                             averages=k, max_gap_hz=merge_hz)
            return e, p, f, k

        gated = None if continuous else _gated(iq, sample_rate_hz, bursts, nfft)
        measured, p_meas, f_meas, averages = measure(gated)
        if gated is not None and measured is not None and measured.snr_db < cfg.margin_db:
            # its band holds no energy during these "bursts": noise crossed the threshold, not a transmitter
            continuous = True
            measured, p_meas, f_meas, averages = measure(None)
        emission = measured or found[g[0]]
        if not continuous and not carrier:
            # edges to a quarter frame on the emission's own levels, in the band that holds 99 % of its power
            if fine is None:
                fine_frames = _frames_power(iq, frame_len, frame_len // FINE_HOPS)
                fine = (fine_frames, frame_noise(fine_frames))
            band = _bins_at(np.union1d(offsets[sel], offsets[(freqs >= emission.center_hz - emission.obw_hz / 2)
                                                          & (freqs <= emission.center_hz + emission.obw_hz / 2)]),
                            sample_rate_hz, frame_len)
            excess = 10.0 ** (band_snr_db(fine[0], band, fine[1]) / 10.0) - 1.0
            bursts = refine_bursts(excess, frame_dt / FINE_HOPS, frame_dt, bursts, search_s=cfg.burst_merge_gap_s)
            # no packet held energy in the band: what the spectrum shows is weak and steady
            continuous = not bursts
        if continuous:
            bursts, carrier = (Burst(0.0, duration_s),), ()
        sample = iq if continuous else _strongest_burst(iq, sample_rate_hz, bursts, snr, frame_dt)
        kind = classify_emission(sample, sample_rate_hz, freqs, p_meas, f_meas,
                                 center_offset_hz=emission.center_hz - center_freq_hz, f_lo_hz=emission.f_lo_hz,
                                 f_hi_hz=emission.f_hi_hz, obw_hz=emission.obw_hz)
        results.append(DetectedEmission(emission, bursts, continuous, carrier, len(g), kind.emission_class,
                                         kind.confidence, kind.features,
                                         xdb_measurable(emission.snr_db, cfg.x_db, averages)))
    results.sort(key=lambda d: d.emission.center_hz)
    floor_dbm_hz = float(to_db(np.asarray(noise_floor(mean_p, segments=segments) / bin_hz)) + dbm_offset_db)
    return DetectionResult(tuple(results), float(center_freq_hz), float(sample_rate_hz), duration_s, floor_dbm_hz, nfft)
