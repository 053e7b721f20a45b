"""Emission class from an emission's spectrum and, where a capture exists, its IQ (after ITU-R SM.1600).

Classes (``dsp.synth.EMISSION_CLASSES``): ``cw``, ``am``, ``fm_broadcast``, ``nfm``, ``2fsk``, ``4fsk``,
``ook_ask``, ``wideband_digital`` (QPSK/OFDM-like), ``noise_like``; ``unknown`` when nothing decides.

The features are few and each answers one question a monitoring engineer asks:

* *Does the envelope carry information?* ``kurtosis``: E|s|^4 / (E|s|^2)^2 of the signal, the noise's
  share removed using the noise power known from the spectrum floor (for s + n with circular Gaussian
  noise of power N, E|x|^4 = E|s|^4 + 4 S N + 2 N^2). Constant envelope (CW, FM, FSK): 1; AM: 1-1.3;
  linear digital modulation (QPSK, root-raised-cosine): about 1.2-1.7; amplitude keying 1.4 and up;
  Gaussian-like (OFDM, noise) 2; on-off keying 1 / duty.
* *Is there a carrier?* ``carrier_share``: share of the emission's power in the strongest line (5 bins
  around the peak). AM and OOK/ASK keep one, FM mostly does not, QPSK/OFDM/noise do not.
* *Does the frequency dwell on levels?* The instantaneous frequency (where the envelope is up, lightly
  smoothed) clustered into 2 and 4 levels (``fsk2_fit``, ``fsk4_fit``: share of its variance the
  levels explain) and ``fi_spread`` (its standard deviation over the 99 % bandwidth): FSK dwells on 2 or 4
  tones, FM sweeps, AM and CW do not move.
* *Does the envelope step between two levels?* ``envelope_steps``: share of envelope samples at either
  of two levels (Otsu split) rather than between them; keyed amplitude steps, speech and fading glide.
* *Is the spectrum a block?* ``squareness``: 3 dB over 99 % bandwidth; a digital channel fills its band
  flat (0.7-1), a noise-like hump does not (~0.45). ``fill``: share of the bins between the outermost
  3 dB points that are within 3 dB of the top; a block is filled (about 1), two FSK tones with the
  spectrum sunk between them are not, though their 3 dB points lie as far apart as a block's.

Where no IQ was kept (a live sensor's sweep) the dwell's time slots (a mean PSD every ~2 ms) still say
how the spectrum moved in time (:func:`slot_features`):

* *Does the power jump between frequencies?* ``tone_switching``: standard deviation over the slots of
  each slot's power centroid, over the 99 % bandwidth. An FSK sends a different mix of its tones in
  every slot (a few symbols each), so its centroid jumps by a good part of the tone spacing; a linear
  digital block, FM with audio (averaged over the slot), AM, OOK, CW and noise keep theirs. The
  scatter a mean of a few periodograms has by chance is taken out: measured 0.049-0.15 on synthetic
  2-/4-FSK at 10-30 dB, 0-0.034 on the others (the highest an AM sideband measured on its own).
* *Does the band keep its power while it moves?* ``band_coupling``: correlation over the slots of the
  power in the lower and the upper half of the emission. A constant envelope (FM) or a many-symbol
  block trades power between the halves (-0.45 to -1), a noise-like hump lets them wander apart (~0),
  carriers with sidebands and keyed carriers move them together (positive).

Tone switching decides FSK only where the tones stand apart in the spectrum (``fill`` under
``BLOCK_FILL``): FM moved by the slow part of programme audio (bass, which a slot's average keeps)
switches as much, as one hump. One hump that switches is left ``unknown`` (4-FSK with its tones
merged at the bin width, or FM); one wide hump on throughout that trades power between its halves is
``fm_broadcast``.

The decision is a short tree on these (thresholds in the constants below); the confidence is the
smallest margin of the features to the thresholds that decided, mapped to 0.5-1, times 0.7 when no IQ
was available or its SNR in the emission's band is under ``MIN_IQ_SNR_DB`` (the spectrum alone tells
a line (when the bins resolve one) and a flat block; AM from low-index FM or FM from FSK it cannot).
With the slots it also tells an FSK whose tones stand apart (tone switching; 4-FSK is reported as
``2fsk``: the slots do not count the tones) and a wide continuous constant-power hump
(``fm_broadcast``); a narrow one stays ``unknown`` (NFM speech, or a fast FSK whose symbols the slots
average out).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import scipy.fft

from dsp.segments import otsu_split

#: Classes this module returns (``unknown`` besides).
CLASSES = ("cw", "am", "fm_broadcast", "nfm", "2fsk", "4fsk", "ook_ask", "wideband_digital", "noise_like")
#: The emission is a line when its 99 % bandwidth is within this many bins (window main lobe and skirts).
CW_MAX_BINS = 6.0
#: ... and narrower than this (Hz): coarser bins cannot tell a carrier from NFM.
CW_MAX_HZ = 1500.0
#: Kurtosis of a constant envelope (1) below this; linear modulation between; Gaussian-like above HIGH.
KURTOSIS_CONSTANT = 1.12
KURTOSIS_HIGH = 1.75
#: With a carrier: amplitude keying between two levels (depth >= 50 %: 1.36 and up) above this, AM
#: (speech or tones, m <= 0.9: up to about 1.3) below.
KURTOSIS_KEYED = 1.4
#: A line whose envelope moves this much (kurtosis over the analysis band) is AM with its sidebands
#: under the noise.
KURTOSIS_AM = 1.04
#: An AM or keyed emission keeps at least this share of its power in its carrier line.
CARRIER_SHARE = 0.2
#: FM broadcast is wider than this (99 %); narrowband FM narrower.
BROADCAST_MIN_HZ = 60e3
#: Instantaneous frequency that moves less than this share of the bandwidth: no angle modulation.
FI_STILL = 0.022
#: Two (four) frequency levels explain at least this share of the variance: FSK.
FSK_FIT = 0.85
#: Four levels explain at least this share for 4-FSK (FM with speech or tones: 0.84-0.92).
FSK4_FIT = 0.935
#: 4-FSK spends about half its samples at its two inner levels; 2-FSK (transitions) less than this.
FSK4_INNER = 0.4
#: Share of envelope samples on one of its two levels for a keyed (stepping) envelope.
ENVELOPE_STEPS = 0.75
#: 3 dB / 99 % bandwidth of a flat-topped digital channel at least this.
SQUARENESS = 0.6
#: A block is told from a hump the window smeared only over this many bins (99 % bandwidth) at least.
BLOCK_MIN_BINS = 4 * CW_MAX_BINS
#: A block fills at least this share of the bins between its outermost 3 dB points.
BLOCK_FILL = 0.9
#: A slot centroid that moves more than this share of the 99 % bandwidth (beyond what the periodograms'
#: scatter moves it): tones switching (FSK).
TONE_SWITCHING = 0.04
#: Lower and upper halves trading power at least this (correlation under it): constant power.
COUPLED = -0.35
#: Slots a slot feature needs (fewer: not judged).
MIN_SLOTS = 8
#: Under this SNR in its own band (dB) an emission's IQ statistics are noise's: spectrum only.
MIN_IQ_SNR_DB = 5.0
#: Samples the instantaneous frequency is averaged over (the analysis rate is 1.25 x the bandwidth).
FI_SMOOTH = 2
#: Samples of IQ (after filtering to the emission) the features use at most, and of input IQ (one FFT
#: of at most this many samples per emission bounds the time a long continuous capture costs).
MAX_SAMPLES = 1 << 17
MAX_INPUT_SAMPLES = 1 << 20


@dataclass(frozen=True)
class Features:
    """What the classifier looks at (see the module docstring); IQ features are None without a capture."""

    obw_hz: float
    obw_bins: float
    carrier_share: float
    squareness: float
    snr_db: float | None = None  # in the emission's band, from the IQ
    kurtosis: float | None = None
    fi_spread: float | None = None
    fsk2_fit: float | None = None
    fsk4_fit: float | None = None
    fsk4_inner: float | None = None  # share of the samples at the two inner of the four levels
    envelope_steps: float | None = None
    fill: float = 1.0  # share of the bins between the outermost 3 dB points within 3 dB of the top
    tone_switching: float | None = None  # from the time slots (see slot_features)
    band_coupling: float | None = None
    keyed: bool | None = None  # on in bursts (True), on throughout (False), unknown (None)


@dataclass(frozen=True)
class Classification:
    """An emission class and how sure the classifier is (0.5 = a coin toss between two, 1 = clear)."""

    emission_class: str
    confidence: float
    features: Features


def _shape_features(freqs_hz: np.ndarray, power_lin: np.ndarray, floor_lin: np.ndarray | float, f_lo_hz: float,
                    f_hi_hz: float, obw_hz: float) -> tuple[float, float, float, float]:
    """(obw_bins, carrier_share, squareness, fill) of the emission in [f_lo_hz, f_hi_hz] of a per-bin spectrum."""
    f = np.asarray(freqs_hz, dtype=np.float64)
    bin_hz = float(f[1] - f[0])
    sel = np.flatnonzero((f >= f_lo_hz) & (f <= f_hi_hz))
    if sel.size == 0:
        return obw_hz / bin_hz, 0.0, 0.0, 0.0
    fl = np.broadcast_to(np.asarray(floor_lin, dtype=np.float64), f.shape)
    sig = np.clip(np.asarray(power_lin, dtype=np.float64)[sel] - fl[sel], 0.0, None)
    total = float(sig.sum())
    if total <= 0:
        return obw_hz / bin_hz, 0.0, 0.0, 0.0
    k = int(np.argmax(sig))
    carrier = float(sig[max(0, k - 2) : k + 3].sum()) / total
    smooth = np.convolve(sig, np.ones(5) / 5, mode="same")
    high = smooth >= smooth.max() / 2.0
    above = np.flatnonzero(high)
    bw3 = (above[-1] - above[0] + 1) * bin_hz
    squareness = min(1.0, bw3 / obw_hz) if obw_hz > 0 else 0.0
    fill = float(high[above[0] : above[-1] + 1].mean())
    return obw_hz / bin_hz, carrier, squareness, fill


def spectrum_features(freqs_hz: np.ndarray, power_lin: np.ndarray, floor_lin: np.ndarray | float,
                      f_lo_hz: float, f_hi_hz: float, obw_hz: float) -> tuple[float, float, float]:
    """(obw_bins, carrier_share, squareness) of the emission in [f_lo_hz, f_hi_hz] of a per-bin spectrum
    (:func:`block_fill` is the fourth spectrum feature)."""
    return _shape_features(freqs_hz, power_lin, floor_lin, f_lo_hz, f_hi_hz, obw_hz)[:3]


def block_fill(freqs_hz: np.ndarray, power_lin: np.ndarray, floor_lin: np.ndarray | float, f_lo_hz: float,
               f_hi_hz: float) -> float:
    """Share of the bins between the outermost 3 dB points of the emission in [f_lo_hz, f_hi_hz] (its
    spectrum smoothed over 5 bins) that are within 3 dB of the top: 1 for a flat block."""
    return _shape_features(freqs_hz, power_lin, floor_lin, f_lo_hz, f_hi_hz, 1.0)[3]


def slot_features(freqs_hz: np.ndarray, rows_lin: np.ndarray, floor_per_bin: float, obw_hz: float,
                  segments: float = 1.0, use: np.ndarray | None = None) -> tuple[float, float] | None:
    """(tone_switching, band_coupling) of an emission from its time slots (see the module docstring).

    freqs_hz: the emission's bins, ascending; rows_lin: (slots, bins) mean power per bin of each slot,
    linear, in the unit of ``floor_per_bin``, each the mean of ``segments`` periodograms (its effective
    count: overlapping segments count less); use: the slots it was on in (None: all). None with fewer
    than ``MIN_SLOTS`` slots in use, fewer than two bins, or no power over the floor.
    """
    f = np.asarray(freqs_hz, dtype=np.float64)
    rows = np.asarray(rows_lin, dtype=np.float64)
    if rows.ndim != 2 or rows.shape[1] != f.size:
        raise ValueError(f"slot_features: rows must be (slots, {f.size}), got {rows.shape}")
    used = np.ones(rows.shape[0], bool) if use is None else np.asarray(use, bool)
    if used.shape != (rows.shape[0],):
        raise ValueError(f"slot_features: one use flag per slot ({rows.shape[0]}), got {used.shape}")
    x = rows[used] if use is not None else rows
    x = x - float(floor_per_bin)
    f = f - float(f[f.size // 2])  # relative to the middle: the moments below stay well conditioned
    if x.shape[0] < MIN_SLOTS or f.size < 2:
        return None
    mean = x.mean(axis=0)
    total = float(mean.sum())
    if total <= 0:
        return None
    split = float((mean * f).sum()) / total  # the emission's centroid divides it into halves
    # per slot, in one pass: power, first moment, power in the lower half
    band, moment, lower = (x @ np.stack([np.ones_like(f), f, (f < split).astype(np.float64)], axis=1)).T
    ok = band > 0
    if np.count_nonzero(ok) < MIN_SLOTS:
        return None
    c = moment[ok] / band[ok]
    # a slot's centroid moves by chance too: each bin of a mean of ``segments`` periodograms scatters by
    # its level over sqrt(segments); only the movement beyond that counts. sum r^2 (f - c)^2 expanded:
    r2 = (x[ok] + float(floor_per_bin)) ** 2 @ np.stack([f * f, f, np.ones_like(f)], axis=1)
    chance = (r2[:, 0] - 2.0 * c * r2[:, 1] + c * c * r2[:, 2]) / max(segments, 1.0) / band[ok] ** 2
    excess = float(np.var(c)) - float(np.mean(chance))
    switching = math.sqrt(max(excess, 0.0)) / max(float(obw_hz), float(f[1] - f[0]))
    upper = band - lower
    coupling = float(np.corrcoef(lower, upper)[0, 1]) if lower.std() > 0 and upper.std() > 0 else 0.0
    return switching, coupling


def _kmeans(v: np.ndarray, k: int) -> tuple[float, np.ndarray]:
    """k levels of 1-D ``v`` (Lloyd's k-means from quantiles): (share of the variance they explain,
    share of the samples at each level, levels ascending)."""
    var = float(np.var(v))
    if var <= 0 or v.size < 4 * k:
        return 0.0, np.full(k, 1.0 / k)
    centres = np.quantile(v, (np.arange(k) + 0.5) / k)
    for _ in range(20):
        label = np.argmin(np.abs(v[:, None] - centres[None, :]), axis=1)
        new = np.array([v[label == j].mean() if np.any(label == j) else centres[j] for j in range(k)])
        if np.allclose(new, centres):
            break
        centres = new
    within = float(np.mean((v - centres[label]) ** 2))
    return max(0.0, 1.0 - within / var), np.bincount(label, minlength=k) / v.size


def baseband(iq: np.ndarray, sample_rate_hz: float, offset_hz: float, bandwidth_hz: float) -> tuple[np.ndarray, float]:
    """The emission alone: shifted to 0 Hz, filtered to 1.25 x its bandwidth and decimated (FFT crop).

    Returns (IQ, its sample rate). Amplitudes are kept (a tone of amplitude A stays A); white noise of
    density N0 has power N0 * rate in the result.
    """
    x = np.asarray(iq, dtype=np.complex64)[:MAX_INPUT_SAMPLES]
    n = x.size
    spec = scipy.fft.fft(x, workers=1)
    shift = round(offset_hz / sample_rate_hz * n)
    keep = min(n, max(16, math.ceil(1.25 * bandwidth_hz / sample_rate_hz * n)))
    idx = (shift + np.arange(-(keep // 2), keep - keep // 2)) % n
    crop = np.fft.ifftshift(spec[idx])
    y = scipy.fft.ifft(crop, workers=1) * (keep / n)
    return y[:MAX_SAMPLES].astype(np.complex64), sample_rate_hz * keep / n


def iq_features(y: np.ndarray, rate_hz: float, noise_w: float, obw_hz: float) -> dict[str, float]:
    """Kurtosis, frequency levels and envelope steps of baseband IQ ``y`` whose noise power is noise_w."""
    p = np.abs(y.astype(np.complex128)) ** 2
    m2, m4 = float(p.mean()), float((p * p).mean())
    s = max(m2 - noise_w, 1e-30)
    kurt = (m4 - 4.0 * s * noise_w - 2.0 * noise_w**2) / (s * s)
    env = np.convolve(np.sqrt(p), np.ones(4) / 4, mode="same")
    up = env > 0.5 * np.median(env)
    fi = np.angle(y[1:] * np.conj(y[:-1])) * rate_hz / (2.0 * math.pi)
    fi = np.convolve(fi, np.ones(FI_SMOOTH) / FI_SMOOTH, mode="same")[up[1:] & up[:-1]]
    bw = max(obw_hz, 1.0)
    if fi.size >= 64:
        fi_n = fi / bw
        spread = float(np.std(fi_n))
        fit2, _ = _kmeans(fi_n, 2)
        fit4, shares = _kmeans(fi_n, 4)
        inner = float(shares[1] + shares[2])
    else:
        spread, fit2, fit4, inner = 0.0, 0.0, 0.0, 0.0
    split = otsu_split(env)
    lo, hi = env[env <= split], env[env > split]
    if lo.size and hi.size:
        lo_m, hi_m = float(np.median(lo)), float(np.median(hi))
        step = hi_m - lo_m
        near = (np.abs(env - lo_m) < step / 4.0) | (np.abs(env - hi_m) < step / 4.0)
        steps = float(near.mean())
    else:
        steps = 0.0
    return {"snr_db": 10.0 * math.log10(s / max(noise_w, 1e-30)), "kurtosis": float(kurt), "fi_spread": spread,
            "fsk2_fit": fit2, "fsk4_fit": fit4, "fsk4_inner": inner, "envelope_steps": steps}


def _margin(value: float, threshold: float, scale: float) -> float:
    """Confidence contribution of one decision: 0.5 at the threshold, 1 a scale or more away."""
    return min(1.0, 0.5 + 0.5 * abs(value - threshold) / scale)


def classify(features: Features) -> Classification:
    """The class of an emission from its features (the tree in the module docstring)."""
    f = features
    margins: list[float] = []

    def decide(value: float, threshold: float, scale: float) -> bool:
        margins.append(_margin(value, threshold, scale))
        return value > threshold

    if f.kurtosis is None or f.snr_db is None or f.snr_db < MIN_IQ_SNR_DB:
        return _classify_spectrum(f)
    k = f.kurtosis
    fi = f.fi_spread or 0.0
    if f.obw_hz <= CW_MAX_HZ and not decide(f.obw_bins, CW_MAX_BINS, 3.0) and not decide(k, KURTOSIS_HIGH, 0.25):
        # a line; AM whose sidebands are under the noise still moves its envelope
        cls = "am" if decide(k, KURTOSIS_AM, 0.02) else "cw"
    elif decide(k, KURTOSIS_HIGH, 0.25):
        if decide(f.carrier_share, CARRIER_SHARE, 0.15) or decide(f.envelope_steps or 0.0, ENVELOPE_STEPS, 0.1):
            cls = "ook_ask"
        else:
            cls = "wideband_digital" if decide(f.squareness, SQUARENESS, 0.15) else "noise_like"
    elif not decide(k, KURTOSIS_CONSTANT, 0.06):
        if not decide(fi, FI_STILL, 0.01):
            sidebands = decide(f.obw_bins, 2 * CW_MAX_BINS, 3.0) or decide(k, KURTOSIS_AM, 0.02)
            cls = "am" if sidebands else "cw"
        elif decide(f.fsk2_fit or 0.0, FSK_FIT, 0.07):
            cls = "2fsk"
        elif decide(f.fsk4_fit or 0.0, FSK4_FIT, 0.03):
            # four levels fit; 4-FSK uses its inner two as often as its outer two, a fast 2-FSK only
            # passes through them between its tones
            cls = "4fsk" if decide(f.fsk4_inner or 0.0, FSK4_INNER, 0.1) else "2fsk"
        else:
            cls = "fm_broadcast" if decide(f.obw_hz, BROADCAST_MIN_HZ, 20e3) else "nfm"
    elif decide(f.carrier_share, CARRIER_SHARE, 0.15):
        keyed = decide(k, KURTOSIS_KEYED, 0.1) or decide(f.envelope_steps or 0.0, ENVELOPE_STEPS, 0.1)
        cls = "ook_ask" if keyed else "am"
    else:
        cls = "wideband_digital"
    return Classification(cls, float(min(margins) if margins else 0.5), features)


def _classify_spectrum(f: Features) -> Classification:
    """Spectrum alone: a line or a flat block; with time slots also tone switching (FSK) and a wide
    constant-power hump (FM broadcast); the rest (AM or low-index FM, NFM or fast FSK) needs the IQ."""
    if f.obw_bins <= CW_MAX_BINS:  # a line, if the bins are fine enough to say so
        if f.obw_hz > CW_MAX_HZ:
            return Classification("unknown", 0.0, f)
        return Classification("cw", 0.7 * _margin(f.obw_bins, CW_MAX_BINS, 3.0), f)
    constant_power = f.band_coupling is not None and f.band_coupling < COUPLED
    switching = constant_power and f.tone_switching is not None and f.tone_switching > TONE_SWITCHING
    if switching and f.fill < BLOCK_FILL:
        # the power jumps between frequencies that stand apart in the spectrum, and the band keeps it: tones
        # switching (one hump that moves may be FM with programme audio: see below)
        margin = min(_margin(f.tone_switching or 0.0, TONE_SWITCHING, 0.01),
                     _margin(f.band_coupling or 0.0, COUPLED, 0.2), _margin(f.fill, BLOCK_FILL, 0.3))
        return Classification("2fsk", 0.7 * margin, f)
    if f.squareness > SQUARENESS + 0.15 and f.fill >= BLOCK_FILL and f.obw_bins >= BLOCK_MIN_BINS and not switching:
        # a block that does not switch (one that does is an FSK's tones merged at the bin width, or FM)
        margin = min(_margin(f.squareness, SQUARENESS + 0.15, 0.15), _margin(f.fill, BLOCK_FILL, 0.05))
        return Classification("wideband_digital", 0.7 * margin, f)
    if f.keyed is False and constant_power and f.obw_hz > BROADCAST_MIN_HZ and f.fill >= BLOCK_FILL:
        # one wide hump on throughout whose halves trade power: no carrier with sidebands (AM and keyed
        # carriers couple them positively), no noise (uncoupled), no tones apart (FSK)
        margin = min(_margin(f.band_coupling or 0.0, COUPLED, 0.2), _margin(f.obw_hz, BROADCAST_MIN_HZ, 20e3))
        return Classification("fm_broadcast", 0.7 * margin, f)
    return Classification("unknown", 0.0, f)


def classify_emission(iq: np.ndarray | None, sample_rate_hz: float, freqs_hz: np.ndarray, power_lin: np.ndarray,
                      floor_lin: np.ndarray | float, *, center_offset_hz: float, f_lo_hz: float, f_hi_hz: float,
                      obw_hz: float, slots: tuple[float, float] | None = None,
                      keyed: bool | None = None) -> Classification:
    """Features and class of one emission.

    freqs_hz, power_lin, floor_lin: the per-bin spectrum it was measured on (ascending; linear, per bin, on
    the scale of |iq|^2) and its noise floor; f_lo_hz..f_hi_hz its extent on that axis; center_offset_hz its
    centre relative to the IQ's centre; iq the samples it was on in (None: spectrum only); slots: its
    :func:`slot_features` where the time slots were kept, keyed whether it was on in bursts.
    """
    f = np.asarray(freqs_hz, dtype=np.float64)
    bin_hz = float(f[1] - f[0])
    # the spectrum features read only the emission's extent: cut it out once (a sweep has 10^3-10^5 bins)
    a = max(0, int(np.searchsorted(f, f_lo_hz, side="left")) - 1)
    b = min(f.size, max(int(np.searchsorted(f, f_hi_hz, side="right")) + 1, a + 2))
    fl_ab = np.broadcast_to(np.asarray(floor_lin, dtype=np.float64), f.shape)[a:b]
    p_ab = np.asarray(power_lin)[a:b]
    obw_bins, carrier, square, fill = _shape_features(f[a:b], p_ab, fl_ab, f_lo_hz, f_hi_hz, obw_hz)
    switching, coupling = slots if slots is not None else (None, None)
    feats = Features(obw_hz=float(obw_hz), obw_bins=obw_bins, carrier_share=carrier, squareness=square, fill=fill,
                     tone_switching=switching, band_coupling=coupling, keyed=keyed)
    if iq is not None and np.asarray(iq).size >= 256 and obw_bins > 0:
        bw = max(obw_hz, 4.0 * bin_hz)
        y, rate = baseband(iq, sample_rate_hz, center_offset_hz, bw)
        fl = np.broadcast_to(np.asarray(floor_lin, dtype=np.float64), f.shape)
        k = int(np.argmin(np.abs(f - (f_lo_hz + f_hi_hz) / 2.0)))
        noise_w = float(fl[k]) / bin_hz * rate
        feats = Features(**{**dataclasses.asdict(feats), **iq_features(y, rate, noise_w, bw)})
    return classify(feats)


__all__ = ["CLASSES", "Classification", "Features", "baseband", "block_fill", "classify", "classify_emission",
           "iq_features", "slot_features", "spectrum_features"]
