"""The sensors' measurement summaries: emissions and occupancy (spectra go to the HDF5 archive).

Emissions are one row per detected emission (the rules engine's input; a federated centre replays
its peers' border emissions from here after a restart); occupancy is one row per summary
message, the channel centres and per-channel occupancy kept as little-endian arrays.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from coordination.protocol import EMISSION_FIELDS, Emissions, Occupancy
from coordination.store.unit import UnitOfWork


class SummaryRepository:
    """Emission rows (table ``emissions``) and occupancy summaries (table ``occupancy``)."""

    def __init__(self, unit: UnitOfWork) -> None:
        self.unit = unit
        self.db = unit.db

    def insert_emissions(self, msg: Emissions) -> None:
        self.unit.begin()
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

    def insert_occupancy(self, msg: Occupancy, epoch: str = "") -> None:
        """Store an occupancy summary of the sensor's spool ``epoch`` (idempotent by sensor, epoch, seq)."""
        self.unit.begin()
        self.db.execute(
            "INSERT INTO occupancy (sensor_id, epoch, seq, profile, t_start_utc, t_end_utc, revisits, threshold_dbm, "
            "fbo, channel_centers_hz, fco) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (msg.sensor_id, epoch, msg.seq, msg.profile, msg.t_start_utc, msg.t_end_utc, msg.revisits,
             msg.threshold_dbm, msg.fbo, np.ascontiguousarray(msg.channel_centers_hz, "<f8").tobytes(),
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
