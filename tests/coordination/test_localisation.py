"""Received-level localisation: accuracy with several sensors, honest regions with one or two."""

from __future__ import annotations

import math

import numpy as np
import pytest

from coordination.localisation import (
    LevelObservation,
    LocalisationError,
    LocaliserConfig,
    localise,
    log_distance_model,
)
from coordination.prediction import emitter_field_model
from station_db.geo import haversine_km, provinces_of

MODEL = log_distance_model(3.5)
TRUTH = (31.30, 120.62)  # Suzhou
SQUARE = [(31.45, 120.45), (31.42, 120.82), (31.15, 120.48), (31.17, 120.80)]  # ~30 km apart around it


def observe(sensors, truth, erp_dbw, rng=None, noise_db=0.0, model=MODEL):
    out = []
    for i, (lat, lon) in enumerate(sensors):
        d = float(haversine_km(lat, lon, *truth))
        e = float(erp_dbw + model(np.array([d]))[0])
        if rng is not None:
            e += float(rng.normal(0.0, noise_db))
        out.append(LevelObservation(lat, lon, e, f"s{i}"))
    return out


def test_noise_free_four_sensors_recover_position_and_erp() -> None:
    p = localise(observe(SQUARE, TRUTH, 12.0), MODEL)
    assert p.kind == "ellipse" and p.n_sensors == 4
    assert haversine_km(p.lat, p.lon, *TRUTH) < 0.05
    assert p.eirp_dbw == pytest.approx(12.0, abs=0.3)  # the weak e.r.p. prior pulls a little towards 10 dBW


def test_four_sensors_with_2db_noise_locate_within_3km_median_and_ellipse_covers_truth() -> None:
    rng = np.random.default_rng(7)
    errors, covered = [], 0
    for _ in range(100):
        p = localise(observe(SQUARE, TRUTH, 10.0, rng, 2.0), MODEL)
        err = float(haversine_km(p.lat, p.lon, *TRUTH))
        errors.append(err)
        covered += err <= p.error_km
    errors_arr = np.array(errors)
    # Stated bound: 4 sensors ~30 km apart around the emitter, 2 dB shadowing.
    assert np.median(errors_arr) < 3.0
    assert np.percentile(errors_arr, 90) < 6.0
    # error_km is the 95 % radius with the assumed sigma of 4 dB: conservative for 2 dB noise.
    assert covered >= 95


def test_more_sensors_shrink_the_ellipse() -> None:
    six = [*SQUARE, (31.30, 120.40), (31.30, 120.86)]
    p4 = localise(observe(SQUARE, TRUTH, 10.0), MODEL)
    p6 = localise(observe(six, TRUTH, 10.0), MODEL)
    assert p6.semi_major_km < p4.semi_major_km
    assert p4.semi_minor_km <= p4.semi_major_km
    assert 0.0 <= p4.orientation_deg < 180.0


def test_emitter_outside_the_network_is_still_found_roughly() -> None:
    truth = (31.55, 120.62)  # 12 km north of the northern sensors
    p = localise(observe(SQUARE, truth, 10.0), MODEL)
    assert haversine_km(p.lat, p.lon, *truth) < 1.0


def test_single_sensor_gives_an_annulus_containing_the_truth() -> None:
    sensor = [(31.45, 120.45)]
    for erp in (-5.0, 10.0, 25.0):
        p = localise(observe(sensor, TRUTH, erp), MODEL)
        d_true = float(haversine_km(31.45, 120.45, *TRUTH))
        assert p.kind == "annulus" and (p.lat, p.lon) == (31.45, 120.45)
        assert p.r_inner_km <= d_true <= p.r_outer_km
        assert p.error_km == p.r_outer_km


def test_single_sensor_radii_follow_the_plausible_erp_range() -> None:
    cfg = LocaliserConfig(erp_range_dbw=(0.0, 20.0))
    e = 30.0  # dBuV/m measured
    p = localise([LevelObservation(31.0, 120.0, e)], MODEL, config=cfg)
    # E = P + 76.9 - 35 log10(d)  ->  d = 10 ** ((P + 76.9 - E) / 35)
    assert p.r_inner_km == pytest.approx(10 ** ((0.0 + 76.9 - e) / 35.0), rel=1e-3)
    assert p.r_outer_km == pytest.approx(10 ** ((20.0 + 76.9 - e) / 35.0), rel=1e-3)


def test_two_sensors_give_a_region_not_a_point() -> None:
    p = localise(observe(SQUARE[:2], TRUTH, 10.0), MODEL)
    assert p.kind == "region" and p.n_sensors == 2
    assert p.semi_major_km > 5.0  # honest: two levels cannot fix three unknowns
    assert haversine_km(p.lat, p.lon, *TRUTH) < p.error_km


def test_province_probabilities_near_the_zj_js_border() -> None:
    sensors = [(30.75, 120.15), (30.72, 120.40), (31.00, 120.15), (31.02, 120.40)]
    truth = (30.84, 120.25)  # Zhejiang, 9 km from Jiangsu
    p = localise(observe(sensors, truth, 10.0), MODEL, province_lookup=provinces_of)
    probs = p.province_probabilities
    assert max(probs, key=probs.get) == "ZJ" and probs["ZJ"] > 0.9
    assert sum(probs.values()) <= 1.0 + 1e-9
    # One sensor north of the border: the annulus spans both provinces.
    p1 = localise(observe(sensors[2:3], truth, 10.0), MODEL, province_lookup=provinces_of)
    assert {"ZJ", "JS"} <= set(p1.province_probabilities)


def test_region_edge_touching_a_province_names_it() -> None:
    def lookup(lat, lon):
        return np.where(np.asarray(lon) > 120.75, "SH", "JS").astype(object)

    p = localise(observe(SQUARE, (31.30, 120.68), 10.0), MODEL, province_lookup=lookup,
                 config=LocaliserConfig(sigma_db=6.0))
    probs = p.province_probabilities
    assert probs["JS"] > probs["SH"] > 0.0


def test_works_with_the_p1546_emitter_model() -> None:
    model = emitter_field_model(450e6, 15.0, 50.0)
    p = localise(observe(SQUARE, TRUTH, 10.0, model=model), model)
    assert haversine_km(p.lat, p.lon, *TRUTH) < 0.2
    assert p.eirp_dbw == pytest.approx(10.0, abs=0.5)


def test_bad_input_is_refused_with_a_clear_message() -> None:
    with pytest.raises(LocalisationError, match="no observations"):
        localise([], MODEL)
    with pytest.raises(LocalisationError, match="s1"):
        localise([LevelObservation(31.0, 120.0, 30.0, "s0"), LevelObservation(31.1, 120.0, math.nan, "s1")], MODEL)


def test_co_located_sensors_do_not_crash_and_report_a_wide_region() -> None:
    same = [(31.3, 120.6)] * 3
    obs = [LevelObservation(lat, lon, 40.0 + i * 0.5, f"s{i}") for i, (lat, lon) in enumerate(same)]
    p = localise(obs, MODEL)
    assert math.isfinite(p.lat) and math.isfinite(p.lon)
    assert p.error_km > 5.0
