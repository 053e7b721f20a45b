"""rtl_tcp: our client against our protocol-accurate server on 127.0.0.1 (real sockets, real bytes)."""

from __future__ import annotations

import socket
import struct
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from sdr.rtltcp_server import RtlTcpServer
from sdr.sources import FileSource, RtlTcpSource, SourceUnavailable, open_source
from sdr.sources.rtltcp import encode_command

SKYLINK = "rtl433/skylink_ha434tl/skylink_ha434tl_g001_433.92M_250k.cu8"


@pytest.fixture
def recording(shared_dir: Path) -> Path:
    return shared_dir / "data" / "recordings" / SKYLINK


def test_commands_are_5_byte_big_endian() -> None:
    assert encode_command(0x01, 433_920_000) == bytes([0x01]) + struct.pack(">I", 433_920_000)
    assert encode_command(0x05, -3) == b"\x05\xff\xff\xff\xfd"  # ppm travels as two's complement


def test_client_sends_rate_frequency_ppm_and_manual_gain(recording: Path) -> None:
    with RtlTcpServer(FileSource(recording, loop=True), speed=None) as server:
        uri = f"rtltcp://127.0.0.1:{server.port}?rate=250k&freq=433.92M&gain=29.7&ppm=-3"
        with open_source(uri) as client:
            assert isinstance(client, RtlTcpSource)
            assert (client.tuner_type, client.tuner_gain_count) == (5, 29)  # R820T, 29 gains
            client.read(1000)
            client.tune(433.9e6)
            client.gain_db = None
            client.read(1000)
        deadline = time.monotonic() + 2
        while len(server.commands) < 9 and time.monotonic() < deadline:
            time.sleep(0.01)
    assert server.commands_named("sample_rate") == [250000]
    assert server.commands_named("frequency") == [433920000, 433900000]
    assert server.commands_named("freq_correction") == [-3]
    assert server.commands_named("gain_mode") == [1, 0]  # manual, then auto
    assert server.commands_named("gain") == [297]  # tenths of a dB
    assert server.commands_named("agc_mode") == [0, 1]


def test_samples_arrive_byte_exact(recording: Path) -> None:
    expected = FileSource(recording).read(200000)
    with RtlTcpServer(FileSource(recording), speed=None, chunk_samples=4096) as server:
        with RtlTcpSource("127.0.0.1", server.port, sample_rate_hz=250e3, center_freq_hz=433.92e6,
                          buffer_s=2.0) as client:
            got = client.read(200000)
            assert client.dropped_samples == 0
            assert client.timestamp_utc is not None
    np.testing.assert_array_equal(got, expected)


def test_a_slow_reader_loses_samples_and_counts_them(recording: Path) -> None:
    with RtlTcpServer(FileSource(recording, loop=True), speed=None) as server:
        with RtlTcpSource("127.0.0.1", server.port, sample_rate_hz=250e3, center_freq_hz=433.92e6,
                          buffer_s=0.05) as client:
            deadline = time.monotonic() + 5
            while client.dropped_samples == 0 and time.monotonic() < deadline:
                time.sleep(0.02)
            assert client.dropped_samples > 0
            assert client.read(1000).size == 1000  # still streaming: the newest samples


def test_connection_refused_says_what_to_do(loopback_port: int) -> None:
    with pytest.raises(SourceUnavailable, match=rf"no rtl_tcp server at 127\.0\.0\.1:{loopback_port}.*rtl_tcp"):
        RtlTcpSource("127.0.0.1", loopback_port, timeout_s=1)


def test_a_server_that_is_not_rtl_tcp_is_rejected() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        conn, _ = listener.accept()
        conn.sendall(b"HTTP/1.1 400")
        time.sleep(0.2)
        conn.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    with pytest.raises(SourceUnavailable, match=r"not an rtl_tcp server"):
        RtlTcpSource("127.0.0.1", port, timeout_s=2)
    t.join(2)
    listener.close()


def test_server_end_of_stream_reaches_the_reader(recording: Path) -> None:
    with RtlTcpServer(FileSource(recording), speed=None) as server:
        with RtlTcpSource("127.0.0.1", server.port, sample_rate_hz=250e3, buffer_s=4.0, timeout_s=2) as client:
            client.read(262144)
            with pytest.raises(SourceUnavailable, match=r"closed the stream"):
                client.read(1000)
