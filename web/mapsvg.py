"""The map of a team's provinces as inline SVG: outlines, sensors, alert positions and their regions.

Why SVG drawn on the server: the teams work by the border with poor coverage, so the page must
not fetch map tiles from elsewhere (none can be reached from the centres' networks anyway), and an
SVG of a province and its alerts is a few tens of kilobytes that any phone browser draws. The
projection is equirectangular about the view's centre latitude (x scaled by cos(lat)), true to a
fraction of a percent over a province; ellipses in km are drawn in it as SVG ellipses.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from station_db.geo import Boundaries

KM_PER_DEG_LAT = 111.195
WIDTH_PX = 640
SEVERITY_COLOURS = {"critical": "#c62828", "major": "#ef6c00", "minor": "#f9a825", "info": "#1565c0"}


class _Projection:
    def __init__(self, lat0: float, lat1: float, lon0: float, lon1: float, width_px: int) -> None:
        self.lat_c = (lat0 + lat1) / 2.0
        self.kx = math.cos(math.radians(self.lat_c))
        self.lon0, self.lat1 = lon0, lat1
        self.scale = width_px / max((lon1 - lon0) * self.kx, 1e-6)  # px per degree of latitude
        self.width = width_px
        self.height = round((lat1 - lat0) * self.scale)

    def xy(self, lat: float, lon: float) -> tuple[float, float]:
        return (lon - self.lon0) * self.kx * self.scale, (self.lat1 - lat) * self.scale

    def km(self, d_km: float) -> float:
        return d_km / KM_PER_DEG_LAT * self.scale


def _path(proj: _Projection, ring: np.ndarray, min_px: float) -> str:
    """A ring (lon/lat) as an SVG path, dropping points closer than ``min_px`` to the last kept one."""
    x = (ring[:, 0] - proj.lon0) * proj.kx * proj.scale
    y = (proj.lat1 - ring[:, 1]) * proj.scale
    keep = [0]
    lx, ly = x[0], y[0]
    for i in range(1, len(x)):
        if abs(x[i] - lx) + abs(y[i] - ly) >= min_px:
            keep.append(i)
            lx, ly = x[i], y[i]
    if len(keep) < 3:
        return ""
    pts = " ".join(f"{x[i]:.1f},{y[i]:.1f}" for i in keep)
    return f"M{pts}Z"


def view_box(boundaries: Boundaries, provinces: Sequence[str], points: Sequence[tuple[float, float]],
             pad: float = 0.08, min_span_deg: float = 0.2) -> tuple[float, float, float, float]:
    """(lat0, lat1, lon0, lon1) around the provinces and any points outside them, padded."""
    boxes = [boundaries.bbox(p) for p in provinces if p in boundaries.codes]
    lats = [b[0] for b in boxes] + [b[1] for b in boxes] + [p[0] for p in points]
    lons = [b[2] for b in boxes] + [b[3] for b in boxes] + [p[1] for p in points]
    if not lats:
        lats, lons = [30.0, 33.0], [118.0, 122.0]
    lat0, lat1, lon0, lon1 = min(lats), max(lats), min(lons), max(lons)
    grow_lat, grow_lon = max(min_span_deg - (lat1 - lat0), 0.0) / 2, max(min_span_deg - (lon1 - lon0), 0.0) / 2
    lat0, lat1, lon0, lon1 = lat0 - grow_lat, lat1 + grow_lat, lon0 - grow_lon, lon1 + grow_lon
    dl, dn = (lat1 - lat0) * pad, (lon1 - lon0) * pad
    return lat0 - dl, lat1 + dl, lon0 - dn, lon1 + dn


def render(boundaries: Boundaries, provinces: Sequence[str], alerts: Sequence[Mapping[str, Any]],
           sensors: Sequence[Mapping[str, Any]], *, link: bool = True, width_px: int = WIDTH_PX,
           on_site: Sequence[Mapping[str, Any]] = (), focus: bool = False) -> str:
    """The SVG map: the team's provinces filled, neighbours outlined, sensors, alerts with regions.

    ``focus``: frame the alerts' positions and the sensors only (an alert's page), not the provinces.
    """
    points = [(a["position"]["lat"], a["position"]["lon"]) for a in alerts if a.get("position")]
    if focus:
        points += [(float(s["lat"]), float(s["lon"])) for s in sensors]
        lat0, lat1, lon0, lon1 = view_box(boundaries, (), points, pad=0.25, min_span_deg=0.3)
    else:
        lat0, lat1, lon0, lon1 = view_box(boundaries, provinces, points)
    proj = _Projection(lat0, lat1, lon0, lon1, width_px)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="map" viewBox="0 0 {proj.width} {proj.height}" '
             f'role="img" aria-label="map">', '<rect width="100%" height="100%" fill="#eef3f7"/>']
    for code in boundaries.codes:
        la0, la1, lo0, lo1 = boundaries.bbox(code)
        if la0 > lat1 or la1 < lat0 or lo0 > lon1 or lo1 < lon0:
            continue
        mine = code in provinces
        d = " ".join(filter(None, (_path(proj, r, 1.5) for r in boundaries.rings(code))))
        if not d:
            continue
        fill = "#ffffff" if mine else "#e3e7ea"
        parts.append(f'<path d="{d}" fill="{fill}" stroke="#555" stroke-width="{1.6 if mine else 0.8}" '
                     f'data-province="{html.escape(code)}"/>')
        ring = max(boundaries.rings(code), key=len)
        cx, cy = proj.xy(float(np.mean(ring[:, 1])), float(np.mean(ring[:, 0])))
        if 0 <= cx <= proj.width and 0 <= cy <= proj.height:
            parts.append(f'<text x="{cx:.0f}" y="{cy:.0f}" class="prov">{html.escape(code)}</text>')
    for s in sensors:
        x, y = proj.xy(float(s["lat"]), float(s["lon"]))
        name = html.escape(str(s.get("sensor_id", "")))
        label = f'<text x="{x + 6:.1f}" y="{y + 4:.1f}" class="sensor-label">{name}</text>' if focus else ""
        parts.append(f'<g class="sensor"><title>{name}</title>'
                     f'<rect x="{x - 4:.1f}" y="{y - 4:.1f}" width="8" height="8" fill="#2e7d32"/>{label}</g>')
    for a in alerts:
        pos = a.get("position")
        if not pos:
            continue
        colour = SEVERITY_COLOURS.get(str(a.get("severity")), "#555")
        x, y = proj.xy(float(pos["lat"]), float(pos["lon"]))
        region = ""
        if pos.get("kind") == "annulus" and pos.get("r_outer_km"):
            for r in (pos.get("r_inner_km") or 0.0, pos["r_outer_km"]):
                if r > 0:
                    region += (f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{proj.km(float(r)):.1f}" fill="none" '
                               f'stroke="{colour}" stroke-dasharray="4 3"/>')
        else:
            rx = max(proj.km(float(pos.get("semi_major_km") or 0.0)), 2.0)
            ry = max(proj.km(float(pos.get("semi_minor_km") or 0.0)), 2.0)
            rot = float(pos.get("orientation_deg") or 0.0) - 90.0  # azimuth from north -> SVG angle from +x
            region = (f'<ellipse cx="{x:.1f}" cy="{y:.1f}" rx="{rx:.1f}" ry="{ry:.1f}" '
                      f'transform="rotate({rot:.1f} {x:.1f} {y:.1f})" fill="{colour}" fill-opacity="0.18" '
                      f'stroke="{colour}"/>')
        dot = (f'<circle cx="{x:.1f}" cy="{y:.1f}" r="5" fill="{colour}" stroke="#fff"/>'
               f'<title>{html.escape(str(a.get("id")))}</title>')
        body = region + dot
        if link:
            body = f'<a href="/alerts/{html.escape(str(a["id"]))}">{body}</a>'
        parts.append(f'<g class="alert" data-alert="{html.escape(str(a["id"]))}">{body}</g>')
    for p in on_site:
        x, y = proj.xy(float(p["lat"]), float(p["lon"]))
        parts.append(f'<g class="team"><circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="#6a1b9a"/>'
                     f'<title>{html.escape(str(p.get("actor", "")))}</title></g>')
    parts.append(_scale_bar(proj))
    parts.append("</svg>")
    return "".join(parts)


def _scale_bar(proj: _Projection) -> str:
    """A bar of a round number of km (about a fifth of the width) at the bottom left."""
    target_km = proj.width / 5 / proj.km(1.0)
    km = max((k for k in (1, 2, 5, 10, 20, 50, 100, 200) if k <= target_km), default=1)
    px, y = proj.km(km), proj.height - 12
    return (f'<g class="scale"><rect x="10" y="{y - 14:.0f}" width="{px + 50:.0f}" height="22" fill="#fff" '
            f'fill-opacity="0.8"/><line x1="14" y1="{y:.0f}" x2="{14 + px:.1f}" y2="{y:.0f}" stroke="#222" '
            f'stroke-width="3"/><text x="{18 + px:.1f}" y="{y + 4:.0f}" class="prov">{km} km</text></g>')
