"""A client of a coordination server: API requests (DEALER) and publications (SUB), nothing else.

Plain protocol-level client code: it imports ZeroMQ and :mod:`coordination.protocol` and nothing of
the server, so every client uses it: the CLI (``borderwatch alerts``), the demo, the console
(``gui/`` may import it under the same rule that lets it import the protocol), the web view,
benchmarks and tests. One place decides how a reply is matched to its request, what a refused
send means, and how a publication is split into its topic and message.

- :class:`ApiClient`: requests on the API socket. ``call()`` blocks for the reply; ``send()`` and
  ``replies()`` let a worker loop (the console's) keep many requests in flight.
- :class:`Subscription`: a SUB socket on topic prefixes (``alert.ZJ``, ``sensor.``, ``spectrum.<id>``);
  ``read()`` returns what arrived as :class:`Publication` values, dropping and counting bad frames.
- :func:`parse_publication`: the one decoder of a publication, for loops that own their socket
  (an asyncio one in the web view).
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, Self, TypeVar

import zmq

from coordination.protocol import AlertMsg, Message, ProtocolError, Reply, Request, decode, decode_as, utc_now_iso

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Messages taken per ``read()``/``replies()`` call: a burst cannot starve the caller's other work.
MAX_READS = 2000


class ApiError(ValueError):
    """A request the server refused (unknown id, bad argument...); the message is the server's."""


class SocketKeys(Protocol):
    """What secures a client socket before it connects (``coordination.keys.ClientKeys``: CURVE keys)."""

    def apply(self, sock: zmq.Socket) -> None: ...


@dataclass(frozen=True)
class Publication:
    """One message from the server's PUB socket and the topic it came on."""

    topic: str
    msg: Message

    @property
    def province(self) -> str:
        """The province of an ``alert.<P>``, ``case.<P>`` or ``coord.<P>`` topic (the topic itself otherwise)."""
        return self.topic.split(".", 1)[1] if self.topic.startswith(("alert.", "case.", "coord.")) else self.topic


def parse_publication(frames: Sequence[bytes], allowed: Sequence[bytes] = (AlertMsg.TYPE,)) -> Publication:
    """``[topic, type, header, payload...]`` -> Publication; ProtocolError when it is not a valid one."""
    if len(frames) < 3:
        raise ProtocolError("frames", f"a publication needs a topic and a message, got {len(frames)} frames")
    try:
        topic = bytes(frames[0]).decode("ascii")
    except UnicodeDecodeError:
        raise ProtocolError("topic", "publication topic is not ASCII") from None
    return Publication(topic, decode(frames[1:], allowed=allowed))


class _ClientSocket:
    """One socket of a client on the server, in its own ZeroMQ context unless one is given (ended with it)."""

    def __init__(self, ctx: zmq.Context | None, kind: int) -> None:
        self._own_ctx = ctx is None
        self.ctx = ctx or zmq.Context()
        self.sock = self.ctx.socket(kind)
        self.sock.setsockopt(zmq.LINGER, 0)
        #: Messages that arrived but were not valid protocol messages (of an allowed type): dropped.
        self.rejected = 0

    def _drain(self, max_n: int, parse: Callable[[list[bytes]], T],
               on_bad: Callable[[ProtocolError], None]) -> list[T]:
        """Up to ``max_n`` messages that have arrived (without waiting), parsed; one that is not a valid
        message is dropped, counted in ``rejected`` and passed to ``on_bad``."""
        out: list[T] = []
        for _ in range(max_n):
            try:
                frames = self.sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                break
            try:
                out.append(parse(frames))
            except ProtocolError as exc:
                self.rejected += 1
                on_bad(exc)
        return out

    def close(self) -> None:
        self.sock.close(0)
        if self._own_ctx:
            self.ctx.term()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ApiClient(_ClientSocket):
    """Requests to the server's API socket (DEALER), matched to replies by ``seq``.

    Not thread-safe: one thread uses one client (ZeroMQ sockets belong to a thread).
    """

    def __init__(self, addr: str, *, timeout_s: float = 5.0, ctx: zmq.Context | None = None,
                 client_id: str = "client", keys: SocketKeys | None = None) -> None:
        """``keys``: CurveZMQ client keys (``coordination.keys.load_client_keys``); None for plain TCP."""
        self.addr = addr
        self.timeout_s = timeout_s
        super().__init__(ctx, zmq.DEALER)
        # A send never waits forever: with no connection (server down, or CURVE refused) it times out.
        self.sock.setsockopt(zmq.SNDTIMEO, max(1, int(timeout_s * 1000)))
        if keys is not None:
            keys.apply(self.sock)
        self.sock.connect(addr)
        self.client_id = client_id
        self._seq = itertools.count(1)

    def send(self, op: str, args: Mapping[str, Any] | None = None, *, block: bool = True) -> int:
        """Send one request; its ``seq`` (the reply echoes it). TimeoutError when it cannot go out
        (after ``timeout_s``, or at once with ``block=False``)."""
        seq = next(self._seq)
        req = Request(self.client_id, seq, utc_now_iso(), op=op, args=dict(args or {}))
        try:
            self.sock.send_multipart(req.to_frames(), 0 if block else zmq.NOBLOCK)
        except zmq.Again:
            raise TimeoutError(f"cannot reach {self.addr} for {op!r} within {self.timeout_s:g} s "
                               "(server down, or keys refused)") from None
        return seq

    def replies(self, max_n: int = MAX_READS) -> list[Reply]:
        """The replies that have arrived (without waiting); invalid ones are dropped and counted."""
        def bad(exc: ProtocolError) -> None:
            log.warning("bad reply from %s: %s", self.addr, exc)

        return self._drain(max_n, lambda frames: decode_as(frames, Reply), bad)

    def call(self, op: str, args: Mapping[str, Any] | None = None, *, timeout_s: float | None = None) -> Reply:
        """Send one request and wait for its reply; TimeoutError if the server does not answer."""
        seq = self.send(op, args)
        wait_s = self.timeout_s if timeout_s is None else timeout_s
        deadline = time.monotonic() + wait_s
        while True:
            left_ms = int((deadline - time.monotonic()) * 1000)
            if left_ms <= 0 or not self.sock.poll(left_ms):
                raise TimeoutError(f"no answer from {self.addr} to {op!r} within {wait_s:g} s")
            for reply in self.replies():
                if reply.seq == seq:
                    return reply

    def result(self, op: str, args: Mapping[str, Any] | None = None) -> Any:
        """The result of a successful call; ApiError with the server's message otherwise."""
        reply = self.call(op, args)
        if not reply.ok:
            raise ApiError(reply.error or f"{op} failed")
        return reply.result


class Subscription(_ClientSocket):
    """A SUB socket on the server's publications, decoded; not thread-safe (one thread reads it).

    ``allowed``: the message types taken (others on the same topics are dropped and counted).
    ``on_reject(text)`` hears about each dropped frame (the CLI shows it; the default only logs).
    """

    def __init__(self, addr: str, topics: Iterable[str] = ("alert.",), *, ctx: zmq.Context | None = None,
                 keys: SocketKeys | None = None, allowed: Sequence[bytes] = (AlertMsg.TYPE,),
                 rcvhwm: int | None = None, on_reject: Callable[[str], None] | None = None) -> None:
        self.addr = addr
        self.allowed = tuple(allowed)
        self.on_reject = on_reject
        super().__init__(ctx, zmq.SUB)
        if rcvhwm is not None:
            self.sock.setsockopt(zmq.RCVHWM, rcvhwm)
        if keys is not None:  # before connecting: a CURVE server refuses a plain first attempt (counted)
            keys.apply(self.sock)
        self.topics: set[str] = set()
        for t in topics:
            self.subscribe(t)
        self.sock.connect(addr)

    def subscribe(self, topic: str) -> None:
        if topic not in self.topics:
            self.sock.setsockopt(zmq.SUBSCRIBE, topic.encode())
            self.topics.add(topic)

    def unsubscribe(self, topic: str) -> None:
        if topic in self.topics:
            self.sock.setsockopt(zmq.UNSUBSCRIBE, topic.encode())
            self.topics.discard(topic)

    def wait(self, timeout_ms: int) -> bool:
        """Whether something arrived within ``timeout_ms``."""
        return bool(self.sock.poll(max(0, timeout_ms)))

    def read(self, max_n: int = MAX_READS) -> list[Publication]:
        """The publications that have arrived (without waiting)."""
        def bad(exc: ProtocolError) -> None:
            log.debug("bad publication from %s: %s", self.addr, exc)
            if self.on_reject is not None:
                self.on_reject(str(exc))

        return self._drain(max_n, lambda frames: parse_publication(frames, self.allowed), bad)

