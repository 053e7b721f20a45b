"""Burst segmentation and short-time band power, synthetic and on real recordings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import dsp

FS_HZ = 250e3
FRAME = 256
DT_S = FRAME / FS_HZ  # 1.024 ms


def _load_cu8(path: Path) -> np.ndarray:
    u = np.fromfile(path, np.uint8).astype(np.float32)
    return ((u[0::2] - 127.5) / 127.5 + 1j * (u[1::2] - 127.5) / 127.5).astype(np.complex64)


def _ook(bursts_s, total_s, *, offset_hz=20e3, amp=0.1, noise=0.003, seed=0):
    """Noise plus a carrier keyed on during each (start_s, duration_s)."""
    rng = np.random.default_rng(seed)
    n = int(total_s * FS_HZ)
    t = np.arange(n) / FS_HZ
    x = noise * (rng.standard_normal(n) + 1j * rng.standard_normal(n))
    on = np.zeros(n, bool)
    for start, dur in bursts_s:
        on[int(start * FS_HZ) : int((start + dur) * FS_HZ)] = True
    return (x + on * amp * np.exp(2j * np.pi * offset_hz * t)).astype(np.complex64)


def test_band_power_reads_full_scale_tone_as_0_db():
    n = FRAME * 40
    x = np.exp(2j * np.pi * (10 * FS_HZ / FRAME) / FS_HZ * np.arange(n)).astype(np.complex64)
    t, p_db = dsp.short_time_band_power(x, FS_HZ, 5e3, 15e3, FRAME)
    np.testing.assert_allclose(t, np.arange(40) * DT_S)
    np.testing.assert_allclose(p_db, 0.0, atol=0.01)
    _, out_db = dsp.short_time_band_power(x, FS_HZ, -50e3, -30e3, FRAME)
    assert np.all(out_db < -100.0)  # outside the band: only window leakage (Hann sidelobes)


def test_bursts_found_within_one_frame():
    truth = [(0.050, 0.020), (0.130, 0.0345), (0.300, 0.005)]
    x = _ook(truth, 0.4)
    _, p_db = dsp.short_time_band_power(x, FS_HZ, 10e3, 30e3, FRAME)
    bursts = dsp.segment_bursts(p_db, DT_S, threshold_db=10.0)
    assert len(bursts) == 3
    for b, (start, dur) in zip(bursts, truth):
        assert b.start_s == pytest.approx(start, abs=DT_S)
        assert b.duration_s == pytest.approx(dur, abs=2 * DT_S)


def test_merge_gap_and_min_duration():
    truth = [(0.050, 0.010), (0.063, 0.010), (0.200, 0.002)]  # 3 ms gap, then a 2 ms blip
    _, p_db = dsp.short_time_band_power(_ook(truth, 0.3), FS_HZ, 10e3, 30e3, FRAME)
    assert len(dsp.segment_bursts(p_db, DT_S, threshold_db=10.0)) == 3
    merged = dsp.segment_bursts(p_db, DT_S, threshold_db=10.0, merge_gap_s=0.005)
    assert len(merged) == 2
    assert merged[0].duration_s == pytest.approx(0.023, abs=2 * DT_S)
    kept = dsp.segment_bursts(p_db, DT_S, threshold_db=10.0, merge_gap_s=0.005, min_duration_s=0.005)
    assert [round(b.start_s, 2) for b in kept] == [0.05]


def test_floor_step_of_10_db_is_not_a_burst():
    """The noise drops 10 dB halfway: the rolling floor finds the 4 bursts and nothing else, while a
    fixed threshold set from the quiet half reports the whole loud half as one long burst."""
    truth = [(0.1, 0.03), (0.35, 0.03), (0.6, 0.03), (0.85, 0.03)]
    x = _ook(truth, 1.0, noise=0.01, amp=0.3)
    half = x.size // 2
    x[half:] = _ook(truth, 1.0, noise=0.01 / np.sqrt(10), amp=0.3, seed=1)[half:]
    _, p_db = dsp.short_time_band_power(x, FS_HZ, 10e3, 30e3, FRAME)
    bursts = dsp.segment_bursts(p_db, DT_S, threshold_db=6.0, merge_gap_s=0.005)
    assert [round(b.start_s, 2) for b in bursts] == [0.1, 0.35, 0.6, 0.85]
    fixed = dsp.segment_bursts(p_db, DT_S, threshold_db=6.0, merge_gap_s=0.005,
                               floor_db=np.percentile(p_db, 10))
    assert max(b.duration_s for b in fixed) > 0.3


def test_burst_dict_round_trip():
    b = dsp.Burst(start_s=0.2947, duration_s=0.0346)
    assert dsp.Burst.from_dict(b.to_dict()) == b
    with pytest.raises(ValueError, match="duration_s"):
        dsp.Burst.from_dict({"start_s": 0.1, "duration_s": -1.0})
    with pytest.raises(ValueError, match="start_s"):
        dsp.Burst.from_dict({"duration_s": 1.0})


def test_empty_and_bad_input():
    assert dsp.segment_bursts(np.array([]), DT_S, threshold_db=6.0) == []
    with pytest.raises(ValueError, match="frame_dt_s"):
        dsp.segment_bursts(np.zeros(5), 0.0, threshold_db=6.0)
    with pytest.raises(ValueError, match="no bin centre"):
        dsp.short_time_band_power(np.zeros(1024, np.complex64), FS_HZ, 100.0, 200.0, 64)


SKYLINK_STARTS_S = [0.2152, 0.2947, 0.4079, 0.5204, 0.6343, 0.7476, 0.8608, 0.9740]  # MANIFEST.md


@pytest.mark.parametrize("name", ["g001", "g002", "g003"])
def test_skylink_recordings_give_8_bursts(shared_dir, name):
    """Real 433.92 MHz captures: 7 Skylink packets of ~34.6 ms at -107.5 kHz plus one 0.8 ms transient.
    g003's floor drops 10 dB at 0.566 s; it must not produce a long false burst."""
    path = shared_dir / "data/recordings/rtl433/skylink_ha434tl" / f"skylink_ha434tl_{name}_433.92M_250k.cu8"
    x = _load_cu8(path)
    _, p_db = dsp.short_time_band_power(x, FS_HZ, -117.5e3, -97.5e3, FRAME)
    bursts = dsp.segment_bursts(p_db, DT_S, threshold_db=10.0, merge_gap_s=0.005)
    assert len(bursts) == 8
    np.testing.assert_allclose([b.start_s for b in bursts], SKYLINK_STARTS_S, atol=2e-3)
    durations = np.array([b.duration_s for b in bursts[1:]])
    np.testing.assert_allclose(durations, 0.0346, atol=2.5e-3)
    assert bursts[0].duration_s < 2e-3


def test_skylink_g003_wideband_floor_step(shared_dir):
    """Whole 250 kHz band of g003: floor -16 dBFS before 0.566 s, -26 dBFS after. Rolling floor: the 8
    bursts. A fixed threshold from the quiet part: one long burst at the start."""
    path = shared_dir / "data/recordings/rtl433/skylink_ha434tl/skylink_ha434tl_g003_433.92M_250k.cu8"
    _, p_db = dsp.short_time_band_power(_load_cu8(path), FS_HZ, -125e3, 125e3, FRAME)
    bursts = dsp.segment_bursts(p_db, DT_S, threshold_db=6.0, merge_gap_s=0.005)
    assert len(bursts) == 8
    assert max(b.duration_s for b in bursts) < 0.04
    fixed = dsp.segment_bursts(p_db, DT_S, threshold_db=6.0, merge_gap_s=0.005,
                               floor_db=np.percentile(p_db, 10))
    assert fixed[0].start_s < 0.01 and fixed[0].duration_s > 0.5


def test_sensible_living_one_packet(shared_dir):
    """OOK packet at +6.1 kHz from 0.2846 s for about 0.200 s; gaps inside up to a few ms -> merge 10 ms."""
    path = shared_dir / "data/recordings/rtl433/sensible_living_moisture"
    x = _load_cu8(path / "sensible_living_radiohead_g001_433.92M_250k.cu8")
    _, p_db = dsp.short_time_band_power(x, FS_HZ, 1.1e3, 11.1e3, FRAME)
    (b,) = dsp.segment_bursts(p_db, DT_S, threshold_db=10.0, merge_gap_s=0.010)
    assert b.start_s == pytest.approx(0.2846, abs=2e-3)
    assert b.duration_s == pytest.approx(0.200, abs=3e-3)


def test_wmbus_two_telegrams(shared_dir):
    """868.95 MHz capture at 1.6 MS/s: telegrams at 0.2393 s (6.7 ms) and 0.4556 s (14.7 ms)."""
    path = shared_dir / "data/recordings/wmbus/wmbus_t1_rtlsdr_868.950M_1M6_samples2.cu8"
    fs = 1.6e6
    _, p_db = dsp.short_time_band_power(_load_cu8(path), fs, -130e3, 90e3, FRAME)
    bursts = dsp.segment_bursts(p_db, FRAME / fs, threshold_db=10.0, merge_gap_s=0.001)
    assert [round(b.start_s, 3) for b in bursts] == [0.239, 0.456]
    np.testing.assert_allclose([b.duration_s for b in bursts], [0.0067, 0.0147], atol=0.5e-3)
