"""An identification that rests on the prior asks for a TDOA round (EngineConfig.identity_check_below).

Three Anhui sensors around a PMR base, 6 dB of scatter on every level (seeded). A pirate 15 km from the
base on its channel fits the base about as well as an unknown emitter does, and the 70 % prior that traffic
on a licensed channel is the licensee's takes it for the base (probability 0.75, no alert). The engine asks
for an identity check; the fix far from the site makes the emitter unlicensed and opens the alert then. The
base's own traffic judged at 0.82 is checked too, and a fix at its site leaves it licensed, without an alert.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import numpy as np
import pytest
from engine_testkit import AH_DEEP_SENSORS, AH_DEEP_STATION_POS, make_repo, run, station

from coordination.alerts import InMemoryAlertStore, Position
from coordination.engine import EngineConfig, RulesEngine, UnknownAlertError
from station_db import geo
from station_db.rules import load_rules

RULES = load_rules()
BASE = "AH/AH-PMR-0100"
KM_PER_DEG = 111.195


def _engine(tmp_path, **cfg) -> RulesEngine:
    """The base and its engine; checks asked from three sensors (the default asks from four: a three-sensor
    fix is a wrong peak in one round of six, tested below)."""
    cfg = {"identity_check_min_sensors": 3, **cfg}
    lat, lon = AH_DEEP_STATION_POS
    return RulesEngine(make_repo(tmp_path / "st.db", [station("AH-PMR-0100", "AH", lat, lon, erp_dbw=10.0)]),
                       RULES, InMemoryAlertStore(), config=EngineConfig(**cfg))


def _fix(lat: float, lon: float) -> Position:
    """A three-sensor TDOA fix 100 m off (lat, lon), 150 m 1-sigma."""
    off = 0.1 / np.sqrt(2.0) / KM_PER_DEG
    return Position(lat=lat + off, lon=lon + off, error_km=0.37, semi_major_km=0.15, semi_minor_km=0.12,
                    orientation_deg=30.0, method="tdoa", n_sensors=3)


PIRATE = (AH_DEEP_STATION_POS[0] - 0.10, AH_DEEP_STATION_POS[1] + 0.12)


def test_a_pirate_taken_for_the_licensee_on_the_prior_is_checked_and_the_fix_opens_its_alert(tmp_path) -> None:
    assert 14.0 < float(geo.haversine_km(*PIRATE, *AH_DEEP_STATION_POS)) < 17.0
    engine = _engine(tmp_path)
    events, t = run(engine, AH_DEEP_SENSORS, *PIRATE, erp_dbw=10.0, n=1, rng=np.random.default_rng(5), noise_db=6.0)
    assert [e for e in events if e.event == "opened"] == []  # taken for the base by levels and prior
    [status] = engine.channel_status()
    assert status["status"] == "licensed" and status["matched_station"] == BASE
    [check] = engine.identity_checks()
    assert check["id"].startswith("check-") and check["matched_station"] == BASE
    assert 0.5 <= check["probability"] < 0.9
    assert sorted(r["sensor_id"] for r in check["sensors"]) == sorted(s.sensor_id for s in AH_DEEP_SENSORS)
    assert all(r["measured_dbm"] is not None for r in check["sensors"]) and check["f_center_hz"] > 450e6
    assert engine.identity_checks() == []  # handed out once
    [ev] = engine.add_position_fix(check["id"], _fix(*PIRATE), t)
    a = ev.alert
    assert ev.event == "opened" and a.verdicts == ("unlicensed",) and a.matched_station is None
    assert a.position is not None and a.position.method == "fused"
    assert float(geo.haversine_km(a.position.lat, a.position.lon, *PIRATE)) < 1.0
    assert a.provinces_source == ("AH",)
    # the round's file names the check: the alert it opened takes it as evidence
    got = engine.add_evidence(check["id"], "tdoa/check/round.tdoa.json")
    assert got.alert.id == a.id and got.alert.evidence == ("tdoa/check/round.tdoa.json",)
    # the next sweeps are judged with the fix the cluster keeps: the alert stays, no second check
    later, _ = run(engine, AH_DEEP_SENSORS, *PIRATE, start=t + timedelta(seconds=5), erp_dbw=10.0, n=2,
                   rng=np.random.default_rng(6), noise_db=6.0)
    assert [e for e in later if e.event == "opened"] == [] and [x.id for x in engine.open_alerts()] == [a.id]
    assert engine.identity_checks() == []


def test_the_licensees_own_traffic_checked_stays_licensed(tmp_path) -> None:
    engine = _engine(tmp_path)
    events, t = run(engine, AH_DEEP_SENSORS, *AH_DEEP_STATION_POS, erp_dbw=10.0, n=1, rng=np.random.default_rng(3),
                    noise_db=6.0)
    assert [e for e in events if e.event == "opened"] == []
    [check] = engine.identity_checks()
    assert check["matched_station"] == BASE and check["probability"] < 0.9
    assert engine.add_position_fix(check["id"], _fix(*AH_DEEP_STATION_POS), t) == []
    [status] = engine.channel_status()
    assert status["status"] == "licensed" and status["matched_station"] == BASE and status["alert_id"] is None
    later, _ = run(engine, AH_DEEP_SENSORS, *AH_DEEP_STATION_POS, start=t + timedelta(seconds=5), erp_dbw=10.0,
                   n=2, rng=np.random.default_rng(4), noise_db=6.0)
    assert [e for e in later if e.event == "opened"] == [] and engine.identity_checks() == []


def test_no_check_when_off_or_when_fewer_than_three_sensors_hear_it(tmp_path) -> None:
    engine = _engine(tmp_path, identity_check_below=0.0)
    run(engine, AH_DEEP_SENSORS, *PIRATE, erp_dbw=10.0, n=1, rng=np.random.default_rng(5), noise_db=6.0)
    assert engine.channel_status()[0]["matched_station"] == BASE and engine.identity_checks() == []
    two = _engine(tmp_path / "two")
    run(two, AH_DEEP_SENSORS[:2], *AH_DEEP_STATION_POS, erp_dbw=10.0, n=1, rng=np.random.default_rng(3),
        noise_db=6.0)
    assert two.identity_checks() == []
    with pytest.raises(ValueError, match="identity_check_below"):
        EngineConfig(identity_check_below=1.5)
    with pytest.raises(ValueError, match="identity_check_min_sensors"):
        EngineConfig(identity_check_min_sensors=2)
    # by default a check needs four sensors: three hear the pirate, none is asked
    default = RulesEngine(make_repo(tmp_path / "default.db", [station("AH-PMR-0100", "AH", *AH_DEEP_STATION_POS,
                                                                      erp_dbw=10.0)]), RULES, InMemoryAlertStore())
    run(default, AH_DEEP_SENSORS, *PIRATE, erp_dbw=10.0, n=1, rng=np.random.default_rng(5), noise_db=6.0)
    assert default.channel_status()[0]["matched_station"] == BASE and default.identity_checks() == []


def test_a_fix_for_a_check_whose_cluster_is_gone_is_refused(tmp_path) -> None:
    engine = _engine(tmp_path)
    _, t = run(engine, AH_DEEP_SENSORS, *PIRATE, erp_dbw=10.0, n=1, rng=np.random.default_rng(5), noise_db=6.0)
    [check] = engine.identity_checks()
    engine.tick(t + timedelta(seconds=3600))  # the emitter long gone: the cluster with it
    with pytest.raises(UnknownAlertError, match="cluster is gone"):
        engine.add_position_fix(check["id"], _fix(*PIRATE), t + timedelta(seconds=3601))
    with pytest.raises(ValueError, match="method"):
        engine.add_position_fix(check["id"], replace(_fix(*PIRATE), method="rss"), t)
