"""Known answers of the hyperbolic solver and the ENU frame."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dsp.multilat import (
    CHI2_2DOF_95,
    EnuFrame,
    HeavyTail,
    chi2_upper,
    range_differences,
    solve_tdoa,
    solve_tdoa_checked,
    surface_up_m,
)

SENSORS_LL = np.array([[31.00, 121.00], [31.25, 121.30], [30.80, 121.35], [31.10, 120.70]])


def _sensors(frame):
    return frame.to_enu(SENSORS_LL[:, 0], SENSORS_LL[:, 1], np.array([30.0, 25.0, 40.0, 12.0]))


def test_enu_round_trip_and_distances():
    frame = EnuFrame(31.0, 121.1)
    e, n, _ = frame.to_enu(np.array(31.2), np.array(121.4), np.array(0.0))
    lat, lon = frame.to_geodetic(float(e), float(n))
    assert abs(lat - 31.2) < 1e-8 and abs(lon - 121.4) < 1e-8
    # 0.1 deg of latitude is 11.09 km at 31 N (WGS84 meridian arc)
    d = np.linalg.norm(frame.to_enu(np.array(31.1), np.array(121.1), np.array(0.0)))
    assert abs(d - 11_090.0) < 15.0


@pytest.mark.parametrize(("e", "n"), [(3000.0, -2000.0), (-15000.0, 8000.0), (25000.0, 21000.0), (40000.0, -30000.0)])
def test_solver_recovers_point_from_exact_differences(e, n):
    frame = EnuFrame(31.0, 121.1)
    s = _sensors(frame)
    truth = np.array([e, n, float(surface_up_m(e, n, 10.0))])
    d = range_differences(truth, s)
    fix = solve_tdoa(s, d, np.eye(3) * 1.0, height_m=10.0)
    assert fix.converged
    assert math.hypot(fix.east_m - e, fix.north_m - n) < 0.5


def test_three_sensors_recover_point_inside_them():
    frame = EnuFrame(31.0, 121.1)
    s = _sensors(frame)[:3]
    truth = np.array([5000.0, 4000.0, float(surface_up_m(5000.0, 4000.0, 0.0))])
    fix = solve_tdoa(s, range_differences(truth, s), np.eye(2) * 4.0)
    assert math.hypot(fix.east_m - 5000.0, fix.north_m - 4000.0) < 1.0


def test_ellipse_covers_truth_95_percent_with_noisy_differences():
    frame = EnuFrame(31.0, 121.1)
    s = _sensors(frame)
    truth = np.array([2000.0, 6000.0, float(surface_up_m(2000.0, 6000.0, 0.0))])
    d0 = range_differences(truth, s)
    sigma = 60.0
    rng = np.random.default_rng(11)
    inside = 0
    trials = 300  # binomial sd 1.3 % about 95 %
    for _ in range(trials):
        fix = solve_tdoa(s, d0 + rng.normal(0, sigma, 3), np.eye(3) * sigma**2)
        inside += fix.contains(2000.0, 6000.0, CHI2_2DOF_95)
    assert 0.92 <= inside / trials <= 0.98
    major, minor, _ = fix.ellipse_95()
    assert major >= minor > 0


def test_checked_solver_leaves_out_the_one_inconsistent_difference_of_five_sensors():
    frame = EnuFrame(31.0, 121.1)
    s = np.vstack([_sensors(frame), frame.to_enu(np.array(30.95), np.array(121.15), np.array(20.0))[None, :]])
    truth = np.array([4000.0, 3000.0, float(surface_up_m(4000.0, 3000.0, 0.0))])
    d = range_differences(truth, s) + np.array([10.0, -15.0, 2000.0, 5.0])  # a wrong peak on pair 2
    fix, dropped = solve_tdoa_checked(s, d, np.eye(4) * 30.0**2)
    assert dropped == (2,)
    assert math.hypot(fix.east_m - 4000.0, fix.north_m - 3000.0) < 100.0
    assert fix.contains(4000.0, 3000.0)


def test_checked_solver_widens_the_region_when_one_redundant_difference_disagrees():
    frame = EnuFrame(31.0, 121.1)
    s = _sensors(frame)
    truth = np.array([4000.0, 3000.0, float(surface_up_m(4000.0, 3000.0, 0.0))])
    d = range_differences(truth, s) + np.array([0.0, 600.0, 0.0])
    plain = solve_tdoa(s, d, np.eye(3) * 30.0**2)
    fix, dropped = solve_tdoa_checked(s, d, np.eye(3) * 30.0**2)
    assert dropped == () and plain.chi2 > 10.0
    assert math.isclose(fix.ellipse_95()[0], plain.ellipse_95()[0] * math.sqrt(plain.chi2 / plain.dof), rel_tol=1e-6)
    # consistent data: nothing changes
    calm, _ = solve_tdoa_checked(s, range_differences(truth, s), np.eye(3) * 30.0**2)
    assert calm.cov_m2 == solve_tdoa(s, range_differences(truth, s), np.eye(3) * 30.0**2).cov_m2


def test_chi2_upper_points_match_scipy():
    from scipy.stats import chi2

    for alpha in (0.01, 0.05):
        for dof in (1, 2, 5, 10, 11, 30):
            assert math.isclose(chi2_upper(alpha, dof), chi2.isf(alpha, dof), rel_tol=2e-3)


def test_a_fix_weighted_one_way_and_stated_another_keeps_its_estimate_and_covers():
    # the pairs share a 250 m error (sensor 0's link) the weights do not know of: stated under the weights the
    # region held the truth in 82 of 100 fixes; stated under the true covariance (sandwich) in 98, the
    # estimate unchanged
    frame = EnuFrame(31.0, 121.1)
    s = _sensors(frame)
    truth = np.array([2000.0, 6000.0, float(surface_up_m(2000.0, 6000.0, 0.0))])
    d0 = range_differences(truth, s)
    weights = np.eye(3) * 60.0**2
    true_cov = weights + 250.0**2 * np.ones((3, 3))
    rng = np.random.default_rng(5)
    narrow = honest = 0
    trials = 100
    for _ in range(trials):
        d = d0 + rng.multivariate_normal(np.zeros(3), true_cov)
        plain, _ = solve_tdoa_checked(s, d, weights)
        stated, _ = solve_tdoa_checked(s, d, true_cov, weight_cov_m2=weights)
        assert (stated.east_m, stated.north_m) == (plain.east_m, plain.north_m)
        narrow += plain.contains(2000.0, 6000.0)
        honest += stated.contains(2000.0, 6000.0)
    assert narrow / trials < 0.9
    assert 0.93 <= honest / trials <= 1.0
    # weighted and stated alike: the sandwich is the plain covariance
    same, _ = solve_tdoa_checked(s, d0 + 5.0, true_cov, weight_cov_m2=true_cov)
    assert np.array(same.cov_m2) == pytest.approx(np.array(solve_tdoa_checked(s, d0 + 5.0, true_cov)[0].cov_m2))


def test_a_region_drawn_from_heavy_tailed_links_covers_where_their_gaussian_core_does_not():
    # four links pulled by a Student t (2 dof, scale 80 m: the simulator's multipath links), 20 m of Gaussian
    # noise, emitters anywhere within 15 km: stated as Gaussians of the links' typical size (100 m) the regions
    # held the truth in 256 of 300 fixes (85 %); drawn heavy-tailed through the same fix, in 289 (96 %), the
    # estimate unchanged
    frame = EnuFrame(31.0, 121.1)
    s = _sensors(frame)
    links = np.concatenate([np.ones((3, 1)), np.eye(3)], axis=1)  # sensor 0's link in every pair, sensor i's in i
    cov = np.eye(3) * 20.0**2 + (links * 100.0**2) @ links.T
    tail = HeavyTail(loadings=links, sigma_m=np.full(4, 100.0), scale_m=np.full(4, 80.0), nu=2.0)
    rng = np.random.default_rng(3)
    gaussian = heavy = 0
    trials = 300  # binomial sd 1.3 % about 95 %
    for _ in range(trials):
        e, n = rng.uniform(-15000.0, 15000.0, 2)
        truth = np.array([e, n, float(surface_up_m(e, n, 0.0))])
        d = range_differences(truth, s) + rng.normal(0.0, 20.0, 3) + links @ (80.0 * rng.standard_t(2.0, 4))
        plain, _ = solve_tdoa_checked(s, d, cov)
        tailed, _ = solve_tdoa_checked(s, d, cov, tail=tail)
        assert (tailed.east_m, tailed.north_m) == (plain.east_m, plain.north_m)
        gaussian += plain.contains(e, n)
        heavy += tailed.contains(e, n)
    assert gaussian / trials < 0.9
    assert 0.92 <= heavy / trials <= 0.98
