"""Coordination requests through a real server: API ops, the coord.<P> topic, the station record."""

from __future__ import annotations

from datetime import date

import pytest
import zmq
from server_testkit import T0, Clock, FakeEngine, loopback_config

from coordination.client import ApiClient, ApiError
from coordination.protocol import CoordMsg, decode
from coordination.server import Server
from station_db.exchange import station_record
from station_db.models import Station
from station_db.repository import StationRepository
from station_db.rules import load_rules

SUZHOU_FM = Station(
    station_id="JS-FM-0901", province="JS", licensee="Suzhou FM (fictional)", service="broadcast", tx_freq_hz=99.3e6,
    rx_freq_hz=None, emission_designator="180KF3E", necessary_bw_hz=180e3, erp_dbw=30.0, antenna_height_m=150.0,
    azimuth_deg=None, pattern="omni", ground_height_m=5.0, lat=31.30, lon=120.60, valid_from=date(2026, 1, 1),
    valid_to=date(2035, 12, 31))


@pytest.fixture
def stations(tmp_path):
    with StationRepository(tmp_path / "stations.db") as repo:
        yield repo


@pytest.fixture
def server(tmp_path, stations):
    srv = Server(loopback_config(tmp_path), clock=Clock(T0), engine=FakeEngine(), stations=stations,
                 rules=load_rules()).start()
    yield srv
    srv.stop()


def recv_coord(sub: zmq.Socket, timeout_ms: int = 5000) -> tuple[str, CoordMsg]:
    assert sub.poll(timeout_ms), "no coordination event published"
    topic, *frames = sub.recv_multipart()
    msg = decode(frames)
    assert isinstance(msg, CoordMsg)
    return topic.decode(), msg


def test_submit_answer_and_the_station_record(server, stations, ctx) -> None:
    sub = ctx.socket(zmq.SUB)
    sub.connect(server.endpoints["pub"])
    sub.setsockopt(zmq.SUBSCRIBE, b"coord.SH")
    with ApiClient(server.endpoints["api"]) as api:
        api.result("ping")  # the subscription settles while the API answers
        req = api.result("coord_submit", {"station": station_record(SUZHOU_FM), "by": "js-planner"})
        assert "SH" in req["waiting_for"] and req["state"] == "open"
        sh = next(b for b in req["borders"] if b["neighbour"] == "SH")
        assert sh["exceeds"] and sh["worst_field_dbuv_m"] > 34.0 and sh["length_over_km"] > 10.0
        topic, msg = recv_coord(sub)
        assert (topic, msg.event, msg.request["id"]) == ("coord.SH", "asked", req["id"])

        assert [r["id"] for r in api.result("coord_requests", {"waiting_for": "SH"})] == [req["id"]]
        for prov in ("SH", "ZJ", "AH"):  # a team sees only requests its province owns or is asked in
            seen = api.result("coord_requests", {"as_provinces": [prov]})
            assert [r["id"] for r in seen] == ([req["id"]] if prov in req["waiting_for"] else []), prov
        with pytest.raises(ApiError, match="cannot answer for SH"):
            api.result("coord_respond", {"id": req["id"], "province": "SH", "decision": "agree", "by": "x",
                                         "as_provinces": ["ZJ"]})
        with pytest.raises(ApiError, match="needs a reason"):
            api.result("coord_respond", {"id": req["id"], "province": "SH", "decision": "object", "by": "sh-officer"})
        out = api.result("coord_respond", {"id": req["id"], "province": "SH", "decision": "agree",
                                           "agreed_field_dbuv_m": 50.0, "by": "sh-officer"})
        assert next(a for a in out["answers"] if a["province"] == "SH")["state"] == "agreed"
        reply = api.call("coord_request", {"id": req["id"], "profiles": True})
        shown = reply.result
        assert [e["action"] for e in shown["audit"]][:2] == ["submitted", "agreed"]
        assert shown["inputs"]["rules_version"] == load_rules().version
        prof = next(p for p in shown["profiles"] if p["neighbour"] == "SH")
        along, field = (reply.arrays[i] for i in prof["arrays"])
        assert len(along) == len(field) > 10 and float(field.max()) == pytest.approx(sh["worst_field_dbuv_m"], abs=0.01)
    rec = stations.coordination_of("JS", "JS-FM-0901")
    assert [(c.neighbour, c.status, c.agreed_field_dbuv_m) for c in rec if c.neighbour == "SH"] == [
        ("SH", "agreed", 50.0)]
    sub.close(0)


def test_bad_submissions_are_refused_with_the_field(server) -> None:
    with ApiClient(server.endpoints["api"]) as api:
        bad = dict(station_record(SUZHOU_FM), erp_dbw="lots")
        with pytest.raises(ApiError, match="erp_dbw: 'lots' is not a number"):
            api.result("coord_submit", {"station": bad, "by": "js"})
        with pytest.raises(ApiError, match="cannot submit a JS station"):
            api.result("coord_submit", {"station": station_record(SUZHOU_FM), "by": "t", "as_provinces": ["SH"]})
        with pytest.raises(ApiError, match="no coordination request 'CR-nope'"):
            api.result("coord_request", {"id": "CR-nope"})
