"""Uplink: DEALER against a real ROUTER stand-in on 127.0.0.1 speaking coordination.protocol."""

from __future__ import annotations

import time

import pytest
from standin_server_testkit import StandInServer, StandInStore

from coordination.protocol import Command, Heartbeat, Hello, MonitoringProfile, ProfileMsg
from sdr.spool import Spool
from sdr.uplink import Uplink

T = "2026-11-25T12:00:00.000000Z"
PROFILE = MonitoringProfile(name="p1", f_start_hz=446e6, f_stop_hz=446.2e6, bin_hz=1562.5)


def hello(seq: int) -> Hello:
    return Hello("S1", seq, T, province="ZJ", lat=30.0, lon=120.0)


def hb(i: int) -> Heartbeat:
    return Heartbeat("S1", 0, T, health={"i": float(i)})


def run_until(up: Uplink, cond, timeout_s: float = 5.0) -> list:
    got: list = []
    deadline = time.monotonic() + timeout_s
    while not cond() and time.monotonic() < deadline:
        got += up.service(0.02)
    return got


@pytest.fixture
def endpoint(loopback_port: int) -> str:
    return f"tcp://127.0.0.1:{loopback_port}"


def test_hello_profile_then_everything_acked_once(tmp_path, endpoint) -> None:
    with StandInServer(endpoint, profiles=(PROFILE,)) as srv, Spool(tmp_path / "s.sqlite") as sp:
        for i in range(50):
            sp.put(hb(i))
        up = Uplink(endpoint, "S1", sp, hello, window=8)
        try:
            got = run_until(up, lambda: sp.depth == 0)
            assert sp.depth == 0
            assert srv.store.seqs("S1") == list(range(50))
            assert srv.store.duplicates == 0
            assert len(srv.store.hellos) == 1 and srv.store.hellos[0].seq == 50
            profiles = [m for m in got if isinstance(m, ProfileMsg)]
            assert len(profiles) == 1 and profiles[0].profiles == (PROFILE,)
            assert up.stats.acked == 50 and up.stats.sent == 50 and up.stats.resent == 0
        finally:
            up.close()


def test_window_bounds_in_flight_and_unacked_rows_are_resent(tmp_path, endpoint) -> None:
    with StandInServer(endpoint, ack=False) as srv, Spool(tmp_path / "s.sqlite") as sp:
        for i in range(30):
            sp.put(hb(i))
        up = Uplink(endpoint, "S1", sp, hello, window=10, resend_timeout_s=0.3)
        try:
            run_until(up, lambda: len(srv.store.messages) >= 10, 3.0)
            time.sleep(0.1)
            up.service(0.05)
            assert srv.store.seqs("S1") == list(range(10)), "no more than the window in flight"
            assert up.in_flight == 10
            run_until(up, lambda: srv.store.duplicates >= 10, 3.0)
            assert up.stats.resent >= 10 and srv.store.duplicates >= 10
            assert sp.depth == 30, "nothing is deleted without an ack"
        finally:
            up.close()


def test_resend_after_server_restart_loses_and_doubles_nothing(tmp_path, endpoint) -> None:
    store = StandInStore()
    with Spool(tmp_path / "s.sqlite") as sp:
        up = Uplink(endpoint, "S1", sp, hello, window=16, resend_timeout_s=0.5)
        try:
            with StandInServer(endpoint, store=store):
                put = [sp.put(hb(i)).seq for i in range(20)]
                run_until(up, lambda: sp.depth == 0)
                assert sp.depth == 0
            # Server down: the sensor keeps measuring into the spool.
            put += [sp.put(hb(i)).seq for i in range(20, 60)]
            up.service(0.2)
            assert sp.depth == 40
            with StandInServer(endpoint, store=store):
                run_until(up, lambda: sp.depth == 0, 10.0)
            assert sp.depth == 0
            assert store.seqs("S1") == put and len(put) == 60, "every seq stored exactly once"
            assert len(store.hellos) == 2, "a Hello on each (re)connection"
            assert up.stats.connects == 2
        finally:
            up.close()


def test_commands_reach_the_daemon(tmp_path, endpoint) -> None:
    with StandInServer(endpoint) as srv, Spool(tmp_path / "s.sqlite") as sp:
        up = Uplink(endpoint, "S1", sp, hello)
        try:
            run_until(up, lambda: up.established)
            srv.command("S1", "cap1", "capture_iq", {"duration_s": 0.5, "center_hz": 446.1e6})
            got = run_until(up, lambda: False, 0.5)
            cmds = [m for m in got if isinstance(m, Command)]
            assert len(cmds) == 1 and cmds[0].params["center_hz"] == 446.1e6
        finally:
            up.close()


def test_no_server_never_blocks(tmp_path, endpoint) -> None:
    with Spool(tmp_path / "s.sqlite") as sp:
        sp.put(hb(0))
        up = Uplink(endpoint, "S1", sp, hello)
        try:
            t0 = time.monotonic()
            for _ in range(5):
                up.service(0.01)
            assert time.monotonic() - t0 < 1.0
            assert sp.depth == 1 and not up.established
        finally:
            up.close()
