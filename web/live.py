"""Live updates: alert and case events from the server's PUB socket, fanned out to browsers as SSE.

One SUB socket per web server (subscribed to ``alert.<P>`` and ``case.<P>`` for the provinces it
serves) feeds a hub; each browser's event stream registers a bounded queue with its team's provinces and gets
only events on those provinces' topics. A slow browser loses old events (the queue drops the
oldest), never stalls the others; a page that hears an event reloads what it shows.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

import zmq
import zmq.asyncio

from coordination.client import parse_publication
from coordination.keys import ClientKeys
from coordination.protocol import AlertMsg, CaseMsg, ProtocolError

log = logging.getLogger(__name__)

QUEUE_LEN = 64
KEEPALIVE_S = 15.0


@dataclass(eq=False)
class _Listener:
    provinces: frozenset[str]
    queue: asyncio.Queue[str] = field(default_factory=lambda: asyncio.Queue(QUEUE_LEN))


class LiveHub:
    """Subscribers by province; :meth:`publish` hands an event to those whose provinces it concerns."""

    def __init__(self) -> None:
        self._listeners: set[_Listener] = set()
        self.dropped = 0

    def publish(self, province: str, payload: str) -> None:
        for lst in list(self._listeners):
            if province in lst.provinces:
                if lst.queue.full():
                    lst.queue.get_nowait()
                    self.dropped += 1
                lst.queue.put_nowait(payload)

    async def stream(self, provinces: Sequence[str], keepalive_s: float = KEEPALIVE_S) -> AsyncIterator[str]:
        """SSE text for one browser until it goes away."""
        lst = _Listener(frozenset(provinces))
        self._listeners.add(lst)
        try:
            yield "retry: 5000\n\n"
            while True:
                try:
                    payload = await asyncio.wait_for(lst.queue.get(), keepalive_s)
                except TimeoutError:
                    yield ": keepalive\n\n"
                    continue
                yield f"event: alert\ndata: {payload}\n\n"
        finally:
            self._listeners.discard(lst)


async def pump_alerts(hub: LiveHub, pub_addr: str, provinces: Sequence[str], keys: ClientKeys | None,
                      stop: asyncio.Event) -> None:
    """Read alert events from the server's PUB and publish them to the hub until ``stop``."""
    ctx = zmq.asyncio.Context.instance()
    sock = ctx.socket(zmq.SUB)
    sock.setsockopt(zmq.LINGER, 0)
    if keys is not None:
        keys.apply(sock)
    for p in provinces:
        for kind in ("alert", "case"):
            sock.setsockopt(zmq.SUBSCRIBE, f"{kind}.{p}".encode())
    sock.connect(pub_addr)
    try:
        while not stop.is_set():
            if not await sock.poll(500):
                continue
            frames = await sock.recv_multipart()
            try:
                pub = parse_publication(frames, allowed=(AlertMsg.TYPE, CaseMsg.TYPE))
            except ProtocolError as exc:
                log.debug("bad publication: %s", exc)
                continue
            if isinstance(pub.msg, AlertMsg):
                a = pub.msg.alert
                payload = json.dumps({"id": a.get("id"), "event": a.get("event"), "state": a.get("state"),
                                      "severity": a.get("severity")})
            elif isinstance(pub.msg, CaseMsg):  # pages watch the alert: a case change reloads its pages too
                c = pub.msg.case
                payload = json.dumps({"id": c.get("alert_id"), "case": c.get("id"), "event": pub.msg.event,
                                      "state": c.get("state")})
            else:
                continue
            hub.publish(pub.province, payload)
    finally:
        with contextlib.suppress(zmq.ZMQError):
            sock.close(0)
