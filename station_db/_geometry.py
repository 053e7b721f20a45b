"""Numerical geometry on lon/lat data: great-circle distance, point-in-polygon, nearest segment.

Kept free of any file format or province notion so each piece can be tested on its own.
Point-in-polygon is ray casting (GeoJSON edges are straight in lon/lat) restricted to the edges of
the point's latitude band, so the cost per point is the few dozen edges at its latitude, not the
tens of thousands of the whole map. Nearest-segment queries use a k-d tree over short pieces of
the segments in 3-D unit vectors, with a bound that proves the answer exact (no approximation
beyond the piece chords, < 1 cm for 1 km pieces).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy.spatial import cKDTree

EARTH_RADIUS_KM = 6371.0088
"""Mean Earth radius (IUGG), the sphere all distances here are measured on."""


def haversine_km(lat1: ArrayLike, lon1: ArrayLike, lat2: ArrayLike, lon2: ArrayLike):
    """Great-circle distance in km between points in degrees; broadcasts like numpy.

    Returns a float for scalar input, an array otherwise.
    """
    p1, l1, p2, l2 = (np.radians(np.asarray(v, dtype=float)) for v in (lat1, lon1, lat2, lon2))
    a = np.sin((p2 - p1) / 2.0) ** 2 + np.cos(p1) * np.cos(p2) * np.sin((l2 - l1) / 2.0) ** 2
    d_km = 2.0 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))
    return float(d_km) if np.ndim(d_km) == 0 else d_km


def to_unit_vectors(lat_deg: np.ndarray, lon_deg: np.ndarray) -> np.ndarray:
    """(n, 3) unit vectors for points in degrees."""
    p = np.radians(lat_deg)
    lam = np.radians(lon_deg)
    cp = np.cos(p)
    return np.stack([cp * np.cos(lam), cp * np.sin(lam), np.sin(p)], axis=-1)


def from_unit_vectors(xyz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(lat, lon) in degrees of (n, 3) vectors (normalised first)."""
    norm = np.linalg.norm(xyz, axis=-1)
    norm = np.where(norm == 0.0, 1.0, norm)
    x, y, z = (xyz[..., i] / norm for i in range(3))
    return np.degrees(np.arcsin(np.clip(z, -1.0, 1.0))), np.degrees(np.arctan2(y, x))


def chord_to_km(chord: np.ndarray) -> np.ndarray:
    """Great-circle km for a chord length on the unit sphere."""
    return 2.0 * EARTH_RADIUS_KM * np.arcsin(np.clip(chord / 2.0, 0.0, 1.0))


class SegmentIndex:
    """Exact nearest point on a set of lon/lat segments, for many query points at once.

    Each segment is cut (linearly in lon/lat, as GeoJSON draws it) into pieces no longer than
    ``max_piece_km``; piece endpoints become unit vectors. A k-d tree over piece midpoints gives
    candidates; a candidate set is accepted only when every piece not examined is provably
    farther (its midpoint is at least ``best + half piece`` away), otherwise k grows.
    """

    def __init__(
        self,
        start_latlon: np.ndarray,
        end_latlon: np.ndarray,
        labels: np.ndarray | None = None,
        max_piece_km: float = 1.0,
    ) -> None:
        start = np.asarray(start_latlon, dtype=float).reshape(-1, 2)
        end = np.asarray(end_latlon, dtype=float).reshape(-1, 2)
        if len(start) == 0:
            raise ValueError("SegmentIndex needs at least one segment")
        seg_km = haversine_km(start[:, 0], start[:, 1], end[:, 0], end[:, 1])
        n_pieces = np.maximum(1, np.ceil(np.atleast_1d(seg_km) / max_piece_km).astype(int))
        seg_of_piece = np.repeat(np.arange(len(start)), n_pieces)
        first = np.repeat(np.cumsum(n_pieces) - n_pieces, n_pieces)
        k = np.arange(len(seg_of_piece)) - first
        t0 = (k / n_pieces[seg_of_piece])[:, None]
        t1 = ((k + 1) / n_pieces[seg_of_piece])[:, None]
        d = end[seg_of_piece] - start[seg_of_piece]
        p0 = start[seg_of_piece] + t0 * d
        p1 = start[seg_of_piece] + t1 * d
        self._a = to_unit_vectors(p0[:, 0], p0[:, 1])
        self._b = to_unit_vectors(p1[:, 0], p1[:, 1])
        self._ab = self._b - self._a
        self._ab2 = np.maximum(np.einsum("ij,ij->i", self._ab, self._ab), 1e-300)
        mid = (self._a + self._b) / 2.0
        self._half = float(np.max(np.linalg.norm(self._ab, axis=1)) / 2.0) + 1e-12
        self._tree = cKDTree(mid)
        self._n = len(mid)
        self._labels = None if labels is None else np.asarray(labels)[seg_of_piece]

    @property
    def n_pieces(self) -> int:
        return self._n

    def nearest(self, lat: np.ndarray, lon: np.ndarray, chunk: int = 20_000):
        """Distance in km, nearest point (lat, lon) and the nearest piece's label per query point."""
        lat = np.asarray(lat, dtype=float).ravel()
        lon = np.asarray(lon, dtype=float).ravel()
        if len(lat) <= chunk:
            return self._nearest_chunk(lat, lon)
        parts = [self._nearest_chunk(lat[s : s + chunk], lon[s : s + chunk]) for s in range(0, len(lat), chunk)]
        labels = None if self._labels is None else np.concatenate([q[3] for q in parts])
        d_km, lat_n, lon_n = (np.concatenate([q[i] for q in parts]) for i in range(3))
        return d_km, lat_n, lon_n, labels

    def _nearest_chunk(self, lat: np.ndarray, lon: np.ndarray):
        p = to_unit_vectors(lat, lon).reshape(-1, 3)
        n = len(p)
        best_chord = np.full(n, np.inf)
        best_xyz = np.zeros((n, 3))
        best_piece = np.zeros(n, dtype=np.intp)
        todo = np.arange(n)
        k = min(8, self._n)
        while len(todo):
            mid_d, idx = self._tree.query(p[todo], k=k)
            mid_d = mid_d.reshape(len(todo), -1)
            idx = idx.reshape(len(todo), -1)
            q = p[todo][:, None, :]
            a = self._a[idx]
            t = np.einsum("nkj,nkj->nk", q - a, self._ab[idx]) / self._ab2[idx]
            foot = a + np.clip(t, 0.0, 1.0)[..., None] * self._ab[idx]
            chord = np.linalg.norm(q - foot, axis=-1)
            j = np.argmin(chord, axis=1)
            rows = np.arange(len(todo))
            best_chord[todo] = chord[rows, j]
            best_xyz[todo] = foot[rows, j]
            best_piece[todo] = idx[rows, j]
            if k >= self._n:
                break
            proven = mid_d[:, -1] >= chord[rows, j] + self._half
            todo = todo[~proven]
            k = min(k * 4, self._n)
        lat_n, lon_n = from_unit_vectors(best_xyz)
        labels = None if self._labels is None else self._labels[best_piece]
        return chord_to_km(best_chord), lat_n, lon_n, labels


class PolygonIndex:
    """Which of several non-overlapping polygons (by owner id) contains each point.

    Rings (outer and holes alike) are given as (n, 2) lon/lat arrays with an owner id; a point is
    inside an owner when a ray towards +lon crosses that owner's edges an odd number of times.
    Edges are bucketed by latitude band (CSR layout) so a point only meets its band's edges.
    """

    def __init__(self, rings: list[np.ndarray], owners: list[int], band_deg: float = 0.005) -> None:
        segs = []
        own = []
        for ring, owner in zip(rings, owners, strict=True):
            r = np.asarray(ring, dtype=float)
            if len(r) and not np.array_equal(r[0], r[-1]):
                r = np.vstack([r, r[:1]])
            s = np.hstack([r[:-1], r[1:]])
            segs.append(s)
            own.append(np.full(len(s), owner))
        e = np.vstack(segs)
        o = np.concatenate(own)
        keep = e[:, 1] != e[:, 3]  # horizontal edges never cross a horizontal ray
        e, o = e[keep], o[keep]
        order = np.argsort(o, kind="stable")  # band lists sorted by owner -> sorted crossing keys
        e, o = e[order], o[order]
        self.n_owners = int(max(owners)) + 1 if owners else 0
        self.lon_min, self.lon_max = float(e[:, [0, 2]].min()), float(e[:, [0, 2]].max())
        self.lat0 = float(e[:, [1, 3]].min())
        self.band_deg = band_deg
        ymin = np.minimum(e[:, 1], e[:, 3])
        ymax = np.maximum(e[:, 1], e[:, 3])
        b_lo = np.floor((ymin - self.lat0) / band_deg).astype(np.int64)
        b_hi = np.floor((ymax - self.lat0) / band_deg).astype(np.int64)
        self.n_bands = int(b_hi.max()) + 1
        span = b_hi - b_lo + 1
        edge_rep = np.repeat(np.arange(len(e)), span)
        band_rep = np.repeat(b_lo, span) + (np.arange(len(edge_rep)) - np.repeat(np.cumsum(span) - span, span))
        order = np.lexsort((edge_rep, band_rep))  # by band, then edge (edges are owner-sorted)
        self._band_edges = edge_rep[order]
        counts = np.bincount(band_rep, minlength=self.n_bands)
        self._band_start = np.concatenate([[0], np.cumsum(counts)[:-1]])
        self._band_count = counts
        self._x1 = e[:, 0].copy()
        self._y1 = e[:, 1].copy()
        self._ymin = ymin
        self._ymax = ymax
        self._slope = (e[:, 2] - e[:, 0]) / (e[:, 3] - e[:, 1])  # d lon / d lat, never horizontal
        self._owner = o

    def locate(self, lat: np.ndarray, lon: np.ndarray, chunk: int = 20_000) -> np.ndarray:
        """Owner id per point, -1 where no polygon contains it (NaN input gives -1)."""
        lat = np.asarray(lat, dtype=float).ravel()
        lon = np.asarray(lon, dtype=float).ravel()
        out = np.full(len(lat), -1, dtype=np.int64)
        for s in range(0, len(lat), chunk):
            out[s : s + chunk] = self._locate_chunk(lat[s : s + chunk], lon[s : s + chunk])
        return out

    def _locate_chunk(self, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        out = np.full(len(lat), -1, dtype=np.int64)
        with np.errstate(invalid="ignore"):
            band = np.floor((lat - self.lat0) / self.band_deg)
            ok = (band >= 0) & (band < self.n_bands) & (lon >= self.lon_min) & (lon <= self.lon_max)
        pts = np.nonzero(ok)[0]
        if len(pts) == 0:
            return out
        b = band[pts].astype(np.int64)
        counts = self._band_count[b]
        total = int(counts.sum())
        if total == 0:
            return out
        pt_rep = np.repeat(np.arange(len(pts)), counts)
        offs = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
        edge = self._band_edges[np.repeat(self._band_start[b], counts) + offs]
        y = lat[pts][pt_rep]
        x = lon[pts][pt_rep]
        # (y1 > y) != (y2 > y)  <=>  ymin <= y < ymax ; then the crossing lies right of x
        hit = (self._ymin[edge] <= y) & (y < self._ymax[edge])
        hit &= x < self._x1[edge] + (y - self._y1[edge]) * self._slope[edge]
        if not hit.any():
            return out
        key = pt_rep[hit] * self.n_owners + self._owner[edge[hit]]  # already sorted
        change = np.concatenate([[True], key[1:] != key[:-1]])
        starts = np.nonzero(change)[0]
        run = np.diff(np.concatenate([starts, [len(key)]]))
        odd = starts[run % 2 == 1]
        keys = key[odd]
        if len(keys) == 0:
            return out
        pt_i = keys // self.n_owners
        owner = keys % self.n_owners
        # A point on a shared edge may count for two owners: the first (lowest id) wins.
        first = np.concatenate([[True], pt_i[1:] != pt_i[:-1]])
        out[pts[pt_i[first]]] = owner[first]
        return out


def douglas_peucker(points: np.ndarray, tol: float) -> np.ndarray:
    """Indices kept by Douglas-Peucker (planar, in the points' own units), endpoints always kept.

    An open polyline whose two ends coincide (a closed ring) is split at the vertex farthest
    from the start so the recursion has a proper baseline.
    """
    n = len(points)
    if n <= 2:
        return np.arange(n)
    keep = np.zeros(n, dtype=bool)
    keep[0] = keep[-1] = True
    stack = [(0, n - 1)]
    while stack:
        i, j = stack.pop()
        if j - i < 2:
            continue
        seg = points[i + 1 : j]
        a, b = points[i], points[j]
        ab = b - a
        L2 = float(ab @ ab)
        if L2 == 0.0:
            d = np.hypot(*(seg - a).T)
        else:
            t = np.clip(((seg - a) @ ab) / L2, 0.0, 1.0)
            d = np.hypot(*(seg - (a + t[:, None] * ab)).T)
        m = int(np.argmax(d))
        if d[m] > tol or L2 == 0.0:
            k = i + 1 + m
            keep[k] = True
            stack.append((i, k))
            stack.append((k, j))
    return np.nonzero(keep)[0]
