"""Alert routing by province on the PUB socket, IQ evidence orders -> SigMF files, alert persistence."""

from __future__ import annotations

import json

import numpy as np
import sigmf
import zmq
from server_testkit import T0, FakeEngine, SimSensor, loopback_config, make_alert, wait_for

from coordination.alerts import AlertEvent
from coordination.client import ApiClient
from coordination.protocol import AlertMsg, Command, Evidence, decode, format_utc
from coordination.server import Server
from coordination.store import DatabaseAlertStore, Store


def subscriber(ctx, addr: str, topic: bytes) -> zmq.Socket:
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    sub.setsockopt(zmq.SUBSCRIBE, topic)
    sub.connect(addr)
    return sub


def drain(sub: zmq.Socket, timeout_ms: int = 300) -> list[tuple[bytes, AlertMsg]]:
    out = []
    while sub.poll(timeout_ms):
        frames = sub.recv_multipart()
        out.append((frames[0], decode(frames[1:])))
        timeout_ms = 50
    return out


def test_alert_topics_reach_only_the_provinces_involved(tmp_path, ctx):
    engine = FakeEngine()
    srv = Server(loopback_config(tmp_path), engine=engine).start()
    try:
        subs = {p: subscriber(ctx, srv.endpoints["pub"], f"alert.{p}".encode()) for p in ("ZJ", "JS", "AH", "SH")}
        s = SimSensor(ctx, srv.endpoints["sensors"])
        s.hello()
        # Slow joiner: make sure every subscription is live before the real alert goes out.
        probe_seq = 100
        while True:
            engine.queued = [AlertEvent("opened", make_alert("probe", source=("ZJ", "JS"), affected=("AH", "SH")))]
            s.send(s.emissions(probe_seq))
            s.wait_acked({probe_seq})
            probe_seq += 1
            got = {p: drain(sub, 100) for p, sub in subs.items()}
            if all(got.values()):
                break
            assert probe_seq < 150, "subscribers never joined"
        engine.queued = [AlertEvent("opened", make_alert("A7", source=("ZJ",), affected=("JS",)))]
        s.send(s.emissions(1))
        s.wait_acked({1})
        got = {p: drain(sub) for p, sub in subs.items()}
        assert [(t, m.alert["id"]) for t, m in got["ZJ"]] == [(b"alert.ZJ", "A7")]
        assert [(t, m.alert["id"]) for t, m in got["JS"]] == [(b"alert.JS", "A7")]
        assert got["AH"] == [] and got["SH"] == []
        msg = got["JS"][0][1]
        for key in ("id", "event", "state", "verdicts", "severity", "band", "f_center_hz", "bandwidth_hz",
                    "provinces_source", "provinces_affected", "sensors", "position", "candidate_stations",
                    "first_seen", "last_seen"):
            assert key in msg.alert, key
        assert msg.alert["event"] == "opened" and msg.alert["provinces_source"] == ["ZJ"]
        # the engine saw the stored emissions message with the sensor's registered siting
        sid, t, _n = engine.observed[-1]
        assert sid == "js-01" and t.tzinfo is not None
        # the alert is persisted: the API serves it
        with ApiClient(srv.endpoints["api"]) as api:
            assert api.result("alert", {"id": "A7"})["provinces_affected"] == ["JS"]
    finally:
        srv.stop()


def test_opened_alert_orders_iq_and_assembles_sigmf_beside_the_alert(tmp_path, ctx):
    engine = FakeEngine()
    srv = Server(loopback_config(tmp_path), engine=engine).start()
    try:
        s = SimSensor(ctx, srv.endpoints["sensors"], capabilities=("spectrum", "evidence:sigmf:cf32_le"))
        s.hello()
        other = SimSensor(ctx, srv.endpoints["sensors"], sensor_id="zj-01", province="ZJ", lat=30.9, lon=120.4)
        other.hello()  # no capture capability: no order
        engine.queued = [AlertEvent("opened", make_alert("A9", sensors=(("js-01", "JS"), ("zj-01", "ZJ"))))]
        s.send(s.emissions(1))
        cmd = s.wait_message(Command)
        assert cmd.action == "capture_iq" and cmd.params["center_hz"] == 446.05e6
        assert cmd.params["duration_s"] == srv.config.evidence_duration_s and cmd.params["alert_id"] == "A9"
        assert cmd.params["emission"]["f_lo_hz"] == 446.05e6 - 4000.0
        other.pump(200)
        assert not any(isinstance(m, Command) for m in other.inbox)
        # the sensor answers with three chunks of cf32 IQ, sent out of order and one twice
        iq = (np.arange(3000, dtype=np.float32) / 3000).astype(np.float32)
        blob = iq.tobytes()
        parts = [blob[:4000], blob[4000:8000], blob[8000:]]
        meta = {"global": {"core:datatype": "cf32_le", "core:sample_rate": 2.4e6, "core:version": "1.2.0"},
                "captures": [{"core:sample_start": 0, "core:frequency": 446.05e6,
                              "core:datetime": format_utc(T0)}], "annotations": []}
        order = [2, 0, 0, 1]
        for k, i in enumerate(order):
            s.send(Evidence("js-01", 10 + k, format_utc(T0), capture_id=cmd.command_id, chunk_index=i,
                            chunk_count=3, meta=meta if i == 0 else {}, data=parts[i]))
        assert s.wait_acked(range(10, 14)) == set(range(10, 14))
        base = tmp_path / "data" / "evidence" / "A9" / cmd.command_id
        meta_path = base.with_name(base.name + ".sigmf-meta")
        wait_for(meta_path.exists)
        assert base.with_name(base.name + ".sigmf-data").read_bytes() == blob
        rec = sigmf.sigmffile.fromfile(str(meta_path))
        np.testing.assert_array_equal(rec.read_samples().view(np.float32), iq)
        doc = json.loads(meta_path.read_text())
        assert "alert_id=A9" in doc["global"]["core:description"]
        with ApiClient(srv.endpoints["api"]) as api:
            alert = wait_for(lambda: str(meta_path) in api.result("alert", {"id": "A9"})["evidence"] and
                             api.result("alert", {"id": "A9"}))
            assert alert["evidence_captures"][0]["status"] == "complete"
        assert engine.alerts["A9"].evidence == (str(meta_path),)
    finally:
        srv.stop()


def test_sqlite_alert_store_round_trips_and_lists_by_state_and_province(tmp_path):
    from coordination.alerts import Alert

    store = Store(tmp_path / "s.db")
    alerts = DatabaseAlertStore(store.alerts, Alert.from_json)
    a1 = make_alert("A1", source=("ZJ",), affected=("JS",))
    a2 = make_alert("A2", source=("AH",), affected=("SH",)).evolve(state="resolved", event="resolved")
    a3 = make_alert("A3", source=("SH",), affected=("JS",)).evolve(state="acknowledged", event="acknowledged")
    for a in (a1, a2, a3):
        alerts.save(a)
    store.commit()
    store.close()
    alerts = DatabaseAlertStore(Store(tmp_path / "s.db").alerts, Alert.from_json)
    assert sorted(a.id for a in alerts.load_active()) == ["A1", "A3"]
    assert alerts.get("A1").to_json() == a1.to_json()
    assert alerts.get("nope") is None
    assert sorted(a.id for a in alerts.list(province="JS")) == ["A1", "A3"]
    assert [a.id for a in alerts.list(state="resolved")] == ["A2"]
    assert len(alerts.list(state="all")) == 3


def test_restart_gives_the_real_engine_its_open_alerts_back(tmp_path):
    from coordination.alerts import Alert

    cfg = loopback_config(tmp_path)
    store = Store(cfg.data_dir / "server.db")
    DatabaseAlertStore(store.alerts, Alert.from_json).save(make_alert("A1"))
    store.commit()
    store.close()
    srv = Server(cfg, clock=lambda: T0).start()  # a fixed clock: no auto-resolve while we look
    try:
        assert type(srv.engine).__name__ == "RulesEngine"
        assert [a.id for a in srv.engine.open_alerts()] == ["A1"]
    finally:
        srv.stop()


def test_unsolicited_evidence_is_kept_per_sensor(tmp_path, ctx):
    srv = Server(loopback_config(tmp_path), build_engine=False).start()
    try:
        s = SimSensor(ctx, srv.endpoints["sensors"])
        s.hello()
        s.send(Evidence("js-01", 1, format_utc(T0), capture_id="manual-1", chunk_index=0, chunk_count=1,
                        meta={"datatype": "ci8", "sample_rate_hz": 1e6, "center_hz": 446.1e6}, data=b"\x01\x02" * 8))
        assert s.wait_acked({1}) == {1}
        meta = tmp_path / "data" / "evidence" / "unsolicited" / "js-01" / "manual-1.sigmf-meta"
        doc = json.loads(meta.read_text())
        assert doc["global"]["core:datatype"] == "ci8" and doc["global"]["core:sample_rate"] == 1e6
        assert doc["captures"][0]["core:frequency"] == 446.1e6
        rec = sigmf.sigmffile.fromfile(str(meta))
        assert rec.read_samples().size == 8
    finally:
        srv.stop()
