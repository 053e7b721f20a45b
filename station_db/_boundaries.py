"""Province boundaries loaded from GeoJSON, with the shared border lines between provinces.

A "border" here is only the line two provinces share: coastline is nobody's border, so a coastal
station in Zhejiang is measured to the Zhejiang-Shanghai/Jiangsu/Anhui/Jiangxi/Fujian lines and
never to the sea. Shared lines are found once at load time: the segments of province A's boundary
that lie on province B's boundary within ``shared_tol_km`` (both ends and the midpoint), which
works for topologically clean files and for official files whose neighbours differ by metres.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ._geometry import PolygonIndex, SegmentIndex, haversine_km
from ._province_codes import ADCODE_PREFIX, PROVINCE_NAMES, code_from_name
from .gcj02 import gcj02_to_wgs84

log = logging.getLogger(__name__)

CRS_CHOICES = ("wgs84", "gcj02")


class GeoError(ValueError):
    """Base class of the geography errors."""


class BoundaryFileError(GeoError):
    """A boundary file cannot be used; the message names the file, feature and field."""


class UnknownProvinceError(GeoError):
    """A province code that the loaded boundaries do not contain."""


class NoSharedBorderError(GeoError):
    """Two provinces that share no border line."""


@dataclass(frozen=True)
class BorderPolyline:
    """One continuous piece of the line shared by provinces ``a`` and ``b`` (a < b)."""

    a: str
    b: str
    latlon: np.ndarray  # (n, 2) lat, lon in degrees

    @property
    def length_km(self) -> float:
        p = self.latlon
        return float(np.sum(haversine_km(p[:-1, 0], p[:-1, 1], p[1:, 0], p[1:, 1])))


Rings = list[np.ndarray]  # each (n, 2) lon/lat, not closed


class Boundaries:
    """Province polygons plus everything derived from them (indices, shared borders).

    Build with :func:`load_boundaries`; the constructor takes already-parsed WGS-84 rings.
    ``max_offshore_km`` lets border distances be computed for points that fall just outside
    every polygon (coast stations on a coarse coastline) by attaching them to the nearest province.
    """

    def __init__(
        self,
        rings_by_code: dict[str, Rings],
        source: str = "<memory>",
        *,
        shared_tol_km: float = 0.05,
        max_offshore_km: float = 25.0,
    ) -> None:
        if not rings_by_code:
            raise BoundaryFileError(f"{source}: no province polygons")
        self.source = source
        self.codes: tuple[str, ...] = tuple(sorted(rings_by_code))
        self._idx = {c: i for i, c in enumerate(self.codes)}
        self._rings = {c: [np.asarray(r, dtype=float) for r in rings_by_code[c]] for c in self.codes}
        self.shared_tol_km = shared_tol_km
        self.max_offshore_km = max_offshore_km
        rings, owners = [], []
        for c in self.codes:
            for r in self._rings[c]:
                rings.append(r)
                owners.append(self._idx[c])
        self._pip = PolygonIndex(rings, owners)
        self._bbox = {c: self._bbox_of(self._rings[c]) for c in self.codes}
        self._outline_index: dict[str, SegmentIndex] = {}
        self._borders = self._find_shared_borders()
        self._border_cache: dict[tuple[str, str | None], SegmentIndex | None] = {}
        self._all_outline: SegmentIndex | None = None

    # ----------------------------------------------------------------------------- construction
    @staticmethod
    def _bbox_of(rings: Rings) -> tuple[float, float, float, float]:
        allp = np.vstack(rings)
        return (float(allp[:, 1].min()), float(allp[:, 1].max()), float(allp[:, 0].min()), float(allp[:, 0].max()))

    def _outline(self, code: str) -> SegmentIndex:
        """Index of every boundary segment of one province (coast included)."""
        if code not in self._outline_index:
            starts, ends = self._segments(self._rings[code])
            self._outline_index[code] = SegmentIndex(starts, ends)
        return self._outline_index[code]

    @staticmethod
    def _segments(rings: Rings) -> tuple[np.ndarray, np.ndarray]:
        """(start, end) lat/lon arrays of the closed rings' segments."""
        s, e = [], []
        for r in rings:
            latlon = r[:, ::-1]
            s.append(latlon)
            e.append(np.roll(latlon, -1, axis=0))
        return np.vstack(s), np.vstack(e)

    def _find_shared_borders(self) -> dict[tuple[str, str], list[BorderPolyline]]:
        tol = self.shared_tol_km
        margin_deg = tol / 100.0 + 1e-9
        borders: dict[tuple[str, str], list[BorderPolyline]] = {}
        for i, a in enumerate(self.codes):
            for b in self.codes[i + 1 :]:
                la0, la1, lo0, lo1 = self._bbox[a]
                lb0, lb1, lob0, lob1 = self._bbox[b]
                if la0 > lb1 + margin_deg or lb0 > la1 + margin_deg:
                    continue
                if lo0 > lob1 + margin_deg or lob0 > lo1 + margin_deg:
                    continue
                lines = self._shared_lines(a, b, margin_deg)
                if lines:
                    borders[(a, b)] = lines
        return borders

    def _shared_lines(self, a: str, b: str, margin_deg: float) -> list[BorderPolyline]:
        """Runs of segments of a's rings lying on b's boundary, as polylines."""
        lb0, lb1, lob0, lob1 = self._bbox[b]
        tol = self.shared_tol_km
        out: list[BorderPolyline] = []
        for ring in self._rings[a]:
            lon, lat = ring[:, 0], ring[:, 1]
            near = (lat >= lb0 - margin_deg) & (lat <= lb1 + margin_deg)
            near &= (lon >= lob0 - margin_deg) & (lon <= lob1 + margin_deg)
            if near.sum() < 2:
                continue
            d_v = np.full(len(ring), np.inf)
            d_v[near] = self._outline(b).nearest(lat[near], lon[near])[0]
            on = d_v <= tol
            cand = on & np.roll(on, -1)
            if not cand.any():
                continue
            nxt = np.roll(ring, -1, axis=0)
            mid = (ring[cand] + nxt[cand]) / 2.0
            shared = np.zeros(len(ring), dtype=bool)
            shared[cand] = self._outline(b).nearest(mid[:, 1], mid[:, 0])[0] <= tol
            out.extend(BorderPolyline(a, b, line[:, ::-1]) for line in _runs(ring, shared))
        return out

    # ----------------------------------------------------------------------------- queries
    def _check(self, code: str) -> str:
        if code not in self._idx:
            raise UnknownProvinceError(f"unknown province code {code!r} (known: {', '.join(self.codes)})")
        return code

    def rings(self, code: str) -> list[np.ndarray]:
        """The outline rings of province ``code`` (each n x 2, lon/lat degrees; copies, for drawing)."""
        return [r.copy() for r in self._rings[self._check(code)]]

    def bbox(self, code: str) -> tuple[float, float, float, float]:
        """(lat_min, lat_max, lon_min, lon_max) of province ``code``."""
        return self._bbox[self._check(code)]

    def neighbours(self, code: str) -> tuple[str, ...]:
        """Provinces sharing a border line with ``code``, sorted."""
        self._check(code)
        return tuple(sorted({b if a == code else a for a, b in self._borders if code in (a, b)}))

    def border_polylines(self, a: str, b: str) -> list[BorderPolyline]:
        """The continuous pieces of the a-b border (empty list if they do not touch)."""
        self._check(a)
        self._check(b)
        return list(self._borders.get((min(a, b), max(a, b)), []))

    def border_length_km(self, a: str, b: str) -> float:
        return float(sum(p.length_km for p in self.border_polylines(a, b)))

    def provinces_of(self, lats: ArrayLike, lons: ArrayLike) -> np.ndarray:
        """Province code (or None) per point; object array shaped like the input."""
        lat_a = np.asarray(lats, dtype=float)
        lon_a = np.asarray(lons, dtype=float)
        if lat_a.shape != lon_a.shape:
            raise ValueError(f"lats and lons shapes differ: {lat_a.shape} vs {lon_a.shape}")
        owner = self._pip.locate(lat_a.ravel(), lon_a.ravel())
        table = np.array([*self.codes, None], dtype=object)
        return table[owner].reshape(lat_a.shape)

    def province_of(self, lat: float, lon: float) -> str | None:
        """The province containing (lat, lon) in WGS-84 degrees, or None outside all of them."""
        return self.provinces_of(np.array([lat]), np.array([lon]))[0]

    def _border_index(self, own: str, other: str | None) -> SegmentIndex | None:
        key = (own, other)
        if key not in self._border_cache:
            polys = [
                p
                for (a, b), lines in self._borders.items()
                if own in (a, b) and (other is None or other in (a, b))
                for p in lines
            ]
            if own == other or not polys:
                self._border_cache[key] = None
            else:
                starts = np.vstack([p.latlon[:-1] for p in polys])
                ends = np.vstack([p.latlon[1:] for p in polys])
                self._border_cache[key] = SegmentIndex(starts, ends)
        return self._border_cache[key]

    def _nearest_province(self, lats: np.ndarray, lons: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(km, code index) of the nearest province outline for each point."""
        if self._all_outline is None:
            s, e, lab = [], [], []
            for c in self.codes:
                ss, ee = self._segments(self._rings[c])
                s.append(ss)
                e.append(ee)
                lab.append(np.full(len(ss), self._idx[c]))
            self._all_outline = SegmentIndex(np.vstack(s), np.vstack(e), labels=np.concatenate(lab))
        d_km, _, _, labels = self._all_outline.nearest(lats, lons)
        return d_km, labels

    def _own_provinces(self, lat: np.ndarray, lon: np.ndarray, provinces) -> np.ndarray:
        if provinces is not None:
            own = np.broadcast_to(np.asarray(provinces, dtype=object), lat.shape).copy()
            for c in set(own.tolist()) - {None}:
                self._check(c)
            return own
        own = self.provinces_of(lat, lon)
        lost = np.nonzero(own == None)[0]  # noqa: E711 (element-wise on object array)
        finite = np.isfinite(lat[lost]) & np.isfinite(lon[lost])
        lost = lost[finite]
        if len(lost) and self.max_offshore_km > 0:
            d_km, lab = self._nearest_province(lat[lost], lon[lost])
            close = d_km <= self.max_offshore_km
            own[lost[close]] = np.array(self.codes, dtype=object)[lab[close]]
        return own

    def distances_to_border_km(
        self, lats: ArrayLike, lons: ArrayLike, other: str | None = None, *, provinces=None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Distance (km) from each point to its own province's border and the nearest border point.

        The own province is ``provinces`` when given (e.g. the licence's province), else the one
        containing the point, else the nearest one within ``max_offshore_km``. With ``other``
        only the border with that province counts. NaN where there is no such border (outside
        every province, own == other, or the two provinces do not touch).
        Returns (km (n,), points (n, 2) lat/lon), flattened.
        """
        if other is not None:
            self._check(other)
        lat = np.asarray(lats, dtype=float)
        lon = np.asarray(lons, dtype=float)
        if lat.shape != lon.shape:
            raise ValueError(f"lats and lons shapes differ: {lat.shape} vs {lon.shape}")
        lat, lon = lat.ravel(), lon.ravel()
        own = self._own_provinces(lat, lon, provinces)
        d_km = np.full(len(lat), np.nan)
        pts = np.full((len(lat), 2), np.nan)
        for code in set(own.tolist()) - {None}:
            idx = self._border_index(code, other)
            if idx is None:
                continue
            sel = np.nonzero(own == code)[0]
            d, plat, plon, _ = idx.nearest(lat[sel], lon[sel])
            d_km[sel] = d
            pts[sel, 0] = plat
            pts[sel, 1] = plon
        return d_km, pts

    def distance_to_border_km(
        self, lat: float, lon: float, other: str | None = None, *, province: str | None = None
    ) -> tuple[float, tuple[float, float]]:
        """Scalar :meth:`distances_to_border_km`: (km, (lat, lon) of the nearest border point)."""
        d, p = self.distances_to_border_km(
            np.array([lat]), np.array([lon]), other, provinces=None if province is None else [province]
        )
        return float(d[0]), (float(p[0, 0]), float(p[0, 1]))

    def distances_to_province_km(self, lats: ArrayLike, lons: ArrayLike, code: str) -> np.ndarray:
        """0 inside province ``code``, else the distance (km) to its outline (coast included).

        For checks such as "the station's coordinates are inside or near the claimed province".
        """
        self._check(code)
        lat = np.asarray(lats, dtype=float).ravel()
        lon = np.asarray(lons, dtype=float).ravel()
        d_km = np.zeros(len(lat))
        outside = np.nonzero(self.provinces_of(lat, lon) != code)[0]
        if len(outside):
            d_km[outside] = self._outline(code).nearest(lat[outside], lon[outside])[0]
        return d_km

    def border_lines(self, a: str, b: str, step_km: float) -> list[np.ndarray]:
        """The a-b border sampled every ``step_km`` along the line, one (n, 2) array per piece.

        Each piece starts and ends at its true end points; samples lie exactly on the line.
        """
        if not (step_km > 0 and math.isfinite(step_km)):
            raise ValueError(f"step_km must be a positive number, got {step_km!r}")
        polys = self.border_polylines(a, b)
        if not polys:
            raise NoSharedBorderError(f"{a} and {b} share no border line in {self.source}")
        out = []
        for p in polys:
            ll = p.latlon if a <= b else p.latlon[::-1]
            seg = haversine_km(ll[:-1, 0], ll[:-1, 1], ll[1:, 0], ll[1:, 1])
            s = np.concatenate([[0.0], np.cumsum(seg)])
            total = s[-1]
            n = max(1, math.ceil(total / step_km - 1e-9))
            targets = np.append(np.arange(n) * step_km, total)
            targets = targets[np.concatenate([targets[:-1] < total, [True]])]
            out.append(np.column_stack([np.interp(targets, s, ll[:, 0]), np.interp(targets, s, ll[:, 1])]))
        return out

    def border_line(self, a: str, b: str, step_km: float) -> np.ndarray:
        """All pieces of :meth:`border_lines` stacked into one (N, 2) lat/lon array."""
        return np.vstack(self.border_lines(a, b, step_km))


def _runs(ring: np.ndarray, flag: np.ndarray) -> Iterable[np.ndarray]:
    """Polylines made of consecutive flagged segments (segment i joins vertex i and i+1) of a ring."""
    n = len(ring)
    if flag.all():
        yield np.vstack([ring, ring[:1]])
        return
    start = int(np.argmin(flag))  # rotate so that the ring starts on an unflagged segment
    order = (np.arange(n) + start) % n
    f = flag[order]
    i = 0
    while i < n:
        if not f[i]:
            i += 1
            continue
        j = i
        while j < n and f[j]:
            j += 1
        verts = order[np.arange(i, j + 1) % n]
        yield ring[verts]
        i = j


# --------------------------------------------------------------------------------- file parsing
def _feature_code(props: dict, code_property: str | None) -> str | None:
    if code_property is not None:
        value = props.get(code_property)
        if value is None:
            return None
        text = str(value).strip()
        if text.upper() in PROVINCE_NAMES:
            return text.upper()
        return _code_from_value(text)
    for key in ("code", "province", "prov"):
        v = props.get(key)
        if isinstance(v, str) and v.strip().upper() in PROVINCE_NAMES:
            return v.strip().upper()
    for key in ("code_hasc", "hasc", "HASC_1"):
        v = props.get(key)
        if isinstance(v, str) and v.upper().startswith("CN.") and v[3:].upper() in PROVINCE_NAMES:
            return v[3:].upper()
    for key in ("adcode", "ADCODE", "gb", "GB", "code_gb"):
        if props.get(key) is not None:
            c = _code_from_value(str(props[key]))
            if c:
                return c
    for key in ("name", "NAME", "name_zh", "name_local", "NAME_1", "省", "name_en"):
        v = props.get(key)
        if isinstance(v, str):
            for part in v.split("|"):
                c = code_from_name(part)
                if c:
                    return c
    return None


def _code_from_value(text: str) -> str | None:
    digits = text[3:] if text.upper().startswith("CN.") else text
    if digits.upper() in PROVINCE_NAMES:
        return digits.upper()
    if digits[:6].isdigit() and len(digits) >= 2:
        return ADCODE_PREFIX.get(int(digits[:2]))
    return code_from_name(text)


def _parse_rings(geom: object, where: str) -> Rings:
    doc: dict[str, Any] = geom if isinstance(geom, dict) else {}
    gtype = doc.get("type")
    polys: Any
    if gtype == "Polygon":
        polys = [doc.get("coordinates")]
    elif gtype == "MultiPolygon":
        polys = doc.get("coordinates")
    else:
        raise BoundaryFileError(f"{where}: geometry.type is {gtype!r}, expected Polygon or MultiPolygon")
    rings: Rings = []
    for pi, poly in enumerate(polys or []):
        for ri, ring in enumerate(poly or []):
            here = f"{where} polygon {pi} ring {ri}"
            try:
                r = np.asarray(ring, dtype=float)
            except (TypeError, ValueError) as exc:
                raise BoundaryFileError(f"{here}: coordinates are not numbers ({exc})") from None
            if r.ndim != 2 or r.shape[1] < 2:
                raise BoundaryFileError(f"{here}: expected a list of [lon, lat] pairs")
            r = r[:, :2]
            if not np.all(np.isfinite(r)):
                raise BoundaryFileError(f"{here}: non-finite coordinate")
            if np.any(np.abs(r[:, 0]) > 180) or np.any(np.abs(r[:, 1]) > 90):
                raise BoundaryFileError(f"{here}: coordinate out of range (GeoJSON order is [lon, lat])")
            if len(r) > 1 and np.array_equal(r[0], r[-1]):
                r = r[:-1]
            if len(np.unique(r, axis=0)) < 3:
                raise BoundaryFileError(f"{here}: fewer than 3 distinct vertices")
            rings.append(r)
    if not rings:
        raise BoundaryFileError(f"{where}: empty geometry")
    return rings


def parse_geojson(text: str, source: str, *, crs: str = "wgs84", code_property: str | None = None) -> dict[str, Rings]:
    """{province code: WGS-84 lon/lat rings} from GeoJSON text (FeatureCollection or Feature).

    Features whose province cannot be recognised (e.g. the nine-dash line in official files) are
    skipped with a warning; a file with no recognisable province at all is an error.
    """
    if crs not in CRS_CHOICES:
        raise BoundaryFileError(f"{source}: crs must be one of {CRS_CHOICES}, got {crs!r}")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BoundaryFileError(
            f"{source}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    if isinstance(data, dict) and data.get("type") == "Feature":
        features = [data]
    elif isinstance(data, dict) and data.get("type") == "FeatureCollection" and isinstance(data.get("features"), list):
        features = data["features"]
    else:
        raise BoundaryFileError(f"{source}: expected a GeoJSON FeatureCollection or Feature")
    out: dict[str, Rings] = {}
    for i, feat in enumerate(features):
        where = f"{source}: feature {i}"
        if not isinstance(feat, dict):
            raise BoundaryFileError(f"{where}: not a GeoJSON Feature object")
        props = feat.get("properties") or {}
        code = _feature_code(props, code_property)
        if code is None:
            field = code_property or "code/code_hasc/adcode/name"
            log.warning("%s: no province recognised in properties (%s); skipped", where, field)
            continue
        rings = _parse_rings(feat.get("geometry"), f"{where} ({code})")
        if crs == "gcj02":
            conv = []
            for r in rings:
                lat, lon = gcj02_to_wgs84(r[:, 1], r[:, 0])
                conv.append(np.column_stack([lon, lat]))
            rings = conv
        out.setdefault(code, []).extend(rings)
    if not out:
        raise BoundaryFileError(f"{source}: no feature names a known province (checked code, code_hasc, adcode, name)")
    return out
