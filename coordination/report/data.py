"""Read a coordination server's data directory (read-only) into typed values for one report.

The server writes ``<data>/server.db`` (SQLite WAL: sensor registry, heartbeats, emissions,
occupancy summaries, alerts, counters; see :mod:`coordination.store`) and
``<data>/spectra/<sensor>/<sensor>_<YYYYMMDD>.h5`` (one HDF5 file per sensor per UTC day, a group
per profile; see :mod:`coordination.archive`). This module only reads them, through the one
reader of each (:mod:`coordination.store.readonly` opens the database ``mode=ro``,
:mod:`coordination.archive_reader` the HDF5 files without locking), so a report can run beside a
live server.

Everything is selected by a :class:`Period` (UTC days, end exclusive), optionally a province
(sensors of that province; alerts that involve it) and optionally a band (rules band name or
profile name).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from coordination.archive_reader import GroupInfo, SpectrumArchiveReader, profile_of
from coordination.protocol import format_utc
from coordination.store.readonly import ReadOnlyStore, ReadOnlyStoreError
from coordination.tdoa_fusion import with_tdoa
from dsp.calibration import dbm_to_dbuv_m
from station_db.geo import provinces_of

log = logging.getLogger(__name__)
R = TypeVar("R")

DEFAULT_MARGIN_DB = 10.0
"""Detection margin above the noise floor when neither archive nor rules say (the protocol's default)."""

_PERIOD_RE = re.compile(r"^\s*(\d{4}-\d{2}-\d{2})\s*\.\.\s*(\d{4}-\d{2}-\d{2})\s*$")


class ReportDataError(ValueError):
    """The archive or a selection cannot be read; the message names the file or argument."""


def from_epoch_s(t_s: float) -> datetime:
    """Seconds since the epoch (the archive's ``t_utc``) -> aware UTC datetime."""
    return datetime.fromtimestamp(float(t_s), UTC)


def parse_utc_text(text: str, where: str) -> datetime:
    """ISO-8601 UTC text from the store -> aware datetime; ReportDataError naming ``where``."""
    try:
        t = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError as exc:
        raise ReportDataError(f"{where}: {text!r} is not an ISO-8601 time") from exc
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


@dataclass(frozen=True)
class Period:
    """A UTC time span ``[start, end)``; built from whole days by :meth:`parse`."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ReportDataError("period bounds must be timezone-aware UTC")
        if self.end <= self.start:
            raise ReportDataError(f"period end {self.end.isoformat()} is not after its start {self.start.isoformat()}")

    @classmethod
    def parse(cls, text: str) -> Period:
        """``2026-11-01..2026-11-07`` -> 2026-11-01T00:00Z up to (not including) 2026-11-08T00:00Z."""
        m = _PERIOD_RE.match(text or "")
        if not m:
            raise ReportDataError(f"--period {text!r}: expected FIRST..LAST as YYYY-MM-DD..YYYY-MM-DD (UTC days)")
        try:
            first, last = date.fromisoformat(m.group(1)), date.fromisoformat(m.group(2))
        except ValueError as exc:
            raise ReportDataError(f"--period {text!r}: {exc}") from exc
        if last < first:
            raise ReportDataError(f"--period {text!r}: last day is before the first")
        start = datetime(first.year, first.month, first.day, tzinfo=UTC)
        return cls(start, datetime(last.year, last.month, last.day, tzinfo=UTC) + timedelta(days=1))

    @property
    def duration_s(self) -> float:
        return (self.end - self.start).total_seconds()

    @property
    def start_s(self) -> float:
        return self.start.timestamp()

    @property
    def end_s(self) -> float:
        return self.end.timestamp()

    def days(self) -> list[str]:
        """The UTC days (YYYYMMDD) the period touches: the names of the archive's day files."""
        out, d = [], self.start.date()
        while datetime(d.year, d.month, d.day, tzinfo=UTC) < self.end:
            out.append(d.strftime("%Y%m%d"))
            d += timedelta(days=1)
        return out

    def label(self) -> str:
        last = (self.end - timedelta(microseconds=1)).date()
        return f"{self.start.date().isoformat()}..{last.isoformat()}"


@dataclass(frozen=True)
class SensorSite:
    """A registered sensor (from its Hello): where it is, which province, its calibration."""

    sensor_id: str
    province: str
    lat: float
    lon: float
    height_m: float
    antenna_factor_db_m: float
    first_seen: str = ""
    last_seen: str = ""


@dataclass(frozen=True)
class SpectraChunk:
    """Consecutive archived sweeps of one sensor/profile on one exact frequency axis."""

    sensor_id: str
    profile: str
    f_start_hz: float
    f_step_hz: float
    detector: str
    t_utc_s: np.ndarray  # (rows,) seconds since the epoch
    power_dbm: np.ndarray  # (rows, bins) float32
    threshold_dbm: np.ndarray  # (rows,)
    noise_floor_dbm: np.ndarray  # (rows,)

    @property
    def freqs_hz(self) -> np.ndarray:
        return self.f_start_hz + self.f_step_hz * np.arange(self.power_dbm.shape[1])

    @property
    def rows(self) -> int:
        return int(self.power_dbm.shape[0])


@dataclass(frozen=True)
class OccupancySummary:
    """One sensor occupancy report (ITU-R SM.1880 counts over one interval) as stored."""

    sensor_id: str
    seq: int
    profile: str
    t_start_utc: datetime
    t_end_utc: datetime
    revisits: int
    threshold_dbm: float
    fbo: float
    channel_centers_hz: np.ndarray
    fco: np.ndarray


@dataclass(frozen=True)
class EmissionRecord:
    """One detected emission of one sweep (powers at the antenna port)."""

    sensor_id: str
    t_utc: datetime
    profile: str
    center_hz: float
    peak_dbm: float
    power_dbm: float
    bandwidth_hz: float
    snr_db: float
    f_lo_hz: float
    f_hi_hz: float
    antenna_factor_db_m: float

    @property
    def field_dbuv_m(self) -> float:
        """Field strength of the emission's power at the sensor (antenna-port dBm and antenna factor)."""
        return float(dbm_to_dbuv_m(self.power_dbm, self.antenna_factor_db_m))


@dataclass(frozen=True)
class HealthRecord:
    """One heartbeat's health figures."""

    sensor_id: str
    t_utc: datetime
    health: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class ProfileAxis:
    """What the archive holds for one sensor/profile in the period (no power data loaded)."""

    sensor_id: str
    profile: str
    f_start_hz: float
    f_step_hz: float
    n_bins: int
    rows: int

    @property
    def f_stop_hz(self) -> float:
        return self.f_start_hz + self.f_step_hz * self.n_bins


class ArchiveReader:
    """Read-only view of a server data directory for report periods.

    Spectra through the archive's one reader (:class:`coordination.archive_reader.SpectrumArchiveReader`),
    the server database through the store's read-only queries (:class:`coordination.store.readonly.ReadOnlyStore`).
    """

    def __init__(self, data_dir: str | Path) -> None:
        self.root = Path(data_dir)
        if not self.root.is_dir():
            raise ReportDataError(f"archive {self.root}: no such directory (give the server's data dir)")
        self.db_path = self.root / "server.db"
        self.spectra_root = self.root / "spectra"
        if not self.db_path.exists() and not self.spectra_root.is_dir():
            raise ReportDataError(f"archive {self.root}: neither server.db nor spectra/ found: "
                                  "is this the coordination server's data directory?")
        self.db = ReadOnlyStore(self.db_path)
        self.files = SpectrumArchiveReader(self.spectra_root)

    # ------------------------------------------------------------------ plumbing

    def _rows(self, fn: Callable[[], list[R]]) -> list[R]:
        try:
            return fn()
        except ReadOnlyStoreError as exc:
            raise ReportDataError(str(exc)) from exc

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> ArchiveReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ sensors

    def sensors(self, province: str | None = None) -> list[SensorSite]:
        """Registered sensors (registry first; spectra files fill in sensors the registry lacks)."""
        out: dict[str, SensorSite] = {}
        for r in self._rows(self.db.sensors):
            out[r.sensor_id] = SensorSite(r.sensor_id, r.province, r.lat, r.lon, r.height_m, r.antenna_factor_db_m,
                                          r.first_seen, r.last_seen)
        for sid in self.files.sensor_ids():
            day = self.files.latest_day(sid)
            if sid in out or day is None:
                continue
            path = self.files.path_for(sid, day)
            try:
                a = self.files.file_attrs(path)
            except OSError as exc:
                log.warning("cannot read %s: %s", path, exc)
                continue
            out[sid] = SensorSite(sid, str(a.get("province", "")), float(a.get("lat", np.nan)),
                                  float(a.get("lon", np.nan)), float(a.get("height_m", np.nan)), 0.0)
        sites = sorted(out.values(), key=lambda s: (s.province, s.sensor_id))
        return [s for s in sites if province is None or s.province == province]

    # ------------------------------------------------------------------ spectra

    def _groups(self, sensor_id: str, period: Period) -> Iterator[GroupInfo]:
        """The profile groups of the sensor's day files in the period (a file that cannot be read is an error)."""
        for day in period.days():
            path = self.files.path_for(sensor_id, day)
            if not path.exists():
                continue
            try:
                yield from self.files.groups(path)
            except (OSError, KeyError) as exc:
                raise ReportDataError(f"cannot read spectra file {path}: {exc}") from exc

    def profile_axes(self, sensor_id: str, period: Period) -> list[ProfileAxis]:
        """Every (profile, axis) the sensor's day files hold, with its row count in the period."""
        acc: dict[tuple[str, float, float, int], int] = {}
        for g in self._groups(sensor_id, period):
            t = self._times(g)
            n = int(np.count_nonzero((t >= period.start_s) & (t < period.end_s)))
            key = (profile_of(g.group), g.f_start_hz, g.f_step_hz, g.n_bins)
            acc[key] = acc.get(key, 0) + n
        return [ProfileAxis(sensor_id, k[0], k[1], k[2], k[3], n) for k, n in sorted(acc.items()) if n > 0]

    def _times(self, g: GroupInfo) -> np.ndarray:
        try:
            return self.files.times(g)
        except OSError as exc:
            raise ReportDataError(f"cannot read spectra file {g.path}: {exc}") from exc

    def main_axis(self, sensor_id: str, profile: str, period: Period) -> ProfileAxis | None:
        """The frequency axis of ``profile`` with the most sweeps in the period (None without any)."""
        axes = [a for a in self.profile_axes(sensor_id, period) if a.profile == profile]
        return max(axes, key=lambda a: a.rows) if axes else None

    def iter_spectra(self, sensor_id: str, profile: str, period: Period, *, axis: ProfileAxis | None = None,
                     margin_db: float = DEFAULT_MARGIN_DB, max_rows: int = 4096) -> Iterator[SpectraChunk]:
        """Archived sweeps of ``profile`` in the period, in bounded chunks (memory stays small for a week);
        with ``axis`` only the groups on that exact frequency axis.

        Each sweep's detection threshold is its archived ``threshold_dbm`` when the file keeps one (the
        first archive format did), else its noise floor plus the group's ``margin_db`` attribute, else
        plus ``margin_db`` (the profile's margin: the sensor sets threshold = floor + margin).
        """
        for g in self._groups(sensor_id, period):
            if profile_of(g.group) != profile:
                continue
            if axis is not None and g.axis != (axis.f_start_hz, axis.f_step_hz, axis.n_bins):
                continue
            t = self._times(g)
            idx = np.flatnonzero((t >= period.start_s) & (t < period.end_s))
            if idx.size == 0:
                continue
            lo, hi = int(idx[0]), int(idx[-1]) + 1
            for s in range(lo, hi, max_rows):
                e = min(s + max_rows, hi)
                try:
                    r = self.files.rows(g, s, e)
                except OSError as exc:
                    raise ReportDataError(f"cannot read spectra file {g.path}: {exc}") from exc
                keep = (r.t_utc_s >= period.start_s) & (r.t_utc_s < period.end_s)
                floor = r.noise_floor_dbm[keep]
                margin = float(r.attrs.get("margin_db", margin_db))
                thr = r.threshold_dbm[keep]
                thr = np.where(np.isnan(thr), floor + margin, thr)
                yield SpectraChunk(
                    sensor_id=sensor_id, profile=profile, f_start_hz=g.f_start_hz, f_step_hz=g.f_step_hz,
                    detector=g.detector, t_utc_s=r.t_utc_s[keep], power_dbm=r.power_dbm[keep],
                    threshold_dbm=thr, noise_floor_dbm=floor)

    def spectra_times(self, sensor_id: str, period: Period) -> np.ndarray:
        """Sorted times (s) of every archived sweep of the sensor in the period (all profiles)."""
        parts = []
        for g in self._groups(sensor_id, period):
            t = self._times(g)
            parts.append(t[(t >= period.start_s) & (t < period.end_s)])
        return np.sort(np.concatenate(parts)) if parts else np.zeros(0)

    # ------------------------------------------------------------------ SQLite summaries

    def occupancy(self, sensor_id: str, profile: str, period: Period) -> list[OccupancySummary]:
        """Occupancy reports whose interval lies in the period (by end time), oldest first."""
        rows = self._rows(lambda: self.db.occupancy(sensor_id, profile, format_utc(period.start),
                                                    format_utc(period.end)))
        out = []
        for r in rows:
            where = f"{self.db_path} occupancy ({r[0]}, seq {r[1]})"
            centers = np.frombuffer(r[8], "<f8").astype(np.float64)
            fco = np.frombuffer(r[9], "<f4").astype(np.float64)
            if centers.size != fco.size:
                raise ReportDataError(f"{where}: {centers.size} channel centres but {fco.size} FCO values")
            out.append(OccupancySummary(r[0], int(r[1]), r[2], parse_utc_text(r[3], where),
                                        parse_utc_text(r[4], where), int(r[5]), float(r[6]), float(r[7]),
                                        centers, fco))
        return out

    def occupancy_profiles(self, sensor_id: str, period: Period) -> list[str]:
        return self._rows(lambda: self.db.occupancy_profiles(sensor_id, format_utc(period.start),
                                                             format_utc(period.end)))

    def emissions(self, period: Period, sensor_ids: Sequence[str] | None = None, *, f_lo_hz: float | None = None,
                  f_hi_hz: float | None = None) -> list[EmissionRecord]:
        """Detected emissions in the period (optionally of some sensors, with centre in [f_lo, f_hi))."""
        rows = self._rows(lambda: self.db.emissions(format_utc(period.start), format_utc(period.end), sensor_ids,
                                                    f_lo_hz=f_lo_hz, f_hi_hz=f_hi_hz))
        out = []
        for r in rows:
            out.append(EmissionRecord(r[0], parse_utc_text(r[1], f"{self.db_path} emissions"), r[2],
                                      *(float(v) for v in r[3:])))
        return out

    def health(self, sensor_id: str, period: Period) -> list[HealthRecord]:
        rows = self._rows(lambda: self.db.health(sensor_id, format_utc(period.start), format_utc(period.end)))
        out = []
        for r in rows:
            try:
                h = {str(k): float(v) for k, v in json.loads(r[2]).items()}
            except (ValueError, TypeError, AttributeError) as exc:
                raise ReportDataError(f"{self.db_path} health ({r[0]}, {r[1]}): bad JSON: {exc}") from exc
            out.append(HealthRecord(r[0], parse_utc_text(r[1], f"{self.db_path} health"), h))
        return out

    def alerts(self, period: Period, province: str | None = None) -> list[dict[str, Any]]:
        """Alert JSON documents active during the period (first_seen before its end, last change after its
        start); with ``province``, only alerts involving it (source or affected)."""
        out = []
        for text in self._rows(lambda: self.db.alert_docs(format_utc(period.end), province)):
            try:
                doc = json.loads(text)
            except ValueError as exc:
                raise ReportDataError(f"{self.db_path} alerts: bad JSON: {exc}") from exc
            last = doc.get("updated_at") or doc.get("last_seen") or doc.get("first_seen")
            if last and parse_utc_text(last, f"alert {doc.get('id')}") < period.start:
                continue
            try:  # its TDOA fix (a file beside its evidence), as the server shows it: position.method says which
                doc = with_tdoa(doc, lookup=provinces_of)
            except ValueError as exc:
                log.warning("alert %s: TDOA fix not used: %s", doc.get("id"), exc)
            out.append(doc)
        return out

    def coordination_requests(self, period: Period, province: str | None = None) -> list[dict[str, Any]]:
        """Coordination request documents submitted before the period's end and open or closed during it;
        with ``province``, only requests it owns or was asked in."""
        out = []
        for text in self._rows(lambda: self.db.coord_request_docs(period.end.isoformat())):
            try:
                doc = json.loads(text)
            except ValueError as exc:
                raise ReportDataError(f"{self.db_path} coord_requests: bad JSON: {exc}") from exc
            closed = doc.get("closed_at")
            if closed and datetime.fromisoformat(closed) < period.start:
                continue
            if province and doc.get("province") != province and province not in {
                    a.get("province") for a in doc.get("answers", ())}:
                continue
            out.append(doc)
        return out

    def alert_action_times(self) -> dict[str, dict[str, str]]:
        """First ``acknowledged_at`` / ``resolved_at`` per alert from the recorded alert actions (the
        federation's ``alert_actions`` table, when the store has one): exact response times."""
        out: dict[str, dict[str, str]] = {}
        keys = {"acknowledge": "acknowledged_at", "resolve": "resolved_at"}
        for alert_id, action, t_utc in self._rows(self.db.alert_actions):
            if action in keys:
                out.setdefault(alert_id, {}).setdefault(keys[action], t_utc)
        return out
