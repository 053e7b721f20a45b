"""Shared station data: schema, exchange format, province geography, coordination rules."""

from .geo import (
    PROVINCE_NAMES,
    PROVINCE_NAMES_ZH,
    Boundaries,
    BoundaryFileError,
    border_line,
    distance_to_border_km,
    distances_to_border_km,
    gcj02_to_wgs84,
    haversine_km,
    load_boundaries,
    province_of,
    provinces_of,
)

__all__ = [
    "PROVINCE_NAMES",
    "PROVINCE_NAMES_ZH",
    "Boundaries",
    "BoundaryFileError",
    "border_line",
    "distance_to_border_km",
    "distances_to_border_km",
    "gcj02_to_wgs84",
    "haversine_km",
    "load_boundaries",
    "province_of",
    "provinces_of",
]
