"""Constant-envelope FM programmes and multipath channels for the envelope-reading tests (dsp.link_multipath)."""

from __future__ import annotations

import math

import numpy as np

FS = 250e3
N = 25_000


def fm_programme(seed: int, dev_hz: float = 60e3, n: int = N) -> np.ndarray:
    """Unit-envelope FM: band-limited noise programme (30 Hz - 15 kHz), 19 kHz pilot, +-``dev_hz``."""
    rng = np.random.default_rng(seed)
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / FS)
    spec[(f < 30) | (f > 15e3)] = 0
    audio = np.fft.irfft(spec, n)
    audio = 0.3 * audio / audio.std() + 0.1 * np.sin(2 * np.pi * 19e3 * np.arange(n) / FS)
    return np.exp(2j * np.pi * dev_hz * np.cumsum(np.clip(audio, -1, 1)) / FS)


def through_channel(x: np.ndarray, rays: list[tuple[float, float, float]], noise: float, seed: int) -> np.ndarray:
    """``x`` through a direct ray plus ``rays`` (excess delay s, relative amplitude, phase rad), exactly in
    frequency (circular: the programme is long against the rays), plus complex noise of rms ``noise``."""
    f = np.fft.fftfreq(x.size, 1 / FS)
    h = np.ones(x.size, np.complex128)
    for d, a, ph in rays:
        h += a * np.exp(1j * ph - 2j * np.pi * f * d)
    y = np.fft.ifft(np.fft.fft(x) * h)
    rng = np.random.default_rng(seed)
    return y + noise * (rng.standard_normal(x.size) + 1j * rng.standard_normal(x.size)) / math.sqrt(2)
