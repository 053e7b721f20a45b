"""rtl_tcp network client: a remote RTL-SDR (or our own server) as a :class:`Source`.

Protocol (osmocom rtl_tcp): on connect the server sends a 12-byte greeting ``>4sII`` =
``b"RTL0"``, tuner type, number of tuner gains; then it streams interleaved u8 I/Q forever. The
client sends 5-byte big-endian commands ``>BI``: 0x01 centre frequency (Hz), 0x02 sample rate
(Hz), 0x03 gain mode (0 auto, 1 manual), 0x04 tuner gain (tenths of dB), 0x05 frequency
correction (ppm, signed), 0x08 RTL2832 digital AGC (0/1).

The stream does not stop while we are busy, so a reader thread drains the socket into a bounded
ring buffer and counts what overflows as dropped samples, exactly like the USB source.
"""

from __future__ import annotations

import logging
import socket
import struct
import threading

from sdr.sources.base import (
    RingBuffer,
    SourceUnavailable,
    StreamingSource,
    u8_to_complex64,
)

log = logging.getLogger(__name__)

GREETING = struct.Struct(">4sII")
COMMAND = struct.Struct(">BI")
MAGIC = b"RTL0"

CMD_FREQUENCY = 0x01
CMD_SAMPLE_RATE = 0x02
CMD_GAIN_MODE = 0x03
CMD_GAIN = 0x04
CMD_FREQ_CORRECTION = 0x05
CMD_IF_GAIN = 0x06
CMD_TEST_MODE = 0x07
CMD_AGC_MODE = 0x08
CMD_DIRECT_SAMPLING = 0x09
CMD_OFFSET_TUNING = 0x0A
CMD_GAIN_BY_INDEX = 0x0D
CMD_BIAS_TEE = 0x0E

COMMAND_NAMES = {
    CMD_FREQUENCY: "frequency",
    CMD_SAMPLE_RATE: "sample_rate",
    CMD_GAIN_MODE: "gain_mode",
    CMD_GAIN: "gain",
    CMD_FREQ_CORRECTION: "freq_correction",
    CMD_IF_GAIN: "if_gain",
    CMD_TEST_MODE: "test_mode",
    CMD_AGC_MODE: "agc_mode",
    CMD_DIRECT_SAMPLING: "direct_sampling",
    CMD_OFFSET_TUNING: "offset_tuning",
    CMD_GAIN_BY_INDEX: "gain_by_index",
    CMD_BIAS_TEE: "bias_tee",
}

TUNER_NAMES = {0: "unknown", 1: "E4000", 2: "FC0012", 3: "FC0013", 4: "FC2580", 5: "R820T", 6: "R828D"}


def encode_command(code: int, value: int) -> bytes:
    """One 5-byte rtl_tcp command; negative values (ppm) travel as two's complement."""
    return COMMAND.pack(code, int(value) & 0xFFFFFFFF)


class RtlTcpSource(StreamingSource):
    """A remote receiver speaking rtl_tcp; see the module docstring for the protocol."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 1234,
        *,
        sample_rate_hz: float = 2.4e6,
        center_freq_hz: float = 100e6,
        gain_db: float | None = None,
        ppm: int = 0,
        buffer_s: float = 1.0,
        timeout_s: float = 5.0,
    ) -> None:
        self.host, self.port = host, int(port)
        self._timeout_s = float(timeout_s)
        try:
            self._sock = socket.create_connection((host, self.port), timeout=self._timeout_s)
        except OSError as exc:
            raise SourceUnavailable(
                f"no rtl_tcp server at {host}:{port} ({exc.strerror or exc}): start `rtl_tcp -a {host}` "
                "on the receiver host, or check the address"
            ) from exc
        try:
            greeting = self._recv_exact(GREETING.size)
        except OSError as exc:
            self._sock.close()
            raise SourceUnavailable(f"rtl_tcp server at {host}:{port} sent no greeting ({exc})") from exc
        magic, self.tuner_type, self.tuner_gain_count = GREETING.unpack(greeting)
        if magic != MAGIC:
            self._sock.close()
            raise SourceUnavailable(f"{host}:{port} is not an rtl_tcp server (greeting {magic!r}, expected b'RTL0')")
        log.info(
            "rtl_tcp %s:%d: tuner %s, %d gains",
            host, self.port, TUNER_NAMES.get(self.tuner_type, self.tuner_type), self.tuner_gain_count,
        )
        self._send_lock = threading.Lock()
        self._rate_hz = float(sample_rate_hz)
        self._center_hz = float(center_freq_hz)
        self._gain_db: float | None = None
        self._ppm = int(ppm)
        self._ring = RingBuffer(max(1, int(buffer_s * self._rate_hz)))
        self._send(CMD_SAMPLE_RATE, round(self._rate_hz))
        self._send(CMD_FREQUENCY, round(self._center_hz))
        if self._ppm:
            self._send(CMD_FREQ_CORRECTION, self._ppm)
        self.gain_db = gain_db
        self._closed = threading.Event()
        self._sock.settimeout(0.5)
        self._thread = threading.Thread(target=self._reader, name=f"rtltcp-{host}:{port}", daemon=True)
        self._thread.start()

    # -- wire ------------------------------------------------------------------------------
    def _recv_exact(self, n: int) -> bytes:
        buf = bytearray()
        while len(buf) < n:
            chunk = self._sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("connection closed")
            buf += chunk
        return bytes(buf)

    def _send(self, code: int, value: int) -> None:
        try:
            with self._send_lock:
                self._sock.sendall(encode_command(code, value))
        except OSError as exc:
            raise SourceUnavailable(f"rtl_tcp {self.host}:{self.port}: command failed ({exc})") from exc

    def _reader(self) -> None:
        """Drain the socket into the ring buffer until closed; odd bytes carry to the next chunk."""
        leftover = b""
        while not self._closed.is_set():
            try:
                chunk = self._sock.recv(65536)
            except TimeoutError:
                continue
            except OSError as exc:
                if not self._closed.is_set():
                    self._ring.fail(SourceUnavailable(f"rtl_tcp {self.host}:{self.port}: {exc}"))
                return
            if not chunk:
                self._ring.fail(SourceUnavailable(f"rtl_tcp server {self.host}:{self.port} closed the stream"))
                return
            data = leftover + chunk
            even = len(data) & ~1
            leftover = data[even:]
            self._ring.write(u8_to_complex64(data[:even]))

    # -- Source interface ------------------------------------------------------------------
    def set_sample_rate(self, sample_rate_hz: float) -> None:
        """Change the sample rate; buffered samples of the old rate are discarded."""
        self._rate_hz = float(sample_rate_hz)
        self._send(CMD_SAMPLE_RATE, round(self._rate_hz))
        self._ring.clear()

    @property
    def gain_db(self) -> float | None:
        return self._gain_db

    @gain_db.setter
    def gain_db(self, value: float | None) -> None:
        if value is None:
            self._send(CMD_GAIN_MODE, 0)
            self._send(CMD_AGC_MODE, 1)
        else:
            self._send(CMD_GAIN_MODE, 1)
            self._send(CMD_AGC_MODE, 0)
            self._send(CMD_GAIN, round(float(value) * 10))
        self._gain_db = None if value is None else float(value)

    def _describe(self) -> str:
        return f"rtl_tcp {self.host}:{self.port}"

    def _retune(self, freq_hz: float) -> None:
        self._send(CMD_FREQUENCY, round(freq_hz))
        self._center_hz = freq_hz

    def close(self) -> None:
        if getattr(self, "_closed", None) is None or self._closed.is_set():
            return
        self._closed.set()
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._sock.close()
        self._thread.join(timeout=2.0)
        self._ring.close()
