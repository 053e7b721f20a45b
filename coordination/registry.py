"""The sensor registry: who is connected, where it stands, how it is doing.

A sensor registers with a Hello (position, province, antenna, capabilities); the registry keeps it
in the store (so a restart remembers it), answers with the monitoring profiles and an ack, and from
then on knows its last contact, last profile and health. Its status (live / late / down) is the age
of its last contact against its profile's revisit time; every change of status (and every
heartbeat) is published on ``sensor.<sensor_id>`` for the console.

Runs in the server loop thread only; time comes from the caller (``now``) or the injected clock.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from coordination.archive import SensorMeta
from coordination.config import ServerConfig
from coordination.counters import Counters, Faults
from coordination.ingest import Inbound, RejectionCounter, peer_label
from coordination.outlets import SERVER_ID, MessageSeq, Publish, Replies
from coordination.protocol import Ack, Heartbeat, Hello, MonitoringProfile, ProfileMsg, format_utc, parse_utc
from coordination.sensors import SensorInfo
from coordination.store import SensorRecord, StorageError, Store

log = logging.getLogger(__name__)

STATUS_CODES = {"live": 0, "late": 1, "down": 2}


@dataclass
class SensorState:
    """Mutable, loop-thread-only view of one registered sensor."""

    record: SensorRecord
    info: SensorInfo
    last_seen: datetime | None = None
    last_profile: str | None = None
    health: dict[str, float] = field(default_factory=dict)
    status: str = "down"
    #: The connection identity of the sensor's latest admitted Hello (or, before any Hello since the
    #: server started, of its first admitted message): where commands and late (archive) acks go.
    #: Admission checked that connection's key, so nothing is ever routed to another key's connection.
    route: bytes | None = None

    @property
    def meta(self) -> SensorMeta:
        r = self.record
        return SensorMeta(r.sensor_id, r.province, r.lat, r.lon, r.height_m)


def can_capture_iq(capabilities: Sequence[str]) -> bool:
    """Whether a sensor's Hello says it takes ``capture_iq`` orders: the action name itself, or the
    ``evidence:<format>`` capability the sensor daemon (sdr/daemon.py) advertises."""
    return any(c == "capture_iq" or c.startswith("evidence:") for c in capabilities)


class SensorRegistry:
    """Registered sensors by id: Hello handling, status and its publication."""

    def __init__(self, *, config: ServerConfig, store: Store, profiles: Sequence[MonitoringProfile],
                 clock: Callable[[], datetime], replies: Replies, publisher: Publish, seq: MessageSeq,
                 rejections: RejectionCounter, faults: Faults, counters: Counters | None = None) -> None:
        self.config = config
        self.store = store
        self.profiles: tuple[MonitoringProfile, ...] = tuple(profiles)
        self.clock = clock
        self.replies = replies
        self.publisher = publisher
        self.seq = seq
        self.rejections = rejections
        self.faults = faults
        self.counters = counters or Counters()
        self.sensors: dict[str, SensorState] = {}
        #: Profiles a sensor runs instead of the common ones right now (a joint campaign's), or None.
        self.profiles_override: Callable[[str, datetime], tuple[MonitoringProfile, ...] | None] | None = None

    # ------------------------------------------------------------ lookup

    def __contains__(self, sensor_id: object) -> bool:
        return sensor_id in self.sensors

    def __len__(self) -> int:
        return len(self.sensors)

    def __iter__(self) -> Iterator[SensorState]:
        return iter(self.sensors.values())

    def get(self, sensor_id: str) -> SensorState | None:
        return self.sensors.get(sensor_id)

    # ------------------------------------------------------------ registration

    def load(self, provinces: Sequence[str] | None = None) -> None:
        """The sensors registered before this start (of ``provinces``: a federated centre loads its own)."""
        for rec in self.store.sensors.records(provinces):
            try:
                self.sensors[rec.sensor_id] = self._state_for(rec)
            except ValueError as exc:
                log.error("sensor %s in the registry is invalid, ignored: %s", rec.sensor_id, exc)

    def _state_for(self, rec: SensorRecord) -> SensorState:
        info = SensorInfo(rec.sensor_id, rec.province, rec.lat, rec.lon, max(rec.height_m, 0.0),
                          rec.antenna_factor_db_m)
        last_seen = parse_utc(rec.last_seen) if rec.last_seen else None
        st = SensorState(rec, info, last_seen, rec.last_profile, dict(rec.health))
        st.status = self.status(st)
        return st

    def handle_hellos(self, hellos: Sequence[Inbound], now: datetime, now_iso: str) -> None:
        """Register (or re-register) the senders, commit, then answer each with profiles and an ack."""
        replies: list[Inbound] = []
        for ib in hellos:
            hello = ib.msg
            assert isinstance(hello, Hello)
            try:
                info = SensorInfo(hello.sensor_id, hello.province, hello.lat, hello.lon, max(hello.height_m, 0.0),
                                  hello.antenna_factor_db_m)
            except ValueError as exc:
                self.rejections.count(peer_label(ib.identity), "field", str(exc))
                continue
            old = self.sensors.get(hello.sensor_id)
            try:
                self._note_epoch(hello, old.record.epoch if old else None)
                self.store.sensors.upsert(hello, now_iso)
                self.store.ledger.mark_received([(hello.sensor_id, hello.seq, "hello", hello.t_utc)],
                                                {hello.sensor_id: hello.epoch})
            except Exception:
                self.faults.internal("hello")
                continue
            rec = SensorRecord(hello.sensor_id, hello.province, hello.lat, hello.lon, hello.height_m,
                               hello.antenna_factor_db_m, hello.software, tuple(hello.capabilities),
                               old.record.first_seen if old else now_iso, now_iso, epoch=hello.epoch)
            st = SensorState(rec, info, now, old.last_profile if old else None, old.health if old else {})
            st.status = "live"
            st.route = ib.identity
            self.sensors[hello.sensor_id] = st
            replies.append(ib)
            log.info("hello from %s (%s, %.4f, %.4f)", hello.sensor_id, hello.province, hello.lat, hello.lon)
        try:
            self.store.commit()
        except StorageError as exc:
            self.faults.storage("sqlite", str(exc), len(replies))
            return
        for ib in replies:
            own = self.profiles_override(ib.msg.sensor_id, now) if self.profiles_override is not None else None
            profiles = ProfileMsg(SERVER_ID, self.seq.next(), now_iso, profiles=own or self.profiles)
            self.replies.send((ib.identity,), profiles.to_frames())
            ack = Ack(SERVER_ID, self.seq.next(), now_iso, acked=(ib.msg.seq,))
            self.replies.send((ib.identity,), ack.to_frames())
            self.publish_status(self.sensors[ib.msg.sensor_id], now)

    def send_profiles(self, sensor_id: str, profiles: tuple[MonitoringProfile, ...]) -> None:
        """Give a connected sensor these profiles now (a joint campaign starting or ending)."""
        msg = ProfileMsg(SERVER_ID, self.seq.next(), format_utc(self.clock()), profiles=profiles)
        if not self.replies.send((self.route(sensor_id),), msg.to_frames()):
            log.warning("profiles for %s not sent (not connected); it gets them at its next Hello", sensor_id)

    def _note_epoch(self, hello: Hello, previous: str | None) -> None:
        """A sensor's spool epoch changed: adopt it (first epoch of a sensor that had none) or log
        and count a new incarnation (its spool was lost: seqs restart, stored as new data)."""
        sid, epoch = hello.sensor_id, hello.epoch
        if previous is None or epoch == previous:
            return
        if previous == "":
            self.store.ledger.adopt_epoch(sid, epoch)
            log.info("sensor %s now names its spool epoch %s (its ledger so far is that epoch's)", sid, epoch)
            return
        self.counters.new_epochs[sid] += 1
        log.warning("sensor %s started a new spool epoch %s (was %s): its spool was lost or replaced; its seqs "
                    "start again and are stored as new data (what the old spool had not sent is lost)",
                    sid, epoch or "(none)", previous)

    def epoch(self, sensor_id: str) -> str:
        """The sensor's current spool epoch ("" if it names none)."""
        st = self.sensors.get(sensor_id)
        return st.record.epoch if st is not None else ""

    # ------------------------------------------------------------ contact and health

    def seen(self, sensor_id: str, now: datetime, identity: bytes | None = None) -> None:
        """A message of a registered sensor arrived (its status is re-evaluated after storage) on the
        connection ``identity`` (its route if it has none yet: no Hello since the server started)."""
        st = self.sensors[sensor_id]
        st.last_seen = now
        if st.route is None:
            st.route = identity

    def route(self, sensor_id: str) -> bytes:
        """The connection identity to send a sensor commands on (its id if it never spoke to us)."""
        st = self.sensors.get(sensor_id)
        return st.route if st is not None and st.route is not None else sensor_id.encode()

    def is_route(self, sensor_id: str, identity: bytes) -> bool:
        """Is ``identity`` the sensor's current connection (a late ack may go there)?"""
        st = self.sensors.get(sensor_id)
        return st is not None and st.route == identity

    def note_heartbeat(self, st: SensorState, health: dict[str, float], now: datetime) -> None:
        st.health = dict(health)
        self.publish_status(st, now)

    # ------------------------------------------------------------ status

    def revisit_s(self, profile: str | None) -> float:
        """The revisit time of ``profile`` (the longest of all when unknown)."""
        for p in self.profiles:
            if p.name == profile:
                return p.revisit_s
        return max((p.revisit_s for p in self.profiles), default=1.0)

    def status(self, st: SensorState, now: datetime | None = None) -> str:
        """live / late / down from last_seen against the sensor's profile revisit time."""
        if st.last_seen is None:
            return "down"
        now = now or self.clock()
        revisit = self.revisit_s(st.last_profile)
        age = (now - st.last_seen).total_seconds()
        if age <= self.config.late_factor * revisit:
            return "live"
        if age <= self.config.down_factor * revisit:
            return "late"
        return "down"

    def publish_status(self, st: SensorState, now: datetime) -> None:
        """Publish a sensor's health and status on ``sensor.<sensor_id>`` (a Heartbeat from the server)."""
        st.status = self.status(st, now)
        health = {k: v for k, v in st.health.items() if isinstance(v, (int, float))}
        health["status_code"] = float(STATUS_CODES[st.status])
        if st.last_seen is not None:
            health["age_s"] = max(0.0, (now - st.last_seen).total_seconds())
        msg = Heartbeat(st.record.sensor_id, self.seq.next(), format_utc(now), health=health)
        self.publisher.publish(f"sensor.{st.record.sensor_id}", msg.to_frames())

    def tick(self, now: datetime) -> None:
        """Publish every sensor whose status changed with the passing of time."""
        for st in self.sensors.values():
            if self.status(st, now) != st.status:
                self.publish_status(st, now)
