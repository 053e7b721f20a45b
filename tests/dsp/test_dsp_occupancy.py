"""ITU-R SM.1880 occupancy: FCO vs a Bernoulli process, FBO, Wilson intervals."""

from __future__ import annotations

import numpy as np
import pytest

import dsp

BIN_HZ = 1250.0
FREQS = 446.0e6 + np.arange(800) * BIN_HZ  # 1 MHz of 1.25 kHz bins
CHANNEL_WIDTH_HZ = 12.5e3  # 10 bins per channel
CENTRES = 446.0e6 + CHANNEL_WIDTH_HZ * (np.arange(8) + 0.5) - BIN_HZ / 2  # first 8 channels


def _sweeps(rates, revisits, seed=0, signal_dbm=-70.0):
    """Noise at -110 dBm/bin; channel c carries a -70 dBm/bin signal with probability rates[c] per sweep."""
    rng = np.random.default_rng(seed)
    noise_mw = 1e-11 * rng.gamma(10, 1 / 10, size=(revisits, FREQS.size))
    occupied = rng.random((revisits, len(rates))) < np.asarray(rates)[None, :]
    lin = noise_mw.copy()
    for c in range(len(rates)):
        lin[occupied[:, c], c * 10 : c * 10 + 10] += 10 ** (signal_dbm / 10)
    return 10 * np.log10(lin), occupied


def test_fco_matches_bernoulli_rate():
    rates = [0.0, 0.02, 0.1, 0.25, 0.5, 0.75, 0.95, 1.0]
    frames, occupied = _sweeps(rates, 2000)
    # channel power threshold: noise integrates to -100 dBm over 10 bins, signal to -60 dBm
    res = dsp.channel_occupancy(frames, FREQS, CENTRES, CHANNEL_WIDTH_HZ, -80.0)
    assert res.revisits == 2000
    np.testing.assert_allclose(res.channel_centers_hz, CENTRES)
    # exactly the simulated occupancy (the signal is 40 dB over the noise) ...
    np.testing.assert_allclose(res.fco, occupied.mean(axis=0), atol=0)
    # ... and within 4 binomial standard deviations of the true rate, inside the Wilson interval
    for rate, fco, lo, hi in zip(rates, res.fco, res.fco_ci_low, res.fco_ci_high):
        assert abs(fco - rate) <= 4 * np.sqrt(rate * (1 - rate) / 2000) + 1e-12
        assert lo <= rate <= hi
    assert res.fbo == pytest.approx(np.mean(res.fco))
    assert res.fbo == pytest.approx(np.mean(rates), abs=0.02)


def test_threshold_per_channel_and_peak_level():
    frames, occupied = _sweeps([0.5] * 8, 300, seed=3)
    thr = np.full(8, -80.0)
    thr[3] = -50.0  # above the signal's channel power (-60 dBm): never occupied
    res = dsp.channel_occupancy(frames, FREQS, CENTRES, CHANNEL_WIDTH_HZ, thr)
    assert res.fco[3] == 0.0 and res.fco[2] == pytest.approx(occupied[:, 2].mean())
    # peak level: the strongest bin reads -70 dBm, not -60; a -65 dBm threshold separates the two
    by_peak = dsp.channel_occupancy(frames, FREQS, CENTRES, CHANNEL_WIDTH_HZ, -65.0, level="peak")
    by_power = dsp.channel_occupancy(frames, FREQS, CENTRES, CHANNEL_WIDTH_HZ, -65.0)
    assert by_peak.fbo == 0.0
    assert by_power.fbo == pytest.approx(occupied.mean())


def test_wilson_interval_known_values():
    lo, hi = dsp.wilson_interval(5, 10)
    assert (float(lo), float(hi)) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    lo, hi = dsp.wilson_interval(0, 10)
    assert float(lo) == 0.0 and float(hi) == pytest.approx(0.2775, abs=1e-4)
    lo, hi = dsp.wilson_interval(10, 10)
    assert float(lo) == pytest.approx(0.7225, abs=1e-4) and float(hi) == 1.0


@pytest.mark.parametrize(("rate", "n"), [(0.05, 40), (0.3, 100), (0.9, 25)])
def test_wilson_interval_covers_95_percent(rate, n):
    """Over 20000 simulated channels the true rate falls inside the interval 93-97.5 % of the time."""
    k = np.random.default_rng(int(rate * 100) + n).binomial(n, rate, size=20_000)
    lo, hi = dsp.wilson_interval(k, n)
    coverage = np.mean((lo <= rate) & (rate <= hi))
    assert 0.93 <= coverage <= 0.975


def test_occupancy_result_dict_and_errors():
    frames, _ = _sweeps([0.5] * 8, 20)
    d = dsp.channel_occupancy(frames, FREQS, CENTRES, CHANNEL_WIDTH_HZ, -80.0).to_dict()
    assert set(d) == {"channel_centers_hz", "fco", "fco_ci_low", "fco_ci_high", "revisits", "fbo"}
    assert len(d["fco"]) == 8 and d["revisits"] == 20
    assert dsp.OccupancyResult.from_dict(d).to_dict() == d
    with pytest.raises(ValueError, match="fco_ci_high"):
        dsp.OccupancyResult.from_dict({**d, "fco_ci_high": d["fco_ci_high"][:3]})
    with pytest.raises(ValueError, match="revisits"):
        dsp.OccupancyResult.from_dict({**d, "revisits": 0})
    with pytest.raises(ValueError, match="contains no frequency bin"):
        dsp.channel_occupancy(frames, FREQS, [500e6], CHANNEL_WIDTH_HZ, -80.0)
    with pytest.raises(ValueError, match="frames_dbm must be"):
        dsp.channel_occupancy(frames[:, :10], FREQS, CENTRES, CHANNEL_WIDTH_HZ, -80.0)
    with pytest.raises(ValueError, match="threshold_dbm"):
        dsp.channel_occupancy(frames, FREQS, CENTRES, CHANNEL_WIDTH_HZ, [-80.0, -70.0])
