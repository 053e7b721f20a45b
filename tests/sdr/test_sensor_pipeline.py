"""Pipeline: calibrated dBm on the exact axis, true power of simulated carriers, occupancy, real recordings."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from sensor_testkit import FAST_PROFILE, write_scenario

from coordination.protocol import MonitoringProfile
from sdr.pipeline import PipelineError, ProfileRunner, channel_centers
from sdr.scenario import load_scenario
from sdr.sources import FileSource, SimulatedSource


@pytest.fixture
def sim(tmp_path) -> SimulatedSource:
    return SimulatedSource(load_scenario(write_scenario(tmp_path)), "ZJ-T1", seed=5)


def nearest(m, f_hz: float):
    return min(m.emissions, key=lambda e: abs(e.center_hz - f_hz))


def test_exact_axis_and_cw_power_within_1_db_of_truth(sim) -> None:
    m = ProfileRunner(FAST_PROFILE).measure(sim)
    assert m.f_start_hz == 446.0e6
    assert m.f_step_hz == 2.4e6 / 2048  # power-of-two FFT nearest to rate / bin_hz
    assert m.power_dbm.size == 171 and m.power_dbm.dtype == np.float32  # bin centres in [start, stop - step/2)
    cw = nearest(m, 446.05e6)
    truth = sim.received_dbm("CW1")
    assert abs(cw.center_hz - 446.05e6) < m.f_step_hz
    assert abs(cw.power_dbm - truth) < 1.0, (cw.power_dbm, truth)
    nfm = nearest(m, 446.10625e6)
    assert abs(nfm.power_dbm - sim.received_dbm("NFM1")) < 1.0
    assert len(m.emissions) == 2
    # The floor is the receiver's noise per bin (thermal + NF + ADC/quantisation) within 1 dB.
    expected_floor = sim.noise_floor_dbm_per_hz() + 10 * np.log10(m.f_step_hz)
    assert abs(m.noise_floor_dbm - expected_floor) < 1.0
    assert m.threshold_dbm == pytest.approx(m.noise_floor_dbm + 10.0)


def test_multi_hop_sweep_stitches_on_the_exact_grid(sim) -> None:
    prof = MonitoringProfile(name="wide", f_start_hz=445.0e6, f_stop_hz=448.0e6, bin_hz=3125.0, dwell_s=0.02,
                             crop=0.25)
    m = ProfileRunner(prof).measure(sim)
    assert m.hops == 2
    assert m.f_start_hz == 445.0e6 and m.f_step_hz == 2.4e6 / 1024
    assert m.power_dbm.size == 1280  # (448 - 445) MHz / 2343.75 Hz
    for tx, f in (("CW1", 446.05e6), ("CW2", 447.30e6)):
        e = nearest(m, f)
        assert abs(e.center_hz - f) < 3125.0
        assert abs(e.power_dbm - sim.received_dbm(tx)) < 1.0


def test_occupancy_counts_always_on_channels(sim) -> None:
    runner = ProfileRunner(FAST_PROFILE)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    for i in range(5):
        runner.measure(sim, t0 + timedelta(seconds=0.25 * i))
    assert runner.occupancy.due(t0 + timedelta(seconds=1.0))
    rep = runner.occupancy.report(t0 + timedelta(seconds=1.0))
    centers = channel_centers(FAST_PROFILE)
    assert rep.revisits == 5 and rep.channel_centers_hz.size == centers.size == 16
    assert rep.channel_centers_hz[0] == 446.00625e6
    busy = {int(np.argmin(abs(rep.channel_centers_hz - f))) for f in (446.05e6, 446.10625e6)}
    # 446.05 MHz sits on the boundary of two 12.5 kHz channels: its strongest bin lands in one of them.
    assert rep.fco[sorted(busy)].min() == 1.0
    quiet = [i for i in range(16) if abs(rep.channel_centers_hz[i] - 446.05e6) > 12_500
             and abs(rep.channel_centers_hz[i] - 446.10625e6) > 12_500]
    assert rep.fco[quiet].max() == 0.0
    assert rep.fbo == pytest.approx(float(rep.fco.mean()))
    assert runner.occupancy.report() is None  # a report starts a new interval


def test_real_recording_skylink_carrier(shared_dir) -> None:
    path = shared_dir / "data/recordings/rtl433/skylink_ha434tl/skylink_ha434tl_g001_433.92M_250k.cu8"
    prof = MonitoringProfile(name="ism", f_start_hz=433.81e6, f_stop_hz=434.02e6, bin_hz=250e3 / 1024,
                             dwell_s=1.0, crop=0.05)
    with FileSource(path) as src:
        m = ProfileRunner(prof).measure(src)
    strongest = max(m.emissions, key=lambda e: e.peak_dbm)
    assert abs(strongest.peak_hz - 433.8125e6) < 1e3  # MANIFEST: 433.8125 MHz (PSD)
    assert any(abs(e.peak_hz - 434.000e6) < 1e3 or e.f_lo_hz <= 434.0e6 <= e.f_hi_hz for e in m.emissions)


def test_profile_outside_a_recording_is_an_error(shared_dir) -> None:
    path = shared_dir / "data/recordings/rtl433/skylink_ha434tl/skylink_ha434tl_g001_433.92M_250k.cu8"
    with FileSource(path) as src, pytest.raises(PipelineError, match="outside the recording"):
        ProfileRunner(FAST_PROFILE).measure(src)


def test_segments_are_per_bin_and_samples_over_all_hops(sim) -> None:
    prof = MonitoringProfile(name="wide", f_start_hz=445.0e6, f_stop_hz=448.0e6, bin_hz=3125.0, dwell_s=0.02,
                             crop=0.25)
    m = ProfileRunner(prof).measure(sim)
    assert m.samples == 2 * 48_000  # two hops of 0.02 s at 2.4 MS/s
    assert m.segments == (48_000 - 1024) // 512 + 1  # Welch segments of one hop (nfft 1024, 50 % overlap)


def test_emissions_carry_a_spectrum_only_class(sim) -> None:
    # 293 Hz bins resolve the carrier (a line) from the NFM (kHz wide); the sweep has no IQ, so the
    # spectrum alone cannot tell NFM from FSK: a line or unknown, at most 0.7 confident
    m = ProfileRunner(dataclasses.replace(FAST_PROFILE, bin_hz=300.0)).measure(sim)
    by_khz = {round(float(d["center_hz"]) / 1e3): d for d in m.emission_dicts()}
    cw, nfm = by_khz[446050], by_khz[446106]
    assert cw["emission_class"] == "cw" and 0.5 <= float(cw["class_confidence"]) <= 0.7
    assert nfm["emission_class"] == "unknown" and nfm["class_confidence"] == 0.0
    coarse = ProfileRunner(FAST_PROFILE).measure(sim)  # 1.5 kHz bins: a carrier is not resolved
    assert {d["emission_class"] for d in coarse.emission_dicts()} == {"unknown"}


@pytest.mark.parametrize(("raster_hz", "width_hz"), [(25e3, 16e3), (25e3, 25e3), (12.5e3, 25e3)])
def test_occupancy_counts_as_sm1880_peak_occupancy_does(raster_hz, width_hz) -> None:
    """The accumulator's per-sweep count equals dsp.channel_occupancy's "peak" level, whether the channels
    leave gaps, tile the band or overlap (the last through channel_occupancy itself)."""
    from dsp import channel_occupancy
    from sdr.pipeline import Measurement, OccupancyAccumulator

    prof = MonitoringProfile(name="occ", f_start_hz=446.0e6, f_stop_hz=446.3e6, bin_hz=1e3, dwell_s=0.1,
                             channel_raster_hz=raster_hz, channel_width_hz=width_hz)
    rng = np.random.default_rng(5151)
    acc = OccupancyAccumulator(prof)
    freqs = 446.0e6 + 500.0 + 1e3 * np.arange(300)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    expected = 0.0
    for k in range(6):
        p = (-100.0 + 3.0 * rng.standard_normal(300) + 30.0 * (rng.uniform(size=300) < 0.02)).astype(np.float32)
        m = Measurement(profile="occ", t_utc=t0 + timedelta(seconds=k), f_start_hz=float(freqs[0]), f_step_hz=1e3,
                        power_dbm=p, noise_floor_dbm=-100.0, threshold_dbm=-90.0, emissions=(), detector="mean",
                        segments=10, samples=1000, hops=1)
        acc.add(m)
        ref = channel_occupancy(p[None, :].astype(np.float64), freqs, acc.channel_centers_hz, width_hz, -90.0,
                                level="peak")
        expected = expected + np.asarray(ref.fco)
    rep = acc.report()
    assert rep is not None and rep.revisits == 6
    assert np.allclose(rep.fco * 6, expected, atol=1e-4) and 0 < np.sum(expected) < 6 * rep.fco.size
