"""Radio link for the simulator: distance, propagation model and the level at the antenna port.

A propagation model returns *field strength* at the sensor (dBuV/m), which is what ITU-R P.1546
predicts and what the coordination rules compare against thresholds; the sensor's antenna factor
turns it into antenna-port power, ``P_dBm = E - 107 - AF`` (the inverse of what the daemon applies
to its measurements), so the whole chain round-trips. Free space is the default; the P.1546
model plugs in through the same one-method protocol.
"""

from __future__ import annotations

import logging
import math
from typing import Protocol

from coordination.propagation import free_space_field_dbuv_m as _free_space_field
from coordination.propagation import p1546
from dsp.calibration import dbuv_m_to_dbm
from sdr.scenario import SensorSite, Transmitter

log = logging.getLogger(__name__)

EARTH_RADIUS_KM = 6371.0088


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle (haversine) distance in km."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def bearing_deg(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Initial great-circle bearing from point 1 to point 2, degrees from north (0..360)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dl = math.radians(lon2 - lon1)
    y = math.sin(dl) * math.cos(p2)
    x = math.cos(p1) * math.sin(p2) - math.sin(p1) * math.cos(p2) * math.cos(dl)
    return math.degrees(math.atan2(y, x)) % 360.0


def antenna_gain_db(tx: Transmitter, site: SensorSite) -> float:
    """The transmitter's antenna gain towards the site relative to its main beam (0 dB omnidirectional)."""
    if tx.azimuth_deg is None:
        return 0.0
    return tx.antenna_gain_db(bearing_deg(tx.lat, tx.lon, site.lat, site.lon))


def free_space_field_dbuv_m(erp_dbw: float, d_km: float) -> float:
    """Free-space field strength from ERP (dipole reference): E = ERP_dBW + 76.92 - 20 log10(d_km).

    The coordination package's formula (E = sqrt(30 * 1.64 * ERP) / d), with d floored at 1 m.
    """
    return float(_free_space_field(erp_dbw, max(d_km, 1e-3)))


class PropagationModel(Protocol):
    """Predicts the field strength a transmitter produces at a sensor site."""

    def field_strength_dbuv_m(self, tx: Transmitter, site: SensorSite) -> float: ...


class FreeSpaceModel:
    """Free-space loss over the slant distance (great circle plus height difference)."""

    def field_strength_dbuv_m(self, tx: Transmitter, site: SensorSite) -> float:
        ground_km = distance_km(tx.lat, tx.lon, site.lat, site.lon)
        dh_km = (tx.antenna_height_m - site.height_m) / 1000.0
        return free_space_field_dbuv_m(tx.effective_erp_dbw + antenna_gain_db(tx, site), math.hypot(ground_km, dh_km))


class P1546Model:
    """ITU-R P.1546 over a land path (50 % locations, ``t_pct`` % time) from the coordination package.

    Outside the Recommendation's range (under 1 km, frequencies outside 30-4000 MHz, out-of-range
    heights) the free-space value is used: P.1546 never exceeds free space, and at such short
    distances free space is what it tends to.
    """

    def __init__(self, t_pct: float = 50.0, area: str = "Suburban") -> None:
        self.t_pct = float(t_pct)
        self.area = area
        self._free = FreeSpaceModel()
        self._cache: dict[tuple[str, str, float], float] = {}

    def field_strength_dbuv_m(self, tx: Transmitter, site: SensorSite) -> float:
        key = (tx.id, site.id, tx.effective_erp_dbw)
        if key not in self._cache:
            free = self._free.field_strength_dbuv_m(tx, site)
            d_km = distance_km(tx.lat, tx.lon, site.lat, site.lon)
            try:
                e, _ = p1546.field_strength(
                    tx.emitted_freq_hz / 1e6, self.t_pct, tx.antenna_height_m, max(site.height_m, 1.0), None,
                    self.area, [d_km], ["Land"], erp_kw=10 ** (tx.effective_erp_dbw / 10) / 1e3,
                    ha_m=tx.antenna_height_m,
                )
                self._cache[key] = min(float(e) + antenna_gain_db(tx, site), free)
            except ValueError as exc:
                log.debug("P.1546 not applicable for %s -> %s (%s); using free space", tx.id, site.id, exc)
                self._cache[key] = free
        return self._cache[key]


def received_dbm(model: PropagationModel, tx: Transmitter, site: SensorSite) -> float:
    """Power at the sensor's antenna port (dBm, 50 ohm) while the transmitter is keyed."""
    return float(dbuv_m_to_dbm(model.field_strength_dbuv_m(tx, site), site.antenna_factor_db_m))
