"""Server API ops over a real API socket: ping, sensors (live/late/down), spectrum, waterfall, alerts..."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
import zmq
from server_testkit import T0, Clock, FakeEngine, SimSensor, loopback_config, make_alert, power_row, wait_for

import station_db
from coordination.alerts import AlertEvent
from coordination.client import ApiClient, ApiError
from coordination.protocol import Request, decode, format_utc
from coordination.server import Server


@pytest.fixture
def clock():
    return Clock(T0)


@pytest.fixture
def engine():
    return FakeEngine()


@pytest.fixture
def server(tmp_path, clock, engine):
    srv = Server(loopback_config(tmp_path), clock=clock, engine=engine).start()
    yield srv
    srv.stop()


@pytest.fixture
def api(server):
    with ApiClient(server.endpoints["api"]) as c:
        yield c


def test_ping_and_profiles(api):
    assert api.result("ping")["pong"] is True
    (p,) = api.result("profiles")
    assert p["name"] == "pmr446" and p["f_start_hz"] == 446.0e6 and p["revisit_s"] == 1.0


def test_sensor_status_follows_last_seen_against_revisit_time(server, api, ctx, clock):
    s = SimSensor(ctx, server.endpoints["sensors"])
    s.hello()
    s.send(s.spectrum(1))
    s.wait_acked({1})

    def status():
        return api.result("sensors")[0]["status"]

    assert status() == "live"
    clock.now = T0 + timedelta(seconds=2.9)   # late_factor 3 x revisit 1 s
    assert status() == "live"
    clock.now = T0 + timedelta(seconds=5)
    assert status() == "late"
    clock.now = T0 + timedelta(seconds=10.5)  # down_factor 10
    assert status() == "down"
    s.send(s.spectrum(2))
    s.wait_acked({2})
    assert status() == "live"
    (row,) = api.result("sensors")
    assert row["sensor_id"] == "js-01" and row["province"] == "JS" and row["last_seen"] == format_utc(clock.now)


def test_sensor_status_is_published_when_it_changes(server, ctx, clock):
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"sensor.")
    sub.connect(server.endpoints["pub"])
    s = SimSensor(ctx, server.endpoints["sensors"])
    s.hello()
    s.send(s.spectrum(1))
    s.wait_acked({1})
    wait_for(lambda: True, 0.2)
    clock.now = T0 + timedelta(seconds=60)  # the tick notices: down
    deadline_codes = []

    def got_down():
        while sub.poll(10):
            frames = sub.recv_multipart()
            deadline_codes.append(decode(frames[1:]).health["status_code"])
        return 2.0 in deadline_codes

    wait_for(got_down)


def test_spectrum_and_waterfall_return_float32_arrays(server, api, ctx):
    s = SimSensor(ctx, server.endpoints["sensors"])
    s.hello()
    for seq in range(1, 11):
        s.send(s.spectrum(seq))
    s.wait_acked(range(1, 11))
    reply = api.call("spectrum", {"sensor_id": "js-01"})
    assert reply.ok and reply.result["profile"] == "pmr446" and reply.result["f_step_hz"] == 3125.0
    np.testing.assert_array_equal(reply.arrays[0], power_row(10))
    reply = api.call("waterfall", {"sensor_id": "js-01", "profile": "pmr446", "n": 4})
    assert reply.ok and reply.result["shape"] == [4, 64]
    np.testing.assert_array_equal(reply.arrays[0].reshape(4, 64), np.stack([power_row(q) for q in range(7, 11)]))
    assert reply.result["t_utc"][-1] == format_utc(T0 + timedelta(seconds=10))
    bad = api.call("waterfall", {"sensor_id": "nobody", "profile": "pmr446", "n": 4})
    assert not bad.ok and "unknown sensor" in bad.error
    bad = api.call("waterfall", {"sensor_id": "js-01", "profile": "pmr446", "n": 10**9})
    assert not bad.ok and "'n'" in bad.error


def test_alerts_ack_and_resolve_through_the_engine(server, api, engine, ctx):
    s = SimSensor(ctx, server.endpoints["sensors"])
    s.hello()
    engine.queued = [AlertEvent("opened", make_alert("A1")), AlertEvent("opened", make_alert("A2", source=("AH",),
                                                                                             affected=("SH",)))]
    s.send(s.emissions(1))
    s.wait_acked({1})
    wait_for(lambda: len(api.result("alerts")) == 2)
    assert [a["id"] for a in api.result("alerts", {"province": "JS"})] == ["A1"]
    assert [a["id"] for a in api.result("alerts", {"province": "SH", "state": "open"})] == ["A2"]
    assert api.result("alert", {"id": "A1"})["verdicts"] == ["unlicensed", "cross_border"]
    acked = api.result("ack", {"id": "A1", "by": "JS team", "note": "on it"})
    assert acked["state"] == "acknowledged" and acked["acknowledged_by"] == "JS team"
    assert api.result("alert", {"id": "A1"})["state"] == "acknowledged"
    assert api.result("resolve", {"id": "A1", "by": "JS team"})["state"] == "resolved"
    assert [a["id"] for a in api.result("alerts", {"state": "resolved"})] == ["A1"]
    with pytest.raises(ApiError, match="no alert"):
        api.result("ack", {"id": "nope", "by": "x"})
    with pytest.raises(ApiError, match="missing argument 'by'"):
        api.result("resolve", {"id": "A2"})
    with pytest.raises(ApiError, match="state"):
        api.result("alerts", {"state": "weird"})


def test_stations_op_queries_the_station_database_imported_from_csv(tmp_path):
    from coordination.stations import open_stations
    from station_db.repository import StationRepository

    sample = Path(station_db.__file__).parent / "data" / "sample_stations.csv"
    repo = open_stations(sample, tmp_path / "data")
    assert (tmp_path / "data" / "stations.db").exists()
    assert isinstance(repo, StationRepository) and repo.count() > 100
    srv = Server(loopback_config(tmp_path), stations=repo, build_engine=False).start()
    try:
        with ApiClient(srv.endpoints["api"]) as api:
            all_js = api.result("stations", {"province": "JS"})
            assert all_js and {s["province"] for s in all_js} == {"JS"}
            f = all_js[0]["tx_freq_hz"]
            near = api.result("stations", {"f_lo_hz": f - 1.0, "f_hi_hz": f + 1.0})
            assert all_js[0]["station_id"] in {s["station_id"] for s in near}
            assert all(s["tx_freq_hz"] - s["necessary_bw_hz"] / 2 <= f + 1 for s in near)
    finally:
        srv.stop()
        repo.close()


def test_req_clients_get_answers_too(server, ctx):
    req = ctx.socket(zmq.REQ)
    req.setsockopt(zmq.LINGER, 0)
    req.connect(server.endpoints["api"])
    req.send_multipart(Request("script", 42, format_utc(T0), op="ping").to_frames())
    assert req.poll(5000)
    reply = decode(req.recv_multipart())
    assert reply.ok and reply.seq == 42
    req.close(0)


def test_large_list_results_are_cut_to_the_header_limit_with_an_offset_hint():
    from coordination.api import MAX_REPLY_HEADER_BYTES, fit_reply
    from coordination.protocol import Reply

    items = [{"station_id": f"S{i:05d}", "licensee": "x" * 200} for i in range(2000)]
    reply = fit_reply(Reply("server", 1, format_utc(T0), ok=True, result=items))
    assert reply.ok and 0 < len(reply.result) < 2000
    assert reply.result == items[:len(reply.result)]
    assert f"truncated: {len(reply.result)} of 2000" in reply.error
    assert len(reply.to_frames()[1]) <= MAX_REPLY_HEADER_BYTES
    decode(reply.to_frames())  # still a valid protocol message
    rows = {"channel_centers_hz": [1.0], "rows": [{"fco": [0.5] * 500} for _ in range(100)]}
    reply = fit_reply(Reply("server", 1, format_utc(T0), ok=True, result=rows))
    assert reply.ok and reply.result["rows"] and len(reply.result["rows"]) < 100 and "latest" in reply.error
    small = Reply("server", 1, format_utc(T0), ok=True, result=[1, 2, 3])
    assert fit_reply(small) is small


def test_paging_through_stations_with_offset(tmp_path):
    from coordination.stations import open_stations

    repo = open_stations(Path(station_db.__file__).parent / "data" / "sample_stations.csv", tmp_path / "data")
    srv = Server(loopback_config(tmp_path), stations=repo, build_engine=False).start()
    try:
        with ApiClient(srv.endpoints["api"]) as api:
            got: list = []
            while True:
                reply = api.call("stations", {"offset": len(got)})
                got += reply.result
                if not reply.error:
                    break
                assert "truncated" in reply.error
            assert len(got) == repo.count() and len({(s["province"], s["station_id"]) for s in got}) == len(got)
    finally:
        srv.stop()
        repo.close()
