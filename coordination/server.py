"""The coordination server: one thread, one zmq.Poller loop, bounded work per iteration.

Sockets (all made by :class:`coordination.transport.SocketFactory`, where security plugs in):
``sensors`` ROUTER (measurements in, Ack/ProfileMsg/Command out), ``api`` ROUTER (Request ->
Reply), ``pub`` PUB (``alert.<PROV>``, ``spectrum.<sensor_id>``, ``sensor.<sensor_id>``).

Each loop iteration drains at most ``batch_max_messages`` sensor messages and handles them as one
batch: validate every message (rejections counted per reason and peer), drop duplicates by
``(sensor_id, seq)`` (acked again, stored once); then in two steps, each ending in one SQLite
commit and only then the acks: (1) summaries (emissions, occupancy, health, evidence) to SQLite,
after which each stored Emissions message goes to the rules engine and every resulting alert event
is persisted and published, so alerts never wait for the spectrum archive; (2) spectra to HDF5,
files flushed, their ledger entries committed. Then at most ``api_max_requests`` API requests are
answered, and the engine is ticked every ``tick_interval_s``. Nothing a peer sends can stop the
loop: per-message handling is wrapped, an internal error is counted and logged.

Embeddable: ``Server(config).start()`` runs the loop in a thread (tests, demo); ``run()`` runs it
in the caller's thread (the CLI); ``stop()`` ends it. Time comes from an injected ``clock``.
"""

from __future__ import annotations

import itertools
import logging
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import zmq

from coordination import api as api_ops
from coordination.archive import SensorMeta, SpectrumArchive
from coordination.config import ServerConfig
from coordination.evidence import EvidenceAssembler, capture_id_for
from coordination.ingest import API_TYPES, SENSOR_TYPES, Inbound, RejectionCounter, Validator, peer_label
from coordination.profiles import select_profiles
from coordination.protocol import (
    Ack,
    AlertMsg,
    Command,
    Emissions,
    Evidence,
    Heartbeat,
    Hello,
    MonitoringProfile,
    Occupancy,
    ProfileMsg,
    Spectrum,
    format_utc,
    parse_utc,
)
from coordination.sensors import SensorInfo
from coordination.store import SensorRecord, SqliteAlertStore, StorageError, Store
from coordination.transport import ROLE_API, ROLE_PUB, ROLE_SENSORS, SecurityPolicy, SocketFactory

log = logging.getLogger(__name__)

SERVER_ID = "server"
STATUS_CODES = {"live": 0, "late": 1, "down": 2}
#: Archive files written per loop iteration at most: bounded work, so sensor batches (and alerts)
#: interleave with a burst of due files instead of waiting behind all of them.
ARCHIVE_FILES_PER_ITERATION = 8
#: Log lines per storage/internal error kind before going quiet (counters keep counting).
MAX_ERROR_LOGS = 20


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class SensorState:
    """Mutable, loop-thread-only view of one registered sensor."""

    record: SensorRecord
    info: SensorInfo
    last_seen: datetime | None = None
    last_profile: str | None = None
    health: dict[str, float] = field(default_factory=dict)
    status: str = "down"

    @property
    def meta(self) -> SensorMeta:
        r = self.record
        return SensorMeta(r.sensor_id, r.province, r.lat, r.lon, r.height_m)


class Counters:
    """What the server counted (rejections live in :class:`RejectionCounter`)."""

    def __init__(self) -> None:
        self.stored: Counter[str] = Counter()
        self.duplicates = 0
        self.storage_errors: Counter[str] = Counter()
        self.internal_errors: Counter[str] = Counter()
        self.published: Counter[str] = Counter()
        self.alert_events: Counter[str] = Counter()

    def rows(self) -> Iterable[tuple[str, str, int]]:
        yield from (("stored", k, v) for k, v in self.stored.items())
        yield ("duplicates", "", self.duplicates)
        yield from (("storage_errors", k, v) for k, v in self.storage_errors.items())
        yield from (("internal_errors", k, v) for k, v in self.internal_errors.items())
        yield from (("alert_events", k, v) for k, v in self.alert_events.items())

    def load(self, rows: Iterable[tuple[str, str, int]]) -> None:
        for kind, key, n in rows:
            if kind == "duplicates":
                self.duplicates = n
            elif kind in ("stored", "storage_errors", "internal_errors", "alert_events"):
                getattr(self, kind)[key] = n


class Server:
    """The borderwatch coordination server (see module docstring)."""

    def __init__(self, config: ServerConfig, *, clock: Callable[[], datetime] = utc_now, engine: Any = None,
                 stations: Any = None, rules: Any = None, policy: SecurityPolicy | None = None,
                 build_engine: bool = True, federation: Any = None) -> None:
        self.config = config
        # coordination.federation.Federation: this server is one province's centre of several sharing
        # one PostgreSQL (docs/deployment.md); None: a single server.
        self.federation = federation
        self.clock = clock
        self.policy = policy
        self.engine = engine
        self.stations = stations
        self.rules = rules
        self._build_engine = build_engine and engine is None
        self.endpoints: dict[str, str] = {}
        self.profiles: tuple[MonitoringProfile, ...] = ()
        self.rejections = RejectionCounter()
        self.counters = Counters()
        self.sensors: dict[str, SensorState] = {}
        self.latest_spectra: dict[tuple[str, str], Spectrum] = {}
        self.store: Store | None = None
        self.archive: SpectrumArchive | None = None
        self.evidence: EvidenceAssembler | None = None
        self.alert_store: SqliteAlertStore | None = None
        self.api: api_ops.Api | None = None
        self._seq = itertools.count(int(time.time() * 1000))
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._startup_error: BaseException | None = None
        self._ctx: zmq.Context | None = None
        self._socks: dict[str, zmq.Socket] = {}
        self._error_logs: Counter[str] = Counter()
        self._factory: SocketFactory | None = None
        self._pub_kind = zmq.PUB
        self._admit: Callable[[str, list[zmq.Frame]], bool] | None = None
        self._captures_ordered: Counter[str] = Counter()
        self._evidence_done: list[tuple[str, str]] = []
        self._staged: dict[tuple[str, int], Inbound] = {}  # spectra waiting for the archive
        self.iterations = 0

    # ------------------------------------------------------------ lifecycle

    def start(self, timeout_s: float = 30.0) -> Server:
        """Run the loop in a background thread; return once the sockets are bound."""
        if self._thread is not None:
            raise RuntimeError("server already started")
        self._thread = threading.Thread(target=self.run, name="borderwatch-server", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout_s):
            self.stop()
            raise TimeoutError(f"server did not start within {timeout_s} s")
        if self._startup_error is not None:
            self._thread.join(timeout_s)
            raise self._startup_error
        return self

    def stop(self, timeout_s: float = 30.0) -> None:
        """Ask the loop to finish its current iteration and close everything."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                log.error("server loop did not stop within %s s", timeout_s)

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def run(self, on_ready: Callable[[Server], None] | None = None) -> None:
        """Set up, loop until :meth:`stop`, tear down. Startup errors are raised (and given to start())."""
        try:
            self._setup()
            if on_ready is not None:
                on_ready(self)
        except BaseException as exc:
            self._startup_error = exc
            self._ready.set()
            self._teardown()
            if self._thread is None:
                raise
            return
        self._ready.set()
        try:
            self._loop()
        finally:
            self._teardown()

    # ------------------------------------------------------------ setup

    def _setup(self) -> None:
        cfg = self.config
        data = Path(cfg.data_dir)
        data.mkdir(parents=True, exist_ok=True)
        fed = self.federation
        self.store = Store(fed.database if fed is not None else data / "server.db", fsync=cfg.fsync,
                           centre=fed.centre if fed is not None else None)
        raise_open_files_limit(cfg.max_open_files + 512)  # one HDF5 file per sensor stays open
        self.archive = SpectrumArchive(data / "spectra", compression=cfg.compression, chunk_rows=cfg.chunk_rows,
                                       max_open_files=cfg.max_open_files, fsync=cfg.fsync)
        self.evidence = EvidenceAssembler(data / "evidence")
        self.counters.load(self.store.load_counters())
        self._load_rules_and_stations(data)
        self.profiles = select_profiles(cfg.profiles, self.rules)
        self._load_registry()
        self.alert_store = SqliteAlertStore(self.store, self._alert_decoder())
        if fed is not None:
            self.alert_store = fed.wrap_alert_store(self.alert_store)
        if self._build_engine:
            self.engine = self._make_engine()
        self.api = api_ops.Api(self)
        if self.policy is None and not cfg.insecure:
            from coordination.security import make_policy  # CURVE + ZAP allow-list: only known keys get in or out

            self.policy = make_policy(False, cfg.keys_dir)
        if cfg.insecure and self.policy is None:
            log.warning("SECURITY: the server runs WITHOUT authentication or encryption (plain TCP); "
                        "use only on loopback or a trusted network")
        self._ctx = zmq.Context()
        factory = self._factory = SocketFactory(self._ctx, self.policy)
        # A policy that filters subscriptions (per-province topics) wants an XPUB; plain TCP keeps PUB.
        self._pub_kind = getattr(self.policy, "pub_socket_type", zmq.PUB)
        self._admit = getattr(self.policy, "admit", None)
        if hasattr(self.policy, "set_alert_scope"):  # province-limited team keys: whose alert is it?
            self.policy.set_alert_scope(self._alert_provinces)  # type: ignore[union-attr]
        for role, kind, addr in ((ROLE_SENSORS, zmq.ROUTER, cfg.sensors_addr), (ROLE_API, zmq.ROUTER, cfg.api_addr),
                                 (ROLE_PUB, self._pub_kind, cfg.pub_addr)):
            sock, endpoint = factory.bind(kind, addr, role)
            self._socks[role] = sock
            self.endpoints[role] = endpoint
        if fed is not None:
            fed.attach(self)
        self.sensor_validator = Validator(SENSOR_TYPES, self.rejections, check_identity=True)
        self.api_validator = Validator(API_TYPES, self.rejections, check_identity=False, allow_req_envelope=True)
        log.info("server ready: sensors %s, api %s, pub %s; %d sensors known, %d profiles, engine %s",
                 self.endpoints[ROLE_SENSORS], self.endpoints[ROLE_API], self.endpoints[ROLE_PUB],
                 len(self.sensors), len(self.profiles), type(self.engine).__name__ if self.engine else "none")

    def _load_rules_and_stations(self, data: Path) -> None:
        if self.rules is None:
            try:
                from station_db.rules import load_rules
            except ImportError:  # station_db not installed with rules: profiles fall back
                log.warning("station_db.rules not available: no rules loaded")
            else:
                self.rules = load_rules(self.config.rules)
        if self.stations is None and self._build_engine:
            self.stations = open_stations(self.config.stations, data)

    def _alert_decoder(self) -> Callable[[Mapping[str, Any]], Any]:
        try:
            from coordination.alerts import Alert
        except ImportError:
            return dict
        return Alert.from_json

    def _make_engine(self) -> Any:
        try:
            from coordination.engine import RulesEngine
        except ImportError:
            log.warning("coordination.engine not available: running without the rules engine (no alerts)")
            return None
        if self.stations is None or self.rules is None:
            log.warning("no station database or rules: running without the rules engine")
            return None
        from coordination.engine import EngineConfig

        engine_args: dict[str, Any] = dict(self.config.engine)
        try:
            engine_cfg = EngineConfig(**engine_args)
        except TypeError as exc:
            raise ValueError(f"server config [engine]: {exc}") from exc
        assert self.alert_store is not None  # _setup opens it before building the engine
        return RulesEngine(self.stations, self.rules, self.alert_store, config=engine_cfg)

    def _load_registry(self) -> None:
        assert self.store is not None
        own = [self.federation.centre] if self.federation is not None else None  # a centre loads its own
        for rec in self.store.sensors(own):
            try:
                self.sensors[rec.sensor_id] = self._state_for(rec)
            except ValueError as exc:
                log.error("sensor %s in the registry is invalid, ignored: %s", rec.sensor_id, exc)

    def _state_for(self, rec: SensorRecord) -> SensorState:
        info = SensorInfo(rec.sensor_id, rec.province, rec.lat, rec.lon, max(rec.height_m, 0.0),
                          rec.antenna_factor_db_m)
        last_seen = parse_utc(rec.last_seen) if rec.last_seen else None
        st = SensorState(rec, info, last_seen, rec.last_profile, dict(rec.health))
        st.status = self.sensor_status(st)
        return st

    def _teardown(self) -> None:
        if self._staged and self.archive is not None and self.store is not None:
            self._socks.pop(ROLE_SENSORS, None)  # no acks from here on: write and record only
            self._guard("archive", self._flush_spectra, True)
        for sock in self._socks.values():
            try:
                sock.close(0)
            except Exception:
                log.debug("socket close failed", exc_info=True)
        self._socks.clear()
        if self.federation is not None:
            self.federation.close()
        if self.policy is not None and hasattr(self.policy, "close"):
            try:
                self.policy.close()  # its ZAP/monitor sockets live in our context: before term()
            except Exception:
                log.exception("closing the security policy failed")
        if self._ctx is not None:
            self._ctx.term()
            self._ctx = None
        if self.archive is not None:
            self.archive.close()
        if self.store is not None:
            try:
                self.store.save_counters(self.counters.rows())
                self.store.commit()
            except Exception:
                log.exception("saving counters at shutdown failed")
            try:
                self.store.close()
            except Exception:
                log.exception("closing the store failed")
        if self.stations is not None and self._build_engine and hasattr(self.stations, "close"):
            try:
                self.stations.close()
            except Exception:
                log.debug("closing the station repository failed", exc_info=True)
        log.info("server stopped")

    # ------------------------------------------------------------ loop

    def _loop(self) -> None:
        cfg = self.config
        poller = zmq.Poller()
        sensors, api = self._socks[ROLE_SENSORS], self._socks[ROLE_API]
        poller.register(sensors, zmq.POLLIN)
        poller.register(api, zmq.POLLIN)
        pub_filter = self._pub_kind == zmq.XPUB and hasattr(self.policy, "service_pub")
        pub_generation = getattr(self.policy, "pub_generation", 0)
        if pub_filter:
            poller.register(self._socks[ROLE_PUB], zmq.POLLIN)
        next_tick = time.monotonic() + cfg.tick_interval_s
        next_counters = time.monotonic() + cfg.counters_flush_s
        while not self._stop.is_set():
            self.iterations += 1
            wait_ms = max(0, min(cfg.poll_timeout_ms, int((next_tick - time.monotonic()) * 1000)))
            events = dict(poller.poll(wait_ms))
            if events.get(sensors):
                self._drain(sensors, cfg.batch_max_messages, self._handle_sensor_batch)
            if events.get(api):
                self._drain(api, cfg.api_max_requests, self._handle_api_batch)
            if pub_filter:
                # Every iteration, not only on POLLIN: a fresh XPUB processes its new peers' subscriptions
                # only when used (ZeroMQ's edge-triggered FD may not fire for them); a NOBLOCK recv is cheap.
                self._guard("subscriptions", self.policy.service_pub, self._socks[ROLE_PUB])  # type: ignore[union-attr]
                if self.policy.pub_generation != pub_generation:  # type: ignore[union-attr]
                    pub_generation = self.policy.pub_generation  # type: ignore[union-attr]
                    self._guard("pub_rebuild", self._rebuild_pub, poller)
            if self._staged:
                self._guard("archive", self._flush_spectra, False)
            now_mono = time.monotonic()
            if now_mono >= next_tick:
                next_tick = now_mono + cfg.tick_interval_s
                self._guard("tick", self._tick)
            if self.federation is not None:
                self._guard("federation", self.federation.service)
            if now_mono >= next_counters:
                next_counters = now_mono + cfg.counters_flush_s
                self._guard("counters", self._flush_counters)
        # Stopping: what is staged for the archive is written, committed and acked (not lost, and
        # not stored twice when the sensor resends it after the restart).
        self._guard("archive", self._flush_spectra, True)

    def _drain(self, sock: zmq.Socket, limit: int, handler: Callable[[list[list[bytes]]], None]) -> None:
        batch: list[list[bytes]] = []
        admit = self._admit
        role = ROLE_SENSORS if sock is self._socks.get(ROLE_SENSORS) else ROLE_API
        for _ in range(limit):
            try:
                if admit is None:
                    batch.append(sock.recv_multipart(zmq.NOBLOCK))
                    continue
                frames = sock.recv_multipart(zmq.NOBLOCK, copy=False)
            except zmq.Again:
                break
            # The key ZAP attached to this connection must still be allowed (live revocation).
            if admit(role, frames):
                batch.append([f.bytes for f in frames])
        if batch:
            self._guard("batch", handler, batch)

    def _alert_provinces(self, alert_id: str) -> tuple[str, ...] | None:
        """Provinces an alert involves (source, affected, notified); None when there is no such alert."""
        assert self.alert_store is not None
        try:
            alert = self.alert_store.get(alert_id)
        except Exception:
            return None
        if alert is None:
            return None
        if isinstance(alert, dict):
            return tuple({*alert.get("provinces_source", ()), *alert.get("provinces_affected", ())})
        return tuple({*alert.provinces, *getattr(alert, "notify_provinces", ())})

    def _rebuild_pub(self, poller: zmq.Poller) -> None:
        """Re-create the publication socket after a key was revoked: every subscriber reconnects
        through ZAP (which refuses the revoked key); the others re-subscribe by themselves."""
        old = self._socks[ROLE_PUB]
        endpoint = self.endpoints[ROLE_PUB]
        poller.unregister(old)
        old.close(0)
        deadline = time.monotonic() + 5.0
        assert self._factory is not None  # made in _start, before the loop that calls this
        while True:
            try:
                sock, _ = self._factory.bind(self._pub_kind, endpoint, ROLE_PUB)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
        self._socks[ROLE_PUB] = sock
        poller.register(sock, zmq.POLLIN)
        log.warning("SECURITY: publication socket re-created at %s after a key revocation", endpoint)

    def _guard(self, where: str, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn``; an unexpected exception is counted and logged, never fatal."""
        try:
            return fn(*args)
        except Exception:
            self._internal_error(where)
            if self.store is not None:  # nothing of a failed step is acked, so nothing of it may stay
                self.store.rollback()
            return None

    def _internal_error(self, where: str) -> None:
        self.counters.internal_errors[where] += 1
        if self._error_logs[f"internal:{where}"] < MAX_ERROR_LOGS:
            self._error_logs[f"internal:{where}"] += 1
            log.exception("internal error in %s (counted; the server carries on)", where)

    def _storage_error(self, kind: str, text: str, n: int = 1) -> None:
        self.counters.storage_errors[kind] += n
        if self._error_logs[f"storage:{kind}"] < MAX_ERROR_LOGS:
            self._error_logs[f"storage:{kind}"] += 1
            log.error("STORAGE FAILURE (%s, %d message(s) not stored and not acked): %s", kind, n, text)

    def next_seq(self) -> int:
        return next(self._seq)

    # ------------------------------------------------------------ sensor messages

    def _handle_sensor_batch(self, raws: list[list[bytes]]) -> None:
        assert self.store is not None and self.archive is not None
        now = self.clock()
        now_iso = format_utc(now)
        inbound: list[Inbound] = []
        for raw in raws:
            try:
                ib = self.sensor_validator.validate(raw)
            except Exception:
                self._internal_error("validate")
                continue
            if ib is not None:
                inbound.append(ib)
        if not inbound:
            return
        hellos = [ib for ib in inbound if isinstance(ib.msg, Hello)]
        if hellos:
            self._handle_hellos(hellos, now, now_iso)
        acks: dict[bytes, list[int]] = {}
        fresh = self._dedupe([ib for ib in inbound if not isinstance(ib.msg, Hello)], acks, now)
        # Summaries are committed first and go to the rules engine at once (an alert never waits for
        # the archive); spectra are staged for the HDF5 archive, written when their file is due.
        summaries = [ib for ib in fresh if not isinstance(ib.msg, Spectrum)]
        self._evidence_done.clear()
        stored = self._store_batch(summaries, now_iso) if summaries else []
        for ib in stored:
            acks.setdefault(ib.identity, []).append(ib.msg.seq)
        self._send_acks(acks, now_iso)
        self._after_store(stored, now)
        self._stage_spectra([ib for ib in fresh if isinstance(ib.msg, Spectrum)])
        self._flush_spectra(force=False)

    def _stage_spectra(self, spectra: list[Inbound]) -> None:
        """Queue new spectra for the archive; the live view gets them now."""
        assert self.archive is not None
        pub = self._socks[ROLE_PUB]
        now_mono = time.monotonic()
        for ib in spectra:
            m: Spectrum = ib.msg  # type: ignore[assignment]
            try:
                st = self.sensors[m.sensor_id]
                self.archive.stage(st.meta, m, now_mono)
            except Exception:
                self._internal_error("stage_spectrum")
                continue
            self._staged[(m.sensor_id, m.seq)] = ib
            st.last_profile = m.profile
            self.latest_spectra[(m.sensor_id, m.profile)] = m
            if self.config.publish_spectra:
                self._send_pub(pub, f"spectrum.{m.sensor_id}", list(ib.frames))

    def _flush_spectra(self, force: bool) -> None:
        """Write the archive files that are due (all with ``force``), commit their ledger, ack."""
        assert self.store is not None and self.archive is not None
        if not self._staged:
            return
        cfg = self.config
        if force:
            written, failed = self.archive.flush()
        else:
            written, failed = self.archive.flush(time.monotonic(), cfg.archive_max_delay_s, cfg.archive_max_rows,
                                                 ARCHIVE_FILES_PER_ITERATION)
        for m, text in failed:
            self._staged.pop((m.sensor_id, m.seq), None)
            self._storage_error("hdf5", f"{m.sensor_id} seq {m.seq}: {text}")
        if not written:
            return
        stored = [self._staged.pop((m.sensor_id, m.seq)) for m in written]
        now = self.clock()
        now_iso = format_utc(now)
        if not self._commit_stored(stored, now_iso):
            self.archive.undo_last_flush()  # not in the ledger, so it will come again: no double rows
            return
        acks: dict[bytes, list[int]] = {}
        for ib in stored:
            acks.setdefault(ib.identity, []).append(ib.msg.seq)
        if ROLE_SENSORS in self._socks:
            self._send_acks(acks, now_iso)

    def _handle_hellos(self, hellos: list[Inbound], now: datetime, now_iso: str) -> None:
        assert self.store is not None
        replies: list[Inbound] = []
        for ib in hellos:
            hello: Hello = ib.msg  # type: ignore[assignment]
            try:
                info = SensorInfo(hello.sensor_id, hello.province, hello.lat, hello.lon, max(hello.height_m, 0.0),
                                  hello.antenna_factor_db_m)
            except ValueError as exc:
                self.rejections.count(peer_label(ib.identity), "field", str(exc))
                continue
            try:
                self.store.upsert_sensor(hello, now_iso)
                self.store.mark_received([(hello.sensor_id, hello.seq, "hello", hello.t_utc)])
            except Exception:
                self._internal_error("hello")
                continue
            old = self.sensors.get(hello.sensor_id)
            rec = SensorRecord(hello.sensor_id, hello.province, hello.lat, hello.lon, hello.height_m,
                               hello.antenna_factor_db_m, hello.software, tuple(hello.capabilities),
                               old.record.first_seen if old else now_iso, now_iso)
            st = SensorState(rec, info, now, old.last_profile if old else None, old.health if old else {})
            st.status = "live"
            self.sensors[hello.sensor_id] = st
            replies.append(ib)
            log.info("hello from %s (%s, %.4f, %.4f)", hello.sensor_id, hello.province, hello.lat, hello.lon)
        try:
            self.store.commit()
        except StorageError as exc:
            self._storage_error("sqlite", str(exc), len(replies))
            return
        sock = self._socks[ROLE_SENSORS]
        for ib in replies:
            msg = ProfileMsg(SERVER_ID, self.next_seq(), now_iso, profiles=self.profiles)
            sock.send_multipart([ib.identity, *msg.to_frames()])
            sock.send_multipart([ib.identity, *Ack(SERVER_ID, self.next_seq(), now_iso, acked=(ib.msg.seq,))
                                 .to_frames()])
            self._publish_status(self.sensors[ib.msg.sensor_id], now)

    def _dedupe(self, inbound: list[Inbound], acks: dict[bytes, list[int]], now: datetime) -> list[Inbound]:
        """Drop unknown senders (counted) and duplicates (acked again, or when still waiting for the
        archive acked once written); return the new messages in order."""
        assert self.store is not None
        by_sensor: dict[str, list[int]] = {}
        known_ok: list[Inbound] = []
        for ib in inbound:
            sid = ib.msg.sensor_id
            if sid not in self.sensors:
                self.rejections.count(peer_label(ib.identity), "unknown_sensor",
                                      f"{type(ib.msg).__name__} from {sid!r} before any Hello")
                continue
            by_sensor.setdefault(sid, []).append(ib.msg.seq)
            known_ok.append(ib)
            self.sensors[sid].last_seen = now
        seen = {sid: self.store.known_seqs(sid, seqs) for sid, seqs in by_sensor.items()}
        fresh = []
        for ib in known_ok:
            s = seen[ib.msg.sensor_id]
            if ib.msg.seq in s:
                self.counters.duplicates += 1
                acks.setdefault(ib.identity, []).append(ib.msg.seq)
                continue
            if (ib.msg.sensor_id, ib.msg.seq) in self._staged:
                self.counters.duplicates += 1  # its ack goes out when the archive has written it
                continue
            s.add(ib.msg.seq)
            fresh.append(ib)
        return fresh

    def _store_batch(self, fresh: list[Inbound], now_iso: str) -> list[Inbound]:
        """Store a batch of summaries in one SQLite transaction. Return what is durably stored."""
        assert self.store is not None and self.archive is not None
        store = self.store
        stored: list[Inbound] = []
        store.begin()
        for ib in fresh:
            m = ib.msg
            store.savepoint()
            try:
                if isinstance(m, Emissions):
                    store.insert_emissions(m)
                elif isinstance(m, Occupancy):
                    store.insert_occupancy(m)
                elif isinstance(m, Heartbeat):
                    store.set_health(m.sensor_id, m.seq, m.t_utc, m.health)
                elif isinstance(m, Evidence):
                    self._store_evidence(m)
            except OSError as exc:
                store.rollback_savepoint()
                self._storage_error(type(m).__name__.lower(), f"{m.sensor_id} seq {m.seq}: {exc}")
            except Exception:
                store.rollback_savepoint()
                self._internal_error(f"store_{type(m).__name__.lower()}")
            else:
                store.release_savepoint()
                stored.append(ib)
        if not stored:
            store.rollback()
            return []
        return stored if self._commit_stored(stored, now_iso) else []

    def _commit_stored(self, stored: list[Inbound], now_iso: str) -> bool:
        """Put stored messages in the ledger and commit; False (counted, logged) when that fails."""
        assert self.store is not None
        store = self.store
        storage_errors: tuple[type[BaseException], ...] = (StorageError, OSError, sqlite3.Error, *store.errors)
        try:
            store.mark_received([(ib.msg.sensor_id, ib.msg.seq, type(ib.msg).TYPE.decode(), ib.msg.t_utc)
                                 for ib in stored])
            last: dict[str, tuple[str, int | None, str | None, str]] = {}
            for ib in stored:
                m = ib.msg
                prof = getattr(m, "profile", None) or None
                prev = last.get(m.sensor_id)
                last[m.sensor_id] = (m.sensor_id, max(m.seq, prev[1] or 0) if prev else m.seq,
                                     prof or (prev[2] if prev else None), now_iso)
            store.touch_sensors(last.values())
            store.commit()
        except storage_errors as exc:
            store.rollback()
            self._storage_error("sqlite", str(exc), len(stored))
            return False
        for ib in stored:
            self.counters.stored[type(ib.msg).TYPE.decode()] += 1
        return True

    def _store_evidence(self, ev: Evidence) -> None:
        assert self.store is not None and self.evidence is not None
        order = self.store.evidence_order(ev.capture_id)
        alert_id = order[0] if order and order[1] == ev.sensor_id else None
        st = self.sensors[ev.sensor_id]
        extra = {"province": st.record.province, "lat": st.record.lat, "lon": st.record.lon}
        path = self.evidence.add_chunk(ev, alert_id, extra)
        if path is not None and order is not None:
            self.store.complete_evidence(ev.capture_id, str(path))
            if alert_id is not None:
                self._evidence_done.append((alert_id, str(path)))

    def _send_acks(self, acks: Mapping[bytes, list[int]], now_iso: str) -> None:
        sock = self._socks[ROLE_SENSORS]
        for identity, seqs in acks.items():
            sid = identity.decode("utf-8", "replace")
            for i in range(0, len(seqs), 10_000):
                msg = Ack(SERVER_ID, self.next_seq(), now_iso, acked=tuple(seqs[i:i + 10_000]))
                try:
                    sock.send_multipart([identity, *msg.to_frames()], zmq.NOBLOCK)
                except zmq.ZMQError as exc:  # peer gone or HWM: the sensor resends, we ack the duplicate
                    log.debug("ack to %s not sent: %s", sid, exc)

    def _after_store(self, stored: list[Inbound], now: datetime) -> None:
        events: list[Any] = []
        for ib in stored:
            m = ib.msg
            st = self.sensors.get(m.sensor_id)
            if st is None:
                continue
            if isinstance(m, Heartbeat):
                st.health = dict(m.health)
                self._publish_status(st, now)
            elif isinstance(m, Emissions):
                if m.profile:
                    st.last_profile = m.profile
                if self.engine is not None:
                    try:
                        events.extend(self.engine.observe(st.info, parse_utc(m.t_utc), m.emissions,
                                                          m.noise_floor_dbm, m.antenna_factor_db_m) or ())
                    except Exception:
                        self._internal_error("engine_observe")
                if self.federation is not None:
                    self._guard("federation_forward", self.federation.forward, st.info, ib.frames)
            if st.status != "live":
                self._publish_status(st, now)
        if self.engine is not None and stored:
            for alert_id, path in self._evidence_done:
                try:
                    events.append(self.engine.add_evidence(alert_id, path))
                except (KeyError, ValueError) as exc:  # alert gone meanwhile: the file stays beside it
                    log.info("evidence %s not attached to alert %s: %s", path, alert_id, exc)
                except Exception:
                    self._internal_error("engine_evidence")
        self._evidence_done.clear()
        if events:
            self.handle_alert_events(events)

    # ------------------------------------------------------------ alerts

    def handle_alert_events(self, events: Iterable[Any]) -> None:
        """Persist and publish engine events; order IQ evidence for newly opened alerts."""
        assert self.store is not None and self.alert_store is not None
        events = list(events)
        for ev in events:
            try:
                self.alert_store.save(ev.alert)
            except Exception:
                self._internal_error("alert_save")
        try:
            self.store.commit()
        except StorageError as exc:
            self._storage_error("alerts", str(exc), len(events))
        if self.federation is not None:  # linked to another centre's alert, or not ours: not published here
            events = self.federation.publishable(events)
        now_iso = format_utc(self.clock())
        pub = self._socks[ROLE_PUB]
        for ev in events:
            try:
                doc = self.decorate_alert(ev.to_json())
                frames = AlertMsg(SERVER_ID, self.next_seq(), now_iso, alert=doc).to_frames()
                for topic in ev.topics():
                    self._send_pub(pub, topic, frames)
                self.counters.alert_events[ev.event] += 1
                if ev.event == "opened" and self.config.evidence_capture:
                    self._order_evidence(doc, now_iso)
            except Exception:
                self._internal_error("alert_publish")
        try:
            self.store.commit()
        except StorageError as exc:
            self._storage_error("evidence_orders", str(exc))

    def publish_alert(self, doc: dict[str, Any], topics: Iterable[str]) -> None:
        """Publish an alert document written elsewhere (another federated centre) on our PUB socket."""
        doc = self.decorate_alert(doc)
        frames = AlertMsg(SERVER_ID, self.next_seq(), format_utc(self.clock()), alert=doc).to_frames()
        for topic in topics:
            self._send_pub(self._socks[ROLE_PUB], topic, frames)

    def decorate_alert(self, doc: dict[str, Any]) -> dict[str, Any]:
        """Add the completed IQ evidence recordings the server holds for this alert."""
        assert self.store is not None
        paths = [e["path"] for e in self.store.evidence_for(str(doc.get("id"))) if e["path"]]
        if paths:
            doc["evidence"] = list(dict.fromkeys([*(doc.get("evidence") or []), *paths]))
        return doc

    def _order_evidence(self, doc: Mapping[str, Any], now_iso: str) -> None:
        """Order an IQ capture from each sensor that saw the alert's emission and can capture."""
        assert self.store is not None
        alert_id = str(doc["id"])
        f_center = float(doc.get("f_center_hz") or 0.0)
        if not 1e6 <= f_center <= 7e9:
            return
        bw = float(doc.get("bandwidth_hz") or 0.0)  # the sensor annotates the emission in its SigMF file
        emission = {"center_hz": f_center, "f_lo_hz": f_center - bw / 2, "f_hi_hz": f_center + bw / 2}
        sock = self._socks[ROLE_SENSORS]
        for reading in doc.get("sensors") or []:
            sid = reading.get("sensor_id")
            st = self.sensors.get(sid)
            if st is None or not can_capture_iq(st.record.capabilities):
                continue
            self._captures_ordered[alert_id] += 1
            cid = capture_id_for(alert_id, sid, self._captures_ordered[alert_id])
            cmd = Command(SERVER_ID, self.next_seq(), now_iso, command_id=cid, action="capture_iq",
                          params={"duration_s": self.config.evidence_duration_s, "center_hz": f_center,
                                  "sample_rate_hz": self.config.evidence_sample_rate_hz, "alert_id": alert_id,
                                  "emission": emission})
            self.store.order_evidence(cid, alert_id, sid, now_iso)
            try:
                sock.send_multipart([sid.encode(), *cmd.to_frames()], zmq.NOBLOCK)
            except zmq.ZMQError as exc:
                log.warning("capture order to %s not sent: %s", sid, exc)

    # ------------------------------------------------------------ status, tick

    def sensor_status(self, st: SensorState, now: datetime | None = None) -> str:
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

    def revisit_s(self, profile: str | None) -> float:
        for p in self.profiles:
            if p.name == profile:
                return p.revisit_s
        return max((p.revisit_s for p in self.profiles), default=1.0)

    def _publish_status(self, st: SensorState, now: datetime) -> None:
        st.status = self.sensor_status(st, now)
        health = {k: v for k, v in st.health.items() if isinstance(v, (int, float))}
        health["status_code"] = float(STATUS_CODES[st.status])
        if st.last_seen is not None:
            health["age_s"] = max(0.0, (now - st.last_seen).total_seconds())
        msg = Heartbeat(st.record.sensor_id, self.next_seq(), format_utc(now), health=health)
        self._send_pub(self._socks[ROLE_PUB], f"sensor.{st.record.sensor_id}", msg.to_frames())

    def _tick(self) -> None:
        now = self.clock()
        for st in self.sensors.values():
            if self.sensor_status(st, now) != st.status:
                self._publish_status(st, now)
        if self.engine is not None:
            events = self.engine.tick(now) or ()
            if events:
                self.handle_alert_events(events)

    def _flush_counters(self) -> None:
        assert self.store is not None
        self.store.save_counters(self.counters.rows())
        self.store.commit()

    def _send_pub(self, pub: zmq.Socket, topic: str, frames: list[bytes]) -> None:
        try:
            pub.send_multipart([topic.encode(), *frames], zmq.NOBLOCK)
            self.counters.published[topic.split(".", 1)[0]] += 1
        except zmq.ZMQError as exc:
            log.debug("publish on %s dropped: %s", topic, exc)

    # ------------------------------------------------------------ API

    def _handle_api_batch(self, raws: list[list[bytes]]) -> None:
        assert self.api is not None
        sock = self._socks[ROLE_API]
        for raw in raws:
            try:
                ib = self.api_validator.validate(raw)
            except Exception:
                self._internal_error("api_validate")
                continue
            if ib is None:
                continue
            reply = self.api.handle(ib.msg)  # type: ignore[arg-type]
            try:
                sock.send_multipart([*ib.envelope, *reply.to_frames()], zmq.NOBLOCK)
            except zmq.ZMQError as exc:
                log.debug("reply to %s not sent: %s", peer_label(ib.identity), exc)
            except (TypeError, ValueError):  # a result that is not JSON: still answer
                self._internal_error("api_encode")
                err = api_ops.error_reply(ib.msg, "internal error: result not serialisable")  # type: ignore[arg-type]
                sock.send_multipart([*ib.envelope, *err.to_frames()], zmq.NOBLOCK)

    def counters_snapshot(self) -> dict[str, Any]:
        """The ``counters`` API result."""
        out: dict[str, Any] = dict(self.rejections.snapshot())
        out.update({"stored": dict(self.counters.stored), "duplicates": self.counters.duplicates,
                    "storage_errors": dict(self.counters.storage_errors),
                    "internal_errors": dict(self.counters.internal_errors),
                    "published": dict(self.counters.published), "alert_events": dict(self.counters.alert_events),
                    "iterations": self.iterations})
        if self.federation is not None:  # centre, peers, border emissions forwarded/received, claims, links
            out["federation"] = self.federation.snapshot()
        snapshot = getattr(self.policy, "snapshot", None)
        if snapshot is not None:  # CURVE refusals (no key, unknown, revoked, topic denied) by reason
            auth = snapshot()
            out["auth"] = auth
            rejected = dict(out.get("rejected") or {})
            for reason, n in auth["rejected"].items():
                rejected[f"auth.{reason}"] = n
            out["rejected"] = rejected
        return out


def raise_open_files_limit(want: int) -> int:
    """Raise the soft limit of open files towards ``want`` (within the hard limit); return it."""
    try:
        import resource
    except ImportError:  # not on POSIX
        return want
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < want:
        new = want if hard == resource.RLIM_INFINITY else min(want, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
            soft = new
        except (ValueError, OSError) as exc:
            log.warning("cannot raise the open-files limit to %d: %s", want, exc)
    if soft != resource.RLIM_INFINITY and soft < want:
        log.warning("open-files limit %d is below %d: archive files will be closed and reopened more often",
                    soft, want)
    return soft


def can_capture_iq(capabilities: Iterable[str]) -> bool:
    """Whether a sensor's Hello says it takes ``capture_iq`` orders: the action name itself, or the
    ``evidence:<format>`` capability the sensor daemon (sdr/daemon.py) advertises."""
    return any(c == "capture_iq" or c.startswith("evidence:") for c in capabilities)


def open_stations(path: Path | None, data_dir: Path) -> Any:
    """The station repository: a SQLite DB as given, or a CSV/JSON imported into ``<data>/stations.db``."""
    try:
        from station_db.repository import StationRepository
    except ImportError:
        log.warning("station_db not available: no station database")
        return None
    if path is None:
        return StationRepository(data_dir / "stations.db")
    path = Path(path)
    if path.suffix.lower() in (".csv", ".json"):
        from station_db.exchange import file_sha256, read_stations

        stations = read_stations(path)
        repo = StationRepository(data_dir / "stations.db")
        by_prov: dict[str, list[Any]] = {}
        for s in stations:
            by_prov.setdefault(s.province, []).append(s)
        digest = file_sha256(path)
        for prov, rows in sorted(by_prov.items()):
            report = repo.import_stations(rows, prov, path.name, digest)
            log.info("imported %s stations of %s from %s: %d new, %d updated, %d unchanged", len(rows), prov,
                     path, report.inserted, report.updated, report.unchanged)
        return repo
    if not path.exists():
        raise FileNotFoundError(f"station database {path} not found (give a .db, .csv or .json file)")
    return StationRepository(path)
