"""The server's SQLite store (WAL): idempotence ledger, sensor registry, summaries, alerts, counters.

One connection, used only by the server loop thread. Writes are grouped: the loop stages a whole
drained batch and commits it in one transaction (:meth:`Store.commit`), so the cost of a commit is
shared by hundreds of messages and an ack never precedes the commit of what it acknowledges.

The idempotence ledger keeps, per sensor, the set of stored sequence numbers as disjoint ranges
(:class:`SeqRanges`, table ``received_ranges``): a sensor's seqs are mostly consecutive, so the
ledger stays a handful of rows per sensor however long the server runs, instead of one row per
message (2,000 messages/s would be 170 million rows a day). A message whose seq is in the ledger is
a duplicate (acked again, not stored again). Alerts are kept as their documented JSON plus a few indexed
columns; :class:`SqliteAlertStore` implements the engine's ``AlertStore`` protocol on top.
"""

from __future__ import annotations

import bisect
import json
import logging
import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from coordination.protocol import EMISSION_FIELDS, Emissions, Hello, Occupancy

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS received_ranges (
    sensor_id TEXT NOT NULL, lo INTEGER NOT NULL, hi INTEGER NOT NULL,
    PRIMARY KEY (sensor_id, lo)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS received_counts (
    sensor_id TEXT NOT NULL, type TEXT NOT NULL, n INTEGER NOT NULL,
    PRIMARY KEY (sensor_id, type)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sensors (
    sensor_id TEXT PRIMARY KEY, province TEXT NOT NULL, lat REAL NOT NULL, lon REAL NOT NULL,
    height_m REAL NOT NULL, antenna_factor_db_m REAL NOT NULL, software TEXT NOT NULL,
    capabilities TEXT NOT NULL, first_seen TEXT NOT NULL, last_seen TEXT NOT NULL,
    last_seq INTEGER, last_profile TEXT, health TEXT NOT NULL DEFAULT '{{}}');
CREATE TABLE IF NOT EXISTS emissions (
    sensor_id TEXT NOT NULL, seq INTEGER NOT NULL, t_utc TEXT NOT NULL, profile TEXT NOT NULL,
    spectrum_seq INTEGER, noise_floor_dbm REAL NOT NULL, antenna_factor_db_m REAL NOT NULL,
    {", ".join(f"{k} REAL NOT NULL" for k in EMISSION_FIELDS)});
CREATE INDEX IF NOT EXISTS emissions_by_sensor ON emissions (sensor_id, t_utc);
CREATE INDEX IF NOT EXISTS emissions_by_freq ON emissions (center_hz);
CREATE TABLE IF NOT EXISTS occupancy (
    sensor_id TEXT NOT NULL, seq INTEGER NOT NULL, profile TEXT NOT NULL, t_start_utc TEXT NOT NULL,
    t_end_utc TEXT NOT NULL, revisits INTEGER NOT NULL, threshold_dbm REAL NOT NULL, fbo REAL NOT NULL,
    channel_centers_hz BLOB NOT NULL, fco BLOB NOT NULL, PRIMARY KEY (sensor_id, seq));
CREATE INDEX IF NOT EXISTS occupancy_by_profile ON occupancy (sensor_id, profile, t_end_utc);
CREATE TABLE IF NOT EXISTS health (
    sensor_id TEXT NOT NULL, seq INTEGER NOT NULL, t_utc TEXT NOT NULL, health TEXT NOT NULL,
    PRIMARY KEY (sensor_id, seq));
CREATE TABLE IF NOT EXISTS alerts (
    id TEXT PRIMARY KEY, state TEXT NOT NULL, provinces TEXT NOT NULL, severity TEXT,
    first_seen TEXT, last_seen TEXT, json TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS alerts_by_state ON alerts (state);
CREATE TABLE IF NOT EXISTS evidence (
    capture_id TEXT PRIMARY KEY, alert_id TEXT NOT NULL, sensor_id TEXT NOT NULL, ordered_utc TEXT NOT NULL,
    status TEXT NOT NULL, path TEXT);
CREATE INDEX IF NOT EXISTS evidence_by_alert ON evidence (alert_id);
CREATE TABLE IF NOT EXISTS counters (kind TEXT NOT NULL, key TEXT NOT NULL, n INTEGER NOT NULL,
    PRIMARY KEY (kind, key));
"""


class SeqRanges:
    """A set of non-negative integers kept as sorted, disjoint, non-adjacent inclusive ranges."""

    def __init__(self, ranges: Iterable[tuple[int, int]] = ()) -> None:
        self.lo: list[int] = []
        self.hi: list[int] = []
        for lo, hi in sorted(ranges):
            if self.lo and lo <= self.hi[-1] + 1:
                self.hi[-1] = max(self.hi[-1], hi)
            else:
                self.lo.append(lo)
                self.hi.append(hi)

    def __contains__(self, s: int) -> bool:
        i = bisect.bisect_right(self.lo, s) - 1
        return i >= 0 and s <= self.hi[i]

    def __len__(self) -> int:
        return len(self.lo)

    def copy(self) -> SeqRanges:
        out = SeqRanges()
        out.lo, out.hi = list(self.lo), list(self.hi)
        return out

    def add(self, s: int) -> bool:
        """Add ``s``; False when it was already there."""
        i = bisect.bisect_right(self.lo, s) - 1
        if i >= 0 and s <= self.hi[i]:
            return False
        left = i >= 0 and self.hi[i] == s - 1
        right = i + 1 < len(self.lo) and self.lo[i + 1] == s + 1
        if left and right:
            self.hi[i] = self.hi[i + 1]
            del self.lo[i + 1], self.hi[i + 1]
        elif left:
            self.hi[i] = s
        elif right:
            self.lo[i + 1] = s
        else:
            self.lo.insert(i + 1, s)
            self.hi.insert(i + 1, s)
        return True

    def overlapping(self, a: int, b: int) -> list[tuple[int, int]]:
        """The ranges that intersect [a, b]."""
        out = []
        i = bisect.bisect_left(self.hi, a)
        while i < len(self.lo) and self.lo[i] <= b:
            out.append((self.lo[i], self.hi[i]))
            i += 1
        return out

    def ranges(self) -> list[tuple[int, int]]:
        return list(zip(self.lo, self.hi))


class StorageError(OSError):
    """Something could not be written (disk full, read-only, corrupt); nothing of it is acked."""


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


class Store:
    """SQLite in WAL mode; one transaction per drained batch."""

    def __init__(self, path: Path, *, fsync: bool = False) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
            self.db.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode survives a process crash (kill -9); FULL also survives power loss.
            self.db.execute(f"PRAGMA synchronous={'FULL' if fsync else 'NORMAL'}")
            self.db.execute("PRAGMA busy_timeout=5000")
            self.db.executescript(_SCHEMA)
            self.db.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open the server database {self.path}: {exc}") from exc
        self._in_tx = False
        self._ranges: dict[str, SeqRanges] = {}
        self._pending_ranges: dict[str, SeqRanges] = {}

    # ------------------------------------------------------------ transactions

    def begin(self) -> None:
        """Start the batch transaction (idempotent)."""
        if not self._in_tx:
            self.db.execute("BEGIN")
            self._in_tx = True

    def commit(self) -> None:
        """Commit the batch; raise StorageError (after rolling back) when it cannot be written."""
        if not self._in_tx:
            return
        try:
            self.db.execute("COMMIT")
        except sqlite3.Error as exc:
            self.rollback()
            raise StorageError(f"commit to {self.path} failed: {exc}") from exc
        finally:
            self._in_tx = False
        self._ranges.update(self._pending_ranges)  # the ledger in memory follows only what is committed
        self._pending_ranges.clear()

    def savepoint(self) -> None:
        """Mark a point inside the batch so one message's writes can be undone alone."""
        self.begin()
        self.db.execute("SAVEPOINT msg")

    def release_savepoint(self) -> None:
        self.db.execute("RELEASE msg")

    def rollback_savepoint(self) -> None:
        try:
            self.db.execute("ROLLBACK TO msg")
            self.db.execute("RELEASE msg")
        except sqlite3.Error:
            log.debug("rollback to savepoint failed", exc_info=True)

    def rollback(self) -> None:
        try:
            self.db.execute("ROLLBACK")
        except sqlite3.Error:
            pass
        self._in_tx = False
        self._pending_ranges.clear()

    def close(self) -> None:
        if self._in_tx:
            self.commit()
        self.db.close()

    # ------------------------------------------------------------ idempotence

    def _committed_ranges(self, sensor_id: str) -> SeqRanges:
        r = self._ranges.get(sensor_id)
        if r is None:
            rows = self.db.execute("SELECT lo, hi FROM received_ranges WHERE sensor_id=?", (sensor_id,)).fetchall()
            r = self._ranges[sensor_id] = SeqRanges((int(a), int(b)) for a, b in rows)
        return r

    def _ledger(self, sensor_id: str) -> SeqRanges:
        r = self._pending_ranges.get(sensor_id)
        return r if r is not None else self._committed_ranges(sensor_id)

    def known_seqs(self, sensor_id: str, seqs: Sequence[int]) -> set[int]:
        """The subset of ``seqs`` already stored for ``sensor_id`` (in this transaction included)."""
        r = self._ledger(sensor_id)
        return {s for s in seqs if s in r}

    def mark_received(self, rows: Iterable[tuple[str, int, str, str]]) -> None:
        """Record (sensor_id, seq, type, t_utc) as stored, in the open transaction."""
        self.begin()
        by_sensor: dict[str, list[int]] = {}
        counts: dict[tuple[str, str], int] = {}
        for sensor_id, seq, mtype, _t in rows:
            by_sensor.setdefault(sensor_id, []).append(seq)
            counts[(sensor_id, mtype)] = counts.get((sensor_id, mtype), 0) + 1
        for sensor_id, seqs in by_sensor.items():
            r = self._pending_ranges.get(sensor_id)
            if r is None:
                r = self._pending_ranges[sensor_id] = self._committed_ranges(sensor_id).copy()
            for q in seqs:
                r.add(q)
            a, b = min(seqs) - 1, max(seqs) + 1  # only ranges touching [a, b] can have changed
            self.db.execute("DELETE FROM received_ranges WHERE sensor_id=? AND hi>=? AND lo<=?", (sensor_id, a, b))
            self.db.executemany("INSERT INTO received_ranges VALUES (?, ?, ?)",
                                [(sensor_id, lo, hi) for lo, hi in r.overlapping(a, b)])
        self.db.executemany(
            "INSERT INTO received_counts VALUES (?, ?, ?) ON CONFLICT(sensor_id, type) DO UPDATE SET n=n+excluded.n",
            [(sid, t, n) for (sid, t), n in counts.items()])

    def count_received(self, sensor_id: str | None = None, mtype: str | None = None) -> int:
        """How many messages were stored (per sensor and/or type)."""
        q, args = "SELECT COALESCE(SUM(n), 0) FROM received_counts WHERE 1=1", []
        if sensor_id is not None:
            q, args = q + " AND sensor_id=?", [*args, sensor_id]
        if mtype is not None:
            q, args = q + " AND type=?", [*args, mtype]
        return int(self.db.execute(q, args).fetchone()[0])

    def received_ranges(self, sensor_id: str) -> list[tuple[int, int]]:
        """The committed ledger of a sensor as (lo, hi) ranges, read from the database."""
        return [(int(a), int(b)) for a, b in self.db.execute(
            "SELECT lo, hi FROM received_ranges WHERE sensor_id=? ORDER BY lo", (sensor_id,))]

    # ------------------------------------------------------------ sensor registry

    def upsert_sensor(self, hello: Hello, now_iso: str) -> None:
        self.begin()
        self.db.execute(
            """INSERT INTO sensors (sensor_id, province, lat, lon, height_m, antenna_factor_db_m, software,
                   capabilities, first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT(sensor_id) DO UPDATE SET province=excluded.province, lat=excluded.lat,
                   lon=excluded.lon, height_m=excluded.height_m, antenna_factor_db_m=excluded.antenna_factor_db_m,
                   software=excluded.software, capabilities=excluded.capabilities, last_seen=excluded.last_seen""",
            (hello.sensor_id, hello.province, hello.lat, hello.lon, hello.height_m, hello.antenna_factor_db_m,
             hello.software, json.dumps(list(hello.capabilities)), now_iso, now_iso))

    def touch_sensors(self, rows: Iterable[tuple[str, int | None, str | None, str]]) -> None:
        """Update (last_seen, last_seq, last_profile) from (sensor_id, last_seq, last_profile, last_seen)."""
        self.begin()
        self.db.executemany(
            "UPDATE sensors SET last_seen=?4, last_seq=COALESCE(MAX(COALESCE(last_seq, -1), ?2), last_seq), "
            "last_profile=COALESCE(?3, last_profile) WHERE sensor_id=?1", rows)

    def set_health(self, sensor_id: str, seq: int, t_utc: str, health: Mapping[str, float]) -> None:
        self.begin()
        text = json.dumps(dict(health))
        self.db.execute("UPDATE sensors SET health=? WHERE sensor_id=?", (text, sensor_id))
        self.db.execute("INSERT OR IGNORE INTO health VALUES (?, ?, ?, ?)", (sensor_id, seq, t_utc, text))

    def sensors(self) -> list[SensorRecord]:
        rows = self.db.execute(
            "SELECT sensor_id, province, lat, lon, height_m, antenna_factor_db_m, software, capabilities, "
            "first_seen, last_seen, last_seq, last_profile, health FROM sensors ORDER BY sensor_id").fetchall()
        return [SensorRecord(r[0], r[1], r[2], r[3], r[4], r[5], r[6], tuple(json.loads(r[7])), r[8], r[9],
                             r[10], r[11], json.loads(r[12])) for r in rows]

    # ------------------------------------------------------------ measurements

    def insert_emissions(self, msg: Emissions) -> None:
        self.begin()
        rows = [(msg.sensor_id, msg.seq, msg.t_utc, msg.profile, msg.spectrum_seq, msg.noise_floor_dbm,
                 msg.antenna_factor_db_m, *(float(e[k]) for k in EMISSION_FIELDS)) for e in msg.emissions]
        if rows:
            n = 7 + len(EMISSION_FIELDS)
            self.db.executemany(f"INSERT INTO emissions VALUES ({','.join('?' * n)})", rows)

    def emissions(self, sensor_id: str, limit: int = 1000) -> list[dict[str, Any]]:
        cur = self.db.execute("SELECT * FROM emissions WHERE sensor_id=? ORDER BY t_utc DESC LIMIT ?",
                              (sensor_id, limit))
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r)) for r in cur.fetchall()]

    def insert_occupancy(self, msg: Occupancy) -> None:
        self.begin()
        self.db.execute(
            "INSERT OR IGNORE INTO occupancy VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (msg.sensor_id, msg.seq, msg.profile, msg.t_start_utc, msg.t_end_utc, msg.revisits, msg.threshold_dbm,
             msg.fbo, np.ascontiguousarray(msg.channel_centers_hz, "<f8").tobytes(),
             np.ascontiguousarray(msg.fco, "<f4").tobytes()))

    def occupancy(self, sensor_id: str, profile: str, limit: int = 100) -> tuple[np.ndarray, list[dict[str, Any]]]:
        """Channel centres of the latest row and the latest ``limit`` rows (oldest first)."""
        rows = self.db.execute(
            "SELECT t_start_utc, t_end_utc, fbo, channel_centers_hz, fco FROM occupancy "
            "WHERE sensor_id=? AND profile=? ORDER BY t_end_utc DESC LIMIT ?", (sensor_id, profile, limit)).fetchall()
        rows.reverse()
        centers = np.frombuffer(rows[-1][3], "<f8") if rows else np.zeros(0)
        out = [{"t_start_utc": r[0], "t_end_utc": r[1], "fbo": r[2],
                "fco": np.round(np.frombuffer(r[4], "<f4").astype(float), 4).tolist()} for r in rows]
        return centers, out

    # ------------------------------------------------------------ alerts

    def save_alert_json(self, doc: Mapping[str, Any]) -> None:
        self.begin()
        provinces = sorted(set(doc.get("provinces_source") or []) | set(doc.get("provinces_affected") or []))
        self.db.execute(
            "INSERT OR REPLACE INTO alerts VALUES (?, ?, ?, ?, ?, ?, ?)",
            (str(doc["id"]), str(doc.get("state", "open")), "," + ",".join(provinces) + ",", doc.get("severity"),
             doc.get("first_seen"), doc.get("last_seen"), json.dumps(doc, separators=(",", ":"))))

    def alert_json(self, alert_id: str) -> dict[str, Any] | None:
        row = self.db.execute("SELECT json FROM alerts WHERE id=?", (alert_id,)).fetchone()
        return json.loads(row[0]) if row else None

    def list_alert_json(self, states: Sequence[str] | None = None, province: str | None = None,
                        limit: int = 10_000) -> list[dict[str, Any]]:
        q, args = "SELECT json FROM alerts WHERE 1=1", []
        if states:
            q += f" AND state IN ({','.join('?' * len(states))})"
            args += list(states)
        if province:
            q += " AND provinces LIKE ?"
            args.append(f"%,{province},%")
        q += " ORDER BY last_seen DESC LIMIT ?"
        args.append(limit)
        return [json.loads(r[0]) for r in self.db.execute(q, args)]

    # ------------------------------------------------------------ evidence orders

    def order_evidence(self, capture_id: str, alert_id: str, sensor_id: str, now_iso: str) -> None:
        self.begin()
        self.db.execute("INSERT OR IGNORE INTO evidence VALUES (?, ?, ?, ?, 'ordered', NULL)",
                        (capture_id, alert_id, sensor_id, now_iso))

    def evidence_order(self, capture_id: str) -> tuple[str, str, str] | None:
        """(alert_id, sensor_id, status) of an ordered capture."""
        row = self.db.execute("SELECT alert_id, sensor_id, status FROM evidence WHERE capture_id=?",
                              (capture_id,)).fetchone()
        return (row[0], row[1], row[2]) if row else None

    def complete_evidence(self, capture_id: str, path: str) -> None:
        self.begin()
        self.db.execute("UPDATE evidence SET status='complete', path=? WHERE capture_id=?", (path, capture_id))

    def evidence_for(self, alert_id: str) -> list[dict[str, Any]]:
        rows = self.db.execute("SELECT capture_id, sensor_id, status, path FROM evidence WHERE alert_id=? "
                               "ORDER BY ordered_utc", (alert_id,)).fetchall()
        return [{"capture_id": r[0], "sensor_id": r[1], "status": r[2], "path": r[3]} for r in rows]

    # ------------------------------------------------------------ counters

    def save_counters(self, rows: Iterable[tuple[str, str, int]]) -> None:
        self.begin()
        self.db.executemany("INSERT OR REPLACE INTO counters VALUES (?, ?, ?)", rows)

    def load_counters(self) -> list[tuple[str, str, int]]:
        return [(r[0], r[1], int(r[2])) for r in self.db.execute("SELECT kind, key, n FROM counters")]


class SqliteAlertStore:
    """The engine's ``AlertStore`` protocol on the server database.

    ``decode`` turns the stored alert JSON back into the engine's ``Alert`` (``Alert.from_json``);
    it is injected so this module does not depend on the rules engine's classes.
    """

    ACTIVE_STATES = ("open", "acknowledged")

    def __init__(self, store: Store, decode: Callable[[Mapping[str, Any]], Any]) -> None:
        self.store = store
        self.decode = decode

    def save(self, alert: Any) -> None:
        self.store.save_alert_json(alert.to_json())

    def load_active(self) -> list[Any]:
        return [self.decode(d) for d in reversed(self.store.list_alert_json(self.ACTIVE_STATES))]

    def get(self, alert_id: str) -> Any | None:
        doc = self.store.alert_json(alert_id)
        return None if doc is None else self.decode(doc)

    def list(self, state: str | None = None, province: str | None = None) -> list[Any]:
        states = None if state in (None, "all") else [state]
        return [self.decode(d) for d in self.store.list_alert_json(states, province)]
