"""The sensor registry's rows: what each sensor said in its Hello, its last contact, its health.

Kept across restarts, so a restarted server knows its sensors before they say Hello again.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from coordination.protocol import Hello
from coordination.store.unit import UnitOfWork


@dataclass(frozen=True)
class SensorRecord:
    """A registered sensor as the server knows it (from its Hello, kept across restarts)."""

    sensor_id: str
    province: str
    lat: float
    lon: float
    height_m: float
    antenna_factor_db_m: float
    software: str = ""
    capabilities: tuple[str, ...] = ()
    first_seen: str = ""
    last_seen: str = ""
    last_seq: int | None = None
    last_profile: str | None = None
    health: Mapping[str, float] = field(default_factory=dict)
    #: the sensor's current spool epoch (its Hello's; "" before epochs)
    epoch: str = ""


class SensorRepository:
    """Registered sensors (table ``sensors``) and their heartbeat history (table ``health``)."""

    def __init__(self, unit: UnitOfWork) -> None:
        self.unit = unit
        self.db = unit.db

    def upsert(self, hello: Hello, now_iso: str) -> None:
        self.unit.begin()
        self.db.execute(
            """INSERT INTO sensors (sensor_id, province, lat, lon, height_m, antenna_factor_db_m, software,
                   capabilities, first_seen, last_seen, epoch) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT(sensor_id) DO UPDATE SET province=excluded.province, lat=excluded.lat,
                   lon=excluded.lon, height_m=excluded.height_m, antenna_factor_db_m=excluded.antenna_factor_db_m,
                   software=excluded.software, capabilities=excluded.capabilities, last_seen=excluded.last_seen,
                   epoch=excluded.epoch""",
            (hello.sensor_id, hello.province, hello.lat, hello.lon, hello.height_m, hello.antenna_factor_db_m,
             hello.software, json.dumps(list(hello.capabilities)), now_iso, now_iso, hello.epoch))

    def touch(self, rows: Iterable[tuple[str, int | None, str | None, str]]) -> None:
        """Update (last_seen, last_seq, last_profile) from (sensor_id, last_seq, last_profile, last_seen)."""
        self.unit.begin()
        self.db.executemany(
            "UPDATE sensors SET last_seen=?, last_seq=COALESCE(GREATEST(COALESCE(last_seq, -1), ?), last_seq), "
            "last_profile=COALESCE(?, last_profile) WHERE sensor_id=?",
            sorted(((seen, seq, prof, sid) for sid, seq, prof, seen in rows), key=lambda r: r[3]))

    def set_health(self, sensor_id: str, seq: int, t_utc: str, health: Mapping[str, float], epoch: str = "") -> None:
        self.unit.begin()
        text = json.dumps(dict(health))
        self.db.execute("UPDATE sensors SET health=? WHERE sensor_id=?", (text, sensor_id))
        self.db.execute("INSERT INTO health (sensor_id, epoch, seq, t_utc, health) VALUES (?, ?, ?, ?, ?) "
                        "ON CONFLICT DO NOTHING", (sensor_id, epoch, seq, t_utc, text))

    def records(self, provinces: Sequence[str] | None = None) -> list[SensorRecord]:
        """Registered sensors (of ``provinces`` when given: a centre loads only its own)."""
        q, args = ("SELECT sensor_id, province, lat, lon, height_m, antenna_factor_db_m, software, capabilities, "
                   "first_seen, last_seen, last_seq, last_profile, health, epoch FROM sensors"), []
        if provinces:
            q += f" WHERE province IN ({','.join('?' * len(provinces))})"
            args = list(provinces)
        rows = self.db.fetchall(q + " ORDER BY sensor_id", args)
        return [SensorRecord(r[0], r[1], r[2], r[3], r[4], r[5], r[6], tuple(json.loads(r[7])), r[8], r[9],
                             r[10], r[11], json.loads(r[12]), r[13]) for r in rows]
