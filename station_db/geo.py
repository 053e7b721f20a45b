"""Geography of the provinces: which province a point is in, how far it is from a border.

This is the pinned interface other parts call (server rules, import validation, border checks).
Module-level functions use the process-wide default boundaries: the shipped Natural Earth
provinces (all of mainland China; WGS-84), or whatever :func:`set_default_boundaries` installed,
e.g. a regulator's official file loaded with ``load_boundaries(path, crs="gcj02")``.

Province codes are Natural Earth HASC suffixes: SH JS ZJ AH for the four, and for the neighbours
SD (Shandong), HE (Henan), HU (Hubei), JX (Jiangxi), FJ (Fujian). Beware: HB is Hebei and HA is
Hainan in HASC. Coordinates are (lat, lon) in WGS-84 degrees everywhere in this API.
"""

from __future__ import annotations

import functools
import os
from importlib import resources
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike

from ._boundaries import (
    CRS_CHOICES,
    BorderPolyline,
    Boundaries,
    BoundaryFileError,
    GeoError,
    NoSharedBorderError,
    UnknownProvinceError,
    parse_geojson,
)
from ._geometry import EARTH_RADIUS_KM, haversine_km
from ._province_codes import PROVINCE_NAMES, PROVINCE_NAMES_ZH
from .gcj02 import gcj02_to_wgs84, wgs84_to_gcj02

__all__ = [
    "CRS_CHOICES",
    "EARTH_RADIUS_KM",
    "FOUR_PROVINCES",
    "PROVINCE_NAMES",
    "PROVINCE_NAMES_ZH",
    "BorderPolyline",
    "Boundaries",
    "BoundaryFileError",
    "GeoError",
    "NoSharedBorderError",
    "UnknownProvinceError",
    "border_line",
    "default_boundaries",
    "distance_to_border_km",
    "distances_to_border_km",
    "distances_to_province_km",
    "gcj02_to_wgs84",
    "haversine_km",
    "load_boundaries",
    "neighbours",
    "province_of",
    "provinces_of",
    "set_default_boundaries",
    "wgs84_to_gcj02",
]

FOUR_PROVINCES: tuple[str, ...] = ("SH", "JS", "ZJ", "AH")
"""The four Yangtze River Delta provinces sharing the platform."""

_SHIPPED = "provinces.geojson"


@functools.lru_cache(maxsize=8)
def _load_cached(
    source: str, mtime_ns: int, crs: str, code_property: str | None, shared_tol_km: float, max_offshore_km: float
) -> Boundaries:
    if source == _SHIPPED:
        text = resources.files("station_db").joinpath("data", _SHIPPED).read_text(encoding="utf-8")
        label = f"station_db/data/{_SHIPPED}"
    else:
        try:
            text = Path(source).read_text(encoding="utf-8")
        except OSError as exc:
            raise BoundaryFileError(f"{source}: cannot read boundary file ({exc.strerror})") from None
        except UnicodeDecodeError as exc:
            raise BoundaryFileError(f"{source}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
        label = source
    rings = parse_geojson(text, label, crs=crs, code_property=code_property)
    return Boundaries(rings, label, shared_tol_km=shared_tol_km, max_offshore_km=max_offshore_km)


def load_boundaries(
    path: str | os.PathLike | None = None,
    *,
    crs: str = "wgs84",
    code_property: str | None = None,
    shared_tol_km: float = 0.05,
    max_offshore_km: float = 25.0,
) -> Boundaries:
    """Load province boundaries from a GeoJSON file (default: the shipped provinces), cached.

    ``crs="gcj02"`` converts a file in the Chinese GCJ-02 datum (most official web-map data) to
    WGS-84. Provinces are recognised from the ``code``/``code_hasc``/``adcode``/``name``
    properties (or ``code_property``). ``shared_tol_km``: how far apart two provinces'
    boundaries may be and still count as one shared border line. ``max_offshore_km``: a point
    outside every polygon but this close to one (a coast station on a coarse coastline) is
    measured from that province's borders. The cache key includes the
    file's modification time, so an edited file is reloaded.
    """
    if path is None:
        return _load_cached(_SHIPPED, 0, crs, code_property, shared_tol_km, max_offshore_km)
    p = Path(path).resolve()
    try:
        mtime = p.stat().st_mtime_ns
    except OSError as exc:
        raise BoundaryFileError(f"{path}: cannot read boundary file ({exc.strerror})") from None
    return _load_cached(str(p), mtime, crs, code_property, shared_tol_km, max_offshore_km)


_default: Boundaries | None = None


def default_boundaries() -> Boundaries:
    """The boundaries the module-level functions use (shipped ones unless replaced)."""
    return _default if _default is not None else load_boundaries()


def set_default_boundaries(boundaries: Boundaries | None) -> None:
    """Make ``boundaries`` the process-wide default (None restores the shipped file)."""
    global _default
    _default = boundaries


def province_of(lat: float, lon: float) -> str | None:
    """Province code containing (lat, lon), e.g. "JS"; None outside China's provinces."""
    return default_boundaries().province_of(lat, lon)


def provinces_of(lats: ArrayLike, lons: ArrayLike) -> np.ndarray:
    """Vectorised :func:`province_of`: object array of codes / None shaped like ``lats``."""
    return default_boundaries().provinces_of(lats, lons)


def distance_to_border_km(
    lat: float, lon: float, other: str | None = None, *, province: str | None = None
) -> tuple[float, tuple[float, float]]:
    """(km, (lat, lon) of the nearest border point) from a point to its province's border.

    Border = the line shared with another province (coastline never counts); with ``other``
    only the line shared with that province. ``province`` overrides the containing province
    (e.g. the province a licence belongs to). NaN if there is no such border, or the point is
    farther than ``max_offshore_km`` (25 km by default) outside every province.
    """
    return default_boundaries().distance_to_border_km(lat, lon, other, province=province)


def distances_to_border_km(
    lats: ArrayLike, lons: ArrayLike, other: str | None = None, *, provinces: ArrayLike | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised :func:`distance_to_border_km`: (km (n,), nearest points (n, 2) lat/lon)."""
    return default_boundaries().distances_to_border_km(lats, lons, other, provinces=provinces)


def distances_to_province_km(lats: ArrayLike, lons: ArrayLike, code: str) -> np.ndarray:
    """0 inside province ``code``, else km to its outline: for "inside or near" validation."""
    return default_boundaries().distances_to_province_km(lats, lons, code)


def border_line(a: str, b: str, step_km: float) -> np.ndarray:
    """(N, 2) lat/lon samples every ``step_km`` along the border shared by provinces a and b.

    Raises NoSharedBorderError if they do not touch. Disconnected pieces (islands, a border
    interrupted by water) are stacked; use ``default_boundaries().border_lines`` to keep them apart.
    """
    return default_boundaries().border_line(a, b, step_km)


def neighbours(code: str) -> tuple[str, ...]:
    """Provinces sharing a border line with ``code``."""
    return default_boundaries().neighbours(code)
