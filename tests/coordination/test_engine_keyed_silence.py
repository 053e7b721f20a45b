"""A sensor's silence counts only from a sweep made while the emitter was on (EngineConfig.silence_after_last_s).

An unlicensed handheld keys one over; two Hefei sensors hear it. A third sensor 3 km from it sweeps the
channel 8 s later, after the over: it hears nothing, and that says nothing of where the emitter is. Taken as
evidence (as before), its silence pushed the position away from that sensor, that is away from the truth
(8.3 -> 12.5 km off). A sweep by the same sensor during the over that hears nothing is still evidence and
still moves the fix.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
from engine_testkit import AH_DEEP_SENSORS, ANTENNA_FACTOR_DB_M, NOISE_FLOOR_DBM, T0, emission, make_repo

from coordination.alerts import InMemoryAlertStore
from coordination.engine import EngineConfig, RulesEngine
from coordination.sensors import SensorInfo, SweepCoverage
from station_db import geo
from station_db.rules import load_rules

RULES = load_rules()
PMR400 = RULES.band_for(450.0125e6)
COVER = SweepCoverage(PMR400.f_lo_hz, PMR400.f_hi_hz, 3125.0)
TRUTH = (31.84, 117.36)
NEAR = SensorInfo("ah-near", "AH", TRUTH[0] + 0.027, TRUTH[1], 15.0, ANTENNA_FACTOR_DB_M)  # 3 km north of it
HEARD = AH_DEEP_SENSORS[:2]


def _fix(tmp_path, near_sweep_s: float | None, **cfg):
    """The opened alert's position: the over heard by two sensors; ``NEAR`` sweeps at ``near_sweep_s`` (never:
    None)."""
    engine = RulesEngine(make_repo(tmp_path / f"st{near_sweep_s}.db", []), RULES, InMemoryAlertStore(),
                         config=EngineConfig(**cfg))
    rng = np.random.default_rng(4)
    events = []
    for k, s in enumerate(HEARD):  # the over: t0 .. t0 + 4 s
        em = emission(s, *TRUTH, erp_dbw=5.0, rng=rng, noise_db=2.0)
        assert em is not None
        events += engine.observe(s, T0 + timedelta(seconds=0.5 * k), [em], NOISE_FLOOR_DBM, ANTENNA_FACTOR_DB_M,
                                 coverage=COVER)
    if near_sweep_s is not None:
        assert emission(NEAR, *TRUTH, erp_dbw=5.0)["snr_db"] > 40.0  # it would have heard it while on
        events += engine.observe(NEAR, T0 + timedelta(seconds=near_sweep_s), [], NOISE_FLOOR_DBM,
                                 ANTENNA_FACTOR_DB_M, coverage=COVER)
    events += engine.tick(T0 + timedelta(seconds=12.0))
    [alert] = [e.alert for e in events if e.event == "opened"]
    assert alert.verdicts == ("unlicensed",)
    return alert


def _off_km(alert) -> float:
    return float(geo.haversine_km(alert.position.lat, alert.position.lon, *TRUTH))


def test_a_sweep_after_the_over_ended_changes_nothing(tmp_path) -> None:
    alone = _fix(tmp_path / "alone", None)
    after = _fix(tmp_path / "after", 8.0)
    assert (after.position.lat, after.position.lon, after.position.error_km) == (
        alone.position.lat, alone.position.lon, alone.position.error_km)
    assert not any("did not hear it" in f for f in after.findings)
    assert _off_km(after) < after.position.error_km  # the region holds the emitter
    # counted as a silence (a grace past the sweep: the rule before), it pushed the fix off the emitter
    before = _fix(tmp_path / "before", 8.0, silence_after_last_s=60.0)
    assert any("did not hear it: ah-near" in f for f in before.findings)
    assert _off_km(before) > _off_km(after) + 3.0


def test_a_sweep_during_the_over_that_hears_nothing_is_still_evidence(tmp_path) -> None:
    alone = _fix(tmp_path / "alone", None)
    during = _fix(tmp_path / "during", 2.0)
    assert any("did not hear it: ah-near" in f for f in during.findings)
    assert (during.position.lat, during.position.lon) != (alone.position.lat, alone.position.lon)
