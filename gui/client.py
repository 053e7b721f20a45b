"""The console's ZeroMQ client: API requests and PUB subscriptions on a worker QThread.

The sockets are :mod:`coordination.client`'s (plain protocol-level client code, the same the CLI,
the demo and the web view use); this module adds what a UI needs around them:

The UI thread never touches a socket and never waits on the network. It queues requests with
:meth:`ServerClient.request` and, once per frame (a QTimer in the window), calls
:meth:`ServerClient.drain` to collect everything that arrived since: spectra, alert events,
sensor status and replies (whose callbacks then run in the UI thread). No Qt signal is emitted
per message, so a burst of thousands of spectra costs one batch per frame, and the per-sensor
spectrum backlog is bounded so a stalled UI cannot make memory grow.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import zmq
from PySide6.QtCore import QThread

from coordination.client import ApiClient, SocketKeys, Subscription
from coordination.protocol import AlertMsg, Heartbeat, Reply, Spectrum

log = logging.getLogger(__name__)

ReplyCallback = Callable[[Reply], None]
ErrorCallback = Callable[[str], None]

DEFAULT_API_PORT = 5561
#: Spectra kept per sensor between two drains (older ones are dropped and counted).
MAX_SPECTRA_BACKLOG = 512


class AddressError(ValueError):
    """A server address the console cannot use."""


def resolve_addresses(server: str, pub: str | None = None) -> tuple[str, str]:
    """(api, pub) endpoints from ``--server`` (host, host:port or tcp://host:port) and ``--pub``.

    The API port defaults to 5561; the PUB address defaults to the API port + 1 on the same host.
    """
    text = server.strip()
    if not text:
        raise AddressError("empty server address: give a host (127.0.0.1) or tcp://HOST:PORT")
    if "://" in text:
        scheme, rest = text.split("://", 1)
        if scheme != "tcp":
            raise AddressError(f"server address {server!r}: only tcp:// is supported")
    else:
        rest = text
    host, sep, port_text = rest.rpartition(":")
    if not sep:
        host, port = rest, DEFAULT_API_PORT
    else:
        try:
            port = int(port_text)
        except ValueError:
            raise AddressError(f"server address {server!r}: port {port_text!r} is not a number") from None
        if not 0 < port < 65535:
            raise AddressError(f"server address {server!r}: port {port} out of range")
    if not host:
        raise AddressError(f"server address {server!r} has no host")
    api = f"tcp://{host}:{port}"
    if pub is None:
        return api, f"tcp://{host}:{port + 1}"
    pub_text = pub if "://" in pub else f"tcp://{pub}"
    if ":" not in pub_text.split("://", 1)[1]:
        raise AddressError(f"pub address {pub!r} needs a port (HOST:PORT)")
    return api, pub_text


@dataclass
class Inbox:
    """Everything that arrived since the previous :meth:`ServerClient.drain`."""

    spectra: dict[str, list[Spectrum]] = field(default_factory=dict)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    statuses: dict[str, dict[str, Any]] = field(default_factory=dict)
    replies: list[tuple[Reply | None, str | None, ReplyCallback | None, ErrorCallback | None]] = field(
        default_factory=list)
    dropped_spectra: int = 0

    def empty(self) -> bool:
        return not (self.spectra or self.alerts or self.statuses or self.replies)


@dataclass
class _Pending:
    op: str
    args: dict[str, Any]
    deadline: float
    on_reply: ReplyCallback | None
    on_error: ErrorCallback | None


class ServerClient(QThread):
    """API (DEALER) and PUB (SUB) sockets served by one worker thread; the UI only drains.

    ``spectrum_sensors`` limits the live spectrum subscription (``spectrum.<id>`` topics) to the
    sensors the window shows; alerts and sensor status are always subscribed.
    """

    def __init__(self, api_addr: str, pub_addr: str, *, client_id: str = "console", timeout_s: float = 5.0,
                 poll_ms: int = 10, keys: SocketKeys | None = None, parent: Any = None) -> None:
        """``keys`` secure both sockets before they connect (CURVE client keys)."""
        super().__init__(parent)
        self.keys = keys
        self.api_addr = api_addr
        self.pub_addr = pub_addr
        self.client_id = client_id
        self.timeout_s = timeout_s
        self.poll_ms = poll_ms
        self._outbox: queue.Queue[tuple[str, Any]] = queue.Queue()
        self._lock = threading.Lock()
        self._inbox = Inbox()
        self._backlog: dict[str, deque[Spectrum]] = {}
        self._stop = threading.Event()
        self.rejected = 0
        self.last_message_monotonic: float | None = None

    # ------------------------------------------------------------ UI-thread API

    def request(self, op: str, args: Mapping[str, Any] | None = None, on_reply: ReplyCallback | None = None,
                on_error: ErrorCallback | None = None) -> None:
        """Queue an API request; ``on_reply``/``on_error`` run later in the thread that drains."""
        self._outbox.put(("request", _Pending(op, dict(args or {}), 0.0, on_reply, on_error)))

    def subscribe_spectra(self, sensor_ids: set[str] | list[str] | tuple[str, ...]) -> None:
        """Receive live spectra of exactly these sensors from now on."""
        self._outbox.put(("spectra", set(sensor_ids)))

    def drain(self) -> Inbox:
        """Take everything received so far (called by the UI once per frame)."""
        with self._lock:
            box, self._inbox = self._inbox, Inbox()
            for sid, dq in self._backlog.items():
                if dq:
                    box.spectra[sid] = list(dq)
                    dq.clear()
        return box

    def dispatch(self, box: Inbox) -> None:
        """Run the reply/error callbacks of a drained inbox (in the calling, i.e. UI, thread)."""
        for reply, error, on_reply, on_error in box.replies:
            try:
                if reply is not None and reply.ok:
                    if on_reply is not None:
                        on_reply(reply)
                elif on_error is not None:
                    on_error(error if error is not None else (reply.error if reply else "") or "request failed")
                elif reply is not None and not reply.ok:
                    log.warning("request failed: %s", reply.error)
            except Exception:  # one broken callback must not stop the frame
                log.exception("reply callback failed")

    def stop(self, timeout_s: float = 5.0) -> None:
        """End the worker and close its sockets."""
        self._stop.set()
        self.wait(int(timeout_s * 1000))

    # ------------------------------------------------------------ worker thread

    def run(self) -> None:
        ctx = zmq.Context()
        api: ApiClient | None = None
        sub: Subscription | None = None
        try:
            api = ApiClient(self.api_addr, ctx=ctx, client_id=self.client_id, timeout_s=self.timeout_s,
                            keys=self.keys)
            sub = Subscription(self.pub_addr, ("alert.", "sensor."), ctx=ctx, keys=self.keys, rcvhwm=10_000,
                               allowed=(Spectrum.TYPE, AlertMsg.TYPE, Heartbeat.TYPE))
            self._loop(api, sub)
        except Exception:
            log.exception("console network worker failed")
        finally:
            for closable in (api, sub):
                if closable is not None:
                    closable.close()
            ctx.term()

    def _loop(self, api: ApiClient, sub: Subscription) -> None:
        poller = zmq.Poller()
        poller.register(api.sock, zmq.POLLIN)
        poller.register(sub.sock, zmq.POLLIN)
        pending: dict[int, _Pending] = {}
        while not self._stop.is_set():
            self._send_outbox(api, sub, pending)
            events = dict(poller.poll(self.poll_ms))
            if api.sock in events:
                self._read_api(api, pending)
            if sub.sock in events:
                self._read_sub(sub)
            self.rejected = api.rejected + sub.rejected
            self._expire(pending)

    def _send_outbox(self, api: ApiClient, sub: Subscription, pending: dict[int, _Pending]) -> None:
        while True:
            try:
                kind, item = self._outbox.get_nowait()
            except queue.Empty:
                return
            if kind == "request":
                p: _Pending = item
                try:
                    seq = api.send(p.op, p.args, block=False)
                except TimeoutError as exc:
                    self._add_reply(None, f"{p.op}: not sent ({exc})", p)
                    continue
                p.deadline = time.monotonic() + self.timeout_s
                pending[seq] = p
            elif kind == "spectra":
                want = {f"spectrum.{sid}" for sid in item}
                for t in {t for t in sub.topics if t.startswith("spectrum.")} - want:
                    sub.unsubscribe(t)
                for t in want:
                    sub.subscribe(t)

    def _read_api(self, api: ApiClient, pending: dict[int, _Pending]) -> None:
        replies = api.replies()
        if replies:
            self.last_message_monotonic = time.monotonic()
        for reply in replies:
            p = pending.pop(reply.seq, None)
            if p is None:
                log.debug("late or unknown reply seq %d", reply.seq)
                continue
            self._add_reply(reply, None if reply.ok else (reply.error or f"{p.op} failed"), p)

    def _read_sub(self, sub: Subscription) -> None:
        pubs = sub.read()
        if pubs:
            self.last_message_monotonic = time.monotonic()
        with self._lock:
            for pub in pubs:
                msg = pub.msg
                if isinstance(msg, Spectrum):
                    dq = self._backlog.setdefault(msg.sensor_id, deque(maxlen=MAX_SPECTRA_BACKLOG))
                    if len(dq) == dq.maxlen:
                        self._inbox.dropped_spectra += 1
                    dq.append(msg)
                elif isinstance(msg, AlertMsg):
                    self._inbox.alerts.append(dict(msg.alert))
                elif isinstance(msg, Heartbeat):
                    self._inbox.statuses[msg.sensor_id] = dict(msg.health) | {"_t_utc": msg.t_utc}

    def _expire(self, pending: dict[int, _Pending]) -> None:
        now = time.monotonic()
        for seq in [s for s, p in pending.items() if p.deadline < now]:
            p = pending.pop(seq)
            self._add_reply(None, f"no answer from {self.api_addr} to {p.op!r} within {self.timeout_s:g} s", p)

    def _add_reply(self, reply: Reply | None, error: str | None, p: _Pending) -> None:
        with self._lock:
            self._inbox.replies.append((reply, error, p.on_reply, p.on_error))
