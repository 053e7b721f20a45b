"""CurveZMQ on every server socket, a ZAP allow-list, live revocation and per-province alert topics.

Why each part exists:

- **CURVE + ZAP** (:class:`CurvePolicy`, plugged into :class:`coordination.transport.SocketFactory`):
  every server socket is a CURVE server with the server's key; ZeroMQ asks our ZAP handler (a
  ``zmq.auth.thread.ThreadAuthenticator`` subclass) about each client key at handshake. A client
  without CURVE, with an unknown key or with a revoked key never completes the handshake, so
  nothing it sends reaches the server and nothing is sent to it. Each refusal is counted by reason
  (ZAP callback: ``unknown_key``, ``revoked_key``, ``role_not_allowed``; socket monitor:
  ``no_curve`` for a plain-TCP client, ``bad_handshake`` for a wrong server key or garbage).
- **Roles per socket** (ZAP domain = socket role): sensor keys only on the sensors socket; console
  and team keys only on the API and PUB sockets. A sensor key is bound to its sensor: messages on
  the sensors socket are admitted only when the connection identity names the key's sensor
  (``<name>`` or ``<name>~<nonce>``), and the sensors socket has no ROUTER_HANDOVER, so no
  connection can take over an identity another connection holds (transport.py).
- **Live revocation**: ZAP only runs at handshake, so the allow-list directory is re-read when it
  changes (a watcher thread, every ``reload_interval_s``) and the server admits each inbound
  message only if the ZAP user id attached to it (the client's public key, ``Frame.get("User-Id")``)
  is still allowed (:meth:`CurvePolicy.admit`). A revoked sensor's messages are dropped unacked and
  counted; a revoked console gets no API answers. PUB subscribers cannot be addressed one by one,
  so on a revocation the server re-creates its XPUB socket (:attr:`CurvePolicy.pub_generation`):
  every subscriber reconnects through ZAP, the revoked one is refused.
- **Per-province topics**: the PUB socket is an XPUB with ``XPUB_MANUAL``; the server reads each
  subscription request, looks up the subscriber's key by its ZAP user id, and applies only the
  subscriptions that key may have (:meth:`CurvePolicy.service_pub`). A team key limited to JS gets
  ``alert.JS`` and nothing else: not ``alert.``, not ``alert.ZJ``, not live spectra.

Secret keys are never logged; logs name keys by name and an 8-character public fingerprint.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import zmq
from zmq.auth.thread import ThreadAuthenticator
from zmq.utils import z85
from zmq.utils.monitor import parse_monitor_message

from coordination.keys import KeyInfo, KeyPair, KeyStore
from coordination.protocol import identity_sensor
from coordination.transport import ROLE_API, ROLE_PUB, ROLE_SENSORS

log = logging.getLogger(__name__)

#: Which key roles may use which server socket (socket role = ZAP domain).
ROLES_BY_SOCKET: dict[str, frozenset[str]] = {
    ROLE_SENSORS: frozenset({"sensor"}),
    ROLE_API: frozenset({"console", "team"}),
    ROLE_PUB: frozenset({"console", "team"}),
    "federation": frozenset({"centre"}),  # peer monitoring centres (coordination.federation)
}
#: Peers tracked one by one in the rejection table; later ones are pooled as "(other)".
MAX_TRACKED_PEERS = 4096
#: Subscription messages handled per call (a flooding subscriber cannot pin the loop).
MAX_SUBSCRIPTIONS_PER_CALL = 1000
#: API operations a province-limited team key may use (each further checked against its provinces).
TEAM_API_OPS = frozenset({"ping", "profiles", "alerts", "alert", "ack", "resolve", "cases", "case", "case_open",
                          "case_act", "case_upload", "case_attachment", "case_verify", "tasking_request",
                          "tasking_decide", "tasking_requests", "coord_requests", "coord_request", "coord_submit",
                          "coord_respond", "coord_withdraw"})
MONITOR_EVENTS = (zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
                  | zmq.EVENT_HANDSHAKE_FAILED_AUTH | zmq.EVENT_HANDSHAKE_SUCCEEDED | zmq.EVENT_DISCONNECTED
                  | zmq.EVENT_MONITOR_STOPPED)


class SecurityError(Exception):
    """The security setup cannot start (no server key, unreadable keys directory)."""


@dataclass(frozen=True)
class AllowList:
    """An immutable snapshot of the keys directory, swapped whole on reload (no locks on lookup)."""

    allowed: dict[str, KeyInfo] = field(default_factory=dict)  # z85 public key -> info
    revoked: dict[str, KeyInfo] = field(default_factory=dict)

    @classmethod
    def load(cls, store: KeyStore) -> AllowList:
        allowed: dict[str, KeyInfo] = {}
        revoked: dict[str, KeyInfo] = {}
        for info in store.entries():
            if info.status == "allowed":
                allowed[info.public_key] = info
            elif info.status == "revoked":
                revoked[info.public_key] = info
        for key in allowed.keys() & revoked.keys():  # a key both allowed and revoked counts as revoked
            del allowed[key]
        return cls(allowed, revoked)


def topic_allowed(info: KeyInfo, topic: bytes) -> bool:
    """May ``info`` subscribe to ``topic`` (a prefix, as ZeroMQ subscriptions are)?

    console: everything. team: alert, coordination and case topics only; a province-limited team key
    exactly ``alert.<PROV>``, ``coord.<PROV>`` and ``case.<PROV>`` for its provinces (a shorter prefix
    such as ``alert.`` would match others).
    """
    if info.role == "console":
        return True
    if info.role != "team":
        return False
    if info.provinces:
        return topic in {f"{kind}.{p}".encode() for p in info.provinces for kind in ("alert", "coord", "case")}
    return topic.startswith((b"alert.", b"coord.", b"case."))


class AuthCounters:
    """Rejections by reason and by peer, handshake outcomes, subscriptions let through; written from several
    threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.rejected: Counter[str] = Counter()
        self.by_peer: dict[str, Counter[str]] = {}
        self.handshakes: Counter[str] = Counter()
        self.accepted: Counter[str] = Counter()
        self.subscribed: Counter[str] = Counter()
        self._logged: Counter[str] = Counter()

    def reject(self, peer: str, reason: str, detail: str = "") -> None:
        with self._lock:
            self.rejected[reason] += 1
            if peer not in self.by_peer and len(self.by_peer) >= MAX_TRACKED_PEERS:
                peer = "(other)"
            self.by_peer.setdefault(peer, Counter())[reason] += 1
            n = self._logged[reason] = self._logged[reason] + 1
        if n <= 20:
            log.warning("SECURITY: refused %s: %s %s", peer, reason, detail)

    def handshake(self, outcome: str) -> None:
        with self._lock:
            self.handshakes[outcome] += 1

    def accept(self, role: str) -> None:
        with self._lock:
            self.accepted[role] += 1

    def subscribe(self, topic: bytes) -> None:
        """A subscription the policy let through, counted per topic family (``alert``, ``coord``, ``case``): an
        operator sees who listens, and a client knows its subscription is in force once the count moved."""
        family = topic.split(b".", 1)[0].decode("ascii", "replace")[:16]
        with self._lock:
            self.subscribed[family] += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"rejected": dict(self.rejected), "rejected_by_peer": {p: dict(c) for p, c in self.by_peer.items()},
                    "handshakes": dict(self.handshakes), "accepted": dict(self.accepted),
                    "subscribed": dict(self.subscribed)}


def peer_name(info: KeyInfo | None, key: str | None) -> str:
    """How logs and counters name a key: ``name/fingerprint`` (never the whole key, never a secret)."""
    if info is not None:
        return f"{info.name}/{info.fingerprint}"
    return f"key/{key[:8]}" if key else "(no key)"


class _ZapHandler(ThreadAuthenticator):
    """pyzmq's ZAP thread with the CURVE decision delegated to the policy (and counted there)."""

    def __init__(self, ctx: zmq.Context, policy: CurvePolicy) -> None:
        super().__init__(ctx, log=logging.getLogger(f"{__name__}.zap"))
        self._policy = policy

    async def _authenticate_curve(self, domain: str, client_key: bytes) -> tuple[bool, bytes]:
        ok, reason = self._policy.authorize(domain, z85.encode(client_key).decode("ascii"))
        return ok, reason.encode()


class CurvePolicy:
    """CURVE server options, ZAP allow-list, per-message admission and subscription filter."""

    #: The socket type the server should use for publications (XPUB: subscriptions pass through us).
    pub_socket_type = zmq.XPUB

    def __init__(self, keys_dir: Path | str, *, reload_interval_s: float = 0.5) -> None:
        self.store = KeyStore(keys_dir)
        try:
            self._server_pair: KeyPair = self.store.server_pair()
            self.allow = AllowList.load(self.store)
            self._stamp = self.store.snapshot_stamp()
        except Exception as exc:
            raise SecurityError(str(exc)) from exc
        self.reload_interval_s = float(reload_interval_s)
        self.counters = AuthCounters()
        self.pub_generation = 0
        self._zap: _ZapHandler | None = None
        self._ctx: zmq.Context | None = None
        self._lock = threading.Lock()
        self._new_monitors: list[tuple[str, zmq.Socket]] = []  # (role, connected event reader)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._n_monitors = 0
        self._alert_provinces: Any = None  # alert id -> provinces, given by the server (set_alert_scope)
        log.info("CURVE security on: server key %s, %d allowed and %d revoked client keys in %s",
                 self._server_pair.public_key[:8].decode(), len(self.allow.allowed), len(self.allow.revoked),
                 self.store.root)

    # ------------------------------------------------------------ SocketFactory hook

    def apply_server(self, sock: zmq.Socket, role: str) -> None:
        """Make ``sock`` a CURVE server in ZAP domain ``role``; watch its handshakes."""
        self._start(sock.context)
        sock.setsockopt(zmq.ZAP_DOMAIN, role.encode())
        sock.curve_secretkey = self._server_pair.secret_key
        sock.curve_publickey = self._server_pair.public_key
        sock.curve_server = True
        if role == ROLE_PUB and sock.getsockopt(zmq.TYPE) == zmq.XPUB:
            sock.setsockopt(zmq.XPUB_MANUAL, 1)
        with self._lock:
            self._n_monitors += 1
            addr = f"inproc://borderwatch-monitor-{id(self):x}-{role}-{self._n_monitors}"
            sock.monitor(addr, MONITOR_EVENTS)
            # Connect the reader here, before the socket binds: ZeroMQ drops monitor events while no
            # reader is connected, so a refusal in the watcher thread's first moments went uncounted.
            # The reader moves to the watcher thread through the lock (a full memory barrier).
            reader = sock.context.socket(zmq.PAIR)
            reader.setsockopt(zmq.LINGER, 0)
            reader.connect(addr)
            self._new_monitors.append((role, reader))

    def _start(self, ctx: zmq.Context) -> None:
        if self._zap is not None:
            if ctx is not self._ctx:
                raise SecurityError("one CurvePolicy serves one ZeroMQ context")
            return
        self._ctx = ctx
        self._zap = _ZapHandler(ctx, self)
        self._zap.start()
        self._stop.clear()
        self._thread = threading.Thread(target=self._watch, name="borderwatch-security", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop the ZAP and watcher threads and close their sockets (call before ``ctx.term()``)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5.0)
            self._thread = None
        if self._zap is not None:
            self._zap.stop()
            self._zap = None
        self._ctx = None

    # ------------------------------------------------------------ decisions

    def authorize(self, domain: str, key: str) -> tuple[bool, str]:
        """ZAP decision for a CURVE client key (z85) on socket ``domain``; refusals are counted."""
        allow = self.allow
        info = allow.allowed.get(key)
        if info is None:
            revoked = allow.revoked.get(key)
            reason = "revoked_key" if revoked is not None else "unknown_key"
            self.counters.reject(peer_name(revoked, key), reason, f"on the {domain} socket")
            return False, reason
        if info.role not in ROLES_BY_SOCKET.get(domain, frozenset()):
            self.counters.reject(peer_name(info, key), "role_not_allowed",
                                 f"{info.role} key on the {domain} socket")
            return False, "role_not_allowed"
        self.counters.accept(domain)
        return True, "OK"

    def key_of(self, frame: zmq.Frame) -> str | None:
        try:
            user = frame.get("User-Id")
        except (zmq.ZMQError, UnicodeDecodeError):
            return None
        return user if isinstance(user, str) and user else None

    def key_name(self, frame: zmq.Frame) -> str | None:
        """The allow-list name of the key that sent ``frame`` (None: no key, or no longer allowed)."""
        key = self.key_of(frame)
        info = self.allow.allowed.get(key) if key else None
        return None if info is None else info.name

    def admit(self, role: str, frames: Sequence[zmq.Frame]) -> bool:
        """Should the server handle this inbound ROUTER message? (False: dropped and counted.)

        The key is the ZAP user id ZeroMQ attached at handshake; it is checked against the current
        allow-list, so a key revoked after its connection was made is cut off at its next message.
        """
        if not frames:
            return False
        key = self.key_of(frames[-1])
        info = self.allow.allowed.get(key) if key else None
        if info is None:
            revoked = self.allow.revoked.get(key) if key else None
            self.counters.reject(peer_name(revoked, key), "revoked_live" if revoked or key else "no_user_id",
                                 f"message on the {role} socket dropped")
            return False
        if info.role not in ROLES_BY_SOCKET.get(role, frozenset()):
            self.counters.reject(peer_name(info, key), "role_not_allowed", f"message on the {role} socket dropped")
            return False
        if role == ROLE_SENSORS and identity_sensor(frames[0].bytes) != info.name.encode():
            self.counters.reject(peer_name(info, key), "identity_key_mismatch",
                                 f"connection identity {frames[0].bytes[:64]!r} is not the key's sensor")
            return False
        if role == ROLE_API and info.role == "team" and info.provinces:
            why = self._team_request_refusal(info, frames)
            if why:
                self.counters.reject(peer_name(info, key), "api_scope", why)
                return False
        return True

    def set_alert_scope(self, alert_provinces: Any) -> None:
        """Give the policy ``alert_provinces(alert_id) -> provinces or None`` (called in the server's loop)."""
        self._alert_provinces = alert_provinces

    def _team_request_refusal(self, info: KeyInfo, frames: Sequence[zmq.Frame]) -> str:
        """Why a province-limited team may not make this API request ('' = it may).

        Allowed: ping, profiles; ``alerts`` with ``province`` one of the key's; ``alert``/``ack``/
        ``resolve`` of an alert that involves one of the key's provinces; the case ops with
        ``as_provinces`` among the key's (the case desk then shows and changes only the cases those
        provinces are involved in, under the case life cycle's rights). Anything else (sensor
        data, stations, counters, other provinces) is refused: no answer, counted as ``api_scope``.
        """
        import json

        raw = [f.bytes for f in frames[1:]]
        if raw and raw[0] == b"":
            raw = raw[1:]
        if len(raw) < 2 or raw[0] != b"request" or len(raw[1]) > 65536:
            return ""  # not a request: the validator rejects and counts it
        try:
            h = json.loads(raw[1])
            op, args = str(h.get("op")), h.get("args") or {}
        except (ValueError, AttributeError, TypeError):
            return ""
        if op not in TEAM_API_OPS:
            return f"op {op[:32]!r} is not open to a province-limited team key"
        if not isinstance(args, dict):
            return "args is not an object"
        if op == "alerts" and args.get("province") not in info.provinces:
            return f"alerts of province {str(args.get('province'))[:8]!r} (allowed: {','.join(info.provinces)})"
        if op.startswith(("case", "tasking_", "coord_")):  # they speak for provinces: the key's; the desks check more
            provs = args.get("as_provinces")
            if not isinstance(provs, list) or not provs or not {str(p) for p in provs} <= set(info.provinces):
                return f"{op} must give as_provinces within the key's ({','.join(info.provinces)})"
        if op in ("alert", "ack", "resolve"):
            provinces = self._alert_provinces(str(args.get("id"))) if self._alert_provinces else None
            # An unknown id is refused exactly like another province's: answering "no such alert"
            # would tell the key which ids exist elsewhere.
            if provinces is None or not set(provinces) & set(info.provinces):
                return f"alert {str(args.get('id'))[:40]!r} unknown or outside the key's provinces"
        return ""

    def service_pub(self, sock: zmq.Socket) -> int:
        """Read pending subscription requests on the XPUB socket and apply those the key may have."""
        n = 0
        for _ in range(MAX_SUBSCRIPTIONS_PER_CALL):
            try:
                frame = sock.recv(zmq.NOBLOCK, copy=False)
            except zmq.Again:
                break
            n += 1
            data = frame.bytes
            key = self.key_of(frame)
            info = self.allow.allowed.get(key) if key else None
            if not data or data[0] not in (0, 1):
                self.counters.reject(peer_name(info, key), "pub_garbage", "non-subscription message on the pub socket")
                continue
            topic = data[1:]
            if data[0] == 0:
                sock.setsockopt(zmq.UNSUBSCRIBE, topic)
                continue
            if info is None:
                self.counters.reject(peer_name(self.allow.revoked.get(key or ""), key), "revoked_live",
                                     "subscription refused")
                continue
            if not topic_allowed(info, topic):
                self.counters.reject(peer_name(info, key), "topic_denied", f"subscription {topic[:64]!r} refused")
                continue
            sock.setsockopt(zmq.SUBSCRIBE, topic)
            self.counters.subscribe(topic)
        return n

    # ------------------------------------------------------------ allow-list reload, monitors

    def reload(self) -> bool:
        """Re-read the keys directory if it changed; True when keys were withdrawn or changed."""
        stamp = self.store.snapshot_stamp()
        if stamp == self._stamp:
            return False
        try:
            new = AllowList.load(self.store)
        except Exception as exc:  # a half-written file: keep the old list, try again next time
            log.error("SECURITY: cannot re-read the allow-list in %s, keeping the previous one: %s",
                      self.store.root, exc)
            return False
        old = self.allow
        self.allow = new
        self._stamp = stamp
        withdrawn = [i for k, i in old.allowed.items() if new.allowed.get(k) != i]
        added = [i for k, i in new.allowed.items() if k not in old.allowed]
        if added:
            log.info("SECURITY: keys allowed: %s", ", ".join(peer_name(i, None) for i in added))
        if withdrawn:
            self.pub_generation += 1
            log.warning("SECURITY: keys revoked or changed, cut off now: %s",
                        ", ".join(peer_name(i, None) for i in withdrawn))
        return bool(withdrawn)

    def _watch(self) -> None:
        """Poll the monitor sockets and the keys directory until :meth:`close`."""
        monitors: dict[zmq.Socket, str] = {}
        poller = zmq.Poller()
        next_reload = time.monotonic() + self.reload_interval_s
        try:
            while not self._stop.is_set():
                with self._lock:
                    new, self._new_monitors = self._new_monitors, []
                for role, s in new:
                    monitors[s] = role
                    poller.register(s, zmq.POLLIN)
                for s, _ in poller.poll(100):
                    self._on_monitor(s, monitors, poller)
                if time.monotonic() >= next_reload:
                    next_reload = time.monotonic() + self.reload_interval_s
                    try:
                        self.reload()
                    except Exception:
                        log.exception("SECURITY: allow-list reload failed")
        finally:
            with self._lock:
                pending, self._new_monitors = self._new_monitors, []
            for s in [*monitors, *(reader for _, reader in pending)]:
                s.close(0)

    def _on_monitor(self, s: zmq.Socket, monitors: dict[zmq.Socket, str], poller: zmq.Poller) -> None:
        role = monitors[s]
        for _ in range(1000):
            try:
                evt = parse_monitor_message(s.recv_multipart(zmq.NOBLOCK))
            except zmq.Again:
                return
            except Exception:
                log.debug("unreadable monitor event", exc_info=True)
                continue
            e, value = evt["event"], evt["value"]
            if e == zmq.EVENT_HANDSHAKE_SUCCEEDED:
                self.counters.handshake(f"{role}.succeeded")
            elif e == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
                self.counters.handshake(f"{role}.failed_auth")  # the reason was counted by the ZAP handler
            elif e == zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL:
                self.counters.handshake(f"{role}.failed_protocol")
                reason = "no_curve" if value == zmq.PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH else "bad_handshake"
                self.counters.reject("(no key)" if reason == "no_curve" else "(unverified)", reason,
                                     f"on the {role} socket (protocol error 0x{value:x})")
            elif e == zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL:
                self.counters.handshake(f"{role}.failed_no_detail")
                self.counters.reject("(unverified)", "handshake_incomplete", f"on the {role} socket")
            elif e == zmq.EVENT_DISCONNECTED:
                # a peer hung up, or ZeroMQ cut it off (a frame over MAXMSGSIZE, a heartbeat timeout)
                self.counters.handshake(f"{role}.disconnected")
            elif e == zmq.EVENT_MONITOR_STOPPED:
                poller.unregister(s)
                del monitors[s]
                s.close(0)
                return

    def snapshot(self) -> dict[str, Any]:
        """Counters for the API ``counters`` op (``auth`` key) and the allow-list size."""
        out = self.counters.snapshot()
        out["keys_allowed"] = len(self.allow.allowed)
        out["keys_revoked"] = len(self.allow.revoked)
        out["pub_generation"] = self.pub_generation
        return out


def make_policy(insecure: bool, keys_dir: Path | str | None) -> CurvePolicy | None:
    """The server's policy from its config: None for plain TCP, else CURVE from ``keys_dir``."""
    if insecure:
        return None
    if keys_dir is None:
        raise SecurityError("the server needs CURVE keys: give keys_dir / --keys DIR (make them with "
                            "'borderwatch keys new server --role server --dir DIR'), or run with --insecure "
                            "on a trusted loopback only")
    return CurvePolicy(keys_dir)
