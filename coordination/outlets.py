"""The server's outgoing paths as small objects the parts share: the publication socket, the
ROUTER sockets' replies, and the server's own message sequence numbers.

The server owns the sockets (it binds, re-creates and closes them); the parts only send through
these outlets, so none of them holds a socket or reaches into the server for one. Every send is
non-blocking: a slow or gone peer costs a dropped message (logged at debug, counted where it
matters), never a stalled loop.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Sequence
from typing import Protocol

import zmq

from coordination.counters import Counters

log = logging.getLogger(__name__)

#: The ``sensor_id`` the server puts in the messages it originates.
SERVER_ID = "server"


class Replies(Protocol):
    """Where a part sends a message to one peer of a ROUTER socket (:class:`RouterReplies`)."""

    def send(self, envelope: Sequence[bytes], frames: Sequence[bytes]) -> bool: ...


class Publish(Protocol):
    """Where a part publishes a message on a topic (:class:`Publisher`)."""

    def publish(self, topic: str, frames: Sequence[bytes]) -> bool: ...


class MessageSeq:
    """Sequence numbers of the messages the server originates (start from the wall clock in ms, so a
    restarted server does not reuse the previous run's numbers)."""

    def __init__(self, start: int | None = None) -> None:
        self._it = itertools.count(int(time.time() * 1000) if start is None else start)

    def next(self) -> int:
        return next(self._it)


class Publisher:
    """The PUB (or XPUB) socket: ``publish(topic, frames)``, counted per topic family."""

    def __init__(self, counters: Counters, sock: zmq.Socket | None = None) -> None:
        self.counters = counters
        self.sock = sock

    def publish(self, topic: str, frames: Sequence[bytes]) -> bool:
        """Send ``[topic, *frames]``; False when dropped (no socket, HWM reached)."""
        if self.sock is None:
            return False
        try:
            self.sock.send_multipart([topic.encode(), *frames], zmq.NOBLOCK)
        except zmq.ZMQError as exc:
            log.debug("publish on %s dropped: %s", topic, exc)
            return False
        self.counters.published[topic.split(".", 1)[0]] += 1
        return True


class RouterReplies:
    """Replies on a ROUTER socket to a peer named by its envelope; closed (``sock=None``) at shutdown."""

    def __init__(self, role: str, sock: zmq.Socket | None = None) -> None:
        self.role = role
        self.sock = sock

    @property
    def open(self) -> bool:
        return self.sock is not None

    def send(self, envelope: Sequence[bytes], frames: Sequence[bytes]) -> bool:
        """Send ``[*envelope, *frames]`` without blocking; False when not sent (peer gone, HWM, closed)."""
        if self.sock is None:
            return False
        try:
            self.sock.send_multipart([*envelope, *frames], zmq.NOBLOCK)
        except zmq.ZMQError as exc:
            log.debug("%s reply to %r not sent: %s", self.role, bytes(envelope[0])[:64] if envelope else b"", exc)
            return False
        return True
