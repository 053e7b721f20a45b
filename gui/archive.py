"""Replay of a server's data directory without a server: HDF5 spectra, SQLite alerts and occupancy.

:class:`ArchiveReader` gives the console, in replay mode, what the server's API would: sensors,
alerts, spectra and occupancy as of a chosen time. It reads nothing itself: the spectra through the
archive's one reader (:mod:`coordination.archive_reader`, the layout next to its writer), the
server database through the store's read-only queries (:mod:`coordination.store.readonly`), both
strictly read-only (the server may still be writing). :class:`ArchiveBar` is the Qt time slider
that drives the replay.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QSlider, QWidget

from coordination.archive_reader import GroupInfo, SpectrumArchiveReader
from coordination.protocol import Spectrum, format_epoch_utc, parse_utc
from coordination.store.readonly import ReadOnlyStore, ReadOnlyStoreError

log = logging.getLogger(__name__)

SPECTRA_DIR = "spectra"
DB_NAME = "server.db"
R = TypeVar("R")


class ArchiveError(ValueError):
    """A directory that is not a borderwatch server data directory (or is unreadable)."""


class ArchiveReader:
    """Read-only access to a server data directory (``--archive DIR``)."""

    def __init__(self, root: str | Path) -> None:
        root = Path(root)
        if not root.is_dir():
            raise ArchiveError(f"{root}: no such directory (give the server's data_dir)")
        self.root = root
        self.spectra_dir = root / SPECTRA_DIR if (root / SPECTRA_DIR).is_dir() else root
        self.db_path = root / DB_NAME
        self.db = ReadOnlyStore(self.db_path)
        self.files = SpectrumArchiveReader(self.spectra_dir)
        self.groups: dict[tuple[str, str], list[GroupInfo]] = {}
        self._file_attrs: dict[str, dict[str, Any]] = {}
        self._scan()
        if not self.groups and not self.db_path.exists():
            raise ArchiveError(f"{root}: neither {SPECTRA_DIR}/*/*.h5 spectra nor {DB_NAME} found")

    # ------------------------------------------------------------ HDF5 (through the archive's one reader)

    def _scan(self) -> None:
        for path in self.files.files():
            try:
                attrs = self.files.file_attrs(path)
                sid = str(attrs.get("sensor_id", path.parent.name))
                self._file_attrs.setdefault(sid, attrs)
                for info in self.files.groups(path):
                    self.groups.setdefault((sid, info.profile), []).append(info)
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
            t = self.files.times(ref)
            hi = int(np.searchsorted(t, t_hi_s, side="right"))
            lo = max(0, hi - (max_rows - len(out)))
            if t_lo_s is not None:
                lo = max(lo, int(np.searchsorted(t, t_lo_s, side="left")))
            if hi <= lo:
                continue
            r = self.files.rows(ref, lo, hi)
            rows = [Spectrum(sensor_id, int(r.seq[i]), format_epoch_utc(r.t_utc_s[i]), profile=profile,
                             f_start_hz=ref.f_start_hz, f_step_hz=ref.f_step_hz, power_dbm=r.power_dbm[i],
                             detector=ref.detector or "mean", noise_floor_dbm=float(r.noise_floor_dbm[i]),
                             threshold_dbm=float(r.threshold_dbm[i]),
                             antenna_factor_db_m=float(r.antenna_factor_db_m[i])) for i in range(hi - lo)]
            out[:0] = rows
        return out[-max_rows:] if out else out

    # ------------------------------------------------------------ server.db (through the store's read-only queries)

    def _rows(self, fn: Callable[[], list[R]]) -> list[R]:
        try:
            return fn()
        except ReadOnlyStoreError as exc:
            raise ArchiveError(str(exc)) from exc

    def sensors(self) -> list[dict[str, Any]]:
        """Sensors as the ``sensors`` API op lists them (status ``down``: it is a replay)."""
        out: dict[str, dict[str, Any]] = {}
        for r in self._rows(self.db.sensors):
            out[r.sensor_id] = {"sensor_id": r.sensor_id, "province": r.province, "lat": r.lat, "lon": r.lon,
                                "height_m": r.height_m, "last_seen": r.last_seen, "status": "down",
                                "spool_depth": None, "drops": None}
        for sid, attrs in self._file_attrs.items():
            if sid not in out and np.isfinite(attrs.get("lat", np.nan)):
                out[sid] = {"sensor_id": sid, "province": attrs.get("province", ""), "lat": attrs["lat"],
                            "lon": attrs["lon"], "height_m": attrs.get("height_m"), "last_seen": None,
                            "status": "down", "spool_depth": None, "drops": None}
        return [out[k] for k in sorted(out)]

    def alerts(self, at_s: float | None = None) -> list[dict[str, Any]]:
        """Stored alerts (latest JSON each); with ``at_s`` only those first seen by then."""
        docs = [json.loads(text) for text in self._rows(self.db.alert_docs)]
        if at_s is None:
            return docs
        return [d for d in docs if d.get("first_seen") and parse_utc(d["first_seen"], "first_seen").timestamp() <= at_s]

    def occupancy(self, sensor_id: str, profile: str, at_s: float | None = None,
                  limit: int = 500) -> tuple[np.ndarray, list[dict[str, Any]]]:
        """(channel centres, rows oldest first) like the ``occupancy`` op, intervals ended by ``at_s``."""
        rows = self._rows(lambda: self.db.occupancy(sensor_id, profile))
        if at_s is not None:
            rows = [r for r in rows if parse_utc(r[4], "t_end_utc").timestamp() <= at_s]
        rows = rows[-limit:]
        centers = np.frombuffer(rows[-1][8], "<f8") if rows else np.zeros(0)
        return centers, [{"t_start_utc": r[3], "t_end_utc": r[4], "fbo": r[7],
                          "fco": np.frombuffer(r[9], "<f4").astype(float).tolist()} for r in rows]


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
