"""Replay of a server's data directory without a server: HDF5 spectra, SQLite alerts and occupancy.

Reads the layout written by ``coordination.archive`` (``spectra/<sensor>/<sensor>_<YYYYMMDD>.h5``,
one group per profile, ``power_dbm`` rows x bins with ``t_utc`` seconds; per-row ``threshold_dbm`` and
``antenna_factor_db_m`` datasets when a file has them, the group attributes otherwise) and ``coordination.store``
(``server.db``: sensors, alerts as JSON, occupancy rows), strictly read-only: HDF5 files are opened
``"r"`` without file locking (the server may still be writing them) and SQLite with ``mode=ro``.
Nothing here needs Qt except :class:`ArchiveBar`, the time slider that drives the replay.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QSlider, QWidget

from coordination.protocol import Spectrum, format_epoch_utc, parse_utc

log = logging.getLogger(__name__)

SPECTRA_DIR = "spectra"
DB_NAME = "server.db"


class ArchiveError(ValueError):
    """A directory that is not a borderwatch server data directory (or is unreadable)."""


@dataclass(frozen=True)
class GroupRef:
    """One HDF5 profile group of one sensor's day file."""

    path: Path
    group: str
    profile: str
    t_first_s: float
    t_last_s: float
    rows: int


class ArchiveReader:
    """Read-only access to a server data directory (``--archive DIR``)."""

    def __init__(self, root: str | Path) -> None:
        root = Path(root)
        if not root.is_dir():
            raise ArchiveError(f"{root}: no such directory (give the server's data_dir)")
        self.root = root
        self.spectra_dir = root / SPECTRA_DIR if (root / SPECTRA_DIR).is_dir() else root
        self.db_path = root / DB_NAME
        self.groups: dict[tuple[str, str], list[GroupRef]] = {}
        self._file_attrs: dict[str, dict[str, Any]] = {}
        self._scan()
        if not self.groups and not self.db_path.exists():
            raise ArchiveError(f"{root}: neither {SPECTRA_DIR}/*/*.h5 spectra nor {DB_NAME} found")

    # ------------------------------------------------------------ HDF5

    @staticmethod
    def _open(path: Path) -> h5py.File:
        return h5py.File(path, "r", locking=False)

    def _scan(self) -> None:
        for path in sorted(self.spectra_dir.glob("*/*.h5")):
            try:
                with self._open(path) as f:
                    sid = str(f.attrs.get("sensor_id", path.parent.name))
                    self._file_attrs.setdefault(sid, {k: _plain(v) for k, v in f.attrs.items()})
                    for name, g in f.items():
                        if not isinstance(g, h5py.Group) or "t_utc" not in g or g["t_utc"].shape[0] == 0:
                            continue
                        t = g["t_utc"]
                        profile = str(g.attrs.get("profile", name.split("~")[0]))
                        ref = GroupRef(path, name, profile, float(t[0]), float(t[-1]), int(t.shape[0]))
                        self.groups.setdefault((sid, profile), []).append(ref)
            except OSError as exc:
                log.warning("archive file %s skipped: %s", path, exc)
        for refs in self.groups.values():
            refs.sort(key=lambda r: r.t_first_s)

    def sensor_profiles(self) -> list[tuple[str, str]]:
        """(sensor_id, profile) pairs with stored spectra."""
        return sorted(self.groups)

    def time_range_s(self) -> tuple[float, float] | None:
        """First and last stored time (spectra and alerts), seconds since the epoch."""
        ts = [t for refs in self.groups.values() for r in refs for t in (r.t_first_s, r.t_last_s)]
        for a in self.alerts():
            for key in ("first_seen", "last_seen"):
                if a.get(key):
                    ts.append(parse_utc(a[key], key).timestamp())
        return (min(ts), max(ts)) if ts else None

    def spectra(self, sensor_id: str, profile: str, t_hi_s: float, max_rows: int,
                t_lo_s: float | None = None) -> list[Spectrum]:
        """Up to ``max_rows`` stored sweeps with ``t_lo_s <= t <= t_hi_s``, oldest first."""
        out: list[Spectrum] = []
        for ref in reversed(self.groups.get((sensor_id, profile), [])):
            if ref.t_first_s > t_hi_s or len(out) >= max_rows:
                continue
            if t_lo_s is not None and ref.t_last_s < t_lo_s:
                break
            with self._open(ref.path) as f:
                g = f[ref.group]
                t = g["t_utc"][:]
                hi = int(np.searchsorted(t, t_hi_s, side="right"))
                lo = max(0, hi - (max_rows - len(out)))
                if t_lo_s is not None:
                    lo = max(lo, int(np.searchsorted(t, t_lo_s, side="left")))
                if hi <= lo:
                    continue
                power = g["power_dbm"][lo:hi]
                a = g.attrs
                seq = g["seq"][lo:hi]
                floor = _column(g, "noise_floor_dbm", lo, hi, float("nan"))
                # older files keep threshold and antenna factor per row; newer ones keep the
                # antenna factor as a group attribute (one calibration per group) and no threshold
                thr = _column(g, "threshold_dbm", lo, hi, float(a.get("threshold_dbm", float("nan"))))
                af = _column(g, "antenna_factor_db_m", lo, hi, float(a.get("antenna_factor_db_m", 0.0)))
                rows = [Spectrum(sensor_id, int(seq[i]), format_epoch_utc(t[lo + i]), profile=profile,
                                 f_start_hz=float(a["f_start_hz"]), f_step_hz=float(a["f_step_hz"]),
                                 power_dbm=np.asarray(power[i], np.float32), detector=str(a.get("detector", "mean")),
                                 noise_floor_dbm=float(floor[i]), threshold_dbm=float(thr[i]),
                                 antenna_factor_db_m=float(af[i])) for i in range(hi - lo)]
            out[:0] = rows
        return out[-max_rows:] if out else out

    # ------------------------------------------------------------ SQLite

    def _query(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        if not self.db_path.exists():
            return []
        try:
            db = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True)
        except sqlite3.Error as exc:
            raise ArchiveError(f"{self.db_path}: cannot open read-only ({exc})") from exc
        try:
            return db.execute(sql, args).fetchall()
        except sqlite3.Error as exc:
            raise ArchiveError(f"{self.db_path}: {exc}") from exc
        finally:
            db.close()

    def sensors(self) -> list[dict[str, Any]]:
        """Sensors as the ``sensors`` API op lists them (status ``down``: it is a replay)."""
        out: dict[str, dict[str, Any]] = {}
        for r in self._query("SELECT sensor_id, province, lat, lon, height_m, last_seen FROM sensors"):
            out[r[0]] = {"sensor_id": r[0], "province": r[1], "lat": r[2], "lon": r[3], "height_m": r[4],
                         "last_seen": r[5], "status": "down", "spool_depth": None, "drops": None}
        for sid, attrs in self._file_attrs.items():
            if sid not in out and np.isfinite(attrs.get("lat", np.nan)):
                out[sid] = {"sensor_id": sid, "province": attrs.get("province", ""), "lat": attrs["lat"],
                            "lon": attrs["lon"], "height_m": attrs.get("height_m"), "last_seen": None,
                            "status": "down", "spool_depth": None, "drops": None}
        return [out[k] for k in sorted(out)]

    def alerts(self, at_s: float | None = None) -> list[dict[str, Any]]:
        """Stored alerts (latest JSON each); with ``at_s`` only those first seen by then."""
        docs = [json.loads(r[0]) for r in self._query("SELECT json FROM alerts ORDER BY first_seen")]
        if at_s is None:
            return docs
        return [d for d in docs if d.get("first_seen") and parse_utc(d["first_seen"], "first_seen").timestamp() <= at_s]

    def occupancy(self, sensor_id: str, profile: str, at_s: float | None = None,
                  limit: int = 500) -> tuple[np.ndarray, list[dict[str, Any]]]:
        """(channel centres, rows oldest first) like the ``occupancy`` op, intervals ended by ``at_s``."""
        rows = self._query("SELECT t_start_utc, t_end_utc, fbo, channel_centers_hz, fco FROM occupancy "
                           "WHERE sensor_id=? AND profile=? ORDER BY t_end_utc", (sensor_id, profile))
        if at_s is not None:
            rows = [r for r in rows if parse_utc(r[1], "t_end_utc").timestamp() <= at_s]
        rows = rows[-limit:]
        centers = np.frombuffer(rows[-1][3], "<f8") if rows else np.zeros(0)
        return centers, [{"t_start_utc": r[0], "t_end_utc": r[1], "fbo": r[2],
                          "fco": np.frombuffer(r[4], "<f4").astype(float).tolist()} for r in rows]


def _column(g: h5py.Group, name: str, lo: int, hi: int, default: float) -> np.ndarray:
    """Rows ``lo:hi`` of a per-row dataset, or ``default`` repeated when the file has no such dataset."""
    if name in g:
        return np.asarray(g[name][lo:hi], dtype=np.float64)
    return np.full(hi - lo, default)


def _plain(v: Any) -> Any:
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if isinstance(v, np.generic):
        return v.item()
    return v


class ArchiveBar(QWidget):
    """Time slider (1 s steps) with play/pause over an archive's time range."""

    time_changed = Signal(float)

    def __init__(self, t_first_s: float, t_last_s: float, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.t_first_s = float(t_first_s)
        self.t_last_s = max(float(t_last_s), self.t_first_s)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, max(1, round(self.t_last_s - self.t_first_s)))
        self.slider.setValue(self.slider.maximum())
        self.slider.valueChanged.connect(self._changed)
        self.label = QLabel()
        self.play_button = QPushButton(self.tr("Play"))
        self.play_button.setCheckable(True)
        self.play_button.toggled.connect(self._play)
        self.speed_box = QComboBox()
        for s in (1, 10, 60, 600):
            self.speed_box.addItem(self.tr("{0} s per step").format(s), s)
        self._timer = QTimer(self)
        self._timer.setInterval(200)
        self._timer.timeout.connect(self._step)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 0, 4, 0)
        layout.addWidget(QLabel(self.tr("Archive time (UTC):")))
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.label)
        layout.addWidget(self.play_button)
        layout.addWidget(self.speed_box)
        self._update_label()

    def time_s(self) -> float:
        return self.t_first_s + self.slider.value()

    def set_time(self, t_s: float) -> None:
        self.slider.setValue(round(min(max(t_s, self.t_first_s), self.t_last_s) - self.t_first_s))

    def _update_label(self) -> None:
        self.label.setText(format_epoch_utc(self.time_s())[:19].replace("T", " "))

    def _changed(self, _v: int) -> None:
        self._update_label()
        self.time_changed.emit(self.time_s())

    def _play(self, on: bool) -> None:
        self.play_button.setText(self.tr("Pause") if on else self.tr("Play"))
        if on:
            if self.slider.value() >= self.slider.maximum():
                self.slider.setValue(0)
            self._timer.start()
        else:
            self._timer.stop()

    def _step(self) -> None:
        v = self.slider.value() + int(self.speed_box.currentData())
        if v >= self.slider.maximum():
            self.slider.setValue(self.slider.maximum())
            self.play_button.setChecked(False)
        else:
            self.slider.setValue(v)


def alert_time_s(alert: Mapping[str, Any], key: str = "first_seen") -> float | None:
    v = alert.get(key)
    return None if not v else parse_utc(v, key).timestamp()
