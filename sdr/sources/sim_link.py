"""Radio link for the simulator: distance, propagation model and the level at the antenna port.

A propagation model returns *field strength* at the sensor (dBuV/m), which is what ITU-R P.1546
predicts and what the coordination rules compare against thresholds; the sensor's antenna factor
turns it into antenna-port power, ``P_dBm = E - 107 - AF`` (the inverse of what the daemon applies
to its measurements), so the whole chain round-trips. Free space is the default; the P.1546
model plugs in through the same one-method protocol.
"""

from __future__ import annotations

import math
from typing import Protocol

from sdr.scenario import SensorSite, Transmitter

EARTH_RADIUS_KM = 6371.0088
DBM_TO_DBUV_50OHM = 107.0


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle (haversine) distance in km."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def free_space_field_dbuv_m(erp_dbw: float, d_km: float) -> float:
    """Free-space field strength from ERP (dipole reference): E = ERP_dBW + 76.92 - 20 log10(d_km).

    E = sqrt(30 * 1.64 * ERP) / d; in dB(uV/m) with d in km that is 76.92 + ERP_dBW - 20 log d.
    """
    return erp_dbw + 76.92 - 20.0 * math.log10(max(d_km, 1e-3))


class PropagationModel(Protocol):
    """Predicts the field strength a transmitter produces at a sensor site."""

    def field_strength_dbuv_m(self, tx: Transmitter, site: SensorSite) -> float: ...


class FreeSpaceModel:
    """Free-space loss over the slant distance (great circle plus height difference)."""

    def field_strength_dbuv_m(self, tx: Transmitter, site: SensorSite) -> float:
        ground_km = distance_km(tx.lat, tx.lon, site.lat, site.lon)
        dh_km = (tx.antenna_height_m - site.height_m) / 1000.0
        return free_space_field_dbuv_m(tx.effective_erp_dbw, math.hypot(ground_km, dh_km))


def received_dbm(model: PropagationModel, tx: Transmitter, site: SensorSite) -> float:
    """Power at the sensor's antenna port (dBm, 50 ohm) while the transmitter is keyed."""
    return model.field_strength_dbuv_m(tx, site) - DBM_TO_DBUV_50OHM - site.antenna_factor_db_m
