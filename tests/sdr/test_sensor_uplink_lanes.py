"""Uplink lanes and identities against the real server: a full spectra disk never holds back emissions,
and a sensor reconnects under a fresh identity."""

from __future__ import annotations

import errno
import time

import numpy as np
from server_testkit import T0, loopback_config

import coordination.archive
from coordination.protocol import Emissions, Hello, Spectrum, format_utc, identity_sensor
from coordination.server import Server
from sdr.spool import Spool
from sdr.uplink import Uplink


def hello(seq: int) -> Hello:
    return Hello("js-01", seq, format_utc(T0), province="JS", lat=31.3, lon=120.6)


def spectrum(i: int) -> Spectrum:
    return Spectrum("js-01", 0, format_utc(T0), profile="pmr446", f_start_hz=446e6, f_step_hz=3125.0,
                    power_dbm=np.full(64, -110.0 + i % 7, np.float32))


def emissions() -> Emissions:
    return Emissions("js-01", 0, format_utc(T0), profile="pmr446")


def test_a_full_spectra_disk_never_holds_back_emissions(tmp_path, monkeypatch):
    """Every archive write fails with ENOSPC. Before: the sensor's one 64-message window filled with
    unacked spectra and emissions (the alert path) waited behind them. Now spectra wait in their
    own lane and every emission is acked and stored within a second."""

    def disk_full(*_args: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(coordination.archive, "_append", disk_full)
    with Server(loopback_config(tmp_path), build_engine=False) as srv, Spool(tmp_path / "s.sqlite") as sp:
        for i in range(100):
            sp.put(spectrum(i))
        up = Uplink(srv.endpoints["sensors"], "js-01", sp, hello, window=16, resend_timeout_s=1.0)
        try:
            deadline = time.monotonic() + 5.0
            while not up.established and time.monotonic() < deadline:
                up.service(0.02)
            waits = []
            for _ in range(20):  # one sweep's emissions every 0.1 s for 2 s, behind 100 unacked spectra
                seq = sp.put(emissions()).seq
                t0 = time.monotonic()
                while sp.contains(seq) and time.monotonic() - t0 < 3.0:
                    up.service(0.01)
                waits.append(time.monotonic() - t0)
                up.service(0.1)
            assert max(waits) < 1.0, f"emission ack waits: {max(waits):.2f} s"
            assert srv.counters.stored["emissions"] == 20
            assert srv.counters.storage_errors["hdf5"] >= 16
            assert srv.counters.stored.get("spectrum", 0) == 0
            assert up.in_flight_by_lane()["spectra"] <= 16
            assert sp.depth == 100, "the spectra stay in the spool until the disk is back"
        finally:
            up.close()


def test_each_connection_has_a_fresh_identity_naming_the_sensor(tmp_path):
    with Server(loopback_config(tmp_path), build_engine=False) as srv, Spool(tmp_path / "s.sqlite") as sp:
        sp.put(emissions())
        up = Uplink(srv.endpoints["sensors"], "js-01", sp, hello, resend_timeout_s=0.5)
        try:
            first = up.identity
            assert identity_sensor(first) == b"js-01" and first != b"js-01"
            deadline = time.monotonic() + 5.0
            while sp.depth and time.monotonic() < deadline:
                up.service(0.02)
            assert sp.depth == 0
        finally:
            up.close()
        up2 = Uplink(srv.endpoints["sensors"], "js-01", sp, hello)
        try:
            assert up2.identity != first
        finally:
            up2.close()
