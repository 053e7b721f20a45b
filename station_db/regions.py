"""Outlines of an estimated emitter position's uncertainty region, in lon/lat, for maps and exports.

An alert's ``position`` (docs/alert-schema.md) gives the region in kilometres: a 1-sigma ellipse
(``semi_major_km``, ``semi_minor_km``, ``orientation_deg`` clockwise from north) or, for one sensor,
an annulus (``r_inner_km`` .. ``r_outer_km`` around the sensor). The localiser computed it in a local
equirectangular frame with the constants below; drawing it with the same constants puts the outline
exactly where the localiser meant it (another km-per-degree would shift the edge by up to 0.5 %).

The console's map and the GeoJSON export both draw from here, so what an operator sees and what a
field team loads into its map tool are the same region. Plain data in, numpy out: no Qt, no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

#: Kilometres per degree of latitude, and per degree of longitude at the equator (times cos(lat)
#: elsewhere): the localiser's frame (coordination.localisation uses these very values).
KM_PER_DEG_LAT = 110.574
KM_PER_DEG_LON_EQ = 111.320

#: Points on a drawn outline (the first repeated at the end to close it).
OUTLINE_POINTS = 73


def km_to_deg(lat: float, east_km: np.ndarray | float, north_km: np.ndarray | float) -> tuple[Any, Any]:
    """Offsets in km east and north of latitude ``lat`` as (dlon, dlat) degrees."""
    kx = KM_PER_DEG_LON_EQ * max(math.cos(math.radians(lat)), 1e-6)
    return np.asarray(east_km) / kx, np.asarray(north_km) / KM_PER_DEG_LAT


def ellipse_lonlat(lat: float, lon: float, semi_major_km: float, semi_minor_km: float, orientation_deg: float,
                   n: int = OUTLINE_POINTS) -> np.ndarray:
    """Closed outline (n x 2 array of lon, lat; last row = first) of an ellipse given in km.

    ``orientation_deg`` is the azimuth of the major axis, degrees clockwise from north.
    """
    if n < 4:
        raise ValueError(f"an outline needs at least 4 points, got n={n}")
    th = np.linspace(0.0, 2.0 * math.pi, n)
    az = math.radians(orientation_deg)
    ue, un = math.sin(az), math.cos(az)  # major axis unit vector (east, north)
    a, b = semi_major_km * np.cos(th), semi_minor_km * np.sin(th)
    dlon, dlat = km_to_deg(lat, a * ue + b * un, a * un - b * ue)
    out = np.column_stack([lon + dlon, lat + dlat])
    out[-1] = out[0]
    return out


def position_outlines(position: Mapping[str, Any] | None, n: int = OUTLINE_POINTS) -> list[np.ndarray]:
    """The outlines of an alert position's region: ``[ellipse]``, ``[inner, outer]`` for an annulus.

    Empty when there is no position, or it states no region (no axes): nothing to draw, and a
    position alone is shown as a point by the caller.
    """
    if not position or position.get("lat") is None or position.get("lon") is None:
        return []
    lat, lon = float(position["lat"]), float(position["lon"])
    if position.get("kind") == "annulus" and position.get("r_outer_km") is not None:
        radii = [float(r) for r in (position.get("r_inner_km"), position["r_outer_km"]) if r]
        return [ellipse_lonlat(lat, lon, r, r, 0.0, n) for r in radii]
    major = float(position.get("semi_major_km") or 0.0)
    if major <= 0.0:
        return []
    minor_km = position.get("semi_minor_km")
    minor = major if minor_km is None else float(minor_km)  # 0 is a real (degenerate) ellipse: a line
    return [ellipse_lonlat(lat, lon, major, minor, float(position.get("orientation_deg") or 0.0), n)]
