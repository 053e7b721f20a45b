"""Server ingest: store + ack, HDF5 read-back, idempotence, hostile frames, storage failure, restart."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta

import h5py
import numpy as np
import pytest
import zmq
from conftest import free_port
from server_testkit import T0, SimSensor, loopback_config, power_row, wait_for

from coordination.client import ApiClient
from coordination.protocol import (
    MAX_SPECTRUM_BINS,
    Heartbeat,
    Occupancy,
    Spectrum,
    format_utc,
)
from coordination.server import Server


@pytest.fixture
def server(tmp_path):
    srv = Server(loopback_config(tmp_path), build_engine=False).start()
    yield srv
    srv.stop()


def test_hello_gets_profiles_and_registers_sensor(server, ctx):
    s = SimSensor(ctx, server.endpoints["sensors"])
    prof = s.hello(seq=0)
    assert [p.name for p in prof.profiles] == ["pmr446"]
    assert prof.profiles[0].bin_hz == 3125.0
    assert "js-01" in server.sensors
    assert server.sensors["js-01"].record.province == "JS"


def test_spectra_are_acked_and_read_back_equal_from_hdf5(server, ctx, tmp_path):
    s = SimSensor(ctx, server.endpoints["sensors"])
    s.hello()
    sent = {seq: s.spectrum(seq) for seq in range(1, 41)}
    for m in sent.values():
        s.send(m)
    assert s.wait_acked(sent) == set(sent)
    server.stop()
    path = tmp_path / "data" / "spectra" / "js-01" / "js-01_20261125.h5"
    with h5py.File(path, "r") as f:
        assert f.attrs["sensor_id"] == "js-01"
        assert f.attrs["province"] == "JS"
        assert f.attrs["lat"] == pytest.approx(31.30)
        assert f.attrs["lon"] == pytest.approx(120.60)
        assert f.attrs["day_utc"] == "20261125"
        g = f["pmr446"]
        for key, value in {"profile": "pmr446", "f_start_hz": 446.0e6, "f_step_hz": 3125.0, "n_bins": 64,
                           "detector": "mean", "units": "dBm", "antenna_factor_db_m": 2.0}.items():
            assert g.attrs[key] == value, key
        assert "calibration" in g.attrs
        assert g["power_dbm"].shape == (40, 64)
        assert g["power_dbm"].dtype == np.float32
        assert g["power_dbm"].chunks == (64, 64) and g["power_dbm"].compression == "lzf"
        seqs = g["seq"][:]
        assert sorted(seqs.tolist()) == list(range(1, 41))
        for row, seq in enumerate(seqs):
            np.testing.assert_array_equal(g["power_dbm"][row], sent[int(seq)].power_dbm)
            assert g["t_utc"][row] == pytest.approx((T0 + timedelta(seconds=int(seq))).timestamp(), abs=1e-6)
        assert np.all(g["noise_floor_dbm"][:] == np.float32(-112.0))


def test_one_file_per_utc_day_and_one_group_per_axis_and_calibration(server, ctx, tmp_path):
    s = SimSensor(ctx, server.endpoints["sensors"])
    s.hello()
    late = T0.replace(hour=23, minute=59, second=59)
    s.send(s.spectrum(1, t=late))
    s.send(s.spectrum(2, t=late + timedelta(seconds=2)))  # next UTC day
    s.send(s.spectrum(3, t=late, power=power_row(3, 128)))  # same profile name, other axis
    s.send(dataclasses.replace(s.spectrum(4, t=late), antenna_factor_db_m=3.5))  # recalibrated antenna
    assert s.wait_acked({1, 2, 3, 4}) == {1, 2, 3, 4}
    server.stop()
    root = tmp_path / "data" / "spectra" / "js-01"
    assert sorted(p.name for p in root.glob("*.h5")) == ["js-01_20261125.h5", "js-01_20261126.h5"]
    with h5py.File(root / "js-01_20261125.h5", "r") as f:
        assert sorted(f.keys()) == ["pmr446", "pmr446~2", "pmr446~3"]
        assert f["pmr446~2"]["power_dbm"].shape == (1, 128)
        assert f["pmr446~3"].attrs["antenna_factor_db_m"] == 3.5 and f["pmr446"].attrs["antenna_factor_db_m"] == 2.0


def test_duplicate_seq_is_acked_again_but_stored_once(server, ctx, tmp_path):
    s = SimSensor(ctx, server.endpoints["sensors"])
    s.hello()
    for seq in (1, 2, 3):
        s.send(s.spectrum(seq))
    assert s.wait_acked({1, 2, 3}) == {1, 2, 3}
    s.acked.clear()
    for seq in (2, 3, 3, 4):  # resends (one twice in the same batch) plus a new one
        s.send(s.spectrum(seq))
    assert s.wait_acked({2, 3, 4}) == {2, 3, 4}
    wait_for(lambda: server.counters.duplicates == 3)
    assert server.store.ledger.count_received("js-01", "spectrum") == 4
    server.stop()
    with h5py.File(tmp_path / "data" / "spectra" / "js-01" / "js-01_20261125.h5", "r") as f:
        assert sorted(f["pmr446"]["seq"][:].tolist()) == [1, 2, 3, 4]


def test_hostile_frames_are_counted_by_reason_and_peer_and_server_keeps_answering(server, ctx):
    good = SimSensor(ctx, server.endpoints["sensors"])
    good.hello()
    header = json.loads(good.spectrum(1).to_frames()[1])
    hostile = SimSensor(ctx, server.endpoints["sensors"], sensor_id="evil-01")
    hostile.send_raw([b"\x00\xff garbage"])                                              # frames
    hostile.send_raw([b"nonsense", b"{}"])                                               # type
    hostile.send_raw([b"spectrum", b"{not json"])                                        # header_json
    hostile.send_raw([b"spectrum", json.dumps(header | {"v": 99}).encode(), b"\0" * 256])  # version
    oversized = b"\0" * (8 * MAX_SPECTRUM_BINS + 128 * 1024)  # above the protocol's spectrum limit
    hostile.send_raw([b"spectrum", json.dumps(header).encode(), oversized])                # size
    hostile.send_raw([b"spectrum", json.dumps(header | {"len": 10}).encode(), b"\0" * 12])  # size (payload)
    hostile.send_raw([b"spectrum", json.dumps(header | {"dtype": "|O"}).encode(), b"\0" * 256])  # dtype
    hostile.send_raw([b"spectrum", json.dumps(header | {"f_step_hz": "x"}).encode(), b"\0" * 256])  # field
    hostile.send(good.spectrum(2))                                  # identity: evil-01 speaking for js-01
    hostile.send(Heartbeat("evil-01", 5, format_utc(T0), health={"cpu_pct": 1.0}))  # unknown_sensor
    with ApiClient(server.endpoints["api"]) as api:
        def counted():
            return api.result("counters")["rejected_by_peer"].get("evil-01", {})

        by_peer = wait_for(lambda: sum(counted().values()) >= 9 and counted())
        assert by_peer == {"frames": 1, "type": 1, "header_json": 1, "version": 1, "size": 2, "dtype": 1,
                           "field": 1, "identity": 1, "unknown_sensor": 1}
        counters = api.result("counters")
        assert counters["rejected"]["size"] == 2
        assert counters["internal_errors"] == {}
        assert api.result("ping")["pong"] is True
        # the honest sensor is unaffected
        good.send(good.spectrum(3))
        assert good.wait_acked({3}) == {3}
        assert api.result("counters")["stored"] == {"spectrum": 1}
        rej = {r["sensor_id"]: r["rejected"] for r in api.result("sensors")}
        assert rej == {"js-01": 0}
    assert hostile.acked == set()


def test_api_socket_rejects_garbage_and_still_answers(server, ctx):
    raw = ctx.socket(zmq.DEALER)
    raw.setsockopt(zmq.LINGER, 0)
    raw.connect(server.endpoints["api"])
    raw.send_multipart([b"request", b"\xff\xfe"])
    raw.send_multipart([b"spectrum", b"{}"])
    with ApiClient(server.endpoints["api"]) as api:
        wait_for(lambda: server.rejections.total() >= 2)
        assert api.result("counters")["rejected"] == {"header_json": 1, "type": 1}
        reply = api.call("no-such-op")
        assert not reply.ok and "unknown op" in reply.error
    raw.close(0)


def test_unwritable_archive_dir_means_no_ack_and_a_counted_storage_error(tmp_path, ctx):
    srv = Server(loopback_config(tmp_path), build_engine=False).start()
    try:
        spectra = tmp_path / "data" / "spectra"
        spectra.mkdir(parents=True, exist_ok=True)
        (spectra / "js-01").write_text("a file where the sensor's directory should be")  # mkdir fails, even as root
        s = SimSensor(ctx, srv.endpoints["sensors"])
        s.hello()
        s.send(s.spectrum(1))
        s.send(Heartbeat("js-01", 2, format_utc(T0), health={"cpu_pct": 1.0}))
        assert s.wait_acked({2}) == {2}  # the heartbeat (SQLite) is stored and acked
        s.pump(200)
        assert 1 not in s.acked
        assert srv.counters.storage_errors["hdf5"] == 1
        assert srv.store.ledger.count_received("js-01", "spectrum") == 0
        # the disk comes back: the spool's resend is stored and acked
        (spectra / "js-01").unlink()
        s.send(s.spectrum(1))
        assert s.wait_acked({1}) == {1}
        assert srv.store.ledger.count_received("js-01", "spectrum") == 1
    finally:
        srv.stop()


def test_restart_mid_stream_loses_and_doubles_nothing(tmp_path, ctx):
    ports = {k: free_port() for k in ("sensors", "api", "pub")}
    cfg = loopback_config(tmp_path, **{f"{k}_addr": f"tcp://127.0.0.1:{p}" for k, p in ports.items()})
    srv = Server(cfg, build_engine=False).start()
    s = SimSensor(ctx, srv.endpoints["sensors"])
    s.hello()
    unacked = set(range(1, 201))
    for seq in range(1, 101):
        s.send(s.spectrum(seq))
    s.wait_acked(range(1, 51), timeout_s=5)
    srv.stop()  # stops mid-stream: some of 51..100 may be stored but their acks lost
    unacked -= s.acked
    srv2 = Server(cfg, build_engine=False).start()
    try:
        assert "js-01" in srv2.sensors  # the registry survived
        # like the spool: resend everything not acked (no new Hello needed), then carry on
        for seq in sorted(unacked):
            s.send(s.spectrum(seq))
        assert s.wait_acked(range(1, 201), timeout_s=10) == set(range(1, 201))
        assert srv2.store.ledger.count_received("js-01", "spectrum") == 200
    finally:
        srv2.stop()
    seqs = []
    for path in (tmp_path / "data" / "spectra" / "js-01").glob("*.h5"):
        with h5py.File(path, "r") as f:
            seqs += f["pmr446"]["seq"][:].tolist()
    assert sorted(seqs) == list(range(1, 201))


def test_occupancy_and_heartbeat_are_stored_and_served(server, ctx):
    s = SimSensor(ctx, server.endpoints["sensors"])
    s.hello()
    centers = 446.00625e6 + 12_500.0 * np.arange(16)
    fco = np.linspace(0, 1, 16, dtype=np.float32)
    s.send(Occupancy("js-01", 1, format_utc(T0), profile="pmr446", t_start_utc=format_utc(T0 - timedelta(minutes=1)),
                     t_end_utc=format_utc(T0), revisits=60, threshold_dbm=-106.0, fbo=0.25,
                     channel_centers_hz=centers, fco=fco))
    s.send(Heartbeat("js-01", 2, format_utc(T0), health={"spool_depth": 7.0, "dropped_samples": 3.0}))
    assert s.wait_acked({1, 2}) == {1, 2}
    with ApiClient(server.endpoints["api"]) as api:
        occ = api.result("occupancy", {"sensor_id": "js-01", "profile": "pmr446"})
        np.testing.assert_allclose(occ["channel_centers_hz"], centers)
        assert occ["rows"][0]["fbo"] == 0.25
        np.testing.assert_allclose(occ["rows"][0]["fco"], fco, atol=1e-4)  # 4 decimals on the wire
        (sensor,) = api.result("sensors")
        assert sensor["spool_depth"] == 7.0 and sensor["drops"] == 3.0


def test_spectrum_frames_are_republished_live(server, ctx):
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"spectrum.js-01")
    sub.connect(server.endpoints["pub"])
    s = SimSensor(ctx, server.endpoints["sensors"])
    s.hello()
    seq = 1
    while not sub.poll(50):  # PUB/SUB joins asynchronously: keep sending until the first arrives
        seq += 1
        assert seq < 200
        s.send(s.spectrum(seq))
    frames = sub.recv_multipart()
    assert frames[0] == b"spectrum.js-01"
    from coordination.protocol import decode

    msg = decode(frames[1:])
    assert isinstance(msg, Spectrum)
    np.testing.assert_array_equal(msg.power_dbm, power_row(msg.seq))


def test_mutated_frames_never_crash_and_every_message_is_accounted_for(server, ctx):
    """2,000 randomly mutated valid messages: each one ends up stored, a duplicate, or a counted rejection."""
    s = SimSensor(ctx, server.endpoints["sensors"])
    s.hello()
    rng = np.random.default_rng(11)
    bases = [s.spectrum(1).to_frames(), Heartbeat("js-01", 2, format_utc(T0), health={"cpu_pct": 3.0}).to_frames(),
             s.emissions(3, [{"center_hz": 446.1e6, "peak_hz": 446.1e6, "peak_dbm": -80.0, "power_dbm": -82.0,
                              "bandwidth_xdb_hz": 8e3, "obw_hz": 9e3, "snr_db": 30.0, "f_lo_hz": 446.095e6,
                              "f_hi_hz": 446.105e6}]).to_frames()]
    n = 2000
    for _ in range(n):
        frames = [bytearray(f) for f in bases[rng.integers(len(bases))]]
        for _ in range(rng.integers(1, 4)):
            k = int(rng.integers(len(frames)))
            op = rng.integers(4)
            if op == 0 and frames[k]:  # flip a byte
                i = int(rng.integers(len(frames[k])))
                frames[k][i] = int(rng.integers(256))
            elif op == 1:  # truncate
                frames[k] = frames[k][: int(rng.integers(len(frames[k]) + 1))]
            elif op == 2:  # drop or duplicate a frame
                frames = frames[:k] + frames[k + 1:] if rng.random() < 0.5 else [*frames, frames[k]]
            else:  # insert random bytes
                i = int(rng.integers(len(frames[k]) + 1))
                frames[k][i:i] = rng.bytes(int(rng.integers(1, 8)))
            if not frames:
                frames = [bytearray(b"x")]
        s.send_raw([bytes(f) for f in frames])
    with ApiClient(server.endpoints["api"]) as api:
        def accounted():
            c = api.result("counters")
            return sum(c["stored"].values()) + c["duplicates"] + sum(c["rejected"].values())

        wait_for(lambda: accounted() == n, timeout_s=20)
        c = api.result("counters")
        assert c["internal_errors"] == {} and c["storage_errors"] == {}
        assert sum(c["rejected"].values()) > n // 2
        assert api.result("ping")["pong"] is True


def test_a_failed_database_commit_acks_nothing_and_leaves_no_hdf5_rows_behind(server, ctx, tmp_path):
    from coordination.store import StorageError

    s = SimSensor(ctx, server.endpoints["sensors"])
    s.hello()
    real_commit = server.store.commit
    failures = []

    def failing_commit():
        if not failures:
            failures.append(1)
            server.store.rollback()
            raise StorageError("database or disk is full (simulated)")
        real_commit()

    server.store.commit = failing_commit
    s.send(s.spectrum(1))
    wait_for(lambda: failures)
    s.pump(200)
    assert 1 not in s.acked
    assert server.counters.storage_errors["sqlite"] == 1
    s.send(s.spectrum(1))  # the spool resends
    assert s.wait_acked({1}) == {1}
    server.stop()
    with h5py.File(tmp_path / "data" / "spectra" / "js-01" / "js-01_20261125.h5", "r") as f:
        assert f["pmr446"]["seq"][:].tolist() == [1]
        assert f["pmr446"]["power_dbm"].shape == (1, 64)


def test_profile_names_that_are_not_plain_names_are_rejected(server, ctx):
    s = SimSensor(ctx, server.endpoints["sensors"])
    s.hello()
    for seq, name in enumerate(("a/b", "", "x~2", "../up"), start=1):
        s.send(s.spectrum(seq, profile=name))
    s.send(s.spectrum(9, profile="ok.name-1"))
    assert s.wait_acked({9}) == {9}
    wait_for(lambda: server.rejections.by_peer.get("js-01", {}).get("field") == 4)
    assert s.acked == {0, 9}  # the Hello and the good one


def test_slow_sensors_rows_gather_before_a_write_and_stop_writes_what_waits(tmp_path, ctx):
    srv = Server(loopback_config(tmp_path, archive_max_delay_s=30.0, archive_max_rows=5), build_engine=False).start()
    s = SimSensor(ctx, srv.endpoints["sensors"])
    s.hello()
    for seq in range(1, 5):  # 4 rows: below max_rows, far below the delay: they wait
        s.send(s.spectrum(seq))
    s.pump(300)
    assert s.acked == {0}
    s.send(s.spectrum(2))  # a resend of a waiting row: not staged twice, not acked yet
    s.send(s.spectrum(5))  # the 5th row makes the file due: one write, five acks
    assert s.wait_acked(range(1, 6)) == set(range(1, 6))
    for seq in (6, 7):
        s.send(s.spectrum(seq))
    wait_for(lambda: srv.intake.staged == 2)
    srv.stop()  # what waits is written and committed on the way out
    with h5py.File(tmp_path / "data" / "spectra" / "js-01" / "js-01_20261125.h5", "r") as f:
        assert sorted(f["pmr446"]["seq"][:].tolist()) == list(range(1, 8))
    srv2 = Server(loopback_config(tmp_path), build_engine=False).start()
    try:
        s.send(s.spectrum(6))  # the sensor never got that ack: resent, acked, not stored again
        assert s.wait_acked({6}) == {6}
        assert srv2.store.ledger.count_received("js-01", "spectrum") == 7
    finally:
        srv2.stop()
