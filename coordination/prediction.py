"""Predicted field strength for the rules engine: one place that decides which propagation model.

The engine asks three questions, all answered here so the model is switched in one line
(:func:`field_0dbw_dbuv_m`):

- what field does a licensed station produce at a sensor (:func:`predict_field_dbuv_m`),
- at a point on a province border (:func:`predict_at_point_dbuv_m`),
- what does the distance law of an unknown emitter look like, for localisation
  (:func:`emitter_field_model`: field of a 0 dBW e.r.p. transmitter versus distance).

The model is ITU-R P.1546 (:mod:`coordination.propagation.p1546`; point-to-area, land path, 50 % of
locations, the band's time percentage).
The transmitter's effective height is taken as its antenna height plus its site (ground) height,
as the brief allows without a terrain model; the receiving height is the sensor's antenna height
(10 m, the reference height of border limits, at a border point). The same flat-terrain assumption
gives both terminals a clearance angle of 0 degrees, so the tropospheric-scatter floor applies.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np

from coordination.propagation import p1546
from coordination.sensors import SensorInfo
from station_db.models import Station
from station_db.rules import BandRule

log = logging.getLogger(__name__)

UNKNOWN_EMITTER_HEIGHT_M = 20.0
"""Assumed effective antenna height of an emitter we know nothing about (rooftop / mast)."""

BORDER_RX_HEIGHT_M = 10.0
"""Receiving height of the border limits (dBuV/m at 10 m above ground)."""

MIN_HEFF_M = 1.0

FLAT_CLEARANCE_DEG = 0.0
"""Terminal clearance angles of the flat-terrain assumption (P.1546 sections 4.3a and 11): with them
the tropospheric-scatter floor of step 13 (section 13) applies, which P.1546 skips when the angles
are unknown."""

AREA = "Rural"
"""P.1546 receiving-area type: the border zones of the delta are mostly open farmland and water."""

_F_RANGE_MHZ = (30.0, 4000.0)
"""P.1546 validity; the 29.7-30 MHz sliver of the VHF low band is predicted at 30 MHz."""


def model_name() -> str:
    """Which propagation model predictions come from (recorded in alert findings and border computations)."""
    return "ITU-R P.1546-6"


def field_0dbw_dbuv_m(d_km: np.ndarray, freq_hz: float, h1_m: float, h2_m: float, time_pct: float,
                      ha_m: float | None = None) -> np.ndarray:
    """Field (dBuV/m) of a 0 dBW e.r.p. transmitter over land at distances ``d_km``: THE model switch.

    ``h1_m`` is the effective transmitting height, ``ha_m`` the antenna height above ground (P.1546
    section 3.1 uses it on paths shorter than 15 km); 50 % of locations.
    """
    d = np.clip(np.asarray(d_km, dtype=float), 1e-3, 1000.0)
    f_mhz = min(max(freq_hz / 1e6, _F_RANGE_MHZ[0]), _F_RANGE_MHZ[1])
    heff = max(h1_m, MIN_HEFF_M)
    e_1kw, _ = p1546.field_strength_many(
        f_mhz, min(max(time_pct, 1.0), 50.0), heff, max(h2_m, MIN_HEFF_M), None, AREA, d,
        path="Land", ha_m=heff if ha_m is None else max(ha_m, MIN_HEFF_M),
        eff1_deg=FLAT_CLEARANCE_DEG, eff2_deg=FLAT_CLEARANCE_DEG,
    )
    return np.asarray(e_1kw, dtype=float) - 30.0


def station_heff_m(station: Station) -> float:
    """Effective transmitting height: antenna above ground plus site height (no terrain model)."""
    return max(station.antenna_height_m + station.ground_height_m, MIN_HEFF_M)


def antenna_loss_db(station: Station, lat: np.ndarray | float, lon: np.ndarray | float) -> np.ndarray:
    """How far under its (main-beam) licensed e.r.p. the station's filed antenna radiates towards each point:
    0 for ``omni``, the parabolic sector model of :func:`station_db.border_check.pattern_attenuation_db` for
    ``dir:BW`` (a public-mobile sector radiates some 20 dB less behind it: a sensor there hears it that much
    weaker, or not at all, and neither is evidence that the emitter is someone else)."""
    from station_db.border_check import bearing_deg, pattern_attenuation_db

    lats, lons = np.atleast_1d(np.asarray(lat, dtype=float)), np.atleast_1d(np.asarray(lon, dtype=float))
    if station.azimuth_deg is None or station.pattern == "omni":
        return np.zeros_like(lats)
    return pattern_attenuation_db(station.pattern, station.azimuth_deg, bearing_deg(station.lat, station.lon, lats,
                                                                                     lons))


def predict_at_point_dbuv_m(
    station: Station, lat: float, lon: float, rx_height_m: float, rule: BandRule, erp_dbw: float | None = None,
) -> float:
    """Field of ``station`` (its licensed e.r.p. unless ``erp_dbw`` is given, through its filed antenna
    pattern) at a point."""
    from station_db.geo import haversine_km

    d_km = float(haversine_km(station.lat, station.lon, lat, lon))
    erp = station.erp_dbw if erp_dbw is None else erp_dbw
    g = field_0dbw_dbuv_m(np.array([d_km]), station.tx_freq_hz, station_heff_m(station), rx_height_m, rule.time_pct,
                          ha_m=station.antenna_height_m)
    return float(erp + g[0] - antenna_loss_db(station, lat, lon)[0])


def predict_field_dbuv_m(station: Station, sensor: SensorInfo, rule: BandRule) -> float:
    """Field strength the licence predicts at ``sensor`` (P.1546 with the band's time %)."""
    return predict_at_point_dbuv_m(station, sensor.lat, sensor.lon, sensor.height_m, rule)


def emitter_field_model(freq_hz: float, rx_height_m: float, time_pct: float = 50.0,
                        tx_height_m: float = UNKNOWN_EMITTER_HEIGHT_M) -> Callable[[np.ndarray], np.ndarray]:
    """Distance law of an unknown emitter (0 dBW), median time, for the localiser."""

    def model(d_km: np.ndarray) -> np.ndarray:
        return field_0dbw_dbuv_m(d_km, freq_hz, tx_height_m, rx_height_m, time_pct)

    return model
