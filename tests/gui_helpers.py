"""Helpers for the console tests: spin the Qt event loop until a condition holds, build sweeps."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

from coordination.protocol import Spectrum


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
