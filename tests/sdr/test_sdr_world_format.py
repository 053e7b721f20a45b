"""The scenario's [world] and [sensor_defaults] tables: typed settings, defaults, and errors that name the key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sdr.scenario import ScenarioError, WorldSettings, load_scenario, parse_scenario
from sdr.sources import SimulatedSource, open_source
from sdr.sources.sim_link import FreeSpaceModel
from sdr.sources.sim_world import RealisticWorld, world_model


def doc(world: dict[str, Any] | None = None, defaults: dict[str, Any] | None = None,
        **sensor: Any) -> dict[str, Any]:
    d: dict[str, Any] = {
        "scenario": {"seed": 4},
        "sensors": [{"id": "A", "province": "JS", "lat": 31.0, "lon": 120.0} | sensor,
                    {"id": "B", "province": "ZJ", "lat": 30.8, "lon": 120.4, "noise_figure_db": 9}],
        "transmitters": [{"id": "T", "lat": 31.1, "lon": 120.2, "freq_hz": 152e6, "erp_dbw": 5, "modulation": "cw"}],
    }
    if world is not None:
        d["world"] = world
    if defaults is not None:
        d["sensor_defaults"] = defaults
    return d


def test_a_realistic_world_takes_the_documented_defaults() -> None:
    w = parse_scenario(doc({"model": "realistic"})).world
    assert w == WorldSettings("realistic", 6.0, 25.0, 0.5, (5.0, 15.0), 2.0, True, None)
    assert parse_scenario(doc({})).world == w  # model defaults to realistic
    ideal = parse_scenario(doc({"model": "p1546", "shadowing_db": 1})).world
    assert ideal == WorldSettings("p1546", 1.0, 0.0, 0.0, None, 0.0, False, None)
    assert parse_scenario(doc()).world is None  # no [world]: old scenarios render as before


def test_the_world_table_builds_the_simulators_model() -> None:
    sc = parse_scenario(doc({"shadowing_db": 8, "seed": 99, "rx_clutter_m": [8, 12], "water_paths": False}))
    model = world_model(sc)
    assert isinstance(model, RealisticWorld)
    assert (model.shadowing_db, model.seed, model.rx_clutter_min_m, model.rx_clutter_max_m) == (8.0, 99, 8.0, 12.0)
    assert model.water_mask is None
    assert world_model(parse_scenario(doc({"shadowing_db": 8})), water_mask=lambda a, b: a > 0).water_mask is not None
    assert world_model(parse_scenario(doc({"shadowing_db": 8}))).seed == 4  # the scenario's seed
    assert isinstance(world_model(parse_scenario(doc({"model": "free_space"}))), FreeSpaceModel)
    assert world_model(parse_scenario(doc())) is None
    src = SimulatedSource(sc, "A", center_freq_hz=152e6)
    assert isinstance(src.propagation, RealisticWorld)  # a scenario with a world renders it by default
    assert src.calibration_error_db == model.calibration_error_db(sc.sensor("A"))
    assert isinstance(SimulatedSource(parse_scenario(doc()), "A").propagation, FreeSpaceModel)


def test_sensor_defaults_apply_and_a_sensors_own_key_wins() -> None:
    sc = parse_scenario(doc(defaults={"noise_figure_db": 18, "ppm_error": 1.5, "height_m": 20,
                                      "calibration_error_db": -1.0}, ppm_error=-3.0))
    a, b = sc.sensor("A"), sc.sensor("B")
    assert (a.noise_figure_db, a.ppm_error, a.height_m, a.calibration_error_db) == (18.0, -3.0, 20.0, -1.0)
    assert (b.noise_figure_db, b.ppm_error, b.height_m) == (9.0, 1.5, 20.0)


@pytest.mark.parametrize(("world", "defaults", "sensor", "message"), [
    ({"model": "hata"}, None, {}, r"x\.toml \[world\]: key 'model' must be one of realistic, p1546, free_space"),
    ({"shadowing": 6}, None, {}, r"x\.toml \[world\]: unknown key 'shadowing'; allowed: calibration_sigma_db"),
    ({"model": "p1546", "heff_sigma_m": 10}, None, {},
     r"x\.toml \[world\]: key 'heff_sigma_m' applies only to model = \"realistic\""),
    ({"model": "free_space", "shadowing_db": 3}, None, {}, r"\[world\]: key 'shadowing_db' applies only to model"),
    ({"shadowing_db": -2}, None, {}, r"\[world\]: key 'shadowing_db' must be within 0\.\.20, got -2"),
    ({"shadowing_db": "six"}, None, {}, r"\[world\]: key 'shadowing_db' must be float, got 'six'"),
    ({"calibration_sigma_db": 40}, None, {}, r"\[world\]: key 'calibration_sigma_db' must be within 0\.\.10"),
    ({"rx_clutter_m": [15, 5]}, None, {}, r"\[world\]: key 'rx_clutter_m' must be \[min_m, max_m\]"),
    ({"water_paths": 1}, None, {}, r"\[world\]: key 'water_paths' must be bool, got 1"),
    ({"seed": -1}, None, {}, r"\[world\]: key 'seed' must be a non-negative integer"),
    (None, {"lat": 31.0}, {}, r"x\.toml \[sensor_defaults\]: unknown key 'lat'; allowed: antenna_factor_db_m"),
    (None, {"noise_figure_db": 90}, {}, r"\[sensor_defaults\]: key 'noise_figure_db' must be within 0\.\.60, got 90"),
    (None, {"ppm_error": "1 ppm"}, {}, r"\[sensor_defaults\]: key 'ppm_error' must be float"),
    (None, None, {"calibration_error_db": 45}, r"x\.toml \[\[sensors\]\] #1 \(A\): key 'calibration_error_db' must be "
                                              r"within -30\.\.30, got 45"),
    (None, None, {"ppm_error": 1e4}, r"\[\[sensors\]\] #1 \(A\): key 'ppm_error' must be within -500\.\.500"),
    (None, None, {"clutter_height_m": 0}, r"\[\[sensors\]\] #1 \(A\): key 'clutter_height_m' must be within"),
])
def test_mistakes_name_the_file_table_and_key(world: dict | None, defaults: dict | None, sensor: dict,
                                              message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        parse_scenario(doc(world, defaults, **sensor), "x.toml")


def test_a_sim_uri_renders_the_scenarios_world_unless_told_otherwise(tmp_path: Path) -> None:
    p = tmp_path / "w.toml"
    p.write_text('[scenario]\nseed = 3\n[world]\nshadowing_db = 7\n[[sensors]]\nid = "A"\nprovince = "JS"\n'
                 'lat = 31.0\nlon = 120.0\n')
    src = open_source(f"sim:{p}?sensor=A")
    assert isinstance(src.propagation, RealisticWorld) and src.propagation.shadowing_db == 7.0
    assert isinstance(open_source(f"sim:{p}?sensor=A&model=free_space").propagation, FreeSpaceModel)
    bare = tmp_path / "bare.toml"
    bare.write_text('[[sensors]]\nid = "A"\nprovince = "JS"\nlat = 31.0\nlon = 120.0\n')
    with pytest.raises(Exception, match=r"model=world but .*bare.toml has no \[world\] table"):
        open_source(f"sim:{bare}?sensor=A&model=world")
    assert load_scenario(bare).world is None
