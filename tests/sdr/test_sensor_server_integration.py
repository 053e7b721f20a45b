"""The sensor daemon against the real coordination server (not the stand-in): stored once, nothing rejected."""

from __future__ import annotations

import dataclasses

import pytest
from conftest import free_port
from sensor_testkit import FAST_PROFILE, run_until, write_scenario, write_sensor_config

from coordination.config import ServerConfig
from coordination.server import Server
from coordination.store import Store
from sdr.config import load_config
from sdr.daemon import SensorDaemon
from sdr.scenario import load_scenario
from sdr.sources import SimulatedSource

PROFILE = dataclasses.replace(FAST_PROFILE, name="itest", revisit_s=0.25)


@pytest.mark.slow
def test_daemon_feeds_the_real_server_across_a_server_restart(tmp_path) -> None:
    ep = f"tcp://127.0.0.1:{free_port()}"

    def server() -> Server:
        cfg = ServerConfig(data_dir=tmp_path / "srv", sensors_addr=ep, api_addr=f"tcp://127.0.0.1:{free_port()}",
                           pub_addr=f"tcp://127.0.0.1:{free_port()}", profiles=(PROFILE,),
                           # Acks of spectra follow the archive write; keep that well inside the sensor's
                           # resend timeout so a resend here would be a real fault, not a slow ack.
                           archive_max_delay_s=0.2)
        return Server(cfg, build_engine=False)

    # A Hello or message unanswered for resend_timeout_s is sent again (by design). Under load a server
    # that is just starting may take over 1 s to answer; 5 s keeps a resend here a real fault, so the
    # one-Hello-per-connection and no-duplicate checks below stay exact.
    scfg = load_config(write_sensor_config(tmp_path, ep, heartbeat_s=0.5, resend_timeout_s=5.0))
    src = SimulatedSource(load_scenario(write_scenario(tmp_path)), "ZJ-T1", seed=2)
    with SensorDaemon(scfg, src) as d:
        # Each phase waits for the sweeps it needs (not a fixed time at an assumed sweep rate: under
        # load a sweep takes longer); the deadlines are generous and only end a hung run.
        with server() as srv:
            run_until(d, lambda: d.stats.sweeps >= 5 and d.profiles == (PROFILE,))
            assert d.drain(30.0)
            first = dict(srv.counters.stored)
            assert d.profiles == (PROFILE,)
            assert srv.counters.duplicates == 0 and not srv.rejections.by_reason
        offline_from = d.stats.sweeps
        run_until(d, lambda: d.stats.sweeps >= offline_from + 2)  # server down: measurements wait in the spool
        assert d.spool.depth >= 4
        with server() as srv:
            back_from = d.stats.sweeps
            run_until(d, lambda: d.stats.sweeps >= back_from + 2)
            assert d.drain(30.0)
            assert not srv.rejections.by_reason
            assert srv.counters.duplicates == 0
            second = dict(srv.counters.stored)
        assert d.uplink.stats.connects == 2 and d.uplink.stats.hellos == 2
    assert first["spectrum"] >= 5 and second["spectrum"] > first["spectrum"]
    # Every seq the sensor ever used (spooled messages and Hellos) is in the server's ledger, once.
    store = Store(tmp_path / "srv" / "server.db")
    try:
        rows = store.ledger.known_seqs("ZJ-T1", range(d.spool.next_seq + 10), d.spool.epoch)
    finally:
        store.close()
    assert max(rows) < d.spool.next_seq
    missing = set(range(d.spool.next_seq)) - rows
    assert missing <= set(d.uplink.hello_seqs), f"only a Hello lost with its connection may be missing: {missing}"
    assert len(missing) <= 1



@pytest.mark.slow
def test_daemon_over_curve_with_an_allowed_key_and_refused_with_an_unknown_one(tmp_path) -> None:
    from coordination.keys import KeyStore

    keys = KeyStore(tmp_path / "keys")
    keys.new("server", role="server")
    keys.new("ZJ-T1", role="sensor")
    rogue = KeyStore(tmp_path / "rogue")  # a key pair the server has never heard of
    rogue.new("server", role="server")
    rogue.new("ZJ-T1", role="sensor")
    ep = f"tcp://127.0.0.1:{free_port()}"
    cfg = ServerConfig(data_dir=tmp_path / "srv", sensors_addr=ep, api_addr=f"tcp://127.0.0.1:{free_port()}",
                       pub_addr=f"tcp://127.0.0.1:{free_port()}", profiles=(PROFILE,), insecure=False,
                       keys_dir=tmp_path / "keys")
    base = write_sensor_config(tmp_path, ep, heartbeat_s=0.5).read_text()

    def sensor_cfg(secret: str):
        text = base.replace("[spool]", f'server_public_key = "keys/server.key"\nsecret_key_file = "{secret}"\n[spool]')
        (tmp_path / "sensor.toml").write_text(text)
        return load_config(tmp_path / "sensor.toml")

    src = SimulatedSource(load_scenario(write_scenario(tmp_path)), "ZJ-T1", seed=2)
    with Server(cfg, build_engine=False) as srv:
        with SensorDaemon(dataclasses.replace(sensor_cfg("rogue/private/ZJ-T1.key_secret"),
                                              spool_dir=tmp_path / "rogue-spool"), src) as bad:
            bad.run(duration_s=1.0)
            assert not bad.drain(0.5)
            assert not bad.uplink.established and bad.spool.depth >= 4
        assert srv.counters.stored.get("spectrum", 0) == 0
        with SensorDaemon(sensor_cfg("keys/private/ZJ-T1.key_secret"), src) as good:
            good.run(duration_s=1.0)
            assert good.drain(5.0)
            assert good.uplink.established
        assert srv.counters.stored["spectrum"] == good.stats.sweeps
