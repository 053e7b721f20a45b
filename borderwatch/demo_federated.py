"""``borderwatch demo --federated``: the demo network as four monitoring centres, one per province.

The same scenario, sensors and judging as the single-server demo (:mod:`borderwatch.demo`), but
each province's sensors report to that province's own coordination server, and the four servers
federate (:mod:`coordination.federation`): border emissions cross between centres over ZeroMQ,
one alert stands per cross-border emitter, every centre sees and can acknowledge it.

The shared store is a throwaway PostgreSQL started by the demo (initdb into ``<out>/postgres``,
loopback, free port, stopped at the end) when Debian's ``postgresql`` server binaries are
installed; otherwise the four servers share one SQLite file (same schema and constraints, writes
serialised by SQLite's lock). Every socket of the four centres, the links between them included, is
CurveZMQ: each centre has its own keys (``<out>/<CODE>/keys``: server, its sensors, a console) and a
``centre-<CODE>`` key allowed by the other three (``coordination.federation.federate_keys``), as
``docs/deployment.md`` describes for real centres.
"""

from __future__ import annotations

import atexit
import dataclasses
import logging
import threading
import time
from typing import Any

import zmq

from borderwatch.demo import AlertSubscriber, DemoNetwork, sample_stations_path
from coordination.client import ApiClient, Publication
from coordination.federation import Federation, FederationConfig, federate_keys, shared_stations_target
from coordination.keys import ClientKeys, KeySet, ensure_demo_keys
from coordination.protocol import AlertMsg
from coordination.server import Server
from sdr.config import SensorConfig
from station_db.exchange import file_sha256, read_stations
from station_db.models import MEMBER_PROVINCES
from station_db.pg_cluster import PgCluster, PostgresUnavailableError, start_cluster
from station_db.repository import StationRepository

log = logging.getLogger(__name__)

#: Demo sensors are all within reach of a neighbour's border: every centre shares them all, so each
#: cross-border emitter is judged on the same measurements as by one server.
DEMO_BORDER_ZONE_KM = 400.0


class _CentresApi:
    """The API of every centre as one: ``sensors`` from all four, other ops from the first (the alert
    listings already span the shared store)."""

    def __init__(self, centres: dict[str, Server], keys: dict[str, KeySet]) -> None:
        self.clients = [ApiClient(s.endpoints["api"], timeout_s=5.0, client_id="demo",
                                  keys=keys[c].console if c in keys else None) for c, s in centres.items()]

    def result(self, op: str, args: dict[str, Any] | None = None) -> Any:
        if op == "sensors":
            return [row for c in self.clients for row in c.result(op, args)]
        return self.clients[0].result(op, args)

    def __enter__(self) -> _CentresApi:
        return self

    def __exit__(self, *exc: object) -> None:
        for c in self.clients:
            c.close()


class _SharedSeen(dict):
    """Alert events already shown: the owner and the centres following it publish the same event."""

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()


class FederatedAlertSubscriber(AlertSubscriber):
    """One centre's PUB; an event another centre already delivered is recorded once."""

    def __init__(self, ctx: zmq.Context, pub_addr: str, *args: Any, seen: _SharedSeen,
                 client_keys: ClientKeys | None = None, **kwargs: Any) -> None:
        super().__init__(ctx, pub_addr, *args, keys=client_keys, **kwargs)
        self.shared = seen

    def _handle(self, pub: Publication) -> None:
        assert isinstance(pub.msg, AlertMsg)
        doc = pub.msg.alert
        key = (doc.get("id"), doc.get("event"), doc.get("state"), doc.get("last_seen"), len(doc.get("evidence") or []))
        with self.shared.lock:
            owner = self.shared.setdefault(key, self)
        if owner is not self:  # another centre delivered this event: only note the province topic
            with self.log.lock:
                self.log.topics[str(doc["id"])].add(pub.province)
            return
        super()._handle(pub)


class FederatedDemoNetwork(DemoNetwork):
    """Four centres (one server per member province) on one shared store, plus the sensors."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.centres: dict[str, Server] = {}
        self.subscribers: list[AlertSubscriber] = []
        self.cluster: PgCluster | None = None
        self.database: str = ""
        self.store_note = ""
        self.centre_keys: dict[str, KeySet] = {}

    # -- the shared store ---------------------------------------------------------------------

    def _start_database(self) -> str:
        try:
            self.cluster = start_cluster()  # its own directory under /tmp (the PostgreSQL user can reach it)
        except PostgresUnavailableError as exc:
            self.store_note = f"PostgreSQL not available ({exc}); the four centres share one SQLite file"
            log.warning("%s", self.store_note)
            return str(self.data_dir / "shared.db")
        atexit.register(self._stop_cluster)
        try:
            url = self.cluster.create_database("borderwatch")
        except ImportError:  # the server binaries are here, the driver is not (pip install 'borderwatch[postgres]')
            self._stop_cluster()
            self.store_note = "psycopg not installed; the four centres share one SQLite file"
            log.warning("%s", self.store_note)
            return str(self.data_dir / "shared.db")
        self.store_note = f"PostgreSQL on 127.0.0.1:{self.cluster.port}"
        return url

    @property
    def store_target(self) -> Any:
        return self.database

    def _load_stations(self) -> None:
        path = sample_stations_path()
        with StationRepository(shared_stations_target(self.database)) as repo:
            repo.import_all_provinces(read_stations(path), path.name, file_sha256(path))

    # -- servers ------------------------------------------------------------------------------

    def _start_servers(self) -> None:
        self.database = self._start_database()
        self._load_stations()
        provinces = sorted({s.province for s in self.scenario.sensors} | set(MEMBER_PROVINCES))
        self._make_keys(provinces)
        base = self.server_config()
        feds: dict[str, Federation] = {}
        for code in provinces:  # ephemeral ports (no race for a "free" port); peers joined once all run
            keys = self.centre_keys[code]
            # First-sight provisional alerts (safety bands) are one centre's: the federation links the
            # centres' alerts of one emitter at judgement, so two centres seeing ch 16 at once would open
            # two. Federated centres judge after the grouping window (docs/rules-engine.md section 9).
            # TDOA rounds are one centre's: it orders snapshots from its own sensors only, so a border alert
            # heard across two centres rarely has three of one centre's; the federated demo keeps level fixes.
            cfg = dataclasses.replace(base, data_dir=self.data_dir / code, stations=None, insecure=False,
                                      keys_dir=keys.root, engine={**base.engine, "provisional": False},
                                      tdoa_on_open=False)
            fed = feds[code] = Federation(FederationConfig(
                centre=code, database=self.database, bind_addr="tcp://127.0.0.1:*", keys_dir=keys.root,
                border_zone_km=DEMO_BORDER_ZONE_KM))
            self.centres[code] = Server(cfg, stations=StationRepository(fed.stations_database),
                                        federation=fed).start()
        for code in self.centres:
            for other, peer in self.centres.items():
                if other != code:
                    feds[code].add_peer(other, peer.endpoints["federation"])
        self.server = self.centres[provinces[0]]
        self.ctx = zmq.Context()
        seen = _SharedSeen()
        for code, srv in self.centres.items():
            sub = FederatedAlertSubscriber(self.ctx, srv.endpoints["pub"], self.alerts, jsonl=self.jsonl,
                                           on_event=self.on_event, seen=seen,
                                           client_keys=self.centre_keys[code].console)
            sub.start()
            self.subscribers.append(sub)
        self.subscriber = self.subscribers[0]
        time.sleep(0.3)  # subscriptions and peer links up before the first alert can exist

    def _make_keys(self, provinces: list[str]) -> None:
        """CurveZMQ keys per centre (DATA/<CODE>/keys: server, its sensors, a console) and the
        federation keys between them (centre-<CODE> in every other centre's allow-list)."""
        for code in provinces:
            sensors = [s.id for s in self.scenario.sensors if s.province == code]
            self.centre_keys[code] = ensure_demo_keys(self.data_dir / code, sensors)
        federate_keys({code: k.root for code, k in self.centre_keys.items()})
        first = self.centre_keys[provinces[0]]  # what the console (--gui) is given: the first centre's
        secrets = {sid: path for k in self.centre_keys.values() for sid, path in k.sensor_secret_files.items()}
        self.keys = KeySet(first.root, first.server_public_key, secrets, first.console)

    def sensor_config(self, site_id: str) -> SensorConfig:
        cfg = super().sensor_config(site_id)
        code = self.scenario.sensor(site_id).province
        keys = self.centre_keys[code]
        return dataclasses.replace(cfg, server_address=self.centres[code].endpoints["sensors"],
                                   server_public_key=keys.server_public_key,
                                   secret_key_file=keys.sensor_secret_files[site_id])

    def api(self) -> Any:
        return _CentresApi(self.centres, self.centre_keys)

    def counters(self) -> dict[str, Any]:
        """The four centres' counters, summed (rejections, stored, duplicates)."""
        total: dict[str, Any] = {"rejected": {}, "stored": {}, "duplicates": 0, "federation": {}}
        for code, srv in self.centres.items():
            keys = self.centre_keys.get(code)
            with ApiClient(srv.endpoints["api"], timeout_s=5.0, client_id="demo",
                           keys=keys.console if keys else None) as api:
                c = api.result("counters")
            for key in ("rejected", "stored"):
                for k, v in (c.get(key) or {}).items():
                    total[key][k] = total[key].get(k, 0) + int(v)
            total["duplicates"] += int(c.get("duplicates") or 0)
            if srv.federation is not None:
                total["federation"][code] = srv.federation.snapshot()
        return total

    def delivery(self, counters: Any) -> Any:
        """The single demo's check, on the shared store; then the demo's PostgreSQL goes."""
        try:
            return super().delivery(counters)
        finally:
            self._stop_cluster()

    def _stop_cluster(self) -> None:
        if self.cluster is not None:
            self.cluster.stop()
            self.cluster = None

    def close(self) -> None:
        """Everything but the PostgreSQL (the delivery check reads it after close; it stops then,
        or at exit should the run fail before)."""
        if self._closed:
            return
        for sub in self.subscribers[1:]:
            sub.stop_event.set()
            sub.join(5.0)
        super().close()  # sensors, first subscriber, self.server, the context
        for srv in self.centres.values():
            if srv is not self.server:
                srv.stop()
