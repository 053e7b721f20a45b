"""Delay and frequency offset between two recordings of one signal: FFT cross-correlation, refined.

Why this shape: a time difference of arrival is the lag of the cross-correlation peak of two sensors'
recordings. The peak is found on the integer lags by FFT (zero-padded to a linear correlation), then
refined by Newton's method on |r(tau)|^2 where r(tau) is the band-limited correlation evaluated
exactly from the cross-spectrum (no parabola bias: a parabola through three samples of a sinc-like
peak misplaces it by up to ~0.1 sample; the exact interpolant is unbiased on noise-free data).

The carrier phases of two dongles are unrelated, so only the correlation's magnitude carries the
delay: its sharpness is set by the signal's RMS bandwidth about its own centre, not by where it sits
in the band. The reliability of an estimate is its 1-sigma from Carter's bound for time delay with
the per-bin coherence measured on the data (Welch-averaged over segments of the aligned overlap,
bias-corrected), plus the normalised peak and how far the next peak stays below the main one.

Carter's bound holds above the threshold SNR only. Below it (a narrow signal whose broad, slowly decaying
correlation carries noise ripples of comparable curvature: 12.5 kHz NFM at 10 dB), the peak wanders among
those ripples by ten times the bound. So the stated sigma is also measured on the data: the correlation is
a sum over blocks of ``a``, each block's own peak is found, and their scatter over sqrt(blocks) is the
sigma of the whole while the blocks stay above threshold. Once their scatter spans a good share of the
reach a peak can wander in (the main lobe, or the search window when narrower), the whole's peak jumps
among the same ripples and averaging the blocks buys nothing: the divisor falls from sqrt(blocks) to 1
(``BLOCK_SPREAD_ABOVE`` .. ``BLOCK_SPREAD_BELOW``). The scatter of eight numbers is itself uncertain: the
region is widened like a Student t of 7 degrees of freedom (``BLOCK_T_FACTOR``). The larger of the two
sigmas is stated. (A delete-a-block jackknife was tried first: it misses the jumps, its leave-one-out
correlations share most of the data and lock on the same ripple.)

Conventions: ``b`` lags ``a`` by ``delay_samples`` when b[n] ~ a[n - delay]. All lags in samples.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from dsp._tdoa_kernels import spectrum_derivs

#: Segments of the coherence estimate (Welch-averaged): more = less bias, coarser frequency grid.
COHERENCE_SEGMENTS = 64
#: Coherence (bias-corrected) a bin needs to count as carrying signal. A bin of noise alone passes 6.5/M
#: about once in 1,000-4,000 (its raw coherence is ~exponential with mean 1/M), about once per spectrum of a
#: 1 s window. At 3/M some 2 % of noise bins passed: far from a narrow signal's centre, with a
#: (f - f_c)^2 lever, they made Carter's bound SNR-blind and laid fine noise ripples on a broad peak (12.5 kHz
#: NFM at 10 dB: errors 3x larger, the stated sigma 2.5x too small).
COHERENCE_MIN = 6.5 / COHERENCE_SEGMENTS
#: The 1-sigma never claims better than this (samples): interpolation and quantisation limits.
SIGMA_FLOOR_SAMPLES = 2e-3
#: Newton steps on the correlation peak (quadratic convergence: 3-4 are usually enough).
NEWTON_STEPS = 8
#: Blocks whose own delays' scatter measures the sigma (more = a steadier sigma, one FFT pair each).
DELAY_BLOCKS = 8
#: The blocks' scatter (each block's delay about their mean) as a share of the reach a peak can wander in
#: (the main lobe, or the search window when that is narrower): below the first the blocks are above
#: threshold and their mean averages them (sigma / sqrt(blocks)); from the second on they jump among the
#: ripples of the whole reach, and so does the whole window's peak (no averaging gain). Log-linear between.
BLOCK_SPREAD_ABOVE = 0.03
BLOCK_SPREAD_BELOW = 0.3
#: The scatter is itself measured on DELAY_BLOCKS numbers (7 degrees of freedom): a 95 % region drawn with it
#: needs sqrt(2 F(2, 7; 0.95) / chi2(2; 0.95)) = sqrt(2 * 4.737 / 5.991) the width a known sigma would.
BLOCK_T_FACTOR = 1.257


class XcorrError(ValueError):
    """Recordings that cannot be correlated (empty, different lengths, no overlap in the lag window)."""


@dataclass(frozen=True)
class DelayEstimate:
    """The lag of ``b`` behind ``a`` and how far to trust it."""

    delay_samples: float
    sigma_samples: float  # 1-sigma stated: the larger of the two below; inf when nothing correlates
    peak: float  # |r| at the peak over sqrt(E_a E_b): 1 = identical up to delay and phase
    sidelobe_ratio: float  # highest |r| outside the main lobe over the main peak (0..1): ambiguity
    snr_eff_db: float  # coherence-weighted output SNR per bin, summarised (for logs and reports)
    sigma_carter_samples: float = math.inf  # Carter's bound from the measured coherence
    sigma_blocks_samples: float = 0.0  # scatter of the blocks' own delays over sqrt(blocks) (0: not measured)

    @property
    def reliable(self) -> bool:
        """A usable pair: a finite sigma and a main peak clearly above any other."""
        return math.isfinite(self.sigma_samples) and self.sidelobe_ratio < 0.8


def _check(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(a)
    b = np.asarray(b)
    if a.ndim != 1 or b.ndim != 1 or a.size < 16 or b.size < 16:
        raise XcorrError(f"need two 1-D recordings of >= 16 samples, got shapes {a.shape} and {b.shape}")
    if a.size != b.size:
        raise XcorrError(f"recordings differ in length ({a.size} vs {b.size} samples): cut them to one window")
    return a.astype(np.complex128), b.astype(np.complex128)


def _lag_window(nfft: int, n: int, centre: int, max_lag: int | None) -> np.ndarray:
    """Lags (signed) searched: centre +- max_lag, within what a linear correlation of n samples has."""
    lo, hi = -(n - 1), n - 1
    if max_lag is not None:
        lo, hi = max(lo, centre - max_lag), min(hi, centre + max_lag)
    if lo > hi:
        raise XcorrError(f"lag window {centre} +- {max_lag} lies outside +-{n - 1} samples")
    return np.arange(lo, hi + 1)


def _refine(cross: np.ndarray, omega: np.ndarray, k0: int, mags: tuple[float, float, float]) -> float:
    """Newton on |r(tau)|^2 from a parabola start; stays within half a sample of the integer peak."""
    m1, m0, p1 = mags
    den = m1 - 2 * m0 + p1
    tau = k0 + (0.5 * (m1 - p1) / den if den < 0 else 0.0)
    for _ in range(NEWTON_STEPS):
        r0, r1, r2 = spectrum_derivs(cross, omega, tau)
        g = 2.0 * (r1 * r0.conjugate()).real
        h = 2.0 * (r2 * r0.conjugate()).real + 2.0 * abs(r1) ** 2
        if h >= 0:  # not concave here: keep the parabola's answer
            break
        step = -g / h
        step = max(-0.25, min(0.25, step))
        tau += step
        if abs(step) < 1e-7:
            break
    return float(min(k0 + 0.5, max(k0 - 0.5, tau)))


def coherence(a: np.ndarray, b: np.ndarray, segments: int = COHERENCE_SEGMENTS) -> tuple[np.ndarray, np.ndarray]:
    """Bias-corrected magnitude-squared coherence per bin of two aligned recordings, and the bins'
    frequencies (cycles/sample). Welch average over ``segments`` non-overlapping Hann segments."""
    g2, freq, _ = _coherence_parts(a, b, segments)
    return g2, freq


def carter_sigma_samples(g2: np.ndarray, freq: np.ndarray, n_samples: int) -> tuple[float, float]:
    """1-sigma delay (samples) from per-bin coherence ``g2`` at ``freq`` (cycles/sample) over ``n_samples``.

    Carter's bound for complex baseband: var = 1 / (T * sum (2 pi (f - f_c))^2 * g2 / (1 - g2) * df), with
    T * df = n_samples / segment length; f_c is the coherence-weighted centre (the carrier phase is unknown,
    so only the spread about the centre carries the delay). Bins below COHERENCE_MIN carry nothing.
    Returns (sigma, summarised output SNR in dB).
    """
    w = np.where(g2 > COHERENCE_MIN, g2 / (1.0 - g2), 0.0)
    if not np.any(w > 0):
        return math.inf, -math.inf
    fc = float(np.sum(freq * w) / np.sum(w))
    info = float(np.sum((2 * np.pi * (freq - fc)) ** 2 * w)) * (n_samples / freq.size)
    snr_db = 10 * math.log10(float(np.max(w)))
    if info <= 0:
        return math.inf, snr_db
    return max(SIGMA_FLOOR_SAMPLES, 1.0 / math.sqrt(info)), snr_db


def estimate_delay(a: np.ndarray, b: np.ndarray, *, centre: int = 0, max_lag: int | None = None,
                   weighted: bool = True) -> DelayEstimate:
    """Lag of ``b`` behind ``a`` (samples, sub-sample) searched within ``centre +- max_lag``.

    Both recordings must have the same length (cut them to one window of one clock first). With
    ``weighted`` the cross-spectrum is weighted by each bin's measured SNR over its magnitude (the
    maximum-likelihood generalised cross-correlation): bins of noise alone, which a plain correlation
    lets in as noise on the peak, then count for nothing, and the estimate approaches Carter's bound
    that its sigma states. Without, a plain correlation and no sigma (a quick first look).
    """
    a, b = _check(a, b)
    n = a.size
    nfft = 1 << math.ceil(math.log2(2 * n))
    cross = np.fft.fft(a, nfft).conj() * np.fft.fft(b, nfft)
    r = np.fft.ifft(cross)
    lags = _lag_window(nfft, n, centre, max_lag)
    mag = np.abs(r[lags % nfft])
    k0 = int(lags[int(np.argmax(mag))])
    omega = 2 * np.pi * np.fft.fftfreq(nfft)
    energy = math.sqrt(float(np.sum(np.abs(a) ** 2)) * float(np.sum(np.abs(b) ** 2)))
    sigma, snr_db = math.inf, -math.inf
    work = cross
    lobe = 0
    weight = None
    if weighted:
        weight, sigma, snr_db, lobe = _ml_weight(a, b, k0, nfft)
        if weight is not None:
            work = cross * weight
            r = np.fft.ifft(work)
            near = lags[np.abs(lags - k0) <= lobe]
            k0 = int(near[int(np.argmax(np.abs(r[near % nfft])))])
            mag = np.abs(r[lags % nfft])
    mags = (float(np.abs(r[(k0 - 1) % nfft])), float(np.abs(r[k0 % nfft])), float(np.abs(r[(k0 + 1) % nfft])))
    tau = _refine(work / nfft, omega, k0, mags)
    peak_val = abs(spectrum_derivs(cross / nfft, omega, tau)[0])
    peak = peak_val / energy if energy > 0 else 0.0
    # Ambiguity: the highest lag outside the main lobe. Its width comes from the RMS bandwidth of the bins
    # that carry the signal (per-bin SNR >= a tenth of the best bin's): the weighted spectrum's own RMS
    # bandwidth counts the many noise-only bins of a narrowband signal, whose small but spread weights
    # make the lobe look far narrower than the correlation really is (a 12.5 kHz NFM correlation then
    # looked ambiguous at every SNR, its main lobe's shoulder taken for a sidelobe).
    if lobe <= 0:
        lobe = _main_lobe_halfwidth(work)
    outside = np.abs(lags - k0) > lobe
    top = float(np.abs(r[k0 % nfft]))
    side = float(mag[outside].max()) / max(top, 1e-300) if np.any(outside) else 0.0
    blocks = 0.0
    if weight is not None and math.isfinite(sigma):
        reach = float(min(lobe, (lags[-1] - lags[0]) / 2))
        blocks = _block_sigma(a, b, weight, lags[np.abs(lags - k0) <= lobe], reach)
    return DelayEstimate(delay_samples=tau, sigma_samples=max(sigma, blocks), peak=float(peak),
                         sidelobe_ratio=min(1.0, side), snr_eff_db=snr_db, sigma_carter_samples=sigma,
                         sigma_blocks_samples=blocks)


def coarse_delay_blocks(a: np.ndarray, b: np.ndarray, *, max_lag: int, block_samples: int) -> int:
    """Integer lag of ``b`` behind ``a`` within +-``max_lag`` that maximises the sum over blocks of
    ``block_samples`` of ``a`` of each block's correlation power, |r_k(lag)|^2.

    Why: a residual carrier offset turns a long correlation's terms through whole cycles and cancels it
    (21 Hz over a 0.2 s window is four cycles: the true peak sank under the noise and a first look landed on a
    wrong lag, where the offset then measured was noise too). Within a block the offset turns the terms by a
    fraction of a cycle; summing the blocks' powers keeps what each holds whatever the phase between them.
    """
    a, b = _check(a, b)
    n = a.size
    blocks = max(1, n // max(16, int(block_samples)))
    edges = np.linspace(0, n, blocks + 1).astype(np.int64)
    m = int(np.max(np.diff(edges)))
    nfft = 1 << math.ceil(math.log2(m + 2 * max_lag + 2))
    lags = np.arange(-max_lag, max_lag + 1)
    acc = np.zeros(lags.size)
    for k in range(blocks):
        s0, s1 = int(edges[k]), int(edges[k + 1])
        b0, b1 = max(0, s0 - max_lag), min(n, s1 + max_lag)
        r = np.fft.ifft(np.fft.fft(a[s0:s1], nfft).conj() * np.fft.fft(b[b0:b1], nfft))
        acc += np.abs(r[(lags + s0 - b0) % nfft]) ** 2
    return int(lags[int(np.argmax(acc))])


def _block_sigma(a: np.ndarray, b: np.ndarray, weight: np.ndarray, near: np.ndarray, reach: float,
                 blocks: int = DELAY_BLOCKS) -> float:
    """1-sigma (samples) of the weighted correlation's peak from the scatter of its blocks' own peaks.

    The correlation is a sum over blocks of ``a``: block k of ``a`` against the stretch of ``b`` its lags
    reach, weighted like the whole (``weight`` on the whole's FFT grid, taken every r-th bin on the
    block's r times coarser grid: it is smooth). Each block's peak is searched over the estimate's lags
    (``near``) and refined like it; the blocks' scatter over sqrt(blocks) is the sigma of their mean.
    Above threshold it equals the whole window's (the blocks' variances add up to it). Below, the divisor
    goes from sqrt(blocks) to 1 as the scatter grows from BLOCK_SPREAD_ABOVE to BLOCK_SPREAD_BELOW of
    ``reach`` (samples a peak can wander: the main lobe or the search window); times BLOCK_T_FACTOR.
    """
    n = a.size
    lo, hi = int(near.min()) - 1, int(near.max()) + 1
    edges = np.linspace(0, n, blocks + 1).astype(np.int64)
    m = int(np.max(np.diff(edges)))
    nfft_b = 1 << math.ceil(math.log2(2 * m + (hi - lo) + 2))
    step = weight.size // nfft_b
    if step < 1:
        return 0.0
    wb = weight[::step]
    omega = 2 * np.pi * np.fft.fftfreq(nfft_b)
    ests = []
    for k in range(blocks):
        s0, s1 = int(edges[k]), int(edges[k + 1])
        b0, b1 = max(0, s0 + lo), min(n, s1 + hi)
        shift = s0 - b0  # local lag = lag + shift
        share = np.fft.fft(a[s0:s1], nfft_b).conj() * np.fft.fft(b[b0:b1], nfft_b) * wb
        r = np.fft.ifft(share)
        loc = near + shift
        k0 = int(loc[int(np.argmax(np.abs(r[loc % nfft_b])))])
        mags = (float(np.abs(r[(k0 - 1) % nfft_b])), float(np.abs(r[k0 % nfft_b])),
                float(np.abs(r[(k0 + 1) % nfft_b])))
        ests.append(_refine(share / nfft_b, omega, k0, mags) - shift)
    spread = float(np.std(ests, ddof=1))
    return BLOCK_T_FACTOR * spread / math.sqrt(averaging_gain(spread, reach, blocks))


def averaging_gain(spread: float, reach: float, blocks: int = DELAY_BLOCKS) -> float:
    """How many blocks' worth of averaging the whole window's peak gets (1..blocks) when the blocks' own
    delays scatter by ``spread`` within a ``reach`` a peak can wander in (samples both)."""
    if reach <= 0 or spread <= 0:
        return float(blocks)
    x = math.log(max(spread / reach, 1e-12) / BLOCK_SPREAD_ABOVE) / math.log(BLOCK_SPREAD_BELOW / BLOCK_SPREAD_ABOVE)
    return float(blocks) ** (1.0 - min(1.0, max(0.0, x)))


def _main_lobe_halfwidth(cross: np.ndarray) -> int:
    """Half-width (samples) of the correlation's main lobe: ~ 1 / RMS bandwidth about the centre, >= 2."""
    p = np.abs(cross)
    f = np.fft.fftfreq(cross.size)
    tot = float(p.sum())
    if tot <= 0:
        return 2
    fc = float(np.sum(f * p) / tot)
    rms = math.sqrt(max(float(np.sum((f - fc) ** 2 * p) / tot), 1e-12))
    return max(2, math.ceil(0.5 / rms))


def _ml_weight(a: np.ndarray, b: np.ndarray, k0: int, nfft: int) -> tuple[np.ndarray | None, float, float, int]:
    """Per-bin ML weight on the ``nfft`` grid, Carter sigma, summarised SNR and the main lobe's half-width
    (samples; 0: unknown), from the coherence of the overlap of ``a`` and ``b`` shifted by the integer lag
    ``k0`` (None and inf when nothing correlates)."""
    n = a.size
    if k0 >= 0:
        aa, bb = a[: n - k0], b[k0:]
    else:
        aa, bb = a[-k0:], b[: n + k0]
    if aa.size < 8 * COHERENCE_SEGMENTS:
        return None, math.inf, -math.inf, 0
    g2, freq, sab = _coherence_parts(aa, bb)
    sigma, snr_db = carter_sigma_samples(g2, freq, aa.size)
    if not math.isfinite(sigma):
        return None, sigma, snr_db, 0
    order = np.argsort(freq)
    fgrid = np.fft.fftfreq(nfft)
    snr = np.where(g2 > COHERENCE_MIN, g2 / (1.0 - g2), 0.0)
    snr_i = np.interp(fgrid, freq[order], snr[order], period=1.0)
    mag_i = np.interp(fgrid, freq[order], np.abs(sab)[order], period=1.0)
    # Whitening stops 30 dB under the strongest bin: weaker bins that still look coherent hold window
    # leakage of the strong ones (noise-free or very strong signals), which carries no delay.
    floor = 1e-3 * float(np.max(mag_i)) + 1e-300
    weight = snr_i / np.maximum(mag_i, floor)
    return weight, sigma, snr_db, _signal_lobe_halfwidth(snr, freq)


def _signal_lobe_halfwidth(snr: np.ndarray, freq: np.ndarray) -> int:
    """Main lobe half-width (samples, >= 2) from the RMS bandwidth of the bins carrying the signal."""
    top = float(np.max(snr))
    if top <= 0:
        return 0
    w = np.where(snr >= 0.1 * top, snr, 0.0)
    fc = float(np.sum(freq * w) / np.sum(w))
    rms = math.sqrt(max(float(np.sum((freq - fc) ** 2 * w) / np.sum(w)), 1e-12))
    return max(2, math.ceil(0.5 / rms))


def _coherence_parts(a: np.ndarray, b: np.ndarray, segments: int = COHERENCE_SEGMENTS
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Coherence (bias-corrected), bin frequencies and the averaged cross-spectrum conj(A) B."""
    n = min(a.size, b.size)
    seg = n // segments
    if seg < 8:
        raise XcorrError(f"{n} samples are too few for a coherence over {segments} segments")
    win = np.hanning(seg)
    A = np.fft.fft(a[: seg * segments].reshape(segments, seg) * win, axis=1)
    B = np.fft.fft(b[: seg * segments].reshape(segments, seg) * win, axis=1)
    sab = (A.conj() * B).sum(axis=0)
    saa = (np.abs(A) ** 2).sum(axis=0)
    sbb = (np.abs(B) ** 2).sum(axis=0)
    g2 = np.abs(sab) ** 2 / np.maximum(saa * sbb, 1e-300)
    g2c = np.clip((segments * g2 - 1.0) / (segments - 1.0), 0.0, 0.9999)
    return g2c, np.fft.fftfreq(seg), sab


def estimate_freq_offset(a: np.ndarray, b: np.ndarray, delay_samples: float) -> float:
    """Frequency of ``b`` minus that of ``a`` (cycles/sample) once ``b`` is aligned by ``delay_samples``.

    The product conj(a[n]) b[n + d] of two aligned copies of one signal is its power envelope turning at
    the frequency difference, whatever the modulation: the peak of its spectrum, refined like the delay.
    """
    a, b = _check(a, b)
    k = round(delay_samples)
    n = a.size
    if k >= 0:
        z = a[: n - k].conj() * b[k:]
    else:
        z = a[-k:].conj() * b[: n + k]
    if z.size < 16:
        raise XcorrError(f"delay {delay_samples} leaves {z.size} overlapping samples")
    nfft = 1 << math.ceil(math.log2(4 * z.size))
    spec = np.abs(np.fft.fft(z, nfft))
    i = int(np.argmax(spec))
    # Refine on the exact transform Z(nu) = sum z[n] exp(-j 2 pi nu n): in the kernel's form, with
    # tau standing for the frequency (cycles/sample) and omega = -2 pi n.
    omega = -2 * np.pi * np.arange(z.size, dtype=np.float64)
    f0 = float(np.fft.fftfreq(nfft)[i])
    mags = (float(spec[(i - 1) % nfft]), float(spec[i]), float(spec[(i + 1) % nfft]))
    den = mags[0] - 2 * mags[1] + mags[2]
    nu = f0 + (0.5 * (mags[0] - mags[2]) / den / nfft if den < 0 else 0.0)
    for _ in range(NEWTON_STEPS):
        r0, r1, r2 = spectrum_derivs(z, omega, nu)
        g = 2.0 * (r1 * r0.conjugate()).real
        h = 2.0 * (r2 * r0.conjugate()).real + 2.0 * abs(r1) ** 2
        if h >= 0:
            break
        step = max(-0.5 / nfft, min(0.5 / nfft, -g / h))
        nu += step
        if abs(step) < 1e-12:
            break
    return float(nu)


def fm_discriminator(x: np.ndarray) -> np.ndarray:
    """Instantaneous frequency (cycles/sample) of ``x``, mean removed: a constant-envelope broadcast's
    modulation, which no tuning or LO error of the receiver changes (an offset only shifts the mean)."""
    x = np.asarray(x)
    d = np.angle(x[1:] * np.conj(x[:-1])) / (2 * np.pi)
    return d - d.mean()


def coarse_delay_fm(a: np.ndarray, b: np.ndarray, max_lag: int) -> int:
    """Integer lag of ``b`` behind ``a`` from the correlation of their FM discriminator outputs.

    Why: two dongles tuned to one FM broadcaster see it at frequencies that differ by their crystal
    errors (+-50 ppm is +-5 kHz at 100 MHz), which smears a complex correlation over a long window; the
    demodulated programme is the same in both, so its correlation finds the lag over a wide window
    (+- the start-time error of NTP-timed clocks) before the offset is known.
    """
    da, db = fm_discriminator(a), fm_discriminator(b)
    n = min(da.size, db.size)
    da, db = da[:n], db[:n]
    nfft = 1 << math.ceil(math.log2(2 * n))
    r = np.fft.ifft(np.fft.fft(da, nfft).conj() * np.fft.fft(db, nfft)).real
    lags = _lag_window(nfft, n, 0, max_lag)
    return int(lags[int(np.argmax(r[lags % nfft]))])
