"""Noise floor: FCME with a Pfa-derived threshold, percentile, sliding floor."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import dsp


def _chi2_noise(n: int, k: int, mean: float, seed: int) -> np.ndarray:
    """Welch-averaged noise bins: mean * chi2(2K) / (2K)."""
    return np.random.default_rng(seed).gamma(k, mean / k, size=n)


def test_threshold_factor_from_chi_square():
    # K=1: the bin is exponential, P(X > T mu) = exp(-T) so T = ln(1/pfa)
    assert dsp.fcme_threshold_factor(1e-3, 1) == pytest.approx(np.log(1e3), rel=1e-9)
    # more averaging -> tighter noise -> smaller factor, tending to 1
    factors = [dsp.fcme_threshold_factor(1e-3, k) for k in (1, 4, 16, 64, 1024)]
    assert all(a > b for a, b in itertools.pairwise(factors))
    assert factors[-1] == pytest.approx(1.0, abs=0.15)


@pytest.mark.parametrize("k", [1, 4, 32])
def test_fcme_floor_on_chi_square_noise_within_2_percent(k):
    noise = _chi2_noise(65_536, k, 3.0e-9, seed=k)
    assert dsp.noise_floor(noise, segments=k) == pytest.approx(3.0e-9, rel=0.02)


@pytest.mark.parametrize(("k", "tolerance"), [(1, 0.10), (8, 0.03)])
def test_fcme_ignores_strong_signals_in_20_percent_of_bins(k, tolerance):
    """With K=1 the threshold is 6.9x the floor, so the weak skirts of the shaped emission count as
    noise (+8 %); with K=8 it is 2.1x and the estimate is within 3 %."""
    p = _chi2_noise(65_536, k, 1.0, seed=10 + k)
    p[5000:15000] += 100.0  # a wideband emission, 20 dB up
    p[40000:43000] += 10.0 * np.hanning(3000)  # a shaped one
    assert dsp.noise_floor(p, segments=k) == pytest.approx(1.0, rel=tolerance)
    # the plain mean is off by a factor of 16: a floor estimator is needed at all
    assert p.mean() > 10.0


@pytest.mark.parametrize(("pfa", "k"), [(1e-2, 1), (1e-3, 1), (1e-3, 10), (1e-2, 50)])
def test_pfa_is_respected(pfa, k):
    """Threshold T * floor on 10^6 noise-only bins: the false-alarm fraction is pfa within 20 %."""
    noise = _chi2_noise(1_000_000, k, 1.0, seed=int(1 / pfa) + k)
    floor = dsp.noise_floor(noise, pfa=pfa, segments=k)
    t = dsp.fcme_threshold_factor(pfa, k)
    assert np.mean(noise > t * floor) == pytest.approx(pfa, rel=0.2)


@pytest.mark.parametrize("k", [1, 16])
def test_percentile_method_estimates_the_mean(k):
    noise = _chi2_noise(65_536, k, 2.0, seed=100 + k)
    assert dsp.noise_floor(noise, method="percentile", segments=k) == pytest.approx(2.0, rel=0.03)
    # a plain median of exponential noise would read ln 2 = -1.6 dB low; the correction removes that
    assert dsp.noise_floor(noise, method="percentile", percentile=50.0, segments=k) == pytest.approx(
        2.0, rel=0.03
    )


def test_sliding_floor_follows_a_sloped_and_stepped_floor():
    n, k = 8192, 16
    true_db = np.linspace(-100.0, -90.0, n)  # 10 dB slope (filter roll-off)
    true_db[n // 2 :] -= 10.0  # and a 10 dB step
    p = _chi2_noise(n, k, 1.0, seed=7) * 10 ** (true_db / 10)
    p[1000:1040] *= 1000.0  # narrow emissions, 30 dB up
    p[6000:6100] *= 100.0
    floor = dsp.sliding_noise_floor(p, window_bins=256, segments=k)
    err_db = 10 * np.log10(floor) - true_db
    away_from_step = np.abs(np.arange(n) - n // 2) > 256
    assert np.max(np.abs(err_db[away_from_step])) < 0.5
    # a single flat floor would be wrong by about 5 dB at both ends
    flat_db = 10 * np.log10(dsp.noise_floor(p, segments=k))
    assert np.max(np.abs(flat_db - true_db)) > 4.0


def test_floor_rejects_db_input_and_bad_method():
    with pytest.raises(ValueError, match="linear power"):
        dsp.noise_floor(np.array([-100.0, -90.0]))
    with pytest.raises(ValueError, match="unknown noise floor method"):
        dsp.noise_floor(np.ones(10), method="mean")
    with pytest.raises(ValueError, match="segments"):
        dsp.noise_floor(np.ones(10), segments=0)
