"""Federation: one monitoring centre per province, one picture (docs/deployment.md).

Each province runs its own coordination server (``borderwatch server --province JS``) for its own
sensors; the centres share one PostgreSQL (:mod:`coordination.store`, :mod:`station_db.backend`).
This module is what a server adds to take part:

- **Border emissions out.** Every Emissions message stored from one of our sensors that stands
  within ``border_zone_km`` of another province is pushed, as received, to every peer centre over
  a DEALER socket (CURVE client with this centre's ``centre-<CODE>`` key, the peer's server key).
- **Border emissions in.** A ROUTER socket (role ``federation``: CURVE server, ZAP admits only
  ``centre`` keys in our allow-list, and every message is re-checked against the live allow-list,
  so a revoked centre is cut off at its next message) receives the peers' border emissions and
  gives them to our rules engine as observations of the peer's sensor: a cross-border emitter is
  localised with the measurements of both centres. They are filed without judging, like our own
  sensors' reports: the server makes the due judgements once per loop turn, after the turn's reports
  (ours and the peers') are filed. Judging inside each filing let a burst of forwarded reports run
  judgement after judgement in one turn; the centre's own intake then fell behind (its sensors'
  reports refused by the fair share), its forwarding to the peers with it, and a peer judged its half
  of a cross-border emitter before our reports arrived: one emitter, two alerts. For the same reason
  our engine closes a grouping window only once every peer heard from lately has forwarded reports
  past it (:meth:`Federation.judge_time`): a peer's reports come a loop turn or more after ours.
- **One alert.** An alert whose sensors belong to several provinces is keyed by (band, channel,
  provinces of its sensors). Its owner follows a deterministic rule (:func:`owner_of`: the
  emitter's source province when it is one of them, else the lowest code); the owner claims the
  key in the shared store at once, the others wait up to ``owner_grace_s`` for the claim and then
  link their own alert to it (hidden from listings, never published). If the owner has not
  claimed it by then (down, or did not see it), the first centre to claim takes it; the partial
  unique index makes that decision in the database, so two claims never both stand. The centres' sensor
  sets of one emitter may differ for a while (a far sensor joins after the first judgement), so an
  alert on the same channel under a key of other provinces that shares a sensor with ours stands for
  the same emitter: we link to it rather than claim our key beside it. An alert
  heard only by another centre's sensors is that centre's business: we neither store nor publish it.
- **Visible and acknowledgeable everywhere.** Every centre follows the shared alerts by revision
  and republishes, on its own PUB socket, the alerts of the other centres that involve its
  province. Acknowledging or resolving another centre's alert moves its state in the database at
  once (forward only) and queues the action for the owner, whose engine applies it when it next
  looks, so the owner's later updates agree.
- **Catch-up.** A centre that comes back replays the peers' border emissions of the last
  ``catchup_s`` from the shared store into its engine, restores its own active alerts (the
  engine's restore reads only this centre's rows), and follows revisions from there; its own
  sensors resend what it did not ack. The peers' DEALER queues deliver what they pushed meanwhile.

Everything runs in the server's loop thread (:meth:`Federation.service`, non-blocking, bounded),
so the engine and the store keep their one-thread contracts.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import combinations
from pathlib import Path
from typing import Any

import zmq

from coordination.alerts import Alert, AlertEvent, AlertStore
from coordination.keys import ClientKeys, KeyFileError, KeyPair, KeyStore, load_pair, read_cert
from coordination.ports import AlertEngine, Clock, HandleEvents, PublishAlert
from coordination.protocol import Emissions, ProtocolError, decode, format_utc, parse_utc
from coordination.sensors import SensorInfo, SweepCoverage
from coordination.store import Store
from coordination.transport import SocketFactory

log = logging.getLogger(__name__)

ROLE_FEDERATION = "federation"
FED_TAG = b"bw-fed/1"
#: Peer messages handled per loop iteration (a flooding peer cannot pin the loop).
MAX_PEER_MESSAGES = 2000
PEERS_DIR = "peers"


def centre_key_name(code: str) -> str:
    """The name of a centre's federation key (what peers put in their allow-lists)."""
    return f"centre-{code}"


def owner_of(zone: Sequence[str], provinces_source: Sequence[str]) -> str:
    """Deterministic owner of a cross-border alert: the single source province when it is one of the
    zone's provinces, else the lowest province code of the zone. Every centre computes the same."""
    src = [p for p in provinces_source if p in zone]
    return src[0] if len(src) == 1 else sorted(zone)[0]


@dataclass(frozen=True)
class FederationConfig:
    """What a centre needs to federate.

    ``centre``: the province code this server owns. ``database``: the shared PostgreSQL URL (a
    SQLite path works on one machine, for tests). ``bind_addr``: our federation ROUTER. ``peers``:
    province code -> that centre's federation endpoint. ``keys_dir``: our keys directory; with
    CURVE it holds ``private/centre-<CODE>.key_secret`` and ``peers/<CODE>.key`` (each peer's server
    certificate). ``insecure``: plain TCP between centres (loopback tests only).
    """

    centre: str
    database: str
    bind_addr: str = "tcp://127.0.0.1:5563"
    peers: Mapping[str, str] = field(default_factory=dict)
    keys_dir: Path | None = None
    insecure: bool = False
    border_zone_km: float = 80.0
    owner_grace_s: float = 4.0
    follow_interval_s: float = 0.2
    catchup_s: float = 30.0
    beat_interval_s: float = 1.0
    takeover_after_s: float = 30.0

    def __post_init__(self) -> None:
        if not self.centre or not self.centre.isalnum() or not self.centre.isupper():
            raise ValueError(f"federation centre {self.centre!r}: expected a province code like JS")
        if self.centre in self.peers:
            raise ValueError(f"federation: centre {self.centre} lists itself as a peer")
        if not self.insecure and self.keys_dir is None:
            raise ValueError("federation with CURVE needs keys_dir (or insecure=True on loopback)")
        for name in ("border_zone_km", "owner_grace_s", "follow_interval_s", "beat_interval_s", "takeover_after_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"FederationConfig.{name}={getattr(self, name)!r} must be > 0")


def shared_stations_target(database: str) -> str:
    """The station database that goes with the centres' shared store ``database`` (see
    :attr:`Federation.stations_database`)."""
    if database.startswith(("postgresql://", "postgres://")):
        return database
    p = Path(database)
    return str(p.with_name(f"{p.stem}-stations{p.suffix or '.db'}"))


def federate_keys(dirs: Mapping[str, Path]) -> None:
    """Set up CURVE keys for centres on one machine (demo, tests): each centre's keys directory gets
    a server key (when missing) and a ``centre-<CODE>`` key; every other centre allows that key and
    keeps this centre's server certificate under ``peers/``. Real centres exchange the same files."""
    stores = {code: KeyStore(d) for code, d in dirs.items()}
    for code, ks in stores.items():
        if not (ks.root / "server.key").exists():
            ks.new(f"server-{code}", role="server")
        if not ks.secret_path(centre_key_name(code)).exists():
            ks.new(centre_key_name(code), role="centre")
    for code, ks in stores.items():
        own_cert = ks.allowed_dir / f"{centre_key_name(code)}.key"
        for other, ks2 in stores.items():
            if other == code:
                continue
            ks2.allowed_dir.mkdir(parents=True, exist_ok=True)
            (ks2.allowed_dir / own_cert.name).write_bytes(own_cert.read_bytes())
            peers = ks2.root / PEERS_DIR
            peers.mkdir(exist_ok=True)
            (peers / f"{code}.key").write_bytes((ks.root / "server.key").read_bytes())


@dataclass(frozen=True)
class FederationPort:
    """Everything the federation part uses of its server, and nothing else.

    ``sockets``: the server's socket factory (its security policy applies to our ROUTER; our DEALERs
    live in its context). ``store``: the shared store (all SQL is there). ``engine``: the server's
    rules engine (None: no alerts). ``handle_events``: persist and publish engine events (the
    outbox). ``publish``: publish another centre's alert document on our PUB socket. ``admit`` and
    ``key_name`` (CURVE only, else None): whether a connection's key is still allowed, and its
    allow-list name (a centre key speaks for one centre only).
    """

    sockets: SocketFactory
    store: Store
    engine: AlertEngine | None
    handle_events: HandleEvents
    publish: PublishAlert
    clock: Clock
    admit: Callable[[str, Sequence[zmq.Frame]], bool] | None = None
    key_name: Callable[[zmq.Frame], str | None] | None = None
    #: a profile name -> what its sweep covered (a peer's sensor's silences are evidence too)
    coverage: Callable[[str], SweepCoverage | None] | None = None

    @property
    def secured(self) -> bool:
        return self.key_name is not None


@dataclass
class _HeldAlert:
    alert: Alert
    deadline: float
    key: str


class FederatedAlertStore:
    """The engine's AlertStore for a federated centre (see module docstring, "One alert")."""

    def __init__(self, inner: AlertStore, federation: Federation) -> None:
        self.inner = inner
        self.fed = federation

    def save(self, alert: Alert) -> None:
        self.fed.save_alert(alert)

    def load_active(self) -> list[Alert]:
        return self.inner.load_active()

    def get(self, alert_id: str) -> Alert | None:
        return self.inner.get(alert_id)

    def list(self, state: str | None = None, province: str | None = None) -> list[Alert]:
        return self.inner.list(state, province)


class Federation:
    """A server's federation part: created with the config, attached (:meth:`attach`) by the server
    at setup through a :class:`FederationPort`."""

    def __init__(self, config: FederationConfig) -> None:
        self.config = config
        self.centre = config.centre
        self._port: FederationPort | None = None
        self.endpoint: str | None = None
        self.router: zmq.Socket | None = None
        self.dealers: dict[str, zmq.Socket] = {}
        self.counters: Counter[str] = Counter()
        self._border: dict[str, bool] = {}
        self._links: dict[str, str] = {}          # our alert id -> the standing alert it links to
        self._keys: dict[str, str | None] = {}    # our standing alert id -> its cluster key (None: local)
        self._held: dict[str, _HeldAlert] = {}
        self._silent: set[str] = set()            # heard only by other centres' sensors: not ours
        self._published: set[str] = set()         # our alerts our subscribers have seen
        self._cursor = 0
        self._next_follow = 0.0
        self._next_beat = 0.0
        self._foreign: dict[str, SensorInfo] = {}
        self._client: KeyPair | None = None
        self._peer_lock = threading.Lock()
        self._new_peers: list[tuple[str, str]] = []
        self.peer_codes: set[str] = set(config.peers)
        #: peer centre -> (newest measurement time among the reports it forwarded, monotonic s when last heard)
        self._peer_reports: dict[str, tuple[datetime, float]] = {}

    @property
    def database(self) -> str:
        return self.config.database

    @property
    def stations_database(self) -> str:
        """Where the shared station data lives: the same PostgreSQL (its own schema), or for a SQLite
        store a sibling file (both have a ``sensors`` table, and SQLite has no schemas to keep them apart)."""
        return shared_stations_target(self.config.database)

    # ------------------------------------------------------------ server hooks

    @property
    def port(self) -> FederationPort:
        if self._port is None:
            raise RuntimeError("federation not attached to a server yet")
        return self._port

    def wrap_alert_store(self, inner: AlertStore) -> FederatedAlertStore:
        return FederatedAlertStore(inner, self)

    def attach(self, port: FederationPort) -> str:
        """Bind our ROUTER (through the server's socket factory: its security policy applies),
        connect a DEALER to every peer, catch up from the shared store; return our endpoint."""
        self._port = port
        cfg = self.config
        self.router, endpoint = port.sockets.bind(zmq.ROUTER, cfg.bind_addr, ROLE_FEDERATION)
        self.endpoint = endpoint
        self._client = self._client_pair() if port.secured else None
        for code, addr in sorted(cfg.peers.items()):
            self._connect_peer(code, addr)
        self._cursor = port.store.alerts.alert_revision()
        port.store.alerts.beat(format_utc(port.clock()), {"federation": endpoint})
        port.store.commit()
        self._restore_claims()
        self._catch_up()
        log.info("federation: centre %s, router %s, peers %s", self.centre, endpoint,
                 ", ".join(f"{c}={a}" for c, a in sorted(cfg.peers.items())) or "none")
        return endpoint

    def add_peer(self, code: str, addr: str) -> None:
        """Connect to one more peer centre (thread-safe: the server loop makes the socket). For centres
        started on ephemeral ports, whose endpoints are known only once they run."""
        with self._peer_lock:
            self._new_peers.append((code, addr))

    def _connect_peer(self, code: str, addr: str) -> None:
        if code == self.centre:
            raise ValueError(f"federation: centre {code} cannot be its own peer")
        old = self.dealers.pop(code, None)
        if old is not None:
            old.close(0)
        sock = self.port.sockets.ctx.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.SNDHWM, 100_000)
        sock.setsockopt(zmq.IDENTITY, self.centre.encode())
        if self._client is not None:
            ClientKeys(self._client, self._peer_server_key(code)).apply(sock)
        sock.connect(addr)
        self.dealers[code] = sock
        self.peer_codes.add(code)
        log.info("federation: %s connected to peer centre %s at %s", self.centre, code, addr)

    def _restore_claims(self) -> None:
        """Our standing keyed alerts and our links, as written before a restart."""
        for aid, key, canonical in self.port.store.alerts.active_claims(self.centre):
            if canonical is not None:
                self._links[aid] = canonical
            elif key is not None:
                self._keys[aid] = key

    def close(self) -> None:
        for sock in (*self.dealers.values(), *([self.router] if self.router is not None else [])):
            try:
                sock.close(0)
            except zmq.ZMQError:
                log.debug("closing a federation socket failed", exc_info=True)
        self.dealers.clear()
        self.router = None

    def _client_pair(self) -> KeyPair:
        assert self.config.keys_dir is not None
        path = KeyStore(self.config.keys_dir).secret_path(centre_key_name(self.centre))
        if not path.exists():
            raise KeyFileError(f"no federation key {path}: make it with 'borderwatch keys new "
                               f"{centre_key_name(self.centre)} --role centre'")
        return load_pair(path)

    def _peer_server_key(self, code: str) -> bytes:
        assert self.config.keys_dir is not None
        path = Path(self.config.keys_dir) / PEERS_DIR / f"{code}.key"
        if not path.exists():
            raise KeyFileError(f"no server certificate of centre {code} at {path} (copy its keys/server.key there)")
        return read_cert(path, "server").public_key.encode()

    # ------------------------------------------------------------ border emissions

    def is_border_sensor(self, info: SensorInfo) -> bool:
        got = self._border.get(info.sensor_id)
        if got is None:
            from station_db.geo import distances_to_border_km

            try:
                d_km, _ = distances_to_border_km([info.lat], [info.lon], provinces=[info.province])
                got = bool(float(d_km[0]) <= self.config.border_zone_km)
            except Exception:  # unknown province code, outside the map: share rather than miss
                log.debug("border distance of %s failed", info.sensor_id, exc_info=True)
                got = True
            self._border[info.sensor_id] = got
        return got

    def forward(self, info: SensorInfo, frames: Sequence[bytes]) -> None:
        """Push one stored Emissions message of our sensor to every peer when the sensor is near a border."""
        if not self.dealers or info.province != self.centre or not self.is_border_sensor(info):
            return
        header = json.dumps({"centre": self.centre, "sensor": {
            "sensor_id": info.sensor_id, "province": info.province, "lat": info.lat, "lon": info.lon,
            "height_m": info.height_m, "antenna_factor_db_m": info.antenna_factor_db_m}}).encode()
        for code, sock in self.dealers.items():
            try:
                sock.send_multipart([FED_TAG, header, *frames], zmq.NOBLOCK)
                self.counters["forwarded"] += 1
            except zmq.ZMQError:
                self.counters[f"forward_dropped.{code}"] += 1

    def _receive(self) -> int:
        assert self.router is not None
        admit = self.port.admit
        n = 0
        for _ in range(MAX_PEER_MESSAGES):
            try:
                frames = self.router.recv_multipart(zmq.NOBLOCK, copy=False)
            except zmq.Again:
                break
            n += 1
            if admit is not None and not admit(ROLE_FEDERATION, frames):
                self.counters["rejected.auth"] += 1
                continue
            try:
                self._handle_peer(frames, admit is not None)
            except (ProtocolError, ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
                self.counters["rejected.message"] += 1
                log.info("federation message refused: %s", exc)
        return n

    def _handle_peer(self, frames: Sequence[zmq.Frame], secured: bool) -> None:
        raw = [f.bytes for f in frames]
        if len(raw) < 4 or raw[1] != FED_TAG:
            raise ValueError("not a federation message")
        head = json.loads(raw[2])
        centre = str(head["centre"])
        if secured:  # the key speaks for one centre only
            assert self.port.key_name is not None
            name = self.port.key_name(frames[-1])
            if name != centre_key_name(centre):
                raise ValueError(f"key of {name or '?'} cannot speak for centre {centre}")
        s = head["sensor"]
        sensor = SensorInfo(str(s["sensor_id"]), str(s["province"]), float(s["lat"]), float(s["lon"]),
                            float(s["height_m"]), float(s["antenna_factor_db_m"]))
        if sensor.province != centre:
            raise ValueError(f"centre {centre} forwarded a sensor of {sensor.province}")
        msg = decode(raw[3:])
        if not isinstance(msg, Emissions) or msg.sensor_id != sensor.sensor_id:
            raise ValueError("federation payload is not the named sensor's Emissions")
        self._foreign[sensor.sensor_id] = sensor
        t = parse_utc(msg.t_utc)
        prev = self._peer_reports.get(centre)
        self._peer_reports[centre] = (max(prev[0], t) if prev is not None else t, time.monotonic())
        self.counters["received"] += 1
        self._observe(sensor, msg.t_utc, msg.emissions, msg.noise_floor_dbm, msg.antenna_factor_db_m, msg.profile)

    def _observe(self, sensor: SensorInfo, t_utc: str, emissions: Sequence[Mapping[str, float | str]],
                 noise_floor_dbm: float, antenna_factor_db_m: float, profile: str = "") -> None:
        engine = self.port.engine
        if engine is None:
            return
        coverage = self.port.coverage(profile) if self.port.coverage is not None and profile else None
        # Filed only (see the module docstring): the server's loop judges once per turn; what comes back
        # now is a provisional alert (a first sight in a safety band), out at once as for our own sensors.
        events = engine.observe(sensor, parse_utc(t_utc), emissions, noise_floor_dbm, antenna_factor_db_m,
                                coverage=coverage, judge=False) or ()
        if events:
            self.port.handle_events(events)

    def judge_time(self, now: datetime) -> datetime:
        """Up to when our engine may close its grouping windows: ``now``, held back to the newest report each
        peer centre heard from in the last ``owner_grace_s`` has forwarded (a window is closed once every
        source of reports has passed it). A peer whose reports lag (a busy loop, a slow link) would
        otherwise find its half of an emitter both centres hear judged without it: our alert from our
        sensors alone, its alert from both, two alerts for one emitter. A peer silent that long (down, or
        no border sensor of it reporting) holds nothing back, and none holds them back by more than
        ``owner_grace_s`` (a peer whose sensors' clocks all lag must not delay our alerts by as much)."""
        mono = time.monotonic()
        grace = timedelta(seconds=self.config.owner_grace_s)
        marks = [max(t, now - grace) for t, heard in self._peer_reports.values()
                 if mono - heard <= self.config.owner_grace_s]
        return min([now, *marks])

    def _catch_up(self) -> None:
        """Replay the peers' border emissions of the last ``catchup_s`` from the shared store."""
        store, engine = self.port.store, self.port.engine
        if engine is None:
            return
        since = format_utc(self.port.clock() - timedelta(seconds=self.config.catchup_s))
        infos = {}
        for rec in store.sensors.records():
            if rec.province == self.centre:  # every other centre's border sensors (peers may join later)
                continue
            try:
                info = SensorInfo(rec.sensor_id, rec.province, rec.lat, rec.lon, max(rec.height_m, 0.0),
                                  rec.antenna_factor_db_m)
            except ValueError:
                continue
            if self.is_border_sensor(info):
                infos[rec.sensor_id] = info
        rows = store.summaries.emissions_since(since, sorted(infos))
        by_msg: dict[tuple[str, int], list[dict[str, Any]]] = {}
        for r in rows:
            by_msg.setdefault((r["sensor_id"], int(r["seq"])), []).append(r)
        for (sid, _seq), group in by_msg.items():
            first = group[0]
            self._observe(infos[sid], first["t_utc"], group, first["noise_floor_dbm"], first["antenna_factor_db_m"])
        self.counters["caught_up"] += len(by_msg)
        if by_msg:
            log.info("federation: caught up %d border emission messages of peers since %s", len(by_msg), since)

    # ------------------------------------------------------------ alerts

    def save_alert(self, alert: Alert) -> None:
        """Write one engine alert the federated way (see module docstring, "One alert")."""
        store = self.port.store
        aid = alert.id
        owner = store.alerts.alert_owner(aid)
        if owner is not None and owner != self.centre:  # another centre's alert: ack/resolve only
            if alert.state in ("acknowledged", "resolved"):
                action = "acknowledge" if alert.state == "acknowledged" else "resolve"
                by = alert.acknowledged_by if action == "acknowledge" else alert.resolved_by
                store.alerts.apply_alert_action(aid, action, by or "?", alert.note, format_utc(self.port.clock()))
            return
        doc = alert.to_json()
        link = self._links.get(aid)
        if link is not None:
            store.alerts.save_alert_json(doc, canonical_id=link)
            return
        zone = sorted({r.province for r in alert.sensors})
        if self.centre not in zone:  # heard only by peers' sensors: the peers raise it
            self._silent.add(aid)
            return
        self._silent.discard(aid)
        key = ",".join(zone) if len(zone) > 1 else None
        if alert.state == "resolved" and aid not in self._keys:  # ended before it stood anywhere
            self._held.pop(aid, None)
            if owner == self.centre:  # it was listed (and published) as our local alert: close it there
                store.alerts.save_alert_json(doc)
            else:
                self._silent.add(aid)
            return
        if owner == self.centre and (key is None or self._keys.get(aid) is not None):
            store.alerts.save_alert_json(doc)  # our standing alert (its key, if any, stays as claimed)
            return
        if key is None:  # our local alert (only our sensors)
            store.alerts.save_alert_json(doc)
            self._keys[aid] = None
            return
        standing = self._standing(alert, key)
        if standing is not None:
            self._link(alert, key, standing)
        elif owner_of(zone, alert.provinces_source) == self.centre:
            self._claim(alert, key)
        else:
            held = self._held.get(aid)
            deadline = held.deadline if held else time.monotonic() + self.config.owner_grace_s
            self._held[aid] = _HeldAlert(alert, deadline, key)
            if owner == self.centre:  # already listed as our local alert: keep its row current meanwhile
                store.alerts.save_alert_json(doc)

    def _standing(self, alert: Alert, key: str) -> str | None:
        """The alert that already stands for this emitter: the one of its key, else one on the same channel
        under another key of the provinces involved that shares a sensor with ours.

        Centres see one emitter through sensor sets that differ for a while (a peer's reports arrive a
        turn later, a far sensor joins after the first judgement), so the owner may have claimed the key
        of fewer or more provinces than ours: an alert standing on (band, channel) that shares a sensor
        with ours is the same emitter (a sensor's sweep gives one report per channel), not a second one.
        """
        alerts = self.port.store.alerts
        channel_hz = float(alert.channel_hz)
        standing = alerts.standing_alert(alert.band, channel_hz, key)
        if standing is not None and standing != alert.id:
            return standing
        ours = {r.sensor_id for r in alert.sensors}
        for other in self._related_keys(key):
            found = alerts.standing_alert(alert.band, channel_hz, other)
            if found is None or found == alert.id:
                continue
            doc = alerts.alert_json(found) or {}
            if ours & {str(r.get("sensor_id")) for r in doc.get("sensors") or () if isinstance(r, Mapping)}:
                log.info("federation: alert %s (%s) is the emitter of %s (%s): they share a sensor",
                         alert.id, key, found, other)
                return found
        return None

    def _related_keys(self, key: str) -> list[str]:
        """The other cluster keys (two provinces or more, of the centres we know) that share a province with
        ``key``."""
        zone = set(key.split(","))
        universe = sorted(zone | self.peer_codes | {self.centre})
        return [",".join(c) for n in range(2, len(universe) + 1) for c in combinations(universe, n)
                if zone & set(c) and ",".join(c) != key]

    def _link(self, alert: Alert, key: str, standing: str) -> None:
        self.port.store.alerts.save_alert_json(alert.to_json(), cluster_key=key, canonical_id=standing)
        self._links[alert.id] = standing
        self._held.pop(alert.id, None)
        self.counters["linked"] += 1
        log.info("federation: alert %s links to %s (%s)", alert.id, standing, key)
        self._close_published(alert, standing)

    def _close_published(self, alert: Alert, standing: str) -> None:
        """An alert we published as our own (heard by our sensors only, at first) now stands under
        another centre's alert: tell our subscribers it is closed and where it went."""
        if alert.id not in self._published:
            return
        self._published.discard(alert.id)
        note = f"merged into alert {standing} (cross-border, one alert for the centres involved)"
        self._publish(alert.to_json() | {"event": "resolved", "state": "resolved",
                                         "resolved_by": f"federation:{self.centre}", "merged_into": standing,
                                         "note": note if not alert.note else f"{alert.note}\n{note}"})

    def _claim(self, alert: Alert, key: str) -> str:
        winner = self.port.store.alerts.claim_alert(alert.to_json(), key)
        self._held.pop(alert.id, None)
        if winner == alert.id:
            self._keys[alert.id] = key
            self.counters["claimed"] += 1
        else:
            self._links[alert.id] = winner
            self.counters["linked"] += 1
            self._close_published(alert, winner)
        return winner

    def publishable(self, events: Iterable[AlertEvent]) -> list[AlertEvent]:
        """The events this centre publishes itself: its standing alerts and actions on others' alerts."""
        out = []
        for ev in events:
            aid = ev.alert.id
            hidden = aid in self._links or aid in self._held or aid in self._silent
            if ev.alert.state == "resolved":
                self._forget(aid)  # ended: its engine track is gone, nothing more will be saved for it
            if hidden:
                continue
            out.append(ev)
            if ev.alert.state == "resolved":
                self._published.discard(aid)
            elif self.port.store.alerts.alert_owner(aid) in (None, self.centre):
                self._published.add(aid)
        return out

    def _forget(self, aid: str) -> None:
        for d in (self._links, self._keys, self._held):
            d.pop(aid, None)
        self._silent.discard(aid)

    # ------------------------------------------------------------ loop work

    def service(self) -> None:
        """Non-blocking: peers' emissions in, held alerts decided, other centres' alerts followed."""
        if self.router is None:
            return
        if self._new_peers:
            with self._peer_lock:
                new, self._new_peers = self._new_peers, []
            for code, addr in new:
                self._connect_peer(code, addr)
        self._receive()
        now = time.monotonic()
        if now < self._next_follow:
            return
        self._next_follow = now + self.config.follow_interval_s
        store = self.port.store
        for aid, held in list(self._held.items()):
            standing = self._standing(held.alert, held.key)
            if standing is not None:
                self._link(held.alert, held.key, standing)
            elif now >= held.deadline:  # the owner did not claim it: the first centre to claim takes it
                if self._claim(held.alert, held.key) == aid:
                    self._publish(held.alert.to_json() | {"event": "opened"})
        if now >= self._next_beat:
            self._next_beat = now + self.config.beat_interval_s
            store.alerts.beat(format_utc(self.port.clock()), {"federation": self.endpoint})
            store.commit()
            self._take_over_from_silent_owners()
        store.commit()
        self._apply_actions()
        self._follow()

    def _take_over_from_silent_owners(self) -> None:
        """A standing alert whose owner centre has not beaten for ``takeover_after_s`` while our engine
        still tracks the emitter (our linked alert is active) is replaced by ours: the old one is
        resolved (``merged_into`` ours), ours stands for the key; its acknowledgement carries over. When
        the owner returns it does not restore the resolved alert and links its new one to ours."""
        engine = self.port.engine
        if not self._links or engine is None:
            return
        store = self.port.store
        now = self.port.clock()
        beats = store.alerts.centre_beats()
        active = {a.id: a for a in engine.open_alerts()}
        for local, canonical in list(self._links.items()):
            alert = active.get(local)
            claim = store.alerts.alert_claim(canonical)
            if alert is None or claim is None or claim.state == "resolved" or claim.centre in (None, self.centre):
                continue
            owner = claim.centre
            beat = beats.get(owner)
            if beat is None or (now - parse_utc(beat)).total_seconds() < self.config.takeover_after_s:
                continue
            key = claim.cluster_key or ",".join(sorted({r.province for r in alert.sensors}))
            now_iso = format_utc(now)
            if not store.alerts.take_over_alert(canonical, owner, local, key, now_iso):
                store.commit()
                continue
            store.commit()
            self._links.pop(local, None)
            self._keys[local] = key
            self.counters["taken_over"] += 1
            log.warning("federation: centre %s silent for %.0f s: its alert %s is replaced by %s",
                        owner, (now - parse_utc(beat)).total_seconds(), canonical, local)
            old = store.alerts.alert_json(canonical)
            if old is not None:
                self._publish(old | {"event": "resolved", "merged_into": local,
                                     "note": f"centre {owner} silent: taken over by centre {self.centre} "
                                             f"as alert {local}"})
            self._published.add(local)
            self._publish(alert.to_json() | {"event": "opened"})
            if claim.acknowledged_by and alert.state == "open":  # the acknowledgement carries over
                try:
                    self.port.handle_events([engine.acknowledge(local, claim.acknowledged_by, None)])
                except (KeyError, ValueError):
                    log.debug("carrying the acknowledgement of %s over failed", canonical, exc_info=True)

    def _apply_actions(self) -> None:
        store, engine = self.port.store, self.port.engine
        for action_id, alert_id, action, by, note in store.alerts.pending_actions():
            if engine is not None:
                try:
                    ev = getattr(engine, action)(alert_id, by, note)
                    self.port.handle_events([ev])
                except (KeyError, ValueError) as exc:  # resolved meanwhile: the database already says so
                    log.info("federation: %s of %s by %s not applied: %s", action, alert_id, by, exc)
            store.alerts.action_done(action_id)
        store.commit()

    def _follow(self) -> None:
        """Republish, on our PUB, other centres' alerts that involve our province."""
        store = self.port.store
        self._cursor, docs = store.alerts.alerts_since(self._cursor, self.centre)
        for doc in docs:
            if doc.get("centre") in (None, self.centre):
                continue
            self._publish(doc)
            self.counters["followed"] += 1
            if doc.get("state") in ("acknowledged", "resolved"):
                self._mirror_action(doc)

    def _mirror_action(self, doc: Mapping[str, Any]) -> None:
        """The standing alert was acknowledged/resolved: our engine's alerts linked to it follow, so
        our engine mutes the emitter as the owner's does (they stay unpublished)."""
        engine, canonical = self.port.engine, str(doc.get("id"))
        local = [aid for aid, target in self._links.items() if target == canonical]
        if engine is None or not local:
            return
        action = "resolve" if doc["state"] == "resolved" else "acknowledge"
        by = str(doc.get("resolved_by" if action == "resolve" else "acknowledged_by") or "federation")
        if action == "resolve":  # taken over by another centre (its owner fell silent): follow the successor
            active = {a.id: a for a in engine.open_alerts()}
            for aid in list(local):
                alert = active.get(aid)
                key = ",".join(sorted({r.province for r in alert.sensors})) if alert is not None else ""
                successor = self._standing(alert, key) if alert is not None and "," in key else None
                if alert is not None and successor is not None and successor != canonical:
                    self._link(alert, key, successor)
                    local.remove(aid)
        events = []
        for aid in local:
            try:
                events.append(getattr(engine, action)(aid, by, f"as {canonical} ({doc.get('centre')})"))
            except (KeyError, ValueError):  # already so, or no longer held by our engine
                pass
        if events:
            self.port.handle_events(events)

    def _publish(self, doc: Mapping[str, Any]) -> None:
        provinces = sorted(set(doc.get("provinces_source") or []) | set(doc.get("provinces_affected") or []))
        self.port.publish(dict(doc), [f"alert.{p}" for p in provinces])

    def snapshot(self) -> dict[str, Any]:
        return {"centre": self.centre, "peers": sorted(self.dealers), "counters": dict(self.counters),
                "held": len(self._held), "links": len(self._links), "revision": self._cursor}
