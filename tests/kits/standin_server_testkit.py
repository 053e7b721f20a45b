"""A minimal coordination-server stand-in for the sensor tests: a real ROUTER on 127.0.0.1.

It speaks the committed wire protocol (coordination.protocol): decodes every sensor message,
stores by (sensor_id, seq) idempotently (counting duplicates), acks every stored seq, answers
Hello with a ProfileMsg, and can order a capture. It runs on a background thread with a bounded
poll loop; ``stop()`` ends it. The ``store`` can be handed to a new instance to model a server
restart that keeps its database.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime

import zmq

from coordination.ingest import SENSOR_TYPES as INGEST_SENSOR_TYPES
from coordination.protocol import (
    Ack,
    Command,
    Hello,
    Message,
    MonitoringProfile,
    ProfileMsg,
    ProtocolError,
    decode,
    format_utc,
    identity_sensor,
)

#: what sensors may send: the server's own list, so the stand-in never refuses (and leaves unacked) a new type
SENSOR_TYPES = INGEST_SENSOR_TYPES


@dataclass
class StandInStore:
    """What the stand-in 'stored': messages by (sensor_id, seq), duplicates and rejections counted."""

    messages: dict[tuple[str, int], Message] = field(default_factory=dict)
    duplicates: int = 0
    rejected: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    hellos: list[Hello] = field(default_factory=list)

    def of_type(self, mtype: bytes, sensor_id: str | None = None) -> list[Message]:
        return sorted((m for (sid, _), m in self.messages.items()
                       if m.TYPE == mtype and (sensor_id is None or sid == sensor_id)), key=lambda m: m.seq)

    def seqs(self, sensor_id: str) -> list[int]:
        return sorted(s for (sid, s) in self.messages if sid == sensor_id)


class StandInServer:
    """ROUTER stand-in; use as a context manager or call start()/stop()."""

    def __init__(self, endpoint: str, *, profiles: tuple[MonitoringProfile, ...] = (), ack: bool = True,
                 store: StandInStore | None = None) -> None:
        self.endpoint = endpoint
        self.profiles = profiles
        self.ack = ack
        self.store = store if store is not None else StandInStore()
        self._ctx = zmq.Context()
        self._stop = threading.Event()
        self._outbox: list[tuple[bytes, list[bytes]]] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="standin-server", daemon=True)
        self._seq = 0
        self._routes: dict[str, bytes] = {}  # sensor id -> identity of its latest Hello
        self._ready = threading.Event()

    def __enter__(self) -> StandInServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self._thread.start()
        if not self._ready.wait(5):
            raise RuntimeError("stand-in server did not start")

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._ctx.term()

    def _next(self) -> tuple[str, int, str]:
        self._seq += 1
        return "server", self._seq, format_utc(datetime.now(UTC))

    def send(self, sensor_id: str, msg: Message) -> None:
        """Queue a message to a sensor (sent from the server thread)."""
        with self._lock:
            self._outbox.append((self._routes.get(sensor_id, sensor_id.encode()), msg.to_frames()))

    def command(self, sensor_id: str, command_id: str, action: str, params: dict) -> None:
        self.send(sensor_id, Command(*self._next(), command_id=command_id, action=action, params=params))

    def _run(self) -> None:
        sock = self._ctx.socket(zmq.ROUTER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.ROUTER_MANDATORY, 0)
        sock.bind(self.endpoint)
        self._ready.set()
        try:
            while not self._stop.is_set():
                if sock.poll(20):
                    for _ in range(500):
                        try:
                            frames = sock.recv_multipart(zmq.NOBLOCK)
                        except zmq.Again:
                            break
                        self._handle(sock, frames)
                with self._lock:
                    out, self._outbox = self._outbox, []
                for ident, frames in out:
                    sock.send_multipart([ident, *frames])
        finally:
            sock.close(0)

    def _handle(self, sock: zmq.Socket, frames: list[bytes]) -> None:
        ident, body = frames[0], frames[1:]
        try:
            msg = decode(body, allowed=SENSOR_TYPES)
        except ProtocolError as exc:
            self.store.rejected[exc.reason] += 1
            return
        if msg.sensor_id.encode() != identity_sensor(ident):
            self.store.rejected["identity"] += 1
            return
        if isinstance(msg, Hello):
            self._routes[msg.sensor_id] = ident  # commands go to the sensor's latest connection
            self.store.hellos.append(msg)
            sock.send_multipart([ident, *ProfileMsg(*self._next(), profiles=self.profiles).to_frames()])
            return
        key = (msg.sensor_id, msg.seq)
        if key in self.store.messages:
            self.store.duplicates += 1
        else:
            self.store.messages[key] = msg
        if self.ack:
            sock.send_multipart([ident, *Ack(*self._next(), acked=(msg.seq,)).to_frames()])
