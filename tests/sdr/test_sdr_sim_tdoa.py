"""The snapshot renderer: the same waveform at every sensor, late by distance / c, on each dongle's clock."""

from __future__ import annotations

import numpy as np
import pytest

from dsp.tdoa_pair import pair_tdoa
from dsp.xcorr import estimate_delay
from sdr.scenario import SensorSite, Transmitter
from sdr.sources.sim_tdoa import (
    MIXED,
    AdcModel,
    DongleClock,
    SnapshotPlan,
    SnapshotRenderer,
    TdoaEmitter,
    path_delay_s,
    waveform,
)
from sdr.sources.sim_world import RealisticWorld
from sdr.sources.simulated import R820T_GAINS_DB

FS = 250e3
A = SensorSite("A", "SH", 31.10, 121.10, 20.0)
B = SensorSite("B", "JS", 31.30, 120.95, 20.0)
TX = Transmitter("T", 31.15, 121.00, 433.3e6, 10.0, "wideband", antenna_height_m=15.0)
PLAN = SnapshotPlan(98.0e6, 433.3e6, FS, 20_000, 40_000, 4_000)


def _renderer(seed=1):
    return SnapshotRenderer([TdoaEmitter(TX, "wideband", 150e3, seed)], RealisticWorld.ideal(), PLAN, seed=seed)


def test_disciplined_sensors_see_the_geometric_delay():
    r = _renderer()
    a = r.render(A, DongleClock(pps_locked=True))
    b = r.render(B, DongleClock(pps_locked=True))
    res = pair_tdoa(a, b, ref_geometric_lag_s=0.0, max_tdoa_s=150e-6)
    expected = path_delay_s(TX, B) - path_delay_s(TX, A)
    assert abs(res.tdoa_s - expected) < 0.05 / FS


def test_start_offset_shows_as_a_lag_of_that_many_samples():
    r = _renderer()
    a = r.render(A, DongleClock())
    late = r.render(A, DongleClock(start_offset_s=2e-3))
    t0, t1 = PLAN.windows()[1]
    est = estimate_delay(a.iq[t0:t1], late.iq[t0:t1], max_lag=1000)
    assert abs(est.delay_samples + 2e-3 * FS) < 0.05  # started later: the same wavefront 500 samples earlier


def test_plan_windows_and_retunes():
    (a, b), (c, d), (e, f) = PLAN.windows()
    assert (a, b, c, d, e, f) == (0, 20_000, 24_000, 64_000, 68_000, 88_000)
    assert PLAN.retunes()[1] == (20_000, 433.3e6)
    assert PLAN.total_samples == 88_000


def test_waveforms_have_unit_power_and_unknown_kinds_are_refused():
    for kind, bw in (("fm_broadcast", 180e3), ("nfm", 11e3), ("wideband", 100e3)):
        assert abs(np.mean(np.abs(waveform(kind, bw, 50_000, FS, 3)) ** 2) - 1.0) < 0.05
    with pytest.raises(ValueError, match="unknown TDOA waveform"):
        waveform("chirp", 1e3, 100, FS, 1)


def test_multipath_profile_draws_1_to_3_rays_within_its_spread_and_keeps_the_link_power():
    for key in range(40):
        rays, direct = MIXED.rays(np.random.default_rng(key), key)
        assert 1 <= len(rays) <= 3
        assert all(0.2e-6 <= d <= 3e-6 and 10 ** (-15 / 20) * direct - 1e-12 <= a <= 10 ** (-3 / 20) * direct + 1e-12
                   for d, a, _ in rays)
        assert abs(direct**2 + sum(a * a for _, a, _ in rays) - 1.0) < 1e-12
    assert MIXED.rays(np.random.default_rng(5), 5) == MIXED.rays(np.random.default_rng(5), 5)


def test_adc_puts_each_segment_on_an_8_bit_grid_near_the_agc_target():
    renderer = SnapshotRenderer([TdoaEmitter(TX, "wideband", 150e3, 1)], RealisticWorld.ideal(), PLAN, seed=1,
                                multipath=MIXED, adc=AdcModel())
    rec = renderer.render(A, DongleClock(ppm=12.0))
    for a, b in PLAN.windows():
        seg = rec.iq[a:b].astype(np.complex128)
        # one step of the grid in this segment's mW units: every sample an integer number of steps from -0.5 step
        step = np.min(np.abs(np.diff(np.unique(np.round(seg.real, 15)))))
        codes = seg.real / step + 0.5
        assert np.max(np.abs(codes - np.rint(codes))) < 1e-3
        assert np.unique(np.rint(codes)).size <= 256
        gain = AdcModel().gain_db(float(np.mean(np.abs(seg) ** 2)))
        level_dbfs = 10 * np.log10(np.mean(np.abs(seg) ** 2)) + gain + 10.0
        assert level_dbfs < -17.0
        # within one gain step (<= 4 dB) under the -18 dBFS target, unless the gain is at its top (noise only)
        assert level_dbfs > -24.0 or gain == max(R820T_GAINS_DB)
    assert rec.iq[PLAN.windows()[1][0]:PLAN.windows()[1][1]].std() > rec.iq[: PLAN.windows()[0][1]].std()


def test_adc_and_multipath_are_seeded():
    r1 = SnapshotRenderer([TdoaEmitter(TX, "wideband", 150e3, 1)], RealisticWorld.ideal(), PLAN, seed=4,
                          multipath=MIXED, adc=AdcModel())
    r2 = SnapshotRenderer([TdoaEmitter(TX, "wideband", 150e3, 1)], RealisticWorld.ideal(), PLAN, seed=4,
                          multipath=MIXED, adc=AdcModel())
    assert np.array_equal(r1.render(B, DongleClock(3.0, 1e-3)).iq, r2.render(B, DongleClock(3.0, 1e-3)).iq)
