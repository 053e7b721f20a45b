"""The network learns the spread of levels about the model from matched stations, and few-sensor fixes use it.

One or two levels cannot say how far paths scatter (the e.r.p. takes their last degree of freedom), so a
fix of one or two sensors sized its region by a 3-10 dB spread mixture whatever the world was. Matched
licensed stations (known place, own distance law, only the e.r.p. fitted) leave n - 1 degrees of freedom
each; pooled, they measure the world the unknown emitters' levels meet.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from coordination.localisation import (
    LevelObservation,
    LocaliserConfig,
    SilentObservation,
    SpreadPrior,
    StationHypothesis,
    locate,
    log_distance_model,
)
from coordination.spread import NetworkSpread, erp_error_bound_db
from station_db.geo import haversine_km

MODEL = log_distance_model(3.5)
SENSORS = [(31.05 + 0.25 * i, 120.30 + 0.30 * j) for i in range(3) for j in range(4)]
"""Twelve sensors on a 28 x 28 km grid."""


def _learn(rng: np.random.Generator, sigma_db: float, cal_db: np.ndarray, n_stations: int) -> NetworkSpread:
    spread = NetworkSpread()
    for k in range(n_stations):
        heard = rng.choice(len(cal_db), size=int(rng.integers(2, 6)), replace=False)
        erp_offset = float(rng.uniform(-10.0, 20.0))  # what the e.r.p. is does not matter: it cancels
        spread.add(f"st{k}", {f"s{j}": erp_offset + float(cal_db[j]) + float(rng.normal(0.0, sigma_db))
                              for j in heard})
    return spread


@pytest.mark.parametrize("sigma_db", [1.0, 4.0, 8.0])
def test_the_pooled_spread_is_the_worlds_spread_whatever_the_stations_erp(sigma_db: float) -> None:
    rng = np.random.default_rng(7)
    cal = rng.normal(0.0, 2.0, 12)
    spread = _learn(rng, sigma_db, cal, 150)
    expected = math.sqrt(sigma_db**2 + float(np.var(cal)))  # calibration is part of what a fix meets
    prior = spread.prior()
    assert prior is not None and prior.dof == spread.dof > 300
    assert abs(prior.sigma_db - max(expected, spread.floor_db)) < 0.12 * expected, (prior.sigma_db, expected)


def test_a_station_counts_once_with_its_latest_judgement_and_one_level_teaches_nothing() -> None:
    spread = NetworkSpread(min_dof=1)
    spread.add("a", {"s1": 0.0, "s2": 10.0})
    assert spread.dof == 1 and spread.sigma_db() == pytest.approx(math.sqrt(50.0))
    for _ in range(20):  # judged again and again: still one station
        spread.add("a", {"s1": 0.0, "s2": 4.0, "s3": 2.0})
    assert spread.dof == 2 and spread.sigma_db() == pytest.approx(2.0)
    spread.add("b", {"s1": 30.0})
    assert spread.dof == 2


def test_nothing_is_learnt_below_min_dof_and_the_memory_is_bounded() -> None:
    spread = NetworkSpread(max_stations=3, min_dof=5)
    for k in range(4):
        spread.add(f"st{k}", {"s1": 0.0, "s2": 3.0})
        assert spread.prior() is None  # 1, 2, 3, 3 dof: never 5
    assert spread.dof == 3


def test_one_wild_level_does_not_set_the_spread() -> None:
    rng = np.random.default_rng(3)
    spread = _learn(rng, 5.0, np.zeros(12), 60)
    clean = spread.sigma_db()
    spread.add("mis-grouped", {"s1": 0.0, "s2": 80.0})
    assert clean is not None and spread.sigma_db() == pytest.approx(clean, rel=0.1)


def test_sensor_calibration_offsets_are_learnt_from_the_same_residuals() -> None:
    rng = np.random.default_rng(11)
    cal = rng.normal(0.0, 3.0, 12)
    offsets = _learn(rng, 4.0, cal, 300).sensor_offsets_db()
    assert len(offsets) == 12
    got = np.array([offsets[f"s{j}"] for j in range(12)])
    # relative to the network's mean; each sensor heard ~80 stations: error ~ 5 / sqrt(80) ~ 0.6 dB
    assert np.max(np.abs((got - got.mean()) - (cal - cal.mean()))) < 1.5


def test_the_prior_grid_centres_on_the_learnt_spread_and_narrows_with_dof() -> None:
    for dof, width in ((10.0, 0.6), (1000.0, 0.06)):
        sig, logw = SpreadPrior(5.0, dof).grid(5)
        w = np.exp(logw)
        assert w.sum() == pytest.approx(1.0) and int(np.argmax(w)) == 2
        assert sig[2] == pytest.approx(5.0, rel=0.02)
        span = math.log(sig[-1] / sig[0])  # +-2.5 standard deviations of log(sigma)
        assert abs(span - 5.0 / math.sqrt(2 * dof)) < 1e-9 and span < 2 * width
    with pytest.raises(ValueError, match="SpreadPrior"):
        SpreadPrior(0.0, 10.0)


def _two_sensor_trials(spread: SpreadPrior | None, noise_db: float, n: int = 10) -> tuple[float, float]:
    """(coverage, median 95 % radius km) of two-sensor fixes, silent neighbours known, spread ``noise_db``."""
    rng = np.random.default_rng(2031)
    hits, radii, trials = 0, [], 0
    # The emitter follows the localiser's own law here: no unknown-height term on top of the learnt spread.
    cfg = LocaliserConfig(grid_n=21, refine_levels=2, n_samples=300, unknown_law_db=0.0)
    while trials < n:
        truth = (float(rng.uniform(31.05, 31.55)), float(rng.uniform(120.30, 121.20)))
        erp = float(rng.normal(10.0, 10.0))  # the localiser's own e.r.p. prior: only the spread is under test
        lv = [erp + float(MODEL(np.array([haversine_km(la, lo, *truth)]))[0]) + float(rng.normal(0, noise_db))
              for la, lo in SENSORS]
        order = np.argsort(lv)[::-1]
        if lv[order[1]] < 20.0 or lv[order[2]] >= 20.0:
            continue  # exactly two sensors hear it (limit 20 dBuV/m)
        obs = [LevelObservation(*SENSORS[j], lv[j], f"s{j}") for j in order[:2]]
        sil = [SilentObservation(*SENSORS[j], 20.0, f"q{j}") for j in order[2:]]
        p = locate(obs, MODEL, config=cfg, silent=sil, spread=spread).position
        east = (truth[1] - p.lon) * 111.320 * math.cos(math.radians(p.lat))
        north = (truth[0] - p.lat) * 110.574
        az = math.radians(p.orientation_deg)
        u, v = east * math.sin(az) + north * math.cos(az), east * math.cos(az) - north * math.sin(az)
        hits += (u / p.semi_major_km) ** 2 + (v / p.semi_minor_km) ** 2 <= 5.991
        radii.append(p.error_km)
        trials += 1
    return hits / trials, float(np.median(radii))


def test_a_two_sensor_fix_with_the_learnt_spread_is_smaller_in_a_calm_world() -> None:
    mixture = _two_sensor_trials(None, 1.5)
    learnt = _two_sensor_trials(SpreadPrior(1.5, 300.0), 1.5)
    # Measured (seed 2031, 10 trials): coverage 1.0 / 1.0, median 95 % radius 333 / 30 km. The mixture's
    # 3-10 dB lets two levels sit almost anywhere along their curve; 1.5 dB learnt does not.
    assert learnt[1] < 0.2 * mixture[1], (mixture, learnt)
    assert learnt[0] >= 0.7 and mixture[0] == 1.0, (mixture, learnt)


def test_the_erp_fit_error_bound_is_z_sigma_over_root_n_once_learnt_and_wider_before() -> None:
    cfg = LocaliserConfig()
    learnt = erp_error_bound_db([0.0, 5.0, -5.0, 2.0], SpreadPrior(7.8, 1000.0), cfg, 1.64)
    assert learnt == pytest.approx(1.64 * 7.8 / 2.0, rel=0.03)  # four levels, spread known: z sigma / sqrt(4)
    one = erp_error_bound_db([0.0], SpreadPrior(7.8, 1000.0), cfg, 1.64)
    few = erp_error_bound_db([0.0], SpreadPrior(7.8, 8.0), cfg, 1.64)
    assert one == pytest.approx(1.64 * 7.8, rel=0.03) and few > 1.05 * one  # known from 8 dof only: t-like
    # Nothing learnt, one level: the 3-10 dB range's mixture, whose 10 dB part sets the tail.
    alone = erp_error_bound_db([0.0], None, cfg, 1.64)
    assert 9.5 < alone < 11.5
    # Nothing learnt, three levels that agree within 1 dB: their own residuals pull the spread down.
    agree = erp_error_bound_db([0.0, 1.0, -1.0], None, cfg, 1.64)
    assert agree < 0.65 * erp_error_bound_db([0.0, 9.0, -9.0], None, cfg, 1.64)  # measured 4.4 against 7.4 dB


def test_each_service_has_the_erp_prior_of_what_its_unknown_emitters_radiate() -> None:
    cfg = LocaliserConfig()
    pmr, fm = cfg.for_service("land_mobile"), cfg.for_service("broadcast")
    assert pmr.region_erp() == (0.0, 20.0, 6.0)
    assert fm.region_erp() == (10.0, 30.0, 6.0)  # an FM pirate is not a PMR handheld
    # The station odds' alternative keeps the general prior.
    assert (fm.erp_range_dbw, fm.erp_prior_sigma_db) == (cfg.erp_range_dbw, cfg.erp_prior_sigma_db)
    assert cfg.for_service("radar") is cfg  # a service it does not list keeps the general prior
    assert cfg.region_erp() == (-10.0, 30.0, 10.0)
    toml = LocaliserConfig(erp_by_service={"land_mobile": [-5, 15, 4]})  # as a TOML table gives it
    assert toml.for_service("land_mobile").region_erp() == (-5.0, 15.0, 4.0)
    assert toml.for_service("broadcast") is toml
    with pytest.raises(ValueError, match=r"erp_by_service\['maritime'\]"):
        LocaliserConfig(erp_by_service={"maritime": [20, 10, 6]})
    with pytest.raises(ValueError, match="low_dbw, high_dbw"):
        LocaliserConfig(erp_by_service={"maritime": [10, 20]})


def test_the_unknown_emitters_law_widens_the_learnt_spread_a_stations_own_law_does_not() -> None:
    rng = np.random.default_rng(7)
    truth = (31.30, 120.75)
    lv = [10.0 + float(MODEL(np.array([haversine_km(la, lo, *truth)]))[0]) + float(rng.normal(0, 1.5))
          for la, lo in SENSORS]
    obs = [LevelObservation(*SENSORS[j], lv[j], f"s{j}") for j in range(len(SENSORS)) if lv[j] >= 20.0]
    assert len(obs) >= 6
    learnt = SpreadPrior(1.5, 1000.0)
    base = LocaliserConfig(grid_n=21, refine_levels=2, n_samples=300)
    plain = locate(obs, MODEL, config=dataclasses.replace(base, unknown_law_db=0.0), spread=learnt)
    wide = locate(obs, MODEL, config=base, spread=learnt)
    # The unknown emitter's spread: 1.5 dB learnt and 2 dB of unknown height in quadrature, 2.5 dB.
    assert plain.sigma_db == pytest.approx(1.5, abs=0.1) and wide.sigma_db == pytest.approx(2.5, abs=0.15)
    assert learnt.widened(0.0) is learnt and learnt.widened(2.0).dof == learnt.dof


def test_the_service_prior_narrows_a_one_sensor_region_and_leaves_the_station_odds_alone() -> None:
    truth = (31.30, 120.75)
    level = 10.0 + float(MODEL(np.array([haversine_km(*SENSORS[5], *truth)]))[0])  # a 10 W PMR base
    obs = [LevelObservation(*SENSORS[5], level, "s5")]
    sil = [SilentObservation(*SENSORS[j], level, f"q{j}") for j in range(len(SENSORS)) if j != 5]
    g = tuple(float(MODEL(np.array([haversine_km(*truth, o.lat, o.lon)]))[0]) for o in obs)
    g_sil = tuple(float(MODEL(np.array([haversine_km(*truth, q.lat, q.lon)]))[0]) for q in sil)
    station = StationHypothesis("pmr", *truth, erp_dbw=10.0, g_heard_db=g, g_silent_db=g_sil)
    base = LocaliserConfig(grid_n=21, refine_levels=2, n_samples=300)
    general = locate(obs, MODEL, config=base, silent=sil, stations=[station])
    pmr = locate(obs, MODEL, config=base.for_service("land_mobile"), silent=sil, stations=[station])
    # One level: the region's length along the distance curve follows the e.r.p. prior (measured 173 km with
    # the general 10 dB prior, 163 km with the land-mobile 6 dB one; the silences' 5 % misses keep the tail).
    assert pmr.position.error_km < 0.97 * general.position.error_km, (pmr.position, general.position)
    # A licensed station is weighed against the general prior either way.
    assert dict(pmr.station_probabilities)["pmr"] == pytest.approx(dict(general.station_probabilities)["pmr"],
                                                                    rel=1e-9)


def test_an_anchored_spread_stays_near_the_learnt_one_for_agreeing_levels_and_lets_an_unusual_path_widen() -> None:
    """A learnt spread anchoring a mixture with a wide spread (``SpreadPrior.with_wide``): three levels that agree
    keep a region near the learnt spread's, narrower than the 3-10 dB mixture's; levels that scatter by ~9 dB about
    any single emitter move the weight to the wide spread and the region widens (an unusual path)."""
    cfg = LocaliserConfig(grid_n=21, refine_levels=2, n_samples=300, unknown_law_db=0.0)
    truth = (31.30, 120.75)
    g = [float(MODEL(np.array([haversine_km(la, lo, *truth)]))[0]) for la, lo in SENSORS]
    near = [5, 6, 9]  # three sensors 14-31 km from the emitter
    calm = [LevelObservation(*SENSORS[j], 10.0 + g[j] + e, f"s{j}") for j, e in zip(near, (0.5, -0.5, 0.3),
                                                                                      strict=True)]
    anchored = SpreadPrior(3.0, 300.0).with_wide(10.0, 0.1)
    sig, logw = anchored.grid(3)
    assert sig[-1] == 10.0 and np.exp(logw).sum() == pytest.approx(1.0) and np.exp(logw[-1]) == pytest.approx(0.1)
    r_anch = locate(calm, MODEL, config=cfg, spread=anchored).position.error_km
    r_mix = locate(calm, MODEL, config=cfg).position.error_km
    r_learnt = locate(calm, MODEL, config=cfg, spread=SpreadPrior(3.0, 300.0)).position.error_km
    assert r_learnt <= r_anch < 0.9 * r_mix, (r_learnt, r_anch, r_mix)  # measured 73 <= 92 < 108 km
    odd = [LevelObservation(*SENSORS[j], 10.0 + g[j] + e, f"s{j}") for j, e in zip((1, 2, 5, 6, 9, 10),
                                                                                  (9.0, -9.0, 8.0, -8.0, 9.0, -9.0),
                                                                                  strict=True)]
    wide = locate(odd, MODEL, config=cfg, spread=anchored)
    tight = locate(odd, MODEL, config=cfg, spread=SpreadPrior(3.0, 300.0))
    # measured: 8.7 dB and 59 km against 3.0 dB and 18 km (the mixture alone: 8.4 dB, 73 km)
    assert wide.sigma_db > 7.0 and wide.position.error_km > 1.3 * tight.position.error_km, (wide, tight)
    with pytest.raises(ValueError, match="wide_share"):
        SpreadPrior(3.0, 300.0, wide_db=10.0, wide_share=1.0)
    assert anchored.widened(2.0).wide_db == 10.0 and anchored.widened(2.0).sigma_db == pytest.approx(math.hypot(3, 2))
