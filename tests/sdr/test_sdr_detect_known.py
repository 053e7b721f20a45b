"""``sdr.detect`` on known-answer signals (dsp.synth): one emission per transmitter, where and when it was.

Seeds differ from the ones the detector was developed on. Tolerances: centre within 1 % of the channel;
99 % bandwidth within 10 % (or the 4-bin main lobe of the Hann window: a carrier is narrower than the
resolution); bursts within 2 ms. Bandwidth of keyed and AM signals needs more SNR: their 99 % power
includes keying sidebands and audio tones 20-30 dB under the peak, which sink under the noise first.
"""

from __future__ import annotations

import numpy as np
import pytest

from dsp.synth import KINDS, known_signal
from sdr.detect import DetectedEmission, detect

SEED = 1717
#: Lowest SNR (dB, over the signal's own bandwidth) at which the 99 % bandwidth is within 10 %.
BANDWIDTH_FROM_SNR_DB = {"ook": 20, "ask": 30, "am": 20}
#: Lowest SNR at which burst edges are within 2 ms: a keyed signal's first and last symbols may be
#: spaces, and at 10 dB a lone mark in a 1 ms frame is not told from noise.
BURSTS_FROM_SNR_DB = {"ook": 20, "ask": 20}


def strongest(found: tuple[DetectedEmission, ...]) -> DetectedEmission:
    return max(found, key=lambda d: d.emission.power_dbm)


@pytest.mark.parametrize("snr_db", [10, 20, 30])
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_one_emission_at_its_centre_with_its_bandwidth_and_bursts(kind: str, snr_db: int) -> None:
    sig = known_signal(kind, snr_db=snr_db, seed=SEED)
    result = detect(sig.iq, sig.sample_rate_hz, 0.0)
    assert len(result.emissions) == 1, [d.emission.center_hz for d in result.emissions]
    (found,) = result.emissions
    e = found.emission
    assert e.center_hz == pytest.approx(sig.center_hz, abs=0.01 * sig.channel_hz)
    if snr_db >= BANDWIDTH_FROM_SNR_DB.get(kind, 10):
        bin_hz = sig.sample_rate_hz / result.nfft
        assert e.obw_hz == pytest.approx(sig.obw_hz, abs=max(0.1 * sig.obw_hz, 4 * bin_hz))
    assert found.continuous == sig.continuous
    assert len(found.bursts) == len(sig.bursts)
    if snr_db < BURSTS_FROM_SNR_DB.get(kind, 10):
        return
    for got, (start_s, duration_s) in zip(found.bursts, sig.bursts):
        assert got.start_s == pytest.approx(start_s, abs=0.002)
        assert got.duration_s == pytest.approx(duration_s, abs=0.002)


def _tone_packets(n: int, fs: float, freq_hz: float, packets: list[tuple[float, float]], amp: float) -> np.ndarray:
    gate = np.zeros(n)
    for a, b in packets:
        gate[round(a * fs) : round(b * fs)] = 1.0
    return amp * gate * np.exp(2j * np.pi * freq_hz * np.arange(n) / fs)


def test_a_residual_carrier_between_packets_yields_the_packets_and_the_carrier() -> None:
    # carrier 16 dB over the floor (per 1 kHz) from 0.070 to 2.320 s, packets 29 dB; 250 kS/s for 2.5 s
    fs, n = 250e3, int(2.5 * 250e3)
    rng = np.random.default_rng(SEED)
    noise_w = 1e-6  # per sample; per 1 kHz: noise_w / fs * 1e3
    per_khz = noise_w / fs * 1e3
    packets = [(0.120 + 0.3 * k, 0.170 + 0.3 * k) for k in range(7)]
    iq = _tone_packets(n, fs, 40e3, [(0.070, 2.320)], np.sqrt(per_khz * 10 ** 1.6))
    ook = _tone_packets(n, fs, 40e3, packets, np.sqrt(per_khz * 10 ** 2.9))
    iq = np.where(np.abs(ook) > 0, ook, iq)
    iq = (iq + (rng.standard_normal(n) + 1j * rng.standard_normal(n)) * np.sqrt(noise_w / 2)).astype(np.complex64)
    (found,) = detect(iq, fs, 433.92e6).emissions
    assert not found.continuous
    ((carrier),) = found.carrier
    assert carrier.start_s == pytest.approx(0.070, abs=0.002)
    assert carrier.start_s + carrier.duration_s == pytest.approx(2.320, abs=0.002)
    assert [round(b.start_s, 3) for b in found.bursts] == pytest.approx([a for a, _ in packets], abs=0.002)
    assert all(b.duration_s == pytest.approx(0.050, abs=0.002) for b in found.bursts)


def test_two_devices_and_a_spur_near_a_bursty_signal_stay_apart() -> None:
    fs, n = 1e6, 500_000
    rng = np.random.default_rng(SEED + 1)
    noise = (rng.standard_normal(n) + 1j * rng.standard_normal(n)) * np.sqrt(1e-6 / 2)
    a = _tone_packets(n, fs, -100e3, [(0.05, 0.09), (0.25, 0.30)], 1e-2)
    b = _tone_packets(n, fs, -50e3, [(0.15, 0.19), (0.35, 0.37)], 1e-2)  # 50 kHz away, its own packets
    spur = _tone_packets(n, fs, -80e3, [(0.0, 0.5)], 2e-3)  # continuous, 20 kHz from the first
    found = detect((a + b + spur + noise).astype(np.complex64), fs, 0.0).emissions
    assert [round(d.emission.center_hz / 1e3) for d in found] == [-100, -80, -50]
    assert [d.continuous for d in found] == [False, True, False]
    assert [len(d.bursts) for d in found] == [2, 1, 2]


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_each_waveform_gets_its_class(kind: str) -> None:
    sig = known_signal(kind, snr_db=20.0, seed=4242)
    found = max(detect(sig.iq, sig.sample_rate_hz, 0.0).emissions, key=lambda d: d.emission.power_dbm)
    assert found.emission_class == sig.emission_class
    assert found.class_confidence >= 0.5


def test_noise_alone_gives_no_emission() -> None:
    rng = np.random.default_rng(SEED + 2)
    noise = ((rng.standard_normal(1 << 18) + 1j * rng.standard_normal(1 << 18)) * 1e-3).astype(np.complex64)
    assert detect(noise, 1e6, 100e6).emissions == ()
