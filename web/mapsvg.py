"""The map of a team's provinces as inline SVG: outlines, sensors, alert positions and their regions.

Why SVG drawn on the server: the teams work by the border with poor coverage, so the page must
not fetch map tiles from elsewhere (none can be reached from the centres' networks anyway), and an
SVG of a province and its alerts is a few tens of kilobytes that any phone browser draws. The
projection is equirectangular about the view's centre latitude (x scaled by cos(lat)), true to a
fraction of a percent over a province; ellipses in km are drawn in it as SVG ellipses.

An alert with a TDOA fix (its ``tdoa`` detail, docs/alert-schema.md) also shows each sensor pair's
hyperbola branch (:mod:`station_db.hyperbolas`, the console map's very geometry), clipped to the map,
and the fix as a cross, with a legend: a team sees what the fix rests on, and where two branches
cross at a shallow angle, why its region is long.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from station_db.geo import Boundaries
from station_db.hyperbolas import HALF_LENGTH_KM, tdoa_fix, tdoa_hyperbolas

KM_PER_DEG_LAT = 111.195
WIDTH_PX = 640
SEVERITY_COLOURS = {"critical": "#c62828", "major": "#ef6c00", "minor": "#f9a825", "info": "#1565c0"}
#: Colour of the TDOA branches and fix (the console map's magenta: apart from every severity colour).
TDOA_COLOUR = "#b000b0"
#: Half the arm of the TDOA fix's cross (px).
FIX_ARM_PX = 7.0


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


def _english(text: str) -> str:
    return text


def _tdoa_of(alert: Mapping[str, Any]) -> Mapping[str, Any] | None:
    tdoa = alert.get("tdoa")
    return tdoa if isinstance(tdoa, Mapping) else None


def clip_polyline(x: np.ndarray, y: np.ndarray, width: float, height: float) -> list[list[tuple[float, float]]]:
    """The parts of a polyline (px) inside the rectangle [0, width] x [0, height], each a list of points.

    Segments crossing the edge are cut where they cross it (Liang-Barsky), so a branch ends on the map's
    edge instead of running on past it: the SVG then holds only what is shown.
    """
    runs: list[list[tuple[float, float]]] = []
    run: list[tuple[float, float]] = []
    for i in range(len(x) - 1):
        x0, y0, x1, y1 = float(x[i]), float(y[i]), float(x[i + 1]), float(y[i + 1])
        dx, dy = x1 - x0, y1 - y0
        t0, t1 = 0.0, 1.0
        inside = True
        for p, q in ((-dx, x0), (dx, width - x0), (-dy, y0), (dy, height - y0)):
            if p == 0.0:
                if q < 0.0:
                    inside = False
                    break
                continue
            r = q / p
            if p < 0.0:
                t0 = max(t0, r)
            else:
                t1 = min(t1, r)
            if t0 > t1:
                inside = False
                break
        if not inside:
            if run:
                runs.append(run)
                run = []
            continue
        a, b = (x0 + t0 * dx, y0 + t0 * dy), (x0 + t1 * dx, y0 + t1 * dy)
        if not run:
            run = [a]
        run.append(b)
        if t1 < 1.0:  # left the map: the next part (if any) starts a new run
            runs.append(run)
            run = []
    if run:
        runs.append(run)
    return [r for r in runs if len(r) >= 2]


def _tdoa_branches(proj: _Projection, tdoa: Mapping[str, Any]) -> list[str]:
    """One SVG path per pair whose branch crosses the map (several pieces of a branch share its path)."""
    diagonal_km = math.hypot(proj.width, proj.height) / proj.km(1.0)
    out = []
    for xy in tdoa_hyperbolas(tdoa, half_length_km=max(HALF_LENGTH_KM, diagonal_km)):
        x = (xy[:, 0] - proj.lon0) * proj.kx * proj.scale
        y = (proj.lat1 - xy[:, 1]) * proj.scale
        runs = clip_polyline(x, y, proj.width, proj.height)
        if not runs:
            continue
        d = " ".join("M" + " L".join(f"{px:.1f},{py:.1f}" for px, py in run) for run in runs)
        out.append(f'<path class="tdoa-hyperbola" d="{d}" fill="none" stroke="{TDOA_COLOUR}" stroke-width="1.4" '
                   f'stroke-dasharray="6 4" stroke-opacity="0.85"/>')
    return out


def _tdoa_cross(proj: _Projection, lat: float, lon: float, alert_id: str) -> str:
    x, y = proj.xy(lat, lon)
    k = FIX_ARM_PX
    return (f'<path class="tdoa-fix" data-alert="{html.escape(alert_id)}" '
            f'd="M{x - k:.1f},{y - k:.1f} L{x + k:.1f},{y + k:.1f} M{x - k:.1f},{y + k:.1f} L{x + k:.1f},{y - k:.1f}" '
            f'stroke="{TDOA_COLOUR}" stroke-width="2.5" pointer-events="none"/>')


def _text_px(text: str) -> float:
    """Rough width of ``text`` at 12 px (CJK characters are square, Latin ones about 0.6 of that)."""
    return sum(12.0 if ord(ch) > 0x2E80 else 7.0 for ch in text)


def _tdoa_legend(proj: _Projection, tr: Callable[[str], str]) -> str:
    """The key to the TDOA drawing, top right: a dashed branch and the cross, named in the page's language."""
    words = [tr("TDOA hyperbola (one per sensor pair)"), tr("TDOA fix")]
    w = 48 + max(_text_px(s) for s in words)
    labels = [html.escape(s) for s in words]
    x0, y0 = proj.width - w - 8, 8
    return (f'<g class="legend"><rect x="{x0:.0f}" y="{y0}" width="{w:.0f}" height="44" fill="#fff" '
            f'fill-opacity="0.85" stroke="#999"/>'
            f'<line x1="{x0 + 8:.0f}" y1="{y0 + 14}" x2="{x0 + 34:.0f}" y2="{y0 + 14}" stroke="{TDOA_COLOUR}" '
            f'stroke-width="1.4" stroke-dasharray="6 4"/>'
            f'<text x="{x0 + 40:.0f}" y="{y0 + 18}" font-size="12">{labels[0]}</text>'
            f'<path d="M{x0 + 15:.0f},{y0 + 24} L{x0 + 27:.0f},{y0 + 36} M{x0 + 15:.0f},{y0 + 36} '
            f'L{x0 + 27:.0f},{y0 + 24}" stroke="{TDOA_COLOUR}" stroke-width="2.5"/>'
            f'<text x="{x0 + 40:.0f}" y="{y0 + 34}" font-size="12">{labels[1]}</text></g>')


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
           on_site: Sequence[Mapping[str, Any]] = (), focus: bool = False,
           tr: Callable[[str], str] = _english) -> str:
    """The SVG map: the team's provinces filled, neighbours outlined, sensors, alerts with regions, and
    for an alert with a TDOA fix its pairs' hyperbola branches and the fix (a cross) with a legend.

    ``focus``: frame the alerts' positions (and TDOA fixes) and the sensors only (an alert's page), not the
    provinces. ``tr``: the page language's words for the legend.
    """
    points = [(a["position"]["lat"], a["position"]["lon"]) for a in alerts if a.get("position")]
    fixes = [(a, t, fix) for a in alerts if (t := _tdoa_of(a)) is not None and (fix := tdoa_fix(t)) is not None]
    if focus:
        points += [fix for _, _, fix in fixes]
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
    for a, tdoa, _ in fixes:  # under the alerts, whose dots stay clickable
        branches = _tdoa_branches(proj, tdoa)
        if branches:
            parts.append(f'<g class="tdoa" data-alert="{html.escape(str(a.get("id")))}">{"".join(branches)}</g>')
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
    for a, _, (flat, flon) in fixes:  # over the alerts: the fix is often inside the fused region
        parts.append(_tdoa_cross(proj, flat, flon, str(a.get("id"))))
    for p in on_site:
        x, y = proj.xy(float(p["lat"]), float(p["lon"]))
        parts.append(f'<g class="team"><circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="#6a1b9a"/>'
                     f'<title>{html.escape(str(p.get("actor", "")))}</title></g>')
    if fixes:
        parts.append(_tdoa_legend(proj, tr))
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
