"""Fusing the received-level fix with the TDOA fix: known answers, coverage, disagreement, the method field."""

from __future__ import annotations

import math

import numpy as np
import pytest

from coordination.alerts import AlertError, Position
from coordination.tdoa_fusion import (
    CHI2_2DOF_95,
    covariance_km2,
    fix_weights,
    fuse_positions,
    fuse_with_doubt,
    station_odds_factor,
)

LAT0, LON0 = 31.0, 121.0
KM_LAT = 111.195
KM_LON = KM_LAT * math.cos(math.radians(LAT0))


def _pos(east_km: float, north_km: float, cov: np.ndarray, method: str, kind: str = "ellipse") -> Position:
    vals, vecs = np.linalg.eigh(cov)
    az = math.degrees(math.atan2(vecs[0, 1], vecs[1, 1])) % 180.0
    a, b = math.sqrt(vals[1]), math.sqrt(vals[0])
    return Position(lat=LAT0 + north_km / KM_LAT, lon=LON0 + east_km / KM_LON, error_km=math.sqrt(CHI2_2DOF_95) * a,
                    semi_major_km=a, semi_minor_km=b, orientation_deg=az, kind=kind, n_sensors=4, method=method)


def _xy(p: Position) -> np.ndarray:
    return np.array([(p.lon - LON0) * KM_LON, (p.lat - LAT0) * KM_LAT])


def test_covariance_round_trips_through_the_position_ellipse() -> None:
    cov = np.array([[4.0, 1.5], [1.5, 1.0]])
    np.testing.assert_allclose(covariance_km2(_pos(0, 0, cov, "rss")), cov, atol=1e-9)


def test_agreeing_fixes_combine_in_information_form() -> None:
    rss = _pos(0.0, 0.0, np.diag([9.0, 9.0]), "rss")  # 3 km 1-sigma circle
    tdoa = _pos(1.0, 0.5, np.diag([0.05**2, 2.0**2]), "tdoa")  # 50 m east-west, 2 km north-south
    out = fuse_positions(rss, tdoa)
    assert out.consistent and out.position.method == "fused"
    e, n = _xy(out.position)
    assert e == pytest.approx(1.0 * 9.0 / (9.0 + 0.0025), abs=2e-3)
    assert n == pytest.approx(0.5 * (1 / 4) / (1 / 9 + 1 / 4), abs=2e-3)
    cov = covariance_km2(out.position)
    assert cov[1, 1] == pytest.approx(1 / (1 / 9 + 1 / 4), rel=1e-3)  # the level fix narrowed the long axis
    assert cov[0, 0] == pytest.approx(1 / (1 / 9 + 1 / 0.0025), rel=1e-3)


def test_fused_region_covers_the_truth_95_percent_of_the_time() -> None:
    rng = np.random.default_rng(19)
    p1 = np.array([[6.0, 2.0], [2.0, 3.0]])
    p2 = np.array([[0.02, -0.05], [-0.05, 0.5]])
    hits, trials = 0, 1500
    for _ in range(trials):
        x1 = rng.multivariate_normal(np.zeros(2), p1)
        x2 = rng.multivariate_normal(np.zeros(2), p2)
        out = fuse_positions(_pos(*x1, p1, "rss"), _pos(*x2, p2, "tdoa")).position
        d = -_xy(out)  # the truth is the origin
        hits += float(d @ np.linalg.solve(covariance_km2(out), d)) <= CHI2_2DOF_95
    assert 0.93 <= hits / trials <= 0.97


def test_disagreeing_fixes_give_a_region_holding_both() -> None:
    rss = _pos(0.0, 0.0, np.diag([1.0, 1.0]), "rss")
    tdoa = _pos(12.0, -5.0, np.diag([0.01, 0.04]), "tdoa")  # a pair locked on a wrong peak, confidently
    out = fuse_positions(rss, tdoa)
    assert not out.consistent and out.mahalanobis2 > 13.8
    cov, centre = covariance_km2(out.position), _xy(out.position)
    for point in (np.zeros(2), np.array([12.0, -5.0])):
        d = point - centre
        assert float(d @ np.linalg.solve(cov, d)) <= CHI2_2DOF_95


def test_a_one_sensor_annulus_is_not_fused() -> None:
    ring = _pos(0.0, 0.0, np.diag([100.0, 100.0]), "rss", kind="annulus")
    tdoa = _pos(3.0, 1.0, np.diag([0.01, 0.01]), "tdoa")
    out = fuse_positions(ring, tdoa)
    assert out.position is tdoa and out.position.method == "tdoa"


def test_position_method_travels_in_json_and_is_checked() -> None:
    pos = _pos(1.0, 1.0, np.diag([1.0, 1.0]), "tdoa")
    doc = pos.to_json()
    assert doc["method"] == "tdoa" and Position.from_json(doc).method == "tdoa"
    old = {k: v for k, v in doc.items() if k != "method"}
    assert Position.from_json(old).method == "rss"  # documents from before the field are level fixes
    with pytest.raises(AlertError, match="method"):
        Position.from_json(doc | {"method": "guess"})


def _wrong_peak(rng: np.random.Generator, level_xy: np.ndarray, p1: np.ndarray) -> np.ndarray:
    """A wrong correlation peak: anywhere in the level fix's 95 % ellipse (uniform)."""
    r = math.sqrt(rng.random() * CHI2_2DOF_95)
    th = rng.random() * 2.0 * math.pi
    return level_xy + np.linalg.cholesky(p1) @ np.array([r * math.cos(th), r * math.sin(th)])


def _inside(pos: Position, xy: np.ndarray) -> bool:
    d = xy - _xy(pos)
    return float(d @ np.linalg.solve(covariance_km2(pos), d)) <= CHI2_2DOF_95


@pytest.mark.parametrize("q", [0.1, 0.3])
def test_a_fix_that_is_a_wrong_peak_q_of_the_time_gets_a_region_that_still_covers_95_percent(q: float) -> None:
    # Levels: 8 km 1-sigma; TDOA: 150 m 1-sigma, but a wrong peak (anywhere in the level region, with the
    # same small region) in a share q of the rounds. Told q, the fused region covers the truth as stated;
    # information-form fusion (which trusts every fix) covers it only when the fix is right.
    rng = np.random.default_rng(1800 + int(100 * q))
    p1, p2 = np.diag([64.0, 36.0]), np.diag([0.15**2, 0.12**2])
    hits = naive = right_small = n_right = 0
    trials = 600
    for _ in range(trials):
        x1 = rng.multivariate_normal(np.zeros(2), p1)
        wrong = rng.random() < q
        x2 = _wrong_peak(rng, x1, p1) if wrong else rng.multivariate_normal(np.zeros(2), p2)
        rss, tdoa = _pos(*x1, p1, "rss"), _pos(*x2, p2, "tdoa")
        out = fuse_with_doubt(rss, tdoa, outlier_probability=q)
        hits += _inside(out.position, np.zeros(2))
        naive += _inside(fuse_positions(rss, tdoa).position, np.zeros(2))
        if not wrong and float(x1 @ np.linalg.solve(p1, x1)) < 3.22:
            # a right fix the levels do not contradict (the level fix within its own 80 % region of the
            # truth) places the emitter at the fix (150 m 1-sigma), within 0.6 km
            n_right += 1
            right_small += float(np.hypot(*_xy(out.position))) < 0.6
    assert 0.90 <= hits / trials <= 0.98, hits / trials
    assert naive / trials < 1.0 - 0.6 * q  # the wrong peaks' small regions miss the truth
    assert n_right > 0.6 * trials * (1 - q) and right_small == n_right, (right_small, n_right)


def test_a_confident_fix_the_levels_rule_out_leaves_the_level_fix_and_says_so() -> None:
    rss = _pos(0.0, 0.0, np.diag([4.0, 4.0]), "rss")  # 2 km 1-sigma
    tdoa = _pos(9.0, 0.0, np.diag([0.02, 0.02]), "tdoa")  # 9 km off: 4.5 of the level sigmas
    out = fuse_with_doubt(rss, tdoa, outlier_probability=0.3)
    assert out.point == "levels" and not out.consistent and out.weight_tdoa < 0.2
    assert float(np.hypot(*_xy(out.position))) < 1e-6  # the level fix's point
    assert _inside(out.position, np.zeros(2))
    # the levels' own likelihood ratio, when given, decides instead of the ellipse: here it finds the
    # fix's place as likely as their own fix, so the fix is taken
    took = fuse_with_doubt(rss, tdoa, outlier_probability=0.3, level_llr=0.0)
    assert took.point == "fused" and took.weight_tdoa > 0.5


def test_the_fix_is_the_point_when_it_is_likelier_right_than_a_wrong_peak() -> None:
    # Levels 20 x 10 km 1-sigma; a checked narrowband fix (q = 0.1) 26 km north, 2.6 level sigmas out:
    # fused 0.38, fix alone 0.19, wrong peak 0.43. The fix is right with 0.57, so the emitter is put at the
    # fix (the fused and the fix-alone branches are one place), not at the level fix, the largest single branch.
    rss = _pos(0.0, 0.0, np.diag([20.0**2, 10.0**2]), "rss")
    tdoa = _pos(0.0, 26.0, np.diag([0.04, 0.04]), "tdoa")
    (w_f, w_t, w_l), _ = fix_weights(rss, tdoa, outlier_probability=0.1)
    assert max(w_f, w_t) < w_l < w_f + w_t and w_f > w_t
    out = fuse_with_doubt(rss, tdoa, outlier_probability=0.1)
    assert out.point == "fused" and out.consistent and out.weight_tdoa == pytest.approx(w_f + w_t)
    assert float(np.hypot(*(_xy(out.position) - _xy(tdoa)))) < 0.3
    assert _inside(out.position, np.zeros(2)) and _inside(out.position, _xy(tdoa))  # the region holds both
    # 35 km out (3.5 sigmas) the fix is likelier a wrong peak (0.66): the level fix is the point
    far = fuse_with_doubt(rss, _pos(0.0, 35.0, np.diag([0.04, 0.04]), "tdoa"), outlier_probability=0.1)
    assert far.point == "levels" and far.weight_tdoa < 0.4 and float(np.hypot(*_xy(far.position))) < 1e-6


def test_a_fix_far_from_a_licensed_site_divides_its_odds_by_at_most_about_one_over_q() -> None:
    rss = _pos(0.0, 0.0, np.diag([25.0, 25.0]), "rss")
    tdoa = _pos(1.0, 1.0, np.diag([0.04, 0.04]), "tdoa")
    site_far = (LAT0 + 6.0 / KM_LAT, LON0)  # 6 km from the fix, 30 fix-sigmas
    site_near = (LAT0 + 1.05 / KM_LAT, LON0 + 1.0 / KM_LON)
    for q in (0.05, 0.3):
        far = station_odds_factor(tdoa, rss, *site_far, tol_km=1.0, outlier_probability=q)
        assert q / 4.0 < far < q  # a wrong peak explains a far fix: the odds drop, bounded by q
        assert station_odds_factor(tdoa, rss, *site_near, tol_km=1.0, outlier_probability=q) > 5.0
    assert station_odds_factor(tdoa, rss, *site_far, tol_km=1.0, outlier_probability=0.0) < 1e-3
