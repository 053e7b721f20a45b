"""Helpers for the console tests: spin the Qt event loop until a condition holds, build sweeps, write an archive."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

from coordination.archive import SensorMeta, SpectrumArchive
from coordination.protocol import Hello, Occupancy, Spectrum, format_utc
from coordination.store import Store

ARCHIVE_T0 = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)
ARCHIVE_SWEEPS = 120


def archive_row(i: int) -> np.ndarray:
    return np.full(64, -110.0 + 0.1 * i, np.float32)


def spin(app: QApplication, pred: Callable[[], Any], timeout_s: float = 5.0, step_s: float = 0.01) -> Any:
    """Process Qt events until ``pred()`` is truthy (returned), or fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        app.processEvents()
        v = pred()
        if v:
            return v
        time.sleep(step_s)
    raise AssertionError(f"condition not met within {timeout_s} s")


@contextmanager
def shown(widget: Any, width: int, height: int) -> Iterator[Any]:
    """The widget resized and shown for a test; closed and scheduled for deletion afterwards."""
    widget.resize(width, height)
    widget.show()
    yield widget
    widget.close()
    widget.deleteLater()


def sweep(seq: int = 0, power: np.ndarray | None = None, *, n_bins: int = 64, f_start_hz: float = 446.0e6,
          f_step_hz: float = 3125.0, sensor_id: str = "js-01", profile: str = "pmr446", floor_dbm: float = -112.0,
          threshold_dbm: float = -106.0, af_db_m: float = 2.0, t_utc: str = "2026-11-25T12:00:00.000000Z") -> Spectrum:
    """A Spectrum message as the widgets receive it."""
    if power is None:
        power = (-110.0 + np.random.default_rng(seq).standard_normal(n_bins)).astype(np.float32)
    return Spectrum(sensor_id, seq, t_utc, profile=profile, f_start_hz=f_start_hz, f_step_hz=f_step_hz,
                    power_dbm=np.asarray(power, np.float32), noise_floor_dbm=floor_dbm, threshold_dbm=threshold_dbm,
                    antenna_factor_db_m=af_db_m)


def temp_settings(path) -> QSettings:
    """QSettings in a file under tmp_path (the user's real settings stay untouched)."""
    return QSettings(str(path), QSettings.Format.IniFormat)


def write_archive(root: Path) -> Path:
    """A data directory as the server writes it: 120 sweeps 1 s apart, 2 alerts, 2 occupancy rows."""

    def at(seconds: float) -> str:
        return format_utc(ARCHIVE_T0 + timedelta(seconds=seconds))

    arch = SpectrumArchive(root / "spectra")
    meta = SensorMeta("js-01", "JS", 31.3, 120.6, 20.0)
    for i in range(ARCHIVE_SWEEPS):
        arch.stage(meta, Spectrum("js-01", i, at(i), profile="pmr446", f_start_hz=446.0e6, f_step_hz=3125.0,
                                  power_dbm=archive_row(i), noise_floor_dbm=-112.0 + i, threshold_dbm=-106.0,
                                  antenna_factor_db_m=2.0))
        if i % 50 == 49:
            arch.flush()
    arch.flush()
    arch.close()
    store = Store(root / "server.db")
    store.sensors.upsert(Hello("js-01", 0, at(0), province="JS", lat=31.3, lon=120.6), at(0))
    for aid, first in (("A1", 30), ("A2", 90)):
        store.alerts.save_alert_json({"id": aid, "event": "opened", "state": "open", "severity": "major",
                               "verdicts": ["unlicensed"], "provinces_source": ["ZJ"], "provinces_affected": ["JS"],
                               "f_center_hz": 446.05e6, "bandwidth_hz": 8000.0, "sensors": [],
                               "position": {"lat": 31.0, "lon": 120.5, "error_km": 3.0, "semi_major_km": 2.0,
                                            "semi_minor_km": 1.0, "orientation_deg": 0.0, "provinces": {}},
                               "first_seen": at(first),
                               "last_seen": at(first + 5)})
    for k in range(2):
        store.summaries.insert_occupancy(Occupancy("js-01", 1000 + k, at(60 * (k + 1)),
                                         profile="pmr446", t_start_utc=at(60 * k),
                                         t_end_utc=at(60 * (k + 1)), revisits=60,
                                         fbo=0.25, channel_centers_hz=446.00625e6 + 12_500.0 * np.arange(16),
                                         fco=np.full(16, 0.25, np.float32)))
    store.commit()
    store.close()
    return root
