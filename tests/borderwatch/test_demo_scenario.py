"""The demo scenario file and the simulator's propagation: places, format errors, consistency with
the rules engine's model."""

from __future__ import annotations

import math
import statistics
import tomllib

import numpy as np
import pytest

from borderwatch.demo import link_model
from borderwatch.demo_propagation import water_mask
from borderwatch.demo_scenario import (
    DemoScenarioError,
    default_scenario_path,
    ideal_scenario_path,
    load_demo_scenario,
    parse_demo_scenario,
    realistic_scenario_path,
)
from coordination import prediction
from sdr.scenario import SensorSite, Transmitter
from sdr.sources.sim_link import FreeSpaceModel
from sdr.sources.sim_world import RealisticWorld
from station_db.geo import distance_to_border_km, haversine_km, province_of


@pytest.fixture(scope="module", params=["shipped", "ideal"])
def demo(request):
    """Both shipped files: the realistic world (what the demo plays) and the ideal one share sensors,
    transmitters, expectations."""
    return load_demo_scenario(None if request.param == "shipped" else ideal_scenario_path())


@pytest.fixture
def doc():
    with default_scenario_path().open("rb") as fh:
        return tomllib.load(fh)


def test_shipped_scenario_has_eight_or_more_sensors_on_both_sides_of_every_border(demo):
    sensors = demo.scenario.sensors
    assert len(sensors) >= 8
    assert {s.province for s in sensors} == {"SH", "JS", "ZJ", "AH"}


def test_every_sensor_stands_in_the_province_it_claims(demo):
    for s in demo.scenario.sensors:
        assert province_of(s.lat, s.lon) == s.province, s.id


def test_border_sensors_are_within_20_km_of_a_border(demo):
    interior = {"AH-HEFEI", "ZJ-TONGXIANG"}  # they hear the licensed traffic, deliberately inland
    # The SH/JS line in the Yangtze estuary runs through water the shipped boundaries leave out:
    # Qidong (JS) faces Chongming (SH) across the river instead.
    estuary = {"JS-QIDONG"}
    for s in demo.scenario.sensors:
        if s.id not in interior | estuary:
            d_km, _ = distance_to_border_km(s.lat, s.lon)
            assert d_km < 20.0, (s.id, d_km)
    qidong, chongming = demo.scenario.sensor("JS-QIDONG"), demo.scenario.sensor("SH-CHONGMING")
    assert float(haversine_km(qidong.lat, qidong.lon, chongming.lat, chongming.lon)) < 35.0


def test_incident_transmitters_stand_where_the_story_says(demo):
    tx = {t.id: t for t in demo.scenario.transmitters}
    assert province_of(tx["PIRATE-FM-100.1"].lat, tx["PIRATE-FM-100.1"].lon) == "ZJ"
    d_km, _ = distance_to_border_km(tx["PIRATE-FM-100.1"].lat, tx["PIRATE-FM-100.1"].lon, "JS")
    assert d_km < 10.0
    assert province_of(tx["CH16-INTERFERER"].lat, tx["CH16-INTERFERER"].lon) == "SH"
    assert tx["CH16-INTERFERER"].emitted_freq_hz == 156.8e6
    assert tx["AH-PMR-0042"].effective_erp_dbw - tx["AH-PMR-0042"].erp_dbw == 15.0
    assert tx["ZJ-PMR-0107"].emitted_freq_hz - tx["ZJ-PMR-0107"].freq_hz == 5e3


def test_licensed_transmitters_match_the_sample_station_data(demo):
    from borderwatch.demo import sample_stations_path
    from station_db.exchange import read_stations

    stations = {s.station_id: s for s in read_stations(sample_stations_path())}
    for tx in demo.scenario.transmitters:
        st = stations.get(tx.id)
        if st is None:
            assert tx.id in ("PIRATE-FM-100.1", "CH16-INTERFERER")
            continue
        assert (tx.lat, tx.lon, tx.freq_hz, tx.erp_dbw) == (st.lat, st.lon, st.tx_freq_hz, st.erp_dbw), tx.id
        assert tx.antenna_height_m == pytest.approx(prediction.station_heff_m(st)), tx.id


def _swept(demo, tx) -> bool:
    return any(p.f_start_hz <= tx.emitted_freq_hz <= p.f_stop_hz for p in demo.settings.profiles)


def test_every_transmitter_has_an_expectation_and_incidents_state_a_position_error(demo):
    """Every transmitter a sweep sees is judged; the reference broadcasters, outside every monitoring
    window, play only in TDOA snapshots and need none."""
    ids = {t.id for t in demo.scenario.transmitters if _swept(demo, t)}
    exp = {e.transmitter: e for e in demo.settings.expectations}
    assert set(exp) == ids
    unswept = {t.id for t in demo.scenario.transmitters if not _swept(demo, t)}
    assert len(unswept) == 10 and all(t.startswith(("SH-FM", "ZJ-FM", "JS-FM", "AH-FM")) for t in unswept)
    for e in exp.values():
        if not e.is_traffic:
            assert e.max_position_error_km == 5.0 and e.provinces_source and e.provinces_affected


def test_profiles_are_narrow_enough_for_one_tuner_hop_each(demo):
    assert len(demo.settings.profiles) == 4
    for p in demo.settings.profiles:
        assert p.f_stop_hz - p.f_start_hz <= 1.8e6, p.name


def test_unknown_key_in_demo_table_names_file_and_key(doc):
    doc["demo"]["speed"] = 2
    with pytest.raises(DemoScenarioError, match=r"x\.toml \[demo\]: unknown key 'speed'"):
        parse_demo_scenario(doc, "x.toml")


def test_expectation_for_an_unknown_transmitter_is_refused(doc):
    doc["demo"]["expect"][0]["transmitter"] = "NOPE"
    with pytest.raises(DemoScenarioError, match=r"\[\[demo.expect\]\] #1: key 'transmitter' must name"):
        parse_demo_scenario(doc, "x.toml")


def test_unknown_verdict_and_bad_propagation_are_refused(doc):
    doc["demo"]["expect"][0]["verdicts"] = ["pirate"]
    with pytest.raises(DemoScenarioError, match="'pirate' is not one of"):
        parse_demo_scenario(doc, "x.toml")
    doc["demo"]["expect"][0]["verdicts"] = []
    del doc["world"]  # the legacy way to say the world
    doc["demo"]["propagation"] = "two_ray"
    with pytest.raises(DemoScenarioError, match="propagation' must be one of p1546, free_space"):
        parse_demo_scenario(doc, "x.toml")


def test_bad_engine_setting_is_refused_with_its_name(doc):
    doc["demo"]["engine"]["auto_resolve_after_s"] = -1
    with pytest.raises(DemoScenarioError, match=r"\[demo.engine\].*auto_resolve_after_s"):
        parse_demo_scenario(doc, "x.toml")


def test_scenario_errors_come_through_with_the_table(doc):
    doc["sensors"][0]["lat"] = "north"
    with pytest.raises(DemoScenarioError, match=r"\[\[sensors\]\] #1 \(JS-KUNSHAN\): key 'lat'"):
        parse_demo_scenario(doc, "x.toml")


def test_missing_file_is_a_one_line_error(tmp_path):
    with pytest.raises(DemoScenarioError, match="cannot read: No such file"):
        load_demo_scenario(tmp_path / "none.toml")


SITE = SensorSite("S", "JS", 31.0, 120.5, height_m=15.0, antenna_factor_db_m=15.0)


@pytest.mark.parametrize("freq_hz,erp_dbw,h_m,lat", [(100.1e6, 26.0, 20.0, 31.2), (410.2125e6, 25.0, 42.0, 31.4),
                                                      (156.8e6, 17.0, 20.0, 30.8)])
def test_simulator_link_equals_the_engine_model_without_shadowing(freq_hz, erp_dbw, h_m, lat):
    tx = Transmitter("T", lat, 120.5, freq_hz, erp_dbw, "nfm", antenna_height_m=h_m)
    d_km = abs(lat - SITE.lat) * 111.2
    want = erp_dbw + float(prediction.emitter_field_model(freq_hz, SITE.height_m, 50.0, h_m)(np.array([d_km]))[0])
    assert RealisticWorld.ideal().field_strength_dbuv_m(tx, SITE) == pytest.approx(want, abs=0.3)


def test_shadowing_is_deterministic_with_the_stated_spread():
    model = RealisticWorld.ideal(shadowing_db=2.0, seed=7)
    draws = [model.shadowing(Transmitter(f"T{i}", 31.0, 120.0, 1e8, 0.0, "cw"), SITE) for i in range(2000)]
    assert draws[:5] == [model.shadowing(Transmitter(f"T{i}", 31.0, 120.0, 1e8, 0.0, "cw"), SITE) for i in range(5)]
    assert abs(statistics.fmean(draws)) < 0.15
    assert statistics.pstdev(draws) == pytest.approx(2.0, rel=0.06)
    assert RealisticWorld.ideal().shadowing(Transmitter("T", 31, 120, 1e8, 0, "cw"), SITE) == 0.0


def test_field_falls_with_distance_like_p1546_not_free_space():
    near = Transmitter("N", 31.1, 120.5, 410e6, 10.0, "nfm", antenna_height_m=30.0)
    far = Transmitter("F", 31.45, 120.5, 410e6, 10.0, "nfm", antenna_height_m=30.0)
    m = RealisticWorld.ideal()
    drop_db = m.field_strength_dbuv_m(near, SITE) - m.field_strength_dbuv_m(far, SITE)
    free_space_drop_db = 20 * math.log10(0.45 / 0.1)  # 13 dB
    assert drop_db > free_space_drop_db + 5.0


def test_demo_command_reports_a_bad_scenario_in_one_line(tmp_path, capsys):
    from borderwatch.cli import main as cli_main

    bad = tmp_path / "bad.toml"
    bad.write_text('[scenario]\nname = "x"\n\n[[sensors]]\nid = "S1"\nprovince = "JS"\nlat = 31.0\n')
    assert cli_main(["--lang", "en", "demo", "--scenario", str(bad)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "bad.toml [[sensors]] #1 (S1): missing required key 'lon'" in err[0]
    assert cli_main(["--lang", "en", "demo", "--duration", "0"]) == 1
    assert "--duration must be > 0" in capsys.readouterr().err


# ---------------------------------------------------------------------------- the simulated world


def test_the_shipped_scenario_plays_the_field_and_the_ideal_one_the_engines_law():
    ideal = load_demo_scenario(ideal_scenario_path()).scenario.world
    assert ideal is not None and (ideal.model, ideal.shadowing_db, ideal.calibration_sigma_db) == ("p1546", 1.0, 0.0)
    assert realistic_scenario_path() == default_scenario_path()
    real = load_demo_scenario()
    w = real.scenario.world
    assert w is not None and w.model == "realistic"
    assert (w.shadowing_db, w.heff_sigma_m, w.tca_sigma_deg, w.rx_clutter_m, w.calibration_sigma_db,
            w.water_paths) == (6.0, 25.0, 0.5, (5.0, 15.0), 2.0, True)
    assert "localiser" not in real.settings.engine  # the localiser at its defaults, not told the world's spread
    nfs = {s.noise_figure_db for s in real.scenario.sensors}
    assert nfs == {16.0, 20.0, 23.0}
    assert {s.height_m for s in real.scenario.sensors} == {15.0}
    model = link_model(real)
    assert isinstance(model, RealisticWorld) and model.water_mask is water_mask
    cal = model.calibration_errors_db(real.scenario.sensors)
    assert 0.8 < float(np.std(cal)) < 3.5 and float(np.max(np.abs(cal))) > 1.0


def test_the_ideal_demo_world_is_the_engines_law_with_its_shadowing():
    demo = load_demo_scenario(ideal_scenario_path())
    model = link_model(demo)
    assert isinstance(model, RealisticWorld)
    assert model == RealisticWorld.ideal(shadowing_db=1.0, seed=demo.scenario.seed)
    site = demo.scenario.sensor("JS-WUJIANG-LILI")
    tx = next(t for t in demo.scenario.transmitters if t.id == "PIRATE-FM-100.1")
    assert model.median_field_dbuv_m(tx, site) == pytest.approx(model.engine_field_dbuv_m(tx, site), abs=1e-9)


def test_legacy_demo_keys_still_say_the_ideal_world(doc):
    del doc["world"]
    doc["demo"]["propagation"], doc["demo"]["shadowing_db"] = "p1546", 3.0
    w = parse_demo_scenario(doc, "x.toml").scenario.world
    assert w is not None and (w.model, w.shadowing_db, w.heff_sigma_m, w.calibration_sigma_db) == ("p1546", 3, 0, 0)
    doc["demo"]["propagation"] = "free_space"
    del doc["demo"]["shadowing_db"]
    assert isinstance(link_model(parse_demo_scenario(doc, "x.toml")), FreeSpaceModel)
    del doc["demo"]["propagation"]
    w = parse_demo_scenario(doc, "x.toml").scenario.world
    assert w is not None and (w.model, w.shadowing_db) == ("p1546", 0.0)  # a file that says nothing: as before


def test_the_world_said_twice_is_refused(doc):
    doc["demo"]["shadowing_db"] = 6.0
    with pytest.raises(DemoScenarioError, match=r"x\.toml \[demo\]: key 'shadowing_db' conflicts with the \[world\]"):
        parse_demo_scenario(doc, "x.toml")


def test_water_is_outside_every_province():
    lats = np.array([31.5, 30.5, 31.0, 31.2, 32.1])  # Yangtze mouth, Hangzhou Bay, open sea, Lake Tai (JS), Nanjing
    lons = np.array([121.6, 121.6, 122.6, 120.2, 118.8])
    assert water_mask(lats, lons).tolist() == [True, True, True, False, False]


def test_wall_clock_source_keeps_the_simulators_calibration(demo):
    """The demo's wall-clock wrapper must calibrate dBFS to dBm exactly as the bare simulator does: without
    the gain and offset the sweep measures uncalibrated levels and every position and verdict goes wrong."""
    from borderwatch.demo import WallClockSource
    from sdr.sources.simulated import SimulatedSource
    from sdr.sweep import calibration_db

    site = demo.scenario.sensors[0]
    inner = SimulatedSource(demo.scenario, site.id, propagation=link_model(demo))
    wrapped = WallClockSource(inner, t0_monotonic=0.0)
    assert calibration_db(inner) is not None
    assert calibration_db(wrapped) == pytest.approx(calibration_db(inner), abs=1e-9)


def test_the_reference_the_server_picks_for_any_sensors_that_hear_an_incident_is_on_the_air(demo, monkeypatch):
    """A TDOA round aligns the dongles on the licensed FM station the server picks (best predicted SNR at the
    worst chosen sensor); the scenario must have it on the air or the round aligns on noise. Checked for every
    3 to 6 of the sensors that hear each transmitter in realistic worlds of other seeds than the file's."""
    import dataclasses
    import itertools
    from datetime import date

    from borderwatch.demo import sample_stations_path
    from borderwatch.demo_propagation import demo_world
    from coordination import tdoa_reference
    from coordination.sensors import SensorInfo
    from sdr.sources.sim_reports import sweep_report
    from station_db.exchange import read_stations

    today = date(2026, 11, 25)
    stations = [s for s in read_stations(sample_stations_path()) if tdoa_reference.is_reference_candidate(s, today)]
    infos = {s.id: SensorInfo(s.id, s.province, s.lat, s.lon, s.height_m) for s in demo.scenario.sensors}
    cache = {(st.station_id, i): tdoa_reference.predicted_snr_db(st, info) for st in stations
             for i, info in infos.items()}
    monkeypatch.setattr(tdoa_reference, "predicted_snr_db", lambda st, sensor: cache[(st.station_id, sensor.sensor_id)])
    realistic = load_demo_scenario(realistic_scenario_path())
    heard: dict[str, set[str]] = {}
    for seed in (31, 32, 33, 34, 35):
        world = demo_world(dataclasses.replace(realistic.scenario, seed=seed))
        rng = np.random.default_rng(seed)
        for tx in realistic.scenario.transmitters:
            prof = next((p for p in realistic.settings.profiles if p.f_start_hz <= tx.emitted_freq_hz <= p.f_stop_hz),
                        None)
            for site in realistic.scenario.sensors if prof is not None else ():
                rep = sweep_report(world, tx, site, obw_hz=min(tx.bandwidth_hz, 0.9 * prof.channel_width_hz),
                                   bin_hz=prof.bin_hz, margin_db=prof.margin_db, rng=rng)
                if rep.emission is not None:
                    heard.setdefault(tx.id, set()).add(site.id)
    on_air = {t.id for t in demo.scenario.transmitters if not t.schedule}
    picked = set()
    for ids in heard.values():
        for n in range(3, min(6, len(ids)) + 1):
            for group in itertools.combinations(sorted(ids), n):
                ref = tdoa_reference.choose_reference(stations, [infos[i] for i in group], today=today)
                assert ref is not None, group
                picked.add(ref.station.station_id)
    assert picked <= on_air, sorted(picked - on_air)
    assert {"SH-FM-0007", "ZJ-FM-0011", "AH-FM-0005"} <= picked  # the three the file names as the usual ones


@pytest.mark.parametrize("finding, ok", [
    ("possible excess, not established: AH-PMR-0042's e.r.p. from the levels reads +9.0 dB", True),
    ("8 sensor(s) covering the channel did not hear it", False),
])
def test_an_unproven_excess_stands_for_the_violation_only_where_the_expectation_allows_it(finding, ok):
    from borderwatch.demo import judge

    demo = load_demo_scenario()
    tx = next(t for t in demo.scenario.transmitters if t.id == "AH-PMR-0042")
    exp = demo.expectation_for(tx.id)
    assert exp is not None and exp.may_be_unproven == ("licence_violation",)
    doc = {"id": "a1", "f_center_hz": tx.emitted_freq_hz, "verdicts": ["cross_border"], "findings": [finding],
           "provinces_source": list(exp.provinces_source), "provinces_affected": list(exp.provinces_affected)}
    outcomes, stray = judge(demo, {"a1": doc}, {"a1": list(exp.notified)}, require_tdoa=False)
    [mine] = [o for o in outcomes if o.transmitter == tx.id]
    verdict_problems = [p for p in mine.problems if p.startswith("verdicts ")]
    assert stray == [] and (verdict_problems == []) is ok, mine.problems
    # The verdicts not listed as may-be-unproven are held exactly: a finding does not stand for them.
    doc2 = dict(doc, verdicts=["licence_violation"])
    outcomes, _ = judge(demo, {"a1": doc2}, {"a1": list(exp.notified)}, require_tdoa=False)
    [mine] = [o for o in outcomes if o.transmitter == tx.id]
    assert any(p.startswith("verdicts licence_violation, expected") for p in mine.problems)


def test_may_be_unproven_takes_only_the_licence_violation(doc):
    doc["demo"]["expect"][0]["may_be_unproven"] = ["unlicensed"]
    with pytest.raises(DemoScenarioError, match="may_be_unproven': 'unlicensed' is not one of licence_violation"):
        parse_demo_scenario(doc, "x.toml")
