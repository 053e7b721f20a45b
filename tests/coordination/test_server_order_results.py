"""Sensors say what became of a snapshot order (``order_result``), and a TDOA round stops waiting for
snapshots that will not come: real sensor daemons and a real server on 127.0.0.1."""

from __future__ import annotations

import json
import time
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pytest
import zmq
from server_testkit import T0, FakeEngine, SimSensor, loopback_config, make_alert, running_daemons, site_daemon

from coordination.alerts import AlertEvent
from coordination.client import ApiClient, ApiError
from coordination.protocol import ORDER_FAILURES, OrderResult, ProtocolError, decode, decode_as, format_utc
from coordination.server import Server
from sdr.scenario import SensorSite
from sdr.sources import FileSource
from station_db.models import Station
from station_db.repository import StationRepository

#: a strong broadcaster near the four sites: the round's reference
REF = Station(
    station_id="SH-FM-0007", province="SH", licensee="Qingpu News Radio (fictional)", service="broadcast",
    tx_freq_hz=105.2e6, rx_freq_hz=None, emission_designator="180KF3E", necessary_bw_hz=180e3, erp_dbw=40.0,
    antenna_height_m=200.0, azimuth_deg=None, pattern="omni", ground_height_m=13.0, lat=31.17817, lon=121.15274,
    valid_from=date(2024, 1, 1), valid_to=date(2035, 12, 31))
SITES = (
    SensorSite("JS-KUNSHAN", "JS", 31.385, 120.98, 30.0), SensorSite("SH-QINGPU", "SH", 31.15, 121.12, 30.0),
    SensorSite("ZJ-JIASHAN", "ZJ", 30.83, 120.92, 30.0), SensorSite("JS-WUJIANG-LILI", "JS", 30.99, 120.73, 30.0))
F_TARGET = 446.05e6
#: the two sensors whose receiver is a recording of 446.1 MHz +- 1.2 MHz: they cannot reach 105.2 MHz
RECORDED = {"SH-QINGPU", "ZJ-JIASHAN"}


def _recording(tmp_path: Path) -> Path:
    """0.05 s of seeded receiver noise at 2.4 MS/s (played in a loop)."""
    rng = np.random.default_rng(7)
    iq = (0.01 * (rng.standard_normal(120_000) + 1j * rng.standard_normal(120_000))).astype("<c8")
    path = tmp_path / "noise.cf32"
    iq.tofile(path)
    return path


def test_protocol_order_result_round_trips_and_refuses_what_it_cannot_mean() -> None:
    ok = OrderResult("ZJ-T1", 4, format_utc(T0), command_id="tdoa-A-1-ZJ-T1", ok=True)
    failed = OrderResult("ZJ-T1", 5, format_utc(T0), command_id="tdoa-A-1-ZJ-T1", ok=False, reason="busy",
                         detail="8 snapshot orders pending already")
    assert decode_as(ok.to_frames(), OrderResult) == ok
    assert decode_as(failed.to_frames(), OrderResult) == failed
    head = json.loads(failed.to_frames()[1])
    for bad in ({"ok": "no"}, {"reason": "tired"}, {"ok": True},  # reason must agree with ok
                {"ok": False, "reason": ""}, {"command_id": "../../etc"}, {"detail": "x" * 513}):
        with pytest.raises(ProtocolError):
            decode([b"order_result", json.dumps(head | bad).encode()])
    with pytest.raises(ProtocolError, match="payload"):
        decode([b"order_result", json.dumps(head).encode(), b"extra"])
    assert "no_snapshot_source" in ORDER_FAILURES and "capture_error" in ORDER_FAILURES


def test_a_malformed_order_result_is_dropped_and_counted(tmp_path) -> None:
    with Server(loopback_config(tmp_path), engine=FakeEngine()) as srv:
        ctx = zmq.Context.instance()
        s = SimSensor(ctx, srv.endpoints["sensors"], capabilities=("tdoa_snapshot",))
        try:
            s.hello()
            good = OrderResult("js-01", 1, format_utc(T0), command_id="never-ordered", ok=False, reason="late")
            frames = good.to_frames()
            head = json.loads(frames[1])
            s.send_raw([frames[0], json.dumps(head | {"seq": 2, "ok": "yes"}).encode()])
            s.send_raw([frames[0], json.dumps(head | {"seq": 3, "reason": "x" * 40}).encode()])
            s.send(good)
            assert s.wait_acked([1]) == {1}
            s.pump(200)
            assert 2 not in s.acked and 3 not in s.acked
            counters = srv.counters_snapshot()
        finally:
            s.close()
    assert counters["rejected"] == {"field": 2}
    # the well-formed one answers no order in flight: counted, nothing else
    assert counters["order_results"] == {"unknown": 1}
    assert counters["internal_errors"] == {}


def test_sensors_that_cannot_take_their_snapshot_say_so_and_the_round_ends_at_once(tmp_path) -> None:
    recording = _recording(tmp_path)
    engine = FakeEngine()
    alert = make_alert("A-ORD", sensors=[(s.id, s.province) for s in SITES], f_center_hz=F_TARGET)
    # 5 s lead: the round is ordered for 5 s after the alert opens and would wait 60 s (collect_s) after that
    cfg = loopback_config(tmp_path, tdoa_on_open=True, tdoa_lead_s=5.0, tdoa_target_s=0.2, evidence_capture=False)

    def source(site: SensorSite) -> object | None:
        return FileSource(recording, sample_rate_hz=2.4e6, center_freq_hz=446.1e6, loop=True) \
            if site.id in RECORDED else None

    def opens() -> None:
        engine.queued = [AlertEvent("opened", alert)]

    with StationRepository(tmp_path / "stations.db") as stations:
        stations.import_stations([REF], "SH", "test", "h1")
        with Server(cfg, engine=engine, stations=stations) as srv, \
                running_daemons(srv, lambda stop: [site_daemon(tmp_path, s, srv.endpoints["sensors"], stop,
                                                               source=source(s)) for s in SITES],
                                before_start=opens) as daemons, \
                ApiClient(srv.endpoints["api"], timeout_s=10.0) as api:
            doc: dict = {}
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    doc = api.result("alert", {"id": "A-ORD"})
                except ApiError:  # not opened yet
                    doc = {}
                if any(e.endswith(".tdoa.json") for e in doc.get("evidence", ())):
                    break
                time.sleep(0.05)
            ended_at = datetime.now().astimezone()
            counters = srv.counters_snapshot()
            failures = {d.config.sensor_id: d.stats.snapshot_failures for d in daemons}
    [fix_file] = [e for e in doc.get("evidence", ()) if e.endswith(".tdoa.json")]
    round_doc = json.loads(Path(fix_file).read_text())
    # the two recording sensors answered at once, each with its reason; the two others would have taken theirs
    assert failures == {s.id: (1 if s.id in RECORDED else 0) for s in SITES}
    assert counters["order_results"] == {"failed.no_snapshot_source": 2}
    assert {f["sensor_id"] for f in round_doc["failed"]} == RECORDED
    assert all(f["reason"].startswith("no_snapshot_source: cannot tune recording") for f in round_doc["failed"])
    assert round_doc["error"] == "2 of 4 sensors cannot take their snapshot, 2 left and a fix needs 3"
    assert "position" not in round_doc and doc["position"] is None  # the alert keeps its level fix (none here)
    # it ended before the ordered instant itself, let alone the instant + collect_s (60 s)
    ordered_for = datetime.fromisoformat(round_doc["t_utc"].replace("Z", "+00:00"))
    assert (ended_at - ordered_for).total_seconds() < 0.0
