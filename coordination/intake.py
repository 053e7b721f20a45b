"""The intake: sensor messages from the ROUTER socket to storage, the rules engine and acks.

One drained batch at a time (:meth:`Intake.handle_batch`): validate every message (rejections
counted per reason and peer, :mod:`coordination.ingest`), register Hellos (the sensor registry),
drop duplicates by ``(sensor_id, seq)`` (acked again, stored once); then in two steps, each ending
in one storage commit and only then the acks:

1. summaries (emissions, occupancy, health, evidence chunks) to the store; each stored Emissions
   message then goes to the rules engine (and, for a federated border sensor, to the peer centres),
   filed without judging (the server runs the due full judgements between loop turns); a
   provisional alert it returns goes to the outbox at once, so alerts never wait for the spectrum
   archive nor for the rest of the batch; a stored OrderResult (a sensor saying what became of an
   order) goes to the part that ordered it (the TDOA rounds);
2. spectra are staged for the HDF5 archive (published on ``spectrum.<sensor_id>`` at once) and
   written when their file is due (:meth:`Intake.flush_spectra`); their ledger entries are
   committed after the write, then acked.

An ack never precedes the commit of what it acknowledges; a message that failed to store is not
acked, so the sensor's spool sends it again. Runs in the server loop thread only.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from coordination.alerts import AlertEvent
from coordination.archive import LayoutLimitError, SpectrumArchive
from coordination.config import ServerConfig
from coordination.counters import Counters, Faults
from coordination.evidence import EvidenceAssembler, EvidenceQuotaError
from coordination.ingest import Inbound, RejectionCounter, Validator, peer_label
from coordination.outlets import SERVER_ID, MessageSeq, Publish, Replies
from coordination.ports import AlertEngine, HandleEvents
from coordination.protocol import (
    Ack,
    Emissions,
    Evidence,
    Heartbeat,
    Hello,
    Occupancy,
    OrderResult,
    Spectrum,
    format_utc,
    identity_sensor,
    parse_utc,
)
from coordination.registry import SensorRegistry
from coordination.sensors import SensorInfo, SweepCoverage
from coordination.store import StorageError, Store

log = logging.getLogger(__name__)

#: Archive files written per loop iteration at most: bounded work, so sensor batches (and alerts)
#: interleave with a burst of due files instead of waiting behind all of them.
ARCHIVE_FILES_PER_ITERATION = 8
#: Seqs per Ack message (an Ack's header stays far below the protocol's header limit).
MAX_SEQS_PER_ACK = 10_000

#: Push one stored Emissions message of a border sensor to the peer centres (federation).
Forward = Callable[[SensorInfo, Sequence[bytes]], None]
#: A sensor's answer to an order, to the part that sent the order (the TDOA rounds).
OrderResults = Callable[[OrderResult], None]


class Intake:
    """Validate, dedupe, store, stage and flush spectra, ack; feed stored emissions to the engine."""

    def __init__(self, *, config: ServerConfig, store: Store, archive: SpectrumArchive, evidence: EvidenceAssembler,
                 registry: SensorRegistry, validator: Validator, rejections: RejectionCounter, counters: Counters,
                 faults: Faults, replies: Replies, publisher: Publish, seq: MessageSeq,
                 clock: Callable[[], datetime], engine: AlertEngine | None, handle_events: HandleEvents,
                 forward: Forward | None = None, order_results: OrderResults | None = None) -> None:
        self.config = config
        self.store = store
        self.archive = archive
        self.evidence = evidence
        self.registry = registry
        self.validator = validator
        self.rejections = rejections
        self.counters = counters
        self.faults = faults
        self.replies = replies
        self.publisher = publisher
        self.seq = seq
        self.clock = clock
        self.engine = engine
        self.handle_events = handle_events
        self.forward = forward
        self.order_results = order_results
        #: The newest spectrum per (sensor_id, profile), for the API's ``spectrum`` op.
        self.latest_spectra: dict[tuple[str, str], Spectrum] = {}
        self._staged: dict[tuple[str, int], Inbound] = {}  # spectra waiting for the archive
        self._evidence_done: list[tuple[str, str]] = []

    @property
    def staged(self) -> int:
        """Spectra received and published but not yet written to the archive (nor acked)."""
        return len(self._staged)

    # ------------------------------------------------------------ one batch

    def handle_batch(self, raws: Sequence[Sequence[bytes]]) -> None:
        """Handle one drained batch of raw ROUTER messages (see module docstring)."""
        now = self.clock()
        now_iso = format_utc(now)
        inbound: list[Inbound] = []
        per_sensor: Counter[bytes] = Counter()
        for raw in raws:
            # bounded work per sensor and turn, before any decoding: the rest is not acked and comes again
            who = identity_sensor(bytes(raw[0])) if raw else b""
            per_sensor[who] += 1
            if per_sensor[who] > self.config.max_per_sensor:
                self.rejections.count(peer_label(bytes(raw[0])), "fair_share",
                                      f"more than {self.config.max_per_sensor} messages in one turn")
                continue
            try:
                ib = self.validator.validate(raw)
            except Exception:
                self.faults.internal("validate")
                continue
            if ib is not None:
                inbound.append(ib)
        if not inbound:
            return
        hellos = [ib for ib in inbound if isinstance(ib.msg, Hello)]
        if hellos:
            self.registry.handle_hellos(hellos, now, now_iso)
        acks: dict[bytes, list[int]] = {}
        fresh = self.dedupe([ib for ib in inbound if not isinstance(ib.msg, Hello)], acks, now)
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
        self.flush_spectra(force=False)

    def dedupe(self, inbound: Sequence[Inbound], acks: dict[bytes, list[int]], now: datetime) -> list[Inbound]:
        """Drop unknown senders (counted) and duplicates (acked again through ``acks``, or when still
        waiting for the archive acked once written); return the new messages in order."""
        by_sensor: dict[str, list[int]] = {}
        known_ok: list[Inbound] = []
        for ib in inbound:
            sid = ib.msg.sensor_id
            if sid not in self.registry:
                self.rejections.count(peer_label(ib.identity), "unknown_sensor",
                                      f"{type(ib.msg).__name__} from {sid!r} before any Hello")
                continue
            by_sensor.setdefault(sid, []).append(ib.msg.seq)
            known_ok.append(ib)
            self.registry.seen(sid, now, ib.identity)
        # the idempotence key is (sensor, spool epoch, seq): a sensor's messages belong to the epoch of its Hello
        seen = {sid: self.store.ledger.known_seqs(sid, seqs, self.registry.epoch(sid))
                for sid, seqs in by_sensor.items()}
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

    # ------------------------------------------------------------ summaries

    def _store_batch(self, fresh: Sequence[Inbound], now_iso: str) -> list[Inbound]:
        """Store a batch of summaries in one transaction. Return what is durably stored."""
        store = self.store
        stored: list[Inbound] = []
        store.begin()
        for ib in fresh:
            m = ib.msg
            store.savepoint()
            try:
                if isinstance(m, Emissions):
                    store.summaries.insert_emissions(m)
                elif isinstance(m, Occupancy):
                    store.summaries.insert_occupancy(m, self.registry.epoch(m.sensor_id))
                elif isinstance(m, Heartbeat):
                    store.sensors.set_health(m.sensor_id, m.seq, m.t_utc, m.health,
                                             self.registry.epoch(m.sensor_id))
                elif isinstance(m, Evidence):
                    self._store_evidence(m)
            except EvidenceQuotaError as exc:  # over a quota: not stored, not acked, counted
                store.rollback_savepoint()
                self.rejections.count(peer_label(ib.identity), exc.reason, str(exc))
            except OSError as exc:
                store.rollback_savepoint()
                self.faults.storage(type(m).__name__.lower(), f"{m.sensor_id} seq {m.seq}: {exc}")
            except Exception:
                store.rollback_savepoint()
                self.faults.internal(f"store_{type(m).__name__.lower()}")
            else:
                store.release_savepoint()
                stored.append(ib)
        if not stored:
            store.rollback()
            return []
        return stored if self._commit_stored(stored, now_iso) else []

    def _commit_stored(self, stored: Sequence[Inbound], now_iso: str) -> bool:
        """Put stored messages in the ledger and commit; False (counted, logged) when that fails."""
        store = self.store
        failures: tuple[type[BaseException], ...] = (StorageError, OSError, sqlite3.Error, *store.errors)
        try:
            store.ledger.mark_received([(ib.msg.sensor_id, ib.msg.seq, type(ib.msg).TYPE.decode(), ib.msg.t_utc)
                                        for ib in stored],
                                       {sid: self.registry.epoch(sid) for sid in {ib.msg.sensor_id for ib in stored}})
            last: dict[str, tuple[str, int | None, str | None, str]] = {}
            for ib in stored:
                m = ib.msg
                prof = getattr(m, "profile", None) or None
                prev = last.get(m.sensor_id)
                last[m.sensor_id] = (m.sensor_id, max(m.seq, prev[1] or 0) if prev else m.seq,
                                     prof or (prev[2] if prev else None), now_iso)
            store.sensors.touch(last.values())
            store.commit()
        except failures as exc:
            store.rollback()
            self.faults.storage("sqlite", str(exc), len(stored))
            return False
        for ib in stored:
            self.counters.stored[type(ib.msg).TYPE.decode()] += 1
        return True

    def _store_evidence(self, ev: Evidence) -> None:
        """File an IQ evidence chunk with the alert it was ordered for; note completed recordings."""
        order = self.store.evidence.order_of(ev.capture_id)
        alert_id = order[0] if order and order[1] == ev.sensor_id else None
        st = self.registry.sensors[ev.sensor_id]
        extra = {"province": st.record.province, "lat": st.record.lat, "lon": st.record.lon}
        path = self.evidence.add_chunk(ev, alert_id, extra)
        if path is not None and order is not None:
            self.store.evidence.complete(ev.capture_id, str(path))
            if alert_id is not None:
                self._evidence_done.append((alert_id, str(path)))

    def _send_acks(self, acks: Mapping[bytes, list[int]], now_iso: str) -> None:
        for identity, seqs in acks.items():
            for i in range(0, len(seqs), MAX_SEQS_PER_ACK):
                msg = Ack(SERVER_ID, self.seq.next(), now_iso, acked=tuple(seqs[i:i + MAX_SEQS_PER_ACK]))
                # Not sent (peer gone, HWM): the sensor resends, and the duplicate is acked then.
                self.replies.send((identity,), msg.to_frames())

    def coverage_of(self, profile: str) -> SweepCoverage | None:
        """What a sweep of the named profile covered (its silences are evidence for the engine); None for
        a profile the server did not hand out (a campaign's, an unnamed one)."""
        for p in self.registry.profiles:
            if p.name == profile:
                return SweepCoverage(p.f_start_hz, p.f_stop_hz, p.bin_hz)
        return None

    def _after_store(self, stored: Sequence[Inbound], now: datetime) -> None:
        """Stored summaries to the registry (health, profile), the rules engine and the peer centres."""
        events: list[AlertEvent] = []
        for ib in stored:
            m = ib.msg
            st = self.registry.get(m.sensor_id)
            if st is None:
                continue
            if isinstance(m, Heartbeat):
                self.registry.note_heartbeat(st, dict(m.health), now)
            elif isinstance(m, OrderResult):
                if self.order_results is not None:
                    self.faults.guard("order_result", self.order_results, m)
            elif isinstance(m, Emissions):
                if m.profile:
                    st.last_profile = m.profile
                if self.engine is not None:
                    try:
                        # Filed only: the due full judgements run between loop turns (Server), one at a
                        # time, so a first sight later in this batch never waits behind them.
                        first = self.engine.observe(st.info, parse_utc(m.t_utc), m.emissions, m.noise_floor_dbm,
                                                    m.antenna_factor_db_m, coverage=self.coverage_of(m.profile),
                                                    judge=False) or ()
                    except Exception:
                        self.faults.internal("engine_observe")
                    else:
                        if first:  # provisional alerts (first sight in a safety band): out now, not after the batch
                            self.handle_events(list(first))
                if self.forward is not None:
                    self.faults.guard("federation_forward", self.forward, st.info, ib.frames)
            if st.status != "live":
                self.registry.publish_status(st, now)
        if self.engine is not None and stored:
            for alert_id, path in self._evidence_done:
                try:
                    events.append(self.engine.add_evidence(alert_id, path))
                except (KeyError, ValueError) as exc:  # alert gone meanwhile: the file stays beside it
                    log.info("evidence %s not attached to alert %s: %s", path, alert_id, exc)
                except Exception:
                    self.faults.internal("engine_evidence")
        self._evidence_done.clear()
        if events:
            self.handle_events(events)

    # ------------------------------------------------------------ spectra

    def _stage_spectra(self, spectra: Sequence[Inbound]) -> None:
        """Queue new spectra for the archive; the live view gets them now."""
        now_mono = time.monotonic()
        for ib in spectra:
            m = ib.msg
            assert isinstance(m, Spectrum)
            try:
                st = self.registry.sensors[m.sensor_id]
                self.archive.stage(st.meta, m, now_mono)
            except LayoutLimitError as exc:  # refused, not acked: it stays in the sensor's spool
                self.rejections.count(peer_label(ib.identity), exc.reason, str(exc))
                continue
            except Exception:
                self.faults.internal("stage_spectrum")
                continue
            self._staged[(m.sensor_id, m.seq)] = ib
            st.last_profile = m.profile
            self.latest_spectra[(m.sensor_id, m.profile)] = m
            if self.config.publish_spectra:
                self.publisher.publish(f"spectrum.{m.sensor_id}", ib.frames)

    def flush_spectra(self, force: bool) -> None:
        """Write the archive files that are due (all with ``force``), commit their ledger, ack."""
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
            self.faults.storage("hdf5", f"{m.sensor_id} seq {m.seq}: {text}")
        if not written:
            return
        stored = [self._staged.pop((m.sensor_id, m.seq)) for m in written]
        now_iso = format_utc(self.clock())
        if not self._commit_stored(stored, now_iso):
            self.archive.undo_last_flush()  # not in the ledger, so it will come again: no double rows
            return
        acks: dict[bytes, list[int]] = {}
        for ib in stored:
            # written a while after it arrived: ack only if that connection is still the sensor's (it
            # reconnected meanwhile: the resend is acked as a duplicate on the new connection)
            if self.registry.is_route(ib.msg.sensor_id, ib.identity):
                acks.setdefault(ib.identity, []).append(ib.msg.seq)
        self._send_acks(acks, now_iso)  # at shutdown the sensors socket is closed: written and recorded only
