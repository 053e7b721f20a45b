"""TDOA through the real server: an alert heard by four sensor daemons opens, the server picks the
reference broadcaster, orders synchronised snapshots, the daemons take them (rendered coherently by
the simulator, each dongle with its own crystal error and start offset) and upload them as evidence,
the server solves, and the alert's position says ``fused`` with the TDOA detail beside it; with the real
rules engine, the published alert's provinces follow the fix. The round is told the target is FM from the
classes the sensors measured (on the alert's readings), never from the band."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from engine_testkit import demo_sites, final_alerts, realistic_sweeps
from server_testkit import FakeEngine, loopback_config, make_alert, running_daemons, site_daemon

from coordination import tdoa_orders
from coordination.alerts import AlertEvent, InMemoryAlertStore, Position
from coordination.client import ApiClient, ApiError
from coordination.engine import EngineConfig, RulesEngine
from coordination.sensors import SensorInfo
from coordination.server import Server
from dsp.multilat import EnuFrame
from sdr.daemon import SensorDaemon
from sdr.scenario import SensorSite, Transmitter
from sdr.sources.sim_tdoa import SimulatedSnapshots, TdoaEmitter, noise_dbm, received_dbm
from sdr.sources.sim_world import RealisticWorld
from station_db.models import Station
from station_db.repository import StationRepository
from station_db.rules import load_rules

REF = Station(
    station_id="SH-FM-0007", province="SH", licensee="Qingpu News Radio (fictional)", service="broadcast",
    tx_freq_hz=105.2e6, rx_freq_hz=None, emission_designator="180KF3E", necessary_bw_hz=180e3, erp_dbw=40.0,
    antenna_height_m=200.0, azimuth_deg=None, pattern="omni", ground_height_m=13.0, lat=31.17817, lon=121.15274,
    valid_from=date(2024, 1, 1), valid_to=date(2035, 12, 31))
#: a weak broadcaster far away: never the reference while SH-FM-0007 is heard
FAR = Station(
    station_id="AH-FM-0101", province="AH", licensee="far away (fictional)", service="broadcast", tx_freq_hz=91.0e6,
    rx_freq_hz=None, emission_designator="180KF3E", necessary_bw_hz=180e3, erp_dbw=10.0, antenna_height_m=50.0,
    azimuth_deg=None, pattern="omni", ground_height_m=20.0, lat=31.9, lon=117.3,
    valid_from=date(2024, 1, 1), valid_to=date(2035, 12, 31))
SITES = (  # the shipped layout's four sensors around Dianshan Lake
    SensorSite("JS-KUNSHAN", "JS", 31.385, 120.98, 30.0), SensorSite("SH-QINGPU", "SH", 31.15, 121.12, 30.0),
    SensorSite("ZJ-JIASHAN", "ZJ", 30.83, 120.92, 30.0), SensorSite("JS-WUJIANG-LILI", "JS", 30.99, 120.73, 30.0))
TRUTH = (31.08, 120.95)
F_TARGET = 433.5e6


def _snapshot_daemons(tmp_path: Path, sites: Sequence[SensorSite], srv: Server, emitters: Sequence[TdoaEmitter],
                      world: RealisticWorld, stop: threading.Event) -> list[SensorDaemon]:
    """A daemon per site whose snapshots the simulator renders coherently (one renderer pool for all)."""
    renderers: dict = {}
    return [site_daemon(tmp_path, s, srv.endpoints["sensors"], stop,
                        snapshot_source=SimulatedSnapshots(emitters, world, s, seed=i + 1, renderers=renderers))
            for i, s in enumerate(sites)]


@pytest.fixture
def solver_calls(monkeypatch) -> list[dict]:
    """The keyword arguments every round hands the real solver (coordination.tdoa.locate_tdoa)."""
    calls: list[dict] = []
    real = tdoa_orders.locate_tdoa

    def recording(*args, **kw):
        calls.append(kw)
        return real(*args, **kw)

    monkeypatch.setattr(tdoa_orders, "locate_tdoa", recording)
    return calls


@pytest.fixture
def stations(tmp_path):
    with StationRepository(tmp_path / "stations.db") as repo:
        repo.import_stations([REF], "SH", "test", "h1")
        repo.import_stations([FAR], "AH", "test", "h2")
        yield repo


def _wideband_at_truth(world: RealisticWorld) -> list[TdoaEmitter]:
    """A 150 kHz data carrier at TRUTH with 20 dB in-band SNR at the median sensor, and the reference broadcaster."""
    target = Transmitter(id="T", lat=TRUTH[0], lon=TRUTH[1], freq_hz=F_TARGET, erp_dbw=0.0, modulation="wideband",
                         antenna_height_m=15.0)
    snr0 = np.median([received_dbm(world, target, s) - noise_dbm(s, 150e3) for s in SITES])
    target = replace(target, erp_dbw=20.0 - float(snr0))
    ref_tx = Transmitter(id=REF.station_id, lat=REF.lat, lon=REF.lon, freq_hz=REF.tx_freq_hz, erp_dbw=REF.erp_dbw,
                         modulation="fm_broadcast", antenna_height_m=REF.antenna_height_m + REF.ground_height_m)
    return [TdoaEmitter(target, "wideband", 150e3, seed=11), TdoaEmitter(ref_tx, "fm_broadcast", 180e3, seed=12)]


def test_an_alert_heard_by_four_sensors_gets_a_fused_tdoa_position(tmp_path, stations, solver_calls) -> None:
    world = RealisticWorld(shadowing_db=8.0, seed=1919)
    emitters = _wideband_at_truth(world)
    engine = FakeEngine()
    # the received-level fix the engine would state: 3 km off, 4 km 1-sigma
    rss = Position(lat=TRUTH[0] + 0.027, lon=TRUTH[1] - 0.0, error_km=9.8, semi_major_km=4.0, semi_minor_km=4.0,
                   orientation_deg=0.0, kind="ellipse", n_sensors=4)
    alert = make_alert("A-TDOA", sensors=[(s.id, s.province) for s in SITES], f_center_hz=F_TARGET)
    # what the sensors' classifier measured: a data carrier (three of them sure, one not), not FM
    alert = alert.evolve(position=rss, sensors=tuple(
        replace(r, emission_class="wideband_digital", class_confidence=0.45 if i == 0 else 0.7)
        for i, r in enumerate(alert.sensors)))
    cfg = loopback_config(tmp_path, tdoa_on_open=True, tdoa_lead_s=1.5, tdoa_target_s=0.2, evidence_capture=False)

    def opens() -> None:  # all four have said hello: the alert opens at the first observation
        engine.queued = [AlertEvent("opened", alert)]

    with Server(cfg, engine=engine, stations=stations) as srv, \
            running_daemons(srv, lambda stop: _snapshot_daemons(tmp_path, SITES, srv, emitters, world, stop),
                            before_start=opens) as daemons:
        with ApiClient(srv.endpoints["api"], timeout_s=10.0) as api:
            doc: dict = {}
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    doc = api.result("alert", {"id": "A-TDOA"})
                except ApiError:  # not opened yet: no sweep observed so far
                    doc = {}
                if doc.get("tdoa"):
                    break
                time.sleep(0.2)
            assert doc.get("tdoa"), f"no TDOA fix: {doc.get('evidence')}"
            # on demand: a second round through the API op; unknown alerts are refused
            again = api.result("tdoa_locate", {"id": "A-TDOA"})
            third = api.result("tdoa_locate", {"id": "A-TDOA"})
            with pytest.raises(ApiError, match="no alert"):
                api.result("tdoa_locate", {"id": "nope"})
    assert sum(d.stats.snapshots for d in daemons) >= 4
    assert [a for a, _ in engine.fixes][:1] == ["A-TDOA"] and engine.fixes[0][1].method == "tdoa"
    tdoa = doc["tdoa"]
    assert tdoa["reference_station"] == "SH-FM-0007" and "error" not in tdoa
    assert tdoa["target_fm"] is False and solver_calls[0]["target_fm"] is False  # the data carrier is not read as FM
    assert len(tdoa["pairs"]) >= 2 and tdoa["position"]["method"] == "tdoa"
    frame = EnuFrame(*TRUTH)

    def err_m(p: dict) -> float:
        e = frame.to_enu(np.array(p["lat"]), np.array(p["lon"]), np.array(0.0))
        return float(np.hypot(e[0], e[1]))

    assert err_m(tdoa["position"]) < 200.0  # wideband 150 kHz, SNR >= 20 dB at the median sensor
    pos = doc["position"]
    assert pos["method"] == "fused" and doc["position_rss"]["method"] == "rss"
    assert err_m(pos) < 250.0 and pos["semi_major_km"] < 1.0  # the fused region is the TDOA's, not 4 km
    # the evidence keeps the four snapshots and the fix
    snaps = [e for e in doc["evidence"] if e.endswith(".sigmf-meta")]
    assert len(snaps) == 4 and sum(e.endswith(".tdoa.json") for e in doc["evidence"]) == 1
    assert again["reference_station"] == "SH-FM-0007" and len(again["sensors"]) == 4
    assert datetime.fromisoformat(again["t_utc"].replace("Z", "+00:00")) > datetime.now(UTC)  # T is ahead
    # a third round ordered at once for the same four sensors starts a lead time after the second one's
    # capture ends (0.1 + 0.02 + 0.2 + 0.02 + 0.1 s at the test's 0.2 s target), never while they record it
    gap_s = (datetime.fromisoformat(third["t_utc"].replace("Z", "+00:00"))
             - datetime.fromisoformat(again["t_utc"].replace("Z", "+00:00"))).total_seconds()
    assert gap_s >= 0.44 + 1.5 - 1e-3 and sorted(third["sensors"]) == sorted(again["sensors"])


class _JudgedEngine:
    """The real rules engine, fed beforehand with the realistic world's reports of the four sensors (the
    daemons' own sweeps come from their test scenario, not this world, and are not its input): its
    alert goes out at the first observation; TDOA fixes, evidence and the rest reach the real engine."""

    def __init__(self, engine: RulesEngine, events: list[AlertEvent]) -> None:
        self.engine = engine
        self.queued = events

    def observe(self, *args: object, **kw: object) -> list[AlertEvent]:
        out, self.queued = self.queued, []
        return out

    def tick(self, now: datetime) -> list[AlertEvent]:
        return []

    def acknowledge(self, alert_id: str, by: str, note: str | None = None) -> AlertEvent:
        return self.engine.acknowledge(alert_id, by, note)

    def resolve(self, alert_id: str, by: str, note: str | None = None) -> AlertEvent:
        return self.engine.resolve(alert_id, by, note)

    def add_evidence(self, alert_id: str, ref: str) -> AlertEvent:
        return self.engine.add_evidence(alert_id, ref)

    def add_position_fix(self, alert_id: str, position: Position, t: datetime | None = None) -> list[AlertEvent]:
        return self.engine.add_position_fix(alert_id, position, t)

    def open_alerts(self) -> list:
        return self.engine.open_alerts()


def test_the_published_alerts_provinces_follow_the_tdoa_fix(tmp_path, stations, solver_calls) -> None:
    # An unlicensed FM broadcaster in Zhejiang 8.7 km from Jiangsu; at 8 dB shadowing (world seed 2) the
    # four sensors' levels place it in Shanghai (source SH, Zhejiang listed as affected).
    truth = (30.90, 120.80)
    world = RealisticWorld(seed=2).with_shadowing(8.0)
    pirate = Transmitter(id="PIRATE", lat=truth[0], lon=truth[1], freq_hz=100.1e6, erp_dbw=24.0,
                         modulation="fm_broadcast", antenna_height_m=20.0)
    sites = [s for s in demo_sites()[0] if s.id in {x.id for x in SITES}]
    infos = [SensorInfo(s.id, s.province, s.lat, s.lon, s.height_m, s.antenna_factor_db_m) for s in sites]
    engine = RulesEngine(stations, load_rules(), InMemoryAlertStore(), config=EngineConfig(evidence_horizon_s=600.0))
    t0 = datetime.now(UTC) - timedelta(seconds=20)
    # each report carries the class live sensors measure on FM broadcast (spectrum only: fm_broadcast, 0.7)
    events = realistic_sweeps(engine, world, sites, infos, [pirate], load_rules().band_for(100.1e6), t0=t0, seed=2,
                              tick_after_s=12.0, klass=("fm_broadcast", 0.7))
    assert len(final_alerts(events)) == 1
    [alert] = engine.open_alerts()  # as the engine judges it now (updates go out at most every 30 s)
    over = {r.province for r in alert.sensors if r.excess_db >= 0.0} - {"ZJ"}
    assert alert.provinces_source != ("ZJ",) or set(alert.provinces_affected) != over  # levels alone: wrong
    assert len(alert.sensors) >= 3
    ref_tx = Transmitter(id=REF.station_id, lat=REF.lat, lon=REF.lon, freq_hz=REF.tx_freq_hz, erp_dbw=REF.erp_dbw,
                         modulation="fm_broadcast", antenna_height_m=REF.antenna_height_m + REF.ground_height_m)
    emitters = [TdoaEmitter(pirate, "fm_broadcast", 180e3, seed=21), TdoaEmitter(ref_tx, "fm_broadcast", 180e3,
                                                                                  seed=22)]
    judged = _JudgedEngine(engine, [AlertEvent("opened", alert)])
    cfg = loopback_config(tmp_path, tdoa_on_open=True, tdoa_lead_s=1.5, tdoa_target_s=0.2, evidence_capture=False)
    with Server(cfg, engine=judged, stations=stations) as srv, \
            running_daemons(srv, lambda stop: _snapshot_daemons(tmp_path, sites, srv, emitters, world, stop)), \
            ApiClient(srv.endpoints["api"], timeout_s=10.0) as api:
        doc: dict = {}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                doc = api.result("alert", {"id": alert.id})
            except ApiError:
                doc = {}
            if doc.get("tdoa"):
                break
            time.sleep(0.2)
    assert doc.get("tdoa") and "error" not in doc["tdoa"], doc.get("tdoa")
    # the alert's measured class reached the round: the solver read the FM target's links from their envelopes
    assert doc["tdoa"]["target_fm"] is True and [c["target_fm"] for c in solver_calls] == [True]
    # the engine judged with the fix: the published alert names Zhejiang as the source, alone
    assert doc["position"]["method"] == "fused" and doc["position_rss"]["method"] == "rss"
    assert doc["provinces_source"] == ["ZJ"] and "ZJ" not in doc["provinces_affected"]
    over = {r["province"] for r in doc["sensors"] if r["measured_dbuv_m"] >= r["border_limit_dbuv_m"]} - {"ZJ"}
    assert set(doc["provinces_affected"]) == over and ("cross_border" in doc["verdicts"]) == bool(over)
    frame = EnuFrame(*truth)
    e = frame.to_enu(np.array(doc["position"]["lat"]), np.array(doc["position"]["lon"]), np.array(0.0))
    assert float(np.hypot(e[0], e[1])) < 500.0
    assert any("TDOA fix that agrees" in f for f in doc["findings"])


class _CheckingEngine(FakeEngine):
    """Scripted: once the four sensors report, the engine asks one identity check (licensed traffic taken for
    its station on the prior); the check's fix opens an alert, as the real engine does when the fix shows the
    emitter is not the station (coordination/engine.py; its own tests hold that judgement)."""

    def __init__(self, check: dict) -> None:
        super().__init__()
        self.check: dict | None = check
        self.asked = 0

    def identity_checks(self) -> list[dict]:
        if self.check is None or len({sid for sid, _, _ in self.observed}) < len(SITES):
            return []
        self.asked += 1
        out, self.check = [self.check], None
        return out

    def add_position_fix(self, alert_id: str, position: Position, t: datetime | None = None) -> list[AlertEvent]:
        self.fixes.append((alert_id, position))
        if not alert_id.startswith("check-"):
            return []
        opened = make_alert("A-CHECKED", sensors=[(s.id, s.province) for s in SITES], f_center_hz=F_TARGET)
        self.alerts[opened.id] = opened.evolve(verdicts=("unlicensed",))
        self.alerts["check-1"] = self.alerts[opened.id]  # the check's id now stands for its alert
        return [AlertEvent("opened", self.alerts[opened.id])]

    def add_evidence(self, alert_id: str, ref: str) -> AlertEvent:
        ev = super().add_evidence(alert_id, ref)
        self.alerts["A-CHECKED"] = self.alerts[alert_id]
        return ev


@pytest.mark.parametrize("on", [True, False])
def test_an_identity_check_the_engine_asks_gets_a_round_whose_fix_opens_the_alert(tmp_path, stations, on) -> None:
    world = RealisticWorld(shadowing_db=6.0, seed=1919)
    emitters = _wideband_at_truth(world)
    levels = make_alert("x", sensors=[(s.id, s.province) for s in SITES], f_center_hz=F_TARGET)
    # the engine's document: the matched station's site (15 km north-east) as the start
    check = {"id": "check-1", "kind": "identity_check", "f_center_hz": F_TARGET, "matched_station": "SH/SH-X-1",
             "probability": 0.74, "sensors": [r.to_json() for r in levels.sensors],
             "position": {"lat": TRUTH[0] + 0.1, "lon": TRUTH[1] + 0.1, "kind": "station"}}
    engine = _CheckingEngine(check)
    cfg = loopback_config(tmp_path, tdoa_identity_checks=on, tdoa_lead_s=1.5, tdoa_target_s=0.2,
                          evidence_capture=False)
    with Server(cfg, engine=engine, stations=stations) as srv, \
            running_daemons(srv, lambda stop: _snapshot_daemons(tmp_path, SITES, srv, emitters, world, stop)), \
            ApiClient(srv.endpoints["api"], timeout_s=10.0) as api:
        doc: dict = {}
        deadline = time.monotonic() + (60 if on else 6)
        while time.monotonic() < deadline:
            try:
                doc = api.result("alert", {"id": "A-CHECKED"})
            except ApiError:
                doc = {}
            if doc.get("tdoa"):
                break
            time.sleep(0.2)
    if not on:  # [tdoa] identity_checks off: nothing asked, nothing ordered
        assert engine.asked == 0 and engine.fixes == [] and doc == {}
        return
    assert engine.asked == 1 and [a for a, _ in engine.fixes] == ["check-1"]
    fix = engine.fixes[0][1]
    frame = EnuFrame(*TRUTH)
    e = frame.to_enu(np.array(fix.lat), np.array(fix.lon), np.array(0.0))
    assert fix.method == "tdoa" and float(np.hypot(e[0], e[1])) < 200.0  # found where the emitter is
    # the alert the fix opened holds the round's file, which names the check it was ordered for
    [round_file] = [x for x in doc["evidence"] if x.endswith(".tdoa.json")]
    assert json.loads(Path(round_file).read_text())["alert_id"] == "check-1" and "error" not in doc["tdoa"]
