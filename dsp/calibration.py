"""Calibration: dBFS at the ADC -> dBm at the antenna port -> field strength in dB(uV/m).

A receiver reports power relative to ADC full scale (dBFS). What 0 dBFS means in dBm at the antenna
port depends on the RF gain and (through the front-end response) on frequency, so it is looked up in a
table measured with a signal generator: ``offset_db(gain_db, freq_hz)`` is the antenna-port level in
dBm that reads 0 dBFS, and ``P_dBm = P_dBFS + offset_db``.

Field strength for a 50 ohm system: ``E_dBuV/m = P_dBm + 107 + AF_dB/m`` (107 = dBuV of 0 dBm into 50 ohm).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

# 0 dBm into 50 ohm is 223.6 mV = 106.99 dBuV; the usual rounded constant.
DBM_TO_DBUV_50OHM = 107.0
# Without a measured table: level at the antenna port (dBm) that reads 0 dBFS at 0 dB RF gain.
# About right for an RTL-SDR (R820T) ; any real measurement should use a CalibrationTable.
NOMINAL_FULL_SCALE_DBM = -10.0


@dataclass(frozen=True)
class CalibrationTable:
    """Antenna-port dBm that reads 0 dBFS, on a (gain_db x freq_hz) grid, bilinearly interpolated.

    Outside the grid the nearest edge value is used (clamped), not extrapolated.
    """

    gains_db: tuple[float, ...]
    freqs_hz: tuple[float, ...]
    offsets_db: tuple[tuple[float, ...], ...]  # offsets_db[i_gain][i_freq]

    def __post_init__(self) -> None:
        g = np.asarray(self.gains_db, dtype=np.float64)
        f = np.asarray(self.freqs_hz, dtype=np.float64)
        o = np.asarray(self.offsets_db, dtype=np.float64)
        if g.ndim != 1 or g.size < 1 or np.any(np.diff(g) <= 0):
            raise ValueError("CalibrationTable.gains_db must be a non-empty strictly increasing sequence")
        if f.ndim != 1 or f.size < 1 or np.any(np.diff(f) <= 0):
            raise ValueError("CalibrationTable.freqs_hz must be a non-empty strictly increasing sequence")
        if o.shape != (g.size, f.size):
            raise ValueError(
                f"CalibrationTable.offsets_db must have shape (len(gains_db), len(freqs_hz)) = "
                f"({g.size}, {f.size}), got {o.shape}"
            )
        if not np.all(np.isfinite(o)):
            raise ValueError("CalibrationTable.offsets_db must be finite")
        # Normalise to tuples of floats so the value is hashable and round-trips through JSON.
        object.__setattr__(self, "gains_db", tuple(float(v) for v in g))
        object.__setattr__(self, "freqs_hz", tuple(float(v) for v in f))
        object.__setattr__(self, "offsets_db", tuple(tuple(float(v) for v in row) for row in o))

    def offset_db(self, gain_db: float, freq_hz: float | np.ndarray) -> float | np.ndarray:
        """dBm at the antenna port for 0 dBFS at this gain and frequency (bilinear, clamped)."""
        g = np.asarray(self.gains_db)
        o = np.asarray(self.offsets_db)
        freq = np.asarray(freq_hz, dtype=np.float64)
        per_gain = np.array([np.interp(freq, self.freqs_hz, row) for row in o])  # (n_gain, *freq.shape)
        if g.size == 1:
            res = per_gain[0]
        else:
            gc = float(np.clip(gain_db, g[0], g[-1]))
            i = int(np.clip(np.searchsorted(g, gc, side="right") - 1, 0, g.size - 2))
            t = (gc - g[i]) / (g[i + 1] - g[i])
            res = per_gain[i] * (1.0 - t) + per_gain[i + 1] * t
        return float(res) if np.ndim(res) == 0 else res

    def to_dict(self) -> dict[str, Any]:
        return {
            "gains_db": list(self.gains_db),
            "freqs_hz": list(self.freqs_hz),
            "offsets_db": [list(r) for r in self.offsets_db],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CalibrationTable:
        missing = {"gains_db", "freqs_hz", "offsets_db"} - set(data)
        if missing:
            raise ValueError(f"CalibrationTable: missing field(s) {sorted(missing)}")
        return cls(tuple(data["gains_db"]), tuple(data["freqs_hz"]), tuple(map(tuple, data["offsets_db"])))


def dbfs_to_dbm(
    power_dbfs: float | np.ndarray,
    *,
    gain_db: float,
    freq_hz: float | np.ndarray,
    table: CalibrationTable | None = None,
) -> float | np.ndarray:
    """Power at the antenna port (dBm) from power relative to ADC full scale (dBFS).

    With a table: ``P_dBFS + table.offset_db(gain_db, freq_hz)``. Without one, a nominal uncalibrated
    conversion ``P_dBFS + NOMINAL_FULL_SCALE_DBM - gain_db`` (more RF gain, less input for full scale).
    ``freq_hz`` may be an array matching ``power_dbfs`` (one value per bin).
    """
    offset: float | np.ndarray
    if table is None:
        offset = NOMINAL_FULL_SCALE_DBM - float(gain_db)
    else:
        offset = table.offset_db(gain_db, freq_hz)
    result = np.asarray(power_dbfs, dtype=np.float64) + offset
    return float(result) if result.ndim == 0 else result


def dbm_to_dbuv_m(p_dbm: float | np.ndarray, antenna_factor_db_m: float | np.ndarray) -> float | np.ndarray:
    """Field strength dB(uV/m) from antenna-port power (dBm, 50 ohm) and antenna factor (dB/m)."""
    return p_dbm + DBM_TO_DBUV_50OHM + antenna_factor_db_m


def dbuv_m_to_dbm(field_dbuv_m: float | np.ndarray, antenna_factor_db_m: float | np.ndarray) -> float | np.ndarray:
    """Antenna-port power (dBm, 50 ohm) from field strength dB(uV/m); inverse of :func:`dbm_to_dbuv_m`."""
    return field_dbuv_m - DBM_TO_DBUV_50OHM - antenna_factor_db_m
