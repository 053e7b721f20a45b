"""Border assignment check: does a (proposed) station need coordination with its neighbours?

Before a regulator assigns a frequency near a provincial border, the field strength the station
would produce along every neighbouring province's border line is predicted and compared with the
band's agreed trigger value (HCM style: 50 % of locations, the band's time percentage, receiver
10 m above ground). The propagation model is passed in (``field_strength_many`` with the
signature of ``coordination.propagation.p1546.field_strength_many``) so this package keeps
importing nothing of the layers above it, and tests can use the real model.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from station_db import geo
from station_db.exchange import parse_pattern
from station_db.models import Station
from station_db.rules import BandRule, RuleSet

FieldStrengthFn = Callable[..., tuple[np.ndarray, np.ndarray]]
"""``f(f_mhz, t_pct, heff_m, h2_m, r2_m, area, d_km, *, path, q_pct, erp_kw, ha_m, eff1_deg, eff2_deg)
-> (E dBuV/m, Lb dB)``."""

RECEIVER_HEIGHT_M = 10.0
"""Trigger values are defined 10 m above ground."""
CLUTTER_HEIGHT_M = 10.0
"""Representative clutter height R2 at the border (rural; P.1546 Annex 5 section 9)."""
FLAT_CLEARANCE_DEG = 0.0
"""Terminal clearance angles of the flat-terrain assumption (P.1546 sections 4.3a and 11): given,
they let P.1546's tropospheric-scatter step (section 13) apply, as in the rules engine's predictions."""
MIN_DISTANCE_KM = 0.1
"""Border points closer than this are evaluated at this distance (P.1546 needs d > 0)."""
MAX_FRONT_TO_BACK_DB = 20.0


@dataclass(frozen=True)
class BorderResult:
    """The worst point of one neighbour's border line."""

    neighbour: str
    n_points: int
    nearest_km: float
    worst_field_dbuv_m: float
    worst_point: tuple[float, float]
    worst_distance_km: float
    margin_db: float
    """Limit minus worst field strength: negative means the limit is exceeded."""

    @property
    def exceeds(self) -> bool:
        return self.margin_db < 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "neighbour": self.neighbour, "n_points": self.n_points, "nearest_km": self.nearest_km,
            "worst_field_dbuv_m": self.worst_field_dbuv_m, "worst_lat": self.worst_point[0],
            "worst_lon": self.worst_point[1], "worst_distance_km": self.worst_distance_km,
            "margin_db": self.margin_db, "exceeds": self.exceeds,
        }


@dataclass(frozen=True)
class BorderCheck:
    """Outcome of the check for one station (``band`` None: no agreed band, nothing to check)."""

    station: Station
    band: BandRule | None
    rules_version: str
    results: tuple[BorderResult, ...] = field(default=())

    @property
    def coordination_required(self) -> bool:
        return any(r.exceeds for r in self.results)

    @property
    def worst(self) -> BorderResult | None:
        """The border with the smallest margin."""
        return min(self.results, key=lambda r: r.margin_db, default=None)

    def to_dict(self) -> dict[str, Any]:
        band = self.band
        return {
            "station": self.station.to_dict(),
            "rules_version": self.rules_version,
            "band": None if band is None else band.name,
            "limit_dbuv_m": None if band is None else band.border_limit_dbuv_m,
            "time_pct": None if band is None else band.time_pct,
            "coordination_required": self.coordination_required,
            "borders": [r.to_dict() for r in self.results],
        }


def bearing_deg(lat1: float, lon1: float, lat2: np.ndarray, lon2: np.ndarray) -> np.ndarray:
    """Initial great-circle bearing (degrees clockwise from north) from point 1 to points 2."""
    p1, p2 = math.radians(lat1), np.radians(lat2)
    dl = np.radians(lon2 - lon1)
    y = np.sin(dl) * np.cos(p2)
    x = math.cos(p1) * np.sin(p2) - math.sin(p1) * np.cos(p2) * np.cos(dl)
    return np.degrees(np.arctan2(y, x)) % 360.0


def pattern_attenuation_db(pattern: str, azimuth_deg: float | None, bearing: np.ndarray) -> np.ndarray:
    """Attenuation relative to the main beam towards ``bearing`` (degrees).

    ``omni``: 0 dB. ``dir:BW``: the parabolic main-beam model 12 (dphi / BW)^2 dB, capped at a
    20 dB front-to-back ratio, the usual envelope when no measured pattern is filed.
    """
    beamwidth = parse_pattern(pattern)
    if beamwidth is None or azimuth_deg is None:
        return np.zeros_like(np.asarray(bearing, dtype=float))
    off = (np.asarray(bearing, dtype=float) - azimuth_deg + 180.0) % 360.0 - 180.0
    return np.minimum(12.0 * (off / beamwidth) ** 2, MAX_FRONT_TO_BACK_DB)


def check_station(
    station: Station,
    rules: RuleSet,
    field_strength_many: FieldStrengthFn,
    *,
    step_km: float = 1.0,
    area: str = "Rural",
) -> BorderCheck:
    """Predict the station's field strength along each neighbour's border line against the limit.

    ``heff`` (and ``ha`` for border points closer than 15 km) is taken as the antenna height
    above ground: no terrain model, so a flat-terrain assumption, right for the delta plain,
    optimistic for a hill site. The prediction uses the
    station's maximum e.r.p. reduced by its pattern towards each border point.
    """
    band = rules.band_for(station.tx_freq_hz)
    if band is None:
        return BorderCheck(station, None, rules.version)
    results = []
    for neighbour in geo.neighbours(station.province):
        line = geo.border_line(station.province, neighbour, step_km)
        if len(line) == 0:
            continue
        lats, lons = line[:, 0], line[:, 1]
        d_km = np.asarray(geo.haversine_km(station.lat, station.lon, lats, lons), dtype=float)
        e_1kw, _ = field_strength_many(
            station.tx_freq_hz / 1e6, band.time_pct, station.antenna_height_m, RECEIVER_HEIGHT_M,
            CLUTTER_HEIGHT_M, area, np.maximum(d_km, MIN_DISTANCE_KM), path="Land", q_pct=50.0, erp_kw=1.0,
            ha_m=station.antenna_height_m,  # paths < 15 km (P.1546 section 3.1); flat terrain: ha = heff
            eff1_deg=FLAT_CLEARANCE_DEG, eff2_deg=FLAT_CLEARANCE_DEG,
        )
        att_db = pattern_attenuation_db(station.pattern, station.azimuth_deg, bearing_deg(station.lat, station.lon,
                                                                                           lats, lons))
        e_dbuv_m = np.asarray(e_1kw, dtype=float) + (station.erp_dbw - 30.0) - att_db  # curves are for 1 kW e.r.p.
        i = int(np.argmax(e_dbuv_m))
        results.append(BorderResult(
            neighbour=neighbour, n_points=len(line), nearest_km=float(d_km.min()),
            worst_field_dbuv_m=float(e_dbuv_m[i]), worst_point=(float(lats[i]), float(lons[i])),
            worst_distance_km=float(d_km[i]), margin_db=float(band.border_limit_dbuv_m - e_dbuv_m[i]),
        ))
    return BorderCheck(station, band, rules.version, tuple(sorted(results, key=lambda r: r.margin_db)))
