"""Alert life cycle: one alert for a flapping emitter, auto-resolve, ack/resolve, restart, throttling."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from engine_testkit import (
    AH_DEEP_SENSORS,
    AH_DEEP_STATION_POS,
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

from coordination.alerts import AlertError, InMemoryAlertStore
from coordination.engine import EngineConfig, RulesEngine, UnknownAlertError
from station_db.rules import load_rules

RULES = load_rules()
CFG = EngineConfig(auto_resolve_after_s=120.0, update_min_interval_s=60.0, group_window_s=2.0)


@pytest.fixture
def engine(tmp_path) -> RulesEngine:
    return RulesEngine(make_repo(tmp_path / "st.db", []), RULES, InMemoryAlertStore(), config=CFG)


def silence(engine: RulesEngine, t) -> list:
    """Every sensor sweeps and hears nothing on the channel."""
    events = []
    for s in ZJ_JS_SENSORS:
        events += engine.observe(s, t, [], NOISE_FLOOR_DBM, s.antenna_factor_db_m)
    return events + engine.tick(t)


def on_air(engine: RulesEngine, t, rng=None) -> list:
    return sweep(engine, ZJ_JS_SENSORS, t, *ZJ_EMITTER, erp_dbw=10.0, rng=rng, noise_db=2.0) + engine.tick(t)


def by_event(events) -> dict[str, int]:
    out: dict[str, int] = {}
    for e in events:
        out[e.event] = out.get(e.event, 0) + 1
    return out


def test_flapping_emitter_is_one_alert(engine: RulesEngine) -> None:
    rng = np.random.default_rng(1)
    events, t = [], T0
    for _cycle in range(6):  # 20 s on, 40 s off, six times: gaps shorter than the 120 s auto-resolve
        for _ in range(2):
            events += on_air(engine, t, rng)
            t += timedelta(seconds=10)
        for _ in range(4):
            events += silence(engine, t)
            t += timedelta(seconds=10)
    counts = by_event(events)
    assert counts.get("opened") == 1
    assert "resolved" not in counts
    assert counts.get("updated", 0) <= 7  # level-only refreshes at most once a minute
    assert len({e.alert.id for e in events}) == 1
    assert len(engine.open_alerts()) == 1


def test_border_level_hovering_at_the_limit_does_not_flip_the_affected_province(engine: RulesEngine) -> None:
    zj_a, zj_b, js_a, _ = ZJ_JS_SENSORS
    limit = RULES.band_for(PMR_FREQ_HZ).border_limit_dbuv_m  # type: ignore[union-attr]

    def em(field_dbuv_m: float) -> dict[str, float]:
        p = field_dbuv_m - 107.0 - 20.0
        return {"center_hz": PMR_FREQ_HZ, "peak_hz": PMR_FREQ_HZ, "peak_dbm": p, "power_dbm": p,
                "bandwidth_xdb_hz": 8e3, "obw_hz": 1e4, "snr_db": p - NOISE_FLOOR_DBM,
                "f_lo_hz": PMR_FREQ_HZ - 5e3, "f_hi_hz": PMR_FREQ_HZ + 5e3}

    events, t = [], T0
    for i in range(12):
        js_level = limit + (1.0 if i % 2 == 0 else -1.0)  # +1 dB, -1 dB, ... around the limit
        events += engine.observe(zj_a, t, [em(45.0)], NOISE_FLOOR_DBM, 20.0)
        events += engine.observe(zj_b, t, [em(42.0)], NOISE_FLOOR_DBM, 20.0)
        events += engine.observe(js_a, t, [em(js_level)], NOISE_FLOOR_DBM, 20.0)
        t += timedelta(seconds=5)
        events += engine.tick(t)
    assert by_event(events).get("opened") == 1
    assert all(e.alert.provinces_affected == ("JS",) for e in events)
    assert all("cross_border" in e.alert.verdicts for e in events)


def test_auto_resolve_after_absence(engine: RulesEngine) -> None:
    events, t = [], T0
    for _ in range(3):
        events += on_air(engine, t)
        t += timedelta(seconds=10)
    [opened] = [e for e in events if e.event == "opened"]
    last_seen = engine.open_alerts()[0].last_seen
    assert last_seen == T0 + timedelta(seconds=20)
    # Not yet: 100 s of silence is shorter than the 120 s auto-resolve.
    assert all(e.event != "resolved" for e in silence(engine, last_seen + timedelta(seconds=100)))
    later = silence(engine, last_seen + timedelta(seconds=130))
    [resolved] = [e for e in later if e.event == "resolved"]
    assert resolved.alert.id == opened.alert.id
    assert resolved.alert.state == "resolved" and resolved.alert.resolved_by == "auto"
    assert engine.open_alerts() == []
    assert engine.store.get(opened.alert.id).state == "resolved"
    # A new appearance after resolution is a new alert.
    again = on_air(engine, last_seen + timedelta(seconds=200)) + engine.tick(last_seen + timedelta(seconds=205))
    [reopened] = [e for e in again if e.event == "opened"]
    assert reopened.alert.id != opened.alert.id


def test_acknowledge_then_resolve_events(engine: RulesEngine) -> None:
    events, t = [], T0
    for _ in range(2):
        events += on_air(engine, t)
        t += timedelta(seconds=10)
    alert_id = events[0].alert.id
    ack = engine.acknowledge(alert_id, "zj-enforcement", "team dispatched")
    assert ack.event == "acknowledged" and ack.alert.state == "acknowledged"
    assert ack.alert.acknowledged_by == "zj-enforcement" and ack.alert.note == "team dispatched"
    assert ack.topics() == ["alert.ZJ", "alert.JS"]
    # Still on the air: updates keep the acknowledged state.
    more = []
    for _ in range(8):
        more += on_air(engine, t)
        t += timedelta(seconds=10)
    assert more and all(e.alert.state == "acknowledged" for e in more)
    res = engine.resolve(alert_id, "zj-enforcement", "transmitter seized")
    assert res.event == "resolved" and res.alert.state == "resolved" and res.alert.resolved_by == "zj-enforcement"
    assert "transmitter seized" in (res.alert.note or "")
    with pytest.raises(AlertError, match="already resolved"):
        engine.resolve(alert_id, "x")
    with pytest.raises(AlertError, match="cannot be acknowledged"):
        engine.acknowledge(alert_id, "x")
    with pytest.raises(UnknownAlertError):
        engine.acknowledge("no-such-alert", "x")


def test_manual_resolve_is_not_undone_by_the_next_sweep(engine: RulesEngine) -> None:
    t = T0
    events = on_air(engine, t) + on_air(engine, t + timedelta(seconds=5))
    alert_id = events[0].alert.id
    engine.resolve(alert_id, "js-enforcement")
    t += timedelta(seconds=10)
    after = []
    for _ in range(10):  # 100 s more on the air: muted for auto_resolve_after_s (120 s)
        after += on_air(engine, t)
        t += timedelta(seconds=10)
    assert after == []
    for _ in range(4):  # still transmitting after the mute: a new alert
        after += on_air(engine, t)
        t += timedelta(seconds=10)
    [new] = [e for e in after if e.event == "opened"]
    assert new.alert.id != alert_id


def test_restart_keeps_the_open_alert(tmp_path) -> None:
    store = InMemoryAlertStore()
    repo = make_repo(tmp_path / "st.db", [])
    first = RulesEngine(repo, RULES, store, config=CFG)
    events = on_air(first, T0) + on_air(first, T0 + timedelta(seconds=5))
    alert_id = events[0].alert.id
    # The server restarts: a new engine over the same store.
    second = RulesEngine(repo, RULES, store, config=CFG)
    assert [a.id for a in second.open_alerts()] == [alert_id]
    t = T0 + timedelta(seconds=60)
    more = []
    for _ in range(8):
        more += on_air(second, t)
        t += timedelta(seconds=10)
    assert more and all(e.event == "updated" and e.alert.id == alert_id for e in more)
    ack = second.acknowledge(alert_id, "js")
    assert ack.alert.id == alert_id
    gone = silence(second, t + timedelta(seconds=200))
    assert [e.event for e in gone] == ["resolved"]


def test_steady_emitter_updates_are_throttled(engine: RulesEngine) -> None:
    rng = np.random.default_rng(5)
    events, t = [], T0
    for _ in range(60):  # 10 minutes, a sweep every 10 s
        events += on_air(engine, t, rng)
        t += timedelta(seconds=10)
    counts = by_event(events)
    assert counts["opened"] == 1
    assert counts.get("updated", 0) <= 11  # at most one per update_min_interval_s (60 s) + material changes
    assert engine.open_alerts()[0].last_seen == t - timedelta(seconds=10)


def test_evidence_is_attached_to_the_alert(engine: RulesEngine) -> None:
    events = on_air(engine, T0) + on_air(engine, T0 + timedelta(seconds=5))
    alert_id = events[0].alert.id
    ev = engine.add_evidence(alert_id, "evidence/2026-11-25/abc.sigmf-meta")
    assert ev.event == "updated" and ev.alert.evidence == ("evidence/2026-11-25/abc.sigmf-meta",)
    assert engine.store.get(alert_id).evidence == ("evidence/2026-11-25/abc.sigmf-meta",)
    with pytest.raises(KeyError):
        engine.add_evidence("nope", "x")


def test_steady_cluster_is_reassessed_only_every_reassess_after_s(tmp_path) -> None:
    cfg = EngineConfig(reassess_after_s=30.0, update_min_interval_s=60.0)
    engine = RulesEngine(make_repo(tmp_path / "st.db", []), RULES, InMemoryAlertStore(), config=cfg)
    calls = []
    real = engine.assess
    engine.assess = lambda *a, **k: calls.append(a[3]) or real(*a, **k)  # type: ignore[method-assign]
    t = T0
    for _ in range(30):  # 5 minutes, noise-free levels: nothing changes
        on_air(engine, t)
        t += timedelta(seconds=10)
    assert 5 <= len(calls) <= 11  # every 30 s at most (plus the 60 s refresh), not every 10 s sweep
    assert engine.open_alerts()[0].last_seen == t - timedelta(seconds=10)


def test_operator_actions_are_stamped_with_the_injected_clock(tmp_path) -> None:
    wall = T0 + timedelta(hours=1)
    engine = RulesEngine(make_repo(tmp_path / "st.db", []), RULES, InMemoryAlertStore(), config=CFG,
                         clock=lambda: wall)
    events = on_air(engine, T0) + on_air(engine, T0 + timedelta(seconds=5))
    ack = engine.acknowledge(events[0].alert.id, "zj")
    assert ack.alert.updated_at == wall
    assert ack.alert.to_json()["updated_at"] == "2026-11-25T09:00:00.000000Z"


def test_an_alert_judged_unlicensed_again_no_longer_names_the_station(tmp_path) -> None:
    """Who the emitter is follows the latest judgement, the matched station with it: a +20 dB fault of a base
    is a violation naming it; when the levels move 20 km away the base cannot explain them, and the same alert,
    now "unlicensed", must not keep naming the base (it used to: matched_station kept the earlier match)."""
    lat, lon = AH_DEEP_STATION_POS
    base = station("AH-PMR-0100", "AH", lat, lon, erp_dbw=10.0)
    engine = RulesEngine(make_repo(tmp_path / "st.db", [base]), RULES, InMemoryAlertStore())
    events, t = run(engine, AH_DEEP_SENSORS, lat, lon, erp_dbw=30.0, rng=np.random.default_rng(3), noise_db=0.5)
    [opened] = [e.alert for e in events if e.event == "opened"]
    assert opened.verdicts == ("licence_violation",) and opened.matched_station == "AH/AH-PMR-0100"
    events, _ = run(engine, AH_DEEP_SENSORS, lat, lon + 0.2, start=t, n=4, erp_dbw=10.0,
                    rng=np.random.default_rng(4), noise_db=0.5)
    last = [e.alert for e in events if e.alert.id == opened.id][-1]
    assert last.verdicts == ("unlicensed",) and last.matched_station is None
