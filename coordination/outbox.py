"""The alert outbox: every alert event is persisted, then published, then followed by evidence orders.

Order matters: an event is saved (and committed) before it is published, so a subscriber never
hears of an alert the API cannot show. A published alert document carries the IQ evidence
recordings the server holds for it (:meth:`AlertOutbox.decorate`). For a newly opened alert, each
sensor that saw its emission and can record IQ is ordered a capture (``capture_iq`` Command on the
sensors socket); the order is kept in the store so the recording, when it arrives, is filed with
its alert.

A federated centre filters what it publishes itself (``publishable``: linked or foreign alerts are
published by their owner); other centres' alerts reach our subscribers through
:meth:`AlertOutbox.publish_doc`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from coordination.alerts import AlertEvent, AlertStore
from coordination.config import ServerConfig
from coordination.counters import Counters, Faults
from coordination.evidence import capture_id_for
from coordination.outlets import SERVER_ID, MessageSeq, Publish, Replies
from coordination.protocol import AlertMsg, Command, format_utc
from coordination.registry import SensorRegistry, can_capture_iq
from coordination.store import StorageError, Store

log = logging.getLogger(__name__)

#: Plausible centre frequencies for an IQ capture order (an RTL-SDR's range, with margin).
CAPTURE_F_MIN_HZ, CAPTURE_F_MAX_HZ = 1e6, 7e9

PublishFilter = Callable[[Sequence[AlertEvent]], list[AlertEvent]]


class AlertOutbox:
    """Persist, decorate and publish alert events; order IQ evidence for newly opened alerts."""

    def __init__(self, *, config: ServerConfig, alert_store: AlertStore, store: Store, registry: SensorRegistry,
                 publisher: Publish, sensors: Replies, seq: MessageSeq, clock: Callable[[], datetime],
                 counters: Counters, faults: Faults, publishable: PublishFilter | None = None) -> None:
        self.config = config
        self.alert_store = alert_store
        self.store = store
        self.registry = registry
        self.publisher = publisher
        self.sensors = sensors
        self.seq = seq
        self.clock = clock
        self.counters = counters
        self.faults = faults
        self.publishable = publishable
        self._captures_ordered: dict[str, int] = {}
        #: Further decorations of an alert document, in order (the TDOA part's fused position); the API's
        #: answers and the published alerts both go through :meth:`decorate`.
        self.decorators: list[Callable[[dict[str, Any]], dict[str, Any]]] = []

    def handle_events(self, events: Iterable[AlertEvent]) -> list[AlertEvent]:
        """Persist and publish engine events; order IQ evidence for newly opened alerts.

        Returns the events published here: this centre's own standing alerts (in a federation, an
        alert linked to another centre's is saved but neither published nor returned)."""
        events = list(events)
        for ev in events:
            try:
                self.alert_store.save(ev.alert)
            except Exception:
                self.faults.internal("alert_save")
        try:
            self.store.commit()
        except StorageError as exc:
            self.faults.storage("alerts", str(exc), len(events))
        if self.publishable is not None:  # linked to another centre's alert, or not ours: not published here
            events = self.publishable(events)
        now_iso = format_utc(self.clock())
        for ev in events:
            try:
                doc = self.decorate(ev.to_json())
                frames = AlertMsg(SERVER_ID, self.seq.next(), now_iso, alert=doc).to_frames()
                for topic in ev.topics():
                    self.publisher.publish(topic, frames)
                self.counters.alert_events[ev.event] += 1
                if ev.event == "opened" and self.config.evidence_capture:
                    self._order_evidence(doc, now_iso)
            except Exception:
                self.faults.internal("alert_publish")
        try:
            self.store.commit()
        except StorageError as exc:
            self.faults.storage("evidence_orders", str(exc))
        return events

    def publish_doc(self, doc: dict[str, Any], topics: Sequence[str]) -> None:
        """Publish an alert document written elsewhere (another federated centre) on our PUB socket."""
        doc = self.decorate(doc)
        frames = AlertMsg(SERVER_ID, self.seq.next(), format_utc(self.clock()), alert=doc).to_frames()
        for topic in topics:
            self.publisher.publish(topic, frames)

    def decorate(self, doc: dict[str, Any]) -> dict[str, Any]:
        """Add the completed IQ evidence recordings the server holds for this alert."""
        paths = [e["path"] for e in self.store.evidence.for_alert(str(doc.get("id"))) if e["path"]]
        if paths:
            doc["evidence"] = list(dict.fromkeys([*(doc.get("evidence") or []), *paths]))
        for fn in self.decorators:
            try:
                doc = fn(doc)
            except Exception:  # a decoration that fails leaves the document as the engine wrote it
                self.faults.internal("alert_decorate")
        return doc

    def alert_provinces(self, alert_id: str) -> tuple[str, ...] | None:
        """Provinces an alert involves (source, affected, notified); None when there is no such alert.
        The security policy asks this to scope province-limited subscribers."""
        try:
            alert = self.alert_store.get(alert_id)
        except Exception:
            return None
        if alert is None:
            return None
        return tuple({*alert.provinces, *alert.notify_provinces})

    def _order_evidence(self, doc: Mapping[str, Any], now_iso: str) -> None:
        """Order an IQ capture from each sensor that saw the alert's emission and can capture."""
        alert_id = str(doc["id"])
        f_center = float(doc.get("f_center_hz") or 0.0)
        if not CAPTURE_F_MIN_HZ <= f_center <= CAPTURE_F_MAX_HZ:
            return
        bw = float(doc.get("bandwidth_hz") or 0.0)  # the sensor annotates the emission in its SigMF file
        emission = {"center_hz": f_center, "f_lo_hz": f_center - bw / 2, "f_hi_hz": f_center + bw / 2}
        for reading in doc.get("sensors") or []:
            sid = reading.get("sensor_id")
            st = self.registry.get(sid) if isinstance(sid, str) else None
            if st is None or not can_capture_iq(st.record.capabilities):
                continue
            n = self._captures_ordered[alert_id] = self._captures_ordered.get(alert_id, 0) + 1
            cid = capture_id_for(alert_id, st.record.sensor_id, n)
            cmd = Command(SERVER_ID, self.seq.next(), now_iso, command_id=cid, action="capture_iq",
                          params={"duration_s": self.config.evidence_duration_s, "center_hz": f_center,
                                  "sample_rate_hz": self.config.evidence_sample_rate_hz, "alert_id": alert_id,
                                  "emission": emission})
            self.store.evidence.order(cid, alert_id, st.record.sensor_id, now_iso)
            if not self.sensors.send((self.registry.route(st.record.sensor_id),), cmd.to_frames()):
                log.warning("capture order to %s not sent", st.record.sensor_id)
