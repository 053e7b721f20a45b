"""The one place the server creates its ZeroMQ sockets.

Security (CurveZMQ with a ZAP allow-list) plugs in here: a :class:`SocketFactory` is
given a policy object whose ``apply_server(socket, role)`` sets the CURVE options before bind.
Every server socket goes through :meth:`SocketFactory.bind`, so no socket escapes the policy.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

import zmq

from coordination.protocol import MAX_HEADER_BYTES, MAX_MESSAGE_BYTES, MAX_SPECTRUM_BINS

log = logging.getLogger(__name__)

#: Roles of the server's sockets (the security policy may treat them differently).
ROLE_SENSORS = "sensors"
ROLE_API = "api"
ROLE_PUB = "pub"

#: Transport-level cap per inbound frame (``ZMQ_MAXMSGSIZE``): twice the largest frame the protocol
#: allows (a spectrum of MAX_SPECTRUM_BINS float64 bins). libzmq checks it from the frame's length
#: prefix, before allocating, and disconnects the peer (seen by the security monitor as a
#: disconnect): a 100 MB frame costs nothing. Frames between the protocol limit and this cap reach
#: :func:`recv_bounded` and are counted as ``size``. It is the only bound libzmq applies before a
#: whole multipart message is buffered (libzmq has no limit on frames per message).
MAX_FRAME_BYTES = {ROLE_SENSORS: 2 * (MAX_SPECTRUM_BINS * 8 + MAX_HEADER_BYTES), ROLE_API: 4 * 1024 * 1024}
#: Largest whole inbound message per socket (all frames) and most frames: larger ones are refused
#: frame by frame while being received (:func:`recv_bounded`), never assembled in Python.
#: (A sensor's largest message is a spectrum; the API takes requests only.)
MAX_INBOUND_BYTES = {ROLE_SENSORS: MAX_MESSAGE_BYTES[b"spectrum"] + 4096,
                     ROLE_API: MAX_MESSAGE_BYTES[b"request"] + 4096}
MAX_INBOUND_FRAMES = 72  # identity (+ empty delimiter) + the protocol's 70
#: ZeroMQ heartbeats on the sensors socket: a half-open connection (a sensor's power cut) is closed
#: after HEARTBEAT_TIMEOUT_MS, so its identity is free again for the sensor's next connection.
HEARTBEAT_IVL_MS = 2000
HEARTBEAT_TIMEOUT_MS = 10_000


def recv_bounded(sock: zmq.Socket, max_bytes: int, max_frames: int = MAX_INBOUND_FRAMES,
                 flags: int = zmq.NOBLOCK) -> tuple[list[zmq.Frame], str | None]:
    """Receive one multipart message frame by frame without copying; stop keeping frames once it
    exceeds ``max_frames`` or ``max_bytes`` and drain (release) the rest.

    Returns ``(frames, None)`` for a message within bounds, ``(frames kept so far, reason)`` with
    reason ``frames`` or ``size`` otherwise (the first frame, the peer's identity, is always kept so
    the refusal can be counted per peer). Raises ``zmq.Again`` when nothing is waiting.
    """
    frames: list[zmq.Frame] = []
    total = 0
    over: str | None = None
    frame = sock.recv(flags, copy=False)
    while True:
        if over is None:
            total += len(frame.buffer)
            if len(frames) >= max_frames:
                over = "frames"
            elif total > max_bytes:
                over = "size"
            if over is None or not frames:
                frames.append(frame)
        if not frame.more:
            return frames, over
        frame = sock.recv(0, copy=False)  # the rest of a multipart message is already here


def frames_bytes(frames: Sequence[zmq.Frame]) -> list[bytes]:
    """Copy received frames into bytes (only for messages within bounds)."""
    return [f.bytes for f in frames]


class SecurityPolicy(Protocol):
    """Hook for authentication/encryption: configure a server socket before it binds."""

    def apply_server(self, sock: zmq.Socket, role: str) -> None: ...


class InsecurePolicy:
    """Plain TCP (no CURVE). Only for loopback tests, the demo, and ``--insecure``."""

    def apply_server(self, sock: zmq.Socket, role: str) -> None:
        return None


class SocketFactory:
    """Creates, configures and binds every server socket."""

    def __init__(self, ctx: zmq.Context, policy: SecurityPolicy | None = None, *, rcv_hwm: int = 100_000,
                 snd_hwm: int = 100_000) -> None:
        self.ctx = ctx
        self.policy = policy or InsecurePolicy()
        self.rcv_hwm = rcv_hwm
        self.snd_hwm = snd_hwm

    def bind(self, kind: int, addr: str, role: str) -> tuple[zmq.Socket, str]:
        """Make a socket of ``kind`` for ``role``, bind it to ``addr``; return it and the real endpoint."""
        sock = self.ctx.socket(kind)
        try:
            sock.setsockopt(zmq.LINGER, 0)
            sock.setsockopt(zmq.RCVHWM, self.rcv_hwm)
            sock.setsockopt(zmq.SNDHWM, self.snd_hwm)
            if role in MAX_FRAME_BYTES:
                sock.setsockopt(zmq.MAXMSGSIZE, MAX_FRAME_BYTES[role])
            if kind == zmq.ROUTER:
                # Replies to a peer that has gone are dropped, never block the loop.
                sock.setsockopt(zmq.ROUTER_MANDATORY, 0)
            if role == ROLE_SENSORS:
                # No ROUTER_HANDOVER: with it, any key could connect under a live sensor's identity and
                # take its acks and commands (the victim's pipe was renamed and its messages refused).
                # A second connection under a held identity is ignored instead. Sensors connect as
                # "<id>~<nonce>" (coordination.protocol.connection_identity), fresh after every
                # disconnect, so a restarted sensor never waits for its own old connection; heartbeats
                # close half-open connections so a plain "<id>" identity is freed too.
                sock.setsockopt(zmq.ROUTER_HANDOVER, 0)
                sock.setsockopt(zmq.HEARTBEAT_IVL, HEARTBEAT_IVL_MS)
                sock.setsockopt(zmq.HEARTBEAT_TIMEOUT, HEARTBEAT_TIMEOUT_MS)
            self.policy.apply_server(sock, role)
            sock.bind(addr)
            endpoint = sock.getsockopt_string(zmq.LAST_ENDPOINT)
        except zmq.ZMQError as exc:
            sock.close(0)
            raise OSError(f"cannot bind the {role} socket to {addr}: {exc}") from exc
        log.info("%s socket bound to %s", role, endpoint)
        return sock, endpoint
