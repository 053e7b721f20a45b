"""A target link's multipath 1-sigma, read from its own recording's envelope (dsp.link_multipath)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from fm_channel_testkit import FS, fm_programme, through_channel

from dsp.link_multipath import (
    LINK_SIGMA_FLOOR_S,
    UNREAD_SIGMA_S,
    envelope_kurtosis,
    is_constant_envelope,
    link_sigma_s,
)
from dsp.xcorr import estimate_delay


def _gaussian(n: int, seed: int) -> np.ndarray:
    return through_channel(np.zeros(n, np.complex128), [], 1.0, seed)


def test_envelope_kurtosis_is_one_for_a_constant_envelope_and_two_for_a_noise_like_one():
    assert envelope_kurtosis(fm_programme(1)) == pytest.approx(1.0, abs=1e-9)
    assert envelope_kurtosis(_gaussian(100_000, 2)) == pytest.approx(2.0, abs=0.03)
    assert math.isnan(envelope_kurtosis(np.zeros(16, np.complex64)))


def test_fm_at_5_db_per_sample_is_constant_envelope_and_a_noise_like_carrier_is_not():
    noisy_fm = through_channel(fm_programme(3), [], math.sqrt(10**-0.5), 4)  # 5 dB over the whole sampled band
    assert 1.35 < envelope_kurtosis(noisy_fm) < 1.5
    assert is_constant_envelope(noisy_fm)
    assert not is_constant_envelope(_gaussian(25_000, 5))


def test_a_flat_link_states_the_floor_and_a_link_near_a_fade_much_more():
    flat = link_sigma_s(through_channel(fm_programme(6), [], 0.03, 7), FS, constant_envelope=True)
    assert flat == pytest.approx(LINK_SIGMA_FLOOR_S, rel=0.1)
    # a ray 2 dB under the direct one, opposite in phase at the carrier: a notch in the swept band
    faded = link_sigma_s(through_channel(fm_programme(8), [(1.5e-6, 0.8, math.pi)], 0.03, 9), FS,
                         constant_envelope=True)
    assert faded > 6 * flat


def test_stated_sigmas_hold_the_pulls_of_random_rural_to_urban_links():
    # 16 links of 1-3 rays 0.2-3 us late, 3-15 dB down, random phases (the simulator's mixed profile), 20 dB, 50 ms:
    # the pulls (peak against the clean programme) over the stated sigma measured RMS 0.80, none past 1.8;
    # the sigmas 63-501 m (median 100 m) for pulls of RMS 102 m
    rng = np.random.default_rng(11)
    z, sig = [], []
    for k in range(16):
        x = fm_programme(200 + k, n=12_500)
        rays = [(math.exp(rng.uniform(math.log(0.2e-6), math.log(3e-6))), 10 ** (rng.uniform(-15, -3) / 20),
                 rng.uniform(0, 2 * math.pi)) for _ in range(int(rng.integers(1, 4)))]
        y = through_channel(x, rays, 0.1, k)
        s = link_sigma_s(y, FS, constant_envelope=True)
        z.append(estimate_delay(x, y, centre=0, max_lag=8, weighted=False).delay_samples / FS / s)
        sig.append(s)
    rms = math.sqrt(float(np.mean(np.square(z))))
    assert 0.5 < rms < 1.0, rms
    assert max(abs(v) for v in z) < 2.5
    assert np.ptp(sig) > 5 * LINK_SIGMA_FLOOR_S  # the sigma follows the link, not one number for all


def test_what_cannot_be_read_gets_the_unread_term():
    # a noise-like carrier; a constant envelope whose sweep is too narrow (12.5 kHz NFM, +-2.5 kHz); too short
    assert link_sigma_s(_gaussian(25_000, 12), FS, constant_envelope=False) == UNREAD_SIGMA_S
    assert link_sigma_s(fm_programme(13, dev_hz=2.5e3), FS, constant_envelope=True) == UNREAD_SIGMA_S
    assert link_sigma_s(fm_programme(14)[:500], FS, constant_envelope=True) == UNREAD_SIGMA_S
