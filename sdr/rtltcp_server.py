"""A small, protocol-accurate rtl_tcp server that serves any :class:`Source` (file, simulator).

Uses: tests run :class:`RtlTcpSource` against it on 127.0.0.1 and check the commands it
recorded; a demo can expose a simulated sensor to any rtl_tcp client (gqrx, SDR++, rtl_433 -d
rtl_tcp:...). It sends the 12-byte ``RTL0`` greeting, applies the 5-byte commands to the served
source (frequency -> ``tune``, sample rate -> ``set_sample_rate``, gain -> ``gain_db``) and
streams u8 I/Q, paced to the sample rate times ``speed`` (None = as fast as the client reads).
One client at a time, like rtl_tcp itself.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from dataclasses import dataclass

from sdr.sources.base import Source, complex64_to_u8
from sdr.sources.rtltcp import (
    CMD_AGC_MODE,
    CMD_FREQUENCY,
    CMD_GAIN,
    CMD_GAIN_MODE,
    CMD_SAMPLE_RATE,
    COMMAND,
    COMMAND_NAMES,
    GREETING,
    MAGIC,
)

log = logging.getLogger(__name__)

#: R820T tuner gains in tenths of dB, as librtlsdr reports them.
R820T_GAINS_TENTHS = (
    0, 9, 14, 27, 37, 77, 87, 125, 144, 157, 166, 197, 207, 229, 254, 280, 297, 328, 338, 364, 372, 386,
    402, 421, 434, 439, 445, 480, 496,
)


@dataclass(frozen=True)
class ReceivedCommand:
    """One command as it arrived: code, name and the value (signed for ppm)."""

    code: int
    name: str
    value: int


class RtlTcpServer:
    """Serve ``source`` over rtl_tcp on ``host:port`` (port 0 picks a free one; see ``.port``)."""

    def __init__(
        self,
        source: Source,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        speed: float | None = 1.0,
        chunk_samples: int = 16384,
        tuner_type: int = 5,
    ) -> None:
        self.source = source
        self.speed = speed
        self.chunk_samples = int(chunk_samples)
        self.tuner_type = int(tuner_type)
        self.commands: list[ReceivedCommand] = []
        self.samples_sent = 0
        self.clients_served = 0
        self._source_lock = threading.Lock()
        self._stop = threading.Event()
        self._listener = socket.create_server((host, port))
        self._listener.settimeout(0.2)
        self.host, self.port = self._listener.getsockname()[:2]
        self._thread: threading.Thread | None = None

    def start(self) -> RtlTcpServer:
        """Start accepting clients on a background thread."""
        self._thread = threading.Thread(target=self._serve, name=f"rtltcp-server:{self.port}", daemon=True)
        self._thread.start()
        return self

    def __enter__(self) -> RtlTcpServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop serving and wait for the threads (bounded)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=3.0)
        self._listener.close()

    def commands_named(self, name: str) -> list[int]:
        """Values of every received command with that name, in arrival order."""
        return [c.value for c in self.commands if c.name == name]

    # -- serving -----------------------------------------------------------------------------
    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, peer = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            log.info("rtl_tcp client %s:%d connected", *peer[:2])
            self.clients_served += 1
            try:
                self._serve_client(conn)
            finally:
                conn.close()

    def _serve_client(self, conn: socket.socket) -> None:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn.sendall(GREETING.pack(MAGIC, self.tuner_type, len(R820T_GAINS_TENTHS)))
        done = threading.Event()
        reader = threading.Thread(target=self._read_commands, args=(conn, done), daemon=True)
        reader.start()
        t0 = time.monotonic()
        sent_at_t0 = self.samples_sent
        try:
            while not self._stop.is_set() and not done.is_set():
                with self._source_lock:
                    iq = self.source.read(self.chunk_samples)
                    rate = self.source.sample_rate_hz
                if iq.size == 0:
                    # A recording ended: end the stream (EOF to the client) but keep taking its commands
                    # until it hangs up, so a client still configuring is not reset mid-command.
                    log.info("rtl_tcp server: source exhausted, ending the stream")
                    conn.shutdown(socket.SHUT_WR)
                    while not self._stop.is_set() and not done.is_set():
                        done.wait(0.1)
                    break
                conn.sendall(complex64_to_u8(iq).tobytes())
                self.samples_sent += iq.size
                if self.speed:
                    ahead_s = (self.samples_sent - sent_at_t0) / (rate * self.speed) - (time.monotonic() - t0)
                    if ahead_s > 0:
                        self._stop.wait(min(ahead_s, 0.5))
        except OSError as exc:
            log.info("rtl_tcp client went away (%s)", exc)
        finally:
            done.set()
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            reader.join(timeout=2.0)

    def _read_commands(self, conn: socket.socket, done: threading.Event) -> None:
        conn.settimeout(0.2)
        buf = b""
        while not done.is_set() and not self._stop.is_set():
            try:
                chunk = conn.recv(1024)
            except TimeoutError:
                continue
            except OSError:
                break
            if not chunk:
                break
            buf += chunk
            while len(buf) >= COMMAND.size:
                code, raw = COMMAND.unpack(buf[: COMMAND.size])
                buf = buf[COMMAND.size :]
                value = raw - (1 << 32) if raw & 0x80000000 else raw
                self.commands.append(ReceivedCommand(code, COMMAND_NAMES.get(code, f"0x{code:02x}"), value))
                self._apply(code, value)
        done.set()

    def _apply(self, code: int, value: int) -> None:
        """Make the served source follow the client, as the dongle would."""
        try:
            with self._source_lock:
                if code == CMD_FREQUENCY:
                    self.source.tune(float(value))
                elif code == CMD_SAMPLE_RATE:
                    setter = getattr(self.source, "set_sample_rate", None)
                    if setter is not None:
                        setter(float(value))
                    elif abs(self.source.sample_rate_hz - value) > 0.5:
                        log.warning("served source runs at %.0f Hz; ignoring rate %d",
                                    self.source.sample_rate_hz, value)
                elif code == CMD_GAIN and hasattr(type(self.source), "gain_db"):
                    self._set_gain(value / 10.0)
                elif (code == CMD_GAIN_MODE and value == 0) or (code == CMD_AGC_MODE and value == 1):
                    self._set_gain(None)
        except Exception as exc:  # a bad command must not kill the server; rtl_tcp ignores them too
            log.warning("rtl_tcp server: command 0x%02x=%d not applied: %s", code, value, exc)

    def _set_gain(self, gain_db: float | None) -> None:
        prop = getattr(type(self.source), "gain_db", None)
        if isinstance(prop, property) and prop.fset is not None:
            self.source.gain_db = gain_db  # type: ignore[misc]
