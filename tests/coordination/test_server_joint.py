"""Joint enforcement in the server: a campaign switches a connected sensor's profiles and back, and a
neighbour's tasking request is granted within the owner's quota (an IQ capture order reaches the
sensor), queued over it for the owner's operator, and audited in the store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from server_testkit import TEST_PROFILE, FakeEngine, SimSensor, loopback_config, wait_for

from coordination.client import ApiClient, ApiError
from coordination.config import ConfigError, parse_config
from coordination.protocol import Command, ProfileMsg, format_utc
from coordination.server import Server

CAMPAIGN_PROFILE = {"name": "gsm_r_uplink", "f_start_hz": 876.0e6, "f_stop_hz": 880.0e6, "bin_hz": 12_500.0,
                    "detector": "peak", "revisit_s": 0.5}


def test_campaign_switches_a_sensor_to_its_profiles_and_back(tmp_path, ctx) -> None:
    srv = Server(loopback_config(tmp_path), engine=FakeEngine()).start()
    try:
        s = SimSensor(ctx, srv.endpoints["sensors"], "js-01", "JS")
        assert [p.name for p in s.hello().profiles] == [TEST_PROFILE.name]
        now = datetime.now(UTC)
        with ApiClient(srv.endpoints["api"]) as api:
            c = api.result("campaign_add", {
                "id": "rail-1", "lead": "JS", "provinces": ["JS", "SH"], "sensors": ["js-01"],
                "profiles": [CAMPAIGN_PROFILE], "start": format_utc(now + timedelta(seconds=0.4)),
                "end": format_utc(now + timedelta(seconds=1.6)), "title": "GSM-R along the Shanghai-Nanjing line"})
            assert c["state"] == "planned"
            with pytest.raises(ApiError, match="is not one the server serves"):
                api.result("campaign_add", {"id": "x", "lead": "JS", "provinces": ["JS"], "sensors": ["js-01"],
                                            "profiles": ["no_such"], "start": c["start"], "end": c["end"]})
            start = s.wait_message(ProfileMsg, 5.0)
            assert [p.name for p in start.profiles] == ["gsm_r_uplink"] and start.profiles[0].detector == "peak"
            back = s.wait_message(ProfileMsg, 5.0)
            assert [p.name for p in back.profiles] == [TEST_PROFILE.name]
            done = wait_for(lambda: [x for x in api.result("campaigns") if x["state"] == "finished"])
            assert done[0]["id"] == "rail-1"
    finally:
        srv.stop()


def test_tasking_within_quota_orders_a_capture_and_over_quota_waits_for_the_owner(tmp_path, ctx) -> None:
    cfg = loopback_config(tmp_path, tasking={"JS": {"mode": "auto", "daily_quota": 1}})
    srv = Server(cfg, engine=FakeEngine()).start()
    try:
        s = SimSensor(ctx, srv.endpoints["sensors"], "js-01", "JS")
        s.hello()
        ask = {"by": "sh-op", "as_provinces": ["SH"], "sensor_id": "js-01", "kind": "iq_snapshot",
               "params": {"center_hz": 446.05e6, "duration_s": 0.2}, "reason": "fix the PMR446 jammer"}
        with ApiClient(srv.endpoints["api"]) as api:
            r1 = api.result("tasking_request", ask)
            assert (r1["state"], r1["result"], r1["decided_by"]) == ("done", f"tasking-{r1['id']}", "policy")
            cmd = s.wait_message(Command, 5.0)
            assert (cmd.action, cmd.command_id, cmd.params["center_hz"]) == ("capture_iq", r1["result"], 446.05e6)
            r2 = api.result("tasking_request", ask)
            assert (r2["state"], r2["decision_reason"]) == ("pending", "over SH's daily quota of 1 on JS's sensors")
            with pytest.raises(ApiError, match="only JS"):
                api.result("tasking_decide", {"id": r2["id"], "grant": True, "by": "sh-op", "as_provinces": ["SH"]})
            r2 = api.result("tasking_decide", {"id": r2["id"], "grant": True, "by": "js-op", "as_provinces": ["JS"]})
            assert (r2["state"], r2["decided_by"]) == ("done", "js-op")
            assert s.wait_message(Command, 5.0).command_id == f"tasking-{r2['id']}"
            seen = api.result("tasking_requests", {"as_provinces": ["SH"]})
            assert [r["state"] for r in seen] == ["done", "done"]
        assert srv.tasking is not None
        whats = [row[2] for row in srv.tasking.audit.tasking_audit(r2["id"])]  # type: ignore[attr-defined]
        assert whats == ["requested", "queued", "granted", "done"]
    finally:
        srv.stop()


def test_tasking_policy_in_the_server_config_is_checked(tmp_path) -> None:
    f = tmp_path / "server.toml"
    cfg = parse_config({"tasking": {"JS": {"mode": "operator", "daily_quota": 0}}}, f)
    assert cfg.tasking == {"JS": {"mode": "operator", "daily_quota": 0}}
    with pytest.raises(ConfigError, match=r"tasking.ZJ = .*mode 'sometimes'"):
        parse_config({"tasking": {"ZJ": {"mode": "sometimes"}}}, f)
    with pytest.raises(ConfigError, match="mode and daily_quota only"):
        parse_config({"tasking": {"ZJ": {"quota": 3}}}, f)


def test_tasking_requests_quota_and_campaign_plans_survive_a_restart(tmp_path, ctx) -> None:
    cfg = loopback_config(tmp_path, tasking={"JS": {"mode": "auto", "daily_quota": 1}})
    ask = {"by": "sh-op", "as_provinces": ["SH"], "sensor_id": "js-01", "kind": "measurement", "params": {},
           "reason": "occupancy at the border"}
    now = datetime.now(UTC)
    srv = Server(cfg, engine=FakeEngine()).start()
    try:
        s = SimSensor(ctx, srv.endpoints["sensors"], "js-01", "JS")
        s.hello()
        with ApiClient(srv.endpoints["api"]) as api:
            assert api.result("tasking_request", ask)["state"] == "done"
            pending = api.result("tasking_request", ask)
            assert pending["state"] == "pending"
            api.result("campaign_add", {"id": "night-1", "lead": "JS", "provinces": ["JS"], "sensors": ["js-01"],
                                        "profiles": [CAMPAIGN_PROFILE], "start": format_utc(now + timedelta(days=1)),
                                        "end": format_utc(now + timedelta(days=1, hours=2))})
        s.close()
    finally:
        srv.stop()
    srv = Server(cfg, engine=FakeEngine()).start()
    try:
        s = SimSensor(ctx, srv.endpoints["sensors"], "js-01", "JS")
        s.hello()
        with ApiClient(srv.endpoints["api"]) as api:
            assert api.result("tasking_request", ask)["state"] == "pending"  # today's quota is still used up
            got = api.result("tasking_decide", {"id": pending["id"], "grant": True, "by": "js-op",
                                                "as_provinces": ["JS"]})
            assert got["state"] == "done"
            assert [(c["id"], c["state"]) for c in api.result("campaigns")] == [("night-1", "planned")]
            ids = [r["id"] for r in api.result("tasking_requests")]
            assert len(ids) == len(set(ids)) == 3
        s.close()
    finally:
        srv.stop()
