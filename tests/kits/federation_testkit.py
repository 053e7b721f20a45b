"""Federated centres in one test process: servers per province on one shared PostgreSQL.

A cross-border incident from the rules-engine world (tests/kits/engine_testkit.py): an unlicensed PMR 400
emitter in Zhejiang 9 km from the Jiangsu border, heard by two ZJ and two JS sensors. Levels come
from the engine's own P.1546 law, so every centre that hears it judges it the same way.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import zmq
from engine_testkit import NOISE_FLOOR_DBM, ZJ_EMITTER, ZJ_JS_SENSORS, emission, station
from server_testkit import SimSensor, loopback_config

from coordination.federation import Federation, FederationConfig, shared_stations_target
from coordination.protocol import Emissions, Hello, format_utc
from coordination.sensors import SensorInfo
from coordination.server import Server
from station_db.repository import StationRepository

ENGINE = {"group_window_s": 0.4, "evidence_horizon_s": 30.0, "update_min_interval_s": 1.0}
SENSORS: tuple[SensorInfo, ...] = ZJ_JS_SENSORS
FAR_STATION = station("ZJ-PMR-FAR", "ZJ", 29.30, 120.90)  # same channel, far south: not the emitter


def load_stations(target: str | Path) -> None:
    """The incident world's station data beside the shared store ``target`` (PostgreSQL or SQLite)."""
    with StationRepository(shared_stations_target(str(target))) as repo:
        repo.import_stations([FAR_STATION], "ZJ", "test-ZJ.csv", "h")


class Sensor(SimSensor):
    """A sensor of the incident world over the real wire protocol."""

    def __init__(self, ctx: zmq.Context, addr: str, info: SensorInfo) -> None:
        super().__init__(ctx, addr, info.sensor_id, info.province, info.lat, info.lon)
        self.info = info
        self.seq = 0

    def hello(self, seq: int = 0, timeout_s: float = 10.0) -> Any:
        self.send(Hello(self.sensor_id, seq, format_utc(datetime.now(UTC)), province=self.province, lat=self.lat,
                        lon=self.lon, height_m=self.info.height_m, antenna_factor_db_m=self.info.antenna_factor_db_m,
                        software="fedtest"))
        self.seq = max(self.seq, seq)
        from coordination.protocol import ProfileMsg

        return self.wait_message(ProfileMsg, timeout_s)

    def sweep(self, emitter: tuple[float, float] | None, erp_dbw: float = 10.0) -> int:
        self.seq += 1
        ems = []
        if emitter is not None:
            em = emission(self.info, *emitter, erp_dbw=erp_dbw)
            ems = [em] if em else []
        self.send(Emissions(self.sensor_id, self.seq, format_utc(datetime.now(UTC)), profile="pmr446",
                            noise_floor_dbm=NOISE_FLOOR_DBM, antenna_factor_db_m=self.info.antenna_factor_db_m,
                            emissions=tuple(ems)))
        return self.seq


def centre_server(tmp: Path, code: str, database: str, *, stations: str, policy: Any = None,
                  keys_dir: Path | None = None, fed: Mapping[str, Any] | None = None, **cfg: Any) -> Server:
    """A federated server for province ``code`` on an ephemeral federation port (join with :func:`link`)."""
    fed = Federation(FederationConfig(
        centre=code, database=database, bind_addr="tcp://127.0.0.1:*", insecure=policy is None, keys_dir=keys_dir,
        owner_grace_s=1.5, follow_interval_s=0.05, beat_interval_s=0.2, **dict(fed or {})))
    config = loopback_config(tmp / code, engine=dict(ENGINE), evidence_capture=False, **cfg)
    return Server(config, stations=StationRepository(stations), policy=policy, federation=fed)


def single_server(tmp: Path, database: str) -> Server:
    config = loopback_config(tmp / "single", engine=dict(ENGINE), evidence_capture=False)
    return Server(config, stations=StationRepository(shared_stations_target(database)))


def start_centres(tmp: Path, codes: Iterable[str], database: str) -> dict[str, Server]:
    servers = {c: centre_server(tmp, c, database, stations=shared_stations_target(database)).start() for c in codes}
    link(servers)
    return servers


def link(servers: Mapping[str, Server]) -> None:
    """Every centre connects to every other one's federation socket."""
    for code, srv in servers.items():
        for other, peer in servers.items():
            if other != code:
                srv.federation.add_peer(other, peer.endpoints["federation"])
    time.sleep(0.2)


def play(sensors: Sequence[Sensor], emitter: tuple[float, float] | None, *, sweeps: int, every_s: float = 0.25,
         erp_dbw: float = 10.0) -> None:
    for _ in range(sweeps):
        for s in sensors:
            s.sweep(emitter, erp_dbw)
            s.pump(0)
        time.sleep(every_s)


def alert_key(doc: Mapping[str, Any]) -> tuple:
    """What must agree between the federated and the single-server runs."""
    return (doc["band"], round(float(doc["channel_hz"])), tuple(doc["verdicts"]), tuple(doc["provinces_source"]),
            tuple(doc["provinces_affected"]), doc["state"])


EMITTER = ZJ_EMITTER
