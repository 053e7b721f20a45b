"""The station repository: the one place that reads and writes the shared station database.

SQLite (WAL, so the server reads while an import writes) by default, or the PostgreSQL the four
provinces share (``postgresql://`` target), behind a small API of typed values. All SQL here is
parameterised and portable; :mod:`station_db.backend` absorbs the differences. Imports are atomic:
a batch is applied in a single transaction or not at all, and a province can only touch its own
stations.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace as dc_replace
from datetime import UTC, date, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from station_db._province_codes import PROVINCE_NAMES
from station_db.backend import Database, open_database
from station_db.models import MEMBER_PROVINCES, Coordination, ImportReport, Sensor, Station
from station_db.rules import BandRule, RuleSet
from station_db.schema import migrate

log = logging.getLogger(__name__)

_STATION_COLUMNS = (
    "province", "station_id", "licensee", "service", "tx_freq_hz", "rx_freq_hz", "emission_designator",
    "necessary_bw_hz", "erp_dbw", "antenna_height_m", "azimuth_deg", "pattern", "ground_height_m",
    "lat", "lon", "valid_from", "valid_to", "status", "occupation", "station_name", "allocation",
)
_SELECT_STATIONS = f"SELECT {', '.join(_STATION_COLUMNS)} FROM stations"
_IMPORT_COLUMNS = (
    "import_id", "province", "source_name", "file_hash", "imported_at_utc", "inserted", "updated",
    "unchanged", "removed", "rejected", "status", "message", "encoding",
)
_COORD_COLUMNS = ("province", "station_id", "neighbour", "status", "agreed_field_dbuv_m", "reference", "valid_from",
                  "valid_to")
_SELECT_COORD = f"SELECT {', '.join(_COORD_COLUMNS)} FROM station_coordination"
_SENSOR_COLUMNS = ("sensor_id", "province", "lat", "lon", "antenna_height_m", "description", "public_key")
_RULE_COLUMNS = (
    "name", "service", "f_lo_hz", "f_hi_hz", "raster_hz", "channel_width_hz", "border_limit_dbuv_m",
    "time_pct", "margin_db", "priority", "safety",
)
_KM_PER_DEG_LAT = 111.195
_OVERLAP_SQL = (  # params: f_hi, f_lo, f_lo. The middle bound only lets the tx_lo_hz index prune.
    "tx_lo_hz <= ? AND tx_lo_hz >= ? - (SELECT COALESCE(MAX(necessary_bw_hz), 0) + 1 FROM stations) "
    "AND tx_hi_hz >= ?"
)


class ImportRejectedError(ValueError):
    """A batch was refused as a whole (wrong province, duplicate ids); nothing was written."""


def _utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _station_from_row(row: Sequence[Any]) -> Station:
    d = dict(zip(_STATION_COLUMNS, row))  # column names are the Station field names
    d["valid_from"] = date.fromisoformat(d["valid_from"])
    d["valid_to"] = date.fromisoformat(d["valid_to"])
    return Station(**d)


def _station_params(s: Station) -> tuple[Any, ...]:
    values = s.to_dict()
    return tuple(values[c] for c in _STATION_COLUMNS)


StationKey = tuple[str, str]
"""(province, station_id): a station's identity in the shared database."""


def _coordination_from_row(row: Sequence[Any]) -> tuple[StationKey, Coordination]:
    province, station_id, neighbour, status, field, reference, vfrom, vto = row
    return (province, station_id), Coordination(
        neighbour=neighbour, status=status, agreed_field_dbuv_m=None if field is None else float(field),
        reference=reference, valid_from=None if vfrom is None else date.fromisoformat(vfrom),
        valid_to=None if vto is None else date.fromisoformat(vto),
    )


def _coordination_params(key: StationKey, c: Coordination, now_iso: str) -> tuple[Any, ...]:
    return (*key, c.neighbour, c.status, c.agreed_field_dbuv_m, c.reference,
            None if c.valid_from is None else c.valid_from.isoformat(),
            None if c.valid_to is None else c.valid_to.isoformat(), now_iso)


def _group(rows: Iterable[tuple[StationKey, Coordination]]) -> dict[StationKey, tuple[Coordination, ...]]:
    out: dict[StationKey, list[Coordination]] = {}
    for key, c in rows:
        out.setdefault(key, []).append(c)
    return {k: tuple(sorted(v, key=lambda c: c.neighbour)) for k, v in out.items()}


class StationRepository:
    """Opens (creating and migrating when needed) the station database at ``path``.

    ``path``: a SQLite file (or ``:memory:``) or a ``postgresql://`` URL (shared database).
    Thread-safe: one connection guarded by a lock, so the server's threads can share an instance
    (the lock only protects the connection; other servers are kept consistent by transactions).
    Use as a context manager or call :meth:`close`.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._lock = threading.RLock()
        self._db: Database = open_database(self.path, schema="station_db")
        migrate(self._db)
        with self._transaction():
            for code, name in PROVINCE_NAMES.items():
                self._db.execute(
                    "INSERT INTO provinces (code, name, member) VALUES (?, ?, ?) ON CONFLICT (code) DO NOTHING",
                    (code, name, int(code in MEMBER_PROVINCES)),
                )

    # -- plumbing -----------------------------------------------------------------------------

    @contextmanager
    def _transaction(self) -> Iterator[Database]:
        """One write transaction: committed on success, rolled back on any exception."""
        with self._lock:
            self._db.begin()
            try:
                yield self._db
            except BaseException:
                self._db.rollback()
                raise
            self._db.commit()

    def _fetch(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.fetchall(sql, params)

    @property
    def backend(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self._db.kind

    def close(self) -> None:
        """Close the connection (idempotent)."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> StationRepository:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- stations -----------------------------------------------------------------------------

    def import_stations(
        self,
        stations: Iterable[Station],
        province: str,
        source_name: str,
        file_hash: str,
        *,
        replace: bool = False,
        imported_by: str = "",
        encoding: str = "",
        coordination_given: bool = True,
    ) -> ImportReport:
        """Upsert ``province``'s stations in one transaction and record the provenance.

        Every station must belong to ``province``; ids must be unique in the batch. Stations equal
        to the stored ones are left untouched (re-importing a file changes nothing). With
        ``replace`` the province's stations missing from the batch are deleted: the file is then
        the province's complete list. ``encoding``: how the file's text was decoded (provenance).
        ``coordination_given`` False (a file without the coordination column, e.g. from a licensing
        system that knows nothing of agreements): the stored coordination of each station is kept
        instead of being cleared. Raises :class:`ImportRejectedError` and writes nothing on refusal.
        """
        batch = list(stations)
        self._check_batch(batch, province)
        with self._transaction() as conn:
            import_id = self._apply_batch(conn, batch, province, source_name, file_hash, replace, imported_by,
                                          encoding, coordination_given)
        return self._import_report(import_id)

    def import_all_provinces(
        self, stations: Iterable[Station], source_name: str, file_hash: str, *, replace: bool = False,
        imported_by: str = "", encoding: str = "", coordination_given: bool = True,
    ) -> list[ImportReport]:
        """Platform administrator's load of a multi-province file: one import record per province,
        all applied in a single transaction (any refusal -> nothing changes)."""
        by_province: dict[str, list[Station]] = {}
        for s in stations:
            by_province.setdefault(s.province, []).append(s)
        for province, batch in by_province.items():
            self._check_batch(batch, province)
        with self._transaction() as conn:
            ids = [
                self._apply_batch(conn, batch, province, source_name, file_hash, replace, imported_by, encoding,
                                  coordination_given)
                for province, batch in sorted(by_province.items())
            ]
        return [self._import_report(i) for i in ids]

    @staticmethod
    def _check_batch(batch: list[Station], province: str) -> None:
        if province not in MEMBER_PROVINCES:
            raise ImportRejectedError(f"province {province!r} is not a member ({', '.join(MEMBER_PROVINCES)})")
        foreign = [s for s in batch if s.province != province]
        if foreign:
            shown = ", ".join(f"{s.province}/{s.station_id}" for s in foreign[:5])
            raise ImportRejectedError(
                f"{len(foreign)} station(s) belong to another province than {province} ({shown}); "
                "a province can only import its own stations"
            )
        seen: set[str] = set()
        for s in batch:
            if s.station_id in seen:
                raise ImportRejectedError(f"station id {s.station_id!r} appears twice in the batch")
            seen.add(s.station_id)

    def _apply_batch(
        self, conn: Database, batch: list[Station], province: str, source_name: str, file_hash: str,
        replace: bool, imported_by: str, encoding: str = "", coordination_given: bool = True,
    ) -> int:
        """Write one checked batch inside the caller's transaction; returns the import id."""
        inserted = updated = unchanged = removed = 0
        stored_coord = _group(map(_coordination_from_row,
                                  conn.fetchall(f"{_SELECT_COORD} WHERE province = ?", (province,))))
        existing = {
            st.station_id: dc_replace(st, coordination=stored_coord.get(st.key, ()))
            for st in map(_station_from_row, conn.fetchall(f"{_SELECT_STATIONS} WHERE province = ?", (province,)))
        }
        now_iso = _utc_now()
        row = conn.fetchone(
            "INSERT INTO imports (province, source_name, file_hash, imported_at_utc, imported_by, inserted, "
            "updated, unchanged, removed, rejected, status, message, encoding) "
            "VALUES (?, ?, ?, ?, ?, 0, 0, 0, 0, 0, 'accepted', '', ?) RETURNING import_id",
            (province, source_name, file_hash, _utc_now(), imported_by, encoding),
        )
        assert row is not None
        import_id = int(row[0])
        placeholders = ", ".join("?" for _ in _STATION_COLUMNS)
        for s in batch:
            s = s if coordination_given else dc_replace(s, coordination=stored_coord.get(s.key, ()))
            old = existing.get(s.station_id)
            if old == s:
                unchanged += 1
                continue
            if coordination_given and stored_coord.get(s.key, ()) != s.coordination:
                self._write_coordination(conn, s.key, s.coordination, now_iso, clear=True)
            if old is None:
                inserted += 1
            else:
                updated += 1
                conn.execute("DELETE FROM stations WHERE province = ? AND station_id = ?", (province, s.station_id))
            conn.execute(
                f"INSERT INTO stations ({', '.join(_STATION_COLUMNS)}, tx_lo_hz, tx_hi_hz, import_id) "
                f"VALUES ({placeholders}, ?, ?, ?)",
                (*_station_params(s), s.tx_lo_hz, s.tx_hi_hz, import_id),
            )
        if replace:
            for sid in sorted(set(existing) - {s.station_id for s in batch}):
                conn.execute("DELETE FROM stations WHERE province = ? AND station_id = ?", (province, sid))
                conn.execute("DELETE FROM station_coordination WHERE province = ? AND station_id = ?",
                             (province, sid))
                removed += 1
        conn.execute(
            "UPDATE imports SET inserted = ?, updated = ?, unchanged = ?, removed = ? WHERE import_id = ?",
            (inserted, updated, unchanged, removed, import_id),
        )
        log.info(
            "import %d (%s, %s): %d inserted, %d updated, %d unchanged, %d removed",
            import_id, province, source_name, inserted, updated, unchanged, removed,
        )
        return import_id

    def record_rejected_import(
        self, province: str, source_name: str, file_hash: str, rejected: int, message: str, *, imported_by: str = "",
        encoding: str = "",
    ) -> ImportReport:
        """Log a refused file in the provenance table (the stations themselves stay untouched)."""
        known = self._fetch("SELECT code FROM provinces WHERE code = ?", (province,))
        if not known:
            raise ImportRejectedError(f"unknown province {province!r}")
        with self._transaction() as conn:
            row = conn.fetchone(
                "INSERT INTO imports (province, source_name, file_hash, imported_at_utc, imported_by, inserted, "
                "updated, unchanged, removed, rejected, status, message, encoding) "
                "VALUES (?, ?, ?, ?, ?, 0, 0, 0, 0, ?, 'rejected', ?, ?) RETURNING import_id",
                (province, source_name, file_hash, _utc_now(), imported_by, rejected, message[:2000], encoding or ""),
            )
            assert row is not None
            import_id = int(row[0])
        return self._import_report(import_id)

    def _import_report(self, import_id: int) -> ImportReport:
        row = self._fetch(f"SELECT {', '.join(_IMPORT_COLUMNS)} FROM imports WHERE import_id = ?", (import_id,))
        return ImportReport(**dict(zip(_IMPORT_COLUMNS, row[0])))

    def imports(self, province: str | None = None) -> list[ImportReport]:
        """Provenance of every import attempt, oldest first."""
        sql = f"SELECT {', '.join(_IMPORT_COLUMNS)} FROM imports"
        params: tuple[Any, ...] = ()
        if province is not None:
            sql += " WHERE province = ?"
            params = (province,)
        return [ImportReport(**dict(zip(_IMPORT_COLUMNS, r))) for r in self._fetch(sql + " ORDER BY import_id", params)]

    def get(self, province: str, station_id: str) -> Station | None:
        """The station ``station_id`` of ``province``, or None."""
        rows = self._fetch(f"{_SELECT_STATIONS} WHERE province = ? AND UPPER(station_id) = ?",
                           (province, station_id.upper()))  # ids compare without case (exchange.normalise_station_id)
        return self._stations(rows)[0] if rows else None

    def find(self, station_id: str) -> list[Station]:
        """Every station called ``station_id`` (ids are unique per province only)."""
        rows = self._fetch(f"{_SELECT_STATIONS} WHERE UPPER(station_id) = ? ORDER BY province", (station_id.upper(),))
        return self._stations(rows)

    def all_stations(self, province: str | None = None) -> list[Station]:
        """All stations (of one province), ordered by province and id."""
        if province is None:
            rows = self._fetch(f"{_SELECT_STATIONS} ORDER BY province, station_id")
        else:
            rows = self._fetch(f"{_SELECT_STATIONS} WHERE province = ? ORDER BY station_id", (province,))
        return self._stations(rows)

    def _stations(self, rows: Sequence[Sequence[Any]]) -> list[Station]:
        """Stations of ``rows`` with their coordination records attached (one extra query)."""
        stations = [_station_from_row(r) for r in rows]
        if not stations:
            return stations
        if len(stations) > 200:
            coord_rows = self._fetch(_SELECT_COORD)
        else:
            ids = sorted({s.station_id for s in stations})
            coord_rows = self._fetch(f"{_SELECT_COORD} WHERE station_id IN ({', '.join('?' for _ in ids)})", ids)
        by_key = _group(map(_coordination_from_row, coord_rows))
        return [dc_replace(s, coordination=by_key[s.key]) if s.key in by_key else s for s in stations]

    # -- coordination status ------------------------------------------------------------------

    @staticmethod
    def _write_coordination(conn: Database, key: StationKey, entries: Iterable[Coordination], now_iso: str,
                            *, clear: bool) -> None:
        if clear:
            conn.execute("DELETE FROM station_coordination WHERE province = ? AND station_id = ?", key)
        for c in entries:
            conn.execute(
                f"INSERT INTO station_coordination ({', '.join(_COORD_COLUMNS)}, updated_at_utc) "
                f"VALUES ({', '.join('?' for _ in _COORD_COLUMNS)}, ?) "
                "ON CONFLICT (province, station_id, neighbour) DO UPDATE SET status = excluded.status, "
                "agreed_field_dbuv_m = excluded.agreed_field_dbuv_m, reference = excluded.reference, "
                "valid_from = excluded.valid_from, valid_to = excluded.valid_to, "
                "updated_at_utc = excluded.updated_at_utc",
                _coordination_params(key, c, now_iso),
            )

    def set_coordination(self, province: str, station_id: str, entries: Iterable[Coordination]) -> None:
        """Record the status towards each neighbour in ``entries`` (other neighbours are left as they are).

        The station need not exist yet: the outcome of a request for a proposed assignment waits
        for the station's first import, which keeps it (a file without the coordination column).
        """
        entries = list(entries)
        for c in entries:
            if c.neighbour == province:
                raise ValueError(f"{province}/{station_id}: a station is not coordinated with its own province")
        with self._transaction() as conn:
            self._write_coordination(conn, (province, station_id), entries, _utc_now(), clear=False)

    def clear_coordination(self, province: str, station_id: str, neighbour: str) -> None:
        """Forget the status towards ``neighbour`` (e.g. a withdrawn request's ``pending``)."""
        with self._transaction() as conn:
            conn.execute("DELETE FROM station_coordination WHERE province = ? AND station_id = ? AND neighbour = ?",
                         (province, station_id, neighbour))

    def coordination_of(self, province: str, station_id: str) -> tuple[Coordination, ...]:
        """The recorded statuses of a station (also of one not imported yet), sorted by neighbour."""
        rows = self._fetch(f"{_SELECT_COORD} WHERE province = ? AND station_id = ?", (province, station_id))
        return _group(map(_coordination_from_row, rows)).get((province, station_id), ())

    def count(self) -> int:
        """Number of stations stored."""
        return int(self._fetch("SELECT COUNT(*) FROM stations")[0][0])

    def stations_overlapping(self, f_lo_hz: float, f_hi_hz: float, *, valid_on: date | None = None) -> list[Station]:
        """Stations whose licensed transmit band ``[tx - bw/2, tx + bw/2]`` overlaps ``[f_lo_hz, f_hi_hz]``.

        Uses the index on the lower band edge: a band can only overlap when its lower edge lies
        within the widest licensed bandwidth below ``f_lo_hz`` (itself read from an index, so
        imports by other processes are seen at once). ``valid_on`` keeps only stations
        whose licence is active on that day (what explains an emission on the air).
        """
        sql = f"{_SELECT_STATIONS} WHERE {_OVERLAP_SQL}"
        params: list[Any] = [f_hi_hz, f_lo_hz, f_lo_hz]
        if valid_on is not None:
            sql += " AND status = 'active' AND valid_from <= ? AND valid_to >= ?"
            params += [valid_on.isoformat(), valid_on.isoformat()]
        return self._stations(self._fetch(sql + " ORDER BY tx_freq_hz, province, station_id", params))

    def query(
        self,
        freq_hz: float | None = None,
        bandwidth_hz: float = 0.0,
        near: tuple[float, float] | None = None,
        radius_km: float | None = None,
        province: str | None = None,
        service: str | None = None,
    ) -> list[Station]:
        """Stations matching every given filter.

        ``freq_hz``/``bandwidth_hz``: licensed band overlaps ``[freq - bw/2, freq + bw/2]``.
        ``near``/``radius_km``: within ``radius_km`` (great circle) of ``(lat, lon)``; results are
        then ordered by distance, otherwise by frequency.
        """
        if (near is None) != (radius_km is None):
            raise ValueError("near and radius_km go together")
        clauses: list[str] = []
        params: list[Any] = []
        if freq_hz is not None:
            half = max(bandwidth_hz, 0.0) / 2.0
            clauses.append(_OVERLAP_SQL)
            params += [freq_hz + half, freq_hz - half, freq_hz - half]
        if province is not None:
            clauses.append("province = ?")
            params.append(province)
        if service is not None:
            clauses.append("service = ?")
            params.append(service)
        if near is not None and radius_km is not None:
            lat0, lon0 = near
            dlat = radius_km / _KM_PER_DEG_LAT
            dlon = radius_km / (_KM_PER_DEG_LAT * max(math.cos(math.radians(lat0)), 1e-6))
            clauses.append("lat BETWEEN ? AND ? AND lon BETWEEN ? AND ?")
            params += [lat0 - dlat, lat0 + dlat, lon0 - dlon, lon0 + dlon]
        sql = _SELECT_STATIONS + (" WHERE " + " AND ".join(clauses) if clauses else "")
        found = self._stations(self._fetch(sql + " ORDER BY tx_freq_hz, province, station_id", params))
        if near is None or radius_km is None:
            return found
        from station_db.geo import haversine_km

        with_d = [(float(haversine_km(near[0], near[1], s.lat, s.lon)), s) for s in found]
        return [s for d, s in sorted(with_d, key=lambda ds: ds[0]) if d <= radius_km]

    def stations_near_border(self, max_km: float, province: str | None = None) -> list[Station]:
        """Stations within ``max_km`` of a border of their own province (what the neighbours need).

        Distance is measured from the licence's province (coastline does not count as border).
        """
        from station_db.geo import distances_to_border_km

        stations = self.all_stations(province)
        if not stations:
            return []
        d_km, _ = distances_to_border_km(
            [s.lat for s in stations], [s.lon for s in stations], provinces=[s.province for s in stations]
        )
        return [s for s, d in zip(stations, d_km) if d <= max_km]

    # -- sensors ------------------------------------------------------------------------------

    def upsert_sensor(
        self,
        sensor_id: str,
        province: str,
        lat: float,
        lon: float,
        antenna_height_m: float = 10.0,
        description: str = "",
        public_key: str | None = None,
    ) -> Sensor:
        """Register or update a sensor; returns the stored value."""
        sensor = Sensor(sensor_id, province, float(lat), float(lon), float(antenna_height_m), description, public_key)
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO sensors (sensor_id, province, lat, lon, antenna_height_m, description, public_key, "
                "updated_at_utc) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (sensor_id) DO UPDATE SET "
                "province = excluded.province, lat = excluded.lat, lon = excluded.lon, "
                "antenna_height_m = excluded.antenna_height_m, description = excluded.description, "
                "public_key = excluded.public_key, updated_at_utc = excluded.updated_at_utc",
                (*(getattr(sensor, c) for c in _SENSOR_COLUMNS), _utc_now()),
            )
        return sensor

    def sensors(self, province: str | None = None) -> list[Sensor]:
        """Registered sensors (of one province), ordered by id."""
        sql = f"SELECT {', '.join(_SENSOR_COLUMNS)} FROM sensors"
        params: tuple[Any, ...] = ()
        if province is not None:
            sql += " WHERE province = ?"
            params = (province,)
        return [Sensor(*r) for r in self._fetch(sql + " ORDER BY sensor_id", params)]

    # -- coordination rules -------------------------------------------------------------------

    def set_rules(self, rules: RuleSet) -> None:
        """Store ``rules`` as the platform's current rule set (replacing the previous one)."""
        with self._transaction() as conn:
            conn.execute("DELETE FROM coordination_rules")
            for band in rules.bands:
                conn.execute(
                    f"INSERT INTO coordination_rules (version, source, {', '.join(_RULE_COLUMNS)}) "
                    f"VALUES (?, ?, {', '.join('?' for _ in _RULE_COLUMNS)})",
                    (rules.version, rules.source, *(getattr(band, c) for c in _RULE_COLUMNS)),
                )

    def rules(self) -> RuleSet | None:
        """The stored rule set, or None when none was stored."""
        columns = ", ".join(_RULE_COLUMNS)
        rows = self._fetch(f"SELECT version, source, {columns} FROM coordination_rules ORDER BY f_lo_hz")
        if not rows:
            return None
        bands = []
        for r in rows:
            d = dict(zip(_RULE_COLUMNS, r[2:]))
            d["safety"] = bool(d["safety"])
            bands.append(BandRule(**d))
        return RuleSet(version=rows[0][0], bands=tuple(bands), source=rows[0][1])
