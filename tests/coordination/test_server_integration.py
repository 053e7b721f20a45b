"""End to end with the real rules engine: sensors on both sides of the ZJ/JS border report an
unlicensed Zhejiang emitter over real sockets; the alert reaches the ZJ and JS subscribers (not AH),
is listed, acknowledged and exported through the ``borderwatch alerts`` commands."""

from __future__ import annotations

import io
import json
import threading
import time
from datetime import timedelta

import numpy as np
import zmq
from engine_testkit import NOISE_FLOOR_DBM, T0, ZJ_EMITTER, ZJ_JS_SENSORS, emission, make_repo, station
from server_testkit import Clock, SimSensor, loopback_config, wait_for

from borderwatch import cmd_alerts
from borderwatch.cli import main as cli_main
from coordination.client import ApiClient
from coordination.protocol import Emissions, Hello, decode, format_utc
from coordination.server import Server
from station_db import geo


def test_unlicensed_zj_emitter_alerts_zj_and_js_end_to_end(tmp_path, ctx, capsys):
    db = tmp_path / "stations.db"
    make_repo(db, [station("ZJ-PMR-FAR", "ZJ", 29.30, 120.90)]).close()
    clock = Clock(T0)
    srv = Server(loopback_config(tmp_path, stations=db, profiles=()), clock=clock).start()
    try:
        assert type(srv.engine).__name__ == "RulesEngine"
        subs = {}
        for prov in ("ZJ", "JS", "AH"):
            sub = ctx.socket(zmq.SUB)
            sub.setsockopt(zmq.SUBSCRIBE, f"alert.{prov}".encode())
            sub.connect(srv.endpoints["pub"])
            subs[prov] = sub
        tail_out = io.StringIO()
        tail_thread = threading.Thread(target=cmd_alerts.tail, args=(srv.endpoints["pub"], ["JS"]),
                                       kwargs={"count": 1, "timeout_s": 20.0, "out": tail_out, "as_json": True})
        tail_thread.start()
        sensors = []
        for info in ZJ_JS_SENSORS:
            s = SimSensor(ctx, srv.endpoints["sensors"], sensor_id=info.sensor_id)
            s.send(Hello(info.sensor_id, 0, format_utc(T0), province=info.province, lat=info.lat, lon=info.lon,
                         height_m=info.height_m, antenna_factor_db_m=info.antenna_factor_db_m))
            sensors.append((s, info))
        for s, _ in sensors:
            s.wait_acked({0})
        # the profiles served by default come from the rules bands
        assert "pmr_400" in {p.name for p in srv.profiles}
        time.sleep(0.3)  # let the SUB sockets join before the alert goes out
        rng = np.random.default_rng(7)
        t = T0
        for k in range(1, 5):  # four sweeps, 5 s apart (sensor time); the server clock follows
            clock.now = t
            for s, info in sensors:
                em = emission(info, *ZJ_EMITTER, erp_dbw=10.0, rng=rng, noise_db=2.0)
                s.send(Emissions(info.sensor_id, k, format_utc(t), profile="pmr_400", noise_floor_dbm=NOISE_FLOOR_DBM,
                                 antenna_factor_db_m=info.antenna_factor_db_m, emissions=(em,) if em else ()))
            for s, _ in sensors:
                assert s.wait_acked({k}) == {k}
            t += timedelta(seconds=5)
        clock.now = t  # the tick closes the last window

        def opened(prov):
            out = []
            while subs[prov].poll(20):
                frames = subs[prov].recv_multipart()
                msg = decode(frames[1:])
                out.append((frames[0], msg.alert))
            return out

        zj = wait_for(lambda: opened("ZJ"), timeout_s=10)
        js = opened("JS") or wait_for(lambda: opened("JS"))
        assert [(topic, a["event"]) for topic, a in zj][:1] == [(b"alert.ZJ", "opened")]
        assert [(topic, a["event"]) for topic, a in js][:1] == [(b"alert.JS", "opened")]
        alert = zj[0][1]
        assert alert["id"] == js[0][1]["id"]
        assert alert["verdicts"] == ["unlicensed", "cross_border"]
        assert alert["provinces_source"] == ["ZJ"] and alert["provinces_affected"] == ["JS"]
        err_km = float(geo.haversine_km(alert["position"]["lat"], alert["position"]["lon"], *ZJ_EMITTER))
        assert err_km < 6.0
        assert len({a["id"] for _, a in zj if a["event"] == "opened"}) == 1  # one alert, not one per sweep
        assert opened("AH") == []
        tail_thread.join(20)
        (line,) = tail_out.getvalue().splitlines()
        assert json.loads(line)["id"] == alert["id"]

        api_addr = srv.endpoints["api"]
        with ApiClient(api_addr) as api:
            assert [a["id"] for a in api.result("alerts", {"province": "JS", "state": "open"})] == [alert["id"]]
            assert api.result("alerts", {"province": "AH"}) == []
        capsys.readouterr()
        assert cli_main(["alerts", "list", "--server", api_addr, "--province", "ZJ", "--json"]) == 0
        assert [a["id"] for a in json.loads(capsys.readouterr().out)] == [alert["id"]]
        out_geo = tmp_path / "alerts.geojson"
        assert cli_main(["alerts", "export-geojson", "-o", str(out_geo), "--server", api_addr]) == 0
        fc = json.loads(out_geo.read_text())
        kinds = sorted(f["geometry"]["type"] for f in fc["features"])
        assert kinds == ["Point", "Polygon"] and fc["features"][0]["id"] == alert["id"]
        point = next(f for f in fc["features"] if f["geometry"]["type"] == "Point")
        assert point["geometry"]["coordinates"] == [alert["position"]["lon"], alert["position"]["lat"]]
        ring = next(f for f in fc["features"] if f["geometry"]["type"] == "Polygon")["geometry"]["coordinates"][0]
        assert ring[0] == ring[-1] and len(ring) == 73
        assert cli_main(["alerts", "ack", alert["id"], "--by", "JS enforcement", "--server", api_addr, "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["state"] == "acknowledged"
        wait_for(lambda: any(a["event"] == "acknowledged" for _, a in opened("ZJ")))
    finally:
        srv.stop()
    # restart: the open (acknowledged) alert comes back to the engine
    srv2 = Server(loopback_config(tmp_path, stations=db, profiles=()), clock=clock).start()
    try:
        assert [a.id for a in srv2.engine.open_alerts()] == [alert["id"]]
        assert srv2.engine.open_alerts()[0].state == "acknowledged"
    finally:
        srv2.stop()


def test_real_sensor_spool_and_uplink_across_a_server_restart_deliver_each_spectrum_once(tmp_path):
    import h5py
    from conftest import free_port
    from server_testkit import power_row

    from coordination.protocol import Spectrum
    from sdr.spool import Spool
    from sdr.uplink import Uplink

    ports = {k: free_port() for k in ("sensors", "api", "pub")}
    cfg = loopback_config(tmp_path, **{f"{k}_addr": f"tcp://127.0.0.1:{p}" for k, p in ports.items()})
    srv = Server(cfg, build_engine=False).start()

    def hello(seq: int) -> Hello:
        return Hello("zj-01", seq, format_utc(T0), province="ZJ", lat=30.75, lon=120.15)

    n = 300
    with Spool(tmp_path / "spool.sqlite") as spool:
        for k in range(n):
            spool.put(Spectrum("zj-01", 0, format_utc(T0 + timedelta(seconds=k)), profile="pmr446",
                               f_start_hz=446.0e6, f_step_hz=3125.0, power_dbm=power_row(k)))
        up = Uplink(cfg.sensors_addr, "zj-01", spool, hello, window=16, resend_timeout_s=1.0)
        try:
            deadline = time.monotonic() + 10
            while spool.depth > n // 2 and time.monotonic() < deadline:
                up.service(0.01)
            srv.stop()  # mid-stream: rows in flight are lost with their acks
            assert 0 < spool.depth < n
            srv = Server(cfg, build_engine=False).start()
            assert up.flush(20.0), f"{spool.depth} rows never acked"
        finally:
            up.close()
            srv.stop()
    with h5py.File(tmp_path / "data" / "spectra" / "zj-01" / "zj-01_20261125.h5", "r") as f:
        seqs = f["pmr446"]["seq"][:]
        assert len(seqs) == n and len(set(seqs.tolist())) == n
        first = int(np.argmin(seqs))
        np.testing.assert_array_equal(f["pmr446"]["power_dbm"][first], power_row(0))
