"""Auto-resolve needs evidence of absence: sweeps of the channel without the emitter, by the sensors'
own measurement times, not a quiet link (reports late because a sensor or the server is behind)."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pytest
from engine_testkit import NOISE_FLOOR_DBM, PMR_FREQ_HZ, T0, ZJ_EMITTER, ZJ_JS_SENSORS, emission, make_repo

from coordination.alerts import AlertEvent, InMemoryAlertStore
from coordination.engine import EngineConfig, RulesEngine
from coordination.sensors import SweepCoverage
from station_db.rules import load_rules

RULES = load_rules()
WINDOW_S = 15.0  # the realistic demo's auto-resolve window
CFG = EngineConfig(auto_resolve_after_s=WINDOW_S, update_min_interval_s=60.0, group_window_s=2.0)
#: the span each sensor sweeps: PMR 400 around the emitter, 1 kHz bins
PMR_SPAN = SweepCoverage(PMR_FREQ_HZ - 1e6, PMR_FREQ_HZ + 1e6, 1e3)
#: another band the sensors also sweep (does not contain the emitter's channel)
OTHER_SPAN = SweepCoverage(160e6, 162e6, 1e3)


@pytest.fixture
def engine(tmp_path) -> RulesEngine:
    return RulesEngine(make_repo(tmp_path / "st.db", []), RULES, InMemoryAlertStore(), config=CFG)


def report(engine: RulesEngine, t: datetime, *, on_air: bool, rng: np.random.Generator,
           coverage: SweepCoverage = PMR_SPAN) -> list[AlertEvent]:
    """Every sensor's sweep measured at ``t`` reaches the engine (filed only, as the server does)."""
    events: list[AlertEvent] = []
    for s in ZJ_JS_SENSORS:
        em = emission(s, *ZJ_EMITTER, erp_dbw=10.0, rng=rng, noise_db=2.0) if on_air else None
        events += engine.observe(s, t, [em] if em else [], NOISE_FLOOR_DBM, s.antenna_factor_db_m,
                                 coverage=coverage, judge=False)
    return events


def count(events: list[AlertEvent], kind: str) -> int:
    return sum(e.event == kind for e in events)


def open_alert(engine: RulesEngine, rng: np.random.Generator) -> tuple[list[AlertEvent], datetime]:
    """20 s on the air, reports on time: one alert; returns the events and the next sweep time."""
    events: list[AlertEvent] = []
    t = T0
    for _ in range(5):
        events += report(engine, t, on_air=True, rng=rng) + engine.tick(t + timedelta(seconds=2))
        t += timedelta(seconds=5)
    assert count(events, "opened") == 1 and len(engine.open_alerts()) == 1
    return events, t


@pytest.mark.parametrize("seed", [3, 11])
def test_lagging_reports_do_not_resolve_and_their_late_arrival_keeps_one_alert(engine, seed) -> None:
    rng = np.random.default_rng(seed)
    events, t = open_alert(engine, rng)
    alert_id = engine.open_alerts()[0].id
    lag_s = 3 * WINDOW_S  # longer than the evidence horizon (30 s) too: the late sights are too old to judge
    # The emitter stays on; the sensors keep sweeping, but nothing reaches the engine for 45 s.
    measured = [t + timedelta(seconds=5 * i) for i in range(int(lag_s / 5))]
    for i in range(1, int(lag_s / 5) + 1):
        events += engine.tick(t + timedelta(seconds=5 * i))
    assert count(events, "resolved") == 0 and [a.id for a in engine.open_alerts()] == [alert_id]
    # The backlog arrives at once, then the sensors are on time again.
    now = t + timedelta(seconds=lag_s + 1)
    for tm in measured:
        events += report(engine, tm, on_air=True, rng=rng)
    events += engine.tick(now)
    t = now
    for _ in range(6):
        t += timedelta(seconds=5)
        events += report(engine, t, on_air=True, rng=rng) + engine.tick(t + timedelta(seconds=2))
    assert count(events, "opened") == 1 and count(events, "resolved") == 0
    assert {e.alert.id for e in events} == {alert_id}
    [alert] = engine.open_alerts()
    assert alert.id == alert_id and alert.last_seen >= t


@pytest.mark.parametrize("seed", [3, 11])
def test_sweeps_of_the_channel_without_the_emitter_resolve_it_after_the_window(engine, seed) -> None:
    rng = np.random.default_rng(seed)
    events, t = open_alert(engine, rng)
    last_seen = engine.open_alerts()[0].last_seen
    assert last_seen == t - timedelta(seconds=5)
    resolved_at = None
    for _ in range(8):  # off the air; the sensors sweep the channel every 5 s and report on time
        evs = report(engine, t, on_air=False, rng=rng) + engine.tick(t + timedelta(seconds=1))
        if count(evs, "resolved") and resolved_at is None:
            resolved_at = t
        events += evs
        t += timedelta(seconds=5)
    [resolved] = [e for e in events if e.event == "resolved"]
    assert resolved.alert.resolved_by == "auto" and "auto-resolved" in (resolved.alert.note or "")
    # The first sweep more than 15 s after the last sight: 20 s after it (sweeps every 5 s).
    assert resolved_at is not None and (resolved_at - last_seen).total_seconds() == pytest.approx(20.0)
    assert engine.open_alerts() == []


def test_sweeps_of_another_band_are_no_evidence_of_absence(engine) -> None:
    rng = np.random.default_rng(5)
    events, t = open_alert(engine, rng)
    for _ in range(12):  # 60 s: the sensors only report their sweeps of another band
        events += report(engine, t, on_air=False, rng=rng, coverage=OTHER_SPAN) + engine.tick(t)
        t += timedelta(seconds=5)
    assert count(events, "resolved") == 0 and len(engine.open_alerts()) == 1
    # Back on the PMR band, the channel is empty: resolved after the window by those sweeps.
    for _ in range(5):
        events += report(engine, t, on_air=False, rng=rng) + engine.tick(t)
        t += timedelta(seconds=5)
    assert count(events, "resolved") == 1 and engine.open_alerts() == []


def test_late_reports_of_an_empty_channel_resolve_it_when_they_arrive(engine) -> None:
    rng = np.random.default_rng(7)
    events, t = open_alert(engine, rng)
    measured = [t + timedelta(seconds=5 * i) for i in range(8)]  # off the air from t; reports held back 40 s
    for i in range(1, 9):
        events += engine.tick(t + timedelta(seconds=5 * i))
    assert count(events, "resolved") == 0
    for tm in measured:
        events += report(engine, tm, on_air=False, rng=rng)
    events += engine.tick(t + timedelta(seconds=41))
    assert count(events, "resolved") == 1 and engine.open_alerts() == []
