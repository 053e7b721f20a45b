"""Federated centres on a real PostgreSQL: one alert per cross-border emitter, same verdicts as one
server, a centre killed mid-incident loses and doubles nothing, a revoked centre key is cut off."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest
import zmq
from engine_testkit import emission
from federation_testkit import (
    EMITTER,
    SENSORS,
    Sensor,
    alert_key,
    centre_server,
    link,
    load_stations,
    play,
    single_server,
    start_centres,
)
from server_testkit import connected_sub, wait_for

from coordination.client import ApiClient
from coordination.federation import FED_TAG, centre_key_name, federate_keys, owner_of, shared_stations_target
from coordination.keys import ClientKeys, KeyStore, load_pair, read_cert
from coordination.protocol import Emissions, format_utc
from coordination.security import make_policy
from coordination.store import Store

pytestmark = pytest.mark.slow


def standing(api: ApiClient) -> list[dict]:
    return api.result("alerts", {"state": "all"})


def test_owner_rule_is_deterministic():
    assert owner_of(["JS", "ZJ"], ["ZJ"]) == "ZJ"
    assert owner_of(["JS", "ZJ"], ["AH"]) == "JS"  # source outside the zone: lowest code
    assert owner_of(["JS", "ZJ"], ["JS", "ZJ"]) == "JS"
    # station data beside the shared store: same PostgreSQL (own schema), or a sibling SQLite file
    assert shared_stations_target("postgresql://u@h/db") == "postgresql://u@h/db"
    assert shared_stations_target("/d/shared.db") == "/d/shared-stations.db"


@pytest.fixture(params=["postgresql", "sqlite"])
def shared(request, tmp_path):
    """The centres' shared store: a real PostgreSQL, or one SQLite file (one machine, demo fallback)."""
    if request.param == "sqlite":
        return str(tmp_path / "shared.db")
    return request.getfixturevalue("pg_url")


def test_federated_centres_raise_the_same_alert_as_one_server_and_only_once(tmp_path, shared, ctx):
    pg_url = shared
    load_stations(pg_url)
    # 1. one server with every sensor (the reference)
    with single_server(tmp_path, pg_url) as one:
        sensors = [Sensor(ctx, one.endpoints["sensors"], s) for s in SENSORS]
        for s in sensors:
            s.hello()
        play(sensors, EMITTER, sweeps=6)
        with ApiClient(one.endpoints["api"]) as api:
            ref = wait_for(lambda: standing(api), 10.0)
        for s in sensors:
            s.close()
    assert len(ref) == 1 and ref[0]["verdicts"] == ["unlicensed", "cross_border"]
    # 2. the ZJ and JS centres, each with its own sensors, sharing PostgreSQL
    servers = start_centres(tmp_path, ["JS", "ZJ"], pg_url)
    try:
        # connected before any alert: their subscriptions reach the PUBs first (the peer links need no
        # wait: a DEALER queues what it forwards until its connection is up)
        subs = {c: connected_sub(ctx, srv.endpoints["pub"], [f"alert.{c}".encode()]) for c, srv in servers.items()}
        sensors = [Sensor(ctx, servers[s.province].endpoints["sensors"], s) for s in SENSORS]
        for s in sensors:
            s.hello()
        play(sensors, EMITTER, sweeps=8)
        apis = {c: ApiClient(srv.endpoints["api"]) for c, srv in servers.items()}
        fed = {c: wait_for(lambda c=c: standing(apis[c]), 10.0) for c in servers}
        time.sleep(2.0)  # past the owner grace: a second alert would show now
        fed = {c: standing(apis[c]) for c in servers}
        assert len(fed["JS"]) == len(fed["ZJ"]) == 1
        assert fed["JS"][0]["id"] == fed["ZJ"][0]["id"]
        doc = fed["ZJ"][0]
        assert doc["centre"] == "ZJ"  # the source province owns it (deterministic rule)
        assert alert_key(doc) == alert_key(ref[0])
        # localised with the measurements of both centres' sensors
        assert sorted(r["sensor_id"] for r in doc["sensors"]) == sorted(s.sensor_id for s in SENSORS)
        # the JS centre's own engine alert for the emitter links to it
        store = Store(pg_url)
        rows = store.db.fetchall("SELECT id, centre, canonical_id FROM alerts ORDER BY centre")
        assert [(r[1], r[2]) for r in rows] == [("JS", doc["id"]), ("ZJ", None)]
        # published in both centres
        for c, sub in subs.items():
            ids = set()
            while sub.poll(300):
                ids.add(_alert_id(sub.recv_multipart()))
            assert ids == {doc["id"]}, c
        # acknowledged in the non-owning centre: visible everywhere, applied by the owner's engine
        apis["JS"].result("ack", {"id": doc["id"], "by": "js-duty", "note": "team sent"})
        for c in servers:
            got = wait_for(lambda c=c: [a for a in standing(apis[c]) if a["state"] == "acknowledged"], 5.0)
            assert got[0]["acknowledged_by"] == "js-duty"
        wait_for(lambda: store.alerts.pending_actions() == [] and not store.db.fetchall(
            "SELECT 1 FROM alert_actions WHERE done = 0"), 5.0)
        zj_engine_alert = servers["ZJ"].engine.open_alerts()[0]
        assert zj_engine_alert.state == "acknowledged"
        # the JS engine's own alert, linked to ZJ's, follows (its engine mutes the emitter the same way)
        wait_for(lambda: [a.state for a in servers["JS"].engine.open_alerts()] == ["acknowledged"], 5.0)
        store.close()
        for a in apis.values():
            a.close()
        for s in sensors:
            s.close()
    finally:
        for srv in servers.values():
            srv.stop()


def _alert_id(frames: list[bytes]) -> str:
    from coordination.protocol import decode

    return decode(frames[1:]).alert["id"]  # type: ignore[attr-defined]


def test_killing_the_owner_mid_incident_loses_and_doubles_nothing(tmp_path, pg_url, ctx):
    load_stations(pg_url)
    servers = start_centres(tmp_path, ["JS", "ZJ"], pg_url)
    sensors = [Sensor(ctx, servers[s.province].endpoints["sensors"], s) for s in SENSORS]
    try:
        for s in sensors:
            s.hello()
        play(sensors, EMITTER, sweeps=6)
        with ApiClient(servers["JS"].endpoints["api"]) as api:
            [doc] = wait_for(lambda: standing(api), 10.0)
        assert doc["centre"] == "ZJ"
        servers["ZJ"].stop()  # the owner goes down mid-incident
        play(sensors, EMITTER, sweeps=6)  # ZJ sensors keep measuring (their DEALERs queue)
        with ApiClient(servers["JS"].endpoints["api"]) as api:  # still visible and acknowledgeable in JS
            assert [a["id"] for a in standing(api)] == [doc["id"]]
            api.result("ack", {"id": doc["id"], "by": "js-duty"})
        # the owner comes back on the same ports, with the same shared store
        servers["ZJ"] = centre_server(tmp_path, "ZJ", pg_url, stations=pg_url,
                                      sensors_addr=servers["ZJ"].endpoints["sensors"]).start()
        link(servers)
        play(sensors, EMITTER, sweeps=6)
        for s in sensors:  # every measurement stored exactly once (the ledger)
            assert s.wait_acked(range(1, s.seq + 1), 10.0) == set(range(1, s.seq + 1)), s.sensor_id
        store = Store(pg_url)
        for s in sensors:
            assert store.ledger.count_received(s.sensor_id, "emissions") == s.seq
            assert store.ledger.received_ranges(s.sensor_id) == [(0, s.seq)]
        wait_for(lambda: not store.db.fetchall("SELECT 1 FROM alert_actions WHERE done = 0"), 5.0)
        time.sleep(2.0)
        active = store.alerts.list_alert_json(["open", "acknowledged"])
        assert [(a["id"], a["state"]) for a in active] == [(doc["id"], "acknowledged")]
        assert servers["ZJ"].engine.open_alerts()[0].id == doc["id"]  # restored, not re-opened
        store.close()
    finally:
        for s in sensors:
            s.close()
        for srv in servers.values():
            srv.stop()


def test_a_revoked_centre_key_is_cut_off(tmp_path, pg_url, ctx):
    load_stations(pg_url)
    dirs = {c: tmp_path / "keys" / c for c in ("JS", "ZJ")}
    federate_keys(dirs)
    policy = make_policy(False, dirs["JS"])
    js = centre_server(tmp_path, "JS", pg_url, stations=pg_url, policy=policy, keys_dir=dirs["JS"],
                       insecure=False).start()
    try:
        zj_keys = ClientKeys(load_pair(KeyStore(dirs["ZJ"]).secret_path(centre_key_name("ZJ"))),
                             read_cert(dirs["ZJ"] / "peers" / "JS.key", "server").public_key.encode())
        info = SENSORS[0]
        head = json.dumps({"centre": "ZJ", "sensor": {"sensor_id": info.sensor_id, "province": "ZJ",
                                                      "lat": info.lat, "lon": info.lon, "height_m": 15.0,
                                                      "antenna_factor_db_m": 20.0}}).encode()

        def push(keys, n: int = 1, seq0: int = 1) -> None:
            d = ctx.socket(zmq.DEALER)
            d.setsockopt(zmq.LINGER, 0)
            if keys is not None:
                keys.apply(d)
            d.connect(js.endpoints["federation"])
            for i in range(n):
                msg = Emissions(info.sensor_id, seq0 + i, format_utc(js.clock()), profile="pmr446",
                                noise_floor_dbm=-125.0, antenna_factor_db_m=20.0, emissions=())
                d.send_multipart([FED_TAG, head, *msg.to_frames()])
            time.sleep(0.5)
            d.close(0)

        fed = js.federation
        push(zj_keys, 3)
        wait_for(lambda: fed.counters["received"] == 3, 5.0)
        # a key that is not ZJ's centre key cannot speak for ZJ; a plain-TCP peer gets nothing in
        stranger = KeyStore(dirs["JS"]).new("console-x", role="console")
        push(ClientKeys(load_pair(KeyStore(dirs["JS"]).secret_path(stranger.name)), zj_keys.server_public_key))
        push(None)
        time.sleep(0.3)
        assert fed.counters["received"] == 3
        # revoke ZJ's centre key at JS: its next messages are refused, counted
        KeyStore(dirs["JS"]).revoke(centre_key_name("ZJ"))
        wait_for(lambda: all(i.name != centre_key_name("ZJ") for i in policy.allow.allowed.values()), 5.0)
        push(zj_keys, 2, seq0=10)
        time.sleep(0.3)
        assert fed.counters["received"] == 3
        rejected = js.counters_snapshot()["rejected"]
        assert rejected.get("auth.revoked_key", 0) + rejected.get("auth.revoked_live", 0) >= 1, rejected
    finally:
        js.stop()


def test_server_command_federation_flags_give_one_line_errors(tmp_path, capsys):
    from borderwatch.cli import main as cli_main

    base = ["server", "--insecure", "--data", str(tmp_path / "d")]
    assert cli_main([*base, "--province", "JS"]) == 2
    assert "--province needs --database" in capsys.readouterr().err
    assert cli_main([*base, "--peer", "ZJ=tcp://127.0.0.1:5563"]) == 2
    assert "need --province" in capsys.readouterr().err
    assert cli_main([*base, "--province", "JS", "--database", "postgresql://x@127.0.0.1:1/db", "--peer", "ZJ"]) == 2
    err = capsys.readouterr().err
    assert "expected CODE=ADDR" in err and "Traceback" not in err


def test_owner_absent_a_peer_takes_the_alert_and_the_owner_links_when_it_comes(tmp_path, pg_url, ctx):
    """The ZJ centre (owner by the rule: the emitter is in ZJ) is not running. JS hears it with its own
    sensors and with ZJ's border sensors (their messages pushed to JS's federation socket as a ZJ
    centre would): JS holds its alert for the grace time, then claims it. When ZJ starts, it catches
    up from the shared store and links its own alert to JS's: still one alert."""
    load_stations(pg_url)
    js = centre_server(tmp_path, "JS", pg_url, stations=pg_url).start()
    zj = None
    zj_sensors: list[Sensor] = []
    js_sensors = [Sensor(ctx, js.endpoints["sensors"], s) for s in SENSORS if s.province == "JS"]
    zj_infos = [s for s in SENSORS if s.province == "ZJ"]
    push = ctx.socket(zmq.DEALER)
    push.setsockopt(zmq.LINGER, 0)
    push.connect(js.endpoints["federation"])
    try:
        for s in js_sensors:
            s.hello()

        def sweep(n: int) -> None:
            for _ in range(n):
                for s in js_sensors + zj_sensors:
                    s.sweep(EMITTER)
                    s.pump(0)
                for i, info in enumerate(zj_infos if not zj_sensors else ()):
                    em = emission(info, *EMITTER, erp_dbw=10.0)
                    msg = Emissions(info.sensor_id, 1000 + i, format_utc(datetime.now(UTC)), profile="pmr446",
                                    noise_floor_dbm=-125.0, antenna_factor_db_m=20.0, emissions=(em,))
                    head = json.dumps({"centre": "ZJ", "sensor": {
                        "sensor_id": info.sensor_id, "province": "ZJ", "lat": info.lat, "lon": info.lon,
                        "height_m": info.height_m, "antenna_factor_db_m": 20.0}}).encode()
                    push.send_multipart([FED_TAG, head, *msg.to_frames()])
                time.sleep(0.25)

        sweep(6)
        with ApiClient(js.endpoints["api"]) as api:
            [doc] = wait_for(lambda: standing(api), 10.0)  # after the 1.5 s grace, JS took it
            assert doc["centre"] == "JS" and doc["provinces_source"] == ["ZJ"]
            assert js.federation.counters["claimed"] == 1
            zj = centre_server(tmp_path, "ZJ", pg_url, stations=pg_url).start()
            link({"JS": js, "ZJ": zj})
            zj_sensors += [Sensor(ctx, zj.endpoints["sensors"], info) for info in zj_infos]  # now report to ZJ
            for s in zj_sensors:
                s.hello()
            sweep(8)
            time.sleep(2.0)
            assert [a["id"] for a in standing(api)] == [doc["id"]]
        assert zj.federation.counters["caught_up"] >= 1  # JS's border emissions replayed from the store
        assert zj.federation.counters["linked"] == 1 and "claimed" not in zj.federation.counters
        store = Store(pg_url)
        rows = store.db.fetchall("SELECT centre, canonical_id FROM alerts WHERE state <> 'resolved'")
        assert sorted(rows, key=str) == sorted([("JS", None), ("ZJ", doc["id"])], key=str)
        store.close()
    finally:
        push.close(0)
        for s in js_sensors + zj_sensors:
            s.close()
        js.stop()
        if zj is not None:
            zj.stop()


def test_a_silent_owner_is_taken_over_and_links_to_the_successor_when_it_returns(tmp_path, pg_url, ctx):
    load_stations(pg_url)
    fast = {"takeover_after_s": 2.0}
    servers = {c: centre_server(tmp_path, c, pg_url, stations=pg_url, fed=fast).start() for c in ("JS", "ZJ")}
    link(servers)
    sensors = [Sensor(ctx, servers[s.province].endpoints["sensors"], s) for s in SENSORS]
    try:
        for s in sensors:
            s.hello()
        play(sensors, EMITTER, sweeps=6)
        with ApiClient(servers["JS"].endpoints["api"]) as api:
            [old] = wait_for(lambda: standing(api), 10.0)
            assert old["centre"] == "ZJ"
            api.result("ack", {"id": old["id"], "by": "js-duty"})
            servers["ZJ"].stop()  # the owner falls silent; the emitter goes on
            play(sensors, EMITTER, sweeps=14)  # 3.5 s > takeover_after_s
            new = wait_for(lambda: [a for a in standing(api) if a["state"] != "resolved"], 5.0)
            assert [a["centre"] for a in new] == ["JS"] and new[0]["id"] != old["id"]
            assert new[0]["state"] == "acknowledged" and new[0]["acknowledged_by"] == "js-duty"  # carried over
            assert api.result("alert", {"id": old["id"]})["state"] == "resolved"
            assert servers["JS"].federation.counters["taken_over"] == 1
            servers["ZJ"] = centre_server(tmp_path, "ZJ", pg_url, stations=pg_url, fed=fast,
                                          sensors_addr=servers["ZJ"].endpoints["sensors"]).start()
            link(servers)
            play(sensors, EMITTER, sweeps=10)
            time.sleep(2.0)
            still = [a for a in standing(api) if a["state"] != "resolved"]
            assert [a["id"] for a in still] == [new[0]["id"]]  # the returning owner links, no second alert
        assert servers["ZJ"].federation.counters["linked"] >= 1
    finally:
        for s in sensors:
            s.close()
        for srv in servers.values():
            srv.stop()
