"""The server's parts through their interfaces, without sockets: intake, sensor registry, alert outbox.

Real SQLite and HDF5 in tmp dirs; the sockets are replaced by recording outlets, so each test sees
exactly which acks, replies and publications a part produced.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path

import pytest
from server_testkit import (
    T0,
    TEST_PROFILE,
    Clock,
    FakeEngine,
    emission,
    loopback_config,
    make_alert,
    power_row,
)

from coordination.alerts import Alert, AlertEvent
from coordination.archive import SpectrumArchive
from coordination.counters import Counters, Faults
from coordination.evidence import EvidenceAssembler
from coordination.ingest import SENSOR_TYPES, RejectionCounter, Validator
from coordination.intake import Intake
from coordination.outbox import AlertOutbox
from coordination.outlets import MessageSeq
from coordination.protocol import (
    Ack,
    AlertMsg,
    Emissions,
    Heartbeat,
    Hello,
    Message,
    ProfileMsg,
    Spectrum,
    decode,
    format_utc,
)
from coordination.registry import SensorRegistry
from coordination.store import DatabaseAlertStore, Store


@dataclass
class Recorder:
    """Stands in for a ROUTER socket's replies and the PUB socket: keeps what was sent."""

    sent: list[tuple[bytes, Message]] = field(default_factory=list)
    published: list[tuple[str, Message]] = field(default_factory=list)

    def send(self, envelope: Sequence[bytes], frames: Sequence[bytes]) -> bool:
        self.sent.append((bytes(envelope[0]), decode(list(frames))))
        return True

    def publish(self, topic: str, frames: Sequence[bytes]) -> bool:
        self.published.append((topic, decode(list(frames))))
        return True

    def acked(self, identity: bytes = b"js-01") -> list[int]:
        return [s for who, m in self.sent if who == identity and isinstance(m, Ack) for s in m.acked]


@dataclass
class Parts:
    store: Store
    archive: SpectrumArchive
    registry: SensorRegistry
    intake: Intake
    outbox: AlertOutbox
    counters: Counters
    rejections: RejectionCounter
    out: Recorder
    engine: FakeEngine
    clock: Clock


@pytest.fixture
def parts(tmp_path: Path):
    cfg = loopback_config(tmp_path)
    clock = Clock()
    out = Recorder()
    store = Store(tmp_path / "server.db")
    archive = SpectrumArchive(tmp_path / "spectra")
    counters, rejections, seq = Counters(), RejectionCounter(), MessageSeq(1)
    faults = Faults(counters, store.rollback)
    registry = SensorRegistry(config=cfg, store=store, profiles=(TEST_PROFILE,), clock=clock, replies=out,
                              publisher=out, seq=seq, rejections=rejections, faults=faults)
    alert_store = DatabaseAlertStore(store.alerts, Alert.from_json)
    engine = FakeEngine(alert_store)
    outbox = AlertOutbox(config=cfg, alert_store=alert_store, store=store, registry=registry, publisher=out,
                         sensors=out, seq=seq, clock=clock, counters=counters, faults=faults)
    intake = Intake(config=cfg, store=store, archive=archive, evidence=EvidenceAssembler(tmp_path / "evidence"),
                    registry=registry, validator=Validator(SENSOR_TYPES, rejections, check_identity=True),
                    rejections=rejections, counters=counters, faults=faults, replies=out, publisher=out, seq=seq,
                    clock=clock, engine=engine, handle_events=outbox.handle_events)
    yield Parts(store, archive, registry, intake, outbox, counters, rejections, out, engine, clock)
    archive.close()
    store.close()


def raw(msg: Message, identity: bytes = b"js-01") -> list[bytes]:
    return [identity, *msg.to_frames()]


def hello(seq: int = 0) -> Hello:
    return Hello("js-01", seq, format_utc(T0), province="JS", lat=31.3, lon=120.6, capabilities=("capture_iq",))


def emissions(seq: int) -> Emissions:
    return Emissions("js-01", seq, format_utc(T0 + timedelta(seconds=seq)), profile="pmr446", noise_floor_dbm=-112.0,
                     antenna_factor_db_m=2.0, emissions=(emission(446.05e6, -80.0),))


def spectrum(seq: int) -> Spectrum:
    return Spectrum("js-01", seq, format_utc(T0 + timedelta(seconds=seq)), profile="pmr446", f_start_hz=446.0e6,
                    f_step_hz=3125.0, power_dbm=power_row(seq), noise_floor_dbm=-112.0, threshold_dbm=-106.0,
                    antenna_factor_db_m=2.0)


def test_intake_hello_registers_and_answers_profiles_then_ack(parts: Parts) -> None:
    parts.intake.handle_batch([raw(hello())])
    assert "js-01" in parts.registry and parts.registry.sensors["js-01"].status == "live"
    kinds = [type(m) for who, m in parts.out.sent if who == b"js-01"]
    assert kinds == [ProfileMsg, Ack]
    assert parts.out.acked() == [0]
    assert [t for t, _ in parts.out.published] == ["sensor.js-01"]


def test_intake_stores_a_resent_message_once_and_acks_it_twice(parts: Parts) -> None:
    parts.intake.handle_batch([raw(hello())])
    parts.intake.handle_batch([raw(emissions(1)), raw(emissions(2)), raw(emissions(1))])  # a resend in the batch
    parts.intake.handle_batch([raw(emissions(2))])  # and one after the commit
    assert parts.store.ledger.count_received("js-01", "emissions") == 2
    assert parts.counters.duplicates == 2
    assert sorted(parts.out.acked()) == [0, 1, 1, 2, 2]
    assert [sid for sid, _t, n in parts.engine.observed] == ["js-01", "js-01"]  # the engine saw each once


def test_intake_counts_a_sender_without_hello_and_stores_nothing(parts: Parts) -> None:
    parts.intake.handle_batch([raw(emissions(1))])
    assert parts.rejections.by_reason["unknown_sensor"] == 1
    assert parts.store.ledger.count_received("js-01") == 0 and parts.out.acked() == []


def test_intake_acks_a_spectrum_only_once_the_archive_has_written_it(parts: Parts) -> None:
    parts.intake.handle_batch([raw(hello())])
    parts.intake.config = replace(parts.intake.config, archive_max_delay_s=60.0, archive_max_rows=100)  # hold
    parts.intake.handle_batch([raw(spectrum(5)), raw(spectrum(6))])
    assert parts.intake.staged == 2 and parts.out.acked() == [0]
    assert [t for t, _ in parts.out.published].count("spectrum.js-01") == 2  # the live view does not wait
    parts.intake.handle_batch([raw(spectrum(5))])  # resent while staged: not staged twice, not acked yet
    assert parts.intake.staged == 2 and parts.counters.duplicates == 1
    parts.intake.flush_spectra(force=True)
    assert parts.intake.staged == 0
    assert sorted(parts.out.acked()) == [0, 5, 6]
    assert parts.store.ledger.count_received("js-01", "spectrum") == 2


def test_registry_status_goes_late_then_down_against_the_revisit_time(parts: Parts) -> None:
    parts.intake.handle_batch([raw(hello())])
    st = parts.registry.sensors["js-01"]
    revisit = TEST_PROFILE.revisit_s
    cfg = parts.registry.config
    assert parts.registry.status(st, T0 + timedelta(seconds=cfg.late_factor * revisit)) == "live"
    assert parts.registry.status(st, T0 + timedelta(seconds=cfg.late_factor * revisit + 0.1)) == "late"
    assert parts.registry.status(st, T0 + timedelta(seconds=cfg.down_factor * revisit + 0.1)) == "down"
    parts.out.published.clear()
    parts.registry.tick(T0 + timedelta(seconds=cfg.down_factor * revisit + 1))
    (topic, msg), = parts.out.published
    assert topic == "sensor.js-01" and isinstance(msg, Heartbeat) and msg.health["status_code"] == 2.0


def test_outbox_saves_before_publishing_and_orders_evidence_from_capable_sensors(parts: Parts) -> None:
    parts.intake.handle_batch([raw(hello())])
    parts.out.sent.clear()
    parts.out.published.clear()
    alert = make_alert("A1", sensors=(("js-01", "JS"), ("zj-09", "ZJ")))
    parts.outbox.handle_events([AlertEvent("opened", alert)])
    assert parts.store.alerts.alert_json("A1") is not None
    topics = sorted(t for t, m in parts.out.published if isinstance(m, AlertMsg))
    assert topics == ["alert.JS", "alert.ZJ"]
    orders = [m for who, m in parts.out.sent]
    assert len(orders) == 1 and orders[0].action == "capture_iq"  # zj-09 is not registered here
    assert [e["sensor_id"] for e in parts.store.evidence.for_alert("A1")] == ["js-01"]
    assert parts.counters.alert_events["opened"] == 1


def test_outbox_publishes_only_what_the_filter_lets_through(parts: Parts) -> None:
    parts.outbox.publishable = lambda events: [ev for ev in events if ev.alert.id != "hidden"]
    parts.outbox.handle_events([AlertEvent("opened", make_alert("hidden")), AlertEvent("opened", make_alert("shown"))])
    ids = [m.alert["id"] for _t, m in parts.out.published if isinstance(m, AlertMsg)]
    assert ids == ["shown", "shown"]  # its two provinces' topics
    assert parts.store.alerts.alert_json("hidden") is not None  # stored all the same
