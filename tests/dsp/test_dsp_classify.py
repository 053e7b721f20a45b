"""Emission classes: the features mean what they say, and each synthetic waveform gets its class."""

from __future__ import annotations

import numpy as np
import pytest

from dsp.classify import Features, baseband, classify, iq_features
from dsp.synth import known_signal, obw_99_hz

RATE = 100e3


def noisy(x: np.ndarray, snr_db: float, seed: int) -> tuple[np.ndarray, float]:
    """x (unit power) plus white noise at snr_db over the whole band; returns (IQ, noise power)."""
    rng = np.random.default_rng(seed)
    n_w = 10 ** (-snr_db / 10)
    noise = (rng.standard_normal(x.size) + 1j * rng.standard_normal(x.size)) * np.sqrt(n_w / 2)
    return (x + noise).astype(np.complex64), n_w


@pytest.mark.parametrize(("name", "expected"), [("constant", 1.0), ("gaussian", 2.0), ("ook", 2.0)])
def test_kurtosis_with_the_noise_removed(name: str, expected: float) -> None:
    rng = np.random.default_rng(4)
    n = 1 << 16
    if name == "constant":
        x = np.exp(2j * np.pi * np.cumsum(rng.uniform(-0.1, 0.1, n)))
    elif name == "gaussian":
        x = (rng.standard_normal(n) + 1j * rng.standard_normal(n)) / np.sqrt(2)
    else:  # on about half the time: kurtosis 1 / duty
        keyed = np.repeat(rng.integers(0, 2, n // 64), 64).astype(float)
        x = keyed / np.sqrt(keyed.mean()) + 0j
        expected = 1.0 / keyed.mean()
    y, n_w = noisy(x, 10.0, 5)
    assert iq_features(y, RATE, n_w, 20e3)["kurtosis"] == pytest.approx(expected, abs=0.06)


def test_fsk_levels_explain_the_instantaneous_frequency() -> None:
    rng = np.random.default_rng(6)
    sps = 40
    levels = rng.choice([-10e3, 10e3], 400)
    fsk = np.exp(2j * np.pi * np.cumsum(np.repeat(levels, sps)) / RATE)
    feats = iq_features(noisy(fsk, 15.0, 7)[0], RATE, 10 ** -1.5, 30e3)
    assert feats["fsk2_fit"] > 0.85
    fm = np.exp(2j * np.pi * 8e3 * np.cumsum(np.sin(2 * np.pi * 700 * np.arange(16000) / RATE)
                                            + 0.7 * np.sin(2 * np.pi * 1900 * np.arange(16000) / RATE)) / RATE)
    assert iq_features(noisy(fm, 15.0, 8)[0], RATE, 10 ** -1.5, 30e3)["fsk2_fit"] < 0.8


def test_baseband_keeps_amplitude_and_rate() -> None:
    n = 1 << 14
    tone = 0.5 * np.exp(2j * np.pi * 20e3 * np.arange(n) / RATE)
    y, rate = baseband(tone.astype(np.complex64), RATE, 20e3, 2e3)
    assert rate == pytest.approx(1.25 * 2e3, rel=0.05)
    assert np.abs(y).mean() == pytest.approx(0.5, rel=1e-3)


def test_the_spectrum_alone_tells_a_line_and_a_block_not_fm_from_fsk() -> None:
    assert classify(Features(obw_hz=500.0, obw_bins=2.0, carrier_share=1.0, squareness=1.0)).emission_class == "cw"
    block = classify(Features(obw_hz=200e3, obw_bins=800.0, carrier_share=0.01, squareness=0.95))
    assert block.emission_class == "wideband_digital" and 0.5 <= block.confidence <= 0.7
    hump = classify(Features(obw_hz=30e3, obw_bins=120.0, carrier_share=0.1, squareness=0.5))
    assert hump.emission_class == "unknown" and hump.confidence == 0.0


def test_synthetic_answers_hold_what_they_claim() -> None:
    sig = known_signal("2fsk", snr_db=20.0, seed=77)
    assert len(sig.bursts) >= 2 and not sig.continuous
    on = np.zeros(sig.iq.size, bool)
    for start, dur in sig.bursts:
        on[round(start * sig.sample_rate_hz) : round((start + dur) * sig.sample_rate_hz)] = True
    # the noise alone (off-burst) and the keyed power give the stated SNR over the stated bandwidth
    noise_w_per_hz = float(np.mean(np.abs(sig.iq[~on]) ** 2)) / sig.sample_rate_hz
    keyed_w = float(np.mean(np.abs(sig.iq[on]) ** 2)) - noise_w_per_hz * sig.sample_rate_hz
    assert 10 * np.log10(keyed_w / (noise_w_per_hz * sig.obw_hz)) == pytest.approx(20.0, abs=0.3)
    obw, centre = obw_99_hz(np.exp(2j * np.pi * 1e3 * np.arange(4096) / 1e5), 1e5)
    assert centre == pytest.approx(1e3, abs=30) and obw < 100
    with pytest.raises(ValueError, match="unknown synthetic kind"):
        known_signal("dsb", snr_db=10, seed=1)


def _slot_rows(kind: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(freqs, rows) of 200 slots over 64 bins, floor 1 per bin: two tones sharing a constant power in a
    new mix every slot, or one hump rising and falling as a whole, plus the scatter of 4 periodograms."""
    rng = np.random.default_rng(seed)
    f = np.arange(64) * 1e3
    tone = lambda k: np.exp(-0.5 * ((np.arange(64) - k) / 2.0) ** 2)  # noqa: E731
    if kind == "fsk":
        p = rng.binomial(8, 0.5, 200) / 8.0  # share of 8 symbols on the upper tone
        clean = 20.0 * (np.outer(1 - p, tone(20)) + np.outer(p, tone(44)))
    else:
        clean = 20.0 * np.outer(rng.uniform(0.2, 1.0, 200), tone(32))
    rows = (clean + 1.0) * rng.gamma(4.0, 1 / 4.0, clean.shape)
    return f, rows


def test_slot_features_see_tones_switch_and_a_hump_keyed_as_a_whole() -> None:
    from dsp.classify import slot_features

    switching, coupling = slot_features(*_slot_rows("fsk", 11), 1.0, 30e3, segments=4.0)
    assert switching > 0.1 and coupling < -0.5
    switching, coupling = slot_features(*_slot_rows("keyed", 12), 1.0, 10e3, segments=4.0)
    assert switching < 0.02 and coupling > 0.5
    f, rows = _slot_rows("fsk", 13)
    assert slot_features(f, rows, 1.0, 30e3, use=np.arange(200) < 5) is None  # too few slots to judge


def test_tone_switching_is_fsk_only_where_the_tones_stand_apart() -> None:
    base = {"obw_hz": 40e3, "obw_bins": 130.0, "carrier_share": 0.05, "squareness": 0.9, "tone_switching": 0.08,
            "band_coupling": -0.9, "keyed": True}
    apart = classify(Features(**base, fill=0.2))
    assert apart.emission_class == "2fsk" and 0.6 <= apart.confidence <= 0.7
    # one hump moving as much (FM and its programme audio's bass) is not called FSK
    hump = {**base, "keyed": False, "obw_hz": 150e3, "squareness": 0.45}
    assert classify(Features(**hump, fill=1.0)).emission_class == "fm_broadcast"
    assert classify(Features(**base, fill=1.0)).emission_class == "unknown"
