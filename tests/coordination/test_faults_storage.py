"""Storage faults on the server: what cannot be written is not acked, is counted and said clearly;
a day file left open by a killed server is recovered."""

from __future__ import annotations

import logging
import os
import signal

import h5py
import numpy as np
import zmq
from server_testkit import SimSensor, loopback_config, wait_for

from coordination.hdf5_recovery import clear_status_flags, lookup3
from coordination.server import Server


def test_unwritable_archive_dir_means_clear_error_and_no_ack(tmp_path, caplog):
    blocked = tmp_path / "data" / "spectra" / "js-01"
    blocked.parent.mkdir(parents=True)
    blocked.write_text("not a directory")  # root ignores permission bits; a file where the dir goes does not
    srv = Server(loopback_config(tmp_path), build_engine=False).start()
    ctx = zmq.Context()
    s = SimSensor(ctx, srv.endpoints["sensors"])
    try:
        s.hello()
        with caplog.at_level(logging.ERROR, logger="coordination.server"):
            s.send(s.spectrum(1))
            s.send(s.spectrum(2))
            s.send(s.emissions(3))
            assert s.wait_acked([3]) == {3}  # SQLite data still goes in
            assert s.wait_acked([1, 2], timeout_s=1.0) == set()  # spectra were not stored: not acked
        c = srv.counters_snapshot()
        assert c["storage_errors"].get("hdf5") == 2 and c["stored"] == {"emissions": 1}
        msgs = [r.getMessage() for r in caplog.records if "STORAGE FAILURE" in r.getMessage()]
        assert msgs and "not stored and not acked" in msgs[0] and "js-01 seq 1" in msgs[0]
        blocked.unlink()  # the operator fixes the disk; the sensor's resend now lands
        s.send(s.spectrum(1))
        s.send(s.spectrum(2))
        assert s.wait_acked([1, 2]) == {1, 2}
        wait_for(lambda: srv.counters_snapshot()["stored"].get("spectrum") == 2)
    finally:
        s.close()
        ctx.term()
        srv.stop()


def test_killed_writer_file_is_reopened_with_its_flushed_rows(tmp_path):
    path = tmp_path / "day.h5"
    pid = os.fork()
    if pid == 0:  # a writer killed between flushes, like a server under kill -9
        try:
            f = h5py.File(path, "a", libver="latest")
            d = f.create_dataset("seq", (0,), maxshape=(None,), chunks=(4,), dtype="i8")
            d.resize((5,))
            d[:] = np.arange(5)
            f.flush()
            d.resize((9,))
        finally:
            os.kill(os.getpid(), signal.SIGKILL)
    os.waitpid(pid, 0)
    try:
        h5py.File(path, "r")
        raise AssertionError("HDF5 should refuse a file flagged open-for-write")
    except OSError as exc:
        assert "already open for write" in str(exc)
    assert clear_status_flags(path) is True
    assert clear_status_flags(path) is False  # already clear: untouched
    with h5py.File(path, "r") as f:
        assert f["seq"][()].tolist() == [0, 1, 2, 3, 4]


def test_lookup3_reference_values():
    # Bob Jenkins' lookup3.c driver: hashlittle("", 0) and "Four score and seven years ago"
    assert lookup3(b"") == 0xDEADBEEF
    assert lookup3(b"Four score and seven years ago") == 0x17770551
    assert lookup3(b"Four score and seven years ago", 1) == 0xCD628161
