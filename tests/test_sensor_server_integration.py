"""The sensor daemon against the real coordination server (not the stand-in): stored once, nothing rejected."""

from __future__ import annotations

import dataclasses
import sqlite3

import pytest
from conftest import free_port
from sensor_helpers import FAST_PROFILE, write_scenario, write_sensor_config

from coordination.config import ServerConfig
from coordination.server import Server
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
                           pub_addr=f"tcp://127.0.0.1:{free_port()}", profiles=(PROFILE,))
        return Server(cfg, build_engine=False)

    scfg = load_config(write_sensor_config(tmp_path, ep, heartbeat_s=0.5))
    src = SimulatedSource(load_scenario(write_scenario(tmp_path)), "ZJ-T1", seed=2)
    with SensorDaemon(scfg, src) as d:
        with server() as srv:
            d.run(duration_s=1.5)
            assert d.drain(5.0)
            first = dict(srv.counters.stored)
            assert d.profiles == (PROFILE,)
            assert srv.counters.duplicates == 0 and not srv.rejections.by_reason
        d.run(duration_s=1.0)  # server down: measurements wait in the spool
        assert d.spool.depth >= 4
        with server() as srv:
            d.run(duration_s=1.0)
            assert d.drain(10.0)
            assert not srv.rejections.by_reason
            assert srv.counters.duplicates == 0
            second = dict(srv.counters.stored)
        assert d.uplink.stats.connects == 2 and d.uplink.stats.hellos == 2
    assert first["spectrum"] >= 5 and second["spectrum"] > first["spectrum"]
    # Every seq the sensor ever used (spooled messages and Hellos) is in the server's ledger, once.
    db = sqlite3.connect(str(tmp_path / "srv" / "server.db"))
    rows = [r[0] for r in db.execute("SELECT seq FROM received WHERE sensor_id = 'ZJ-T1' ORDER BY seq")]
    db.close()
    assert len(rows) == len(set(rows)), "nothing doubled"
    missing = set(range(d.spool.next_seq)) - set(rows)
    assert missing <= set(d.uplink.hello_seqs), f"only a Hello lost with its connection may be missing: {missing}"
    assert len(missing) <= 1

