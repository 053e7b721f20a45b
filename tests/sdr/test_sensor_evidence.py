"""IQ evidence: SigMF recordings readable by the sigmf library, chunked upload and reassembly."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np
import pytest
from sensor_testkit import write_scenario
from sigmf import sigmffile

from coordination.protocol import Command, decode
from sdr.evidence import CaptureRequest, EvidenceError, SensorPlace, capture_iq, evidence_messages, reassemble
from sdr.scenario import load_scenario
from sdr.sources import SimulatedSource

PLACE = SensorPlace("ZJ-T1", 30.0, 120.0, 20.0, "ZJ")
EMISSION = {"center_hz": 446.05e6, "peak_hz": 446.05e6, "peak_dbm": -69.0, "power_dbm": -67.4,
            "bandwidth_xdb_hz": 4600.0, "obw_hz": 4500.0, "snr_db": 47.0, "f_lo_hz": 446.0477e6, "f_hi_hz": 446.0523e6}
T0 = datetime(2026, 11, 25, 12, 0, 0, 250000, tzinfo=UTC)


@pytest.fixture
def sim(tmp_path) -> SimulatedSource:
    return SimulatedSource(load_scenario(write_scenario(tmp_path)), "ZJ-T1", seed=5)


def test_capture_reads_back_with_sigmf(sim, tmp_path) -> None:
    cmd = Command("server", 1, "2026-11-25T12:00:00.000000Z", command_id="cap-1", action="capture_iq",
                  params={"duration_s": 0.25, "center_hz": 446.05e6, "emission": EMISSION, "alert_id": "A-7"})
    cap = capture_iq(sim, CaptureRequest.from_command(cmd), PLACE, tmp_path / "ev", t_utc=T0)
    assert cap.n_samples == 600_000  # 0.25 s at 2.4 MS/s
    handle = sigmffile.fromfile(str(cap.meta_path))
    assert handle.validate() is None
    g = handle.get_global_info()
    assert g["core:datatype"] == "cf32_le" and g["core:sample_rate"] == 2.4e6
    assert g["core:geolocation"] == {"type": "Point", "coordinates": [120.0, 30.0, 20.0]}
    caps = handle.get_captures()
    assert caps[0]["core:frequency"] == 446.05e6 and caps[0]["core:datetime"] == "2026-11-25T12:00:00.250000Z"
    ann = handle.get_annotations()
    assert len(ann) == 1
    assert ann[0]["core:freq_lower_edge"] == EMISSION["f_lo_hz"]
    assert ann[0]["core:freq_upper_edge"] == EMISSION["f_hi_hz"]
    assert ann[0]["core:sample_count"] == 600_000 and ann[0]["core:label"] == "emission"
    assert json.loads(ann[0]["core:comment"])["emission"]["power_dbm"] == -67.4
    samples = handle.read_samples()
    assert samples.size == 600_000
    # The CW sits at DC of the capture (tuned on it): its power dominates the recording.
    spec = np.abs(np.fft.fft(samples[:65536])) ** 2
    k = int(np.argmax(spec))
    assert min(k, 65536 - k) <= 2


def test_chunks_reassemble_byte_for_byte(sim, tmp_path) -> None:
    req = CaptureRequest("cap-2", 446.1e6, 0.1, sample_rate_hz=240e3)
    cap = capture_iq(sim, req, PLACE, tmp_path / "ev", t_utc=T0)
    assert cap.sample_rate_hz == 240e3 and cap.n_samples == 24_000  # decimated by 10
    msgs = list(evidence_messages(cap, "ZJ-T1", chunk_bytes=50_000))
    assert [m.chunk_index for m in msgs] == [0, 1, 2, 3] and all(m.chunk_count == 4 for m in msgs)
    wire = [decode(m.to_frames()) for m in msgs]  # through the real protocol validation
    assert wire[0].meta["global"]["core:sample_rate"] == 240e3 and wire[1].meta == {}
    meta_path = reassemble(wire, tmp_path / "server")
    back = sigmffile.fromfile(str(meta_path))
    assert np.array_equal(back.read_samples(), sigmffile.fromfile(str(cap.meta_path)).read_samples())


def test_capture_outside_a_recording_band_is_a_clear_error(shared_dir, tmp_path) -> None:
    from sdr.sources import FileSource

    path = shared_dir / "data/recordings/rtl433/skylink_ha434tl/skylink_ha434tl_g001_433.92M_250k.cu8"
    with FileSource(path) as src, pytest.raises(EvidenceError, match="cannot tune"):
        capture_iq(src, CaptureRequest("cap-3", 446e6, 0.1), PLACE, tmp_path)


def test_capture_from_a_recording_leaves_its_tuning_alone(shared_dir, tmp_path) -> None:
    from coordination.protocol import MonitoringProfile
    from sdr.pipeline import ProfileRunner
    from sdr.sources import FileSource

    path = shared_dir / "data/recordings/rtl433/skylink_ha434tl/skylink_ha434tl_g001_433.92M_250k.cu8"
    prof = MonitoringProfile(name="ism", f_start_hz=433.81e6, f_stop_hz=434.02e6, bin_hz=250e3 / 1024,
                             dwell_s=0.5, crop=0.05)
    with FileSource(path, loop=True) as src:
        cap = capture_iq(src, CaptureRequest("cap-4", 433.8125e6, 0.1), PLACE, tmp_path)
        assert cap.n_samples == 25_000 and cap.center_hz == 433.8125e6
        assert src.center_freq_hz == 433.92e6
        m = ProfileRunner(prof).measure(src)
    assert abs(max(m.emissions, key=lambda e: e.peak_dbm).peak_hz - 433.8125e6) < 1e3
