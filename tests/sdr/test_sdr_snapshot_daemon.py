"""The sensor acts on ``tdoa_snapshot``: at the ordered UTC instant, with whatever receiver it holds
(simulator, rtl_tcp, RTL-SDR), one sample counter across the retunes, uploaded as evidence."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from sensor_testkit import write_scenario, write_sensor_config
from standin_server_testkit import StandInServer

import sdr.sources.rtlsdr as rtlsdr_mod
from coordination.protocol import Command, Evidence, decode_as, format_utc
from sdr.config import load_config
from sdr.daemon import ManualClock, SensorDaemon
from sdr.evidence import SensorPlace, reassemble
from sdr.rtltcp_server import RtlTcpServer
from sdr.scenario import load_scenario
from sdr.snapshot import SnapshotError, SnapshotOrder, capture_snapshot, read_snapshot
from sdr.sources import FileSource, RtlSdrSource, RtlTcpSource, SimulatedSource

T0 = datetime(2026, 1, 1, 8, 0, tzinfo=UTC)
PLACE = SensorPlace("ZJ-T1", 30.0, 120.0, 20.0, "ZJ")


def _order(command_id: str, t_utc: datetime, **over: object) -> dict:
    params = {"t_utc": format_utc(t_utc), "target_hz": 446.10625e6 - 30e3, "ref_hz": 446.05e6 + 20e3,
              "sample_rate_hz": 240e3, "ref_samples": 24_000, "target_samples": 48_000, "settle_samples": 2_400,
              "reference_station": "ZJ-FM-TEST", "alert_id": "A-1"}
    params.update(over)
    return params


def _as_order(command_id: str, params: dict) -> SnapshotOrder:
    cmd = decode_as(Command("server", 1, format_utc(T0), command_id=command_id, action="tdoa_snapshot",
                            params=params).to_frames(), Command)
    return SnapshotOrder.from_command(cmd)


def _peak_hz(x: np.ndarray, fs: float) -> float:
    spec = np.abs(np.fft.fftshift(np.fft.fft(x * np.hanning(x.size)))) ** 2
    return float(np.fft.fftshift(np.fft.fftfreq(x.size, 1 / fs))[int(np.argmax(spec))])


def _wait_for(cond, daemon: SensorDaemon, timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if cond():
            return True
        daemon._handle(daemon.uplink.service(0.02))
    return cond()


@pytest.fixture
def endpoint(loopback_port: int) -> str:
    return f"tcp://127.0.0.1:{loopback_port}"


def test_daemon_takes_the_snapshot_at_the_ordered_instant_and_uploads_it(tmp_path, endpoint) -> None:
    cfg = load_config(write_sensor_config(tmp_path, endpoint, heartbeat_s=100.0))
    clock = ManualClock(T0)
    src = SimulatedSource(load_scenario(write_scenario(tmp_path)), "ZJ-T1", seed=5)
    with StandInServer(endpoint) as srv, SensorDaemon(cfg, src, clock=clock) as d:
        assert _wait_for(lambda: d.uplink.established, d)
        srv.command("ZJ-T1", "snap-1", "tdoa_snapshot", _order("snap-1", T0 + timedelta(seconds=2)))
        assert _wait_for(lambda: d.stats.commands == 1, d)
        taken_at = None
        for _ in range(100):  # sweeps every 0.2 s go on; the waits step() asks for land on the instant
            d.step()
            if d.stats.snapshots and taken_at is None:
                taken_at = clock.now_utc()
            clock.advance(min(d.step(), 0.25))
        assert taken_at == T0 + timedelta(seconds=2)
        assert d.stats.snapshots == 1 and d.stats.snapshot_failures == 0 and d.stats.sweeps > 50
        assert _wait_for(lambda: d.spool.depth == 0, d)
        assert [(m.command_id, m.ok) for m in srv.store.of_type(b"order_result")] == [("snap-1", True)]
        chunks = [m for m in srv.store.messages.values() if isinstance(m, Evidence) and m.capture_id == "snap-1"]
        meta = reassemble(chunks, tmp_path / "server")
    win, info = read_snapshot(meta)
    # 2.4 MS/s decimated by 10 on one counter: the segments sit where the order says, in output samples
    assert win.sample_rate_hz == 240e3 and info["decimation"] == 10
    assert win.ref_before == (0, 24_000)
    assert win.target == (26_400, 74_400)
    assert win.ref_after == (76_800, 100_800)
    assert info["reference_station"] == "ZJ-FM-TEST" and info["time_quality"] == "ntp"
    # each segment holds its tuning: CW1 (446.05 MHz, the strongest here) 20 kHz below the reference tuning,
    # 26.25 kHz below the target's
    fs = win.sample_rate_hz
    assert _peak_hz(win.segment(win.ref_before), fs) == pytest.approx(-20e3, abs=3e3)
    assert _peak_hz(win.segment(win.ref_after), fs) == pytest.approx(-20e3, abs=3e3)
    assert _peak_hz(win.segment(win.target), fs) == pytest.approx(-26.25e3, abs=3e3)
    # the first sample is dated at the instant (the manual clock does not move during the capture)
    from sigmf import sigmffile

    assert sigmffile.fromfile(str(meta)).get_captures()[0]["core:datetime"].startswith("2026-01-01T08:00:02")


def test_late_far_ahead_and_unreadable_orders_are_refused_and_counted(tmp_path, endpoint) -> None:
    cfg = load_config(write_sensor_config(tmp_path, endpoint, heartbeat_s=100.0))
    clock = ManualClock(T0)
    src = SimulatedSource(load_scenario(write_scenario(tmp_path)), "ZJ-T1", seed=5)
    with StandInServer(endpoint) as srv, SensorDaemon(cfg, src, clock=clock) as d:
        assert _wait_for(lambda: d.uplink.established, d)
        srv.command("ZJ-T1", "late", "tdoa_snapshot", _order("late", T0 - timedelta(seconds=3)))
        srv.command("ZJ-T1", "ahead", "tdoa_snapshot", _order("ahead", T0 + timedelta(hours=2)))
        srv.command("ZJ-T1", "badtime", "tdoa_snapshot", {**_order("badtime", T0), "t_utc": "tomorrow"})
        assert _wait_for(lambda: d.stats.commands == 3, d)
        clock.advance(5.0)
        d.step()
        assert d.stats.snapshots == 0 and d.stats.snapshot_failures == 3
        assert d.health()["snapshot_failures"] == 3.0
        # each refusal goes back to the server, so its round stops waiting for that sensor
        assert _wait_for(lambda: len(srv.store.of_type(b"order_result")) == 3, d)
        answers = {m.command_id: (m.ok, m.reason) for m in srv.store.of_type(b"order_result")}
    assert answers == {"late": (False, "late"), "ahead": (False, "too_far_ahead"), "badtime": (False, "bad_order")}


def test_rtltcp_snapshot_keeps_one_counter_across_retunes(tmp_path) -> None:
    # a served recording with a strong tone at the reference tuning and a weaker one at the target's
    fs, fc = 250e3, 100.0e6
    n = np.arange(2_000_000)
    tones = 0.5 * np.exp(2j * np.pi * 40e3 / fs * n) + 0.2 * np.exp(-2j * np.pi * 60e3 / fs * n)
    iq = np.round(np.stack([tones.real, tones.imag], 1).ravel() * 127.5 + 127.5).clip(0, 255).astype(np.uint8)
    path = tmp_path / "tones.cu8"
    iq.tofile(path)
    order = _as_order("snap-tcp", _order("snap-tcp", T0, ref_hz=fc + 40e3, target_hz=fc - 60e3, sample_rate_hz=fs,
                                         ref_samples=5_000, target_samples=10_000, settle_samples=5_000))
    # the settling must outlast what is in flight when the tuner moves (here: the server's 4 ms chunks, the
    # socket, the client's ring); a dongle's USB transfers play that part on real hardware
    served = FileSource(path, sample_rate_hz=fs, center_freq_hz=fc, loop=True)
    with RtlTcpServer(served, speed=1.0, chunk_samples=1024) as server, \
            RtlTcpSource("127.0.0.1", server.port, sample_rate_hz=fs, center_freq_hz=fc, buffer_s=2.0) as client:
        meta = capture_snapshot(client, order, PLACE, tmp_path / "out", t_start=T0)
        deadline = time.monotonic() + 2
        while len(server.commands_named("frequency")) < 5 and time.monotonic() < deadline:
            time.sleep(0.01)
        retunes = server.commands_named("frequency")
        assert client.dropped_samples == 0
    # the tuner went: start, reference, target, reference, back to where it was
    assert retunes[-4:] == [int(fc + 40e3), int(fc - 60e3), int(fc + 40e3), int(fc)]
    win, _ = read_snapshot(meta)
    assert (win.ref_before, win.target, win.ref_after) == ((0, 5_000), (10_000, 20_000), (25_000, 30_000))
    # every usable sample is of its own tuning (the settling absorbed the samples still in flight): the strong
    # tone at DC in both reference segments, 100 kHz above DC seen from the target's tuning
    for span, expected_hz in ((win.ref_before, 0.0), (win.target, 100e3), (win.ref_after, 0.0)):
        seg = win.segment(span)
        for part in np.array_split(seg, 5):  # the whole segment, not only most of it
            assert _peak_hz(part, fs) == pytest.approx(expected_hz, abs=300.0)


class _RampRtlSdr:
    """pyrtlsdr's RtlSdr stand-in: streams a continuous byte ramp, records every centre frequency set."""

    last: _RampRtlSdr | None = None

    def __init__(self, device_index: int = 0) -> None:
        _RampRtlSdr.last = self
        self.sample_rate = 0.0
        self._fc = 0.0
        self.tuned: list[float] = []
        self.gain: float | str = "auto"
        self.freq_correction = 0
        self._stop = False

    @property
    def center_freq(self) -> float:
        return self._fc

    @center_freq.setter
    def center_freq(self, value: float) -> None:
        self._fc = float(value)
        self.tuned.append(float(value))

    def read_bytes_async(self, callback, num_bytes, context=None):
        ramp = (np.arange(num_bytes) % 256).astype(np.uint8)  # num_bytes is a multiple of 256: seamless
        while not self._stop:
            callback(np.ctypeslib.as_ctypes(ramp.copy()), context)
            time.sleep(0.002)

    def cancel_read_async(self) -> None:
        self._stop = True

    def close(self) -> None:
        pass


def test_rtlsdr_snapshot_retunes_without_losing_a_sample(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(rtlsdr_mod, "_load_driver", lambda: _RampRtlSdr)
    order = _as_order("snap-usb", _order("snap-usb", T0, ref_hz=98.1e6, target_hz=151.0e6, sample_rate_hz=1.0e6,
                                         ref_samples=20_000, target_samples=40_000, settle_samples=5_000))
    with RtlSdrSource(0, sample_rate_hz=1.0e6, center_freq_hz=100e6, chunk_samples=4096, buffer_s=8.0) as src:
        meta = capture_snapshot(src, order, PLACE, tmp_path, t_start=T0)
        assert src.dropped_samples == 0
        assert _RampRtlSdr.last is not None
        tuned = list(_RampRtlSdr.last.tuned)
    assert tuned[-4:] == [98.1e6, 151.0e6, 98.1e6, 100e6]
    win, _ = read_snapshot(meta)
    # the ramp's I values step by 2 (mod 256) from the first to the last sample: nothing lost at a retune
    i_bytes = np.round(win.iq.real * 127.5 + 127.5).astype(int)
    assert win.iq.size == 90_000
    assert np.all(np.diff(i_bytes) % 256 == 2)


def test_order_rate_must_divide_the_source_rate(tmp_path) -> None:
    path = tmp_path / "x.cf32"
    np.zeros(50_000, np.complex64).tofile(path)
    order = _as_order("snap-odd", _order("snap-odd", T0, ref_hz=100.01e6, target_hz=99.99e6, sample_rate_hz=70e3))
    with pytest.raises(SnapshotError, match="not an integer fraction"):
        capture_snapshot(FileSource(path, sample_rate_hz=250e3, center_freq_hz=100e6), order, PLACE, tmp_path,
                         t_start=T0)


def test_pps_sensor_config_is_read(tmp_path: Path) -> None:
    p = write_sensor_config(tmp_path, "tcp://127.0.0.1:1")
    p.write_text(p.read_text() + '\n[clock]\ndiscipline = "gps_pps"\n')
    cfg = load_config(p)
    assert cfg.time_discipline == "gps_pps" and cfg.time_sigma_s == pytest.approx(5e-8)
