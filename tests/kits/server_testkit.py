"""Helpers for the server tests: a config on loopback, a simulated sensor (DEALER), a fake engine, real
sensor daemons at given sites running against a server.

The simulated sensor speaks the real wire protocol over a real socket; the fake engine implements
the engine interface of SERVER_CONTRACT.md so server behaviour can be tested without the rules.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import zmq
from sensor_testkit import write_sensor_config
from zmq.utils.monitor import recv_monitor_message

from coordination.alerts import Alert, AlertEvent, SensorReading
from coordination.config import ServerConfig
from coordination.keys import ClientKeys
from coordination.protocol import (
    EMISSION_FIELDS,
    Emissions,
    Hello,
    Message,
    MonitoringProfile,
    ProfileMsg,
    Spectrum,
    decode,
    format_utc,
)
from coordination.server import Server
from sdr.config import load_config
from sdr.daemon import SensorDaemon, SnapshotSourceFactory
from sdr.scenario import SensorSite, load_scenario
from sdr.sources import SimulatedSource

TEST_PROFILE = MonitoringProfile(name="pmr446", f_start_hz=446.0e6, f_stop_hz=446.2e6, bin_hz=3125.0,
                                 revisit_s=1.0, channel_raster_hz=12_500.0, channel_width_hz=12_500.0)
T0 = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)


class Clock:
    """A settable clock for the server (tests move time, not sleep): ``clock.now = T0 + ...``."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def loopback_config(tmp_path: Path, **kw: Any) -> ServerConfig:
    """A config binding random free ports on 127.0.0.1, data in tmp_path/data."""
    base = {"data_dir": tmp_path / "data", "sensors_addr": "tcp://127.0.0.1:*", "api_addr": "tcp://127.0.0.1:*",
            "pub_addr": "tcp://127.0.0.1:*", "profiles": (TEST_PROFILE,), "poll_timeout_ms": 5,
            "tick_interval_s": 0.05, "archive_max_delay_s": 0.0,
            # the tests' fixed timestamps (T0, ManualClock) stay inside the window for years to come;
            # tests of the window itself set their own
            "max_past_s": 10 * 365 * 86400.0}
    return ServerConfig(**(base | kw))


def wait_for(pred: Callable[[], Any], timeout_s: float = 5.0, step_s: float = 0.01) -> Any:
    """Poll ``pred`` until truthy (returned) or fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step_s)
    raise AssertionError(f"condition not met within {timeout_s} s")


def connected_sub(ctx: zmq.Context, endpoint: str, topics: Iterable[bytes], timeout_s: float = 5.0) -> zmq.Socket:
    """A SUB on ``endpoint`` whose connection has finished its handshake (bounded wait): its subscriptions
    go first on that connection, so what the server publishes after a later request reaches it (no
    fixed slow-joiner sleep)."""
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    for t in topics:
        sub.setsockopt(zmq.SUBSCRIBE, t)
    mon = sub.get_monitor_socket(zmq.EVENT_HANDSHAKE_SUCCEEDED)
    try:
        sub.connect(endpoint)
        if not mon.poll(int(timeout_s * 1000)):
            raise AssertionError(f"SUB to {endpoint}: no handshake within {timeout_s} s")
        recv_monitor_message(mon)
    finally:
        sub.disable_monitor()
        mon.close(0)
    return sub


def power_row(seq: int, n_bins: int = 64) -> np.ndarray:
    """A deterministic spectrum row, different per seq."""
    rng = np.random.default_rng(seq)
    return (-110.0 + 5.0 * rng.standard_normal(n_bins)).astype(np.float32)


class SimSensor:
    """A DEALER that speaks the sensor side of the protocol (identity = sensor_id); a CURVE client with ``keys``."""

    def __init__(self, ctx: zmq.Context, addr: str, sensor_id: str = "js-01", province: str = "JS",
                 lat: float = 31.30, lon: float = 120.60, capabilities: Sequence[str] = (),
                 identity: bytes | None = None, keys: ClientKeys | None = None) -> None:
        self.sensor_id = sensor_id
        self.province, self.lat, self.lon = province, lat, lon
        self.capabilities = tuple(capabilities)
        self.sock = ctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.IDENTITY, identity if identity is not None else sensor_id.encode())
        if keys is not None:
            keys.apply(self.sock)
        self.sock.connect(addr)
        self.acked: set[int] = set()
        self.inbox: list[Message] = []

    def close(self) -> None:
        self.sock.close(0)

    def send(self, msg: Message) -> None:
        self.sock.send_multipart(msg.to_frames())

    def send_raw(self, frames: Sequence[bytes]) -> None:
        self.sock.send_multipart(list(frames))

    def hello(self, seq: int = 0, timeout_s: float = 5.0) -> ProfileMsg:
        self.send(Hello(self.sensor_id, seq, format_utc(T0), province=self.province, lat=self.lat, lon=self.lon,
                        capabilities=self.capabilities, software="testkit"))
        return self.wait_message(ProfileMsg, timeout_s)  # type: ignore[return-value]

    def pump(self, timeout_ms: int = 10) -> None:
        """Receive whatever arrived: acks go to ``acked``, the rest to ``inbox``."""
        while self.sock.poll(timeout_ms):
            msg = decode(self.sock.recv_multipart())
            if msg.TYPE == b"ack":
                self.acked.update(msg.acked)  # type: ignore[attr-defined]
            else:
                self.inbox.append(msg)
            timeout_ms = 0

    def wait_acked(self, seqs: Iterable[int], timeout_s: float = 5.0) -> set[int]:
        want = set(seqs)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and not want <= self.acked:
            self.pump(20)
        return want & self.acked

    def wait_message(self, cls: type[Message], timeout_s: float = 5.0) -> Message:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for i, m in enumerate(self.inbox):
                if isinstance(m, cls):
                    return self.inbox.pop(i)
            self.pump(20)
        raise AssertionError(f"no {cls.__name__} within {timeout_s} s")

    def spectrum(self, seq: int, power: np.ndarray | None = None, t: datetime | None = None,
                 profile: str = "pmr446", f_start_hz: float = 446.0e6, f_step_hz: float = 3125.0) -> Spectrum:
        t = t or (T0 + timedelta(seconds=seq))
        return Spectrum(self.sensor_id, seq, format_utc(t), profile=profile, f_start_hz=f_start_hz,
                        f_step_hz=f_step_hz, power_dbm=power if power is not None else power_row(seq),
                        noise_floor_dbm=-112.0, threshold_dbm=-106.0, antenna_factor_db_m=2.0)

    def emissions(self, seq: int, emissions: Sequence[dict[str, float]] = (), t: datetime | None = None,
                  profile: str = "pmr446") -> Emissions:
        t = t or (T0 + timedelta(seconds=seq))
        return Emissions(self.sensor_id, seq, format_utc(t), profile=profile, noise_floor_dbm=-112.0,
                         antenna_factor_db_m=2.0, emissions=tuple(emissions))


def emission(center_hz: float, power_dbm: float, bw_hz: float = 8000.0, noise_dbm: float = -112.0) -> dict[str, float]:
    e = {"center_hz": center_hz, "peak_hz": center_hz, "peak_dbm": power_dbm + 3, "power_dbm": power_dbm,
         "bandwidth_xdb_hz": bw_hz, "obw_hz": bw_hz, "snr_db": power_dbm - noise_dbm,
         "f_lo_hz": center_hz - bw_hz / 2, "f_hi_hz": center_hz + bw_hz / 2}
    assert set(e) == set(EMISSION_FIELDS)
    return e


def make_alert(alert_id: str = "A1", source: Sequence[str] = ("ZJ",), affected: Sequence[str] = ("JS",),
               event: str = "opened", state: str = "open", sensors: Sequence[tuple[str, str]] = (("js-01", "JS"),),
               f_center_hz: float = 446.05e6) -> Alert:
    readings = tuple(SensorReading(sid, prov, 31.0, 120.5, 40.0, -69.0, None, 12.0) for sid, prov in sensors)
    return Alert(id=alert_id, event=event, state=state, verdicts=("unlicensed", "cross_border"), severity="major",
                 severity_score=50.0, band="PMR 400", service="land_mobile", channel_hz=f_center_hz,
                 f_center_hz=f_center_hz, bandwidth_hz=8000.0, provinces_source=tuple(source),
                 provinces_affected=tuple(affected), sensors=readings, position=None, candidate_stations=(),
                 first_seen=T0, last_seen=T0, rules_version="test")


class FakeEngine:
    """The engine interface with scripted answers: records observe() calls, returns queued events."""

    def __init__(self, alert_store: Any = None) -> None:
        self.observed: list[tuple[str, datetime, int]] = []
        self.queued: list[AlertEvent] = []
        self.ticks = 0
        self.alerts: dict[str, Alert] = {}
        self.fixes: list[tuple[str, Any]] = []
        self.store = alert_store

    def observe(self, sensor: Any, t: datetime, emissions: Sequence[Any], noise_floor_dbm: float,
                antenna_factor_db_m: float | None = None, coverage: Any = None, judge: bool = True) -> list[AlertEvent]:
        self.observed.append((sensor.sensor_id, t, len(emissions)))
        out, self.queued = self.queued, []
        for ev in out:
            self.alerts[ev.alert.id] = ev.alert
        return out

    def judge(self, now: datetime) -> list[AlertEvent]:
        return []

    def tick(self, now: datetime) -> list[AlertEvent]:
        self.ticks += 1
        return []

    def _step(self, alert_id: str, event: str, state: str, by: str, note: str | None) -> AlertEvent:
        if alert_id not in self.alerts:
            raise KeyError(alert_id)
        a = self.alerts[alert_id].evolve(event=event, state=state, note=note,
                                         **({"acknowledged_by": by} if event == "acknowledged" else
                                            {"resolved_by": by}))
        self.alerts[alert_id] = a
        return AlertEvent(event, a)

    def acknowledge(self, alert_id: str, by: str, note: str | None = None) -> AlertEvent:
        return self._step(alert_id, "acknowledged", "acknowledged", by, note)

    def resolve(self, alert_id: str, by: str, note: str | None = None) -> AlertEvent:
        return self._step(alert_id, "resolved", "resolved", by, note)

    def add_evidence(self, alert_id: str, ref: str) -> AlertEvent:
        a = self.alerts[alert_id]
        a = a.evolve(event="updated", evidence=(*a.evidence, ref))
        self.alerts[alert_id] = a
        return AlertEvent("updated", a)

    def add_position_fix(self, alert_id: str, position: Any, t: datetime | None = None) -> list[AlertEvent]:
        """Records the fix; a scripted engine does not judge with it (the outbox fuses it for display)."""
        self.fixes.append((alert_id, position))
        return []

    def open_alerts(self) -> list[Alert]:
        return [a for a in self.alerts.values() if a.state != "resolved"]

    def identity_checks(self) -> list[dict[str, Any]]:
        return []


def site_daemon(tmp_path: Path, site: SensorSite, endpoint: str, stop: threading.Event, *,
                snapshot_source: SnapshotSourceFactory | None = None, source: object | None = None) -> SensorDaemon:
    """A sensor daemon at ``site`` (its own directory under ``tmp_path``) sending to ``endpoint``: the
    sensor test scenario's simulator as its receiver unless ``source`` is given, a sweep every 0.5 s."""
    d = tmp_path / site.id
    d.mkdir()
    p = write_sensor_config(d, endpoint, heartbeat_s=1.0)
    text = p.read_text().replace('id = "ZJ-T1"\nprovince = "ZJ"\nlat = 30.0\nlon = 120.0\nheight_m = 20.0',
                                 f'id = "{site.id}"\nprovince = "{site.province}"\nlat = {site.lat}\n'
                                 f'lon = {site.lon}\nheight_m = {site.height_m}')
    p.write_text(text.replace("revisit_s = 0.2", "revisit_s = 0.5"))
    if source is None:
        source = SimulatedSource(load_scenario(d / "scenario.toml"), "ZJ-T1", seed=3)
    return SensorDaemon(load_config(p), source, stop_event=stop, snapshot_source=snapshot_source)


@contextmanager
def running_daemons(srv: Server, make: Callable[[threading.Event], Sequence[SensorDaemon]], *,
                    before_start: Callable[[], None] | None = None,
                    timeout_s: float = 20.0) -> Iterator[list[SensorDaemon]]:
    """Sensor daemons (``make(stop)``) registered with ``srv`` (each says hello; all are registered before
    any sweeps), then ``before_start()``, then each running on its own thread; stopped, joined and closed
    on exit."""
    stop = threading.Event()
    daemons = list(make(stop))
    threads = [threading.Thread(target=d.run, daemon=True) for d in daemons]
    try:
        for d in daemons:
            d.heartbeat()  # something to send: the uplink says hello first
        deadline = time.monotonic() + timeout_s
        while len(srv.registry or ()) < len(daemons) and time.monotonic() < deadline:
            for d in daemons:
                d.drain(0.05)
        assert len(srv.registry or ()) == len(daemons), "not every daemon registered with the server"
        if before_start is not None:
            before_start()
        for t in threads:
            t.start()
        yield daemons
    finally:
        stop.set()
        for t in threads:
            if t.is_alive():
                t.join(timeout=10)
        for d in daemons:
            d.close()
