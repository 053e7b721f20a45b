"""The server database's schema: versioned migrations, the same for SQLite and PostgreSQL.

:func:`station_db.backend.migrate` applies them in order and records the version; a new version
is a new :class:`Migration` at the end (never an edit of an old one: a database in the field
already ran it).
"""

from __future__ import annotations

from coordination.protocol import EMISSION_FIELDS
from station_db.backend import Database, Migration

SCHEMA_V1 = (
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

SCHEMA_V2 = (  # federation: who wrote an alert, its cluster key and link, forward-only state, revisions
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

SCHEMA_V3 = (  # federation: each centre's heartbeat, so the others can take over its alerts when it is down
    "CREATE TABLE centres (code TEXT PRIMARY KEY, last_beat_utc TEXT NOT NULL, info TEXT NOT NULL DEFAULT '{}')",
)

SCHEMA_V4 = (  # enforcement cases (IF NOT EXISTS: databases that ran the cases' first, separate migration)
    """CREATE TABLE IF NOT EXISTS case_events (
        case_id TEXT NOT NULL, seq INTEGER NOT NULL, kind TEXT NOT NULL, t_utc TEXT NOT NULL, actor TEXT NOT NULL,
        province TEXT NOT NULL, data TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL, centre TEXT,
        PRIMARY KEY (case_id, seq))""",
    """CREATE TABLE IF NOT EXISTS cases (
        case_id TEXT PRIMARY KEY, alert_id TEXT NOT NULL UNIQUE, state TEXT NOT NULL, holder TEXT NOT NULL,
        provinces TEXT NOT NULL, severity TEXT NOT NULL, opened_at TEXT NOT NULL, updated_at TEXT NOT NULL,
        n_events INTEGER NOT NULL, head_hash TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS cases_state ON cases (state, updated_at)",
    """CREATE TABLE IF NOT EXISTS tasking_audit (
        id INTEGER PRIMARY KEY, t_utc TEXT NOT NULL, request_id TEXT NOT NULL, what TEXT NOT NULL,
        by_whom TEXT NOT NULL, detail TEXT NOT NULL, centre TEXT)""",
)

SCHEMA_V5 = (  # joint enforcement: tasking requests and campaign plans survive a restart
    """CREATE TABLE tasking_requests (
        id TEXT PRIMARY KEY, owner TEXT NOT NULL, from_province TEXT NOT NULL, state TEXT NOT NULL,
        requested_utc TEXT NOT NULL, doc TEXT NOT NULL, centre TEXT)""",
    "CREATE INDEX tasking_requests_owner ON tasking_requests (owner, state)",
    """CREATE TABLE campaigns (
        id TEXT PRIMARY KEY, state TEXT NOT NULL, doc TEXT NOT NULL, report TEXT, centre TEXT)""",
)

SCHEMA_V6 = (  # spool epochs: the idempotence key is (sensor, epoch, seq); rows written before keep epoch ''
    "ALTER TABLE sensors ADD COLUMN epoch TEXT NOT NULL DEFAULT ''",
    """CREATE TABLE received_ranges_v4 (
    sensor_id TEXT NOT NULL, epoch TEXT NOT NULL, lo INTEGER NOT NULL, hi INTEGER NOT NULL,
    PRIMARY KEY (sensor_id, epoch, lo)) WITHOUT ROWID""",
    "INSERT INTO received_ranges_v4 (sensor_id, epoch, lo, hi) SELECT sensor_id, '', lo, hi FROM received_ranges",
    "DROP TABLE received_ranges",
    "ALTER TABLE received_ranges_v4 RENAME TO received_ranges",
    # occupancy and health rows are keyed by seq too: a new epoch's seq 5 is not the old epoch's seq 5
    """CREATE TABLE occupancy_v4 (
    sensor_id TEXT NOT NULL, epoch TEXT NOT NULL, seq INTEGER NOT NULL, profile TEXT NOT NULL,
    t_start_utc TEXT NOT NULL, t_end_utc TEXT NOT NULL, revisits INTEGER NOT NULL, threshold_dbm REAL NOT NULL,
    fbo REAL NOT NULL, channel_centers_hz BLOB NOT NULL, fco BLOB NOT NULL, PRIMARY KEY (sensor_id, epoch, seq))""",
    """INSERT INTO occupancy_v4 (sensor_id, epoch, seq, profile, t_start_utc, t_end_utc, revisits, threshold_dbm,
    fbo, channel_centers_hz, fco) SELECT sensor_id, '', seq, profile, t_start_utc, t_end_utc, revisits,
    threshold_dbm, fbo, channel_centers_hz, fco FROM occupancy""",
    "DROP TABLE occupancy",
    "ALTER TABLE occupancy_v4 RENAME TO occupancy",
    "CREATE INDEX occupancy_by_profile ON occupancy (sensor_id, profile, t_end_utc)",
    """CREATE TABLE health_v4 (
    sensor_id TEXT NOT NULL, epoch TEXT NOT NULL, seq INTEGER NOT NULL, t_utc TEXT NOT NULL, health TEXT NOT NULL,
    PRIMARY KEY (sensor_id, epoch, seq))""",
    "INSERT INTO health_v4 (sensor_id, epoch, seq, t_utc, health) SELECT sensor_id, '', seq, t_utc, health FROM health",
    "DROP TABLE health",
    "ALTER TABLE health_v4 RENAME TO health",
)

SCHEMA_V7 = (  # coordination requests (IF NOT EXISTS: databases that ran their separate 'coord_requests' migration)
    """CREATE TABLE IF NOT EXISTS coord_requests (
        id TEXT PRIMARY KEY, province TEXT NOT NULL, station_id TEXT NOT NULL, state TEXT NOT NULL,
        submitted_at TEXT NOT NULL, rev INTEGER NOT NULL DEFAULT 0, json TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS coord_requests_by_state ON coord_requests (state, submitted_at)",
    """CREATE TABLE IF NOT EXISTS coord_audit (
        entry_id INTEGER PRIMARY KEY, request_id TEXT NOT NULL, t_utc TEXT NOT NULL, actor TEXT NOT NULL,
        province TEXT NOT NULL, action TEXT NOT NULL, detail TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS coord_audit_by_request ON coord_audit (request_id, entry_id)",
)

SCHEMA_V8 = (  # what the rules engine learnt from its own judgements survives a restart (one row per centre)
    """CREATE TABLE learnt_state (
        centre TEXT PRIMARY KEY, doc TEXT NOT NULL, saved_utc TEXT NOT NULL)""",
)

MIGRATIONS: tuple[Migration, ...] = (
    Migration(SCHEMA_V1, "first schema"),
    Migration(SCHEMA_V2, "federation: alert ownership, links, revisions, actions"),
    Migration(SCHEMA_V3, "federation: centre heartbeats"),
    Migration(SCHEMA_V4, "enforcement cases: event log, summaries, tasking audit"),
    Migration(SCHEMA_V5, "joint enforcement: tasking requests, campaign plans"),
    Migration(SCHEMA_V6, "spool epochs: ledger, occupancy and health keyed by (sensor, epoch, seq)"),
    Migration(SCHEMA_V7, "coordination requests and their audit log"),
    Migration(SCHEMA_V8, "the rules engine's learnt state (level spread, e.r.p. bias)"),
)
SCHEMA_VERSION = len(MIGRATIONS)


def legacy_version(db: Database) -> int:
    """A SQLite server file written before versioned migrations records schema 1 in ``meta``."""
    if db.is_postgres:
        return 0
    if not db.fetchone("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'meta'"):
        return 0
    row = db.fetchone("SELECT value FROM meta WHERE key = 'schema_version'")
    return int(row[0]) if row else 0
