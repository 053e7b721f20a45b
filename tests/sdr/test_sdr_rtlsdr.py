"""RtlSdrSource: our code path is real up to the driver; only the absent dongle (the driver class) is faked."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

import sdr.sources.rtlsdr as rtlsdr_mod
from sdr.sources import RtlSdrSource, SourceUnavailable, open_source


class FakeRtlSdr:
    """Stands in for pyrtlsdr's RtlSdr: same attributes, async reads of a known ramp of bytes."""

    GAINS = (0.0, 9.0, 14.0, 27.0, 37.0, 77.0, 87.0, 125.0, 144.0, 157.0, 166.0, 197.0, 207.0, 229.0, 254.0,
             280.0, 297.0, 328.0, 338.0, 364.0, 372.0, 386.0, 402.0, 421.0, 434.0, 439.0, 445.0, 480.0, 496.0)
    instances: ClassVar[list[FakeRtlSdr]] = []

    def __init__(self, device_index: int = 0) -> None:
        self.device_index = device_index
        self.sample_rate = 0.0
        self.center_freq = 0.0
        self._gain: float | str = 0.0
        self.freq_correction = 0
        self.history: list[tuple[str, object]] = []
        self._cancel = threading.Event()
        self.closed = False
        self.blocks = 0
        FakeRtlSdr.instances.append(self)

    @property
    def gain(self) -> float | str:
        return self._gain

    @gain.setter
    def gain(self, value: float | str) -> None:
        self.history.append(("gain", value))
        # librtlsdr snaps to the nearest tuner gain (tenths of dB)
        self._gain = value if value == "auto" else min(self.GAINS, key=lambda g: abs(g - 10 * value)) / 10

    def read_bytes_async(self, callback, num_bytes, context=None):
        ramp = (np.arange(num_bytes) % 256).astype(np.uint8)
        while not self._cancel.is_set():
            self.blocks += 1
            callback((np.ctypeslib.as_ctypes(ramp.copy())), context)
            time.sleep(0.001)

    def cancel_read_async(self) -> None:
        self._cancel.set()

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def fake_driver(monkeypatch: pytest.MonkeyPatch) -> type[FakeRtlSdr]:
    FakeRtlSdr.instances.clear()
    monkeypatch.setattr(rtlsdr_mod, "_load_driver", lambda: FakeRtlSdr)
    return FakeRtlSdr


def test_uri_sets_rate_frequency_gain_and_ppm(fake_driver: type[FakeRtlSdr]) -> None:
    with open_source("rtlsdr://0?rate=2.048M&freq=433.92M&gain=30&ppm=2") as src:
        dev = fake_driver.instances[0]
        assert (dev.sample_rate, dev.center_freq, dev.freq_correction) == (2.048e6, 433.92e6, 2)
        assert src.gain_db == pytest.approx(29.7)  # what the tuner really set
        src.gain_db = None
        assert dev.gain == "auto"
        src.tune(868.95e6)
        assert src.center_freq_hz == 868.95e6
    assert dev.closed


def test_reads_are_the_driver_bytes_scaled(fake_driver: type[FakeRtlSdr]) -> None:
    with RtlSdrSource(0, sample_rate_hz=1e6, chunk_samples=128) as src:
        x = src.read(128)
    u = (np.arange(256) % 256).astype(np.float32)
    expected = ((u[0::2] - 127.5) + 1j * (u[1::2] - 127.5)) / 127.5
    # the read starts at a block boundary (blocks are whole ramps), so it equals one ramp
    np.testing.assert_allclose(x, expected, atol=1e-6)


def test_overflow_of_the_ring_buffer_is_counted(fake_driver: type[FakeRtlSdr]) -> None:
    with RtlSdrSource(0, sample_rate_hz=1e4, chunk_samples=1024, buffer_s=0.2) as src:  # 2048-sample ring
        deadline = time.monotonic() + 3
        while src.dropped_samples < 4096 and time.monotonic() < deadline:
            time.sleep(0.01)
        dev = fake_driver.instances[0]
        produced = dev.blocks * 1024
        assert src.dropped_samples >= 4096
        assert src.dropped_samples <= produced - 1024  # what was kept is at most the ring, at least a block


def test_no_dongle_is_one_line_with_the_fix() -> None:
    # The real driver (pyrtlsdr + bundled librtlsdr) on a machine without a dongle.
    try:
        from rtlsdr import RtlSdr

        RtlSdr(0).close()
        pytest.skip("an RTL-SDR is plugged in here")
    except Exception:
        pass
    with pytest.raises(SourceUnavailable) as err:
        open_source("rtlsdr://0")
    msg = str(err.value)
    assert "\n" not in msg
    assert "rtltcp://HOST:PORT" in msg
    assert ("no RTL-SDR found" in msg and "plug one in" in msg) or "driver unavailable" in msg


def test_debian_librtlsdr_mismatch_is_explained(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # pyrtlsdr against Debian's librtlsdr fails on import with AttributeError (rtlsdr_set_dithering).
    pkg = tmp_path / "rtlsdr"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(
        "raise AttributeError('/usr/lib/x86_64-linux-gnu/librtlsdr.so.0: undefined symbol: rtlsdr_set_dithering')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in [m for m in sys.modules if m == "rtlsdr" or m.startswith("rtlsdr.")]:
        monkeypatch.delitem(sys.modules, name)
    with pytest.raises(SourceUnavailable, match=r"librtlsdr does not match pyrtlsdr.*pyrtlsdr\[lib\].*rtltcp://"):
        RtlSdrSource(0)


def test_pyrtlsdr_missing_is_explained(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "rtlsdr", None)  # import rtlsdr -> ImportError
    with pytest.raises(SourceUnavailable, match=r"RTL-SDR driver unavailable.*rtltcp://HOST:PORT"):
        RtlSdrSource(0)
