"""``borderwatch demo``: a whole monitoring network on one machine, playing a scenario with incidents.

What runs (all on 127.0.0.1, nothing else is touched):
- one coordination server (:class:`coordination.server.Server`, in-process thread) whose data
  directory is ``--out`` (or a temporary one): SQLite alerts and summaries, HDF5 spectra, SigMF
  evidence; it loads the shipped sample stations and default rules, and serves the scenario's
  monitoring profiles at Hello;
- one sensor daemon per scenario sensor (:class:`sdr.daemon.SensorDaemon`, one thread each, real
  spool, real ZeroMQ uplink) reading a :class:`~sdr.sources.simulated.SimulatedSource` in the
  scenario's ``[world]`` (:mod:`sdr.sources.sim_world`: the realistic world, or the engine's own
  P.1546 law for the ideal one; geography glue in :mod:`borderwatch.demo_propagation`);
- a subscriber on every ``alert.<PROV>`` topic that records every alert event (and which
  provinces received it), optionally to a JSON-lines file;
- time difference of arrival: the server runs with ``[tdoa] on_open``, so an alert heard by three or
  more sensors gets a round of synchronised snapshots; each simulated sensor takes its snapshot from a
  :class:`~borderwatch.demo_tdoa.DemoSnapshots` (the same transmitters and world, its own dongle clock),
  the scenario's reference broadcasters align the clocks, and the summary says per incident how its
  position was found (``tdoa``, ``fused`` or ``rss``), from how many sensors, and how far off it is.

Why threads, not processes: a sensor sweeps four 1.6-1.8 MHz windows (one tuner hop each, 50 ms of
samples) every 2 s, a few ms of CPU per window, most of it in Numba kernels and FFTs that release
the GIL. Measured: the whole network (server, 16 sensors, subscriber) uses 22 s of CPU in a 90 s
play, a quarter of one core, and one process keeps start-up (Numba cache loads, imports) to a few
seconds. More figures in docs/operations.md.

The scenario's schedules are in wall-clock seconds from the start of the play: each simulated
source seeks to the elapsed time before every hop (``SimulatedSource.seek``).

At the end the outcome of every transmitter with a ``[[demo.expect]]`` entry is judged
(:func:`judge`): the right verdicts to the right provinces, the position within the stated
error and, for an incident heard by three or more sensors, found by time differences (``tdoa`` or
``fused``), licensed traffic silent; plus delivery (nothing rejected, every spooled seq stored once).
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from importlib.resources import files
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import zmq

from borderwatch.demo_propagation import demo_world
from borderwatch.demo_scenario import DemoScenario, Expectation
from borderwatch.demo_tdoa import DemoSnapshots, RendererPool, snapshot_emitters
from coordination.client import ApiClient, Publication, Subscription
from coordination.config import ServerConfig
from coordination.keys import ClientKeys, KeySet, ensure_demo_keys
from coordination.protocol import AlertMsg, Message
from coordination.server import Server
from sdr.config import SensorConfig, parse_config
from sdr.daemon import SensorDaemon
from sdr.scenario import Scenario, Transmitter
from sdr.sources.sim_link import PropagationModel
from sdr.sources.simulated import SimulatedSource
from sdr.spool import Spool
from station_db.geo import haversine_km

log = logging.getLogger(__name__)

#: Seconds given to the sensors' spools to be acked after the play, and to the last alert events.
DRAIN_S = 15.0
SETTLE_S = 3.0
#: A sensor that lags the wall clock by more than this inside one hop is re-synchronised.
MAX_LAG_S = 0.25
#: Evidence captures in the demo: short, so sixteen sensors do not write hundreds of MB.
EVIDENCE_DURATION_S = 0.1
EVIDENCE_RATE_HZ = 1.2e6
#: An incident heard by this many sensors must be placed by time differences (a TDOA round needs three).
MIN_TDOA_SENSORS = 3
#: The position methods that rest on a TDOA fix (alone, or fused with the received levels).
TDOA_METHODS = ("tdoa", "fused")
#: How late a simulated sensor may still take a TDOA snapshot order (s; a receiver: 0.5). Sixteen simulated
#: sensors render their snapshots on the machine's few cores (0.3-1 s of CPU each, up to 8 s of wall time
#: measured on a loaded 2-core machine); the rendering is of the ordered instant whenever it runs, so a
#: sensor a little behind takes the order instead of missing it (and the round waiting a minute for it).
#: Not more: a sensor far behind that still rendered every order would stop sweeping, its alerts would
#: auto-resolve and reopen, and every reopened alert would order another round.
SNAPSHOT_MAX_LATE_S = 5.0
#: The target segment of a demo snapshot (s; the server's default is 1). Rendering and solving cost grows
#: with it, and sixteen sensors plus the server share the machine; 0.5 s keeps NFM fixes within a few
#: hundred metres at the demo's signal levels.
TDOA_TARGET_S = 0.5


def sample_stations_path() -> Path:
    """The shipped (fictional) station data the demo's licences come from."""
    return Path(str(files("station_db") / "data" / "sample_stations.csv"))


# ---------------------------------------------------------------------------- simulated sources


class WallClockSource:
    """A simulated receiver whose scenario time follows the wall clock since the play began.

    Wraps a :class:`SimulatedSource` (the :class:`sdr.sources.base.Source` interface, nothing of its
    insides): before each tune, and whenever a read has fallen behind the wall clock, the scenario
    is moved to the play's elapsed time with the simulator's public ``seek``.
    """

    def __init__(self, inner: SimulatedSource, t0_monotonic: float) -> None:
        self.inner = inner
        self.t0_monotonic = t0_monotonic

    def elapsed_s(self) -> float:
        return max(0.0, time.monotonic() - self.t0_monotonic)

    @property
    def center_freq_hz(self) -> float:
        return self.inner.center_freq_hz

    @property
    def sample_rate_hz(self) -> float:
        return self.inner.sample_rate_hz

    @property
    def gain_db(self) -> float | None:
        return self.inner.gain_db

    @property
    def dropped_samples(self) -> int:
        return self.inner.dropped_samples

    @property
    def effective_gain_db(self) -> float:
        """The simulated AGC's gain: with ``dbfs_offset_db`` it calibrates dBFS to dBm (sdr.sweep reads both)."""
        return self.inner.effective_gain_db

    @property
    def dbfs_offset_db(self) -> float:
        return self.inner.dbfs_offset_db

    @property
    def timestamp_utc(self) -> datetime | None:
        return self.inner.timestamp_utc

    def tune(self, freq_hz: float) -> None:
        self.inner.seek(self.elapsed_s())
        self.inner.tune(freq_hz)

    def read(self, n: int) -> np.ndarray:
        now = self.elapsed_s()
        if now - self.inner.scenario_time_s > MAX_LAG_S:
            self.inner.seek(now)
        return self.inner.read(n)

    def close(self) -> None:
        self.inner.close()

    def __enter__(self) -> WallClockSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SpoolRecord:
    """What the delivery check needs of one sensor's spool, recorded through the spool's ``on_put``
    hook: every seq it allocated to a stored message, and its drops and depth when it closed."""

    def __init__(self) -> None:
        self.put_seqs: list[int] = []
        self.dropped_total = 0
        self.depth_left = 0
        self._lock = threading.Lock()

    def on_put(self, stored: Message) -> None:
        with self._lock:
            self.put_seqs.append(stored.seq)

    def closing(self, spool: Spool) -> None:
        """Keep the spool's final figures (call just before closing it)."""
        self.dropped_total = spool.stats().dropped_total
        self.depth_left = spool.depth


def link_model(demo: DemoScenario) -> PropagationModel:
    """The simulator's propagation model: the scenario's ``[world]`` (with the provinces' water)."""
    return demo_world(demo.scenario)


# ---------------------------------------------------------------------------- alert recording


@dataclass
class AlertLog:
    """Every alert event seen on the PUB socket, and which province topics carried each one."""

    events: list[dict[str, Any]] = field(default_factory=list)
    topics: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def latest(self) -> dict[str, dict[str, Any]]:
        """The last event of every alert id (the alert as it stands)."""
        with self.lock:
            out: dict[str, dict[str, Any]] = {}
            for ev in self.events:
                out[str(ev["id"])] = ev
            return out


class AlertSubscriber(threading.Thread):
    """SUB on ``alert.`` (every province): records each event once, writes JSON lines if asked."""

    def __init__(self, ctx: zmq.Context, pub_addr: str, log_: AlertLog, *, jsonl: TextIO | None = None,
                 on_event: Callable[[dict[str, Any], set[str]], None] | None = None,
                 keys: ClientKeys | None = None) -> None:
        super().__init__(name="demo-alerts", daemon=True)
        # keys: CURVE client of a secured server (the demo's own keys)
        self.sub = Subscription(pub_addr, ("alert.",), ctx=ctx, keys=keys,
                                on_reject=lambda error: log.warning("bad alert publication ignored: %s", error))
        self.log = log_
        self.jsonl = jsonl
        self.on_event = on_event
        self.stop_event = threading.Event()
        self._seen: dict[int, dict[str, Any]] = {}

    def run(self) -> None:
        try:
            while not self.stop_event.is_set():
                if self.sub.wait(100):
                    for pub in self.sub.read():
                        self._handle(pub)
        finally:
            self.sub.close()

    def _handle(self, pub: Publication) -> None:
        assert isinstance(pub.msg, AlertMsg)  # the only type the subscription takes
        doc = dict(pub.msg.alert)
        with self.log.lock:
            self.log.topics[str(doc["id"])].add(pub.province)
            first = pub.msg.seq not in self._seen  # one event goes out once per province topic
            if first:
                self._seen[pub.msg.seq] = doc
                self.log.events.append(doc)
        if first:
            if self.jsonl is not None:
                self.jsonl.write(json.dumps(doc, ensure_ascii=False, sort_keys=True) + "\n")
                self.jsonl.flush()
            if self.on_event is not None:
                self.on_event(doc, self.log.topics[str(doc["id"])])


# ---------------------------------------------------------------------------- judging the outcome


@dataclass(frozen=True)
class IncidentOutcome:
    """What the network concluded about one transmitter, against what the scenario expects."""

    transmitter: str
    label: str
    expectation: Expectation
    alert_ids: tuple[str, ...]
    verdicts: tuple[str, ...]
    provinces_source: tuple[str, ...]
    provinces_affected: tuple[str, ...]
    routed_to: tuple[str, ...]
    position_error_km: float | None
    stated_error_km: float | None
    severity: str | None
    problems: tuple[str, ...]
    #: the play ended before this transmitter was on air long enough to be judged (short --duration)
    skipped: bool = False
    #: how the alert's position was found: "tdoa", "fused" (time differences and levels) or "rss" (levels)
    position_method: str | None = None
    #: how many sensors measured the emitter (the alert's readings)
    n_sensors: int = 0

    @property
    def passed(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        e = self.expectation
        return {"transmitter": self.transmitter, "label": self.label, "passed": self.passed,
                "expected": {"verdicts": list(e.verdicts), "provinces_source": list(e.provinces_source),
                             "provinces_affected": list(e.provinces_affected),
                             "max_position_error_km": e.max_position_error_km},
                "alert_ids": list(self.alert_ids), "verdicts": list(self.verdicts),
                "provinces_source": list(self.provinces_source), "provinces_affected": list(self.provinces_affected),
                "routed_to": list(self.routed_to), "position_error_km": self.position_error_km,
                "stated_error_km": self.stated_error_km, "severity": self.severity, "problems": list(self.problems),
                "skipped": self.skipped, "position_method": self.position_method, "n_sensors": self.n_sensors}


def attribute(alert: Mapping[str, Any], transmitters: Sequence[Transmitter]) -> Transmitter | None:
    """The transmitter an alert is about: the nearest radiated frequency within its bandwidth.

    Tolerance: half the transmitter's occupied bandwidth plus 12.5 kHz (a raster step and the
    sensors' LO errors).
    """
    f = float(alert.get("f_center_hz") or 0.0)
    best: tuple[float, Transmitter] | None = None
    for tx in transmitters:
        df = abs(f - tx.emitted_freq_hz)
        if df <= tx.bandwidth_hz / 2 + 12_500.0 and (best is None or df < best[0]):
            best = (df, tx)
    return best[1] if best else None


def judging_margin_s(demo: DemoScenario) -> float:
    """How long a transmitter must have been on air before the play ends for it to be judged:
    the engine's group window plus two revisits of the slowest profile, plus a second."""
    from coordination.engine import EngineConfig

    window = float(demo.settings.engine.get("group_window_s", EngineConfig().group_window_s))
    revisit = max((p.revisit_s for p in demo.settings.profiles), default=2.0)
    return window + 2.0 * revisit + 1.0


def judge(demo: DemoScenario, alerts: Mapping[str, Mapping[str, Any]],
          topics: Mapping[str, Iterable[str]], played_s: float | None = None,
          require_tdoa: bool = True) -> tuple[list[IncidentOutcome], list[dict[str, Any]]]:
    """Compare the alerts (final state per id) with the scenario's expectations.

    Returns the per-transmitter outcomes and the alerts no scenario transmitter explains. With
    ``played_s`` (a play cut short), an incident whose transmitter came on air too late to be judged
    and raised nothing is marked ``skipped`` instead of failed. ``require_tdoa``: an incident heard by
    ``MIN_TDOA_SENSORS`` or more must be placed by time differences (False: a network without TDOA).
    """
    scenario = demo.scenario
    by_tx: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    stray: list[dict[str, Any]] = []
    for doc in alerts.values():
        tx = attribute(doc, scenario.transmitters)
        if tx is None:
            stray.append(dict(doc))
        else:
            by_tx[tx.id].append(doc)
    outcomes = []
    for exp in demo.settings.expectations:
        tx = next(t for t in scenario.transmitters if t.id == exp.transmitter)
        docs = sorted(by_tx.get(tx.id, []), key=lambda d: str(d.get("first_seen")))
        first_on_s = min((a for a, _ in tx.schedule), default=0.0)
        if played_s is not None and not docs and not exp.is_traffic and played_s < first_on_s + judging_margin_s(demo):
            outcomes.append(IncidentOutcome(tx.id, tx.label or tx.id, exp, (), (), (), (), (), None, None, None, (),
                                            skipped=True))
            continue
        outcomes.append(_judge_one(tx, exp, docs, topics, require_tdoa))
    return outcomes, stray


def _judge_one(tx: Transmitter, exp: Expectation, docs: Sequence[Mapping[str, Any]],
               topics: Mapping[str, Iterable[str]], require_tdoa: bool = True) -> IncidentOutcome:
    problems: list[str] = []
    ids = tuple(str(d["id"]) for d in docs)
    label = tx.label or tx.id
    if exp.is_traffic:
        if docs:
            problems.append(f"licensed traffic raised {len(docs)} alert(s): "
                            + "; ".join(f"{d['id']} {'+'.join(d.get('verdicts') or [])}" for d in docs))
        return IncidentOutcome(tx.id, label, exp, ids, (), (), (), (), None, None, None, tuple(problems))
    if not docs:
        problems.append("no alert")
        return IncidentOutcome(tx.id, label, exp, ids, (), (), (), (), None, None, None, tuple(problems))
    if len(docs) > 1:
        problems.append(f"{len(docs)} alerts instead of one: {', '.join(ids)}")
    doc = docs[0]
    verdicts = tuple(doc.get("verdicts") or ())
    src = tuple(doc.get("provinces_source") or ())
    aff = tuple(doc.get("provinces_affected") or ())
    routed = tuple(sorted(topics.get(str(doc["id"]), ())))
    unproven = [v for v in exp.may_be_unproven if v in exp.verdicts and v not in verdicts
                and any("not established" in str(f) for f in doc.get("findings") or ())]
    if set(verdicts) | set(unproven) != set(exp.verdicts):
        problems.append(f"verdicts {'+'.join(verdicts) or 'none'}, expected {'+'.join(exp.verdicts)}")
    if set(src) != set(exp.provinces_source):
        problems.append(f"source {','.join(src) or '-'}, expected {','.join(exp.provinces_source) or '-'}")
    if set(aff) != set(exp.provinces_affected):
        problems.append(f"affected {','.join(aff) or '-'}, expected {','.join(exp.provinces_affected) or '-'}")
    want_routes = set(exp.notified)
    if set(routed) != want_routes:
        problems.append(f"published to {','.join(routed) or 'nobody'}, expected {','.join(sorted(want_routes))}")
    err_km: float | None = None
    stated: float | None = None
    method: str | None = None
    pos = doc.get("position")
    if pos:
        err_km = round(float(haversine_km(float(pos["lat"]), float(pos["lon"]), tx.lat, tx.lon)), 2)
        stated = float(pos["error_km"]) if pos.get("error_km") is not None else None
        method = str(pos.get("method") or "rss")
    if exp.max_position_error_km is not None:
        if err_km is None:
            problems.append("no position estimate")
        elif err_km > exp.max_position_error_km:
            problems.append(f"position {err_km:.1f} km from the transmitter (allowed {exp.max_position_error_km:g})")
    n_sensors = len({str(r.get("sensor_id")) for r in doc.get("sensors") or ()})
    if require_tdoa and n_sensors >= MIN_TDOA_SENSORS and method not in TDOA_METHODS:
        problems.append(f"heard by {n_sensors} sensors but placed by {method or 'nothing'}, not by time differences")
    return IncidentOutcome(tx.id, label, exp, ids, verdicts, src, aff, routed, err_km, stated,
                           doc.get("severity"), tuple(problems), position_method=method, n_sensors=n_sensors)


# ---------------------------------------------------------------------------- the run


@dataclass(frozen=True)
class DemoOptions:
    """What ``borderwatch demo`` was asked to do."""

    scenario: Path | None = None
    duration_s: float | None = None
    out_dir: Path | None = None
    alerts_jsonl: Path | None = None
    forever: bool = False
    federated: bool = False  # four centres, one per province, on a shared store (borderwatch/demo_federated.py)


@dataclass
class DeliveryReport:
    """Nothing dropped: server rejections, and every spooled seq stored exactly once."""

    rejected: dict[str, int]
    duplicates: int
    stored: dict[str, int]
    per_sensor: dict[str, dict[str, int]]
    problems: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {"rejected": self.rejected, "duplicates": self.duplicates, "stored": self.stored,
                "per_sensor": self.per_sensor, "problems": self.problems}


@dataclass
class DemoResult:
    """Everything the summary reports; also written to ``<out>/summary.json``."""

    scenario: str
    duration_s: float
    data_dir: Path | None
    outcomes: list[IncidentOutcome]
    stray_alerts: list[dict[str, Any]]
    delivery: DeliveryReport
    alert_events: int
    cpu_s: float
    sensors: int
    #: The enforcement cases the server opened (API ``cases``: id, alert, state, holder ...).
    cases: list[dict[str, Any]] = field(default_factory=list)
    #: Where the field teams' web view was served during the play (None: not started).
    web_url: str | None = None

    @property
    def passed(self) -> bool:
        return (all(o.passed for o in self.outcomes) and not self.stray_alerts and not self.delivery.problems)

    def to_dict(self) -> dict[str, Any]:
        return {"scenario": self.scenario, "duration_s": round(self.duration_s, 2), "passed": self.passed,
                "data_dir": str(self.data_dir) if self.data_dir else None,
                "outcomes": [o.to_dict() for o in self.outcomes],
                "stray_alerts": [{k: a.get(k) for k in ("id", "verdicts", "f_center_hz", "band",
                                                         "provinces_source", "provinces_affected")}
                                 for a in self.stray_alerts],
                "delivery": self.delivery.to_dict(), "alert_events": self.alert_events,
                "cpu_s": round(self.cpu_s, 2), "sensors": self.sensors, "web_url": self.web_url,
                "cases": [{k: c.get(k) for k in ("id", "alert_id", "state", "severity", "holder", "handover",
                                                  "outcome")} for c in self.cases]}


class DemoNetwork:
    """Server + simulated sensors + alert subscriber for one play of a demo scenario."""

    def __init__(self, demo: DemoScenario, data_dir: Path, *, jsonl: TextIO | None = None,
                 on_event: Callable[[dict[str, Any], set[str]], None] | None = None) -> None:
        self.demo = demo
        self.data_dir = data_dir
        self.jsonl = jsonl
        self.on_event = on_event
        self.alerts = AlertLog()
        self.server: Server | None = None
        self.daemons: dict[str, SensorDaemon] = {}
        self.spools: dict[str, Spool] = {}
        self.spool_records: dict[str, SpoolRecord] = {}
        self.threads: list[threading.Thread] = []
        self.stop_event = threading.Event()
        self.ctx: zmq.Context | None = None
        self.subscriber: AlertSubscriber | None = None
        #: The demo's own CurveZMQ keys (made in DATA/keys when the server starts); None = plain TCP.
        self.keys: KeySet | None = None
        #: The field teams' web view (borderwatch.demo_web.DemoWeb) when run_demo started one.
        self.web: Any = None
        self.t0 = 0.0
        self.errors: list[str] = []
        self._closed = False

    @property
    def scenario(self) -> Scenario:
        return self.demo.scenario

    def server_config(self) -> ServerConfig:
        s = self.demo.settings
        return ServerConfig(
            data_dir=self.data_dir, sensors_addr="tcp://127.0.0.1:*", api_addr="tcp://127.0.0.1:*",
            pub_addr="tcp://127.0.0.1:*", stations=sample_stations_path(), profiles=s.profiles,
            engine=dict(s.engine), tick_interval_s=0.5, poll_timeout_ms=20, evidence_capture=True,
            # CURVE with the demo's own keys, generated in its output dir: the demo runs as secured as production
            insecure=self.keys is None, keys_dir=self.keys.root if self.keys is not None else None,
            evidence_duration_s=EVIDENCE_DURATION_S, evidence_sample_rate_hz=EVIDENCE_RATE_HZ,
            # a TDOA round for every alert heard by >= 3 sensors: the simulated sensors render their snapshots
            # coherently (borderwatch.demo_tdoa), the reference broadcasters are in the scenario; and one for
            # each identity check the engine asks (licensed traffic taken for its station on the prior)
            tdoa_on_open=True, tdoa_identity_checks=True, tdoa_target_s=TDOA_TARGET_S,
        )

    def sensor_config(self, site_id: str) -> SensorConfig:
        site = self.scenario.sensor(site_id)
        assert self.server is not None
        doc = {
            "sensor": {"id": site.id, "province": site.province, "lat": site.lat, "lon": site.lon,
                       "height_m": site.height_m},
            "antenna": {"factor_db_m": site.antenna_factor_db_m},
            "source": {"uri": f"sim:demo?sensor={site.id}"},
            "server": {"address": self.server.endpoints["sensors"],
                       **(self.keys.sensor_server_section(site.id) if self.keys is not None else {})},
            "spool": {"dir": str(self.data_dir / "spool"), "synchronous": "normal"},
            "daemon": {"heartbeat_s": 5.0, "resend_timeout_s": 3.0},
        }
        cfg = parse_config(doc, "<demo>", base_dir=self.data_dir)
        if self.demo.settings.profiles:  # the same profiles as the server's, should Hello be slow
            from dataclasses import replace

            cfg = replace(cfg, profiles=self.demo.settings.profiles)
        return cfg

    def start(self) -> None:
        """Start the server, the subscriber and every sensor; the play's clock starts now."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._start_servers()
        model = link_model(self.demo)
        self.t0 = time.monotonic()
        emitters = snapshot_emitters(self.scenario)
        renderers = RendererPool(model, self.scenario.seed)
        for site in self.scenario.sensors:
            cfg = self.sensor_config(site.id)
            snapshots = DemoSnapshots(site, emitters, renderers, play_time_s=self.elapsed_s, seed=self.scenario.seed)
            source = WallClockSource(SimulatedSource(self.scenario, site.id, propagation=model), self.t0)
            record = self.spool_records[site.id] = SpoolRecord()
            spool = Spool(cfg.spool_path, quota_bytes=cfg.spool_quota_bytes, synchronous=cfg.spool_synchronous,
                          on_put=record.on_put)
            daemon = SensorDaemon(cfg, source, stop_event=self.stop_event, context=self.ctx, spool=spool,
                                  evidence_dir=self.data_dir / "spool" / "evidence" / site.id,
                                  snapshot_source=snapshots, snapshot_max_late_s=SNAPSHOT_MAX_LATE_S)
            self.spools[site.id] = spool
            self.daemons[site.id] = daemon
            # real sensors are not in phase: spread the starts over one revisit (seeded, reproducible)
            phase_s = self._phase_s(site.id)
            th = threading.Thread(target=self._run_sensor, args=(daemon, phase_s), name=f"sensor-{site.id}",
                                  daemon=True)
            self.threads.append(th)
        for th in self.threads:
            th.start()

    def _start_servers(self) -> None:
        """The coordination server and the alert subscriber (the federated demo starts four centres)."""
        self.keys = ensure_demo_keys(self.data_dir, [site.id for site in self.scenario.sensors])
        self.server = Server(self.server_config()).start()
        self.ctx = zmq.Context()
        self.subscriber = AlertSubscriber(self.ctx, self.server.endpoints["pub"], self.alerts, jsonl=self.jsonl,
                                          on_event=self.on_event, keys=self.keys.console)
        self.subscriber.start()
        time.sleep(0.2)  # the SUB joins before the first alert can exist

    @property
    def store_target(self) -> Any:
        """The server store the delivery check reads (a SQLite file here; the shared store when federated)."""
        return self.data_dir / "server.db"

    def _phase_s(self, sensor_id: str) -> float:
        """Start offset of a sensor, in [0, shortest revisit): a hash of seed and id, so runs repeat."""
        revisit = min((p.revisit_s for p in self.demo.settings.profiles), default=1.0)
        h = hashlib.blake2b(f"{self.scenario.seed}|{sensor_id}".encode(), digest_size=8).digest()
        return revisit * int.from_bytes(h, "little") / 2.0**64

    def _run_sensor(self, daemon: SensorDaemon, phase_s: float = 0.0) -> None:
        try:
            if self.stop_event.wait(phase_s):
                return
            daemon.run()
        except Exception as exc:  # a sensor failing must not take the demo down; it is reported
            log.exception("sensor %s failed", daemon.config.sensor_id)
            self.errors.append(f"sensor {daemon.config.sensor_id}: {exc}")

    def elapsed_s(self) -> float:
        return time.monotonic() - self.t0 if self.t0 else 0.0

    def api(self) -> ApiClient:
        assert self.server is not None
        return ApiClient(self.server.endpoints["api"], timeout_s=5.0, client_id="demo",
                         keys=self.keys.console if self.keys is not None else None)

    def stop_sensors(self) -> None:
        """Stop sweeping, then let every spool be acked (bounded) and close the sensors."""
        self.stop_event.set()
        for th in self.threads:
            th.join(10.0)
        deadline = time.monotonic() + DRAIN_S
        for sid, daemon in self.daemons.items():
            if not daemon.drain(max(0.1, deadline - time.monotonic())):
                self.errors.append(f"sensor {sid}: {daemon.spool.depth} spooled messages not acked "
                                   f"within {DRAIN_S:g} s")

    def counters(self) -> dict[str, Any]:
        """The server's counters (API ``counters``), while it runs."""
        with self.api() as api:
            return dict(api.result("counters"))

    def delivery(self, counters: Mapping[str, Any]) -> DeliveryReport:
        """Rejections and the per-sensor seq check; call after :meth:`close` (reads the server's store).

        Every seq a sensor spooled must be in the server's idempotence ledger, and the server's
        per-sensor count of stored messages (Hellos aside) must equal the number spooled: stored
        exactly once, none lost, none doubled.
        """
        from coordination.store import SeqRanges, Store

        rejected = {str(k): int(v) for k, v in (counters.get("rejected") or {}).items()}
        problems = [f"server rejected {n} message(s): {reason}" for reason, n in rejected.items() if n]
        per_sensor: dict[str, dict[str, int]] = {}
        store = Store(self.store_target)
        try:
            for sid, spool in self.spool_records.items():
                ledger = SeqRanges(store.ledger.received_ranges(sid))
                put = spool.put_seqs
                missing = [s for s in put if s not in ledger]
                n_stored = store.ledger.count_received(sid) - store.ledger.count_received(sid, "hello")
                per_sensor[sid] = {"spooled": len(put), "stored": n_stored, "missing": len(missing),
                                   "spool_dropped": spool.dropped_total, "spool_depth": spool.depth_left}
                if missing:
                    problems.append(f"sensor {sid}: {len(missing)} spooled seq(s) never stored (first {missing[0]})")
                if n_stored != len(put) or len(set(put)) != len(put):
                    problems.append(f"sensor {sid}: {len(put)} messages spooled but {n_stored} stored")
                if spool.dropped_total:
                    problems.append(f"sensor {sid}: spool dropped {spool.dropped_total} message(s) for its quota")
        finally:
            store.close()
        problems.extend(self.errors)
        return DeliveryReport(rejected, int(counters.get("duplicates") or 0),
                              {str(k): int(v) for k, v in (counters.get("stored") or {}).items()},
                              per_sensor, problems)

    def final_alerts(self) -> dict[str, dict[str, Any]]:
        """Every alert the server holds, as it stands (the store is the reference; PUB may lag)."""
        with self.api() as api:
            docs = api.result("alerts", {"state": "all"})
        out = {str(d["id"]): dict(d) for d in docs}
        for aid, doc in self.alerts.latest().items():  # in case the list was truncated
            out.setdefault(aid, doc)
        return out

    def close(self) -> None:
        """Stop everything this network started (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self.stop_event.set()
        for th in self.threads:
            th.join(10.0)
        for daemon in self.daemons.values():
            try:
                daemon.close()
            except Exception:
                log.debug("closing sensor %s failed", daemon.config.sensor_id, exc_info=True)
        for sid, spool in self.spools.items():
            try:
                self.spool_records[sid].closing(spool)
                spool.close()
            except Exception:
                log.debug("closing a spool failed", exc_info=True)
        if self.subscriber is not None:
            self.subscriber.stop_event.set()
            self.subscriber.join(5.0)
        if self.server is not None:
            self.server.stop()
        if self.ctx is not None:
            self.ctx.term()
            self.ctx = None
