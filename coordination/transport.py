"""The one place the server creates its ZeroMQ sockets.

Security (CurveZMQ with a ZAP allow-list) plugs in here: a :class:`SocketFactory` is
given a policy object whose ``apply_server(socket, role)`` sets the CURVE options before bind.
Every server socket goes through :meth:`SocketFactory.bind`, so no socket escapes the policy.
"""

from __future__ import annotations

import logging
from typing import Protocol

import zmq

log = logging.getLogger(__name__)

#: Roles of the server's sockets (the security policy may treat them differently).
ROLE_SENSORS = "sensors"
ROLE_API = "api"
ROLE_PUB = "pub"

#: Transport-level cap per inbound frame: a memory guard well above the protocol limits, so that
#: oversized messages still reach the validator and get counted (the protocol enforces the real limit).
MAX_FRAME_BYTES = {ROLE_SENSORS: 32 * 1024 * 1024, ROLE_API: 4 * 1024 * 1024}


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
                # A restarted sensor reconnects with its identity while the server may still hold the
                # old (half-open) connection: the new connection takes over instead of being refused.
                sock.setsockopt(zmq.ROUTER_HANDOVER, 1)
            self.policy.apply_server(sock, role)
            sock.bind(addr)
            endpoint = sock.getsockopt_string(zmq.LAST_ENDPOINT)
        except zmq.ZMQError as exc:
            sock.close(0)
            raise OSError(f"cannot bind the {role} socket to {addr}: {exc}") from exc
        log.info("%s socket bound to %s", role, endpoint)
        return sock, endpoint
