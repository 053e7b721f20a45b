"""CurveZMQ + ZAP on the real server over loopback: who gets in, who gets nothing, what is counted."""

from __future__ import annotations

import stat

import pytest
from security_testkit import (
    CurveSensor,
    counters,
    drain_alerts,
    foreign_keys,
    publish_alerts,
    subscriber,
    wait_counter,
)
from server_testkit import wait_for

from coordination.client import ApiClient
from coordination.keys import KeyStore
from coordination.security import CurvePolicy, SecurityError, topic_allowed

SILENCE_S = 1.0  # how long "nothing out" is watched for


def test_allowed_sensor_console_and_team_get_in(secure):
    keys, srv, _engine, ctx = secure
    s = CurveSensor(ctx, srv.endpoints["sensors"], keys.client("js-01"))
    assert s.hello().profiles
    s.send(s.spectrum(1))
    assert s.wait_acked([1]) == {1}
    with ApiClient(srv.endpoints["api"], keys=keys.client("ops"), timeout_s=5) as api:
        assert api.result("ping")["pong"] is True
        c = api.result("counters")
    assert c["stored"]["spectrum"] == 1 and c["auth"]["accepted"]["sensors"] >= 1
    assert "auth.unknown_key" not in c["rejected"]


@pytest.mark.parametrize("who", ["no_key", "unknown_key", "revoked_key"])
def test_refused_client_gets_nothing_in_nothing_out_and_is_counted(secure, tmp_path, who):
    keys, srv, engine, ctx = secure
    server_pub = keys.server().public_key.encode()
    if who == "no_key":
        bad = None
    elif who == "unknown_key":
        bad = foreign_keys(tmp_path / "other", "intruder", server_pub)
    else:
        keys.new("old-sensor", "sensor")
        bad = keys.client("old-sensor")
        keys.revoke("old-sensor")
        wait_for(lambda: bad.pair.public_key.decode() in srv.policy.allow.revoked)
    good = CurveSensor(ctx, srv.endpoints["sensors"], keys.client("js-01"))
    good.hello()
    # sensors socket: Hello and a spectrum, as the intruder's own sensor id, then with a real sensor's id
    intruder = CurveSensor(ctx, srv.endpoints["sensors"], bad, sensor_id="old-sensor")
    intruder.send(intruder.spectrum(1))
    intruder.send(intruder.emissions(2))
    spoof = CurveSensor(ctx, srv.endpoints["sensors"], bad, sensor_id="js-01", identity=b"js-01x")
    spoof.send(spoof.spectrum(99))
    # api socket: a ping; pub socket: a subscriber to everything while alerts are published
    api = ApiClient(srv.endpoints["api"], keys=bad, timeout_s=SILENCE_S)
    sub = subscriber(ctx, srv.endpoints["pub"], bad, [b""])
    ok_sub = subscriber(ctx, srv.endpoints["pub"], keys.client("ops"), [b"alert."])
    # before publishing: ok_sub's subscription is in force, and the refused subscriber has tried its handshake
    wait_for(lambda: counters(srv)["auth"]["subscribed"].get("alert", 0) >= 1)
    wait_for(lambda: any(k.startswith("pub.") and k != "pub.succeeded" for k in counters(srv)["auth"]["handshakes"]))
    publish_alerts(engine, good, 10, [("A-JS", "JS"), ("A-ZJ", "ZJ")])
    with pytest.raises(TimeoutError):
        api.call("ping")
    api.close()
    assert not intruder.received_anything(SILENCE_S) and not spoof.received_anything(0.1)
    assert drain_alerts(sub, 0.5) == []
    assert sorted(a for _, a in drain_alerts(ok_sub, 0.5)) == ["A-JS", "A-ZJ"]  # the allowed one did get them
    c = counters(srv)
    assert "old-sensor" not in srv.sensors and c["stored"] == {"emissions": 1}  # only the good sensor's
    reason = {"no_key": "no_curve", "unknown_key": "unknown_key", "revoked_key": "revoked_key"}[who]
    # two connections on the sensors socket, one on the api socket, one on the pub socket. A plain
    # client is seen as a mechanism mismatch, or (when it hangs up first) as an incomplete handshake.
    if who == "no_key":
        wait_for(lambda: sum(counters(srv)["auth"]["rejected"].get(r, 0)
                             for r in ("no_curve", "handshake_incomplete")) >= 4)
    else:
        assert wait_counter(srv, reason, 4) >= 4
    for s in (intruder, spoof, good):
        s.close()
    sub.close(0)
    ok_sub.close(0)


def test_revoked_sensor_is_cut_off_live(secure):
    keys, srv, _engine, ctx = secure
    a = CurveSensor(ctx, srv.endpoints["sensors"], keys.client("js-01"))
    b = CurveSensor(ctx, srv.endpoints["sensors"], keys.client("zj-01"), sensor_id="zj-01", province="ZJ")
    a.hello()
    b.hello()
    a.send(a.spectrum(1))
    assert a.wait_acked([1]) == {1}
    keys.revoke("js-01")
    wait_for(lambda: "js-01" not in {i.name for i in srv.policy.allow.allowed.values()})
    for seq in (2, 3, 4):
        a.send(a.spectrum(seq))
        b.send(b.spectrum(seq))
    assert b.wait_acked([2, 3, 4]) == {2, 3, 4}  # the other sensor carries on
    a.acked.clear()
    assert not a.received_anything(SILENCE_S)  # no ack: the revoked sensor's data was not taken
    c = counters(srv)
    assert c["stored"]["spectrum"] == 1 + 3
    assert c["rejected"]["auth.revoked_live"] == 3
    assert c["auth"]["rejected_by_peer"][next(k for k in c["auth"]["rejected_by_peer"] if k.startswith("js-01/"))] \
        == {"revoked_live": 3}


def test_revoked_console_gets_no_more_answers_nor_alerts(secure):
    keys, srv, engine, ctx = secure
    s = CurveSensor(ctx, srv.endpoints["sensors"], keys.client("js-01"))
    s.hello()
    keys.new("laptop", "console")
    wait_for(lambda: any(i.name == "laptop" for i in srv.policy.allow.allowed.values()))  # added live too
    laptop, ops = keys.client("laptop"), keys.client("ops")
    api = ApiClient(srv.endpoints["api"], keys=laptop, timeout_s=5)
    assert api.result("ping")["pong"] is True
    sub_laptop = subscriber(ctx, srv.endpoints["pub"], laptop, [b"alert."])
    sub_ops = subscriber(ctx, srv.endpoints["pub"], ops, [b"alert."])
    wait_for(lambda: counters(srv)["auth"]["subscribed"].get("alert", 0) >= 2)  # both subscriptions in force
    publish_alerts(engine, s, 1, [("A1", "JS")])
    assert drain_alerts(sub_laptop, 0.5) == [("alert.JS", "A1")]
    assert drain_alerts(sub_ops, 0.2) == [("alert.JS", "A1")]
    keys.revoke("laptop")
    wait_for(lambda: srv.policy.pub_generation >= 1)
    with pytest.raises(TimeoutError):
        api.call("ping", timeout_s=SILENCE_S)
    api.close()
    # the pub socket was re-created: ops reconnects through ZAP and re-subscribes, the laptop is refused
    wait_counter(srv, "revoked_key", 1)
    laptop_got: list = []
    ops_got: list = []
    for i in range(20):  # legit subscribers are back within about a second
        publish_alerts(engine, s, 2 + i, [(f"A{2 + i}", "JS")])
        ops_got += drain_alerts(sub_ops, 0.3)
        laptop_got += drain_alerts(sub_laptop, 0.01)
        if ops_got:
            break
    publish_alerts(engine, s, 100, [("A-last", "JS")])
    assert drain_alerts(sub_ops, 0.5) == [("alert.JS", "A-last")]
    laptop_got += drain_alerts(sub_laptop, 0.3)
    assert ops_got and laptop_got == []
    assert counters(srv)["rejected"]["auth.revoked_live"] >= 1  # the ping after revocation
    sub_laptop.close(0)
    sub_ops.close(0)
    s.close()


def test_province_limited_team_gets_only_its_alert_topics(secure):
    keys, srv, engine, ctx = secure
    s = CurveSensor(ctx, srv.endpoints["sensors"], keys.client("js-01"))
    s.hello()
    greedy = [b"", b"alert.", b"alert.ZJ", b"alert.JS", b"spectrum.", b"sensor."]
    sub_js = subscriber(ctx, srv.endpoints["pub"], keys.client("team-js"), greedy)
    sub_zj = subscriber(ctx, srv.endpoints["pub"], keys.client("team-zj"), greedy)
    sub_all = subscriber(ctx, srv.endpoints["pub"], keys.client("team-all"), greedy)
    wait_for(lambda: counters(srv)["rejected"].get("auth.topic_denied", 0) >= 5 + 5 + 3)
    # each one's last topic was refused, so all are handled: alert.JS, alert.ZJ, and team-all's three alert topics
    assert counters(srv)["auth"]["subscribed"] == {"alert": 1 + 1 + 3}
    publish_alerts(engine, s, 1, [("A-JS", "JS"), ("A-ZJ", "ZJ"), ("A-AH", "AH")])
    s.send(s.spectrum(2))  # live spectrum and sensor status go out too: no team key may see them
    assert s.wait_acked([2]) == {2}
    assert drain_alerts(sub_js, 0.6) == [("alert.JS", "A-JS")]
    assert drain_alerts(sub_zj, 0.1) == [("alert.ZJ", "A-ZJ")]
    assert sorted(drain_alerts(sub_all, 0.1)) == [("alert.AH", "A-AH"), ("alert.JS", "A-JS"), ("alert.ZJ", "A-ZJ")]
    for sub in (sub_js, sub_zj, sub_all):
        assert not sub.poll(100)  # no spectra, no sensor status
        sub.close(0)
    s.close()


def test_sensor_key_cannot_speak_for_another_sensor_nor_use_the_api(secure):
    keys, srv, _engine, ctx = secure
    thief = CurveSensor(ctx, srv.endpoints["sensors"], keys.client("js-01"), sensor_id="zj-01", province="ZJ")
    thief.send(thief.spectrum(1))
    assert not thief.received_anything(SILENCE_S)
    with ApiClient(srv.endpoints["api"], keys=keys.client("js-01"), timeout_s=SILENCE_S) as api, \
            pytest.raises(TimeoutError):
        api.call("ping")
    console_as_sensor = CurveSensor(ctx, srv.endpoints["sensors"], keys.client("ops"), sensor_id="ops")
    console_as_sensor.send(console_as_sensor.spectrum(1))
    assert not console_as_sensor.received_anything(0.5)
    c = counters(srv)
    assert c["rejected"]["auth.identity_key_mismatch"] == 1
    assert c["rejected"]["auth.role_not_allowed"] == 2
    thief.close()
    console_as_sensor.close()


def test_topic_rules():
    from coordination.keys import KeyInfo

    js = KeyInfo("t", "team", "x" * 40, ("JS", "SH"))
    assert topic_allowed(js, b"alert.JS") and topic_allowed(js, b"alert.SH")
    assert not any(topic_allowed(js, t) for t in (b"", b"alert.", b"alert.J", b"alert.JSX", b"alert.ZJ", b"sensor."))
    anyteam = KeyInfo("t", "team", "x" * 40)
    assert topic_allowed(anyteam, b"alert.") and not topic_allowed(anyteam, b"spectrum.")
    assert topic_allowed(KeyInfo("c", "console", "x" * 40), b"")
    assert not topic_allowed(KeyInfo("s", "sensor", "x" * 40), b"alert.JS")


def test_policy_without_server_key_is_a_clear_error(tmp_path):
    KeyStore(tmp_path).new("ops", "console")
    with pytest.raises(SecurityError, match=r"no server key .*borderwatch keys new server --role server"):
        CurvePolicy(tmp_path)


def test_secret_keys_are_0600_and_never_printed(tmp_path, capsys):
    from borderwatch.cli import main

    d = tmp_path / "k"
    assert main(["keys", "new", "server", "--role", "server", "--dir", str(d)]) == 0
    assert main(["keys", "new", "ZJ-01", "--role", "sensor", "--dir", str(d)]) == 0
    assert main(["keys", "new", "js", "--role", "team", "--province", "js", "--dir", str(d)]) == 0
    assert main(["keys", "list", "--dir", str(d)]) == 0
    out = capsys.readouterr().out
    ks = KeyStore(d)
    for name in ("server", "ZJ-01", "js"):
        p = ks.secret_path(name)
        assert stat.S_IMODE(p.stat().st_mode) == 0o600
        assert ks.client(name).pair.secret_key.decode() not in out if name != "server" else True
        assert ks.server_pair().secret_key.decode() not in out
    assert stat.S_IMODE(ks.private_dir.stat().st_mode) == 0o700
    assert [(e.name, e.role, e.status, e.provinces) for e in ks.entries()] == [
        ("server", "server", "server", ()), ("ZJ-01", "sensor", "allowed", ()), ("js", "team", "allowed", ("JS",))]
    assert main(["keys", "revoke", "ZJ-01", "--dir", str(d)]) == 0
    assert main(["keys", "revoke", "ZJ-01", "--dir", str(d)]) == 2
    assert capsys.readouterr().err.strip().endswith("key 'ZJ-01' is revoked already")
    assert [e.status for e in ks.entries() if e.name == "ZJ-01"] == ["revoked"]
    assert main(["keys", "new", "bad/name", "--dir", str(d)]) == 2
    assert main(["keys", "new", "x", "--role", "console", "--province", "JS", "--dir", str(d)]) == 2


def test_server_command_without_keys_refuses_to_start_in_one_line(tmp_path, capsys):
    from borderwatch.cli import main

    assert main(["server", "--data", str(tmp_path / "d"), "--sensors-addr", "tcp://127.0.0.1:*",
                 "--api-addr", "tcp://127.0.0.1:*", "--pub-addr", "tcp://127.0.0.1:*"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--keys DIR" in err[0] and "--insecure" in err[0]


def test_alerts_tail_with_an_exported_team_bundle_gets_its_province_only(secure, tmp_path):
    import io
    import threading
    import time

    from borderwatch.cmd_alerts import tail
    from coordination.keys import load_client_keys

    keys, srv, engine, ctx = secure
    bundle = keys.export("team-js", tmp_path / "bundle")
    assert stat.S_IMODE((bundle / "private" / "team-js.key_secret").stat().st_mode) == 0o600
    out = io.StringIO()
    th = threading.Thread(target=tail, args=(srv.endpoints["pub"], ["JS", "ZJ"]),
                          kwargs={"timeout_s": 4.0, "out": out, "as_json": True, "keys": load_client_keys(bundle)})
    th.start()
    wait_counter(srv, "topic_denied", 1)  # alert.ZJ refused for the JS team
    time.sleep(0.2)
    s = CurveSensor(ctx, srv.endpoints["sensors"], keys.client("js-01"))
    s.hello()
    publish_alerts(engine, s, 1, [("A-JS", "JS"), ("A-ZJ", "ZJ")])
    th.join(10)
    import json

    assert [json.loads(line)["id"] for line in out.getvalue().splitlines()] == ["A-JS"]
    s.close()


def test_demo_keys_are_made_once_and_reused(tmp_path):
    from coordination.keys import ensure_demo_keys

    a = ensure_demo_keys(tmp_path, ["JS-01", "ZJ-01"])
    b = ensure_demo_keys(tmp_path, ["JS-01", "ZJ-01", "AH-01"])
    assert a.server_public_key == b.server_public_key and a.console.pair == b.console.pair
    assert set(b.sensor_secret_files) == {"JS-01", "ZJ-01", "AH-01"}
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in b.sensor_secret_files.values())
    assert b.sensor_server_section("JS-01")["server_public_key"] == b.server_public_key
    policy = CurvePolicy(b.root)
    assert {i.name for i in policy.allow.allowed.values()} == {"JS-01", "ZJ-01", "AH-01", "demo-console"}


def test_province_limited_team_key_gets_only_its_provinces_from_the_api(secure):
    keys, srv, engine, ctx = secure
    s = CurveSensor(ctx, srv.endpoints["sensors"], keys.client("js-01"))
    s.hello()
    publish_alerts(engine, s, 1, [("A-JS", "JS"), ("A-ZJ", "ZJ")])
    wait_for(lambda: srv.alert_store.get("A-ZJ") is not None)
    with ApiClient(srv.endpoints["api"], keys=keys.client("team-js"), timeout_s=SILENCE_S) as api:
        assert api.result("ping")["pong"] is True
        assert [a["id"] for a in api.result("alerts", {"province": "JS"})] == ["A-JS"]
        assert api.result("alert", {"id": "A-JS"})["id"] == "A-JS"
        for op, args in (("alerts", {}), ("alerts", {"province": "ZJ"}), ("alert", {"id": "A-ZJ"}),
                         ("ack", {"id": "A-ZJ", "by": "js"}), ("sensors", {}), ("counters", {}),
                         ("spectrum", {"sensor_id": "js-01"})):
            with pytest.raises(TimeoutError):
                api.call(op, args)
    with ApiClient(srv.endpoints["api"], keys=keys.client("ops"), timeout_s=5) as api:  # a console sees all
        assert sorted(a["id"] for a in api.result("alerts")) == ["A-JS", "A-ZJ"]
        assert counters(srv)["rejected"]["auth.api_scope"] == 7
    s.close()


def test_province_limited_team_key_reaches_only_cases_of_its_provinces(secure):
    from coordination.api import ApiError
    from coordination.cases import case_id_for

    keys, srv, engine, ctx = secure
    s = CurveSensor(ctx, srv.endpoints["sensors"], keys.client("js-01"))
    s.hello()
    publish_alerts(engine, s, 1, [("A-JS", "JS"), ("A-ZJ", "ZJ")])  # major: the server opens both cases
    wait_for(lambda: srv.cases is not None and len(srv.cases.all()) == 2)
    js = {"by": "team-js", "as_provinces": ["JS"]}
    with ApiClient(srv.endpoints["api"], keys=keys.client("team-js"), timeout_s=SILENCE_S) as api:
        assert [c["alert_id"] for c in api.result("cases", {"state": "open"} | js)] == ["A-JS"]
        c = api.result("case_act", {"id": case_id_for("A-JS"), "action": "note", "text": "on our way"} | js)
        assert c["notes"][0]["province"] == "JS"
        with pytest.raises(ApiError, match="no case"):
            api.result("case", {"id": case_id_for("A-ZJ")} | js)
        for op, args in (("cases", {"state": "open"}), ("cases", {"by": "t", "as_provinces": ["ZJ"]}),
                         ("case", {"id": case_id_for("A-ZJ"), "as_provinces": ["JS", "ZJ"]}),
                         ("case_act", {"id": case_id_for("A-ZJ"), "action": "close", "outcome": "stopped",
                                       "by": "t"})):
            with pytest.raises(TimeoutError):  # refused by the key policy: no answer at all
                api.call(op, args)
    assert counters(srv)["rejected"]["auth.api_scope"] == 4
    s.close()
