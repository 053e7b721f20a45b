"""The server's store: idempotence ledger, sensor registry, summaries, alerts, counters.

SQLite (WAL) by default; a ``postgresql://`` target puts it in the database the federated centres
share (:mod:`station_db.backend` absorbs the SQL differences; one schema, versioned migrations for
both). One connection, used only by the server loop thread. Writes are grouped: the loop stages a whole
drained batch and commits it in one transaction (:meth:`Store.commit`), so the cost of a commit is
shared by hundreds of messages and an ack never precedes the commit of what it acknowledges.

The idempotence ledger keeps, per sensor, the set of stored sequence numbers as disjoint ranges
(:class:`SeqRanges`, table ``received_ranges``): a sensor's seqs are mostly consecutive, so the
ledger stays a handful of rows per sensor however long the server runs, instead of one row per
message (2,000 messages/s would be 170 million rows a day). A message whose seq is in the ledger is
a duplicate (acked again, not stored again). Alerts are kept as their documented JSON plus a few indexed
columns; :class:`SqliteAlertStore` implements the engine's ``AlertStore`` protocol on top.

Several servers writing one shared database (federation, docs/deployment.md) stay consistent through
the database alone: an alert's state only moves forward (open -> acknowledged -> resolved) in the
upsert itself, so a late update from one centre cannot undo another centre's acknowledgement; a
partial unique index on (band, channel, cluster key) of the active, unlinked alerts lets exactly one
centre's alert stand for a cross-border emitter (:meth:`Store.claim_alert`); every alert write takes
the next value of a one-row revision counter, whose row lock orders the writes so the other centres
can follow them with ``rev > last seen`` (:meth:`Store.alerts_since`). Counters are kept per centre.
"""

from __future__ import annotations

import bisect
import json
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from coordination.protocol import EMISSION_FIELDS, Emissions, Hello, Occupancy
from station_db.backend import Database, DatabaseError, Migration, SchemaError, is_postgres_url, migrate, open_database

log = logging.getLogger(__name__)

_SCHEMA_V1 = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS received_ranges (
    sensor_id TEXT NOT NULL, lo INTEGER NOT NULL, hi INTEGER NOT NULL,
    PRIMARY KEY (sensor_id, lo)) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS received_counts (
    sensor_id TEXT NOT NULL, type TEXT NOT NULL, n INTEGER NOT NULL,
    PRIMARY KEY (sensor_id, type)) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS sensors (
    sensor_id TEXT PRIMARY KEY, province TEXT NOT NULL, lat REAL NOT NULL, lon REAL NOT NULL,
    height_m REAL NOT NULL, antenna_factor_db_m REAL NOT NULL, software TEXT NOT NULL,
    capabilities TEXT NOT NULL, first_seen TEXT NOT NULL, last_seen TEXT NOT NULL,
    last_seq INTEGER, last_profile TEXT, health TEXT NOT NULL DEFAULT '{}')""",
    f"""CREATE TABLE IF NOT EXISTS emissions (
    sensor_id TEXT NOT NULL, seq INTEGER NOT NULL, t_utc TEXT NOT NULL, profile TEXT NOT NULL,
    spectrum_seq INTEGER, noise_floor_dbm REAL NOT NULL, antenna_factor_db_m REAL NOT NULL,
    {", ".join(f"{k} REAL NOT NULL" for k in EMISSION_FIELDS)})""",
    "CREATE INDEX IF NOT EXISTS emissions_by_sensor ON emissions (sensor_id, t_utc)",
    "CREATE INDEX IF NOT EXISTS emissions_by_freq ON emissions (center_hz)",
    """CREATE TABLE IF NOT EXISTS occupancy (
    sensor_id TEXT NOT NULL, seq INTEGER NOT NULL, profile TEXT NOT NULL, t_start_utc TEXT NOT NULL,
    t_end_utc TEXT NOT NULL, revisits INTEGER NOT NULL, threshold_dbm REAL NOT NULL, fbo REAL NOT NULL,
    channel_centers_hz BLOB NOT NULL, fco BLOB NOT NULL, PRIMARY KEY (sensor_id, seq))""",
    "CREATE INDEX IF NOT EXISTS occupancy_by_profile ON occupancy (sensor_id, profile, t_end_utc)",
    """CREATE TABLE IF NOT EXISTS health (
    sensor_id TEXT NOT NULL, seq INTEGER NOT NULL, t_utc TEXT NOT NULL, health TEXT NOT NULL,
    PRIMARY KEY (sensor_id, seq))""",
    """CREATE TABLE IF NOT EXISTS alerts (
    id TEXT PRIMARY KEY, state TEXT NOT NULL, provinces TEXT NOT NULL, severity TEXT,
    first_seen TEXT, last_seen TEXT, json TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS alerts_by_state ON alerts (state)",
    """CREATE TABLE IF NOT EXISTS evidence (
    capture_id TEXT PRIMARY KEY, alert_id TEXT NOT NULL, sensor_id TEXT NOT NULL, ordered_utc TEXT NOT NULL,
    status TEXT NOT NULL, path TEXT)""",
    "CREATE INDEX IF NOT EXISTS evidence_by_alert ON evidence (alert_id)",
    """CREATE TABLE IF NOT EXISTS counters (kind TEXT NOT NULL, key TEXT NOT NULL, n INTEGER NOT NULL,
    PRIMARY KEY (kind, key))""",
)

_SCHEMA_V2 = (  # federation: who wrote an alert, its cluster key and link, forward-only state, revisions
    "ALTER TABLE alerts ADD COLUMN centre TEXT",
    "ALTER TABLE alerts ADD COLUMN band TEXT",
    "ALTER TABLE alerts ADD COLUMN channel_hz REAL",
    "ALTER TABLE alerts ADD COLUMN cluster_key TEXT",
    "ALTER TABLE alerts ADD COLUMN canonical_id TEXT",
    "ALTER TABLE alerts ADD COLUMN acknowledged_by TEXT",
    "ALTER TABLE alerts ADD COLUMN resolved_by TEXT",
    "ALTER TABLE alerts ADD COLUMN rev INTEGER NOT NULL DEFAULT 0",
    # One active, unlinked alert per cross-border emitter: the database decides between centres.
    """CREATE UNIQUE INDEX alerts_active_cluster ON alerts (band, channel_hz, cluster_key)
       WHERE cluster_key IS NOT NULL AND canonical_id IS NULL AND state <> 'resolved'""",
    "CREATE INDEX alerts_by_rev ON alerts (rev)",
    "CREATE TABLE alert_rev (one INTEGER PRIMARY KEY, n INTEGER NOT NULL)",
    "INSERT INTO alert_rev (one, n) VALUES (1, 0)",
    """CREATE TABLE alert_actions (
    action_id INTEGER PRIMARY KEY, alert_id TEXT NOT NULL, centre TEXT NOT NULL, action TEXT NOT NULL,
    by_whom TEXT NOT NULL, note TEXT, t_utc TEXT NOT NULL, done INTEGER NOT NULL DEFAULT 0)""",
    "CREATE INDEX alert_actions_pending ON alert_actions (centre, done)",
    "CREATE INDEX emissions_by_time ON emissions (t_utc)",
)

_SCHEMA_V3 = (  # federation: each centre's heartbeat, so the others can take over its alerts when it is down
    "CREATE TABLE centres (code TEXT PRIMARY KEY, last_beat_utc TEXT NOT NULL, info TEXT NOT NULL DEFAULT '{}')",
)

MIGRATIONS: tuple[Migration, ...] = (
    Migration(_SCHEMA_V1, "first schema"),
    Migration(_SCHEMA_V2, "federation: alert ownership, links, revisions, actions"),
    Migration(_SCHEMA_V3, "federation: centre heartbeats"),
)
SCHEMA_VERSION = len(MIGRATIONS)

#: State order: an alert's state never moves back (another centre's ack survives a late update).
_STATE_RANK = "(CASE {} WHEN 'resolved' THEN 2 WHEN 'acknowledged' THEN 1 ELSE 0 END)"


def _legacy_version(db: Database) -> int:
    """A SQLite server file written before versioned migrations records schema 1 in ``meta``."""
    if db.is_postgres:
        return 0
    if not db.fetchone("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'meta'"):
        return 0
    row = db.fetchone("SELECT value FROM meta WHERE key = 'schema_version'")
    return int(row[0]) if row else 0


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


@dataclass(frozen=True)
class AlertClaim:
    """An alert's standing between federated centres, as the shared store has it."""

    centre: str | None
    state: str
    cluster_key: str | None
    acknowledged_by: str | None


class Store:
    """The server database (SQLite file or shared PostgreSQL); one transaction per drained batch.

    ``path``: a SQLite file, or a ``postgresql://`` URL. ``centre``: the province code of the
    monitoring centre writing (federation); it keys the counters and marks the alerts this centre
    wrote, so centres sharing one database keep their own counters and restore only their own
    engine state. ``None`` (one server) reads and writes everything.
    """

    def __init__(self, path: Path | str, *, fsync: bool = False, centre: str | None = None) -> None:
        self.path = path if is_postgres_url(str(path)) else Path(path)
        self.centre = centre
        try:
            self.db: Database = open_database(str(path) if is_postgres_url(str(path)) else Path(path), fsync=fsync,
                                                    schema="coordination")
            migrate(self.db, "server", MIGRATIONS, legacy_version=_legacy_version)
            self.db.execute("INSERT INTO meta (key, value) VALUES ('schema_version', ?) "
                            "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (str(SCHEMA_VERSION),))
        except SchemaError:
            raise
        except DatabaseError as exc:
            raise StorageError(str(exc)) from exc
        except Exception as exc:
            raise StorageError(f"cannot open the server database {path}: {exc}") from exc
        self._errors = self.db.errors
        #: What the driver raises (sqlite3.Error or psycopg.Error), for callers that catch storage failures.
        self.errors: tuple[type[BaseException], ...] = self.db.errors
        self._in_tx = False
        self._ranges: dict[str, SeqRanges] = {}
        self._pending_ranges: dict[str, SeqRanges] = {}

    @property
    def shared(self) -> bool:
        """Whether this store is the PostgreSQL the centres share."""
        return self.db.is_postgres

    # ------------------------------------------------------------ transactions

    def begin(self) -> None:
        """Start the batch transaction (idempotent)."""
        if not self._in_tx:
            self.db.begin()
            self._in_tx = True

    def commit(self) -> None:
        """Commit the batch; raise StorageError (after rolling back) when it cannot be written."""
        if not self._in_tx:
            return
        try:
            self.db.commit()
        except self._errors as exc:
            self.rollback()
            raise StorageError(f"commit to {self.db.describe()} failed: {exc}") from exc
        finally:
            self._in_tx = False
        self._ranges.update(self._pending_ranges)  # the ledger in memory follows only what is committed
        self._pending_ranges.clear()

    def savepoint(self) -> None:
        """Mark a point inside the batch so one message's writes can be undone alone."""
        self.begin()
        self.db.execute("SAVEPOINT msg")

    def release_savepoint(self) -> None:
        self.db.execute("RELEASE SAVEPOINT msg")

    def rollback_savepoint(self) -> None:
        try:
            self.db.execute("ROLLBACK TO SAVEPOINT msg")
            self.db.execute("RELEASE SAVEPOINT msg")
        except self._errors:
            log.debug("rollback to savepoint failed", exc_info=True)

    def rollback(self) -> None:
        self.db.rollback()
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
            rows = self.db.fetchall("SELECT lo, hi FROM received_ranges WHERE sensor_id=?", (sensor_id,))
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
            "INSERT INTO received_counts VALUES (?, ?, ?) ON CONFLICT(sensor_id, type) "
            "DO UPDATE SET n=received_counts.n+excluded.n",
            sorted((sid, t, n) for (sid, t), n in counts.items()))

    def count_received(self, sensor_id: str | None = None, mtype: str | None = None) -> int:
        """How many messages were stored (per sensor and/or type)."""
        q = "SELECT COALESCE(SUM(n), 0) FROM received_counts WHERE 1=1"
        args: list[str] = []
        if sensor_id is not None:
            q, args = q + " AND sensor_id=?", [*args, sensor_id]
        if mtype is not None:
            q, args = q + " AND type=?", [*args, mtype]
        row = self.db.fetchone(q, args)
        return int(row[0]) if row else 0

    def received_ranges(self, sensor_id: str) -> list[tuple[int, int]]:
        """The committed ledger of a sensor as (lo, hi) ranges, read from the database."""
        return [(int(a), int(b)) for a, b in self.db.fetchall(
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
            "UPDATE sensors SET last_seen=?, last_seq=COALESCE(GREATEST(COALESCE(last_seq, -1), ?), last_seq), "
            "last_profile=COALESCE(?, last_profile) WHERE sensor_id=?",
            sorted(((seen, seq, prof, sid) for sid, seq, prof, seen in rows), key=lambda r: r[3]))

    def set_health(self, sensor_id: str, seq: int, t_utc: str, health: Mapping[str, float]) -> None:
        self.begin()
        text = json.dumps(dict(health))
        self.db.execute("UPDATE sensors SET health=? WHERE sensor_id=?", (text, sensor_id))
        self.db.execute("INSERT INTO health VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING", (sensor_id, seq, t_utc, text))

    def sensors(self, provinces: Sequence[str] | None = None) -> list[SensorRecord]:
        """Registered sensors (of ``provinces`` when given: a centre loads only its own)."""
        q, args = ("SELECT sensor_id, province, lat, lon, height_m, antenna_factor_db_m, software, capabilities, "
                   "first_seen, last_seen, last_seq, last_profile, health FROM sensors"), []
        if provinces:
            q += f" WHERE province IN ({','.join('?' * len(provinces))})"
            args = list(provinces)
        rows = self.db.fetchall(q + " ORDER BY sensor_id", args)
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

    def emissions_since(self, t_utc: str, sensor_ids: Sequence[str], limit: int = 100_000) -> list[dict[str, Any]]:
        """Emission rows of ``sensor_ids`` with ``t_utc`` at or after ``t_utc``, oldest first (catch-up)."""
        if not sensor_ids:
            return []
        cur = self.db.execute(
            f"SELECT * FROM emissions WHERE t_utc >= ? AND sensor_id IN ({','.join('?' * len(sensor_ids))}) "
            "ORDER BY t_utc, sensor_id, seq LIMIT ?", (t_utc, *sensor_ids, limit))
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r)) for r in cur.fetchall()]

    def insert_occupancy(self, msg: Occupancy) -> None:
        self.begin()
        self.db.execute(
            "INSERT INTO occupancy VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (msg.sensor_id, msg.seq, msg.profile, msg.t_start_utc, msg.t_end_utc, msg.revisits, msg.threshold_dbm,
             msg.fbo, np.ascontiguousarray(msg.channel_centers_hz, "<f8").tobytes(),
             np.ascontiguousarray(msg.fco, "<f4").tobytes()))

    def occupancy(self, sensor_id: str, profile: str, limit: int = 100) -> tuple[np.ndarray, list[dict[str, Any]]]:
        """Channel centres of the latest row and the latest ``limit`` rows (oldest first)."""
        rows = self.db.fetchall(
            "SELECT t_start_utc, t_end_utc, fbo, channel_centers_hz, fco FROM occupancy "
            "WHERE sensor_id=? AND profile=? ORDER BY t_end_utc DESC LIMIT ?", (sensor_id, profile, limit))
        rows.reverse()
        centers = np.frombuffer(bytes(rows[-1][3]), "<f8") if rows else np.zeros(0)
        out = [{"t_start_utc": r[0], "t_end_utc": r[1], "fbo": r[2],
                "fco": np.round(np.frombuffer(bytes(r[4]), "<f4").astype(float), 4).tolist()} for r in rows]
        return centers, out

    # ------------------------------------------------------------ alerts

    def _next_rev(self) -> int:
        row = self.db.fetchone("UPDATE alert_rev SET n = n + 1 WHERE one = 1 RETURNING n")
        assert row is not None
        return int(row[0])

    @staticmethod
    def _alert_columns(doc: Mapping[str, Any]) -> tuple[Any, ...]:
        provinces = sorted(set(doc.get("provinces_source") or []) | set(doc.get("provinces_affected") or []))
        ch = doc.get("channel_hz")
        return (str(doc["id"]), str(doc.get("state", "open")), "," + ",".join(provinces) + ",", doc.get("severity"),
                doc.get("first_seen"), doc.get("last_seen"), json.dumps(doc, separators=(",", ":")),
                doc.get("band"), None if ch is None else float(ch), doc.get("acknowledged_by"), doc.get("resolved_by"))

    _UPSERT = (
        "INSERT INTO alerts (id, state, provinces, severity, first_seen, last_seen, json, band, channel_hz, "
        "acknowledged_by, resolved_by, centre, cluster_key, canonical_id, rev) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (id) DO UPDATE SET "
        f"state = CASE WHEN {_STATE_RANK.format('alerts.state')} > {_STATE_RANK.format('excluded.state')} "
        "THEN alerts.state ELSE excluded.state END, "
        "provinces = excluded.provinces, severity = excluded.severity, first_seen = excluded.first_seen, "
        "last_seen = excluded.last_seen, json = excluded.json, band = excluded.band, channel_hz = excluded.channel_hz, "
        "acknowledged_by = COALESCE(alerts.acknowledged_by, excluded.acknowledged_by), "
        "resolved_by = COALESCE(alerts.resolved_by, excluded.resolved_by), "
        "centre = COALESCE(alerts.centre, excluded.centre), "
        "cluster_key = COALESCE(excluded.cluster_key, alerts.cluster_key), "
        "canonical_id = COALESCE(excluded.canonical_id, alerts.canonical_id), rev = excluded.rev"
    )

    def save_alert_json(self, doc: Mapping[str, Any], *, cluster_key: str | None = None,
                        canonical_id: str | None = None) -> None:
        """Upsert an alert document; its state only moves forward (see module docstring).

        ``cluster_key``: the cross-border key this alert stands for (claimed with :meth:`claim_alert`);
        ``canonical_id``: another centre's alert this one links to (then hidden from listings).
        """
        self.begin()
        self.db.execute(self._UPSERT, (*self._alert_columns(doc), self.centre, cluster_key, canonical_id,
                                       self._next_rev()))

    def claim_alert(self, doc: Mapping[str, Any], cluster_key: str) -> str:
        """Make ``doc`` the one active alert for its (band, channel, ``cluster_key``), or link it to the
        alert another centre already made; return the id that stands for the emitter.

        The partial unique index decides, inside the database: of several centres claiming at once,
        exactly one insert succeeds, the others see a unique violation (PostgreSQL waits for the first
        transaction to commit or roll back before deciding) and link to the winner.
        """
        self.begin()
        alert_id = str(doc["id"])
        self.db.execute("SAVEPOINT claim")
        try:
            self.db.execute(self._UPSERT, (*self._alert_columns(doc), self.centre, cluster_key, None,
                                           self._next_rev()))
        except self.db.integrity_errors:
            self.db.execute("ROLLBACK TO SAVEPOINT claim")
            self.db.execute("RELEASE SAVEPOINT claim")
        else:
            self.db.execute("RELEASE SAVEPOINT claim")
            return alert_id
        winner = self.standing_alert(doc.get("band"), float(doc.get("channel_hz") or 0.0), cluster_key)
        if winner is None:  # the winner was resolved meanwhile: claim again
            return self.claim_alert(doc, cluster_key)
        self.save_alert_json(doc, cluster_key=cluster_key, canonical_id=winner)
        return winner

    def standing_alert(self, band: str | None, channel_hz: float, cluster_key: str) -> str | None:
        """The id of the active, unlinked alert that stands for (band, channel, ``cluster_key``), if any."""
        row = self.db.fetchone(
            "SELECT id FROM alerts WHERE band = ? AND channel_hz = ? AND cluster_key = ? AND canonical_id IS NULL "
            "AND state <> 'resolved'", (band, channel_hz, cluster_key))
        return None if row is None else str(row[0])

    def active_claims(self, centre: str) -> list[tuple[str, str | None, str | None]]:
        """(alert id, cluster key, linked-to id) of the unresolved alerts ``centre`` wrote (its state
        after a restart)."""
        return [(str(r[0]), r[1], r[2]) for r in self.db.fetchall(
            "SELECT id, cluster_key, canonical_id FROM alerts WHERE centre = ? AND state <> 'resolved'", (centre,))]

    def alert_claim(self, alert_id: str) -> AlertClaim | None:
        """Who owns ``alert_id``, its state, key and acknowledgement (None: no such alert)."""
        row = self.db.fetchone("SELECT centre, state, cluster_key, acknowledged_by FROM alerts WHERE id = ?",
                               (alert_id,))
        return None if row is None else AlertClaim(row[0], str(row[1]), row[2], row[3])

    def alert_link(self, alert_id: str) -> str | None:
        """The alert ``alert_id`` links to (another centre's), or None when it stands for itself."""
        row = self.db.fetchone("SELECT canonical_id FROM alerts WHERE id=?", (alert_id,))
        return None if row is None or row[0] is None else str(row[0])

    @staticmethod
    def _overlay(row: Sequence[Any]) -> dict[str, Any]:
        """The stored document with the state columns (which only move forward) laid over it."""
        doc = json.loads(row[0])
        state, acked, resolved = row[1], row[2], row[3]
        if state != doc.get("state"):
            doc["state"] = state
            doc["event"] = {"acknowledged": "acknowledged", "resolved": "resolved"}.get(state, doc.get("event"))
        if acked and not doc.get("acknowledged_by"):
            doc["acknowledged_by"] = acked
        if resolved and not doc.get("resolved_by"):
            doc["resolved_by"] = resolved
        if len(row) > 4 and row[4]:
            doc["centre"] = row[4]
        return doc

    def alert_json(self, alert_id: str) -> dict[str, Any] | None:
        row = self.db.fetchone("SELECT json, state, acknowledged_by, resolved_by, centre FROM alerts WHERE id=?",
                               (alert_id,))
        return self._overlay(row) if row else None

    def list_alert_json(self, states: Sequence[str] | None = None, province: str | None = None,
                        limit: int = 10_000, *, own_only: bool = False) -> list[dict[str, Any]]:
        """Alerts (newest first) without the ones linked to another centre's alert.

        ``own_only``: only those this centre wrote (what its engine restores at start).
        """
        q = "SELECT json, state, acknowledged_by, resolved_by, centre FROM alerts WHERE canonical_id IS NULL"
        args: list[Any] = []
        if own_only:
            q, args = (q.replace("WHERE canonical_id IS NULL", "WHERE 1=1"), args)
            if self.centre is not None:
                q += " AND centre = ?"
                args.append(self.centre)
        if states:
            q += f" AND state IN ({','.join('?' * len(states))})"
            args += list(states)
        if province:
            q += " AND provinces LIKE ?"
            args.append(f"%,{province},%")
        q += " ORDER BY last_seen DESC, id LIMIT ?"
        args.append(limit)
        return [self._overlay(r) for r in self.db.fetchall(q, args)]

    def alerts_since(self, rev: int, province: str | None = None,
                     limit: int = 1000) -> tuple[int, list[dict[str, Any]]]:
        """Alert documents written after revision ``rev`` (standing alerts only), and the last revision seen.

        Revisions are taken under the counter row's lock, so they commit in order: following
        ``rev > last`` misses nothing another centre wrote.
        """
        q = ("SELECT json, state, acknowledged_by, resolved_by, centre, rev FROM alerts "
             "WHERE rev > ? AND canonical_id IS NULL")
        args: list[Any] = [rev]
        if province:
            q += " AND provinces LIKE ?"
            args.append(f"%,{province},%")
        rows = self.db.fetchall(q + " ORDER BY rev LIMIT ?", [*args, limit])
        last = max([rev, *(int(r[5]) for r in rows)])
        return last, [self._overlay(r) for r in rows]

    def alert_revision(self) -> int:
        row = self.db.fetchone("SELECT n FROM alert_rev WHERE one = 1")
        return int(row[0]) if row else 0

    def alert_owner(self, alert_id: str) -> str | None:
        """The centre that wrote ``alert_id`` (None: a single server, or unknown)."""
        row = self.db.fetchone("SELECT centre FROM alerts WHERE id=?", (alert_id,))
        return None if row is None else row[0]

    def apply_alert_action(self, alert_id: str, action: str, by: str, note: str | None, now_iso: str) -> dict[str, Any]:
        """Acknowledge/resolve an alert another centre wrote, in the database; queue the action for it.

        The state moves forward at once (visible in every centre); the owner applies the action to
        its engine when it next looks (:meth:`pending_actions`), so its later updates agree.
        """
        if action not in ("acknowledge", "resolve"):
            raise ValueError(f"unknown alert action {action!r}")
        self.begin()
        row = self.db.fetchone("SELECT centre FROM alerts WHERE id=? AND canonical_id IS NULL", (alert_id,))
        if row is None:
            raise KeyError(alert_id)
        state, col = ("acknowledged", "acknowledged_by") if action == "acknowledge" else ("resolved", "resolved_by")
        self.db.execute(
            f"UPDATE alerts SET state = CASE WHEN {_STATE_RANK.format('state')} >= {_STATE_RANK.format('?')} "
            f"THEN state ELSE ? END, {col} = COALESCE({col}, ?), rev = ? WHERE id = ?",
            (state, state, by, self._next_rev(), alert_id))
        self.db.execute("INSERT INTO alert_actions (alert_id, centre, action, by_whom, note, t_utc) "
                        "VALUES (?, ?, ?, ?, ?, ?)", (alert_id, row[0] or "", action, by, note, now_iso))
        doc = self.alert_json(alert_id)
        assert doc is not None
        if note:
            doc["note"] = note if not doc.get("note") else f"{doc['note']}; {note}"
        return doc

    def beat(self, now_iso: str, info: Mapping[str, Any] | None = None) -> None:
        """Record that this centre is alive (in the open transaction; the caller commits)."""
        if self.centre is None:
            return
        self.begin()
        self.db.execute("INSERT INTO centres (code, last_beat_utc, info) VALUES (?, ?, ?) ON CONFLICT (code) "
                        "DO UPDATE SET last_beat_utc = excluded.last_beat_utc, info = excluded.info",
                        (self.centre, now_iso, json.dumps(dict(info or {}))))

    def centre_beats(self) -> dict[str, str]:
        """Last heartbeat (ISO UTC) of every centre that ever beat."""
        return {str(c): str(t) for c, t in self.db.fetchall("SELECT code, last_beat_utc FROM centres")}

    def take_over_alert(self, standing_id: str, from_centre: str, local_id: str, key: str,
                        now_iso: str) -> bool:
        """Replace ``standing_id`` (owned by ``from_centre``, which has stopped beating) by our linked
        ``local_id``: one transaction; False when another centre did it first or the owner moved it.

        The old alert is resolved (forward-only state; its row names the successor in ``note`` via the
        caller's publication), ours stops linking and takes its cluster key. The partial unique index
        still guarantees one standing alert per key should two centres try at once.
        """
        self.begin()
        self.db.execute("SAVEPOINT takeover")
        try:
            row = self.db.fetchone(
                "UPDATE alerts SET state = 'resolved', resolved_by = COALESCE(resolved_by, ?), rev = ? "
                "WHERE id = ? AND centre = ? AND state <> 'resolved' RETURNING id",
                (f"federation:{self.centre}", self._next_rev(), standing_id, from_centre))
            if row is None:
                self.db.execute("ROLLBACK TO SAVEPOINT takeover")
                self.db.execute("RELEASE SAVEPOINT takeover")
                return False
            self.db.execute("UPDATE alerts SET canonical_id = NULL, cluster_key = ?, rev = ? WHERE id = ?",
                            (key, self._next_rev(), local_id))
        except self.db.integrity_errors:
            self.db.execute("ROLLBACK TO SAVEPOINT takeover")
            self.db.execute("RELEASE SAVEPOINT takeover")
            return False
        self.db.execute("RELEASE SAVEPOINT takeover")
        return True

    def pending_actions(self) -> list[tuple[int, str, str, str, str | None]]:
        """(action_id, alert_id, action, by, note) queued by other centres for this centre's alerts."""
        return [(int(r[0]), r[1], r[2], r[3], r[4]) for r in self.db.fetchall(
            "SELECT action_id, alert_id, action, by_whom, note FROM alert_actions WHERE centre = ? AND done = 0 "
            "ORDER BY action_id", (self.centre or "",))]

    def action_done(self, action_id: int) -> None:
        self.begin()
        self.db.execute("UPDATE alert_actions SET done = 1 WHERE action_id = ?", (action_id,))

    # ------------------------------------------------------------ evidence orders

    def order_evidence(self, capture_id: str, alert_id: str, sensor_id: str, now_iso: str) -> None:
        self.begin()
        self.db.execute("INSERT INTO evidence VALUES (?, ?, ?, ?, 'ordered', NULL) ON CONFLICT DO NOTHING",
                        (capture_id, alert_id, sensor_id, now_iso))

    def evidence_order(self, capture_id: str) -> tuple[str, str, str] | None:
        """(alert_id, sensor_id, status) of an ordered capture."""
        row = self.db.fetchone("SELECT alert_id, sensor_id, status FROM evidence WHERE capture_id=?", (capture_id,))
        return (row[0], row[1], row[2]) if row else None

    def complete_evidence(self, capture_id: str, path: str) -> None:
        self.begin()
        self.db.execute("UPDATE evidence SET status='complete', path=? WHERE capture_id=?", (path, capture_id))

    def evidence_for(self, alert_id: str) -> list[dict[str, Any]]:
        rows = self.db.fetchall("SELECT capture_id, sensor_id, status, path FROM evidence WHERE alert_id=? "
                                "ORDER BY ordered_utc", (alert_id,))
        return [{"capture_id": r[0], "sensor_id": r[1], "status": r[2], "path": r[3]} for r in rows]

    # ------------------------------------------------------------ counters

    def _counter_kind(self, kind: str) -> str:
        return kind if self.centre is None else f"{self.centre}/{kind}"

    def save_counters(self, rows: Iterable[tuple[str, str, int]]) -> None:
        self.begin()
        self.db.executemany("INSERT INTO counters VALUES (?, ?, ?) ON CONFLICT (kind, key) "
                            "DO UPDATE SET n = excluded.n",
                            sorted((self._counter_kind(k), key, n) for k, key, n in rows))

    def load_counters(self) -> list[tuple[str, str, int]]:
        prefix = "" if self.centre is None else f"{self.centre}/"
        out = []
        for kind, key, n in self.db.fetchall("SELECT kind, key, n FROM counters"):
            if prefix and not kind.startswith(prefix):
                continue
            if not prefix and "/" in kind:
                continue
            out.append((kind[len(prefix):], key, int(n)))
        return out


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
        """The active alerts this server wrote (in a shared database, not the other centres' ones)."""
        return [self.decode(d) for d in reversed(self.store.list_alert_json(self.ACTIVE_STATES, own_only=True))]

    def get(self, alert_id: str) -> Any | None:
        doc = self.store.alert_json(alert_id)
        return None if doc is None else self.decode(doc)

    def list(self, state: str | None = None, province: str | None = None) -> list[Any]:
        states = None if state in (None, "all") else [state]
        return [self.decode(d) for d in self.store.list_alert_json(states, province)]
