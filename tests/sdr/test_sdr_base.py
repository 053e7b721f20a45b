"""Source plumbing: the bounded ring buffer, u8 conversion, and URI parsing errors."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from sdr.sources import RingBuffer, SourceError, SourceUnavailable, complex64_to_u8, open_source, u8_to_complex64


def test_ring_buffer_keeps_order_across_the_wrap() -> None:
    ring = RingBuffer(10)
    ring.write(np.arange(7, dtype=np.complex64))
    assert ring.read(5, 1.0)[0].real.tolist() == [0, 1, 2, 3, 4]
    ring.write(np.arange(7, 15, dtype=np.complex64))  # wraps the end of the storage
    out, _, backlog = ring.read(10, 1.0)
    assert out.real.tolist() == list(range(5, 15)) and backlog == 10
    assert ring.dropped == 0


def test_ring_buffer_drops_the_oldest_and_counts_them() -> None:
    ring = RingBuffer(8)
    ring.write(np.arange(6, dtype=np.complex64))
    ring.write(np.arange(6, 11, dtype=np.complex64))  # 11 written into 8: 3 oldest dropped
    assert ring.dropped == 3
    assert ring.read(8, 1.0)[0].real.tolist() == list(range(3, 11))
    ring.write(np.arange(20, dtype=np.complex64))  # one block larger than the whole buffer
    assert ring.dropped == 3 + 12
    assert ring.read(8, 1.0)[0].real.tolist() == list(range(12, 20))


def test_ring_buffer_read_waits_for_the_writer_then_times_out() -> None:
    ring = RingBuffer(100)
    threading.Timer(0.05, ring.write, args=(np.ones(10, np.complex64),)).start()
    t = time.monotonic()
    assert ring.read(10, 2.0)[0].size == 10
    assert time.monotonic() - t < 1.0
    with pytest.raises(TimeoutError, match=r"delivered 0 of 5 samples"):
        ring.read(5, 0.05)
    ring.fail(SourceUnavailable("dongle unplugged"))
    with pytest.raises(SourceUnavailable, match="dongle unplugged"):
        ring.read(5, 1.0)


def test_u8_round_trip_is_exact() -> None:
    raw = np.arange(256, dtype=np.uint8).repeat(2)
    iq = u8_to_complex64(raw.tobytes())
    assert iq[0] == np.complex64(-1 - 1j) and iq[-1] == np.complex64(1 + 1j)
    np.testing.assert_array_equal(complex64_to_u8(iq), raw)
    assert complex64_to_u8(np.array([2 + 2j, -3j], np.complex64)).tolist() == [255, 255, 128, 0]  # clipped


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("soapy://driver=rtlsdr", r"unknown source scheme 'soapy'"),
        ("rtlsdr://zero", r"device index 'zero' must be a number"),
        ("rtlsdr://0?gian=30", r"unknown parameter 'gian'"),
        ("rtltcp://localhost", r"expected rtltcp://HOST:PORT"),
        ("rtltcp://127.0.0.1:1234?rate=fast", r"rate='fast' is not a number"),
        ("file:", r"missing file path"),
        ("file:x.cu8?loop=maybe", r"loop='maybe' must be 1/0/true/false"),
        ("sim:scenario.toml", r"say which sensor"),
    ],
)
def test_bad_uris_are_named(uri: str, message: str) -> None:
    with pytest.raises(SourceError, match=message):
        open_source(uri)


def test_a_plain_path_is_a_recording(shared_dir: Path) -> None:
    path = shared_dir / "data/recordings/sigmf/skylink_ha434tl_g001_433.92M_250k.sigmf-meta"
    with open_source(str(path)) as src:
        assert src.sample_rate_hz == 250e3 and src.finite
