"""Database schema and its migrations (SQLite: ``PRAGMA user_version``; PostgreSQL: ``schema_versions``).

Each migration is plain, portable SQL written with SQLite's type names; :mod:`station_db.backend`
maps them to PostgreSQL's (identity column, BIGINT, DOUBLE PRECISION) when the four provinces share
one server. A database written by a newer program is refused rather than guessed at.
"""

from __future__ import annotations

import logging

from station_db.backend import Database, Migration, SchemaError
from station_db.backend import migrate as migrate_component

log = logging.getLogger(__name__)

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 1: first schema
    (
        """CREATE TABLE provinces (
            code TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            member INTEGER NOT NULL DEFAULT 0
        )""",
        """CREATE TABLE imports (
            import_id INTEGER PRIMARY KEY,
            province TEXT NOT NULL REFERENCES provinces(code),
            source_name TEXT NOT NULL,
            file_hash TEXT NOT NULL,
            imported_at_utc TEXT NOT NULL,
            imported_by TEXT NOT NULL DEFAULT '',
            inserted INTEGER NOT NULL,
            updated INTEGER NOT NULL,
            unchanged INTEGER NOT NULL,
            removed INTEGER NOT NULL,
            rejected INTEGER NOT NULL,
            status TEXT NOT NULL,
            message TEXT NOT NULL DEFAULT ''
        )""",
        """CREATE TABLE stations (
            province TEXT NOT NULL REFERENCES provinces(code),
            station_id TEXT NOT NULL,
            licensee TEXT NOT NULL,
            service TEXT NOT NULL,
            tx_freq_hz DOUBLE PRECISION NOT NULL,
            rx_freq_hz DOUBLE PRECISION,
            emission_designator TEXT NOT NULL,
            necessary_bw_hz DOUBLE PRECISION NOT NULL,
            tx_lo_hz DOUBLE PRECISION NOT NULL,
            tx_hi_hz DOUBLE PRECISION NOT NULL,
            erp_dbw DOUBLE PRECISION NOT NULL,
            antenna_height_m DOUBLE PRECISION NOT NULL,
            azimuth_deg DOUBLE PRECISION,
            pattern TEXT NOT NULL,
            ground_height_m DOUBLE PRECISION NOT NULL,
            lat DOUBLE PRECISION NOT NULL,
            lon DOUBLE PRECISION NOT NULL,
            valid_from TEXT NOT NULL,
            valid_to TEXT NOT NULL,
            status TEXT NOT NULL,
            occupation TEXT NOT NULL,
            import_id INTEGER REFERENCES imports(import_id),
            PRIMARY KEY (province, station_id)
        )""",
        "CREATE INDEX stations_tx_lo ON stations (tx_lo_hz)",
        "CREATE INDEX stations_bw ON stations (necessary_bw_hz)",
        "CREATE INDEX stations_lat_lon ON stations (lat, lon)",
        """CREATE TABLE sensors (
            sensor_id TEXT PRIMARY KEY,
            province TEXT NOT NULL REFERENCES provinces(code),
            lat DOUBLE PRECISION NOT NULL,
            lon DOUBLE PRECISION NOT NULL,
            antenna_height_m DOUBLE PRECISION NOT NULL,
            description TEXT NOT NULL DEFAULT '',
            public_key TEXT,
            updated_at_utc TEXT NOT NULL
        )""",
        """CREATE TABLE coordination_rules (
            name TEXT PRIMARY KEY,
            version TEXT NOT NULL,
            source TEXT NOT NULL,
            service TEXT NOT NULL,
            f_lo_hz DOUBLE PRECISION NOT NULL,
            f_hi_hz DOUBLE PRECISION NOT NULL,
            raster_hz DOUBLE PRECISION NOT NULL,
            channel_width_hz DOUBLE PRECISION NOT NULL,
            border_limit_dbuv_m DOUBLE PRECISION NOT NULL,
            time_pct DOUBLE PRECISION NOT NULL,
            margin_db DOUBLE PRECISION NOT NULL,
            priority INTEGER NOT NULL,
            safety INTEGER NOT NULL
        )""",
    ),
    # 2: the licence's free-text station name (often Chinese) and the text encoding each file was read as
    (
        "ALTER TABLE stations ADD COLUMN station_name TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE imports ADD COLUMN encoding TEXT NOT NULL DEFAULT ''",
    ),
    # 3: primary/secondary allocation status, and each station's coordination status towards its
    # neighbours. Keyed by the station's key without a foreign key: a coordination request may be
    # answered before the (proposed) station is first imported, and the outcome must wait for it.
    (
        "ALTER TABLE stations ADD COLUMN allocation TEXT NOT NULL DEFAULT 'primary'",
        """CREATE TABLE station_coordination (
            province TEXT NOT NULL,
            station_id TEXT NOT NULL,
            neighbour TEXT NOT NULL,
            status TEXT NOT NULL,
            agreed_field_dbuv_m DOUBLE PRECISION,
            reference TEXT NOT NULL DEFAULT '',
            valid_from TEXT,
            valid_to TEXT,
            updated_at_utc TEXT NOT NULL,
            PRIMARY KEY (province, station_id, neighbour)
        )""",
    ),
)
"""Migration ``i`` brings a database from ``user_version`` i to i + 1."""

SCHEMA_VERSION = len(MIGRATIONS)


__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "SchemaError", "migrate"]


def migrate(db: Database) -> int:
    """Bring the station schema of ``db`` to :data:`SCHEMA_VERSION`; return the version found."""
    return migrate_component(db, "stations", [Migration(tuple(m)) for m in MIGRATIONS])
