"""TDOA rounds on the server: order synchronised snapshots, solve when they are in, attach the fix.

One job: for an alert heard by >= 3 sensors that take ``tdoa_snapshot`` orders (when it opens, or on
demand through the API op ``tdoa_locate``), choose the reference broadcaster
(:mod:`coordination.tdoa_reference`), send every sensor the same order ("at UTC T: reference, target,
reference"), T a few seconds ahead so every order arrives first. The snapshots come back through the
evidence path (ordered in the store like IQ captures, filed under the alert, attached to it as
evidence: the evidence keeps the snapshots). On the server's tick a round whose snapshots are all in
(or, after ``collect_s``, at least three) is solved with :func:`coordination.tdoa.locate_tdoa` (told the target
is FM when the sensors' measured classes on the alert say so, :func:`target_fm_of`: its links' multipath pulls
are then read from their envelopes and removed; the class, never the band); the fix
and what it rests on (reference, pairs, range differences: what the console draws hyperbolas from)
are written beside the snapshots as ``<round>.tdoa.json``; the fix goes to the engine
(``position_fix``: the engine's ``add_position_fix``, which re-judges the alert on the position fused
with it: source and affected provinces, ambiguity, station match, routing) and the file is attached to
the alert as evidence through the engine's public ``add_evidence``.

The alert's position: the engine states it (``position.method`` ``fused``, or ``tdoa`` when the level
fix is a one-sensor annulus; the level fix kept as ``position_rss``) and keeps fusing the fix as new
levels arrive. :meth:`TdoaOrders.decorate` (an outbox decorator, so the API and the published alert
show the same) adds the newest fix file's detail as ``tdoa`` (what the console draws hyperbolas
from); for an alert whose engine did not take the fix it fuses it for display
(:func:`coordination.tdoa_fusion.with_tdoa`). A round that fails says why in its file (``error``) and
the alert keeps its level fix (``rss``).

A sensor answers every order (``order_result``): one that cannot take its snapshot (no snapshot source,
busy, the instant already past, a capture error) says so, and the round marks it failed (``failed`` in
the round's file, with the reason). A round whose sensors still able to answer are fewer than a fix
needs stops waiting at once (it does not sit out ``collect_s``) and its file says why; one whose other
snapshots are all in is solved without waiting for the failed ones.

Rounds are ordered when an alert opens heard by >= 3 capable sensors, or the first time an update
shows it heard by >= 3 (an alert that opened on two sensors); once per alert, more on demand. With
``[tdoa] identity_checks`` also for each identity check the engine asks (licensed traffic heard by >= 4
sensors that the engine takes for its station on the prior more than on the levels): the check's id stands
for the alert id (the snapshots are filed under it); its fix re-judges the cluster, and an alert that opens
then takes the round's file as evidence.

Rounds in flight are held in memory (a restart forgets a round in flight; its snapshots stay as
evidence, and a new one can be ordered through the API). Solving costs 1-3 s of CPU per round (3-6
sensors, 1 s at 240 kS/s), so it runs on one worker thread: the loop hands it a round whose snapshots
are in and, on a later tick, gives the engine the fix it found (a loop blocked for seconds would let
sightings queue and alerts auto-resolve under them). A sensor takes one snapshot at a time: a round
that shares a sensor with an earlier one is placed ``lead_s`` after that sensor's previous capture
ends (two rounds opened together would otherwise ask it for two recordings at once, and it would miss
the second).
"""

from __future__ import annotations

import json
import logging
import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from coordination.alerts import AlertEvent, Position
from coordination.client import ApiError
from coordination.emission_class import target_is_fm
from coordination.evidence import safe_name
from coordination.outlets import SERVER_ID, MessageSeq, Replies
from coordination.protocol import Command, OrderResult, format_utc
from coordination.registry import SensorRegistry
from coordination.sensors import SensorInfo
from coordination.store import Store
from coordination.tdoa import ReferenceBroadcaster, SensorSnapshot, TdoaError, TdoaResult, locate_tdoa
from coordination.tdoa_fusion import FIX_SUFFIX, ProvinceLookup, tdoa_position, with_tdoa
from coordination.tdoa_reference import FM_BAND_HZ, ReferenceChoice, choose_reference
from dsp.multilat import C_M_S
from dsp.tdoa_sigmf import SnapshotFormatError, snapshot_windows
from station_db.models import Station

log = logging.getLogger(__name__)

#: The sensor daemon's capability for the order (sdr/daemon.py CAPABILITIES).
CAPABILITY = "tdoa_snapshot"
#: Snapshots a fix needs (two independent range differences).
MIN_SNAPSHOTS = 3


class TdoaOrderError(ValueError):
    """A round that cannot be ordered (unknown alert, too few capable sensors, no reference)."""


@dataclass(frozen=True)
class TdoaSettings:
    """What a round asks of the sensors (defaults: 240 kS/s, a tenth of a 2.4 MS/s dongle's rate)."""

    lead_s: float = 3.0
    sample_rate_hz: float = 240e3
    ref_s: float = 0.1
    target_s: float = 1.0
    settle_s: float = 0.02
    collect_s: float = 60.0
    max_sensors: int = 6


@dataclass
class _Round:
    round_id: str
    alert_id: str
    t_utc: datetime
    reference: ReferenceChoice
    snapshots: dict[str, str]  # sensor id -> snapshot (command) id
    deadline: datetime
    starts: tuple[tuple[float, float], ...] = ()
    done: bool = False
    #: sensor id -> why its snapshot will not come (its ``order_result``)
    failed: dict[str, str] = field(default_factory=dict)
    #: the sensors' measured class says FM (coordination.emission_class.target_is_fm): its links' pulls are read
    target_fm: bool = False

    def able(self) -> int:
        """Sensors whose snapshot may still come (or has)."""
        return sum(1 for sid in self.snapshots if sid not in self.failed)


StationsSource = Callable[[float, float], Sequence[Station]]
MeasuredLevels = Callable[[Sequence[str]], Mapping[tuple[str, float], float]]


class TdoaOrders:
    """Order, collect, solve and attach TDOA fixes (a part of the server; one loop thread)."""

    def __init__(self, *, store: Store, registry: SensorRegistry, sensors: Replies, seq: MessageSeq,
                 clock: Callable[[], datetime], evidence_root: Path, stations: StationsSource | None,
                 attach: Callable[[str, str], None] | None, settings: TdoaSettings | None = None,
                 measured: MeasuredLevels | None = None, province_lookup: ProvinceLookup | None = None,
                 position_fix: Callable[[str, Position], None] | None = None) -> None:
        """``stations(f_lo_hz, f_hi_hz)``: licensed stations in a band (reference candidates);
        ``attach(alert_id, path)``: give the alert a piece of evidence (the engine's ``add_evidence``, then
        publish); ``position_fix(alert_id, position)``: give the alert the TDOA fix to judge with (the
        engine's ``add_position_fix``, then publish); ``measured(sensor_ids)``: (sensor, frequency) ->
        recently measured SNR."""
        self.store = store
        self.registry = registry
        self.sensors = sensors
        self.seq = seq
        self.clock = clock
        self.root = Path(evidence_root)
        self.stations = stations
        self.attach = attach
        self.position_fix = position_fix
        self.settings = settings or TdoaSettings()
        self.measured = measured
        self.province_lookup = province_lookup
        self.rounds: dict[str, _Round] = {}
        self._n = 0
        self._cache: dict[str, dict[str, Any]] = {}
        self._ordered: set[str] = set()  # alerts that had a round ordered by on_events
        #: sensor id -> when its latest ordered capture ends (a sensor takes one snapshot at a time)
        self._busy_until: dict[str, datetime] = {}
        self._solver: ThreadPoolExecutor | None = None
        self._solving: list[tuple[_Round, Future[tuple[Path, dict[str, Any], Position | None]]]] = []
        #: order results: ``ok``, ``failed.<reason>``, ``unknown`` (no round in flight ordered it from that sensor)
        self.counters: Counter[str] = Counter()
        self.ops = {"tdoa_locate": self.api_locate}

    # ------------------------------------------------------------ ordering

    def capable(self, sensor_ids: Iterable[str]) -> list[SensorInfo]:
        """The sensors among ``sensor_ids`` that are registered and take snapshot orders."""
        out = []
        for sid in sensor_ids:
            st = self.registry.get(sid)
            if st is not None and CAPABILITY in st.record.capabilities:
                r = st.record
                out.append(SensorInfo(r.sensor_id, r.province, r.lat, r.lon, r.height_m))
        return out

    def on_events(self, events: Sequence[AlertEvent]) -> None:
        """An alert heard by >= 3 capable sensors gets a round: when it opens, or at the first update that
        shows it heard by 3 (once per alert; more through the API)."""
        for ev in events:
            alert = ev.alert
            if not alert.active:
                self._ordered.discard(alert.id)
                continue
            if ev.event not in ("opened", "updated") or alert.id in self._ordered:
                continue
            n = len(self.capable(s.sensor_id for s in alert.sensors))
            if n < MIN_SNAPSHOTS:
                if ev.event == "opened":
                    log.info("no TDOA round for %s yet: %d sensors that take snapshot orders heard it, a fix "
                             "needs 3", alert.id, n)
                continue
            self._ordered.add(alert.id)
            try:
                self.order(alert.to_json())
            except TdoaOrderError as exc:
                log.info("no TDOA round for %s: %s", alert.id, exc)

    def on_checks(self, checks: Sequence[Mapping[str, Any]]) -> None:
        """A round for each identity check the engine asks (:meth:`coordination.engine.RulesEngine.identity_checks`:
        licensed traffic taken for its station more on the prior than on the levels). Its fix goes to the engine
        under the check's id; an alert it opens takes the round's file as evidence."""
        for doc in checks:
            try:
                round_id = self.order(doc)
            except TdoaOrderError as exc:
                log.info("no TDOA round to check %s (%s, probability %s): %s", doc.get("id"),
                         doc.get("matched_station"), doc.get("probability"), exc)
                continue
            log.info("TDOA round %s checks whether %s is %s (probability %s)", round_id, doc.get("id"),
                     doc.get("matched_station"), doc.get("probability"))

    def order(self, doc: Mapping[str, Any]) -> str:
        """Order a round for the alert document ``doc``; returns the round id."""
        alert_id = str(doc.get("id"))
        f_hz = float(doc.get("f_center_hz") or 0.0)
        readings = sorted(doc.get("sensors") or [], key=lambda r: -float(r.get("measured_dbm") or -999.0))
        chosen = self.capable(str(r.get("sensor_id")) for r in readings)[: self.settings.max_sensors]
        if len(chosen) < MIN_SNAPSHOTS:
            raise TdoaOrderError(f"{len(chosen)} sensors that take snapshot orders heard it, a fix needs "
                                 f"{MIN_SNAPSHOTS}")
        if not 1e6 <= f_hz <= 7e9:
            raise TdoaOrderError(f"frequency {f_hz!r} Hz out of range")
        if self.stations is None:
            raise TdoaOrderError("no station data to choose a reference broadcaster from")
        now = self.clock()
        measured = self.measured([s.sensor_id for s in chosen]) if self.measured is not None else None
        ref = choose_reference(self.stations(*FM_BAND_HZ), chosen, today=now.date(), measured_snr_db=measured)
        if ref is None:
            raise TdoaOrderError("no licensed FM broadcaster strong enough at every chosen sensor")
        self._n += 1
        round_id = safe_name(f"tdoa-{alert_id}-{self._n}", 48).lstrip("_.-")
        s = self.settings
        lead = timedelta(seconds=s.lead_s)
        t = max([now + lead] + [self._busy_until[c.sensor_id] + lead for c in chosen
                                if c.sensor_id in self._busy_until])
        fs = s.sample_rate_hz
        params = {"t_utc": format_utc(t), "target_hz": f_hz, "ref_hz": ref.station.tx_freq_hz, "sample_rate_hz": fs,
                  "ref_samples": round(s.ref_s * fs), "target_samples": round(s.target_s * fs),
                  "settle_samples": round(s.settle_s * fs), "reference_station": ref.station.station_id,
                  "alert_id": alert_id}
        snaps = {}
        now_iso = format_utc(now)
        for sensor in chosen:
            cid = safe_name(f"{round_id}-{sensor.sensor_id}", 64).lstrip("_.-")
            cmd = Command(SERVER_ID, self.seq.next(), now_iso, command_id=cid, action="tdoa_snapshot", params=params)
            self.store.evidence.order(cid, alert_id, sensor.sensor_id, now_iso)
            if self.sensors.send((self.registry.route(sensor.sensor_id),), cmd.to_frames()):
                snaps[sensor.sensor_id] = cid
                self._busy_until[sensor.sensor_id] = t + timedelta(
                    seconds=2 * s.ref_s + s.target_s + 2 * s.settle_s)
            else:
                log.warning("snapshot order to %s not sent", sensor.sensor_id)
        self.store.commit()
        pos = doc.get("position") or {}
        starts = ((float(pos["lat"]), float(pos["lon"])),) if "lat" in pos and "lon" in pos else ()
        fm = target_fm_of(doc)
        self.rounds[round_id] = _Round(round_id, alert_id, t, ref, snaps,
                                       deadline=t + timedelta(seconds=s.collect_s), starts=starts, target_fm=fm)
        log.info("TDOA round %s for %s: %d sensors at %s, reference %s (worst SNR %.0f dB)%s", round_id, alert_id,
                 len(snaps), params["t_utc"], ref.station.station_id, ref.worst_snr_db,
                 ", an FM target by its measured class" if fm else "")
        return round_id

    def api_locate(self, args: Mapping[str, Any]) -> tuple[Any, tuple[np.ndarray, ...]]:
        """API op ``tdoa_locate`` {id}: order a round for an alert now."""
        alert_id = args.get("id")
        if not isinstance(alert_id, str) or not alert_id or len(alert_id) > 128:
            raise ApiError("tdoa_locate needs 'id', an alert id")
        doc = self.store.alerts.alert_json(alert_id)
        if doc is None:
            raise ApiError(f"no alert with id {alert_id!r}")
        try:
            rid = self.order(doc)
        except TdoaOrderError as exc:
            raise ApiError(f"no TDOA round for {alert_id}: {exc}") from exc
        r = self.rounds[rid]
        return {"round": rid, "t_utc": format_utc(r.t_utc), "sensors": sorted(r.snapshots),
                "reference_station": r.reference.station.station_id}, ()

    # ------------------------------------------------------------ collecting and solving

    def order_result(self, msg: OrderResult) -> None:
        """A sensor's answer to its snapshot order: a failure marks it failed in its round (the intake's port)."""
        r = next((r for r in self.rounds.values() if r.snapshots.get(msg.sensor_id) == msg.command_id), None)
        if r is None:  # a round already over, forgotten by a restart, or not ours to take from that sensor
            self.counters["unknown"] += 1
            log.info("order result for %s from %s: no round in flight ordered it", msg.command_id, msg.sensor_id)
            return
        if msg.ok:
            self.counters["ok"] += 1
            return
        self.counters[f"failed.{msg.reason}"] += 1
        r.failed[msg.sensor_id] = f"{msg.reason}: {msg.detail}" if msg.detail else msg.reason
        log.info("TDOA round %s: %s cannot take its snapshot (%s); %d of %d sensors left, a fix needs %d",
                 r.round_id, msg.sensor_id, r.failed[msg.sensor_id], r.able(), len(r.snapshots), MIN_SNAPSHOTS)

    def tick(self, now: datetime) -> None:
        """Hand the solver the rounds whose snapshots are in (all that can come, or >= 3 once the collection
        time is over); end at once a round left with too few sensors; give the engine the fixes found since
        the last tick."""
        for r in list(self.rounds.values()):
            if r.done:
                continue
            if r.able() < MIN_SNAPSHOTS:
                r.done = True
                del self.rounds[r.round_id]
                self._give_up(r)
                continue
            paths = {e["capture_id"]: e["path"] for e in self.store.evidence.for_alert(r.alert_id) if e["path"]}
            got = {sid: paths[cid] for sid, cid in r.snapshots.items() if cid in paths}
            if len(got) < r.able() and now < r.deadline:
                continue
            r.done = True
            del self.rounds[r.round_id]
            sites = {}  # the registry is the loop's: read it here, not on the solver's thread
            for sid in got:
                st = self.registry.get(sid)
                if st is not None:
                    sites[sid] = (st.record.lat, st.record.lon, st.record.height_m)
            if self._solver is None:
                self._solver = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tdoa-solver")
            self._solving.append((r, self._solver.submit(self._solve, r, got, sites)))
        self.apply_solved()

    def apply_solved(self, wait_s: float | None = None) -> None:
        """Give the engine the fixes of the finished rounds (the loop's thread); ``wait_s``: wait that long
        for the ones still being solved (tests, shutdown)."""
        pending = []
        for r, fut in self._solving:
            if wait_s is not None and not fut.done():
                try:
                    fut.exception(timeout=wait_s)
                except TimeoutError:
                    pass
            if not fut.done():
                pending.append((r, fut))
                continue
            try:
                fix_path, out, fix = fut.result()
            except Exception:  # a solver bug loses this round, never the server
                log.exception("TDOA round %s: solving failed", r.round_id)
                continue
            self._cache[str(fix_path)] = out
            if fix is not None and self.position_fix is not None:
                self.position_fix(r.alert_id, fix)  # the engine re-judges with it before the file is attached
            if self.attach is not None:
                self.attach(r.alert_id, str(fix_path))
        self._solving = pending

    def _give_up(self, r: _Round) -> None:
        """End a round that too few sensors can still answer: its file says which failed and why, and goes to
        the alert's evidence (the alert keeps its level fix)."""
        why = (f"{len(r.failed)} of {len(r.snapshots)} sensors cannot take their snapshot, "
               f"{r.able()} left and a fix needs {MIN_SNAPSHOTS}")
        out = self._file_head(r) | {"error": why}
        log.info("TDOA round %s for %s ended early: %s (%s)", r.round_id, r.alert_id, why,
                 "; ".join(f"{sid}: {reason}" for sid, reason in sorted(r.failed.items())))
        fix_path = self._fix_path(r)
        fix_path.parent.mkdir(parents=True, exist_ok=True)
        fix_path.write_text(json.dumps(out, allow_nan=False))
        self._cache[str(fix_path)] = out
        if self.attach is not None:
            self.attach(r.alert_id, str(fix_path))

    @staticmethod
    def _file_head(r: _Round) -> dict[str, Any]:
        """What every round file says first: the round, its alert and reference, the sensors that failed."""
        return {"round": r.round_id, "alert_id": r.alert_id, "t_utc": format_utc(r.t_utc),
                "reference_station": r.reference.station.station_id,
                "reference_freq_hz": r.reference.station.tx_freq_hz, "target_fm": r.target_fm, "sensors": [],
                "failed": [{"sensor_id": sid, "reason": why} for sid, why in sorted(r.failed.items())]}

    def _fix_path(self, r: _Round) -> Path:
        return self.root / safe_name(r.alert_id, 64) / f"{r.round_id}{FIX_SUFFIX}"

    def close(self) -> None:
        """Stop the solver (a round being solved finishes; its fix is not applied)."""
        if self._solver is not None:
            self._solver.shutdown(wait=True, cancel_futures=True)
            self._solver = None

    def _solve(self, r: _Round, got: Mapping[str, str],
               sites: Mapping[str, tuple[float, float, float]]) -> tuple[Path, dict[str, Any], Position | None]:
        """Read the snapshots, solve, write the fix file (the solver's thread: no store, registry or engine)."""
        out = self._file_head(r)
        snaps = []
        for sid, path in sorted(got.items()):
            if sid not in sites:
                continue
            try:
                meta = json.loads(Path(path).read_text())
                iq = np.fromfile(Path(path).with_suffix(".sigmf-data"), dtype="<c8")
                win, _ = snapshot_windows(meta, iq)
            except (OSError, ValueError, SnapshotFormatError) as exc:
                log.warning("TDOA round %s: snapshot of %s unreadable: %s", r.round_id, sid, exc)
                continue
            lat, lon, height_m = sites[sid]
            snaps.append(SensorSnapshot(sid, lat, lon, height_m, win))
            out["sensors"].append({"sensor_id": sid, "lat": lat, "lon": lon, "height_m": height_m})
        ref = r.reference.station
        fix: Position | None = None
        try:
            res = locate_tdoa(snaps, ReferenceBroadcaster(ref.station_id, ref.lat, ref.lon,
                                                          ref.antenna_height_m + ref.ground_height_m, ref.tx_freq_hz),
                              starts_latlon=r.starts, target_fm=r.target_fm)
            out.update(fix_detail(res, self.province_lookup))
            fix = tdoa_position(res, self.province_lookup)
        except TdoaError as exc:
            out["error"] = str(exc)
            log.info("TDOA round %s: no fix: %s", r.round_id, exc)
        fix_path = self._fix_path(r)
        fix_path.parent.mkdir(parents=True, exist_ok=True)
        fix_path.write_text(json.dumps(out, allow_nan=False))
        return fix_path, out, fix

    # ------------------------------------------------------------ the alert document

    def decorate(self, doc: dict[str, Any]) -> dict[str, Any]:
        """The alert's newest TDOA fix as ``tdoa`` (outbox decorator); its position is the engine's when the
        engine judged with the fix, else fused here for display."""
        return with_tdoa(doc, self._cache, self.province_lookup)


def target_fm_of(doc: Mapping[str, Any]) -> bool:
    """Whether an alert document's sensors measured an FM emission (:func:`coordination.emission_class.target_is_fm`
    over its ``sensors[]``' ``emission_class`` / ``class_confidence``; never from the band)."""
    sights = [(r.get("emission_class"), r.get("class_confidence")) for r in doc.get("sensors") or []
              if isinstance(r, Mapping)]
    return target_is_fm(sights)


def fix_detail(res: TdoaResult, lookup: ProvinceLookup | None = None) -> dict[str, Any]:
    """What a fix file says: the TDOA position, the pair reference, each pair's range difference and
    sigma (m; sensor i's path minus the reference sensor's: the hyperbola), the pairs dropped and why."""
    return {
        "position": tdoa_position(res, lookup).to_json(),
        "reference_sensor": res.reference_sensor,
        "pairs": [{"sensor_id": sid, "range_diff_m": round(p.tdoa_s * C_M_S, 2),
                   "sigma_m": round(p.sigma_s * C_M_S, 2)} for sid, p in res.pairs if math.isfinite(p.tdoa_s)],
        "dropped": [{"sensor_id": sid, "reason": why} for sid, why in res.dropped],
    }

