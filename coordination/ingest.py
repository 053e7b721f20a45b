"""Inbound validation for the server: decode, check who sent it, count every rejection.

The ROUTER socket gives ``[identity, type, header, payload...]``. A message is accepted only if
:func:`coordination.protocol.decode` accepts it for that socket's allowed types, its timestamps are
UTC within a window around server time, *and* the connection identity names the header's
``sensor_id`` (``<sensor_id>`` or ``<sensor_id>~<nonce>``: a sensor cannot speak for another).
Rejections are counted per reason and per peer (bounded, so a flood of fresh identities cannot
grow memory without limit).
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from coordination.protocol import (
    Message,
    Occupancy,
    ProtocolError,
    check_time_window,
    decode,
    identity_sensor,
    parse_utc,
)

log = logging.getLogger(__name__)

SENSOR_TYPES: tuple[bytes, ...] = (b"hello", b"spectrum", b"emissions", b"occupancy", b"heartbeat", b"evidence",
                                  b"order_result")
API_TYPES: tuple[bytes, ...] = (b"request",)

_PROFILE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")

#: Peers tracked individually in the per-peer rejection table; later ones are pooled as "(other)".
MAX_TRACKED_PEERS = 4096
#: Rejection log lines per reason before going quiet (the counters keep counting).
MAX_LOGGED_PER_REASON = 20


def peer_label(identity: bytes) -> str:
    """A printable, bounded name for a connection identity."""
    if not identity:
        return "(empty)"
    if identity[:1] == b"\x00":  # ZeroMQ-generated identity: the peer did not name itself
        return "anon-" + identity[1:9].hex()
    return identity[:64].decode("utf-8", "replace")


class RejectionCounter:
    """Rejections per reason and per (peer, reason), memory-bounded."""

    def __init__(self, max_peers: int = MAX_TRACKED_PEERS) -> None:
        self.by_reason: Counter[str] = Counter()
        self.by_peer: dict[str, Counter[str]] = {}
        self.max_peers = max_peers

    def count(self, peer: str, reason: str, detail: str = "") -> None:
        self.by_reason[reason] += 1
        if peer not in self.by_peer and len(self.by_peer) >= self.max_peers:
            peer = "(other)"
        self.by_peer.setdefault(peer, Counter())[reason] += 1
        if self.by_reason[reason] <= MAX_LOGGED_PER_REASON:
            log.warning("rejected message from %s: %s %s", peer, reason, detail[:200])

    def total(self, peer: str | None = None) -> int:
        if peer is None:
            return sum(self.by_reason.values())
        return sum(self.by_peer.get(peer, Counter()).values())

    def snapshot(self) -> dict[str, object]:
        return {"rejected": dict(self.by_reason), "rejected_by_peer": {p: dict(c) for p, c in self.by_peer.items()}}


@dataclass(frozen=True)
class Inbound:
    """A validated message with the connection it came from (and its raw frames for re-publication)."""

    identity: bytes
    envelope: tuple[bytes, ...]
    msg: Message
    frames: tuple[bytes, ...]


class Validator:
    """Turns raw ROUTER frames into :class:`Inbound` messages or a counted rejection."""

    def __init__(self, allowed: Sequence[bytes], rejections: RejectionCounter, *, check_identity: bool,
                 allow_req_envelope: bool = False, clock: Callable[[], datetime] | None = None,
                 max_past_s: float = 30 * 86400.0, max_future_s: float = 300.0) -> None:
        """With ``clock``, every timestamp of a message must lie within ``max_past_s`` before and
        ``max_future_s`` after the clock's time (refused as ``time`` otherwise)."""
        self.allowed = tuple(allowed)
        self.rejections = rejections
        self.check_identity = check_identity
        self.allow_req_envelope = allow_req_envelope
        self.clock = clock
        self.max_past_s = float(max_past_s)
        self.max_future_s = float(max_future_s)

    def _check_times(self, msg: Message) -> None:
        assert self.clock is not None
        now = self.clock()
        stamps = [("t_utc", msg.t_utc)]
        if isinstance(msg, Occupancy):
            stamps += [("t_start_utc", msg.t_start_utc), ("t_end_utc", msg.t_end_utc)]
        for name, text in stamps:
            check_time_window(parse_utc(text, name), now, self.max_past_s, self.max_future_s, name)

    def validate(self, raw: Sequence[bytes]) -> Inbound | None:
        """Validate one ROUTER message; return None when it was rejected (and counted)."""
        if not raw:
            self.rejections.count("(empty)", "frames", "no frames")
            return None
        identity = bytes(raw[0])
        peer = peer_label(identity)
        envelope: tuple[bytes, ...] = (identity,)
        frames = list(raw[1:])
        if self.allow_req_envelope and frames and len(frames[0]) == 0:
            envelope, frames = (identity, b""), frames[1:]  # a REQ client's empty delimiter
        try:
            msg = decode(frames, allowed=self.allowed)
            if self.clock is not None:
                self._check_times(msg)
        except ProtocolError as exc:
            self.rejections.count(peer, exc.reason, exc.detail)
            return None
        profile = getattr(msg, "profile", None)
        if profile is not None and (profile or msg.TYPE == b"spectrum") and not _PROFILE_RE.match(profile):
            # profile names become HDF5 group names: no '/', no '~' (axis suffix), nothing empty
            self.rejections.count(peer, "field", f"profile name {profile[:70]!r} is not a plain name")
            return None
        if self.check_identity and msg.sensor_id.encode() != identity_sensor(identity):
            self.rejections.count(peer, "identity", f"connection {peer!r} sent sensor_id {msg.sensor_id!r}")
            return None
        return Inbound(identity, envelope, msg, tuple(frames))
