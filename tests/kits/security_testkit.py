"""Helpers for the security tests: a keys directory, a CURVE server on loopback, CURVE clients."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import zmq
from server_testkit import FakeEngine, SimSensor, loopback_config, make_alert

from coordination.alerts import AlertEvent
from coordination.keys import ClientKeys, KeyStore
from coordination.protocol import AlertMsg, decode
from coordination.server import Server


def make_keys(root: Path) -> KeyStore:
    """Server key, two sensors, a console, a JS-only team, a ZJ-only team, an unlimited team."""
    ks = KeyStore(root)
    ks.new("server", "server")
    ks.new("js-01", "sensor")
    ks.new("zj-01", "sensor")
    ks.new("ops", "console")
    ks.new("team-js", "team", ("JS",))
    ks.new("team-zj", "team", ("ZJ",))
    ks.new("team-all", "team")
    return ks


@pytest.fixture
def secure(tmp_path: Path) -> Iterator[tuple[KeyStore, Server, FakeEngine, zmq.Context]]:
    """A CURVE-secured server on loopback with the kit's keys, and a context for the test's own sockets."""
    keys = make_keys(tmp_path / "keys")
    srv, engine = start_server(tmp_path, keys)
    ctx = zmq.Context()
    yield keys, srv, engine, ctx
    srv.stop()
    ctx.destroy(0)


def foreign_keys(tmp: Path, name: str, server_public: bytes) -> ClientKeys:
    """A well-formed key pair the server has never seen (same server key, so only ZAP can refuse it)."""
    other = KeyStore(tmp)
    other.new("server", "server")
    other.new(name, "console")
    pair = other.client(name).pair
    return ClientKeys(pair, server_public)


def start_server(tmp_path: Path, keys: KeyStore, **kw: Any) -> tuple[Server, FakeEngine]:
    engine = FakeEngine()
    srv = Server(loopback_config(tmp_path, insecure=False, keys_dir=keys.root, **kw), engine=engine).start()
    srv.policy.reload_interval_s = 0.1  # type: ignore[union-attr]
    return srv, engine


class CurveSensor(SimSensor):
    """The test kit's simulated sensor, as a CURVE client (or plain, with keys=None)."""

    def __init__(self, ctx: zmq.Context, addr: str, keys: ClientKeys | None, sensor_id: str = "js-01",
                 province: str = "JS", identity: bytes | None = None) -> None:
        super().__init__(ctx, addr, sensor_id, province, lat=31.30 if province == "JS" else 30.0, lon=120.60,
                         identity=identity, keys=keys)

    def send_raw(self, frames: Sequence[bytes]) -> None:
        """Non-blocking: a refused client has no connection, and a blocking send would wait forever."""
        try:
            self.sock.send_multipart(list(frames), zmq.NOBLOCK)
        except zmq.Again:
            pass

    def send(self, msg: Any) -> None:
        self.send_raw(msg.to_frames())

    def received_anything(self, window_s: float) -> bool:
        """Did the server send this client anything at all within ``window_s``?"""
        deadline = time.monotonic() + window_s
        while time.monotonic() < deadline:
            self.pump(20)
            if self.acked or self.inbox:
                return True
        return False


def subscriber(ctx: zmq.Context, addr: str, keys: ClientKeys | None, topics: Sequence[bytes]) -> zmq.Socket:
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    if keys is not None:
        keys.apply(sub)
    for t in topics:
        sub.setsockopt(zmq.SUBSCRIBE, t)
    sub.connect(addr)
    return sub


def drain_alerts(sub: zmq.Socket, window_s: float) -> list[tuple[str, str]]:
    """(topic, alert id) of every alert publication received within ``window_s``."""
    out = []
    deadline = time.monotonic() + window_s
    while time.monotonic() < deadline:
        if sub.poll(20):
            frames = sub.recv_multipart()
            msg = decode(frames[1:])
            if isinstance(msg, AlertMsg):
                out.append((frames[0].decode(), str(msg.alert["id"])))
    return out


def publish_alerts(engine: FakeEngine, sensor: CurveSensor, seq: int, alerts: Sequence[tuple[str, str]]) -> None:
    """Make the server publish alerts: queue (id, province) events, then send Emissions that trigger them."""
    for alert_id, prov in alerts:
        engine.queued.append(AlertEvent("opened", make_alert(alert_id, source=(prov,), affected=(prov,))))
    sensor.send(sensor.emissions(seq))
    assert sensor.wait_acked([seq]) == {seq}


def counters(srv: Server) -> dict[str, Any]:
    return srv.counters_snapshot()


def wait_counter(srv: Server, reason: str, at_least: int = 1, timeout_s: float = 5.0) -> int:
    deadline = time.monotonic() + timeout_s
    while True:
        n = counters(srv)["rejected"].get(f"auth.{reason}", 0)
        if n >= at_least:
            return n
        if time.monotonic() > deadline:
            raise AssertionError(f"auth.{reason} = {n} < {at_least}; counters: {counters(srv)['auth']}")
        time.sleep(0.02)
