"""The rules engine in a world that does not flatter it, seeded and deterministic.

Levels come from sdr.sources.sim_world.RealisticWorld (6-8 dB log-normal shadowing per link, per-link
model error, per-sensor calibration error) on the shipped demo's sensor layout; the engine gets what
the sensors would report, including which sensors swept the band and heard nothing.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from engine_testkit import (
    NOISE_FLOOR_DBM,
    T0,
    ZJ_JS_SENSORS,
    demo_sites,
    final_alerts,
    make_repo,
    realistic_sweeps,
    station,
)

from coordination.alerts import InMemoryAlertStore
from coordination.engine import EngineConfig, RulesEngine, SweepCoverage
from sdr.scenario import Transmitter
from sdr.sources.sim_world import RealisticWorld
from station_db import geo
from station_db.rules import load_rules

RULES = load_rules()
FM = RULES.band_for(100.1e6)
PMR400 = RULES.band_for(450.0125e6)
MARITIME = RULES.band_for(156.8e6)
SITES, INFOS = demo_sites()


def engine_for(tmp_path, stations=(), **cfg) -> RulesEngine:
    return RulesEngine(make_repo(tmp_path / "st.db", stations), RULES, InMemoryAlertStore(),
                       config=EngineConfig(**cfg))


def world(shadowing_db: float, seed: int) -> RealisticWorld:
    return RealisticWorld(seed=seed).with_shadowing(shadowing_db)


@pytest.mark.parametrize("shadowing_db", [6.0, 8.0])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_strong_pirate_heard_across_the_network_is_one_alert(tmp_path, shadowing_db, seed) -> None:
    # 26 dBW FM south of Lake Tai: heard by sensors more than 80 km apart (the old link distance split it).
    pirate = Transmitter(id="pirate", lat=30.78, lon=120.62, freq_hz=100.1e6, erp_dbw=26.0, modulation="fm_broadcast",
                         antenna_height_m=20.0)
    heard: set[str] = set()
    events = realistic_sweeps(engine_for(tmp_path), world(shadowing_db, seed), SITES, INFOS, [pirate], FM,
                              seed=seed, heard=heard)
    [alert] = final_alerts(events)
    assert "unlicensed" in alert.verdicts and len(heard) >= 3
    assert {s.sensor_id for s in alert.sensors} == heard  # every sensor that heard it is in the one alert


@pytest.mark.parametrize("shadowing_db", [6.0, 8.0])
@pytest.mark.parametrize("seed", [1, 2])
def test_two_emitters_on_one_channel_far_apart_stay_two_alerts(tmp_path, shadowing_db, seed) -> None:
    # Frequency re-use: one PMR 400 channel near Nanjing/Ma'anshan and near Shanghai, 250 km apart.
    west = Transmitter(id="west", lat=31.68, lon=118.66, freq_hz=450.0125e6, erp_dbw=10.0, modulation="nfm",
                       antenna_height_m=30.0)
    east = Transmitter(id="east", lat=31.02, lon=121.06, freq_hz=450.0125e6, erp_dbw=10.0, modulation="nfm",
                       antenna_height_m=30.0)
    events = realistic_sweeps(engine_for(tmp_path), world(shadowing_db, seed), SITES, INFOS, [west, east],
                              PMR400, seed=seed)
    alerts = final_alerts(events)
    assert len(alerts) == 2
    lons = sorted(float(np.mean([s.lon for s in a.sensors])) for a in alerts)
    assert lons[0] < 119.5 < 121.0 - 0.5 < lons[1]


@pytest.mark.parametrize("seed", range(6))
def test_a_province_whose_sensor_measured_the_excess_is_never_routed_away(tmp_path, seed) -> None:
    # An unlicensed PMR 400 emitter in Zhejiang 4 km from Jiangsu, 8 dB shadowing: whatever the
    # position says, every province whose own sensor measured it over the border limit gets the alert;
    # unless the emitter is (>= 80 %) in that province, it is cross-border with that province affected.
    tx = Transmitter(id="zj", lat=30.88, lon=120.30, freq_hz=450.0125e6, erp_dbw=15.0, modulation="nfm",
                     antenna_height_m=20.0)
    sites = [s for s in SITES if s.province in ("ZJ", "JS", "SH")]
    infos = [i for i in INFOS if i.province in ("ZJ", "JS", "SH")]
    alerts = final_alerts(realistic_sweeps(engine_for(tmp_path), world(8.0, seed), sites, infos, [tx], PMR400,
                                           seed=seed))
    assert len(alerts) == 1
    a = alerts[0]
    probs = a.position.province_probabilities
    over = {r.province for r in a.sensors if r.excess_db >= 0.0}
    assert over and over <= set(a.provinces)
    for prov in over:
        if probs.get(prov, 0.0) < 0.8:
            assert "cross_border" in a.verdicts and prov in a.provinces_affected
            if prov in a.provinces_source:
                assert any(f.startswith(f"ambiguous: the emitter may be in {prov}") for f in a.findings)


def test_silent_sensors_narrow_the_region(tmp_path) -> None:
    tx = Transmitter(id="x", lat=31.62, lon=118.70, freq_hz=450.0125e6, erp_dbw=10.0, modulation="nfm",
                     antenna_height_m=25.0)
    regions = {}
    for coverage in (False, True):
        # The general e.r.p. prior (10 dBW +- 10 dB): what bounds the region here is the silences, not the
        # land-mobile prior (with it, the four levels alone give a 32 km region and silences add little).
        engine = engine_for(tmp_path / str(coverage), localiser={"erp_by_service": {}})
        [a] = final_alerts(realistic_sweeps(engine, world(6.0, 4), SITES, INFOS, [tx],
                                            PMR400, seed=4, coverage=coverage))
        regions[coverage] = a.position
        silent = [f for f in a.findings if "did not hear it" in f]
        assert bool(silent) == coverage
    assert regions[True].error_km < 0.8 * regions[False].error_km


def test_one_hot_sensor_is_no_power_violation(tmp_path) -> None:
    # A licensed station within its licence, its only nearby sensor 10 dB hot (shadowing + calibration):
    # one level scattered by several dB is no evidence of a boosted transmitter.
    st = station("AH-PMR-0300", "AH", 31.86, 117.31, erp_dbw=10.0)
    engine = engine_for(tmp_path, [st])
    hefei = next(i for i in INFOS if i.sensor_id == "AH-HEFEI")
    d = float(geo.haversine_km(st.lat, st.lon, hefei.lat, hefei.lon))
    from coordination import prediction

    e = st.erp_dbw + float(prediction.field_0dbw_dbuv_m(np.array([d]), st.tx_freq_hz, prediction.station_heff_m(st),
                                                        hefei.height_m, 50.0, ha_m=st.antenna_height_m)[0]) + 10.0
    power = e - 107.0 - hefei.antenna_factor_db_m
    em = {"center_hz": st.tx_freq_hz, "power_dbm": power, "snr_db": power - NOISE_FLOOR_DBM, "obw_hz": 10_000.0}
    events = engine.observe(hefei, T0, [em], NOISE_FLOOR_DBM) + engine.tick(T0 + timedelta(seconds=5))
    assert events == []
    assert engine.channel_status()[0]["matched_station"] == "AH/AH-PMR-0300"


# ---------------------------------------------------------------------- provisional alerts


def _ch16_reports(offset_first_hz: float, lat: float = 31.55, lon: float = 121.55, erp_dbw: float = 17.0,
                  shadowing_db: float = 6.0, provinces: tuple[str, ...] = ("AH", "JS", "SH", "ZJ")):
    tx = Transmitter(id="ch16", lat=lat, lon=lon, freq_hz=156.8e6, erp_dbw=erp_dbw, modulation="nfm",
                     antenna_height_m=20.0)
    w = world(shadowing_db, 5)
    from sdr.sources.sim_reports import sweep_report

    bin_hz = MARITIME.channel_width_hz / 4.0
    out = []
    for site, info in zip(SITES, INFOS, strict=True):
        if site.province not in provinces:
            continue
        rep = sweep_report(w, tx, site, obw_hz=16_000.0, bin_hz=bin_hz, margin_db=MARITIME.margin_db)
        out.append((info, rep, SweepCoverage(MARITIME.f_lo_hz, MARITIME.f_hi_hz, bin_hz)))
    heard = sorted([x for x in out if x[1].emission], key=lambda x: -x[1].emission["snr_db"])
    first = heard[-1]  # the weakest hearer reports first
    if offset_first_hz:
        em = dict(first[1].emission)
        em["center_hz"] += offset_first_hz
        first = (first[0], type(first[1])(first[1].noise_floor_dbm, em, first[1].reported_field_dbuv_m), first[2])
    rest = [x for x in out if x[0] is not first[0]]
    return first, rest


def test_first_sight_in_a_safety_band_opens_a_provisional_alert_at_once_then_confirms_it(tmp_path) -> None:
    engine = engine_for(tmp_path)
    (info, rep, cov), rest = _ch16_reports(0.0)
    first = engine.observe(info, T0, [rep.emission], rep.noise_floor_dbm, coverage=cov)
    [ev] = first  # returned by the very call that filed the first report: no grouping window
    assert ev.event == "opened" and ev.alert.provisional and "unlicensed" in ev.alert.verdicts
    assert ev.alert.to_json()["provisional"] is True
    assert set(ev.topics()) == {f"alert.{p}" for p in ("AH", "JS", "SH", "ZJ")}
    events = []
    for k, (i, r, c) in enumerate(rest):
        events += engine.observe(i, T0 + timedelta(seconds=0.05 * (k + 1)), [r.emission] if r.emission else [],
                                 r.noise_floor_dbm, coverage=c)
    events += engine.tick(T0 + timedelta(seconds=3.0))
    [confirm] = [e for e in events if e.alert.id == ev.alert.id]
    assert confirm.event == "updated" and not confirm.alert.provisional
    assert "provisional" not in confirm.alert.to_json()
    assert "unlicensed" in confirm.alert.verdicts and "SH" in confirm.alert.provinces
    assert len(final_alerts(first + events)) == 1


def test_a_provisional_alert_the_full_judgement_does_not_bear_out_is_withdrawn(tmp_path) -> None:
    # A licensed Shanghai harbour station on channel 16 watched by the Shanghai sensors; the first
    # sensor's LO is 3 kHz off, so on first sight the station looks 3 kHz off its licence (violation).
    # The other sensors show it on frequency.
    coast = station("SH-MAR-0900", "SH", 31.02, 121.08, tx_freq_hz=156.8e6, erp_dbw=3.0, necessary_bw_hz=16_000.0,
                    antenna_height_m=20.0, ground_height_m=0.0, service="maritime", designator="16K0F3E")
    engine = engine_for(tmp_path, [coast], predicted_border_check="off")
    (info, rep, cov), rest = _ch16_reports(3000.0, 31.02, 121.08, 3.0, 3.0, provinces=("SH",))
    [ev] = engine.observe(info, T0, [rep.emission], rep.noise_floor_dbm, coverage=cov)
    assert ev.alert.provisional and ev.alert.verdicts == ("licence_violation",)
    events = []
    for k, (i, r, c) in enumerate(rest):
        events += engine.observe(i, T0 + timedelta(seconds=0.05 * (k + 1)), [r.emission] if r.emission else [],
                                 r.noise_floor_dbm, coverage=c)
    events += engine.tick(T0 + timedelta(seconds=3.0))
    [withdrawn] = [e for e in events if e.alert.id == ev.alert.id]
    assert withdrawn.event == "resolved" and withdrawn.alert.resolved_by == "engine"
    assert "withdrawn" in (withdrawn.alert.note or "")
    assert engine.open_alerts() == []


def test_land_mobile_bands_get_no_provisional_alert(tmp_path) -> None:
    engine = engine_for(tmp_path)
    s = ZJ_JS_SENSORS[0]
    em = {"center_hz": 450.0125e6, "power_dbm": -80.0, "snr_db": 45.0, "obw_hz": 10_000.0}
    assert engine.observe(s, T0, [em], NOISE_FLOOR_DBM) == []


def test_an_emission_on_the_edge_between_two_channels_is_one_alert(tmp_path) -> None:
    # 6.25 kHz off its PMR 400 assignment: on the edge of two 12.5 kHz channels; the sensors' LO errors
    # put it on one side or the other.
    from engine_testkit import ZJ_EMITTER, emission

    st = station("ZJ-PMR-0500", "ZJ", *ZJ_EMITTER, tx_freq_hz=450.0125e6, erp_dbw=10.0)
    engine = engine_for(tmp_path, [st])
    events = []
    for k in range(2):
        t = T0 + timedelta(seconds=5 * k)
        for i, s in enumerate(ZJ_JS_SENSORS):
            f = 450.0125e6 + 6250.0 + (-40.0 if i % 2 else 40.0)  # either side of the channel edge
            em = emission(s, *ZJ_EMITTER, erp_dbw=10.0, freq_hz=f)
            events += engine.observe(s, t + timedelta(seconds=0.1 * i), [em] if em else [], NOISE_FLOOR_DBM)
        events += engine.tick(t + timedelta(seconds=3))
    [alert] = final_alerts(events)
    assert "licence_violation" in alert.verdicts and alert.matched_station == "ZJ/ZJ-PMR-0500"
    assert len({s.sensor_id for s in alert.sensors}) >= 3
