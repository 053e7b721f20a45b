"""The coordination server: the hub that owns the sockets and runs the loop; its parts do the work.

Sockets (all made by :class:`coordination.transport.SocketFactory`, where security plugs in):
``sensors`` ROUTER (measurements in, Ack/ProfileMsg/Command out), ``api`` ROUTER (Request ->
Reply), ``pub`` PUB (``alert.<PROV>``, ``spectrum.<sensor_id>``, ``sensor.<sensor_id>``).

Parts, each one module with one job, wired here (docs/architecture.md draws them):

- :class:`coordination.intake.Intake`: sensor batches: validate, dedupe by ``(sensor_id, seq)``,
  store summaries (one commit, then acks), feed the rules engine, stage and flush spectra to the
  HDF5 archive (then their acks);
- :class:`coordination.registry.SensorRegistry`: Hellos, the registered sensors, live/late/down;
- :class:`coordination.outbox.AlertOutbox`: alert events persisted, decorated, published; IQ
  evidence ordered for new alerts;
- :class:`coordination.api.Api`: API requests validated, dispatched, answered;
- :class:`coordination.federation.Federation` (optional): this server as one province's centre.

They share outlets (:mod:`coordination.outlets`: the PUB socket, ROUTER replies, the server's
message seqs) and report failures to :class:`coordination.counters.Faults`; none holds a socket
or reaches into another. Each loop iteration drains at most ``batch_max_messages`` sensor
messages (one intake batch) and ``api_max_requests`` API requests, writes the archive files that
are due, has the engine make its due full judgements (``judgements_per_call``, the reports are
filed without judging so a first sight never queues behind them), ticks the engine every
``tick_interval_s``. Nothing a peer sends can stop the loop: every
step is guarded, an internal error is counted and logged.

Embeddable: ``Server(config).start()`` runs the loop in a thread (tests, demo); ``run()`` runs it
in the caller's thread (the CLI); ``stop()`` ends it. Time comes from an injected ``clock``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import zmq

from coordination.alerts import Alert, AlertEvent, AlertStore, Position
from coordination.api import Api
from coordination.archive import SpectrumArchive
from coordination.attachments import AttachmentStore
from coordination.campaigns import CampaignRunner, report_writer
from coordination.case_ops import CaseOps
from coordination.casebook import CaseDesk, auto_open, merge_linked
from coordination.cases import Case, CaseEvent
from coordination.config import ServerConfig
from coordination.coord_ops import CoordOps
from coordination.coordination_requests import CoordinationDesk, RequestPolicy
from coordination.counters import Counters, Faults
from coordination.engine import EngineConfig, RulesEngine
from coordination.evidence import EvidenceAssembler
from coordination.federation import ROLE_FEDERATION, Federation, FederationPort
from coordination.ingest import API_TYPES, SENSOR_TYPES, RejectionCounter, Validator, peer_label
from coordination.intake import Intake
from coordination.joint_ops import JointOps
from coordination.learnt_keeper import LearntKeeper
from coordination.offload import LocaliserOffload
from coordination.outbox import AlertOutbox
from coordination.outlets import SERVER_ID, MessageSeq, Publisher, RouterReplies
from coordination.ports import AlertEngine
from coordination.profiles import select_profiles
from coordination.protocol import CaseMsg, Command, CoordMsg, Emissions, MonitoringProfile, Spectrum, format_utc
from coordination.registry import SensorRegistry, SensorState, can_capture_iq
from coordination.security import CurvePolicy, make_policy
from coordination.stations import open_stations
from coordination.store import DatabaseAlertStore, Store
from coordination.tasking import TaskingDesk, TaskingPolicy, TaskingRequest
from coordination.tdoa_orders import TdoaOrders, TdoaSettings
from coordination.transport import (
    MAX_INBOUND_BYTES,
    MAX_INBOUND_FRAMES,
    ROLE_API,
    ROLE_PUB,
    ROLE_SENSORS,
    SecurityPolicy,
    SocketFactory,
    frames_bytes,
    recv_bounded,
)
from station_db.geo import default_boundaries, provinces_of
from station_db.repository import StationRepository
from station_db.rules import RuleSet, load_rules

log = logging.getLogger(__name__)

__all__ = ["Server", "can_capture_iq", "open_stations", "raise_open_files_limit", "utc_now"]


def utc_now() -> datetime:
    return datetime.now(UTC)


class Server:
    """The borderwatch coordination server (see module docstring)."""

    def __init__(self, config: ServerConfig, *, clock: Callable[[], datetime] = utc_now,
                 engine: AlertEngine | None = None, stations: StationRepository | None = None,
                 rules: RuleSet | None = None, policy: SecurityPolicy | None = None, build_engine: bool = True,
                 federation: Federation | None = None) -> None:
        self.config = config
        # This server as one province's centre of several sharing one database (docs/deployment.md);
        # None: a single server.
        self.federation = federation
        self.clock = clock
        self.policy = policy
        self.engine = engine
        self.stations = stations
        self.rules = rules
        self._build_engine = build_engine and engine is None
        self.endpoints: dict[str, str] = {}
        self.rejections = RejectionCounter()
        self.counters = Counters()
        self.faults = Faults(self.counters)
        self.seq = MessageSeq()
        self.publisher = Publisher(self.counters)
        self.sensor_replies = RouterReplies(ROLE_SENSORS)
        self.api_replies = RouterReplies(ROLE_API)
        self.store: Store | None = None
        self.archive: SpectrumArchive | None = None
        self.evidence: EvidenceAssembler | None = None
        self.alert_store: AlertStore | None = None
        self.registry: SensorRegistry | None = None
        self.outbox: AlertOutbox | None = None
        self.intake: Intake | None = None
        self.api: Api | None = None
        self.cases: CaseDesk | None = None  # enforcement cases (opened automatically from major alerts up)
        self.tasking: TaskingDesk | None = None  # other provinces' requests for our sensors
        self.campaigns: CampaignRunner | None = None  # joint campaigns: profiles switched and back, report
        self.coordination: CoordinationDesk | None = None  # coordination requests (with station data and rules)
        self.tdoa: TdoaOrders | None = None  # TDOA rounds: snapshot orders, fixes fused into alert positions
        self.offload: LocaliserOffload | None = None  # judgements' localiser on a worker, reports filed meanwhile
        self.learnt: LearntKeeper | None = None  # the engine's learnt spread and e.r.p. bias, kept in the store
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._startup_error: BaseException | None = None
        self._ctx: zmq.Context | None = None
        self._socks: dict[str, zmq.Socket] = {}
        self._factory: SocketFactory | None = None
        self.iterations = 0

    # ------------------------------------------------------------ what the parts hold

    @property
    def sensors(self) -> dict[str, SensorState]:
        """The registered sensors by id (empty before start)."""
        return self.registry.sensors if self.registry is not None else {}

    @property
    def profiles(self) -> tuple[MonitoringProfile, ...]:
        """The monitoring profiles sensors are given."""
        return self.registry.profiles if self.registry is not None else ()

    @property
    def latest_spectra(self) -> dict[tuple[str, str], Spectrum]:
        return self.intake.latest_spectra if self.intake is not None else {}

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

    # ------------------------------------------------------------ setup: storage, parts, sockets

    def _setup(self) -> None:
        cfg = self.config
        data = Path(cfg.data_dir)
        data.mkdir(parents=True, exist_ok=True)
        fed = self.federation
        store = self.store = Store(fed.database if fed is not None else data / "server.db", fsync=cfg.fsync,
                                   centre=fed.centre if fed is not None else None)
        self.faults.rollback = store.rollback
        raise_open_files_limit(cfg.max_open_files + 512)  # one HDF5 file per sensor stays open
        archive = self.archive = SpectrumArchive(data / "spectra", compression=cfg.compression,
                                                 chunk_rows=cfg.chunk_rows, max_open_files=cfg.max_open_files,
                                                 fsync=cfg.fsync, max_layouts=cfg.archive_max_layouts)
        self.evidence = EvidenceAssembler(data / "evidence",
                                          max_pending_bytes=int(cfg.evidence_max_pending_mb * (1 << 20)),
                                          max_unsolicited_bytes=int(cfg.evidence_max_unsolicited_mb * (1 << 20)),
                                          max_age_s=cfg.evidence_max_age_s)
        self.counters.load(store.counters.load())
        if self.rules is None:
            self.rules = load_rules(cfg.rules)
        if self.stations is None and self._build_engine:
            self.stations = open_stations(cfg.stations, data)
        registry = self.registry = SensorRegistry(
            config=cfg, store=store, profiles=select_profiles(cfg.profiles, self.rules), clock=self.clock,
            replies=self.sensor_replies, publisher=self.publisher, seq=self.seq, rejections=self.rejections,
            faults=self.faults, counters=self.counters)
        registry.load([fed.centre] if fed is not None else None)  # a centre loads its own sensors
        # 'stored' comes from the ledger, committed with the data itself: exact after a kill -9 (the
        # counters table is written every counters_flush_s and lagged behind: 93 persisted for 115 stored)
        stored = store.ledger.counts_by_type([st.record.sensor_id for st in registry] if fed is not None else None)
        self.counters.stored = Counter({t: n for t, n in stored.items() if t != "hello"})
        alert_store: AlertStore = DatabaseAlertStore(store.alerts, Alert.from_json)
        if fed is not None:
            alert_store = fed.wrap_alert_store(alert_store)
        self.alert_store = alert_store
        if self._build_engine:
            self.engine = self._make_engine(alert_store)
        outbox = self.outbox = AlertOutbox(
            config=cfg, alert_store=alert_store, store=store, registry=registry, publisher=self.publisher,
            sensors=self.sensor_replies, seq=self.seq, clock=self.clock, counters=self.counters, faults=self.faults,
            publishable=fed.publishable if fed is not None else None)
        case_tables = store.cases
        desk = self.cases = CaseDesk(case_tables, on_change=self._publish_case)
        case_ops = CaseOps(desk, AttachmentStore(data / "attachments"), store.alerts.alert_json, self.clock)
        policies = {p: TaskingPolicy(p) for p in ("SH", "JS", "ZJ", "AH")}
        policies |= {p: TaskingPolicy(p, **pol) for p, pol in cfg.tasking.items()}
        self.tasking = TaskingDesk(policies, self._sensor_province, case_tables,
                                   saved=case_tables.tasking_requests(), sink=case_tables)
        self.campaigns = CampaignRunner(lambda sid: registry.profiles, registry,
                                        report=report_writer(data, data / "reports"),
                                        saved=case_tables.campaigns(), sink=case_tables)
        registry.profiles_override = self.campaigns.profiles_for
        joint_ops = JointOps(self.tasking, self.campaigns, _SensorOrders(self), lambda: registry.profiles,
                             self.clock)
        extra_ops = case_ops.ops | joint_ops.ops
        stations = self.stations
        tdoa = self.tdoa = TdoaOrders(
            store=store, registry=registry, sensors=self.sensor_replies, seq=self.seq, clock=self.clock,
            evidence_root=data / "evidence",
            stations=(lambda lo, hi: stations.stations_overlapping(lo, hi)) if stations is not None else None,
            attach=self._attach_evidence, settings=TdoaSettings(lead_s=cfg.tdoa_lead_s, target_s=cfg.tdoa_target_s),
            province_lookup=provinces_of, position_fix=self._add_position_fix)
        outbox.decorators.append(tdoa.decorate)
        extra_ops |= tdoa.ops
        if self.stations is not None and self.rules is not None:
            # Requests live in the store (shared by federated centres); a centre answers for its province only.
            self.coordination = CoordinationDesk(store.requests, self.stations, self.rules,
                                                 policy=RequestPolicy(**cfg.coordination), notify=self._publish_coord,
                                                 answers_for=(fed.centre,) if fed is not None else None)
            extra_ops.update(CoordOps(self.coordination, self.clock).ops)

        self.intake = Intake(
            config=cfg, store=store, archive=archive, evidence=self.evidence, registry=registry,
            validator=Validator(SENSOR_TYPES, self.rejections, check_identity=True, clock=self.clock,
                                max_past_s=cfg.max_past_s, max_future_s=cfg.max_future_s),
            rejections=self.rejections,
            counters=self.counters, faults=self.faults, replies=self.sensor_replies, publisher=self.publisher,
            seq=self.seq, clock=self.clock, engine=self.engine, handle_events=self.handle_alert_events,
            forward=fed.forward if fed is not None else None, order_results=tdoa.order_result)
        self.api = Api(
            store=store, registry=registry, outbox=outbox, spectra=archive.reader,
            latest_spectra=self.intake.latest_spectra,
            stations=self.stations, engine=self.engine, rejections=self.rejections,
            validator=Validator(API_TYPES, self.rejections, check_identity=False, allow_req_envelope=True),
            replies=self.api_replies, faults=self.faults, clock=self.clock, counters_snapshot=self.counters_snapshot,
            extra_ops=extra_ops)
        if isinstance(self.engine, RulesEngine):
            self.learnt = LearntKeeper(self.engine.spread, self.engine.erp_bias, store.learnt,
                                       interval_s=cfg.learnt_save_s, where=f"{store.db.describe()} learnt_state")
            self.learnt.restore()
            self.offload = LocaliserOffload(self._serve_sensors)
            self.engine.run_localiser = self.offload.run
            # The province outlines now (about 1 s of CPU), not when the first sight after a start (with a
            # station database that did not load them) is due as a provisional alert within 250 ms.
            default_boundaries()
        self._bind_sockets()
        if fed is not None:
            curve = self.policy if isinstance(self.policy, CurvePolicy) else None
            assert self._factory is not None
            self.endpoints[ROLE_FEDERATION] = fed.attach(FederationPort(
                sockets=self._factory, store=store, engine=self.engine, handle_events=self.handle_alert_events,
                publish=outbox.publish_doc, clock=self.clock, admit=curve.admit if curve else None,
                key_name=curve.key_name if curve else None, coverage=self.intake.coverage_of))
        log.info("server ready: sensors %s, api %s, pub %s; %d sensors known, %d profiles, engine %s",
                 self.endpoints[ROLE_SENSORS], self.endpoints[ROLE_API], self.endpoints[ROLE_PUB],
                 len(registry), len(registry.profiles), type(self.engine).__name__ if self.engine else "none")

    def _make_engine(self, alert_store: AlertStore) -> AlertEngine | None:
        if self.stations is None or self.rules is None:
            log.warning("no station database or rules: running without the rules engine")
            return None
        try:
            fields: dict[str, Any] = dict(self.config.engine)
            engine_cfg = EngineConfig(**fields)
        except TypeError as exc:
            raise ValueError(f"server config [engine]: {exc}") from exc
        return RulesEngine(self.stations, self.rules, alert_store, config=engine_cfg)

    def _bind_sockets(self) -> None:
        cfg = self.config
        if self.policy is None and not cfg.insecure:
            self.policy = make_policy(False, cfg.keys_dir)  # CURVE + ZAP allow-list
        if cfg.insecure and self.policy is None:
            log.warning("SECURITY: the server runs WITHOUT authentication or encryption (plain TCP); "
                        "use only on loopback or a trusted network")
        self._ctx = zmq.Context()
        factory = self._factory = SocketFactory(self._ctx, self.policy)
        curve = self.policy if isinstance(self.policy, CurvePolicy) else None
        if curve is not None and self.outbox is not None:  # province-limited team keys: whose alert is it?
            curve.set_alert_scope(self.outbox.alert_provinces)
        for role, kind, addr in ((ROLE_SENSORS, zmq.ROUTER, cfg.sensors_addr), (ROLE_API, zmq.ROUTER, cfg.api_addr),
                                 (ROLE_PUB, self._pub_kind(), cfg.pub_addr)):
            sock, endpoint = factory.bind(kind, addr, role)
            self._socks[role] = sock
            self.endpoints[role] = endpoint
        self.sensor_replies.sock = self._socks[ROLE_SENSORS]
        self.api_replies.sock = self._socks[ROLE_API]
        self.publisher.sock = self._socks[ROLE_PUB]

    def _pub_kind(self) -> int:
        """A policy that filters subscriptions (per-province topics) wants an XPUB; plain TCP keeps PUB."""
        return zmq.XPUB if isinstance(self.policy, CurvePolicy) else zmq.PUB

    def _teardown(self) -> None:
        if self.tdoa is not None:
            self.tdoa.close()
        if self.intake is not None and self.intake.staged and self.store is not None:
            self.sensor_replies.sock = None  # no acks from here on: write and record only
            self.faults.guard("archive", self.intake.flush_spectra, True)
        self.sensor_replies.sock = self.api_replies.sock = self.publisher.sock = None
        for sock in self._socks.values():
            try:
                sock.close(0)
            except Exception:
                log.debug("socket close failed", exc_info=True)
        self._socks.clear()
        if self.federation is not None:
            self.federation.close()
        if self.offload is not None:
            self.offload.close()
        if isinstance(self.policy, CurvePolicy):
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
            if self.learnt is not None:
                try:
                    self.learnt.save(format_utc(self.clock()), time.monotonic())  # committed with the counters
                except Exception:
                    log.exception("saving the engine's learnt state at shutdown failed")
            try:
                self.store.counters.save(self.counters.rows())
                self.store.commit()
            except Exception:
                log.exception("saving counters at shutdown failed")
            try:
                self.store.close()
            except Exception:
                log.exception("closing the store failed")
        if self.stations is not None and self._build_engine:
            try:
                self.stations.close()
            except Exception:
                log.debug("closing the station repository failed", exc_info=True)
        log.info("server stopped")

    # ------------------------------------------------------------ loop

    def _loop(self) -> None:
        cfg = self.config
        intake, api = self.intake, self.api
        assert intake is not None and api is not None
        poller = zmq.Poller()
        sensors, api_sock = self._socks[ROLE_SENSORS], self._socks[ROLE_API]
        poller.register(sensors, zmq.POLLIN)
        poller.register(api_sock, zmq.POLLIN)
        curve = self.policy if isinstance(self.policy, CurvePolicy) else None
        admit = curve.admit if curve is not None else None
        pub_generation = curve.pub_generation if curve is not None else 0
        if curve is not None:
            poller.register(self._socks[ROLE_PUB], zmq.POLLIN)
        next_tick = time.monotonic() + cfg.tick_interval_s
        next_counters = time.monotonic() + cfg.counters_flush_s
        guard = self.faults.guard
        while not self._stop.is_set():
            self.iterations += 1
            wait_ms = max(0, min(cfg.poll_timeout_ms, int((next_tick - time.monotonic()) * 1000)))
            events = dict(poller.poll(wait_ms))
            if events.get(sensors):
                batch = drain(sensors, ROLE_SENSORS, cfg.batch_max_messages, admit, self.rejections)
                if batch:
                    guard("batch", intake.handle_batch, batch)
            if events.get(api_sock):
                batch = drain(api_sock, ROLE_API, cfg.api_max_requests, admit, self.rejections)
                if batch:
                    guard("batch", api.handle_batch, batch)
            if curve is not None:
                # Every iteration, not only on POLLIN: a fresh XPUB processes its new peers' subscriptions
                # only when used (ZeroMQ's edge-triggered FD may not fire for them); a NOBLOCK recv is cheap.
                guard("subscriptions", curve.service_pub, self._socks[ROLE_PUB])
                if curve.pub_generation != pub_generation:
                    pub_generation = curve.pub_generation
                    guard("pub_rebuild", self._rebuild_pub, poller)
            if self.federation is not None:
                # the peers' border reports of this turn are filed with ours, before the turn's judgement
                guard("federation", self.federation.service)
            if intake.staged:
                guard("archive", intake.flush_spectra, False)
            if self.engine is not None:
                # One due full judgement per turn, after the turn's reports (ours and the peer centres')
                # are filed: a first sight (provisional alert) waits behind one judgement at most, never
                # behind a backlog.
                guard("judge", self._judge)
            now_mono = time.monotonic()
            if now_mono >= next_tick:
                next_tick = now_mono + cfg.tick_interval_s
                guard("tick", self._tick)
            if now_mono >= next_counters:
                next_counters = now_mono + cfg.counters_flush_s
                guard("counters", self._flush_counters)
            if self.learnt is not None and self.learnt.due(now_mono):
                guard("learnt", self._save_learnt, now_mono)
        # Stopping: what is staged for the archive is written, committed and acked (not lost, and
        # not stored twice when the sensor resends it after the restart).
        guard("archive", intake.flush_spectra, True)

    def _rebuild_pub(self, poller: zmq.Poller) -> None:
        """Re-create the publication socket after a key was revoked: every subscriber reconnects
        through ZAP (which refuses the revoked key); the others re-subscribe by themselves."""
        assert self._factory is not None
        old = self._socks[ROLE_PUB]
        endpoint = self.endpoints[ROLE_PUB]
        poller.unregister(old)
        self.publisher.sock = None
        old.close(0)
        deadline = time.monotonic() + 5.0
        while True:
            try:
                sock, _ = self._factory.bind(self._pub_kind(), endpoint, ROLE_PUB)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
        self._socks[ROLE_PUB] = self.publisher.sock = sock
        poller.register(sock, zmq.POLLIN)
        log.warning("SECURITY: publication socket re-created at %s after a key revocation", endpoint)

    def _tick(self) -> None:
        now = self.clock()
        assert self.registry is not None and self.outbox is not None
        self.registry.tick(now)
        if self.campaigns is not None:
            self.faults.guard("campaigns", self.campaigns.step, now)
        if self.federation is not None and self.cases is not None and self.store is not None:
            # an alert of ours now linked to another centre's: one case for the emitter
            self.faults.guard("cases", merge_linked, self.cases, self.store.alerts.alert_link,
                              self.store.alerts.alert_json, now)
        if self.engine is not None:
            with self._judging():
                events = self.engine.tick(self._judge_time(now)) or ()
            if events:
                self.handle_alert_events(events)
        if self.tdoa is not None:
            if self.engine is not None and self.config.tdoa_identity_checks:
                self.faults.guard("tdoa", self.tdoa.on_checks, self.engine.identity_checks())
            self.faults.guard("tdoa", self.tdoa.tick, now)
        if self.coordination is not None:
            self.coordination.tick(now)  # reminders at the deadline, then silence counts

    def _judge(self) -> None:
        assert self.engine is not None
        with self._judging():
            events = self.engine.judge(self._judge_time(self.clock()))
        if events:
            self.handle_alert_events(events)

    def _judge_time(self, now: datetime) -> datetime:
        """The engine's grouping windows close by ``now``; for a federated centre, not before the peer centres'
        forwarded reports have reached that time too (:meth:`Federation.judge_time`)."""
        return self.federation.judge_time(now) if self.federation is not None else now

    def _judging(self) -> AbstractContextManager[None]:
        """While the engine judges, its localiser runs on a worker and sensor reports are filed meanwhile."""
        return self.offload.armed() if self.offload is not None else nullcontext()

    def _serve_sensors(self, timeout_s: float, wake_fd: int) -> None:
        """The sensor messages arriving within ``timeout_s`` (or until ``wake_fd`` is readable), handled as
        one intake batch: the offload's service while a judgement's localiser runs on its worker, so a
        first sight gets its provisional alert out."""
        sock = self._socks.get(ROLE_SENSORS)
        if sock is None or self.intake is None:
            return
        poller = zmq.Poller()
        poller.register(sock, zmq.POLLIN)
        poller.register(wake_fd, zmq.POLLIN)
        if not dict(poller.poll(max(1, int(timeout_s * 1000)))).get(sock):
            return
        admit = self.policy.admit if isinstance(self.policy, CurvePolicy) else None
        batch = drain(sock, ROLE_SENSORS, self.config.batch_max_messages, admit, self.rejections)
        if not batch:
            return
        # Reports that may be a first sight go first (the localiser's worker waits meanwhile); spectra,
        # heartbeats and the rest share the interpreter with the judgement.
        urgent = self.offload is not None and any(len(m) > 1 and m[1] == Emissions.TYPE for m in batch)
        with self.offload.priority() if urgent and self.offload is not None else nullcontext():
            self.faults.guard("batch", self.intake.handle_batch, batch)

    def _publish_coord(self, topic: str, doc: Mapping[str, Any]) -> None:
        """Publish a coordination request event on ``coord.<P>`` (the desk's notify port)."""
        msg = CoordMsg(SERVER_ID, self.seq.next(), format_utc(self.clock()), event=str(doc["event"]),
                       request=dict(doc["request"]))
        self.publisher.publish(topic, msg.to_frames())

    def _publish_case(self, case: Case, event: CaseEvent) -> None:
        """A case changed: ``case.<P>`` for every province that sees it (teams, consoles, the web view)."""
        summary = {"id": case.id, "alert_id": case.alert_id, "state": case.state, "holder": case.holder,
                   "provinces": list(case.provinces), "outcome": case.outcome or None,
                   "handover_to": case.handover.to if case.handover else None}
        msg = CaseMsg(SERVER_ID, self.seq.next(), format_utc(self.clock()), event=event.kind, case=summary)
        frames = msg.to_frames()
        seen = [*case.provinces, case.holder, *(t.for_province for t in case.tasks),
                *([case.handover.to] if case.handover else [])]
        for p in dict.fromkeys(seen):
            self.publisher.publish(f"case.{p}", frames)

    def _flush_counters(self) -> None:
        assert self.store is not None
        self.store.counters.save(self.counters.rows())
        self.store.commit()

    def _save_learnt(self, now_mono: float) -> None:
        """What the engine learnt, written when it changed and ``learnt_save_s`` has passed (one row, one commit)."""
        assert self.store is not None and self.learnt is not None
        try:
            if self.learnt.save(format_utc(self.clock()), now_mono):
                self.store.commit()
        except Exception:
            self.learnt.save_failed()
            raise

    # ------------------------------------------------------------ for embedders and the API

    def handle_alert_events(self, events: Sequence[AlertEvent]) -> None:
        """Persist and publish alert events, then open a case for each major or critical one (loop thread only)."""
        assert self.outbox is not None
        published = self.outbox.handle_events(list(events))
        if self.tdoa is not None and self.config.tdoa_on_open and published:
            self.faults.guard("tdoa", self.tdoa.on_events, published)
        if self.cases is not None and published:  # this centre's own alerts: a linked one is the owner's case
            self.faults.guard("cases", auto_open, self.cases, [ev.to_json() for ev in published], self.clock())

    def _attach_evidence(self, alert_id: str, ref: str) -> None:
        """Give an alert a piece of evidence through the engine and publish the update (the TDOA part's port)."""
        if self.engine is None:
            return
        try:
            event = self.engine.add_evidence(alert_id, ref)
        except (KeyError, ValueError) as exc:  # the alert closed meanwhile
            log.info("evidence %s not attached to alert %s: %s", ref, alert_id, exc)
            return
        self.handle_alert_events([event])

    def _add_position_fix(self, alert_id: str, position: Position) -> None:
        """Give an alert a TDOA fix through the engine, which re-judges it, and publish the update (the TDOA
        part's port)."""
        if self.engine is None:
            return
        try:
            events = self.engine.add_position_fix(alert_id, position)
        except (KeyError, ValueError) as exc:  # the alert closed meanwhile
            log.info("position fix not given to alert %s: %s", alert_id, exc)
            return
        self.handle_alert_events(events)

    def _sensor_province(self, sensor_id: str) -> str | None:
        st = self.registry.get(sensor_id) if self.registry is not None else None
        return st.record.province if st is not None else None

    def counters_snapshot(self) -> dict[str, Any]:
        """The ``counters`` API result: what every part counted, with the security refusals."""
        out: dict[str, Any] = dict(self.rejections.snapshot())
        out.update({"stored": dict(self.counters.stored), "duplicates": self.counters.duplicates,
                    "storage_errors": dict(self.counters.storage_errors),
                    "internal_errors": dict(self.counters.internal_errors),
                    "published": dict(self.counters.published), "alert_events": dict(self.counters.alert_events),
                    "iterations": self.iterations})
        if self.learnt is not None:  # the engine's learnt state: restored / refused (learnt afresh) / saved
            out["learnt_state"] = dict(self.learnt.counts)
        if self.tdoa is not None:  # the sensors' answers to snapshot orders (ok, failed.<reason>, unknown)
            out["order_results"] = dict(self.tdoa.counters)
        if self.federation is not None:  # centre, peers, border emissions forwarded/received, claims, links
            out["federation"] = self.federation.snapshot()
        if isinstance(self.policy, CurvePolicy):  # CURVE refusals (no key, unknown, revoked, topic denied)
            auth = self.policy.snapshot()
            out["auth"] = auth
            rejected = dict(out.get("rejected") or {})
            for reason, n in auth["rejected"].items():
                rejected[f"auth.{reason}"] = n
            out["rejected"] = rejected
        return out


def drain(sock: zmq.Socket, role: str, limit: int, admit: Callable[[str, Sequence[zmq.Frame]], bool] | None,
          rejections: RejectionCounter) -> list[list[bytes]]:
    """Up to ``limit`` waiting messages of a ROUTER socket, without blocking. With ``admit`` (CURVE),
    the key ZAP attached to each message's connection must still be allowed (live revocation).

    Received frame by frame without copying: a message over the socket's size or frame limit is
    released as it is read, never assembled, and counted (``size`` / ``frames``) per peer.
    """
    batch: list[list[bytes]] = []
    for _ in range(limit):
        try:
            frames, over = recv_bounded(sock, MAX_INBOUND_BYTES[role])
        except zmq.Again:
            break
        if over is not None:
            rejections.count(peer_label(frames[0].bytes), over, f"message on the {role} socket over "
                             f"{MAX_INBOUND_BYTES[role]} bytes or {MAX_INBOUND_FRAMES} frames, dropped")
            continue
        if admit is None or admit(role, frames):
            batch.append(frames_bytes(frames))
    return batch


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


class _SensorOrders:
    """Granted tasking requests carried out on this server's sensors (coordination.joint_ops.SensorOrders)."""

    def __init__(self, server: Server) -> None:
        self.server = server

    def capture(self, request: TaskingRequest) -> str:
        """A ``capture_iq`` order; the recording lands under the order id (evidence/unsolicited/<sensor>/)."""
        p = request.params
        cid = f"tasking-{request.id}"
        params: dict[str, Any] = {"duration_s": float(p.get("duration_s", self.server.config.evidence_duration_s)),
                                  "center_hz": float(p.get("center_hz", 0.0)),
                                  "sample_rate_hz": float(p.get("sample_rate_hz",
                                                                self.server.config.evidence_sample_rate_hz))}
        cmd = Command(SERVER_ID, self.server.seq.next(), format_utc(self.server.clock()), command_id=cid,
                      action="capture_iq", params=params)
        cmd.to_frames()  # the protocol's checks (frequency, duration) before it is counted as ordered
        registry = self.server.registry
        route = registry.route(request.sensor_id) if registry is not None else request.sensor_id.encode()
        if not self.server.sensor_replies.send((route,), cmd.to_frames()):
            return f"{cid} (not sent: {request.sensor_id} is not connected)"
        return cid

    def latest_measurement(self, request: TaskingRequest) -> str:
        profile = str(request.params.get("profile", ""))
        found = [(k, m) for k, m in self.server.latest_spectra.items() if k[0] == request.sensor_id
                 and (not profile or k[1] == profile)]
        if not found:
            return f"no spectrum from {request.sensor_id} yet"
        (sid, prof), m = max(found, key=lambda km: km[1].t_utc)
        return f"spectrum {sid} {prof} {m.t_utc} seq {m.seq}"
