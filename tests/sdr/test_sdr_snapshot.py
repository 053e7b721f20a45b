"""The TDOA snapshot command: reference, target, reference on one sample counter, written and read as SigMF."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np
import pytest
from sigmf import sigmffile

from coordination.protocol import Command, ProtocolError, decode_as
from sdr.evidence import SensorPlace
from sdr.snapshot import SnapshotError, SnapshotOrder, capture_snapshot, read_snapshot
from sdr.sources.file import FileSource

FS = 250e3
F0 = 100.0e6
PLACE = SensorPlace("SH-QINGPU", 31.15, 121.12, 20.0, "SH")


def _order(**over):
    params = {"t_utc": "2026-12-03T15:00:00.000000Z", "target_hz": F0 - 30e3, "ref_hz": F0 + 50e3,
              "sample_rate_hz": FS, "ref_samples": 5000, "target_samples": 12000, "settle_samples": 700,
              "reference_station": "SH-FM-0007", "alert_id": "A-17"}
    params.update(over)
    cmd = decode_as(Command("server", 1, "2026-12-03T14:59:00.000000Z", command_id="snap-1",
                                      action="tdoa_snapshot", params=params).to_frames(), Command)
    return SnapshotOrder.from_command(cmd)


@pytest.fixture
def recording(tmp_path):
    rng = np.random.default_rng(12)
    iq = (rng.standard_normal(40_000) + 1j * rng.standard_normal(40_000)).astype(np.complex64)
    path = tmp_path / "rec.cf32"
    iq.tofile(path)
    return path, iq


def test_snapshot_from_file_source_round_trips_through_sigmf(tmp_path, recording):
    path, raw = recording
    src = FileSource(path, sample_rate_hz=FS, center_freq_hz=F0)
    meta = capture_snapshot(src, _order(), PLACE, tmp_path / "out", t_start=datetime(2026, 12, 3, 15, tzinfo=UTC))
    win, info = read_snapshot(meta)
    assert win.ref_before == (0, 5000)
    assert win.target == (5700, 17700)
    assert win.ref_after == (18400, 23400)
    assert win.iq.size == 23400 and win.sample_rate_hz == FS
    # one running counter: sample k of the file is sample k of the source, digitally shifted per segment
    np.testing.assert_allclose(np.abs(win.iq), np.abs(raw[:23400]), rtol=1e-5)
    assert info["reference_station"] == "SH-FM-0007" and info["time_quality"] == "ntp"
    # the sigmf library reads the captures: one per retune, at the retune's sample index, with its frequency
    sf = sigmffile.fromfile(str(meta))
    caps = [(c["core:sample_start"], c["core:frequency"]) for c in sf.get_captures()]
    assert caps == [(0, F0 + 50e3), (5000, F0 - 30e3), (17700, F0 + 50e3)]
    assert src.center_freq_hz == F0  # tuned back where it was


def test_pps_sensor_may_skip_the_reference(tmp_path, recording):
    path, _ = recording
    src = FileSource(path, sample_rate_hz=FS, center_freq_hz=F0)
    meta = capture_snapshot(src, _order(ref_hz=None), PLACE, tmp_path, t_start=datetime(2026, 12, 3, tzinfo=UTC),
                            time_quality="gps_pps", time_sigma_s=5e-8, pps_locked=True)
    win, info = read_snapshot(meta)
    assert win.pps_locked and win.target == (0, 12000) and win.ref_before == (0, 0)
    assert info["time_quality"] == "gps_pps"


def test_without_reference_or_pps_refused(tmp_path, recording):
    path, _ = recording
    with pytest.raises(SnapshotError, match="no reference frequency"):
        capture_snapshot(FileSource(path, sample_rate_hz=FS, center_freq_hz=F0), _order(ref_hz=None), PLACE,
                         tmp_path, t_start=datetime(2026, 12, 3, tzinfo=UTC))


def test_source_ending_early_is_an_error(tmp_path, recording):
    path, _ = recording
    with pytest.raises(SnapshotError, match="source ended"):
        capture_snapshot(FileSource(path, sample_rate_hz=FS, center_freq_hz=F0), _order(target_samples=60_000),
                         PLACE, tmp_path, t_start=datetime(2026, 12, 3, tzinfo=UTC))


def test_bad_snapshot_command_refused():
    bad = Command("server", 1, "2026-12-03T14:59:00.000000Z", command_id="snap-2", action="tdoa_snapshot",
                  params={"t_utc": "x", "target_hz": 1.0, "sample_rate_hz": FS, "ref_samples": 1,
                          "target_samples": 1, "settle_samples": 0})
    with pytest.raises(ProtocolError):
        decode_as(bad.to_frames(), Command)


def test_a_plain_evidence_file_is_not_a_snapshot(tmp_path):
    (tmp_path / "x.sigmf-data").write_bytes(np.zeros(16, np.complex64).tobytes())
    (tmp_path / "x.sigmf-meta").write_text(json.dumps({"global": {"core:datatype": "cf32_le", "core:version": "1.0.0",
                                                                   "core:sample_rate": 1e3}, "captures": [
        {"core:sample_start": 0}], "annotations": []}))
    with pytest.raises(SnapshotError):
        read_snapshot(tmp_path / "x.sigmf-meta")
