"""TDOA hyperbola branches in lon/lat: one per sensor pair of an alert's ``tdoa`` detail, for any map.

A pair's range difference d (metres: the path from sensor i minus the path from the pair's reference
sensor) puts the emitter on the branch of the hyperbola with foci at the two sensors where
``|P - S_i| - |P - S_0| = d``: the branch on the reference sensor's side when d > 0. Distances are
great-circle ones (mean Earth radius): over the tens of km between sensors a flat frame is off by up
to ~1 % of the distance, hundreds of metres of range difference. A local flat frame about the pair's
midpoint (km east/north, the localiser's equirectangular frame of :mod:`station_db.regions`) only
spreads the points along the branch (``x = -(d/2) cosh t`` along the axis, ``y = b sinh t``,
``b^2 = c^2 - (d/2)^2`` with c half the baseline); each point is then put on the spherical branch along
its bearing from the nearer sensor, to well under a millimetre. Where the hyperbolas cross is the TDOA
fix; how thick their bundle is at the crossing is what the fix's ellipse states.

Why here: the console's map (pyqtgraph) and the field teams' web map (server-drawn SVG) both draw
these branches and may not import each other; station_db holds the shared geography helpers. Plain
data in, numpy out: no Qt, no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from station_db.regions import KM_PER_DEG_LAT, km_to_deg

#: How far along a branch is drawn from its vertex (km of arc parameter: enough to cross the region).
HALF_LENGTH_KM = 60.0
#: Mean Earth radius (km) of the great-circle distances the branch is drawn on.
EARTH_RADIUS_KM = 6371.0088
#: Bisection steps of the distance along each point's bearing (halves the bracket each: 60 reach below a
#: micrometre from a bracket of thousands of km).
_BISECTION_STEPS = 60
#: Doublings of the bracket's far end before a bearing is judged to have no point of the branch.
_BRACKET_DOUBLINGS = 8


def hyperbola_lonlat(ref: tuple[float, float], other: tuple[float, float], range_diff_m: float,
                     half_length_km: float = HALF_LENGTH_KM, n: int = 241) -> np.ndarray:
    """Up to n (lon, lat) points of the branch ``|P - other| - |P - ref| = range_diff_m`` (``ref``, ``other``:
    (lat, lon); great-circle distances), in order along it; empty when |d| is not below the baseline (no
    such branch: a bad pair).

    The flat frame's hyperbola only chooses the bearings, seen from the focus the branch wraps (the nearer
    sensor), at which points are placed; along each bearing the point's distance is then solved on the
    sphere. ``|P - far| - |P - near|`` only grows with the distance along a bearing (triangle inequality),
    so a bracketed bisection finds the one point there exactly, however thin the branch and far from the
    sensors (a Newton step across the branch fails where it nearly folds onto the baseline's extension).
    A bearing with no point of the branch (the flat frame's asymptote a little outside the sphere's) is
    left out.
    """
    if n < 2 or not half_length_km > 0.0:
        raise ValueError(f"a branch needs n >= 2 points over a positive length, got n={n}, "
                         f"half_length_km={half_length_km}")
    d_km = range_diff_m / 1000.0
    base_km = float(great_circle_km(ref, np.array(other[0]), np.array(other[1])))
    if not math.isfinite(d_km) or base_km <= 0.0 or abs(d_km) >= base_km:
        return np.zeros((0, 2))
    # the branch wraps the sensor the emitter is nearer to: ref when d > 0
    near, far = (ref, other) if d_km >= 0.0 else (other, ref)
    lat0, lon0 = 0.5 * (ref[0] + other[0]), 0.5 * (ref[1] + other[1])
    dlon1, _ = km_to_deg(lat0, 1.0, 0.0)
    kx = 1.0 / float(dlon1)
    p_near = np.array([(near[1] - lon0) * kx, (near[0] - lat0) * KM_PER_DEG_LAT])
    p_far = np.array([(far[1] - lon0) * kx, (far[0] - lat0) * KM_PER_DEG_LAT])
    c = 0.5 * float(np.linalg.norm(p_far - p_near))
    if c <= 0.0:
        return np.zeros((0, 2))
    # the flat hyperbola about the midpoint: x along near -> far, the vertex at x = -a (near's side); its d
    # scaled by the frames' baseline ratio so that it exists whenever the spherical one does
    a = 0.5 * abs(d_km) * c / (0.5 * base_km)
    b = math.sqrt(max(c * c - a * a, 0.0))
    if b <= 0.0:
        return np.zeros((0, 2))
    t = np.linspace(-math.asinh(half_length_km / b), math.asinh(half_length_km / b), n)
    u = (p_far - p_near) / (2 * c)
    v = np.array([-u[1], u[0]])
    pts = np.outer(-a * np.cosh(t), u) + np.outer(b * np.sinh(t), v)
    dlon, dlat = km_to_deg(lat0, pts[:, 0], pts[:, 1])
    bearing = _bearing_rad(near, lat0 + dlat, lon0 + dlon)
    r_km = _solve_along(near, far, bearing, abs(d_km), start_km=np.linalg.norm(pts - p_near, axis=1))
    ok = np.isfinite(r_km)
    lat, lon = _destination(near, bearing[ok], r_km[ok])
    return np.column_stack([lon, lat])


def _bearing_rad(a: tuple[float, float], lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Initial great-circle bearing (radians clockwise from north) from ``a`` (lat, lon) to each point."""
    p1, p2 = math.radians(a[0]), np.radians(lat)
    dl = np.radians(lon - a[1])
    return np.arctan2(np.sin(dl) * np.cos(p2), math.cos(p1) * np.sin(p2) - math.sin(p1) * np.cos(p2) * np.cos(dl))


def _destination(a: tuple[float, float], bearing_rad: np.ndarray, dist_km: np.ndarray) -> tuple[np.ndarray,
                                                                                                 np.ndarray]:
    """(lat, lon) degrees reached from ``a`` along each bearing after each great-circle distance."""
    p1, l1 = math.radians(a[0]), math.radians(a[1])
    delta = np.asarray(dist_km) / EARTH_RADIUS_KM
    p2 = np.arcsin(np.clip(math.sin(p1) * np.cos(delta) + math.cos(p1) * np.sin(delta) * np.cos(bearing_rad),
                           -1.0, 1.0))
    l2 = l1 + np.arctan2(np.sin(bearing_rad) * np.sin(delta) * math.cos(p1), np.cos(delta) - math.sin(p1) * np.sin(p2))
    return np.degrees(p2), np.degrees(l2)


def _solve_along(near: tuple[float, float], far: tuple[float, float], bearing_rad: np.ndarray, d_km: float,
                 start_km: np.ndarray) -> np.ndarray:
    """Distance (km) along each bearing from ``near`` where ``|P - far| - |P - near| = d_km``; NaN where none.

    g(r) = |P(r) - far| - r - d_km is d's excess: positive at r = 0 (|d| below the baseline), never rising
    with r. The bracket [0, hi] starts at twice the flat frame's distance and doubles until g(hi) <= 0.
    """

    def g(r: np.ndarray) -> np.ndarray:
        lat, lon = _destination(near, bearing_rad, r)
        return np.asarray(great_circle_km(far, lat, lon) - r - d_km)

    lo = np.zeros_like(bearing_rad)
    hi = 2.0 * np.asarray(start_km, dtype=float) + 1.0
    max_km = math.pi * EARTH_RADIUS_KM / 2  # a quarter of the way round: far past any map drawn here
    for _ in range(_BRACKET_DOUBLINGS):
        open_ = g(hi) > 0.0
        if not open_.any():
            break
        hi = np.where(open_, np.minimum(2.0 * hi, max_km), hi)
    found = g(hi) <= 0.0
    for _ in range(_BISECTION_STEPS):
        mid = 0.5 * (lo + hi)
        above = g(mid) > 0.0
        lo, hi = np.where(above, mid, lo), np.where(above, hi, mid)
    return np.where(found, 0.5 * (lo + hi), np.nan)


def great_circle_km(a: tuple[float, float], lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Great-circle distance (km) from ``a`` (lat, lon) to each point (haversine, mean radius): the
    distance a branch's range difference is stated in."""
    p1, p2 = math.radians(a[0]), np.radians(lat)
    h = np.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * np.cos(p2) * np.sin(np.radians(lon - a[1]) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))


def _is_number(x: object) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def tdoa_fix(tdoa: Mapping[str, Any]) -> tuple[float, float] | None:
    """(lat, lon) of the TDOA fix of an alert's ``tdoa`` detail; None when it states none."""
    pos = tdoa.get("position")
    if isinstance(pos, Mapping) and _is_number(pos.get("lat")) and _is_number(pos.get("lon")):
        return float(pos["lat"]), float(pos["lon"])
    return None


def tdoa_hyperbolas(tdoa: Mapping[str, Any], half_length_km: float = HALF_LENGTH_KM) -> list[np.ndarray]:
    """The branches of an alert's ``tdoa`` detail (as the server states it, docs/alert-schema.md): one per
    usable pair, in the order of ``pairs``. A pair whose sensor has no position, whose range difference is
    not a number or is not below the baseline is left out (nothing true could be drawn for it)."""
    where = {str(s.get("sensor_id")): (float(s["lat"]), float(s["lon"])) for s in tdoa.get("sensors") or []
             if isinstance(s, Mapping) and _is_number(s.get("lat")) and _is_number(s.get("lon"))}
    ref = where.get(str(tdoa.get("reference_sensor")))
    if ref is None:
        return []
    out = []
    for p in tdoa.get("pairs") or []:
        if not isinstance(p, Mapping):
            continue
        other = where.get(str(p.get("sensor_id")))
        if other is None or not _is_number(p.get("range_diff_m")):
            continue
        xy = hyperbola_lonlat(ref, other, float(p["range_diff_m"]), half_length_km)
        if len(xy):
            out.append(xy)
    return out
