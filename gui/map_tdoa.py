"""The TDOA picture of an alert for the map: one hyperbola branch per sensor pair, and the fix.

A pair's range difference d (metres: the path from sensor i minus the path from the pair's reference
sensor) puts the emitter on the branch of the hyperbola with foci at the two sensors where
``|P - S_i| - |P - S_0| = d``: the branch on the reference sensor's side when d > 0. Drawn in a
local flat frame about the pair's midpoint (km east/north, equirectangular), parametrised as
``x = -(d/2) cosh t`` along the axis from S_0 to S_i, ``y = b sinh t``, ``b^2 = c^2 - (d/2)^2`` with c
half the baseline, then each point is moved onto the branch of the true (spherical) distances by two
Newton steps (the flat frame alone is off by up to ~1 % of the distance at tens of km). Where the
hyperbolas cross is the TDOA fix; how thick their bundle is at the crossing is what the fix's ellipse
states.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from station_db.regions import KM_PER_DEG_LAT, km_to_deg

#: How far along a branch is drawn from its vertex (km of arc parameter: enough to cross the region).
HALF_LENGTH_KM = 60.0


def hyperbola_lonlat(ref: tuple[float, float], other: tuple[float, float], range_diff_m: float,
                     half_length_km: float = HALF_LENGTH_KM, n: int = 241) -> np.ndarray:
    """(n, 2) lon/lat points of the branch ``|P - other| - |P - ref| = range_diff_m`` (``ref``, ``other``:
    (lat, lon)); empty when |d| is not below the baseline (no such branch: a bad pair)."""
    lat0 = 0.5 * (ref[0] + other[0])
    lon0 = 0.5 * (ref[1] + other[1])
    dlon1, _ = km_to_deg(lat0, 1.0, 0.0)
    kx = 1.0 / float(dlon1)
    p0 = np.array([(ref[1] - lon0) * kx, (ref[0] - lat0) * KM_PER_DEG_LAT])
    p1 = np.array([(other[1] - lon0) * kx, (other[0] - lat0) * KM_PER_DEG_LAT])
    c = 0.5 * float(np.linalg.norm(p1 - p0))
    a = 0.5 * range_diff_m / 1000.0
    if c <= 0.0 or abs(a) >= c:
        return np.zeros((0, 2))
    b = math.sqrt(c * c - a * a)
    t_max = math.asinh(half_length_km / b)
    t = np.linspace(-t_max, t_max, n)
    x, y = -a * np.cosh(t), b * np.sinh(t)
    u = (p1 - p0) / (2 * c)
    v = np.array([-u[1], u[0]])
    pts = np.outer(x, u) + np.outer(y, v)
    # the flat frame is off by up to ~1 % at tens of km: two Newton steps on the true (spherical) distances
    # move each point along the local gradient onto the branch
    for _ in range(2):
        dlon, dlat = km_to_deg(lat0, pts[:, 0], pts[:, 1])
        lat, lon = lat0 + dlat, lon0 + dlon
        f = _sphere_km(other, lat, lon) - _sphere_km(ref, lat, lon) - 2 * a
        g = (pts - p1) / np.linalg.norm(pts - p1, axis=1)[:, None] - (pts - p0) / np.linalg.norm(pts - p0, axis=1)[
            :, None]
        pts = pts - (f / np.maximum(np.sum(g * g, axis=1), 1e-9))[:, None] * g
    dlon, dlat = km_to_deg(lat0, pts[:, 0], pts[:, 1])
    return np.column_stack([lon0 + dlon, lat0 + dlat])


def _sphere_km(a: tuple[float, float], lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Great-circle distance (km) from ``a`` (lat, lon) to each point (haversine, mean radius)."""
    p1, p2 = math.radians(a[0]), np.radians(lat)
    h = np.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * np.cos(p2) * np.sin(np.radians(lon - a[1]) / 2) ** 2
    return 2 * 6371.0088 * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))


def tdoa_hyperbolas(tdoa: Mapping[str, Any]) -> list[np.ndarray]:
    """The branches of an alert's ``tdoa`` detail (as the server states it): one per usable pair."""
    where = {str(s.get("sensor_id")): (float(s["lat"]), float(s["lon"])) for s in tdoa.get("sensors") or []
             if "lat" in s and "lon" in s}
    ref = where.get(str(tdoa.get("reference_sensor")))
    if ref is None:
        return []
    out = []
    for p in tdoa.get("pairs") or []:
        other = where.get(str(p.get("sensor_id")))
        if other is None or not isinstance(p.get("range_diff_m"), int | float):
            continue
        xy = hyperbola_lonlat(ref, other, float(p["range_diff_m"]))
        if len(xy):
            out.append(xy)
    return out
