"""Rules engine verdicts on the issue's scenarios, with a real SQLite station database.

Levels are synthesised from a known emitter through P.1546 (50 % time) plus 2 dB noise; the
engine compares them with its own P.1546 predictions at the band's time percentage.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from engine_testkit import (
    AH_DEEP_SENSORS,
    AH_DEEP_STATION_POS,
    AH_JS_SENSORS,
    AH_STATION_POS,
    NOISE_FLOOR_DBM,
    PMR_FREQ_HZ,
    T0,
    ZJ_EMITTER,
    ZJ_JS_SENSORS,
    make_repo,
    run,
    station,
    sweep,
)

from coordination.alerts import InMemoryAlertStore
from coordination.engine import EngineConfig, RulesEngine, severity_of
from coordination.sensors import SensorInfo
from station_db import geo
from station_db.rules import load_rules

RULES = load_rules()


def opened(events):
    return [e for e in events if e.event == "opened"]


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(2026)


def test_engine_world_places_are_where_we_say() -> None:
    for s in (*ZJ_JS_SENSORS, *AH_JS_SENSORS, *AH_DEEP_SENSORS):
        assert geo.province_of(s.lat, s.lon) == s.province, s.sensor_id
    assert geo.province_of(*ZJ_EMITTER) == "ZJ"
    assert geo.province_of(*AH_STATION_POS) == "AH"
    assert geo.distance_to_border_km(*AH_DEEP_STATION_POS)[0] > 80.0


def test_unlicensed_zj_emitter_seen_on_both_sides_gives_one_unlicensed_cross_border_alert(tmp_path, rng) -> None:
    # A licensed station on the same channel, far away in southern Zhejiang: not the emitter.
    repo = make_repo(tmp_path / "st.db", [station("ZJ-PMR-FAR", "ZJ", 29.30, 120.90)])
    engine = RulesEngine(repo, RULES, InMemoryAlertStore())
    events, _ = run(engine, ZJ_JS_SENSORS, *ZJ_EMITTER, erp_dbw=10.0, rng=rng, noise_db=2.0, n=4)
    [ev] = opened(events)
    a = ev.alert
    assert a.verdicts == ("unlicensed", "cross_border")
    assert a.provinces_source == ("ZJ",)
    assert a.provinces_affected == ("JS",)
    assert ev.topics() == ["alert.ZJ", "alert.JS"]
    assert a.band == "PMR 400" and a.channel_hz == pytest.approx(PMR_FREQ_HZ)
    assert a.position is not None and a.position.kind == "ellipse"
    err_km = float(geo.haversine_km(a.position.lat, a.position.lon, *ZJ_EMITTER))
    assert err_km < 6.0 and err_km < a.position.error_km  # 60 seeds: median 1.5 km, max 5.0 km
    assert a.position.province_probabilities["ZJ"] > 0.8
    js = [s for s in a.sensors if s.province == "JS"]
    assert js and max(s.excess_db for s in js) > 0.0
    [cand] = a.candidate_stations
    assert cand.station_id == "ZJ-PMR-FAR" and not cand.explains
    assert a.matched_station is None and a.severity in ("major", "critical")
    assert len(engine.open_alerts()) == 1


def test_anhui_pmr_base_with_erp_raised_15db_is_violation_and_cross_border(tmp_path, rng) -> None:
    st = station("AH-PMR-0042", "AH", *AH_STATION_POS, erp_dbw=10.0)
    repo = make_repo(tmp_path / "st.db", [st])
    engine = RulesEngine(repo, RULES, InMemoryAlertStore())
    events, _ = run(engine, AH_JS_SENSORS, *AH_STATION_POS, erp_dbw=25.0, rng=rng, noise_db=2.0)
    [ev] = opened(events)
    a = ev.alert
    assert set(a.verdicts) == {"cross_border", "licence_violation"}
    assert a.provinces_source == ("AH",) and a.provinces_affected == ("JS",)
    assert ev.topics() == ["alert.AH", "alert.JS"]
    assert a.matched_station == "AH/AH-PMR-0042"
    power = [f for f in a.findings if "above the licence" in f]
    assert power, a.findings
    # Every sensor has the licence's prediction beside its measurement; the excess is ~15 dB.
    diffs = [s.measured_dbuv_m - s.predicted_dbuv_m for s in a.sensors]
    assert 8.0 < float(np.median(diffs)) < 18.0
    assert "must return to its licensed parameters" in a.resolution


def test_licensed_station_within_licence_raises_no_alert(tmp_path, rng) -> None:
    st = station("AH-PMR-0100", "AH", *AH_DEEP_STATION_POS, erp_dbw=10.0)
    repo = make_repo(tmp_path / "st.db", [st])
    engine = RulesEngine(repo, RULES, InMemoryAlertStore())
    events, _ = run(engine, AH_DEEP_SENSORS, *AH_DEEP_STATION_POS, erp_dbw=10.0, rng=rng, noise_db=2.0, n=4)
    assert events == []
    [status] = engine.channel_status()
    assert status["status"] == "licensed" and status["matched_station"] == "AH/AH-PMR-0100"


def test_frequency_offset_beyond_tolerance_is_a_violation(tmp_path, rng) -> None:
    st = station("AH-PMR-0101", "AH", *AH_DEEP_STATION_POS, erp_dbw=10.0)
    engine = RulesEngine(make_repo(tmp_path / "st.db", [st]), RULES, InMemoryAlertStore())
    # 11 kHz necessary bandwidth -> tolerance max(1.1 kHz, 1 kHz) = 1.1 kHz; 3 kHz off is too far.
    events, _ = run(engine, AH_DEEP_SENSORS, *AH_DEEP_STATION_POS, erp_dbw=10.0, freq_hz=PMR_FREQ_HZ + 3000.0,
                    rng=rng, noise_db=2.0)
    [ev] = opened(events)
    assert ev.alert.verdicts == ("licence_violation",)
    assert any("frequency offset +3.00 kHz" in f for f in ev.alert.findings)
    assert ev.alert.provinces_source == ("AH",) and ev.alert.provinces_affected == ()
    assert ev.topics() == ["alert.AH"]


def test_frequency_offset_within_tolerance_is_fine(tmp_path, rng) -> None:
    st = station("AH-PMR-0102", "AH", *AH_DEEP_STATION_POS, erp_dbw=10.0)
    engine = RulesEngine(make_repo(tmp_path / "st.db", [st]), RULES, InMemoryAlertStore())
    events, _ = run(engine, AH_DEEP_SENSORS, *AH_DEEP_STATION_POS, erp_dbw=10.0, freq_hz=PMR_FREQ_HZ + 800.0,
                    rng=rng, noise_db=2.0)
    assert events == []


def test_occupied_bandwidth_beyond_licence_is_a_violation(tmp_path, rng) -> None:
    st = station("AH-PMR-0103", "AH", *AH_DEEP_STATION_POS, erp_dbw=10.0, necessary_bw_hz=11_000.0)
    engine = RulesEngine(make_repo(tmp_path / "st.db", [st]), RULES, InMemoryAlertStore())
    events, _ = run(engine, AH_DEEP_SENSORS, *AH_DEEP_STATION_POS, erp_dbw=10.0, obw_hz=16_000.0,
                    rng=rng, noise_db=2.0)
    [ev] = opened(events)
    assert ev.alert.verdicts == ("licence_violation",)
    assert any("occupied bandwidth 16.00 kHz" in f for f in ev.alert.findings)


def test_one_sweeps_wide_bandwidth_reading_accuses_no_licensee(tmp_path, rng) -> None:
    # A PMR carrier 9-15 dB over the floor: one sweep's 99 % bandwidth now and then reads twice the truth
    # (noise in its 0.5 % tails). The judgement reads each sensor's median of its recent sights.
    st = station("AH-PMR-0104", "AH", *AH_DEEP_STATION_POS, erp_dbw=10.0, necessary_bw_hz=11_000.0)
    engine = RulesEngine(make_repo(tmp_path / "st.db", [st]), RULES, InMemoryAlertStore())
    events, t = [], T0
    for obw_hz in (8_000.0, 8_500.0, 16_000.0, 8_200.0, 17_000.0, 7_900.0):
        events += sweep(engine, AH_DEEP_SENSORS, t, *AH_DEEP_STATION_POS, erp_dbw=10.0, obw_hz=obw_hz,
                        rng=rng, noise_db=2.0)
        t += timedelta(seconds=5.0)
        events += engine.tick(t)
    assert events == []
    # Persistently wide is a violation within a few sweeps (the median follows a real change).
    for _ in range(5):
        events += sweep(engine, AH_DEEP_SENSORS, t, *AH_DEEP_STATION_POS, erp_dbw=10.0, obw_hz=16_000.0,
                        rng=rng, noise_db=2.0)
        t += timedelta(seconds=5.0)
        events += engine.tick(t)
    [ev] = opened(events)
    assert ev.alert.verdicts == ("licence_violation",)
    assert any("occupied bandwidth 16.00 kHz" in f for f in ev.alert.findings)


def test_licensed_station_predicted_over_a_neighbours_border_is_cross_border(tmp_path, rng) -> None:
    # Within licence, but 15 km from Jiangsu: P.1546 (10 % time) puts it far above 20 dBuV/m at the border.
    st = station("AH-PMR-0200", "AH", *AH_STATION_POS, erp_dbw=10.0)
    engine = RulesEngine(make_repo(tmp_path / "st.db", [st]), RULES, InMemoryAlertStore(),
                         config=EngineConfig(predicted_border_check="always"))
    events, _ = run(engine, AH_JS_SENSORS[:2], *AH_STATION_POS, erp_dbw=10.0, rng=rng, noise_db=2.0)
    [ev] = opened(events)
    assert ev.alert.verdicts == ("cross_border",)
    assert "JS" in ev.alert.provinces_affected and ev.alert.provinces_source == ("AH",)
    assert any("predicted" in f and "JS border" in f for f in ev.alert.findings)
    assert "yields" in ev.alert.resolution or "coordinate" in ev.alert.resolution
    # Default ("heard"): only AH sensors hear it, so the prediction alone raises nothing; "off" neither.
    for mode in ("heard", "off"):
        engine2 = RulesEngine(make_repo(tmp_path / f"st-{mode}.db", [st]), RULES, InMemoryAlertStore(),
                              config=EngineConfig(predicted_border_check=mode))
        events2, _ = run(engine2, AH_JS_SENSORS[:2], *AH_STATION_POS, erp_dbw=10.0, rng=rng, noise_db=2.0)
        assert events2 == [], mode


def test_licensed_station_heard_below_the_limit_in_the_neighbour_but_predicted_over_its_border(tmp_path) -> None:
    # A JS sensor 34 km away hears the AH station (~17.5 dBuV/m) below the 20 dBuV/m limit; the border
    # (15 km from the station) is predicted over it.
    far_js = SensorInfo("js-jiangning-w", "JS", 31.78, 118.66, 15.0, 20.0)
    assert geo.province_of(far_js.lat, far_js.lon) == "JS"
    st = station("AH-PMR-0201", "AH", *AH_STATION_POS, erp_dbw=10.0)
    engine = RulesEngine(make_repo(tmp_path / "st.db", [st]), RULES, InMemoryAlertStore())
    events, _ = run(engine, (*AH_JS_SENSORS[:2], far_js), *AH_STATION_POS, erp_dbw=10.0)
    [ev] = opened(events)
    js = [s for s in ev.alert.sensors if s.province == "JS"]
    assert js and js[0].excess_db < 0.0
    assert ev.alert.verdicts == ("cross_border",) and ev.alert.provinces_affected == ("JS",)
    assert any("predicted" in f and "JS border" in f for f in ev.alert.findings)


def test_later_licence_yields_to_earlier_victim(tmp_path, rng) -> None:
    from datetime import date

    src = station("AH-PMR-0300", "AH", *AH_STATION_POS, erp_dbw=10.0, valid_from=date(2024, 6, 1))
    victim = station("JS-PMR-0300", "JS", 32.20, 119.20, erp_dbw=10.0, valid_from=date(2019, 1, 1))
    engine = RulesEngine(make_repo(tmp_path / "st.db", [src, victim]), RULES, InMemoryAlertStore(),
                         config=EngineConfig(predicted_border_check="always"))
    events, _ = run(engine, AH_JS_SENSORS[:2], *AH_STATION_POS, erp_dbw=10.0, rng=rng, noise_db=2.0)
    [ev] = opened(events)
    assert ev.alert.resolution.startswith("later yields to earlier: AH station AH-PMR-0300")


def test_single_sensor_emission_gives_an_annulus_region(tmp_path, rng) -> None:
    engine = RulesEngine(make_repo(tmp_path / "st.db", []), RULES, InMemoryAlertStore())
    events, _ = run(engine, AH_DEEP_SENSORS[:1], *AH_DEEP_STATION_POS, erp_dbw=10.0)
    [ev] = opened(events)
    pos = ev.alert.position
    assert ev.alert.verdicts == ("unlicensed",)
    assert pos is not None and pos.kind == "annulus"
    d_true = float(geo.haversine_km(AH_DEEP_SENSORS[0].lat, AH_DEEP_SENSORS[0].lon, *AH_DEEP_STATION_POS))
    assert pos.r_inner_km <= d_true <= pos.r_outer_km
    assert ev.alert.provinces_source[0] == "AH"


def test_co_channel_emitters_far_apart_are_two_alerts(tmp_path, rng) -> None:
    engine = RulesEngine(make_repo(tmp_path / "st.db", []), RULES, InMemoryAlertStore())
    events = []
    t = T0
    for _ in range(2):
        for sensors, pos in ((ZJ_JS_SENSORS, ZJ_EMITTER), (AH_DEEP_SENSORS, AH_DEEP_STATION_POS)):
            from engine_testkit import sweep

            events += sweep(engine, sensors, t, *pos, erp_dbw=10.0, rng=rng, noise_db=2.0)
        t += timedelta(seconds=5)
        events += engine.tick(t)
    alerts = {e.alert.id: e.alert for e in opened(events)}
    assert len(alerts) == 2
    assert sorted(a.provinces_source[0] for a in alerts.values()) == ["AH", "ZJ"]


def test_emissions_outside_coordinated_bands_or_below_margin_are_ignored(tmp_path) -> None:
    engine = RulesEngine(make_repo(tmp_path / "st.db", []), RULES, InMemoryAlertStore())
    s = AH_DEEP_SENSORS[0]
    base = {"peak_hz": 0.0, "peak_dbm": -60.0, "power_dbm": -60.0, "bandwidth_xdb_hz": 1e4, "obw_hz": 1e4,
            "f_lo_hz": 0.0, "f_hi_hz": 0.0}
    out_of_rules = {**base, "center_hz": 500.1e6, "snr_db": 40.0}  # no band in the rules file
    weak = {**base, "center_hz": PMR_FREQ_HZ, "snr_db": 3.0}  # below the PMR 400 margin of 6 dB
    assert engine.observe(s, T0, [out_of_rules, weak], NOISE_FLOOR_DBM, 20.0) == []
    assert engine.tick(T0 + timedelta(seconds=10)) == []
    assert engine.channel_status() == []


def test_observe_refuses_naive_time(tmp_path) -> None:
    from datetime import datetime

    engine = RulesEngine(make_repo(tmp_path / "st.db", []), RULES, InMemoryAlertStore())
    with pytest.raises(ValueError, match="timezone-aware"):
        engine.observe(SensorInfo("x", "AH", 31.0, 117.0), datetime(2026, 1, 1), [], -120.0, 0.0)


def test_severity_puts_safety_services_first() -> None:
    air = RULES.band_for(121.5e6)
    pmr = RULES.band_for(PMR_FREQ_HZ)
    assert air is not None and pmr is not None and air.safety
    sev_air, score_air = severity_of(("unlicensed",), air, 0.0)
    sev_pmr, score_pmr = severity_of(("unlicensed",), pmr, 0.0)
    assert sev_air == "critical" and sev_pmr in ("minor", "major") and score_air > score_pmr
    assert severity_of(("unlicensed", "cross_border"), pmr, 20.0)[1] > severity_of(("unlicensed",), pmr, 0.0)[1]
    assert severity_of((), pmr, 50.0) == ("info", 0.0)


def test_engine_config_from_a_toml_table_and_bad_values() -> None:
    cfg = EngineConfig(**{"auto_resolve_after_s": 60, "localiser": {"sigma_db": 5.0, "erp_range_dbw": [0, 20]}})
    assert cfg.localiser.sigma_db == 5.0 and cfg.localiser.erp_range_dbw == (0, 20)
    with pytest.raises(ValueError, match="localiser"):
        EngineConfig(localiser={"bogus": 1})
    with pytest.raises(ValueError, match="predicted_border_check"):
        EngineConfig(predicted_border_check="sometimes")
    with pytest.raises(ValueError, match="auto_resolve_after_s"):
        EngineConfig(auto_resolve_after_s=0)


def test_a_licensed_station_widening_its_emission_is_caught_at_once(tmp_path, rng) -> None:
    # At once: on the sweeps that show the change, not at the next scheduled reassessment (600 s here).
    # One wide sweep is not enough (each sensor's median of its recent sights is judged); the second is.
    st = station("AH-PMR-0104", "AH", *AH_DEEP_STATION_POS, erp_dbw=10.0, necessary_bw_hz=11_000.0)
    engine = RulesEngine(make_repo(tmp_path / "st.db", [st]), RULES, InMemoryAlertStore(),
                         config=EngineConfig(reassess_after_s=600.0))
    events, t = run(engine, AH_DEEP_SENSORS, *AH_DEEP_STATION_POS, erp_dbw=10.0, n=2)
    assert events == []
    events = sweep(engine, AH_DEEP_SENSORS, t, *AH_DEEP_STATION_POS, erp_dbw=10.0, obw_hz=25_000.0)
    events += engine.tick(t + timedelta(seconds=3))
    assert events == []
    t += timedelta(seconds=5)
    events = sweep(engine, AH_DEEP_SENSORS, t, *AH_DEEP_STATION_POS, erp_dbw=10.0, obw_hz=25_000.0)
    events += engine.tick(t + timedelta(seconds=3))
    [ev] = opened(events)
    assert ev.alert.verdicts == ("licence_violation",)


def test_emission_spilling_into_a_band_from_outside_yields_as_out_of_band(tmp_path) -> None:
    engine = RulesEngine(make_repo(tmp_path / "st.db", []), RULES, InMemoryAlertStore())
    pmr = RULES.band_for(PMR_FREQ_HZ)
    assert pmr is not None and RULES.band_for(pmr.f_lo_hz - 5e3) is None
    f = pmr.f_lo_hz - 5e3  # centred 5 kHz below the band, 20 kHz wide: its upper half is in PMR 400
    events, _ = run(engine, AH_DEEP_SENSORS, *AH_DEEP_STATION_POS, erp_dbw=10.0, freq_hz=f, obw_hz=20_000.0)
    [ev] = opened(events)
    assert ev.alert.band == pmr.name and ev.alert.channel_hz == pytest.approx(pmr.f_lo_hz)
    assert ev.alert.resolution.startswith("out-of-band yields to in-band")
    assert any("extends outside the band" in f for f in ev.alert.findings)


def test_unlicensed_airband_emission_is_critical_and_routed_to_every_member_province(tmp_path) -> None:
    engine = RulesEngine(make_repo(tmp_path / "st.db", []), RULES, InMemoryAlertStore())
    events, _ = run(engine, AH_DEEP_SENSORS, *AH_DEEP_STATION_POS, erp_dbw=10.0, freq_hz=125.0e6, obw_hz=6_000.0)
    [ev] = opened(events)
    assert ev.alert.service == "aeronautical" and ev.alert.severity == "critical"
    assert ev.alert.provinces_source == ("AH",)
    assert ev.topics() == ["alert.AH", "alert.SH", "alert.JS", "alert.ZJ"]
    assert ev.alert.to_json()["notify_provinces"] == ["SH", "JS", "ZJ"]
    # Safety services are never muted: an operator's resolve while it is still on the air re-opens at once.
    engine.resolve(ev.alert.id, "ah")
    more, _ = run(engine, AH_DEEP_SENSORS, *AH_DEEP_STATION_POS, erp_dbw=10.0, freq_hz=125.0e6, obw_hz=6_000.0,
                  start=T0 + timedelta(seconds=60), n=3, every_s=10.0)
    assert len(opened(more)) == 1
