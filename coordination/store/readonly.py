"""Read-only queries on a server database file, for readers beside (or after) a running server.

The console's replay mode and the reports read ``<data>/server.db`` while the server may still be
writing it: the file is opened ``mode=ro`` with ``query_only``, nothing here can write. Rows come
back as plain tuples in the documented column order of each method; the callers turn them into
their own typed values. A table the file does not have yet (an older schema) reads as empty.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from coordination.store.sensors import SensorRecord

log = logging.getLogger(__name__)


class ReadOnlyStoreError(ValueError):
    """The database file cannot be opened or read; the message names the file."""


class ReadOnlyStore:
    """Queries on a server SQLite file opened read-only (one connection, opened on first use)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._db: sqlite3.Connection | None = None

    @property
    def exists(self) -> bool:
        return self.path.exists()

    def _connection(self) -> sqlite3.Connection | None:
        if self._db is None and self.path.exists():
            try:
                self._db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
                self._db.execute("PRAGMA query_only=1")
                self._db.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
            except sqlite3.Error as exc:
                self._db = None
                raise ReadOnlyStoreError(f"cannot read {self.path}: {exc}") from exc
        return self._db

    def _query(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        db = self._connection()
        if db is None:
            return []
        try:
            return db.execute(sql, list(args)).fetchall()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                log.warning("%s has no table needed here (%s): treated as empty", self.path, exc)
                return []
            raise ReadOnlyStoreError(f"{self.path}: {exc}") from exc
        except sqlite3.Error as exc:
            raise ReadOnlyStoreError(f"{self.path}: {exc}") from exc

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def __enter__(self) -> ReadOnlyStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ sensors

    def sensors(self) -> list[SensorRecord]:
        """The sensor registry, by sensor id."""
        rows = self._query("SELECT sensor_id, province, lat, lon, height_m, antenna_factor_db_m, software, "
                           "capabilities, first_seen, last_seen, last_seq, last_profile, health FROM sensors "
                           "ORDER BY sensor_id")
        return [SensorRecord(r[0], r[1], float(r[2]), float(r[3]), float(r[4]), float(r[5]), r[6],
                             tuple(json.loads(r[7] or "[]")), r[8], r[9], r[10], r[11], json.loads(r[12] or "{}"))
                for r in rows]

    def health(self, sensor_id: str, t_from_utc: str, t_before_utc: str) -> list[tuple[str, str, str]]:
        """(sensor_id, t_utc, health JSON) of a sensor's heartbeats in [from, before), oldest first."""
        return [(r[0], r[1], r[2]) for r in self._query(
            "SELECT sensor_id, t_utc, health FROM health WHERE sensor_id=? AND t_utc>=? AND t_utc<? "
            "ORDER BY t_utc, seq", (sensor_id, t_from_utc, t_before_utc))]

    # ------------------------------------------------------------ summaries

    def occupancy(self, sensor_id: str, profile: str, t_from_utc: str | None = None,
                  t_before_utc: str | None = None) -> list[tuple[Any, ...]]:
        """(sensor_id, seq, profile, t_start_utc, t_end_utc, revisits, threshold_dbm, fbo,
        channel_centers_hz <f8 bytes, fco <f4 bytes) by end time, oldest first."""
        q = ("SELECT sensor_id, seq, profile, t_start_utc, t_end_utc, revisits, threshold_dbm, fbo, "
             "channel_centers_hz, fco FROM occupancy WHERE sensor_id=? AND profile=?")
        args: list[Any] = [sensor_id, profile]
        if t_from_utc is not None:
            q, args = q + " AND t_end_utc>=?", [*args, t_from_utc]
        if t_before_utc is not None:
            q, args = q + " AND t_end_utc<?", [*args, t_before_utc]
        return self._query(q + " ORDER BY t_end_utc, seq", args)

    def occupancy_profiles(self, sensor_id: str, t_from_utc: str, t_before_utc: str) -> list[str]:
        rows = self._query("SELECT DISTINCT profile FROM occupancy WHERE sensor_id=? AND t_end_utc>=? AND t_end_utc<?",
                           (sensor_id, t_from_utc, t_before_utc))
        return sorted(r[0] for r in rows)

    def emissions(self, t_from_utc: str, t_before_utc: str, sensor_ids: Sequence[str] | None = None, *,
                  f_lo_hz: float | None = None, f_hi_hz: float | None = None) -> list[tuple[Any, ...]]:
        """(sensor_id, t_utc, profile, center_hz, peak_dbm, power_dbm, bandwidth_xdb_hz, snr_db, f_lo_hz,
        f_hi_hz, antenna_factor_db_m) in [from, before) (of some sensors, centre in [f_lo, f_hi)), by time."""
        q = ("SELECT sensor_id, t_utc, profile, center_hz, peak_dbm, power_dbm, bandwidth_xdb_hz, snr_db, f_lo_hz, "
             "f_hi_hz, antenna_factor_db_m FROM emissions WHERE t_utc>=? AND t_utc<?")
        args: list[Any] = [t_from_utc, t_before_utc]
        if sensor_ids is not None:
            if not sensor_ids:
                return []
            q += f" AND sensor_id IN ({','.join('?' * len(sensor_ids))})"
            args += list(sensor_ids)
        if f_lo_hz is not None:
            q, args = q + " AND center_hz>=?", [*args, f_lo_hz]
        if f_hi_hz is not None:
            q, args = q + " AND center_hz<?", [*args, f_hi_hz]
        return self._query(q + " ORDER BY t_utc", args)

    # ------------------------------------------------------------ alerts

    def alert_docs(self, first_seen_before_utc: str | None = None, province: str | None = None) -> list[str]:
        """Stored alert documents (JSON text), by first_seen; optionally first seen before a time and
        involving a province (source or affected)."""
        q = "SELECT json FROM alerts WHERE 1=1"
        args: list[Any] = []
        if first_seen_before_utc is not None:
            q, args = q + " AND first_seen<?", [*args, first_seen_before_utc]
        if province:
            q, args = q + " AND provinces LIKE ?", [*args, f"%,{province},%"]
        return [r[0] for r in self._query(q + " ORDER BY first_seen, id", args)]

    def coord_request_docs(self, submitted_before_utc: str) -> list[str]:
        """Coordination request documents (JSON text) submitted before a time, oldest first."""
        return [r[0] for r in self._query(
            "SELECT json FROM coord_requests WHERE submitted_at<? ORDER BY submitted_at, id", [submitted_before_utc])]

    def alert_actions(self) -> list[tuple[str, str, str]]:
        """(alert_id, action, t_utc) of the recorded acknowledge/resolve actions, in time order."""
        return [(r[0], r[1], r[2]) for r in self._query(
            "SELECT alert_id, action, t_utc FROM alert_actions ORDER BY t_utc, action_id")]
