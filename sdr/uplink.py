"""The sensor's link to the coordination server: a ZeroMQ DEALER that drains the spool.

Why this shape:
- The spool is the only path to the network. The uplink never sends a measurement that is not
  stored; it reads rows from the spool, sends them, and deletes them when the server acks.
- Delivery is at-least-once with a bounded in-flight window: a row sent but not acked within
  ``resend_timeout_s`` is sent again. The server stores by ``(sensor_id, seq)`` idempotently, so
  repeats double nothing.
- ``ZMQ_IMMEDIATE`` keeps messages out of a dead connection's queue, and a socket monitor tells
  us about every (re)connection: we then say Hello first and resend everything not yet acked,
  because a restarted server has lost whatever was in flight.
- Nothing blocks forever: every receive is a poll with a timeout, every send is non-blocking.
- Lanes: spectra, IQ evidence and summaries (emissions, occupancy, heartbeats: the alert path) each
  have their own in-flight window. The server acks summaries as soon as SQLite has them and spectra
  only once the HDF5 archive wrote them, so with one shared window a sick archive (disk full) filled
  it with unacked spectra and emissions waited behind them. Now it can only fill the spectra lane.
- Identity: the DEALER connects as ``<sensor_id>~<nonce>`` with a fresh nonce for every connection
  (the socket is re-made after a disconnect). The server refuses a second connection under an
  identity it holds (no handover, so no other key can take ours over); a fresh identity means we
  never wait for our own half-open old connection to time out at the server.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import zmq
from zmq.utils.monitor import recv_monitor_message

from coordination.protocol import (
    MESSAGE_TYPES,
    Ack,
    Command,
    Hello,
    Message,
    ProfileMsg,
    ProtocolError,
    connection_identity,
    decode,
)
from sdr.spool import Spool

log = logging.getLogger(__name__)

#: Seconds before retrying a Hello that could not be queued (connection not attached yet).
HELLO_RETRY_S = 0.02
#: Message types a sensor accepts from the server.
INBOUND_TYPES = (Ack.TYPE, ProfileMsg.TYPE, Command.TYPE)
#: Uplink lanes (message types each sends); every other type travels in the ``summaries`` lane.
LANE_TYPES: dict[str, tuple[str, ...]] = {"spectra": ("spectrum",), "evidence": ("evidence",)}
LANE_TYPES["summaries"] = tuple(t.decode() for t in MESSAGE_TYPES
                                if t.decode() not in {x for v in LANE_TYPES.values() for x in v})
#: The evidence lane's window at most (chunks are up to 4 MiB each).
EVIDENCE_WINDOW = 8
#: Hellos left unanswered on one connection before the socket is re-made under a fresh identity.
HELLOS_BEFORE_REBUILD = 3


class UplinkError(Exception):
    """The uplink cannot be set up (bad endpoint, unreadable key file)."""


@dataclass(frozen=True)
class CurveKeys:
    """CurveZMQ keys of a sensor: the server's public key and the sensor's own key pair (z85 bytes)."""

    server_public_key: bytes
    public_key: bytes
    secret_key: bytes


def load_curve_keys(server_public_key: str, secret_key_file: str | Path) -> CurveKeys:
    """Read the sensor's key pair from a ZeroMQ certificate file (as written by ``zmq.auth``)."""
    import zmq.auth

    try:
        public, secret = zmq.auth.load_certificate(str(secret_key_file))
    except (OSError, ValueError) as exc:
        raise UplinkError(f"cannot read secret key file {secret_key_file}: {exc}") from exc
    if secret is None:
        raise UplinkError(f"{secret_key_file} holds no secret key (it is a public certificate)")
    return CurveKeys(server_public_key.encode() if isinstance(server_public_key, str) else server_public_key,
                     public, secret)


@dataclass
class UplinkStats:
    """Counters for the heartbeat and the logs."""

    sent: int = 0
    resent: int = 0
    acked: int = 0
    hellos: int = 0
    connects: int = 0
    rebuilds: int = 0
    rejected_inbound: int = 0
    inbound: dict[str, int] = field(default_factory=dict)


class Uplink:
    """DEALER socket (identity = sensor id) that sends spool rows and receives Ack/ProfileMsg/Command.

    Call :meth:`service` regularly (the daemon does it between measurements and while idle); it
    returns the ProfileMsg and Command messages for the daemon to act on. Acks are handled here.
    """

    def __init__(
        self,
        endpoint: str,
        sensor_id: str,
        spool: Spool,
        hello_factory: Callable[[int], Hello],
        *,
        window: int = 64,
        resend_timeout_s: float = 5.0,
        curve: CurveKeys | None = None,
        context: zmq.Context | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """hello_factory(seq) builds the Hello to send on every (re)connection."""
        if window < 1:
            raise UplinkError(f"in-flight window must be >= 1, got {window}")
        self.endpoint = endpoint
        self.sensor_id = sensor_id
        self.spool = spool
        self.window = int(window)
        self.resend_timeout_s = float(resend_timeout_s)
        self.stats = UplinkStats()
        #: Seqs used by the Hellos sent (the most recent 100): a Hello lost with its connection is the
        #: only way a seq can be missing at the server, since Hellos are not spooled.
        self.hello_seqs: deque[int] = deque(maxlen=100)
        self._hello_factory = hello_factory
        self._monotonic = monotonic
        self._own_context = context is None
        self._ctx = context or zmq.Context()
        self._curve = curve
        self.windows = {lane: (min(self.window, EVIDENCE_WINDOW) if lane == "evidence" else self.window)
                        for lane in LANE_TYPES}
        self._inflight: dict[int, tuple[float, str]] = {}  # seq -> (sent at, lane)
        self._handshake_due: float | None = None  # when to (re)send Hello; None = handshake done
        self._unanswered_hellos = 0
        self._established = False
        self._last_rx: float | None = None
        self.identity = b""
        self._open()
        log.info("uplink %s -> %s (window %d per lane, resend after %.1f s)", sensor_id, endpoint, self.window,
                 self.resend_timeout_s)

    def _open(self) -> None:
        """Make the DEALER (fresh identity) and its monitor, and connect."""
        self.identity = connection_identity(self.sensor_id, secrets.token_hex(8))
        sock = self._ctx.socket(zmq.DEALER)
        sock.setsockopt(zmq.IDENTITY, self.identity)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.IMMEDIATE, 1)
        sock.setsockopt(zmq.SNDHWM, max(2 * sum(self.windows.values()), 16))
        sock.setsockopt(zmq.RCVHWM, 1000)
        sock.setsockopt(zmq.RECONNECT_IVL, 100)
        sock.setsockopt(zmq.RECONNECT_IVL_MAX, 2000)
        if self._curve is not None:
            sock.curve_serverkey = self._curve.server_public_key
            sock.curve_publickey = self._curve.public_key
            sock.curve_secretkey = self._curve.secret_key
        self._monitor = sock.get_monitor_socket(zmq.EVENT_CONNECTED | zmq.EVENT_DISCONNECTED)
        try:
            sock.connect(self.endpoint)
        except zmq.ZMQError as exc:
            self._monitor.close(0)
            sock.close(0)
            raise UplinkError(f"cannot connect to {self.endpoint!r}: {exc}") from exc
        self._sock = sock
        self._poller = zmq.Poller()
        self._poller.register(self._sock, zmq.POLLIN)
        self._poller.register(self._monitor, zmq.POLLIN)

    def _close_socket(self) -> None:
        try:
            self._sock.disable_monitor()
        except zmq.ZMQError:  # pragma: no cover
            pass
        self._monitor.close(0)
        self._sock.close(0)

    def _rebuild(self, why: str) -> None:
        """Drop the connection and connect again under a fresh identity (nothing is lost: the spool
        keeps every unacked row, and the new connection starts with a Hello)."""
        log.info("uplink: new connection under a fresh identity (%s)", why)
        self._close_socket()
        self._established = False
        self._handshake_due = None
        self._unanswered_hellos = 0
        self._inflight.clear()
        self.stats.rebuilds += 1
        self._open()

    # ------------------------------------------------------------ state

    @property
    def established(self) -> bool:
        """True once the server answered our Hello on the current connection."""
        return self._established

    @property
    def in_flight(self) -> int:
        return len(self._inflight)

    @property
    def seconds_since_rx(self) -> float | None:
        """Seconds since anything arrived from the server (None: never)."""
        return None if self._last_rx is None else self._monotonic() - self._last_rx

    # ------------------------------------------------------------ sending

    def _send(self, frames: list[bytes] | tuple[bytes, ...]) -> bool:
        try:
            self._sock.send_multipart(list(frames), flags=zmq.NOBLOCK, copy=False)
        except zmq.Again:
            return False
        return True

    def _send_hello(self) -> None:
        if self._unanswered_hellos >= HELLOS_BEFORE_REBUILD:
            # Connected, yet no answer: the server may be ignoring this connection (it still holds
            # another under our identity). A fresh identity gets us in.
            self._rebuild(f"{self._unanswered_hellos} Hellos unanswered")
            return
        seq = self.spool.use_seq_if(lambda s: self._send(self._hello_factory(s).to_frames()))
        if seq is None:  # the connection is not attached yet (ZMQ_IMMEDIATE): try again very soon
            self._handshake_due = self._monotonic() + HELLO_RETRY_S
            return
        self._unanswered_hellos += 1
        self.stats.hellos += 1
        self.hello_seqs.append(seq)
        log.debug("hello sent (seq %d)", seq)
        self._handshake_due = self._monotonic() + self.resend_timeout_s

    def pump(self) -> int:
        """Send spool rows the window allows (new ones and those whose ack is overdue); returns how many."""
        now = self._monotonic()
        if self._handshake_due is not None and now >= self._handshake_due:
            self._send_hello()
        if not self._established:
            return 0
        overdue = {s for s, (t, _) in self._inflight.items() if now - t >= self.resend_timeout_s}
        for s in overdue:
            del self._inflight[s]
        busy: dict[str, int] = dict.fromkeys(LANE_TYPES, 0)
        for _, lane in self._inflight.values():
            busy[lane] += 1
        n = 0
        for lane, types in LANE_TYPES.items():  # summaries last: never starved, as they have their own room
            room = self.windows[lane] - busy[lane]
            if room <= 0:
                continue
            for row in self.spool.pending(room, exclude=self._inflight.keys(), mtypes=types):
                if not self._send(row.frames):
                    return n
                self._inflight[row.seq] = (now, lane)
                n += 1
                if row.seq in overdue:
                    self.stats.resent += 1
                else:
                    self.stats.sent += 1
        return n

    def in_flight_by_lane(self) -> dict[str, int]:
        """Rows sent and not yet acked, per lane."""
        out = dict.fromkeys(LANE_TYPES, 0)
        for _, lane in self._inflight.values():
            out[lane] += 1
        return out

    # ------------------------------------------------------------ receiving

    def _on_monitor(self) -> None:
        evt = recv_monitor_message(self._monitor, flags=zmq.NOBLOCK)
        if evt["event"] == zmq.EVENT_CONNECTED:
            self.stats.connects += 1
            log.info("uplink connected to %s", self.endpoint)
            self._established = False
            self._inflight.clear()  # a new connection: whatever was in flight may be lost
            self._send_hello()
        elif evt["event"] == zmq.EVENT_DISCONNECTED:
            log.warning("uplink disconnected from %s; spool keeps %d rows", self.endpoint, self.spool.depth)
            self._rebuild("disconnected")

    def _on_message(self, frames: list[bytes]) -> Message | None:
        if frames and frames[0] == b"":  # tolerate a REQ-style empty delimiter
            frames = frames[1:]
        try:
            msg = decode(frames, allowed=INBOUND_TYPES)
        except ProtocolError as exc:
            self.stats.rejected_inbound += 1
            log.warning("rejected message from server: %s", exc)
            return None
        self._last_rx = self._monotonic()
        kind = msg.TYPE.decode()
        self.stats.inbound[kind] = self.stats.inbound.get(kind, 0) + 1
        if not self._established:
            self._established = True
            self._handshake_due = None
            self._unanswered_hellos = 0
            log.info("uplink established with %s", self.endpoint)
        if isinstance(msg, Ack):
            for s in msg.acked:
                self._inflight.pop(s, None)
            self.stats.acked += self.spool.ack(msg.acked)
            return None
        return msg

    def poll(self, timeout_s: float) -> list[Message]:
        """Wait up to ``timeout_s`` for traffic; handle acks and return ProfileMsg/Command messages."""
        out: list[Message] = []
        events = dict(self._poller.poll(max(0, int(timeout_s * 1000))))
        if not events:
            return out
        monitor = self._monitor
        while monitor is self._monitor and monitor.poll(0):  # a disconnect re-makes the sockets
            self._on_monitor()
        for _ in range(1000):  # bounded drain: a flooding peer cannot pin us here
            try:
                frames = self._sock.recv_multipart(flags=zmq.NOBLOCK)
            except zmq.Again:
                break
            msg = self._on_message(frames)
            if msg is not None:
                out.append(msg)
        return out

    def service(self, timeout_s: float = 0.0) -> list[Message]:
        """Send, wait up to ``timeout_s`` for replies, send again (acks free window room)."""
        self.pump()
        msgs = self.poll(timeout_s)
        self.pump()
        return msgs

    def flush(self, timeout_s: float) -> bool:
        """Service until the spool is empty or ``timeout_s`` passed; True when everything was acked."""
        deadline = time.monotonic() + timeout_s
        while self.spool.depth and time.monotonic() < deadline:
            self.service(min(0.05, max(0.0, deadline - time.monotonic())))
        return self.spool.depth == 0

    def close(self) -> None:
        """Close the sockets (LINGER 0: unsent data stays in the spool, not in ZeroMQ queues)."""
        if self._sock.closed:
            return
        self._close_socket()
        if self._own_context:
            self._ctx.term()
