"""A synthetic border with known distances for coordination-request tests.

Station at 31.0 N 120.0 E; the "JS" border is a north-south line (every 1 km, 60 km either way)
exactly ``EAST_KM`` east of it, the "ZJ" border the same ``FAR_KM`` west. With a 100 MHz, 75 m
station at 1 % of time the P.1546 field at the nearest points is the tabulated value itself.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, date, datetime

import numpy as np

from station_db.geo import haversine_km
from station_db.models import Station
from station_db.rules import BandRule, RuleSet

LAT0, LON0 = 31.0, 120.0
EAST_KM = 20.0
FAR_KM = 60.0
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)

# ITU-R P.1546-6 figure 3 (100 MHz, land, 1 % of time), h1 = 75 m, 1 kW e.r.p., dB(uV/m):
E_1KW_20KM = 57.8207
E_1KW_25KM = 54.0388


def _lon_at(distance_km: float, sign: float) -> float:
    """Longitude on the station's parallel at ``distance_km`` (solved on the haversine sphere)."""
    lo, hi = 0.0, 2.0
    for _ in range(60):
        mid = (lo + hi) / 2.0
        if float(haversine_km(LAT0, LON0, LAT0, LON0 + sign * mid)) < distance_km:
            lo = mid
        else:
            hi = mid
    return LON0 + sign * (lo + hi) / 2.0


def line(distance_km: float, sign: float) -> np.ndarray:
    """(121, 2) lat/lon samples of a meridian segment, 1 km apart, +-60 km around the station's parallel."""
    lon = _lon_at(distance_km, sign)
    km_per_deg = float(haversine_km(LAT0, lon, LAT0 + 1.0, lon))
    lats = LAT0 + np.arange(-60, 61) / km_per_deg
    return np.column_stack([lats, np.full(len(lats), lon)])


def pieces(own: str, neighbour: str, step_km: float) -> Sequence[np.ndarray]:
    assert math.isclose(step_km, 1.0)
    return [line(EAST_KM, +1.0)] if neighbour == "JS" else [line(FAR_KM, -1.0)]


def neighbours(province: str) -> Sequence[str]:
    return ("JS", "ZJ")


def fm_rules(limit_dbuv_m: float) -> RuleSet:
    band = BandRule("FM broadcast", "broadcast", 87.5e6, 108e6, 100e3, 200e3, limit_dbuv_m, 1.0, 10.0, 3)
    return RuleSet("test-1", (band,), "test")


def fm_station(erp_dbw: float = 0.0, **kw: object) -> Station:
    base: dict[str, object] = dict(
        station_id="SH-FM-9001", province="SH", licensee="Test FM (fictional)", service="broadcast",
        tx_freq_hz=100.0e6, rx_freq_hz=None, emission_designator="180KF3E", necessary_bw_hz=180e3, erp_dbw=erp_dbw,
        antenna_height_m=75.0, azimuth_deg=None, pattern="omni", ground_height_m=0.0, lat=LAT0, lon=LON0,
        valid_from=date(2026, 1, 1), valid_to=date(2035, 12, 31),
    )
    base.update(kw)
    return Station(**base)  # type: ignore[arg-type]
