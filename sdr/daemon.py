"""The sensor daemon: run the monitoring profiles on schedule, spool every result, keep the uplink going.

Shape (STYLE.md: inject the clock and the source):
- ``SensorDaemon(config, source, clock=..., stop_event=...)`` is embeddable: the demo runs several
  simulated sensors in one process, each a daemon on its own thread (or stepped by one loop).
  ``step()`` does the work that is due and returns the seconds until more is due; ``run()`` loops
  ``step()`` and waits on the uplink socket in between (no busy loop, low CPU when idle).
- Every message goes through the spool (write, then send); seqs come from the spool.
- Profiles come from the server (ProfileMsg) and fall back to the config's local profiles.
  Each profile runs every ``revisit_s``; an overrun is counted, and the profile is rescheduled from
  now (missed revisits are skipped, never bunched).
- Heartbeat every ``heartbeat_interval_s`` with health figures: sample drops, CPU of the daemon's
  thread, spool depth/bytes/drops, clock, uptime, overruns, uplink counters.
- Commands: ``capture_iq`` (SigMF evidence, uploaded in chunks), ``switch_profile`` and ``tdoa_snapshot``
  (at the ordered UTC instant: reference, target, reference on one sample counter, :mod:`sdr.snapshot`;
  uploaded through the same evidence path under the order id). A sweep that would still run at a
  snapshot's instant is not started (the snapshot is late by no more than one ``step``); an order
  that arrives after its instant is refused and counted (the server's clock alignment tolerates a few
  ms of start error, not a sweep's worth). Every snapshot order is answered with an ``order_result``
  (spooled like the rest): taken, or why not (no snapshot source, busy, late, too far ahead, unreadable,
  capture error), so the server stops waiting for a recording that will not come.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

from coordination.protocol import (
    Command,
    Emissions,
    Heartbeat,
    Hello,
    Message,
    MonitoringProfile,
    Occupancy,
    OrderResult,
    ProfileMsg,
    Spectrum,
    format_utc,
)
from sdr.config import SensorConfig
from sdr.evidence import CaptureRequest, EvidenceError, SensorPlace, capture_iq, evidence_messages
from sdr.pipeline import Measurement, OccupancyReport, PipelineError, ProfileRunner, SourceExhaustedError
from sdr.snapshot import SnapshotError, SnapshotOrder, capture_snapshot, parse_order_time, snapshot_evidence
from sdr.sources.base import Source, SourceError
from sdr.spool import Spool
from sdr.uplink import Uplink, load_curve_keys

log = logging.getLogger(__name__)

SOFTWARE = "borderwatch-sensor/0.1"
CAPABILITIES = ("spectrum", "emissions", "occupancy", "heartbeat", "evidence:sigmf:cf32_le", "switch_profile",
                "tdoa_snapshot")
#: An order whose instant is further in the past than this when it arrives (or when the daemon gets to it)
#: is refused: the other sensors have taken theirs at the instant, this one would align on nothing.
SNAPSHOT_MAX_LATE_S = 0.5
#: Orders further ahead than this are refused (a wrong clock or a hostile order would park the sensor).
SNAPSHOT_MAX_AHEAD_S = 600.0
#: Pending snapshot orders kept at most (more are refused and counted).
SNAPSHOT_MAX_PENDING = 8


class SnapshotSourceFactory(Protocol):
    """A source for one snapshot: (ref_hz, target_hz, sample_rate_hz, ref, target, settle samples) -> Source."""

    def __call__(self, ref_hz: float, target_hz: float, sample_rate_hz: float, ref_samples: int,
                 target_samples: int, settle_samples: int) -> Source: ...


class Clock(Protocol):
    """Time as the daemon sees it: monotonic seconds for scheduling, UTC for message stamps."""

    realtime: bool

    def monotonic(self) -> float: ...

    def now_utc(self) -> datetime: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clocks; waiting is done on the uplink socket instead of sleeping."""

    realtime = True

    def monotonic(self) -> float:
        return time.monotonic()

    def now_utc(self) -> datetime:
        return datetime.now(UTC)

    def sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, seconds))


class ManualClock:
    """A clock tests advance by hand (``sleep`` advances it instantly)."""

    realtime = False

    def __init__(self, start_utc: datetime | None = None) -> None:
        self._t = 0.0
        self._start = start_utc or datetime(2026, 1, 1, tzinfo=UTC)

    def monotonic(self) -> float:
        return self._t

    def now_utc(self) -> datetime:
        return self._start + timedelta(seconds=self._t)

    def sleep(self, seconds: float) -> None:
        self._t += max(0.0, seconds)

    advance = sleep


@dataclass
class _Scheduled:
    profile: MonitoringProfile
    runner: ProfileRunner
    due: float


@dataclass
class DaemonStats:
    """Counters reported in the heartbeat."""

    sweeps: int = 0
    samples: int = 0
    overruns: int = 0
    emissions: int = 0
    occupancy_reports: int = 0
    heartbeats: int = 0
    captures: int = 0
    capture_failures: int = 0
    measure_errors: int = 0
    commands: int = 0
    snapshots: int = 0
    snapshot_failures: int = 0


class SensorDaemon:
    """One sensor: profiles on schedule -> spool -> uplink. Not thread-safe: drive it from one thread."""

    def __init__(
        self,
        config: SensorConfig,
        source: object,
        *,
        clock: Clock | None = None,
        stop_event: threading.Event | None = None,
        context: object | None = None,
        connect: bool = True,
        spool: Spool | None = None,
        evidence_dir: str | Path | None = None,
        snapshot_source: SnapshotSourceFactory | None = None,
        snapshot_max_late_s: float = SNAPSHOT_MAX_LATE_S,
    ) -> None:
        """connect=False runs without a network (spool only; tests and benchmarks). ``snapshot_source``: where
        a TDOA snapshot is taken from instead of ``source`` (the simulator's coherent renderer).
        ``snapshot_max_late_s``: how late an order may still be taken; a receiver must be on time, but a
        simulated one renders the ordered instant whenever its thread gets to it (the demo's sixteen
        sensors share a few cores), so it may take a late order."""
        self.config = config
        self.source = source
        self.clock: Clock = clock or SystemClock()
        self.stop_event = stop_event or threading.Event()
        self.stats = DaemonStats()
        self.spool = spool or Spool(config.spool_path, quota_bytes=config.spool_quota_bytes,
                                    synchronous=config.spool_synchronous)
        self._own_spool = spool is None
        self.evidence_dir = Path(evidence_dir) if evidence_dir else config.spool_dir / "evidence"
        self.snapshot_source = snapshot_source
        self.snapshot_max_late_s = snapshot_max_late_s
        self.place = SensorPlace(config.sensor_id, config.lat, config.lon, config.height_m, config.province)
        self.server_profiles: tuple[MonitoringProfile, ...] = ()
        self._only_profile: str | None = None
        self._schedule: list[_Scheduled] = []
        self._t_start = self.clock.monotonic()
        self._next_heartbeat = self._t_start
        self._cpu_mark: tuple[int, float, float] | None = None  # (thread id, thread CPU s, wall s)
        self._cpu_percent = 0.0
        self._finished = False
        self._snapshots: list[tuple[datetime, SnapshotOrder]] = []
        self._sweep_s: dict[str, float] = {}  # the last duration of each profile's sweep (monotonic s)
        self.uplink: Uplink | None = None
        if connect:
            curve = None
            if config.server_public_key and config.secret_key_file:
                curve = load_curve_keys(config.server_public_key, config.secret_key_file)
            self.uplink = Uplink(config.server_address, config.sensor_id, self.spool, self._hello,
                                 window=config.inflight_window, resend_timeout_s=config.resend_timeout_s,
                                 curve=curve, context=context)  # type: ignore[arg-type]
        self._set_profiles(config.profiles)
        log.info("sensor %s (%s) started: %d profiles, spool %s", config.sensor_id, config.province,
                 len(self._schedule), self.spool.path)

    # ------------------------------------------------------------ profiles

    @property
    def profiles(self) -> tuple[MonitoringProfile, ...]:
        """The profiles currently scheduled."""
        return tuple(s.profile for s in self._schedule)

    def _set_profiles(self, profiles: tuple[MonitoringProfile, ...]) -> None:
        if self._only_profile is not None:
            chosen = tuple(p for p in profiles if p.name == self._only_profile)
            profiles = chosen or profiles
        now = self.clock.monotonic()
        old = {s.profile: s for s in self._schedule}
        sched = []
        for p in profiles:
            prev = old.get(p)  # an unchanged profile keeps its runner (occupancy) and phase
            sched.append(prev if prev else _Scheduled(p, ProfileRunner(p, full_scale_dbm=self.config.full_scale_dbm),
                                                      now))
        for s in self._schedule:
            if s.profile not in profiles:
                self._flush_occupancy(s)
        self._schedule = sched

    def _on_profile_msg(self, msg: ProfileMsg) -> None:
        if not msg.profiles:
            log.info("server sent no profiles; keeping %d local profiles", len(self._schedule))
            return
        self.server_profiles = msg.profiles
        log.info("server profiles: %s", ", ".join(p.name for p in msg.profiles))
        self._set_profiles(msg.profiles)

    def _on_command(self, cmd: Command) -> None:
        self.stats.commands += 1
        if cmd.action == "switch_profile":
            name = str(cmd.params.get("profile"))
            known = self.server_profiles or self.config.profiles
            if not any(p.name == name for p in known):
                log.warning("command %s: unknown profile %r (known: %s)", cmd.command_id, name,
                            ", ".join(p.name for p in known))
                return
            self._only_profile = name
            self._set_profiles(known)
            log.info("command %s: now running profile %s only", cmd.command_id, name)
        elif cmd.action == "capture_iq":
            self.capture(CaptureRequest.from_command(cmd))
        elif cmd.action == "tdoa_snapshot":
            self._accept_snapshot(cmd)

    # ------------------------------------------------------------ TDOA snapshots

    def _accept_snapshot(self, cmd: Command) -> None:
        try:
            order = SnapshotOrder.from_command(cmd)
            at = parse_order_time(order)
        except (SnapshotError, KeyError, TypeError, ValueError) as exc:
            self._snapshot_failed(cmd.command_id, "bad_order", f"snapshot order refused: {exc}")
            return
        unavailable = self._no_snapshot_source(order)
        if unavailable is not None:
            self._snapshot_failed(order.snapshot_id, "no_snapshot_source", unavailable)
            return
        lead_s = (at - self.clock.now_utc()).total_seconds()
        window = f"its instant is {lead_s:.3f} s from now (accepted: -{self.snapshot_max_late_s:.1f}.." \
                 f"{SNAPSHOT_MAX_AHEAD_S:.0f} s)"
        if lead_s < -self.snapshot_max_late_s:
            self._snapshot_failed(order.snapshot_id, "late", window)
            return
        if lead_s > SNAPSHOT_MAX_AHEAD_S:
            self._snapshot_failed(order.snapshot_id, "too_far_ahead", window)
            return
        if len(self._snapshots) >= SNAPSHOT_MAX_PENDING:
            self._snapshot_failed(order.snapshot_id, "busy", f"{len(self._snapshots)} snapshot orders pending already")
            return
        self._snapshots.append((at, order))
        self._snapshots.sort(key=lambda x: x[0])
        log.info("snapshot %s ordered for %s (in %.3f s)", order.snapshot_id, order.t_utc, lead_s)

    def _no_snapshot_source(self, order: SnapshotOrder) -> str | None:
        """Why this daemon cannot take ``order`` at all (None: it can try). A snapshot needs a source that
        reaches the reference and the target: the snapshot factory, or the daemon's own receiver; a
        recording (``can_retune`` false) only shifts within its recorded band."""
        if self.snapshot_source is not None:
            return None
        src = self.source
        if not isinstance(src, Source):
            return "no receiver to take a snapshot from"
        if getattr(src, "can_retune", True):
            return None
        previous_hz = float(src.center_freq_hz)
        try:  # a recording's tune is a digital shift: trying the frequencies costs nothing
            for f_hz in (order.ref_hz, order.target_hz):
                if f_hz is not None:
                    src.tune(f_hz)
        except SourceError as exc:
            return str(exc)
        finally:
            src.tune(previous_hz)
        return None

    def _snapshot_failed(self, command_id: str, reason: str, detail: str) -> None:
        """Count and log a snapshot order not carried out, and tell the server why."""
        self.stats.snapshot_failures += 1
        log.warning("snapshot %s not taken (%s): %s", command_id, reason, detail)
        self._answer(command_id, False, reason, detail)

    def _answer(self, command_id: str, ok: bool, reason: str = "", detail: str = "") -> None:
        c = self.config
        self._put(OrderResult(c.sensor_id, 0, format_utc(self.clock.now_utc()), command_id=command_id, ok=ok,
                              reason=reason, detail=detail[:512]))

    def _seconds_to_snapshot(self) -> float | None:
        if not self._snapshots:
            return None
        return (self._snapshots[0][0] - self.clock.now_utc()).total_seconds()

    def _run_due_snapshots(self) -> None:
        while self._snapshots and self._snapshots[0][0] <= self.clock.now_utc():
            at, order = self._snapshots.pop(0)
            late_s = (self.clock.now_utc() - at).total_seconds()
            if late_s > self.snapshot_max_late_s:
                self._snapshot_failed(order.snapshot_id, "late", f"the daemon reached it {late_s:.3f} s late")
                continue
            self.snapshot(order)

    def snapshot(self, order: SnapshotOrder) -> None:
        """Take one TDOA snapshot now and spool it as evidence; failures are logged and counted."""
        c = self.config
        pps = c.time_discipline == "gps_pps"
        unavailable = self._no_snapshot_source(order)
        if unavailable is not None:
            self._snapshot_failed(order.snapshot_id, "no_snapshot_source", unavailable)
            return
        try:
            source = self.source
            if self.snapshot_source is not None:
                source = self.snapshot_source(order.ref_hz or order.target_hz, order.target_hz, order.sample_rate_hz,
                                              order.ref_samples, order.target_samples, order.settle_samples)
            meta = capture_snapshot(source, order, self.place, self.evidence_dir,  # type: ignore[arg-type]
                                    t_start=self.clock.now_utc(), time_quality=c.time_discipline,
                                    time_sigma_s=c.time_sigma_s, pps_locked=pps)
            cap = snapshot_evidence(meta)
        except (SnapshotError, SourceError, TimeoutError, OSError, ValueError) as exc:
            self._snapshot_failed(order.snapshot_id, "capture_error", str(exc))
            return
        n = 0
        with self.spool.batch():  # all chunks of a snapshot and its result, or none
            for msg in evidence_messages(cap, c.sensor_id):
                self._put(msg)
                n += 1
            self._answer(order.snapshot_id, True)
        self.stats.snapshots += 1
        log.info("snapshot %s spooled in %d chunks (%d samples)", order.snapshot_id, n, cap.n_samples)

    # ------------------------------------------------------------ messages

    def _hello(self, seq: int) -> Hello:
        c = self.config
        return Hello(c.sensor_id, seq, format_utc(self.clock.now_utc()), province=c.province, lat=c.lat, lon=c.lon,
                     height_m=c.height_m, antenna_factor_db_m=c.antenna_factor_db_m, software=SOFTWARE,
                     capabilities=CAPABILITIES, epoch=self.spool.epoch)

    def _put(self, msg: Message) -> Message:
        return self.spool.put(msg)

    def _flush_occupancy(self, s: _Scheduled, now_utc: datetime | None = None) -> None:
        rep = s.runner.occupancy.report(now_utc)
        if rep is not None:
            self._put_occupancy(rep)

    def _put_occupancy(self, rep: OccupancyReport) -> None:
        c = self.config
        self._put(Occupancy(c.sensor_id, 0, format_utc(self.clock.now_utc()), profile=rep.profile,
                            t_start_utc=format_utc(rep.t_start_utc), t_end_utc=format_utc(rep.t_end_utc),
                            revisits=rep.revisits, threshold_dbm=rep.threshold_dbm, fbo=rep.fbo,
                            channel_centers_hz=rep.channel_centers_hz, fco=rep.fco))
        self.stats.occupancy_reports += 1

    def measure(self, s: _Scheduled) -> None:
        """Sweep one profile and spool its Spectrum, Emissions (and Occupancy when its interval is over)."""
        now_utc = self.clock.now_utc()
        if s.runner.occupancy.due(now_utc):  # the interval is over: this sweep starts the next one
            self._flush_occupancy(s, now_utc)
        m = s.runner.measure(self.source, now_utc)
        stamp = format_utc(m.t_utc)
        with self.spool.batch():  # one durable commit per sweep
            self._put_sweep(m, stamp)
        self.stats.sweeps += 1
        self.stats.emissions += len(m.emissions)
        self.stats.samples += m.samples

    def _put_sweep(self, m: Measurement, stamp: str) -> None:
        c = self.config
        spec = self._put(Spectrum(c.sensor_id, 0, stamp, profile=m.profile, f_start_hz=m.f_start_hz,
                                  f_step_hz=m.f_step_hz, power_dbm=m.power_dbm, detector=m.detector,
                                  segments=max(1, m.segments), noise_floor_dbm=m.noise_floor_dbm,
                                  threshold_dbm=m.threshold_dbm, antenna_factor_db_m=c.antenna_factor_db_m))
        self._put(Emissions(c.sensor_id, 0, stamp, profile=m.profile, spectrum_seq=spec.seq,
                            noise_floor_dbm=m.noise_floor_dbm, antenna_factor_db_m=c.antenna_factor_db_m,
                            emissions=m.emission_dicts()))

    def measure_all(self) -> int:
        """Sweep every scheduled profile once, now (``--once``, benchmarks); returns the samples read."""
        before = self.stats.samples
        for s in list(self._schedule):
            if self.stop_event.is_set():
                break
            self.measure(s)
        return self.stats.samples - before

    def capture(self, req: CaptureRequest) -> None:
        """Record IQ evidence and spool it in chunks; failures are logged and counted, never fatal."""
        try:
            cap = capture_iq(self.source, req, self.place, self.evidence_dir, t_utc=self.clock.now_utc(),
                             software=SOFTWARE)
        except EvidenceError as exc:
            self.stats.capture_failures += 1
            log.warning("%s", exc)
            return
        n = 0
        with self.spool.batch():  # all chunks of a capture, or none
            for msg in evidence_messages(cap, self.config.sensor_id):
                self._put(msg)
                n += 1
        self.stats.captures += 1
        log.info("evidence %s spooled in %d chunks (%d bytes)", cap.capture_id, n, cap.nbytes)

    def health(self) -> dict[str, float]:
        """The heartbeat's health figures (numbers only, as the protocol requires)."""
        st = self.spool.stats()
        # CPU of the thread that drives this daemon (several daemons may share one process).
        tid, now_cpu, now_wall = threading.get_ident(), time.thread_time(), time.monotonic()
        mark = self._cpu_mark
        if mark is None or mark[0] != tid:
            self._cpu_mark = (tid, now_cpu, now_wall)
        elif now_wall - mark[2] > 0.5:
            self._cpu_percent = 100.0 * (now_cpu - mark[1]) / (now_wall - mark[2])
            self._cpu_mark = (tid, now_cpu, now_wall)
        h: dict[str, float] = {
            "sample_drops": float(getattr(self.source, "dropped_samples", 0) or 0),
            "cpu_percent": round(self._cpu_percent, 2),
            "spool_depth": float(st.depth),
            "spool_bytes": float(st.bytes),
            "spool_quota_bytes": float(st.quota_bytes),
            "spool_dropped": float(st.dropped_total),
            "clock_utc_s": self.clock.now_utc().timestamp(),
            "uptime_s": round(self.clock.monotonic() - self._t_start, 3),
            "sweeps": float(self.stats.sweeps),
            "overruns": float(self.stats.overruns),
            "measure_errors": float(self.stats.measure_errors),
            "captures": float(self.stats.captures),
            "snapshots": float(self.stats.snapshots),
            "snapshot_failures": float(self.stats.snapshot_failures),
            "profiles": float(len(self._schedule)),
        }
        for mtype, n in sorted(st.dropped.items())[:8]:
            h[f"spool_dropped_{mtype}"] = float(n)
        if self.uplink is not None:
            u = self.uplink.stats
            h.update({"uplink_sent": float(u.sent), "uplink_resent": float(u.resent), "uplink_acked": float(u.acked),
                      "uplink_in_flight": float(self.uplink.in_flight),
                      "uplink_established": 1.0 if self.uplink.established else 0.0})
        return h

    def heartbeat(self) -> None:
        c = self.config
        self._put(Heartbeat(c.sensor_id, 0, format_utc(self.clock.now_utc()), health=self.health()))
        self.stats.heartbeats += 1

    # ------------------------------------------------------------ loop

    def _handle(self, msgs: list[Message]) -> None:
        for m in msgs:
            if isinstance(m, ProfileMsg):
                self._on_profile_msg(m)
            elif isinstance(m, Command):
                self._on_command(m)

    def step(self) -> float:
        """Do everything due now (sweeps, heartbeat, uplink traffic); return seconds until the next due item."""
        if self.uplink is not None:
            self._handle(self.uplink.service(0.0))
        self._run_due_snapshots()
        now = self.clock.monotonic()
        if now >= self._next_heartbeat:
            self.heartbeat()
            self._next_heartbeat = now + self.config.heartbeat_interval_s
        for s in sorted(self._schedule, key=lambda x: x.due):
            if self.stop_event.is_set():
                break
            if s.due > self.clock.monotonic():
                continue
            to_snap = self._seconds_to_snapshot()
            if to_snap is not None and to_snap < self._sweep_s.get(s.profile.name, 0.0) * 1.5 + 0.05:
                break  # this sweep would still run at the snapshot's instant: it waits for the snapshot
            try:
                t_sweep = self.clock.monotonic()
                self.measure(s)
                self._sweep_s[s.profile.name] = self.clock.monotonic() - t_sweep
            except SourceExhaustedError:
                raise
            except (PipelineError, SourceError, TimeoutError, OSError, ValueError) as exc:
                # A receiver hiccup (USB reset, rtl_tcp reconnect) must not end the station: count it,
                # report it in the heartbeat, and try again at the next revisit.
                self.stats.measure_errors += 1
                log.warning("profile %s: measurement failed: %s", s.profile.name, exc)
            after = self.clock.monotonic()
            s.due += s.profile.revisit_s
            if s.due < after:
                self.stats.overruns += 1
                s.due = after
            if self.uplink is not None:  # keep the link moving between long sweeps
                self._handle(self.uplink.service(0.0))
        self._run_due_snapshots()
        now = self.clock.monotonic()
        nxt = min([s.due for s in self._schedule] + [self._next_heartbeat])
        wait = max(0.0, nxt - now)
        to_snap = self._seconds_to_snapshot()
        return wait if to_snap is None else max(0.0, min(wait, to_snap))

    def _wait(self, seconds: float) -> None:
        if not self.clock.realtime:
            self.clock.sleep(seconds)
            if self.uplink is not None:
                self._handle(self.uplink.service(0.0))
            return
        deadline = time.monotonic() + seconds
        while not self.stop_event.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                break
            if self.uplink is not None:
                self._handle(self.uplink.service(min(left, 0.25)))
            else:
                self.stop_event.wait(min(left, 0.25))

    def run(self, duration_s: float | None = None, *, once: bool = False) -> None:
        """Run until stopped (stop_event, SIGINT/SIGTERM via :func:`install_signal_handlers`), for
        ``duration_s`` seconds of the daemon's clock, or (``once``) for one sweep of every profile."""
        t0 = self.clock.monotonic()
        try:
            if once:
                self.heartbeat()
                self.measure_all()
                return
            while not self.stop_event.is_set():
                wait = self.step()
                if duration_s is not None:
                    left = duration_s - (self.clock.monotonic() - t0)
                    if left <= 0:
                        break
                    wait = min(wait, left)
                self._wait(wait)
        except SourceExhaustedError as exc:
            log.info("source ended: %s", exc)
        finally:
            for s in self._schedule:  # partial occupancy intervals are information too
                if s.runner.occupancy.revisits:
                    self._flush_occupancy(s, self.clock.now_utc())

    def drain(self, timeout_s: float) -> bool:
        """Give the uplink up to ``timeout_s`` (wall time) to get the spool acked; True when empty."""
        if self.uplink is None:
            return self.spool.depth == 0
        deadline = time.monotonic() + timeout_s
        while self.spool.depth and time.monotonic() < deadline:
            self._handle(self.uplink.service(min(0.05, max(0.0, deadline - time.monotonic()))))
        return self.spool.depth == 0

    def close(self) -> None:
        """Close the uplink and (if owned) the spool; unsent rows stay on disk for the next start."""
        if self._finished:
            return
        self._finished = True
        depth = self.spool.depth
        if self.uplink is not None:
            self.uplink.close()
        if self._own_spool:
            self.spool.close()
        log.info("sensor %s stopped: %d sweeps, %d rows left in the spool", self.config.sensor_id,
                 self.stats.sweeps, depth)

    def __enter__(self) -> SensorDaemon:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def install_signal_handlers(stop_event: threading.Event) -> Callable[[], None]:
    """SIGINT/SIGTERM set ``stop_event`` (main thread only); returns a function restoring the old handlers."""
    old = {}

    def handler(signum: int, _frame: object) -> None:
        log.info("signal %s: stopping", signal.Signals(signum).name)
        stop_event.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        old[sig] = signal.signal(sig, handler)

    def restore() -> None:
        for sig, h in old.items():
            signal.signal(sig, h)

    return restore

