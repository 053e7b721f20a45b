"""The simulator: calibrated levels, realistic noise, deterministic, schedules and duty cycles, fast."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from dsp import dbfs_to_dbm, detect_emissions, noise_floor, remove_dc_spike, welch_psd
from sdr.scenario import Scenario, parse_scenario
from sdr.sources import SimulatedSource, SourceError, open_source
from sdr.sources import sim_waveforms as wf
from sdr.sources.sim_link import FreeSpaceModel, P1546Model, free_space_field_dbuv_m

RATE = 2.4e6


def scenario(*transmitters: dict, ppm_error: float = 0.0) -> Scenario:
    return parse_scenario({
        "scenario": {"seed": 11},
        "sensors": [{"id": "S1", "province": "Jiangsu", "lat": 31.0, "lon": 120.0, "height_m": 10,
                     "noise_figure_db": 6, "antenna_factor_db_m": 15, "ppm_error": ppm_error}],
        "transmitters": list(transmitters),
    })


def tx(id_: str, freq_hz: float, erp_dbw: float, modulation: str = "cw", km_north: float = 5.0,
       **kw: object) -> dict:
    return {"id": id_, "lat": 31.0 + km_north / 111.2, "lon": 120.0, "freq_hz": freq_hz, "erp_dbw": erp_dbw,
            "modulation": modulation, "antenna_height_m": 10} | kw


def spectrum_dbm(src: SimulatedSource, n: int = 1 << 20, nfft: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """Per-bin power (density x bin width) at the antenna port, via the simulator's calibration table."""
    x = src.read(n)
    f, dens = welch_psd(x, src.sample_rate_hz, nfft)
    per_bin_dbfs = 10 * np.log10(remove_dc_spike(dens * src.sample_rate_hz / nfft, 3))  # zero-IF DC spike
    dbm = dbfs_to_dbm(per_bin_dbfs, gain_db=src.effective_gain_db, freq_hz=src.center_freq_hz + f,
                      table=src.calibration)
    return src.center_freq_hz + f, dbm


@pytest.mark.parametrize("gain_db", [29.7, 40.2, 49.6, None])
def test_a_cw_of_known_received_power_measures_right(gain_db: float | None) -> None:
    sc = scenario(tx("CW", 100.3e6, -20.0))
    src = SimulatedSource(sc, "S1", center_freq_hz=100e6, sample_rate_hz=RATE, gain_db=gain_db)
    truth = src.received_dbm("CW")
    assert truth == pytest.approx(free_space_field_dbuv_m(-20.0, 5.0) - 107 - 15, abs=0.01)
    freqs, dbm = spectrum_dbm(src)
    floor = 10 * np.log10(noise_floor(10 ** (dbm / 10), segments=500))
    found = detect_emissions(freqs, dbm, floor_dbm=floor, margin_db=10)
    cw = min(found, key=lambda e: abs(e.peak_hz - 100.3e6))
    assert cw.peak_hz == pytest.approx(100.3e6, abs=600)
    assert cw.power_dbm == pytest.approx(truth, abs=1.0)
    # the nominal RTL-SDR conversion (no table) agrees: the simulator uses the nominal full scale
    nominal = float(dbfs_to_dbm(0.0, gain_db=src.effective_gain_db, freq_hz=100e6))
    assert nominal == pytest.approx(float(src.calibration.offset_db(src.effective_gain_db, 100e6)), abs=1e-9)


def test_noise_floor_is_ktb_plus_noise_figure_at_high_gain() -> None:
    src = SimulatedSource(scenario(), "S1", center_freq_hz=100e6, gain_db=49.6, dc_offset_dbfs=None)
    _, dbm = spectrum_dbm(src)
    bin_hz = RATE / 4096
    measured = 10 * math.log10(noise_floor(10 ** (dbm / 10), segments=500) / bin_hz)
    assert measured == pytest.approx(src.noise_floor_dbm_per_hz(), abs=0.7)
    # at full gain thermal noise dominates: within 3 dB of kTB + NF (-174 + 6)
    assert -168.0 <= measured <= -165.0


def test_lower_gain_raises_the_floor_in_dbm_like_an_rtl_sdr() -> None:
    floors = []
    for gain in (20.7, 49.6):
        src = SimulatedSource(scenario(), "S1", gain_db=gain)
        _, dbm = spectrum_dbm(src, n=1 << 18)
        floors.append(10 * math.log10(noise_floor(10 ** (dbm / 10), segments=100)))
    assert floors[0] - floors[1] > 15.0


def test_same_seed_same_samples_whatever_the_read_size() -> None:
    sc = scenario(tx("CW", 100.3e6, 0.0), tx("G", 100.5e6, 0.0, "gmsk_burst", duty_cycle=0.3),
                  tx("F", 99.5e6, 10.0, "fm_broadcast"))
    a = SimulatedSource(sc, "S1", center_freq_hz=100e6).read(300000)
    b_src = SimulatedSource(sc, "S1", center_freq_hz=100e6)
    b = np.concatenate([b_src.read(n) for n in (1, 4095, 70000, 100000, 125904)])
    np.testing.assert_array_equal(a, b)
    c = SimulatedSource(sc, "S1", center_freq_hz=100e6, seed=99).read(300000)
    assert np.mean(a != c) > 0.5


def test_ppm_error_shifts_the_carrier_and_correction_removes_it() -> None:
    sc = scenario(tx("CW", 100.3e6, 0.0), ppm_error=10.0)

    def peak_hz(ppm: float) -> float:
        src = SimulatedSource(sc, "S1", center_freq_hz=100e6, ppm=ppm)
        x = src.read(1 << 20)
        f, p = welch_psd(x, RATE, 1 << 16)
        return 100e6 + float(f[np.argmax(p)])

    # the dongle's LO is 10 ppm high (1 kHz at 100 MHz): the carrier reads 1 kHz low
    assert peak_hz(0.0) == pytest.approx(100.3e6 - 1000, abs=40)
    assert peak_hz(10.0) == pytest.approx(100.3e6, abs=40)


def test_schedule_switches_the_transmitter_on_and_off() -> None:
    sc = scenario(tx("P", 100.3e6, 0.0, schedule=[[0.1, 0.2]]))
    src = SimulatedSource(sc, "S1", center_freq_hz=100e6, gain_db=40.2)
    x = src.read(int(0.3 * RATE)).reshape(30, -1)  # 10 ms frames
    f = np.fft.fftfreq(x.shape[1], 1 / RATE)
    k = int(np.argmin(np.abs(f - 300e3)))
    line = np.abs(np.fft.fft(x, axis=1)[:, k]) ** 2
    on = line > 100 * np.median(line)
    assert on[10:20].all() and not on[:10].any() and not on[20:].any()
    assert src.scenario_time_s == pytest.approx(0.3)


def test_seek_jumps_the_scenario_clock_forward_only() -> None:
    sc = scenario(tx("LATE", 100.3e6, 0.0, schedule=[[3600.0, 3601.0]]))
    src = SimulatedSource(sc, "S1", center_freq_hz=100e6, gain_db=40.2)
    src.seek(3600.2)
    assert src.scenario_time_s == pytest.approx(3600.2)
    src.seek(10.0)  # never back
    assert src.scenario_time_s == pytest.approx(3600.2)
    x = src.read(1 << 16)
    f = np.fft.fftfreq(x.size, 1 / RATE)
    p = np.abs(np.fft.fft(x)) ** 2
    assert f[np.argmax(p)] == pytest.approx(300e3, abs=100)  # on air an hour into the scenario
    assert (src.timestamp_utc - sc.start_utc).total_seconds() == pytest.approx(3600.2)


def test_burst_duty_cycle_is_kept() -> None:
    sc = scenario(tx("B", 100.3e6, 10.0, "qpsk_burst", duty_cycle=0.25, burst_duration_s=0.01))
    src = SimulatedSource(sc, "S1", center_freq_hz=100e6, gain_db=30)
    x = src.read(int(4.0 * RATE)).reshape(-1, 2400)  # 1 ms frames
    spec = np.abs(np.fft.fftshift(np.fft.fft(x, axis=1), axes=1)) ** 2
    f = np.fft.fftshift(np.fft.fftfreq(2400, 1 / RATE))
    band = spec[:, (f > 285e3) & (f < 315e3)].sum(axis=1)
    on = band > 10 * np.median(spec[:, (f > -900e3) & (f < -600e3)].sum(axis=1))
    assert np.mean(on) == pytest.approx(0.25, abs=0.05)


@pytest.mark.parametrize(
    ("modulation", "obw_lo_hz", "obw_hi_hz"),
    [("fm_broadcast", 100e3, 260e3), ("nfm", 3e3, 16e3), ("cw", 0.0, 1.5e3), ("gmsk_burst", 6e3, 20e3)],
)
def test_modulations_occupy_their_usual_bandwidth(modulation: str, obw_lo_hz: float, obw_hi_hz: float) -> None:
    sc = scenario(tx("M", 100.3e6, 20.0, modulation))
    src = SimulatedSource(sc, "S1", center_freq_hz=100e6, gain_db=20.7)
    freqs, dbm = spectrum_dbm(src, n=1 << 21, nfft=8192)
    floor = 10 * np.log10(noise_floor(10 ** (dbm / 10), segments=500))
    found = detect_emissions(freqs, dbm, floor_dbm=floor, margin_db=10, merge_hz=20e3)
    e = max(found, key=lambda e: e.power_dbm)
    assert e.center_hz == pytest.approx(100.3e6, abs=5e3)
    assert obw_lo_hz <= e.obw_hz <= obw_hi_hz


def test_transmitters_outside_the_tuned_band_are_not_received() -> None:
    sc = scenario(tx("FAR", 150e6, 0.0))
    src = SimulatedSource(sc, "S1", center_freq_hz=100e6, gain_db=40.2)
    freqs, dbm = spectrum_dbm(src, n=1 << 18)
    floor = 10 * np.log10(noise_floor(10 ** (dbm / 10), segments=100))
    assert detect_emissions(freqs, dbm, floor_dbm=floor, margin_db=10) == []
    src.tune(150.2e6)
    freqs, dbm = spectrum_dbm(src, n=1 << 18)
    floor = 10 * np.log10(noise_floor(10 ** (dbm / 10), segments=100))
    assert any(abs(e.peak_hz - 150e6) < 1e3 for e in detect_emissions(freqs, dbm, floor_dbm=floor, margin_db=10))


def test_free_space_field_strength() -> None:
    # 1 kW ERP (30 dBW) at 10 km: 76.92 + 30 - 20 = 86.92 dBuV/m
    assert free_space_field_dbuv_m(30.0, 10.0) == pytest.approx(86.92, abs=0.01)
    sc = scenario(tx("T", 100e6, 30.0, km_north=10.0))
    e = FreeSpaceModel().field_strength_dbuv_m(sc.transmitters[0], sc.sensors[0])
    assert e == pytest.approx(86.92, abs=0.05)


def test_p1546_model_is_below_free_space_and_falls_with_distance() -> None:
    sc = scenario(*[tx(f"T{d}", 100e6, 30.0, km_north=d, antenna_height_m=100) for d in (5, 20, 60)])
    p1546, free = P1546Model(), FreeSpaceModel()
    e = [p1546.field_strength_dbuv_m(t, sc.sensors[0]) for t in sc.transmitters]
    assert all(ep < free.field_strength_dbuv_m(t, sc.sensors[0]) for ep, t in zip(e, sc.transmitters))
    assert e[0] > e[1] > e[2]
    assert 55.0 < e[1] < 62.0  # 1 kW, h1 100 m, 20 km, 100 MHz, 50 % time: about 58.5 dBuV/m
    src = SimulatedSource(sc, "S1", propagation=p1546)
    assert src.received_dbm("T20") == pytest.approx(e[1] - 107 - 15, abs=1e-9)


def test_realtime_paces_on_the_injected_clock() -> None:
    now = [1000.0]
    slept: list[float] = []

    def sleep(s: float) -> None:
        slept.append(s)
        now[0] += s

    src = SimulatedSource(scenario(), "S1", sample_rate_hz=1e6, realtime=True, monotonic=lambda: now[0], sleep=sleep)
    for _ in range(5):
        src.read(100_000)
    assert sum(slept) == pytest.approx(0.5, abs=1e-6)  # 5 x 0.1 s of samples, no CPU time on this clock
    assert src.timestamp_utc is not None
    assert (src.timestamp_utc - src.scenario.start_utc).total_seconds() == pytest.approx(0.4)


def test_kernels_match_their_numpy_twins() -> None:
    rng = np.random.default_rng(1)
    k0, n = 123_456_789, 5000
    tone_inc = np.array([wf.nco_increment(f, RATE) for f in (433.0, 1170.0, 19e3)], dtype=np.int64)
    tone_p0 = rng.integers(0, 2**32, 3).astype(np.int64)
    beta = np.array([2.0, 1.5, 0.06])
    a = np.zeros(n, np.complex64)
    b = np.zeros(n, np.complex64)
    inc = wf.nco_increment(-250e3, RATE)
    wf.add_angle_modulated(a, k0, 0.3, inc, 77, tone_inc, tone_p0, beta, wf.SIN_TABLE, wf.COS_TABLE)
    wf.add_angle_modulated_np(b, k0, 0.3, inc, 77, tone_inc, tone_p0, beta)
    np.testing.assert_allclose(a, b, atol=1e-6)
    a[:] = 0
    b[:] = 0
    empty = np.zeros(0, np.int64)
    wf.add_angle_modulated(a, k0, 0.3, inc, 77, empty, empty, np.zeros(0), wf.SIN_TABLE, wf.COS_TABLE)
    wf.add_angle_modulated_np(b, k0, 0.3, inc, 77, empty, empty, np.zeros(0))
    np.testing.assert_allclose(a, b, atol=1e-6)
    env = wf.burst_envelope("qpsk_burst", 200, rng)
    a[:] = 0
    b[:] = 0
    wf.add_enveloped_carrier(a, k0, 0.5, inc, 5, env, k0 + 100.5, 0.08, wf.SIN_TABLE, wf.COS_TABLE)
    wf.add_enveloped_carrier_np(b, k0, 0.5, inc, 5, env, k0 + 100.5, 0.08)
    np.testing.assert_allclose(a, b, atol=1e-5)
    assert np.all(a[:100] == 0) and np.any(a[101:] != 0)
    x = (rng.standard_normal(10000) * 0.7).astype(np.float32)
    offset = np.array([0.01, -0.02], np.float32)
    q = np.empty_like(x)
    wf.quantize_u8(x, offset, q)
    np.testing.assert_allclose(q, wf.quantize_u8_np(x, offset), atol=1e-6)
    assert len(np.unique(q)) <= 256 and q.max() <= 1.0 and q.min() >= -1.0


def test_sim_uri_opens_a_sensor_of_a_scenario_file(tmp_path: Path) -> None:
    p = tmp_path / "s.toml"
    p.write_text('[[sensors]]\nid = "AH-2"\nprovince = "Anhui"\nlat = 31.5\nlon = 118.5\n')
    src = open_source(f"sim:{p}?sensor=AH-2&rate=1M&freq=433.92M&gain=30&seed=4")
    assert (src.sample_rate_hz, src.center_freq_hz, src.gain_db) == (1e6, 433.92e6, 29.7)
    assert src.read(1000).size == 1000
    assert isinstance(open_source(f"sim:{p}?sensor=AH-2&model=p1546").propagation, P1546Model)
    with pytest.raises(SourceError, match=r"no sensor 'ZJ-1'.*AH-2"):
        open_source(f"sim:{p}?sensor=ZJ-1")
    with pytest.raises(SourceError, match=r"unknown parameter 'sensr'"):
        open_source(f"sim:{p}?sensr=AH-2")
