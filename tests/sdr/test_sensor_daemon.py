"""Sensor daemon against a real ROUTER stand-in: schedule, messages, commands, restart and kill -9."""

from __future__ import annotations

import dataclasses
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from sensor_testkit import FAST_PROFILE, write_scenario, write_sensor_config
from sigmf import sigmffile
from standin_server_testkit import StandInServer, StandInStore

from coordination.protocol import Emissions, Evidence, Heartbeat, Occupancy, Spectrum
from sdr.config import load_config
from sdr.daemon import ManualClock, SensorDaemon
from sdr.evidence import reassemble
from sdr.scenario import load_scenario
from sdr.sources import SimulatedSource

ROOT = Path(__file__).resolve().parents[2]
SERVER_PROFILE = dataclasses.replace(FAST_PROFILE, name="srv-pmr", revisit_s=0.5)


@pytest.fixture
def endpoint(loopback_port: int) -> str:
    return f"tcp://127.0.0.1:{loopback_port}"


def sim(tmp_path: Path) -> SimulatedSource:
    return SimulatedSource(load_scenario(write_scenario(tmp_path)), "ZJ-T1", seed=5)


def wait_for(cond, daemon: SensorDaemon, timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if cond():
            return True
        daemon._handle(daemon.uplink.service(0.02))
    return cond()


def test_daemon_runs_server_profiles_on_schedule_and_everything_arrives(tmp_path, endpoint) -> None:
    cfg = load_config(write_sensor_config(tmp_path, endpoint, heartbeat_s=2.0))
    clock = ManualClock()
    with StandInServer(endpoint, profiles=(SERVER_PROFILE,)) as srv, \
            SensorDaemon(cfg, sim(tmp_path), clock=clock) as d:
        assert [p.name for p in d.profiles] == ["pmr"]  # local fallback until the server speaks
        assert wait_for(lambda: d.profiles == (SERVER_PROFILE,), d)
        for _ in range(40):  # 10 s of daemon time in 0.25 s steps: revisit 0.5 s -> 20 sweeps
            d.step()
            clock.advance(0.25)
        assert wait_for(lambda: d.spool.depth == 0, d)
        st = srv.store
        spectra = st.of_type(b"spectrum", "ZJ-T1")
        ems = st.of_type(b"emissions", "ZJ-T1")
        assert len(spectra) == 20 and len(ems) == 20
        assert all(isinstance(s, Spectrum) and s.profile == "srv-pmr" and s.power_dbm.size == 171 for s in spectra)
        assert {e.spectrum_seq for e in ems} == {s.seq for s in spectra}
        assert all(isinstance(e, Emissions) and len(e.emissions) == 2 for e in ems)
        occ = st.of_type(b"occupancy", "ZJ-T1")
        assert len(occ) >= 8 and all(isinstance(o, Occupancy) and o.revisits == 2 for o in occ)
        hb = st.of_type(b"heartbeat", "ZJ-T1")
        assert len(hb) == 5  # at t = 0, 2, 4, 6, 8 s
        assert isinstance(hb[-1], Heartbeat) and {"sample_drops", "cpu_percent", "spool_depth", "spool_bytes",
                                                   "clock_utc_s", "uptime_s"} <= set(hb[-1].health)
        assert st.duplicates == 0 and len(st.hellos) == 1
        assert st.hellos[0].province == "ZJ" and st.hellos[0].antenna_factor_db_m == 20.0
        assert d.stats.overruns == 0


def test_capture_command_uploads_sigmf_evidence(tmp_path, endpoint) -> None:
    cfg = load_config(write_sensor_config(tmp_path, endpoint))
    clock = ManualClock()
    with StandInServer(endpoint) as srv, SensorDaemon(cfg, sim(tmp_path), clock=clock) as d:
        assert wait_for(lambda: d.uplink.established, d)
        srv.command("ZJ-T1", "cap-9", "capture_iq", {"duration_s": 0.2, "center_hz": 446.05e6,
                                                      "emission": {"f_lo_hz": 446.045e6, "f_hi_hz": 446.055e6}})
        assert wait_for(lambda: d.stats.captures == 1, d)
        assert wait_for(lambda: d.spool.depth == 0, d, 10.0)
        chunks = [m for m in srv.store.messages.values() if isinstance(m, Evidence)]
        assert len(chunks) == 4  # 0.2 s x 2.4 MS/s x 8 bytes = 3.84 MB in 1 MiB chunks
        meta = reassemble(chunks, tmp_path / "server")
        h = sigmffile.fromfile(str(meta))
        assert h.read_samples().size == 480_000
        assert h.get_annotations()[0]["core:freq_lower_edge"] == 446.045e6
        assert h.get_captures()[0]["core:frequency"] == 446.05e6


def test_switch_profile_command(tmp_path, endpoint) -> None:
    cfg = load_config(write_sensor_config(tmp_path, endpoint))
    other = dataclasses.replace(FAST_PROFILE, name="other")
    cfg = dataclasses.replace(cfg, profiles=(cfg.profiles[0], other))
    with StandInServer(endpoint) as srv, SensorDaemon(cfg, sim(tmp_path), clock=ManualClock()) as d:
        assert wait_for(lambda: d.uplink.established, d)
        srv.command("ZJ-T1", "sw-1", "switch_profile", {"profile": "other"})
        assert wait_for(lambda: [p.name for p in d.profiles] == ["other"], d)


def test_run_for_a_duration_on_the_real_clock_and_stop_event(tmp_path, endpoint) -> None:
    cfg = load_config(write_sensor_config(tmp_path, endpoint, heartbeat_s=0.5))
    stop = threading.Event()
    with StandInServer(endpoint) as srv, SensorDaemon(cfg, sim(tmp_path), stop_event=stop) as d:
        t0 = time.monotonic()
        d.run(duration_s=1.2)
        elapsed = time.monotonic() - t0
        assert 1.1 < elapsed < 3.0
        assert 3 <= d.stats.sweeps <= 8  # revisit 0.2 s (a loaded CI machine may skip one)
        d.drain(3.0)
        assert len(srv.store.of_type(b"spectrum")) == d.stats.sweeps
        # A stop_event set from another thread ends run() promptly.
        threading.Timer(0.3, stop.set).start()
        t0 = time.monotonic()
        d.run()
        assert time.monotonic() - t0 < 1.5


def spool_rows(path: Path, mtype: str | None = None) -> list[int]:
    """Seqs in the spool at ``path`` (of one message type when ``mtype`` is given), in order."""
    if not path.exists():
        return []
    db = sqlite3.connect(str(path))
    try:
        if mtype is None:
            return [r[0] for r in db.execute("SELECT seq FROM frames ORDER BY seq")]
        return [r[0] for r in db.execute("SELECT seq FROM frames WHERE mtype = ? ORDER BY seq", (mtype,))]
    except sqlite3.OperationalError:
        return []
    finally:
        db.close()


@pytest.mark.slow
def test_spool_survives_kill_9_and_nothing_is_lost_or_doubled(tmp_path, endpoint) -> None:
    cfg_path = write_sensor_config(tmp_path, endpoint, heartbeat_s=0.3, revisit_s=0.1)
    cfg = load_config(cfg_path)
    env = dict(os.environ, NUMBA_CACHE_DIR=str(ROOT / ".numba_cache"), PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "borderwatch.cli", "sensor", "--config", str(cfg_path)]
    # 1. Offline daemon fills its spool; kill -9 it mid-flight. It runs until the spool holds 20 rows of
    # which 10 are spectra: under load heartbeats make up more of the first 20 rows (they keep their
    # period while sweeps slow down), so counting rows alone did not guarantee the 10 spectra checked below.
    proc = subprocess.Popen([*cmd, "--offline"], env=env, cwd=tmp_path, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and (len(spool_rows(cfg.spool_path)) < 20
                                                or len(spool_rows(cfg.spool_path, "spectrum")) < 10):
            time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    before = spool_rows(cfg.spool_path)
    assert len(before) >= 20 and before == list(range(before[0], before[0] + len(before)))
    # 2. Restart connected to a server: the old rows are delivered, new seqs continue after them.
    store = StandInStore()
    with StandInServer(endpoint, store=store):
        proc = subprocess.Popen([*cmd, "--duration", "1.0", "--drain", "30"], env=env, cwd=tmp_path,
                                stderr=subprocess.PIPE)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err.decode()[-2000:]
    stored = store.seqs("ZJ-T1")
    hellos = [h.seq for h in store.hellos]
    assert set(before) <= set(stored), "every row spooled before kill -9 was delivered"
    assert min(hellos) > max(before), "the restarted daemon never reuses a seq"
    assert sorted(stored + hellos) == list(range(len(stored) + len(hellos))), "no gap, no double"
    assert spool_rows(cfg.spool_path) == []
    spectra = [m for m in store.messages.values() if isinstance(m, Spectrum)]
    assert len(spectra) >= 10 and all(np.isfinite(s.power_dbm).all() for s in spectra)


def test_several_daemons_share_one_process_and_stay_light(tmp_path, endpoint) -> None:
    import zmq

    ctx = zmq.Context()
    daemons, threads = [], []
    try:
        with StandInServer(endpoint) as srv:
            for i in range(3):
                d_dir = tmp_path / f"s{i}"
                d_dir.mkdir()
                cfg = load_config(write_sensor_config(d_dir, endpoint, heartbeat_s=0.5, revisit_s=0.5))
                cfg = dataclasses.replace(cfg, sensor_id=f"ZJ-T{i + 1}")
                daemons.append(SensorDaemon(cfg, sim(d_dir), context=ctx))
            for d in daemons:
                t = threading.Thread(target=d.run, kwargs={"duration_s": 2.0})
                t.start()
                threads.append(t)
            for t in threads:
                t.join(20)
            for d in daemons:
                d.drain(3.0)
            for i, d in enumerate(daemons):
                sid = f"ZJ-T{i + 1}"
                assert 3 <= len(srv.store.of_type(b"spectrum", sid)) <= 6  # revisit 0.5 s over 2 s
                assert d.spool.depth == 0
                # Two 48k-sample sweeps a second: the daemon thread is mostly asleep on its socket.
                last = srv.store.of_type(b"heartbeat", sid)[-1]
                assert 0.0 < last.health["cpu_percent"] < 25.0
    finally:
        for d in daemons:
            d.close()
        ctx.term()


@pytest.mark.slow
def test_sigterm_stops_cleanly_and_the_spool_is_acked(tmp_path, endpoint) -> None:
    cfg_path = write_sensor_config(tmp_path, endpoint, heartbeat_s=0.3, revisit_s=0.1)
    env = dict(os.environ, NUMBA_CACHE_DIR=str(ROOT / ".numba_cache"), PYTHONPATH=str(ROOT))
    with StandInServer(endpoint) as srv:
        proc = subprocess.Popen([sys.executable, "-m", "borderwatch.cli", "sensor", "--config", str(cfg_path),
                                 "--log-json"], env=env, cwd=tmp_path, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and len(srv.store.of_type(b"spectrum")) < 3:
                time.sleep(0.05)
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=15)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert proc.returncode == 0, err.decode()[-2000:]
        lines = [ln for ln in err.decode().splitlines() if ln.startswith("{")]
        assert any('"msg":"signal SIGTERM: stopping"' in ln for ln in lines)
    cfg = load_config(cfg_path)
    assert spool_rows(cfg.spool_path) == [], "the last results were acked before exit"
    assert srv.store.duplicates == 0


def test_a_receiver_error_is_counted_and_the_next_revisit_works(tmp_path, endpoint) -> None:
    from sdr.sources import SourceUnavailable

    class Flaky:
        def __init__(self, inner: SimulatedSource) -> None:
            self.inner, self.fail_next = inner, True

        def read(self, n: int):
            if self.fail_next:
                self.fail_next = False
                raise SourceUnavailable("USB transfer error")
            return self.inner.read(n)

        def __getattr__(self, name: str):
            return getattr(self.inner, name)

    cfg = load_config(write_sensor_config(tmp_path, endpoint))
    clock = ManualClock()
    with SensorDaemon(cfg, Flaky(sim(tmp_path)), clock=clock, connect=False) as d:
        for _ in range(3):
            d.step()
            clock.advance(0.2)
        assert d.stats.measure_errors == 1 and d.stats.sweeps == 2
        assert d.health()["measure_errors"] == 1.0
