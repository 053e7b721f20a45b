"""Free-space field strength and received power, and field-strength <-> power conversion.

Why: the sensor simulator and quick coordination checks need the free-space reference (the limit
P.1546 itself never exceeds) and a way to turn a predicted field strength into the power an
antenna delivers to a receiver. All functions are vectorised over numpy arrays.

Conventions: e.r.p. is referred to a half-wave dipole (2.15 dBi), so EIRP = ERP + 2.15 dB; a field
strength E (dBuV/m) at f (MHz) corresponds to a received power with an isotropic (0 dBi) antenna
of P (dBm) = E - 20 log10(f_MHz) - 77.2 (ITU-R P.525 / P.1546 section 17 conventions).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

#: ERP (dipole) to EIRP (isotropic) offset in dB.
DIPOLE_GAIN_DBI = 2.15


def _positive(name: str, values: NDArray[np.float64]) -> None:
    bad = ~np.isfinite(values) | (values <= 0.0)
    if np.any(bad):
        raise ValueError(f"{name} must be finite and > 0, got {values[bad].ravel()[0]!r}")


def free_space_field_dbuv_m(erp_dbw: ArrayLike, d_km: ArrayLike) -> NDArray[np.float64]:
    """Free-space field strength E = ERP_dBW + 76.92 - 20 log10(d_km) in dB(uV/m).

    With 1 kW (30 dBW) this is P.1546's Efs = 106.92 - 20 log10(d) (the Recommendation rounds the
    constant to 106.9).
    """
    d = np.asarray(d_km, dtype=np.float64)
    _positive("d_km", d)
    return np.asarray(erp_dbw, dtype=np.float64) + 76.92 - 20.0 * np.log10(d)


def field_dbuv_m_to_dbm(e_dbuv_m: ArrayLike, f_hz: ArrayLike, rx_gain_dbi: ArrayLike = 0.0) -> NDArray[np.float64]:
    """Received power (dBm) of an antenna with gain rx_gain_dbi in a field of e_dbuv_m at f_hz.

    P = E - 20 log10(f_MHz) - 77.2 + G (isotropic effective aperture lambda^2 / 4 pi, 120 pi ohm).
    """
    f = np.asarray(f_hz, dtype=np.float64)
    _positive("f_hz", f)
    return (np.asarray(e_dbuv_m, dtype=np.float64) - 20.0 * np.log10(f / 1e6) - 77.2
            + np.asarray(rx_gain_dbi, dtype=np.float64))


def free_space_received_dbm(erp_dbw: ArrayLike, d_km: ArrayLike, f_hz: ArrayLike) -> NDArray[np.float64]:
    """Power (dBm) received with an isotropic (0 dBi) antenna at d_km in free space.

    Friis with EIRP = ERP + 2.15 dB: P = EIRP_dBm - 20 log10(4 pi d / lambda).
    """
    d = np.asarray(d_km, dtype=np.float64)
    f = np.asarray(f_hz, dtype=np.float64)
    _positive("d_km", d)
    _positive("f_hz", f)
    eirp_dbm = np.asarray(erp_dbw, dtype=np.float64) + 30.0 + DIPOLE_GAIN_DBI
    wavelength_m = 299_792_458.0 / f
    fspl_db = 20.0 * np.log10(4.0 * np.pi * d * 1000.0 / wavelength_m)
    return eirp_dbm - fspl_db
