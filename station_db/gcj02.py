"""GCJ-02 <-> WGS-84 conversion, so official Chinese map data can be used as boundary files.

Maps published in China are obfuscated with the GCJ-02 offset (a few hundred metres, about
0.5 km around Shanghai). Sensor positions and licences are WGS-84 (GNSS), so a GCJ-02 boundary
file must be converted before any point-in-province test. The forward transform is the widely
published algorithm; the inverse has no closed form and is solved by fixed-point iteration to
well below a millimetre. Outside China the transform is the identity, as in the original.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

_A_M = 6378245.0  # Krasovsky 1940 semi-major axis used by GCJ-02
_EE = 0.00669342162296594323  # its first eccentricity squared


def _out_of_china(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """The rectangle outside which GCJ-02 leaves coordinates untouched."""
    return (lon < 72.004) | (lon > 137.8347) | (lat < 0.8293) | (lat > 55.8271)


def _offset_deg(lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 minus WGS-84 (dlat, dlon) in degrees at a WGS-84 position."""
    x = lon - 105.0
    y = lat - 35.0
    pi = np.pi
    common = (20.0 * np.sin(6.0 * x * pi) + 20.0 * np.sin(2.0 * x * pi)) * 2.0 / 3.0
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
    dlat = dlat + common
    dlat = dlat + (20.0 * np.sin(y * pi) + 40.0 * np.sin(y / 3.0 * pi)) * 2.0 / 3.0
    dlat = dlat + (160.0 * np.sin(y / 12.0 * pi) + 320.0 * np.sin(y * pi / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
    dlon = dlon + common
    dlon = dlon + (20.0 * np.sin(x * pi) + 40.0 * np.sin(x / 3.0 * pi)) * 2.0 / 3.0
    dlon = dlon + (150.0 * np.sin(x / 12.0 * pi) + 300.0 * np.sin(x / 30.0 * pi)) * 2.0 / 3.0
    rad_lat = np.radians(lat)
    magic = 1.0 - _EE * np.sin(rad_lat) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A_M * (1.0 - _EE)) / (magic * sqrt_magic) * pi)
    dlon = (dlon * 180.0) / (_A_M / sqrt_magic * np.cos(rad_lat) * pi)
    outside = _out_of_china(lat, lon)
    return np.where(outside, 0.0, dlat), np.where(outside, 0.0, dlon)


def _as_arrays(lat: ArrayLike, lon: ArrayLike) -> tuple[np.ndarray, np.ndarray, bool]:
    lat_a = np.asarray(lat, dtype=float)
    lon_a = np.asarray(lon, dtype=float)
    if lat_a.shape != lon_a.shape:
        raise ValueError(f"lat and lon shapes differ: {lat_a.shape} vs {lon_a.shape}")
    return lat_a, lon_a, lat_a.ndim == 0


def wgs84_to_gcj02(lat: ArrayLike, lon: ArrayLike) -> tuple:
    """WGS-84 -> GCJ-02 (degrees). Scalars give floats, arrays give arrays."""
    lat_a, lon_a, scalar = _as_arrays(lat, lon)
    dlat, dlon = _offset_deg(lat_a, lon_a)
    out_lat, out_lon = lat_a + dlat, lon_a + dlon
    if scalar:
        return float(out_lat), float(out_lon)
    return out_lat, out_lon


def gcj02_to_wgs84(lat: ArrayLike, lon: ArrayLike, *, tol_deg: float = 1e-10) -> tuple:
    """GCJ-02 -> WGS-84 (degrees), exact inverse of :func:`wgs84_to_gcj02` to ``tol_deg``.

    Fixed-point iteration wgs = gcj - offset(wgs): the offset changes by well under 1 % over
    the ~0.005 deg it shifts, so each step gains about two digits; 30 steps is a hard bound.
    """
    lat_a, lon_a, scalar = _as_arrays(lat, lon)
    wlat, wlon = lat_a.copy(), lon_a.copy()
    for _ in range(30):
        dlat, dlon = _offset_deg(wlat, wlon)
        new_lat, new_lon = lat_a - dlat, lon_a - dlon
        step = np.maximum(np.abs(new_lat - wlat), np.abs(new_lon - wlon))
        wlat, wlon = new_lat, new_lon
        if not np.any(step > tol_deg):
            break
    if scalar:
        return float(wlat), float(wlon)
    return wlat, wlon
