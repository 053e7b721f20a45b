"""Known answers of the cross-correlation: sub-sample delays, honest sigmas, frequency offsets."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dsp.xcorr import coarse_delay_blocks, coarse_delay_fm, estimate_delay, estimate_freq_offset


def _bandlimited(rng, n, bw=0.5):
    """Complex Gaussian noise with energy within +-bw/2 cycles/sample (a wideband emission)."""
    spec = np.fft.fft(rng.standard_normal(n) + 1j * rng.standard_normal(n))
    spec[np.abs(np.fft.fftfreq(n)) > bw / 2] = 0
    return np.fft.ifft(spec)


def _delayed(x, d):
    """x delayed by d samples (exact for a band-limited periodic signal)."""
    f = np.fft.fftfreq(x.size)
    return np.fft.ifft(np.fft.fft(x) * np.exp(-2j * np.pi * f * d))


@pytest.mark.parametrize(("delay", "seed"), [(3.37, 1), (-12.81, 2), (0.5, 3), (140.05, 4)])
def test_delay_of_shifted_signal_within_005_sample(delay, seed):
    rng = np.random.default_rng(seed)
    x = _bandlimited(rng, 1 << 15, bw=0.6)
    y = _delayed(x, delay) * np.exp(1j * rng.uniform(0, 2 * np.pi))  # unknown carrier phase
    cut = slice(2000, 30000)  # not circular: a window of both
    noise = 0.3 * (rng.standard_normal((2, 28000)) + 1j * rng.standard_normal((2, 28000)))
    est = estimate_delay(x[cut] + noise[0], y[cut] + noise[1], max_lag=200)
    assert abs(est.delay_samples - delay) < 0.05
    assert est.reliable
    assert 0.8 < est.peak <= 1.0


def test_noise_free_delay_is_exact_to_a_thousandth():
    rng = np.random.default_rng(7)
    x = _bandlimited(rng, 1 << 14, bw=0.3)
    y = _delayed(x, 7.123)
    plain = estimate_delay(x[1000:15000], y[1000:15000], weighted=False)
    assert abs(plain.delay_samples - 7.123) < 2e-3  # the exact band-limited interpolant: no parabola bias
    # the SNR weighting caps its whitening 30 dB down; window leakage there costs a few hundredths
    weighted = estimate_delay(x[1000:15000], y[1000:15000])
    assert abs(weighted.delay_samples - 7.123) < 0.05


def test_sigma_matches_the_scatter_of_estimates():
    # 10 dB in band (a tenth of the band): the stated sigma within a factor 1.6 of the real scatter
    errs, sigmas = [], []
    for seed in range(30):
        rng = np.random.default_rng(100 + seed)
        x = _bandlimited(rng, 1 << 14, bw=0.1)
        p = np.mean(np.abs(x) ** 2)
        y = _delayed(x, 2.25)
        nz = math.sqrt(p / 2) * (rng.standard_normal((2, x.size)) + 1j * rng.standard_normal((2, x.size)))
        est = estimate_delay(x + nz[0], y + nz[1], max_lag=50)
        errs.append(est.delay_samples - 2.25)
        sigmas.append(est.sigma_samples)
    rms = float(np.sqrt(np.mean(np.square(errs))))
    stated = float(np.sqrt(np.mean(np.square(sigmas))))
    assert 1 / 1.6 < stated / rms < 1.6, (stated, rms)


def test_noise_only_is_not_reliable():
    rng = np.random.default_rng(5)
    a = rng.standard_normal(8192) + 1j * rng.standard_normal(8192)
    b = rng.standard_normal(8192) + 1j * rng.standard_normal(8192)
    est = estimate_delay(a, b, max_lag=100)
    assert not math.isfinite(est.sigma_samples) or est.peak < 0.1


def test_frequency_offset_of_aligned_pair():
    rng = np.random.default_rng(6)
    x = _bandlimited(rng, 1 << 14, bw=0.2)
    y = _delayed(x, 4.0) * np.exp(2j * np.pi * 3.3e-4 * np.arange(x.size))
    nu = estimate_freq_offset(x, y, 4.0)
    assert abs(nu - 3.3e-4) < 2e-6


def test_coarse_fm_lag_ignores_a_frequency_offset():
    rng = np.random.default_rng(8)
    n = 1 << 15
    audio = np.convolve(rng.standard_normal(n + 200), np.ones(40) / 40, mode="same")[:n]
    fm = np.exp(2j * np.pi * np.cumsum(0.2 * audio / np.std(audio) * 0.2))
    b = np.roll(fm, 1234) * np.exp(2j * np.pi * 0.02 * np.arange(n))  # 0.02 cycles/sample apart
    assert abs(coarse_delay_fm(fm[2000:30000], b[2000:30000], max_lag=3000) - 1234) <= 1


def _nfm(rng, n, dev_cps=0.01):
    """Narrowband FM (speech-like band-limited audio, peak deviation ``dev_cps`` cycles/sample)."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n)
    spec[(f < 0.0012) | (f > 0.012)] = 0
    audio = np.fft.irfft(spec, n)
    return np.exp(2j * np.pi * dev_cps * np.cumsum(np.clip(0.35 * audio / audio.std(), -1, 1)))


def test_block_lag_survives_a_carrier_offset_that_cancels_the_whole_window():
    # 5 cycles of residual offset over the window (25 Hz over 0.2 s at 250 kS/s): the plain correlation's
    # true peak cancels and its maximum is a wrong lag; 16 blocks each turn by under a third of a cycle
    rng = np.random.default_rng(12)
    n = 50_000
    x = _bandlimited(rng, n + 400, bw=0.6)
    y = _delayed(x, 23.4)[200 : n + 200] * np.exp(2j * np.pi * 5.0 * np.arange(n) / n)
    x = x[200 : n + 200]
    noise = 0.5 * (rng.standard_normal((2, n)) + 1j * rng.standard_normal((2, n)))
    a, b = x + noise[0], y + noise[1]
    assert abs(estimate_delay(a, b, max_lag=60, weighted=False).delay_samples - 23.4) > 2
    assert coarse_delay_blocks(a, b, max_lag=60, block_samples=3125) == 23


def test_narrow_signal_below_threshold_states_a_sigma_its_errors_respect():
    # 12.5 kHz NFM at 10 dB in its band, 0.26 s at 250 kS/s: the correlation is ~100 samples wide and its
    # peak wanders among noise ripples further than Carter's bound; the blocks' scatter must show it. The
    # normalised errors must look like a unit Gaussian's: the sigma stated before the blocks' averaging gain
    # and the coherence threshold were right had an RMS of 2.1 and 5 of 20 errors past 2.5 sigma.
    z, z_carter = [], []
    for seed in range(20):
        rng = np.random.default_rng(900 + seed)
        n = 1 << 16
        x = _nfm(rng, n + 256)
        d = 3.3 + rng.uniform(-0.5, 0.5)
        y = _delayed(x, d)[128 : 128 + n]
        x = x[128 : 128 + n]
        p_noise = 10 ** (-10 / 10) * 250 / 11
        nz = math.sqrt(p_noise / 2) * (rng.standard_normal((2, n)) + 1j * rng.standard_normal((2, n)))
        est = estimate_delay(x + nz[0], y + nz[1], max_lag=40)
        z.append((est.delay_samples - d) / est.sigma_samples)
        z_carter.append((est.delay_samples - d) / est.sigma_carter_samples)
    rms = float(np.sqrt(np.mean(np.square(z))))
    assert 0.6 < rms < 1.5, rms
    assert int(np.sum(np.abs(z) > 2.5)) <= 2, z  # a Gaussian's share is 1.2 %: 0.25 of 20
    assert float(np.sqrt(np.mean(np.square(z_carter)))) > 1.5  # the bound alone is too small here
