"""Hyperbolic position fix from time differences of arrival, with its covariance and 95 % ellipse.

Geometry is local East-North-Up metres about a centre point (WGS84 -> ECEF -> ENU, exact; a flat
latitude/longitude grid would be off by ~0.2 % over 40 km, 80 m, too much for a TDOA fix). The emitter
is assumed on the ground surface at a stated height: its Up coordinate follows the Earth's curvature
below the tangent plane, -(e^2 + n^2) / (2 R) + height, so only East and North are solved.

Measurements are range differences ``d_i = |p - s_i| - |p - s_0|`` (metres) of sensors i = 1..k-1
against sensor 0, with a covariance. The start is closed form (spherical intersection: with the range to
sensor 0 as a parameter the equations are linear in the position, and the position's norm closes
them in a quadratic: both roots are tried), the answer weighted least squares by Gauss-Newton with the
covariance (J^T W J)^-1. The 95 % region is the ellipse of that covariance at chi-square(2 dof) = 5.991;
it is as honest as the measurement sigmas are (the benchmark checks how often it covers the truth).

:func:`solve_tdoa_checked` adds the consistency check a surveyor would make: with more differences than
unknowns the weighted residual sum is chi-square distributed if the sigmas are right. Above its 99 % point
with two or more redundant differences, the one with the largest standardised residual is left out and
the fix made again; with one redundant difference every residual is equally suspect (they all point at
one misfit), so the covariance is scaled by chi2 / dof instead when chi2 passes its 95 % point: the
region grows with the inconsistency the data show. A fix may be weighted by one covariance and stated under
another (``weight_cov_m2``): the region is then the sandwich A C A^T of the weighting actually used.

Heavy-tailed errors (:class:`HeavyTail`): some parts of the range differences are not Gaussian (a multipath pull
is small on most links and large on the few near a fade), and an ellipse drawn at chi-square 95 % from their
variance holds the truth less often than 95 % (or more, for a narrow core). The fix is linear in its
measurements near the answer (e = A eps), so the region keeps the sandwich's shape and is scaled until it holds
95 % of a bounded Monte-Carlo of eps drawn as the model says (Gaussian parts from their covariance, the heavy
parts from their own distribution, through A; each draw widened as the chi-square check would widen it, so a
pull that shows in the residuals is not paid for twice): a scale mixture has no closed form for the sum of
several links seen through a 2 x m map, and a few thousand draws of a 2 x m product cost under a millisecond.
The draws do not re-run the check's leaving-out of a pair (five sensors and more): they see the pairs kept.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

C_M_S = 299_792_458.0
#: chi-square with 2 degrees of freedom at 95 %: the ellipse that holds a 2-D Gaussian's truth 95 % of the time.
CHI2_2DOF_95 = 5.991464547107979
_WGS84_A = 6_378_137.0
_WGS84_F = 1 / 298.257223563
_WGS84_E2 = _WGS84_F * (2 - _WGS84_F)
#: Mean Earth radius (m) for the curvature of the emitter's surface below the tangent plane.
EARTH_RADIUS_M = 6_371_008.8
GN_STEPS = 30
#: Tail probability above which a fix with >= 2 redundant differences loses its worst one.
OUTLIER_ALPHA = 0.01
#: Tail probability above which a fix with one redundant difference has its covariance scaled by chi2 / dof.
INFLATE_ALPHA = 0.05
#: Upper points of chi-square for 1..10 degrees of freedom at the two tail probabilities above.
_CHI2_UPPER = {0.01: (6.635, 9.210, 11.345, 13.277, 15.086, 16.812, 18.475, 20.090, 21.666, 23.209),
               0.05: (3.841, 5.991, 7.815, 9.488, 11.070, 12.592, 14.067, 15.507, 16.919, 18.307)}
_Z_UPPER = {0.01: 2.3263, 0.05: 1.6449}


def chi2_upper(alpha: float, dof: int) -> float:
    """chi-square's upper ``alpha`` point (alpha 0.01 or 0.05): tabulated to 10 dof, Wilson-Hilferty beyond
    (within 0.1 % there). A table rather than scipy.stats: importing that costs a second and more in a
    server that only ever needs these two columns."""
    if alpha not in _CHI2_UPPER or dof < 1:
        raise ValueError(f"chi2_upper knows alpha 0.01 and 0.05 and dof >= 1, got {alpha}, {dof}")
    if dof <= 10:
        return _CHI2_UPPER[alpha][dof - 1]
    h = 2.0 / (9.0 * dof)
    return dof * (1.0 - h + _Z_UPPER[alpha] * math.sqrt(h)) ** 3


#: Draws of the region's Monte-Carlo (:func:`heavy_tail_factor`): the 95 % point of 4096 draws is good to about
#: +-0.35 points of probability (binomial), far below the benchmark's own +-2 points.
TAIL_DRAWS = 4096
#: The draws are seeded with a constant: a fix's region is a function of its measurements, the same every time.
TAIL_SEED = 19


class MultilatError(ValueError):
    """A fix that cannot be made: fewer than three sensors, singular geometry, bad covariance."""


def geodetic_to_ecef(lat_deg: np.ndarray, lon_deg: np.ndarray, h_m: np.ndarray) -> np.ndarray:
    """WGS84 geodetic to Earth-centred Earth-fixed metres, shape (..., 3)."""
    lat, lon = np.radians(lat_deg), np.radians(lon_deg)
    h = np.asarray(h_m, dtype=np.float64)
    n = _WGS84_A / np.sqrt(1 - _WGS84_E2 * np.sin(lat) ** 2)
    return np.stack([(n + h) * np.cos(lat) * np.cos(lon), (n + h) * np.cos(lat) * np.sin(lon),
                     (n * (1 - _WGS84_E2) + h) * np.sin(lat)], axis=-1)


@dataclass(frozen=True)
class EnuFrame:
    """Local East-North-Up frame with its origin on the ellipsoid at (lat0, lon0)."""

    lat0_deg: float
    lon0_deg: float

    def _rot(self) -> np.ndarray:
        la, lo = math.radians(self.lat0_deg), math.radians(self.lon0_deg)
        return np.array([[-math.sin(lo), math.cos(lo), 0.0],
                         [-math.sin(la) * math.cos(lo), -math.sin(la) * math.sin(lo), math.cos(la)],
                         [math.cos(la) * math.cos(lo), math.cos(la) * math.sin(lo), math.sin(la)]])

    def to_enu(self, lat_deg: np.ndarray, lon_deg: np.ndarray, h_m: np.ndarray) -> np.ndarray:
        """Geodetic points to (..., 3) ENU metres."""
        origin = geodetic_to_ecef(np.array(self.lat0_deg), np.array(self.lon0_deg), np.array(0.0))
        return (geodetic_to_ecef(lat_deg, lon_deg, h_m) - origin) @ self._rot().T

    def to_geodetic(self, e_m: float, n_m: float, u_m: float = 0.0) -> tuple[float, float]:
        """ENU metres back to (lat, lon) degrees (iterated on the exact forward map; sub-mm)."""
        lat, lon = self.lat0_deg + n_m / 111_000.0, self.lon0_deg + e_m / (111_000.0 * math.cos(
            math.radians(self.lat0_deg)))
        target = np.array([e_m, n_m])
        for _ in range(6):
            p = self.to_enu(np.array(lat), np.array(lon), np.array(0.0))[:2]
            dlat, dlon = 1e-5, 1e-5
            pa = self.to_enu(np.array(lat + dlat), np.array(lon), np.array(0.0))[:2]
            pb = self.to_enu(np.array(lat), np.array(lon + dlon), np.array(0.0))[:2]
            J = np.stack([(pa - p) / dlat, (pb - p) / dlon], axis=1)
            step = np.linalg.solve(J, target - p)
            lat, lon = lat + float(step[0]), lon + float(step[1])
            if abs(step[0]) < 1e-11 and abs(step[1]) < 1e-11:
                break
        return float(lat), float(lon)


@dataclass(frozen=True)
class TdoaFix:
    """A hyperbolic fix in the ENU frame of its sensors."""

    east_m: float
    north_m: float
    cov_m2: tuple[tuple[float, float], tuple[float, float]]
    chi2: float  # weighted residual sum of squares at the answer
    dof: int  # measurements minus 2
    converged: bool

    def ellipse_95(self) -> tuple[float, float, float]:
        """Semi-major, semi-minor (m) and orientation of the major axis (degrees east of north)."""
        cov = np.array(self.cov_m2)
        vals, vecs = np.linalg.eigh(cov)
        k = CHI2_2DOF_95
        major = math.sqrt(max(vals[1], 0.0) * k)
        minor = math.sqrt(max(vals[0], 0.0) * k)
        ve, vn = vecs[0, 1], vecs[1, 1]
        return major, minor, math.degrees(math.atan2(ve, vn)) % 180.0

    def contains(self, east_m: float, north_m: float, chi2_level: float = CHI2_2DOF_95) -> bool:
        """Whether a point lies inside the region of the given chi-square level (default 95 %)."""
        d = np.array([east_m - self.east_m, north_m - self.north_m])
        return float(d @ np.linalg.solve(np.array(self.cov_m2), d)) <= chi2_level


@dataclass(frozen=True)
class HeavyTail:
    """Parts of the range differences drawn from a Student t instead of a Gaussian: each part (a link) enters the
    differences through a column of ``loadings`` (m, L), has its Gaussian 1-sigma ``sigma_m`` (L,) in the stated
    covariance (taken out again for the draws) and is drawn as ``scale_m`` (L,) times a Student t of ``nu``
    degrees of freedom. ``nu`` <= 2 is allowed (no variance: the region rests on quantiles, not moments)."""

    loadings: np.ndarray
    sigma_m: np.ndarray
    scale_m: np.ndarray
    nu: float

    def rows(self, idx: np.ndarray) -> HeavyTail:
        """The same links seen by the range differences ``idx`` only (the others left out)."""
        return replace(self, loadings=np.asarray(self.loadings)[idx])


def heavy_tail_factor(A: np.ndarray, J: np.ndarray, cov_m2: np.ndarray, tail: HeavyTail, *,
                      draws: int = TAIL_DRAWS, seed: int = TAIL_SEED) -> float:
    """How much the region of covariance S = A C A^T must be scaled to hold 95 % of the fix's errors when the parts
    of ``tail`` are heavy-tailed (see the module docstring): over ``draws`` seeded draws of the errors eps, the
    95 % point of e^T S^-1 e / w over chi-square(2) at 95 %, with e = A eps and w the widening by chi2 / dof that
    :func:`solve_tdoa_checked` gives a draw whose residuals (I - J A) eps are inconsistent under C (the region
    is widened so after this factor: a heavy pull that shows in the residuals is paid for once, not twice).
    1 when nothing is heavy-tailed."""
    L = np.asarray(tail.loadings, dtype=np.float64)
    used = np.any(L != 0.0, axis=0)
    if not np.any(used):
        return 1.0
    L, sig, scale = L[:, used], np.asarray(tail.sigma_m)[used], np.asarray(tail.scale_m)[used]
    C = np.asarray(cov_m2, dtype=np.float64)
    gauss = C - (L * sig**2) @ L.T
    # the Gaussian rest: its eigen-decomposition, not Cholesky (it may be singular, e.g. every part heavy)
    vals, vecs = np.linalg.eigh(0.5 * (gauss + gauss.T))
    G = vecs * np.sqrt(np.clip(vals, 0.0, None))
    rng = np.random.default_rng(seed)
    eps = rng.standard_normal((draws, G.shape[1])) @ G.T + (rng.standard_t(tail.nu, (draws, L.shape[1])) * scale) @ L.T
    e = eps @ A.T
    q = np.einsum("ij,ij->i", e @ np.linalg.inv(A @ C @ A.T), e)
    dof = C.shape[0] - 2
    if dof >= 1:
        res = eps @ (np.eye(C.shape[0]) - J @ A).T
        chi2 = np.einsum("ij,ij->i", res @ np.linalg.inv(C), res)
        q = q / np.where(chi2 > chi2_upper(INFLATE_ALPHA, dof), chi2 / dof, 1.0)
    return float(np.quantile(q, 0.95)) / CHI2_2DOF_95


def surface_up_m(east_m: np.ndarray | float, north_m: np.ndarray | float, height_m: float) -> np.ndarray | float:
    """Up coordinate of a point ``height_m`` above the (spherical) surface below the tangent plane."""
    return height_m - (np.square(east_m) + np.square(north_m)) / (2 * EARTH_RADIUS_M)


def range_differences(p_enu: np.ndarray, sensors_enu: np.ndarray) -> np.ndarray:
    """|p - s_i| - |p - s_0| for i = 1..k-1 (metres)."""
    r = np.linalg.norm(sensors_enu - p_enu[None, :], axis=1)
    return r[1:] - r[0]


def _point(e: float, n: float, height_m: float) -> np.ndarray:
    return np.array([e, n, float(surface_up_m(e, n, height_m))])


def closed_form_starts(sensors_enu: np.ndarray, rdiff_m: np.ndarray, height_m: float = 0.0) -> list[np.ndarray]:
    """Spherical-intersection candidates (east, north) for the Gauss-Newton start (0, 1 or 2 of them).

    With sensor 0 at the origin and R0 its range: 2 s_i . p + 2 d_i R0 = |s_i|^2 - d_i^2. Solved for p in
    the horizontal plane as p = u + v R0 (least squares over the sensors), then |p|^2 = R0^2 closes it.
    Heights are folded in approximately (the horizontal plane through sensor 0); Gauss-Newton does the rest.
    """
    s = sensors_enu - sensors_enu[0]
    d = rdiff_m
    A = 2 * s[1:, :2]
    rhs = np.sum(s[1:] ** 2, axis=1) - d**2
    pinv = np.linalg.pinv(A)
    u = pinv @ rhs
    v = pinv @ (-2 * d)
    # |u + v R|^2 = R^2  ->  (v.v - 1) R^2 + 2 u.v R + u.u = 0
    qa, qb, qc = float(v @ v - 1.0), float(2 * u @ v), float(u @ u)
    roots: list[float] = []
    if abs(qa) < 1e-12:
        if abs(qb) > 1e-12:
            roots = [-qc / qb]
    else:
        disc = qb * qb - 4 * qa * qc
        if disc >= 0:
            sq = math.sqrt(disc)
            roots = [(-qb + sq) / (2 * qa), (-qb - sq) / (2 * qa)]
        else:  # noise pushed the circles apart: the nearest approach
            roots = [-qb / (2 * qa)]
    out = [u + v * r + sensors_enu[0, :2] for r in roots if r > 0]
    return out


def solve_tdoa(sensors_enu: np.ndarray, rdiff_m: np.ndarray, cov_m2: np.ndarray, *, height_m: float = 0.0,
               starts: list[np.ndarray] | None = None) -> TdoaFix:
    """Weighted least-squares hyperbolic fix (ENU east/north) from range differences against sensor 0.

    ``sensors_enu``: (k, 3) metres, k >= 3; ``rdiff_m``: (k-1,) metres; ``cov_m2``: (k-1, k-1) their
    covariance; ``starts``: extra start points (e.g. a received-level fix) besides the closed form ones.
    The best of the converged answers (lowest chi-square) wins.
    """
    s = np.asarray(sensors_enu, dtype=np.float64)
    d = np.asarray(rdiff_m, dtype=np.float64)
    cov = np.asarray(cov_m2, dtype=np.float64)
    if s.ndim != 2 or s.shape[1] != 3 or s.shape[0] < 3:
        raise MultilatError(f"need >= 3 sensors as (k, 3) ENU metres, got shape {s.shape}")
    if d.shape != (s.shape[0] - 1,) or cov.shape != (d.size, d.size):
        raise MultilatError(f"need {s.shape[0] - 1} range differences and their square covariance, "
                            f"got {d.shape} and {cov.shape}")
    if not np.all(np.isfinite(d)) or not np.all(np.isfinite(cov)):
        raise MultilatError("range differences and covariance must be finite")
    try:
        W = np.linalg.inv(cov)
    except np.linalg.LinAlgError as exc:
        raise MultilatError("the range-difference covariance is singular") from exc
    candidates = closed_form_starts(s, d, height_m) + [np.asarray(p, dtype=np.float64)[:2] for p in (starts or [])]
    centroid = s[:, :2].mean(axis=0)
    candidates.append(centroid)
    best: TdoaFix | None = None
    for start in candidates:
        fix = _gauss_newton(s, d, W, start, height_m)
        if fix is not None and (best is None or (fix.converged, -fix.chi2) > (best.converged, -best.chi2)):
            best = fix
    if best is None:
        raise MultilatError("no start converged to a fix (degenerate geometry)")
    return best


def _gauss_newton(s: np.ndarray, d: np.ndarray, W: np.ndarray, start: np.ndarray, height_m: float) -> TdoaFix | None:
    x = np.array(start[:2], dtype=np.float64)
    span = float(np.max(np.linalg.norm(s[:, :2] - s[:, :2].mean(axis=0), axis=1))) + 1.0
    converged = False
    J = np.zeros((d.size, 2))
    for _ in range(GN_STEPS):
        p = _point(x[0], x[1], height_m)
        diff = p[None, :] - s
        r = np.linalg.norm(diff, axis=1)
        if np.any(r < 1e-6):
            return None
        u = diff[:, :2] / r[:, None]
        J = u[1:] - u[0]
        res = d - (r[1:] - r[0])
        H = J.T @ W @ J
        try:
            step = np.linalg.solve(H, J.T @ W @ res)
        except np.linalg.LinAlgError:
            return None
        # Limit each step to the network's size: far outside it the hyperbolae are nearly straight lines.
        norm = float(np.linalg.norm(step))
        if norm > span:
            step *= span / norm
        x = x + step
        if norm < 1e-4:
            converged = True
            break
    p = _point(x[0], x[1], height_m)
    r = np.linalg.norm(p[None, :] - s, axis=1)
    res = d - (r[1:] - r[0])
    try:
        cov = np.linalg.inv(J.T @ W @ J)
    except np.linalg.LinAlgError:
        return None
    if not np.all(np.isfinite(cov)):
        return None
    return TdoaFix(east_m=float(x[0]), north_m=float(x[1]),
                   cov_m2=((float(cov[0, 0]), float(cov[0, 1])), (float(cov[1, 0]), float(cov[1, 1]))),
                   chi2=float(res @ W @ res), dof=d.size - 2, converged=converged)


def residual_check(sensors_enu: np.ndarray, rdiff_m: np.ndarray, cov_m2: np.ndarray, fix: TdoaFix,
                   height_m: float) -> np.ndarray:
    """Standardised residuals of a fix: each residual over the square root of its own variance, the
    diagonal of C - J (J^T W J)^-1 J^T (the part of the measurement noise the fix cannot absorb)."""
    s = np.asarray(sensors_enu, dtype=np.float64)
    p = _point(fix.east_m, fix.north_m, height_m)
    diff = p[None, :] - s
    r = np.linalg.norm(diff, axis=1)
    u = diff[:, :2] / r[:, None]
    J = u[1:] - u[0]
    res = np.asarray(rdiff_m, dtype=np.float64) - (r[1:] - r[0])
    qv = np.diag(np.asarray(cov_m2, dtype=np.float64) - J @ np.array(fix.cov_m2) @ J.T)
    return np.asarray(res / np.sqrt(np.maximum(qv, 1e-12)))


def solve_tdoa_checked(sensors_enu: np.ndarray, rdiff_m: np.ndarray, cov_m2: np.ndarray, *, height_m: float = 0.0,
                       starts: list[np.ndarray] | None = None, weight_cov_m2: np.ndarray | None = None,
                       tail: HeavyTail | None = None) -> tuple[TdoaFix, tuple[int, ...]]:
    """:func:`solve_tdoa` with the chi-square check of the module docstring.

    ``weight_cov_m2``: the covariance the fix is weighted with and its differences left out by, when the
    stated covariance ``cov_m2`` is not the one to weight with (a heavy-tailed term that is honest for the
    region but would move the estimate); the fix's covariance is then what that weighting leaves under
    ``cov_m2`` (:func:`sandwich_cov`), and the widening by chi2 / dof is judged under ``cov_m2``.
    ``tail``: parts of ``cov_m2`` that are heavy-tailed; the region is then scaled to hold 95 % of them
    (:func:`heavy_tail_factor`) before the chi-square widening. The estimate is the same with or without.
    Returns the fix and the indices (into ``rdiff_m``) of the differences left out as inconsistent.
    """
    s = np.asarray(sensors_enu, dtype=np.float64)
    d = np.asarray(rdiff_m, dtype=np.float64)
    cov = np.asarray(cov_m2, dtype=np.float64)
    wcov = cov if weight_cov_m2 is None else np.asarray(weight_cov_m2, dtype=np.float64)
    if wcov.shape != cov.shape:
        raise MultilatError(f"weight covariance {wcov.shape} and stated covariance {cov.shape} differ in shape")
    keep = list(range(d.size))
    fix = solve_tdoa(s, d, wcov, height_m=height_m, starts=starts)
    while fix.dof >= 2 and fix.chi2 > chi2_upper(OUTLIER_ALPHA, fix.dof):
        idx = np.array(keep)
        sub_s = np.concatenate([s[:1], s[idx + 1]])
        w = residual_check(sub_s, d[idx], wcov[np.ix_(idx, idx)], fix, height_m)
        keep.pop(int(np.argmax(np.abs(w))))
        idx = np.array(keep)
        fix = solve_tdoa(np.concatenate([s[:1], s[idx + 1]]), d[idx], wcov[np.ix_(idx, idx)], height_m=height_m,
                         starts=starts)
    if weight_cov_m2 is not None or tail is not None:
        idx = np.array(keep)
        fix = sandwich_cov(np.concatenate([s[:1], s[idx + 1]]), d[idx], cov[np.ix_(idx, idx)],
                           wcov[np.ix_(idx, idx)], fix, height_m, None if tail is None else tail.rows(idx))
    if fix.dof >= 1 and fix.chi2 > chi2_upper(INFLATE_ALPHA, fix.dof):
        k = fix.chi2 / fix.dof
        (a, b), (c, e) = fix.cov_m2
        fix = replace(fix, cov_m2=((a * k, b * k), (c * k, e * k)))
    dropped = tuple(i for i in range(d.size) if i not in keep)
    return fix, dropped


def sandwich_cov(sensors_enu: np.ndarray, rdiff_m: np.ndarray, cov_m2: np.ndarray, weight_cov_m2: np.ndarray,
                 fix: TdoaFix, height_m: float, tail: HeavyTail | None = None) -> TdoaFix:
    """A fix weighted by ``weight_cov_m2``^-1 restated under the measurements' covariance ``cov_m2``: position
    covariance A C A^T with A = (J^T W J)^-1 J^T W (what a linearised weighted fit passes on of C), and its
    chi-square the residuals' under C (the weighted residuals then miss the small share the fit absorbs
    differently; the check is one-sided and this errs towards widening). With ``tail`` the covariance is then
    scaled by :func:`heavy_tail_factor` (the chi-square stays the Gaussian one)."""
    s = np.asarray(sensors_enu, dtype=np.float64)
    p = _point(fix.east_m, fix.north_m, height_m)
    diff = p[None, :] - s
    r = np.linalg.norm(diff, axis=1)
    u = diff[:, :2] / r[:, None]
    J = u[1:] - u[0]
    W = np.linalg.inv(weight_cov_m2)
    A = np.linalg.solve(J.T @ W @ J, J.T @ W)
    cov = A @ cov_m2 @ A.T
    if tail is not None:
        cov = cov * heavy_tail_factor(A, J, cov_m2, tail)
    res = np.asarray(rdiff_m, dtype=np.float64) - (r[1:] - r[0])
    chi2 = float(res @ np.linalg.solve(cov_m2, res))
    return replace(fix, cov_m2=((float(cov[0, 0]), float(cov[0, 1])), (float(cov[1, 0]), float(cov[1, 1]))),
                   chi2=chi2)
