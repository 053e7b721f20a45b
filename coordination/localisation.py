"""Where is the emitter? Multi-sensor received-level localisation with an honest uncertainty region.

Each sensor i measures a field strength E_i (dBuV/m). With a propagation model giving the field of
a 0 dBW e.r.p. transmitter at distance d, ``g(d)``, and the unknown e.r.p. ``P`` (dBW) of the
emitter, ``E_i = P + g(d_i(x, y)) + n_i`` with log-normal shadowing ``n_i ~ N(0, sigma^2)``. The
unknowns (x, y, P) are found by least squares: a grid search over the area the sensors can hear
(P profiled out in closed form at every grid node, limited to a plausible e.r.p. range) seeds a
Gauss-Newton refinement; the covariance ``s^2 (J^T J)^-1`` gives the uncertainty ellipse.

Fewer than three sensors cannot fix three unknowns, and pretending otherwise would send an
enforcement team to the wrong town. Two sensors give the region of the grid that the data and the
plausible e.r.p. allow (reported as its ellipse, ``kind="region"``); one sensor gives an annulus
around the sensor whose radii follow from the plausible e.r.p. range (``kind="annulus"``).

The province of the emitter is not the province of the point estimate: points are sampled over the
uncertainty region and each is looked up in the province boundaries, so every province the region
touches appears with its probability (a sliver touched only by the region's edge gets a token
probability of half a sample, so it is named but never dominates).

The model ``g`` is any vectorised function of distance; it is tabulated once per call on a
log-distance grid, so P.1546 (expensive, height-dependent) costs a few hundred evaluations, not
one per grid node.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from coordination.alerts import Position
from station_db.regions import KM_PER_DEG_LAT, KM_PER_DEG_LON_EQ  # the frame maps and exports draw regions in

FieldModel = Callable[[np.ndarray], np.ndarray]
"""d_km (array) -> field strength in dBuV/m produced by a 0 dBW e.r.p. transmitter."""

ProvinceLookup = Callable[[np.ndarray, np.ndarray], Sequence[str | None] | np.ndarray]
"""(lat_deg, lon_deg) arrays -> province code per point (None outside every province); a sequence or an
object array (as ``station_db.geo.provinces_of`` returns)."""

FREE_SPACE_1KM_0DBW_DBUV_M = 76.9
"""Free-space field at 1 km of 0 dBW e.r.p.: 106.9 dBuV/m for 1 kW minus 30 dB."""

CHI2_2DOF_95 = 5.991
"""Mahalanobis radius^2 of the 95 % ellipse of a 2-D Gaussian."""


class LocalisationError(ValueError):
    """Observations that cannot be localised (none, non-finite levels, bad positions)."""


@dataclass(frozen=True)
class LevelObservation:
    """One sensor's received field strength from the emitter."""

    lat: float
    lon: float
    field_dbuv_m: float
    sensor_id: str = ""


@dataclass(frozen=True)
class LocaliserConfig:
    """Knobs of the estimator; the defaults suit VHF/UHF land mobile over tens of km.

    ``sigma_db`` is the assumed shadowing / calibration spread of one measurement (the floor of the
    residual scatter used for the covariance); ``erp_range_dbw`` the plausible e.r.p. of an unknown
    emitter (-10 dBW = 0.1 W handheld .. 30 dBW = 1 kW). ``erp_prior_sigma_db`` is a weak Gaussian
    prior on the e.r.p. centred in that range: without it, level-only least squares with few sensors
    happily trades distance for power and puts a 10 W emitter inside the network 100 km outside it
    as a 1 kW one (the residuals are only slightly smaller there). The prior costs one fictitious
    measurement of weight (sigma_db / erp_prior_sigma_db)^2 and is part of the covariance.
    """

    sigma_db: float = 4.0
    erp_range_dbw: tuple[float, float] = (-10.0, 30.0)
    erp_prior_sigma_db: float = 10.0
    grid_n: int = 81
    max_range_km: float = 300.0
    n_samples: int = 1000
    n_edge: int = 72
    seed: int = 1546
    gauss_newton_iters: int = 30


def log_distance_model(exponent: float = 3.5, field_1km_dbuv_m: float = FREE_SPACE_1KM_0DBW_DBUV_M) -> FieldModel:
    """``E(d) = E(1 km) - 10 n log10(d)`` for 0 dBW: the classic path-loss law, n ~ 3-4 on land."""

    def model(d_km: np.ndarray) -> np.ndarray:
        return field_1km_dbuv_m - 10.0 * exponent * np.log10(np.maximum(np.asarray(d_km, dtype=float), 1e-3))

    return model


# ---------------------------------------------------------------------- helpers


class _Table:
    """The field model tabulated against log10(distance), forced monotone non-increasing."""

    def __init__(self, model: FieldModel, max_range_km: float) -> None:
        self.log_d = np.linspace(-2.0, math.log10(max(max_range_km, 10.0) * 1.5), 480)
        g = np.asarray(model(10.0 ** self.log_d), dtype=float)
        if g.shape != self.log_d.shape or not np.all(np.isfinite(g)):
            raise LocalisationError("field model returned a wrong shape or non-finite values")
        self.g = np.minimum.accumulate(g)
        self.slope = np.gradient(self.g, self.log_d)  # dB per decade

    def value(self, d_km: np.ndarray) -> np.ndarray:
        return np.interp(np.log10(np.maximum(d_km, 1e-2)), self.log_d, self.g)

    def derivative(self, d_km: np.ndarray) -> np.ndarray:
        """dg/dd in dB per km."""
        d = np.maximum(d_km, 1e-2)
        return np.interp(np.log10(d), self.log_d, self.slope) / (d * math.log(10.0))

    def distance_for(self, g_needed: float | np.ndarray) -> np.ndarray:
        """Largest distance at which the table still reaches ``g_needed`` (monotone inverse)."""
        # g is non-increasing in d: invert on the reversed arrays.
        return 10.0 ** np.interp(-np.asarray(g_needed, dtype=float), -self.g, self.log_d)


class _Frame:
    """Local east/north kilometres about a reference point (equirectangular; fine to ~300 km)."""

    def __init__(self, lat0: float, lon0: float) -> None:
        self.lat0, self.lon0 = lat0, lon0
        self.kx = KM_PER_DEG_LON_EQ * math.cos(math.radians(lat0))

    def to_xy(self, lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return (np.asarray(lon) - self.lon0) * self.kx, (np.asarray(lat) - self.lat0) * KM_PER_DEG_LAT

    def to_latlon(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.lat0 + np.asarray(y) / KM_PER_DEG_LAT, self.lon0 + np.asarray(x) / self.kx


def _ellipse(cov: np.ndarray) -> tuple[float, float, float]:
    """1-sigma semi-axes (km) and the major axis azimuth (degrees from north, clockwise, 0..180)."""
    vals, vecs = np.linalg.eigh(0.5 * (cov + cov.T))
    vals = np.maximum(vals, 0.0)
    major = vecs[:, 1]
    az = math.degrees(math.atan2(major[0], major[1])) % 180.0
    return math.sqrt(vals[1]), math.sqrt(vals[0]), az


def _province_probabilities(
    lookup: ProvinceLookup | None, frame: _Frame, inner_xy: np.ndarray, edge_xy: np.ndarray,
) -> tuple[tuple[str, float], ...]:
    """Share of the region's samples in each province; edge-only provinces get half a sample."""
    if lookup is None or len(inner_xy) == 0:
        return ()
    lat, lon = frame.to_latlon(inner_xy[:, 0], inner_xy[:, 1])
    codes = list(lookup(np.asarray(lat), np.asarray(lon)))
    n = len(codes)
    counts: dict[str, float] = {}
    for c in codes:
        if c:
            counts[c] = counts.get(c, 0.0) + 1.0
    if len(edge_xy):
        elat, elon = frame.to_latlon(edge_xy[:, 0], edge_xy[:, 1])
        for c in lookup(np.asarray(elat), np.asarray(elon)):
            if c and c not in counts:
                counts[c] = 0.5
    total = n + sum(0.5 for v in counts.values() if v == 0.5)
    probs = {c: v / total for c, v in counts.items()}
    return tuple(sorted(probs.items(), key=lambda kv: (-kv[1], kv[0])))


def _ellipse_edge(center: np.ndarray, cov: np.ndarray, scale: float, n: int) -> np.ndarray:
    vals, vecs = np.linalg.eigh(0.5 * (cov + cov.T))
    root = vecs @ np.diag(np.sqrt(np.maximum(vals, 0.0)))
    th = np.linspace(0.0, 2.0 * math.pi, n, endpoint=False)
    circle = np.stack([np.cos(th), np.sin(th)], axis=0) * scale
    return center[None, :] + (root @ circle).T


# ---------------------------------------------------------------------- estimator


def localise(
    observations: Sequence[LevelObservation],
    model: FieldModel | None = None,
    *,
    config: LocaliserConfig = LocaliserConfig(),
    province_lookup: ProvinceLookup | None = None,
) -> Position:
    """Estimate the emitter position (and its region and province probabilities) from levels.

    Raises LocalisationError for no observations or non-finite values. The returned
    :class:`Position` has ``kind`` ellipse (>= 3 sensors), region (2) or annulus (1).
    """
    obs = list(observations)
    if not obs:
        raise LocalisationError("localise: no observations")
    for i, o in enumerate(obs):
        if not all(math.isfinite(v) for v in (o.lat, o.lon, o.field_dbuv_m)):
            raise LocalisationError(f"localise: observation {i} ({o.sensor_id!r}) has a non-finite value")
    model = model or log_distance_model()
    table = _Table(model, config.max_range_km)
    lat = np.array([o.lat for o in obs])
    lon = np.array([o.lon for o in obs])
    e = np.array([o.field_dbuv_m for o in obs])
    frame = _Frame(float(lat.mean()), float(lon.mean()))
    sx, sy = frame.to_xy(lat, lon)
    erp_lo, erp_hi = config.erp_range_dbw
    rng = np.random.default_rng(config.seed)
    # Farthest each sensor could be from an emitter of the largest plausible e.r.p.
    r_max = np.minimum(table.distance_for(e - erp_hi), config.max_range_km)

    if len(obs) == 1:
        return _single(obs[0], e[0], table, config, frame, province_lookup, rng)

    # Search box: the intersection of the sensors' hearing discs (their union if inconsistent).
    x_lo, x_hi = float(np.max(sx - r_max)), float(np.min(sx + r_max))
    y_lo, y_hi = float(np.max(sy - r_max)), float(np.min(sy + r_max))
    if x_lo >= x_hi or y_lo >= y_hi:
        x_lo, x_hi = float(np.min(sx - r_max)), float(np.max(sx + r_max))
        y_lo, y_hi = float(np.min(sy - r_max)), float(np.max(sy + r_max))
    gx = np.linspace(x_lo, x_hi, config.grid_n)
    gy = np.linspace(y_lo, y_hi, config.grid_n)
    XX, YY = np.meshgrid(gx, gy)
    px, py = XX.ravel(), YY.ravel()
    d = np.hypot(px[:, None] - sx[None, :], py[:, None] - sy[None, :])
    G = table.value(d)
    p0 = 0.5 * (erp_lo + erp_hi)
    lam = (config.sigma_db / config.erp_prior_sigma_db) ** 2
    p_hat = np.clip((np.sum(e[None, :] - G, axis=1) + lam * p0) / (len(obs) + lam), erp_lo, erp_hi)
    rss = np.sum((e[None, :] - G - p_hat[:, None]) ** 2, axis=1) + lam * (p_hat - p0) ** 2
    chi2 = rss / config.sigma_db**2
    w = np.exp(-0.5 * (chi2 - chi2.min()))
    w /= w.sum()
    cell = np.array([gx[1] - gx[0], gy[1] - gy[0]])

    if len(obs) == 2:
        mean = np.array([np.sum(w * px), np.sum(w * py)])
        dxy = np.stack([px - mean[0], py - mean[1]], axis=1)
        cov = (dxy * w[:, None]).T @ dxy + np.diag(cell**2 / 12.0)
        idx = rng.choice(len(w), size=config.n_samples, p=w)
        inner = np.stack([px[idx], py[idx]], axis=1) + (rng.random((config.n_samples, 2)) - 0.5) * cell
        edge = _ellipse_edge(mean, cov, math.sqrt(CHI2_2DOF_95), config.n_edge)
        a, b, az = _ellipse(cov)
        plat, plon = frame.to_latlon(mean[0], mean[1])
        return Position(
            lat=float(plat), lon=float(plon), error_km=math.sqrt(CHI2_2DOF_95) * a, semi_major_km=a,
            semi_minor_km=b, orientation_deg=az,
            provinces=_province_probabilities(province_lookup, frame, inner, edge),
            kind="region", n_sensors=2, eirp_dbw=float(np.sum(w * p_hat)),
        )

    best = int(np.argmin(rss))
    theta = np.array([px[best], py[best], p_hat[best]])
    theta, jtj, rss_fit = _gauss_newton(theta, sx, sy, e, table, config.gauss_newton_iters, p0, math.sqrt(lam))
    dof = len(obs) - 3
    s2 = config.sigma_db**2 if dof <= 0 else max(config.sigma_db**2, rss_fit / dof)
    try:
        cov3 = s2 * np.linalg.inv(jtj)
    except np.linalg.LinAlgError:
        cov3 = np.diag([1e6, 1e6, 1e2])
    cov = cov3[:2, :2]
    center = theta[:2]
    raw = rng.multivariate_normal(center, cov, size=config.n_samples * 2, method="eigh")
    dz = raw - center
    inv = np.linalg.pinv(cov)
    m2 = np.einsum("ij,jk,ik->i", dz, inv, dz)
    inner = raw[m2 <= CHI2_2DOF_95][: config.n_samples]
    edge = _ellipse_edge(center, cov, math.sqrt(CHI2_2DOF_95), config.n_edge)
    a, b, az = _ellipse(cov)
    plat, plon = frame.to_latlon(center[0], center[1])
    return Position(
        lat=float(plat), lon=float(plon), error_km=math.sqrt(CHI2_2DOF_95) * a, semi_major_km=a, semi_minor_km=b,
        orientation_deg=az, provinces=_province_probabilities(province_lookup, frame, inner, edge),
        kind="ellipse", n_sensors=len(obs), eirp_dbw=float(theta[2]),
    )


def _gauss_newton(
    theta: np.ndarray, sx: np.ndarray, sy: np.ndarray, e: np.ndarray, table: _Table, iters: int,
    p0: float, prior_w: float,
) -> tuple[np.ndarray, np.ndarray, float]:
    """Levenberg-damped Gauss-Newton on (x, y, P) with the e.r.p. prior as one extra residual.

    Returns the estimate, J^T J (prior included) and the RSS of the measurements alone.
    """

    def residuals(t: np.ndarray) -> np.ndarray:
        d = np.hypot(t[0] - sx, t[1] - sy)
        return np.append(e - t[2] - table.value(d), prior_w * (p0 - t[2]))

    def jacobian(t: np.ndarray) -> np.ndarray:
        dx, dy = t[0] - sx, t[1] - sy
        d = np.maximum(np.hypot(dx, dy), 1e-2)
        gp = table.derivative(d)
        J = np.stack([-gp * dx / d, -gp * dy / d, -np.ones_like(d)], axis=1)
        return np.vstack([J, [0.0, 0.0, -prior_w]])

    r = residuals(theta)
    rss = float(r @ r)
    lam = 1e-3
    for _ in range(iters):
        J = jacobian(theta)
        A = J.T @ J
        try:
            step = np.linalg.solve(A + lam * np.diag(np.diag(A) + 1e-9), -J.T @ r)
        except np.linalg.LinAlgError:  # degenerate geometry (co-located sensors): keep the grid answer
            break
        cand = theta + step
        r_new = residuals(cand)
        rss_new = float(r_new @ r_new)
        if rss_new < rss:
            theta, r, lam = cand, r_new, max(lam / 10.0, 1e-9)
            converged = rss - rss_new < 1e-9 * max(rss, 1.0) and np.hypot(step[0], step[1]) < 1e-4
            rss = rss_new
            if converged:
                break
        else:
            lam *= 10.0
            if lam > 1e9:
                break
    J = jacobian(theta)
    return theta, J.T @ J, float(r[:-1] @ r[:-1])


def _single(
    o: LevelObservation, e: float, table: _Table, config: LocaliserConfig, frame: _Frame,
    lookup: ProvinceLookup | None, rng: np.random.Generator,
) -> Position:
    """One sensor: the annulus where a plausible e.r.p. produces the measured level."""
    erp_lo, erp_hi = config.erp_range_dbw
    r_in = min(float(table.distance_for(e - erp_lo)), config.max_range_km)
    r_out = min(float(table.distance_for(e - erp_hi)), config.max_range_km)
    r_in = min(r_in, r_out)
    sx, sy = frame.to_xy(np.array([o.lat]), np.array([o.lon]))
    # Uniform in area over the annulus.
    u = rng.random(config.n_samples)
    rad = np.sqrt(r_in**2 + u * (r_out**2 - r_in**2))
    th = rng.random(config.n_samples) * 2.0 * math.pi
    inner = np.stack([sx[0] + rad * np.sin(th), sy[0] + rad * np.cos(th)], axis=1)
    te = np.linspace(0.0, 2.0 * math.pi, config.n_edge, endpoint=False)
    edge = np.stack([sx[0] + r_out * np.sin(te), sy[0] + r_out * np.cos(te)], axis=1)
    return Position(
        lat=o.lat, lon=o.lon, error_km=r_out, semi_major_km=r_out, semi_minor_km=r_out, orientation_deg=0.0,
        provinces=_province_probabilities(lookup, frame, inner, edge), kind="annulus", n_sensors=1,
        r_inner_km=r_in, r_outer_km=r_out,
    )
