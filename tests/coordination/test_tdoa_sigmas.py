"""The stated covariance of a TDOA fix's range differences: its parts, and each target link's multipath term."""

from __future__ import annotations

import math

import numpy as np
import pytest
from fm_channel_testkit import FS, N, fm_programme, through_channel

from coordination.tdoa import MULTIPATH_LINK_SIGMA_M, MeasuredPairs, SensorSnapshot, pair_sigmas
from dsp.clock_align import ClockMap
from dsp.fm_multipath import FmMultipath
from dsp.link_multipath import LINK_SIGMA_FLOOR_S, UNREAD_SIGMA_S, UNREAD_TAIL_NU
from dsp.multilat import C_M_S, EnuFrame
from dsp.tdoa_pair import PairTdoa, SnapshotWindows
from dsp.xcorr import DelayEstimate


def _snapshot(sid: str, target: np.ndarray) -> SensorSnapshot:
    """A sensor whose recording is only its target segment (what the covariance reads of it)."""
    win = SnapshotWindows(iq=target.astype(np.complex64), sample_rate_hz=FS, ref_before=(0, 0), target=(0, target.size),
                          ref_after=(target.size, target.size), ref_freq_hz=97.7e6, target_freq_hz=100.7e6)
    return SensorSnapshot(sid, 31.0, 121.0, 20.0, win)


def _pair(sigma_lag_samples: float, sigma_s: float, ref_sigmas_m: tuple[float, float]) -> PairTdoa:
    est = DelayEstimate(delay_samples=1.0, sigma_samples=sigma_lag_samples, peak=0.9, sidelobe_ratio=0.2,
                        snr_eff_db=15.0)
    links = tuple(FmMultipath(0.0, s / C_M_S, 0.05) for s in ref_sigmas_m)
    return PairTdoa(tdoa_s=1e-5, sigma_s=sigma_s, target=est, clock=ClockMap(0.0, 1.0), ref_estimates=(),
                    ref_multipath=links)


def _measured(targets: list[np.ndarray]) -> MeasuredPairs:
    snaps = [_snapshot(f"S{k}", x) for k, x in enumerate(targets)]
    pairs = ((snaps[1], _pair(0.02, 60.0 / C_M_S, (50.0, 80.0))), (snaps[2], _pair(0.05, 90.0 / C_M_S, (50.0, 300.0))),
             (snaps[3], _pair(0.01, 40.0 / C_M_S, (50.0, 120.0))))
    return MeasuredPairs(frame=EnuFrame(31.0, 121.0), s0=snaps[0], pairs=pairs, dropped=())


def test_one_model_term_gives_the_covariance_of_its_parts():
    # the data's own sigma on the diagonal, half the smaller target-lag variance between pairs (they share sensor
    # 0's recording), sensor 0's reference and target links in every entry, sensor i's on its own diagonal
    x = fm_programme(1)
    cov = pair_sigmas(_measured([x, x, x, x]), MULTIPATH_LINK_SIGMA_M).covariance_m2()
    lag = np.array([0.02, 0.05, 0.01]) / FS * C_M_S
    data, refi, mp2 = np.array([60.0, 90.0, 40.0]), np.array([80.0, 300.0, 120.0]), MULTIPATH_LINK_SIGMA_M**2
    want = 0.5 * np.minimum.outer(lag**2, lag**2) + 50.0**2 + mp2
    np.fill_diagonal(want, data**2 + 50.0**2 + refi**2 + 2 * mp2)
    assert cov == pytest.approx(want, rel=1e-9)


def test_each_target_link_states_what_its_own_envelope_shows():
    # an FM target: three flat links and one through a ray 2 dB under the direct one, opposite at the carrier
    x = fm_programme(2)
    links = [through_channel(x, [], 0.03, 3), through_channel(x, [], 0.03, 4),
             through_channel(x, [(1.5e-6, 0.8, math.pi)], 0.03, 5), through_channel(x, [], 0.03, 6)]
    sig = pair_sigmas(_measured(links))
    flat_m = LINK_SIGMA_FLOOR_S * C_M_S
    assert sig.target0_m == pytest.approx(np.full(3, flat_m), rel=0.15)
    assert sig.targeti_m[[0, 2]] == pytest.approx(np.full(2, flat_m), rel=0.15)
    assert sig.targeti_m[1] > 6 * flat_m
    assert sig.target_side_m[1] > 3 * sig.target_side_m[0]


def test_a_noise_like_target_gets_the_unread_term_on_every_link():
    rng = np.random.default_rng(7)
    noise_like = [rng.standard_normal(N) + 1j * rng.standard_normal(N) for _ in range(4)]
    sig = pair_sigmas(_measured(noise_like))
    assert np.all(sig.target0_m == pytest.approx(UNREAD_SIGMA_S * C_M_S))
    assert np.all(sig.targeti_m == pytest.approx(UNREAD_SIGMA_S * C_M_S))


def test_a_noise_like_targets_links_are_stated_heavy_tailed_and_an_fm_targets_are_not():
    # the region of a digital carrier's fix is drawn from a Student t per target link (sensor 0's in every pair,
    # sensor i's in pair i); an FM target's links are read from their envelopes and stay Gaussian
    rng = np.random.default_rng(8)
    noise_like = pair_sigmas(_measured([rng.standard_normal(N) + 1j * rng.standard_normal(N) for _ in range(4)]))
    tail = noise_like.heavy_tail()
    assert tail is not None and tail.nu == UNREAD_TAIL_NU
    assert tail.loadings == pytest.approx(np.array([[1, 1, 0, 0], [1, 0, 1, 0], [1, 0, 0, 1]], dtype=float))
    assert tail.sigma_m == pytest.approx(np.full(4, UNREAD_SIGMA_S * C_M_S))
    # its Gaussian 1-sigmas are the ones of the covariance, so the draws replace exactly that share of it
    share = (tail.loadings * tail.sigma_m**2) @ tail.loadings.T
    assert share == pytest.approx(np.outer(noise_like.target0_m, noise_like.target0_m)
                                  + np.diag(noise_like.targeti_m**2))
    x = fm_programme(9)
    assert pair_sigmas(_measured([x, x, x, x])).heavy_tail() is None
    assert pair_sigmas(_measured([x, x, x, x]), MULTIPATH_LINK_SIGMA_M).heavy_tail() is None
