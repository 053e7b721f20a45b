"""The multipath pull of an FM broadcast's correlation peak, read from the envelope of one recording."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dsp.fm_multipath import CORRECT_BELOW_RIPPLE, SIGMA_FLOOR_S, SIGMA_UNREAD_S, fm_multipath
from dsp.xcorr import estimate_delay

FS = 250e3
N = 25_000


def _fm(seed: int, dev_hz: float = 60e3) -> np.ndarray:
    """Unit-envelope FM: band-limited noise programme (30 Hz - 15 kHz), 19 kHz pilot, +-``dev_hz``."""
    rng = np.random.default_rng(seed)
    spec = np.fft.rfft(rng.standard_normal(N))
    f = np.fft.rfftfreq(N, 1 / FS)
    spec[(f < 30) | (f > 15e3)] = 0
    audio = np.fft.irfft(spec, N)
    audio = 0.3 * audio / audio.std() + 0.1 * np.sin(2 * np.pi * 19e3 * np.arange(N) / FS)
    return np.exp(2j * np.pi * dev_hz * np.cumsum(np.clip(audio, -1, 1)) / FS)


def _channel(x: np.ndarray, rays: list[tuple[float, float, float]], noise: float, seed: int) -> np.ndarray:
    """``x`` through a direct ray plus ``rays`` (excess delay s, relative amplitude, phase rad), exactly in
    frequency (circular: the programme is long against the rays), plus complex noise of rms ``noise``."""
    f = np.fft.fftfreq(x.size, 1 / FS)
    h = np.ones(x.size, np.complex128)
    for d, a, ph in rays:
        h += a * np.exp(1j * ph - 2j * np.pi * f * d)
    y = np.fft.ifft(np.fft.fft(x) * h)
    rng = np.random.default_rng(seed)
    return y + noise * (rng.standard_normal(x.size) + 1j * rng.standard_normal(x.size)) / math.sqrt(2)


def _pull_s(x: np.ndarray, y: np.ndarray) -> float:
    return estimate_delay(x, y, centre=0, max_lag=8).delay_samples / FS


def test_flat_channel_reads_no_pull_and_no_ripple():
    x = _fm(1)
    mp = fm_multipath(_channel(x, [], 0.03, 2), FS)
    assert abs(mp.pull_s) < 10e-9  # 3 m
    assert mp.ripple < 0.01
    assert mp.sigma_s == pytest.approx(SIGMA_FLOOR_S)


def test_weak_rays_pull_is_read_with_its_sign_and_most_of_its_size():
    # 16 one- and two-ray channels, 0.3-3 us, 6-15 dB down, random phases, 30 dB SNR. 14 are read (two ripple
    # past the first-order range): their pulls' RMS 346 ns (104 m) -> 117 ns (35 m) left, every sign right
    # above 20 ns
    rng = np.random.default_rng(7)
    pulls, left = [], []
    for k in range(16):
        x = _fm(100 + k)
        rays = [(math.exp(rng.uniform(math.log(0.3e-6), math.log(3e-6))), 10 ** (rng.uniform(-15, -6) / 20),
                 rng.uniform(0, 2 * math.pi)) for _ in range(1 + k % 2)]
        y = _channel(x, rays, 0.03, 200 + k)
        mp = fm_multipath(y, FS)
        if mp.ripple >= CORRECT_BELOW_RIPPLE:  # left alone (the strong-ray test holds that case)
            continue
        true = _pull_s(x, y)
        pulls.append(true)
        left.append(true - mp.pull_s)
        if abs(true) > 20e-9:
            assert math.copysign(1, mp.pull_s) == math.copysign(1, true), (k, true, mp.pull_s)
    rms, rms_left = float(np.sqrt(np.mean(np.square(pulls)))), float(np.sqrt(np.mean(np.square(left))))
    assert len(pulls) >= 12
    assert rms_left < 0.5 * rms, (rms, rms_left)


def test_strong_ray_is_not_corrected_and_owns_up_to_a_wide_sigma():
    # a ray 1 dB under the direct one notches the band: the first-order reading does not hold
    x = _fm(3)
    mp = fm_multipath(_channel(x, [(2.5e-6, 0.9, 2.0)], 0.03, 4), FS)
    assert mp.ripple >= CORRECT_BELOW_RIPPLE
    assert mp.pull_s == 0.0
    assert mp.sigma_s * 299_792_458.0 > 300.0  # m: the uncorrected pulls past this ripple reach a km


def test_unmodulated_carrier_gives_nothing_to_read():
    t = np.arange(N) / FS
    mp = fm_multipath(np.exp(2j * np.pi * 1e3 * t), FS)
    assert mp.pull_s == 0.0 and mp.sigma_s == SIGMA_UNREAD_S


def test_short_or_shapeless_recording_refused_with_its_shape():
    with pytest.raises(ValueError, match=r"\(100,\)"):
        fm_multipath(np.ones(100, np.complex64), FS)
    with pytest.raises(ValueError, match="1-D"):
        fm_multipath(np.ones((2, 2000), np.complex64), FS)
