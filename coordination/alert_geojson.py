"""Alerts as GeoJSON (RFC 7946) for the field teams' map tools: the one exporter.

``borderwatch alerts export-geojson`` (live alerts from the server) and ``borderwatch report
--alerts-geojson`` (the alerts of a report period) both write what :func:`alerts_feature_collection`
builds, so a team gets the same file shape from either.

Per alert:
- a Feature with ``id`` = the alert id and a Point at the estimated position, or a ``null`` geometry
  when the emitter was not located (RFC 7946 section 3.2 allows it; map tools skip it, tables and
  scripts still see the alert). ``properties.feature`` is ``"position"``;
- when the position states a region, a second Feature ``<id>#region`` (``feature`` =
  ``"uncertainty_region"``): a Polygon of the 1-sigma ellipse (``error_km`` is the 95 % radius), or for
  a single-sensor fix the annulus as a Polygon with a hole. Rings are counter-clockwise outside,
  clockwise for the hole (RFC 7946 section 3.1.6); coordinates are [lon, lat] rounded to 1e-6 deg.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from station_db.regions import position_outlines

#: Alert keys copied into every feature's properties (docs/alert-schema.md).
ALERT_PROPERTIES = ("id", "state", "verdicts", "severity", "severity_score", "band", "service", "channel_hz",
                    "f_center_hz", "bandwidth_hz", "provinces_source", "provinces_affected", "first_seen",
                    "last_seen", "updated_at", "acknowledged_by", "resolved_by")


def _ring(xy: np.ndarray, clockwise: bool) -> list[list[float]]:
    """A closed [lon, lat] ring with the winding RFC 7946 asks for."""
    x, y = xy[:, 0], xy[:, 1]
    signed_area = 0.5 * float(np.sum(x[:-1] * y[1:] - x[1:] * y[:-1]))
    if (signed_area < 0) != clockwise:
        xy = xy[::-1]
    return [[round(float(lon), 6), round(float(lat), 6)] for lon, lat in xy]


def region_polygon(position: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The position's uncertainty region as a GeoJSON Polygon; None when it states no region."""
    outlines = position_outlines(position)
    if not outlines:
        return None
    outer, holes = outlines[-1], outlines[:-1]  # an annulus: [inner, outer]
    return {"type": "Polygon", "coordinates": [_ring(outer, clockwise=False),
                                               *(_ring(h, clockwise=True) for h in holes)]}


def alert_features(doc: Mapping[str, Any], extra: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """The features of one alert JSON document; ``extra`` adds properties (e.g. a report's response times)."""
    pos = doc.get("position") or None
    located = pos is not None and pos.get("lat") is not None and pos.get("lon") is not None
    props: dict[str, Any] = {k: doc.get(k) for k in ALERT_PROPERTIES}
    props |= {"error_km": pos.get("error_km") if pos else None,
              "position_kind": pos.get("kind") if pos else None,
              "province_probabilities": pos.get("provinces") if pos else None,
              "sensors": [s.get("sensor_id") for s in doc.get("sensors") or []]}
    props |= dict(extra or {})
    point = {"type": "Point", "coordinates": [round(float(pos["lon"]), 6), round(float(pos["lat"]), 6)]} \
        if located and pos is not None else None
    features = [{"type": "Feature", "id": doc.get("id"), "geometry": point,
                 "properties": props | {"feature": "position"}}]
    region = region_polygon(pos) if located else None
    if region is not None:
        features.append({"type": "Feature", "id": f"{doc.get('id')}#region", "geometry": region,
                         "properties": props | {"feature": "uncertainty_region"}})
    return features


def alerts_feature_collection(docs: Iterable[Mapping[str, Any]], *, name: str | None = None,
                              extra: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """A FeatureCollection of the alerts ``docs``; ``extra`` maps alert id -> additional properties."""
    features: list[dict[str, Any]] = []
    for doc in docs:
        features += alert_features(doc, (extra or {}).get(str(doc.get("id"))))
    out: dict[str, Any] = {"type": "FeatureCollection"}
    if name is not None:
        out["name"] = name
    out["features"] = features
    return out


def located_count(collection: Mapping[str, Any]) -> tuple[int, int]:
    """(alerts, of which located) in a collection this module built."""
    positions = [f for f in collection.get("features", []) if f["properties"].get("feature") == "position"]
    return len(positions), sum(1 for f in positions if f["geometry"] is not None)
