"""One position from the received-level fix and the TDOA fix, with an honest 95 % region.

Why: the two fixes fail differently. Levels place an emitter within shadowing (km), never far off;
time differences place it within tens of metres when every pair is clean, and can be confidently
wrong when a pair locked on a multipath ray or a sidelobe. Combining them as two Gaussian
estimates (information form: P = (P_rss^-1 + P_tdoa^-1)^-1) lets the level fix settle what a
poor hyperbola geometry leaves open (the long axis of a thin TDOA ellipse) and the TDOA fix shrink
the level region, when they agree.

When they disagree (the Mahalanobis distance of their difference, under the sum of their
covariances, beyond the 99.9 % point of chi-square with 2 degrees of freedom), one of them is wrong
and nothing here can tell which: the result is the even mixture of the two, moment-matched (centre
half-way, covariance the mean of the two plus a quarter of the difference's outer product), whose
95 % region holds both fixes instead of claiming the precision of either (``consistent`` is False;
the position's method stays ``fused``).

A TDOA fix of a narrowband emitter heard a few dB over the floor can also be wrong while both tests
pass: a pair locked on a wrong correlation peak puts it kilometres off, inside the level region (which
is tens of km wide), with a region of a few hundred metres. The information form then claims the
wrong fix's precision. :func:`fuse_with_doubt` treats the fix as what it is, a measurement that is
right (its Gaussian) with probability ``1 - q`` and a wrong peak (landing anywhere in the level
region, a uniform density over its 95 % ellipse) with probability ``q`` (``outlier_probability``: the
rate of fixes outside their stated region, measured per waveform). What the levels say of the fix's
own place (the Mahalanobis distance, or their log-likelihood there against at the level fix,
``level_llr``, where that is more tolerant: a banana-shaped posterior) sets how likely the "right"
branch is (the level fix may be in its own tail too: ``LEVEL_TAIL``). The result is the mixture of the
fused Gaussian, the TDOA fix alone and the level region, weighted by that posterior, its 95 % region an
ellipse that holds 95 % of the mixture's draws. A fused position is then never more confident than the
chance that the fix is right.

Geometry is local: both fixes are put in a tangent plane at the level fix (east, north in km; an
equirectangular map is exact to < 0.1 % over the tens of km involved). Position semantics follow
:class:`coordination.alerts.Position`: ``semi_major_km``/``semi_minor_km`` are 1-sigma axes of a
covariance whose 95 % ellipse is the stated region, ``error_km`` the 95 % semi-major axis.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from coordination.alerts import Position
from coordination.tdoa import TdoaResult

#: Mahalanobis radius^2 of the 95 % / 99.9 % ellipse of a 2-D Gaussian.
CHI2_2DOF_95 = 5.991
CHI2_2DOF_999 = 13.816
#: Points drawn from a region to share it among provinces.
PROVINCE_SAMPLES = 2000
#: Draws of a fused mixture its 95 % ellipse is sized on.
MIXTURE_SAMPLES = 4000
#: How often the level fix's 95 % region misses the emitter (by its definition; 1-3 % measured).
LEVEL_TAIL = 0.05
_KM_PER_DEG_LAT = 111.195

#: The TDOA fix file the server writes beside an alert's snapshots (one per round; the newest one counts).
FIX_SUFFIX = ".tdoa.json"

ProvinceLookup = Callable[[np.ndarray, np.ndarray], Sequence[str | None] | np.ndarray]


@dataclass(frozen=True)
class FusedFix:
    """The fused position and how well the two fixes agreed (``mahalanobis2``: their squared distance
    under the sum of their covariances)."""

    position: Position
    consistent: bool
    mahalanobis2: float
    weight_tdoa: float = 1.0
    """Posterior probability that the TDOA fix is right (its own region holds the emitter)."""
    level_llr: float | None = None
    """Log-likelihood of the levels at the TDOA fix minus at the level fix (None: not checked)."""
    point: str = "fused"
    """Whose point the position is: ``fused``, ``tdoa`` (the level fix in its tail) or ``levels`` (a wrong peak)."""


def covariance_km2(pos: Position) -> np.ndarray:
    """The 2x2 (east, north) covariance in km^2 that a Position's 1-sigma ellipse states."""
    az = math.radians(pos.orientation_deg)
    major = np.array([math.sin(az), math.cos(az)])
    minor = np.array([math.cos(az), -math.sin(az)])
    return pos.semi_major_km**2 * np.outer(major, major) + pos.semi_minor_km**2 * np.outer(minor, minor)


def _ellipse(cov: np.ndarray) -> tuple[float, float, float]:
    vals, vecs = np.linalg.eigh(0.5 * (cov + cov.T))
    vals = np.maximum(vals, 0.0)
    major = vecs[:, 1]
    return math.sqrt(vals[1]), math.sqrt(vals[0]), math.degrees(math.atan2(major[0], major[1])) % 180.0


def _to_km(lat0: float, lon0: float, lat: float, lon: float) -> np.ndarray:
    return np.array([(lon - lon0) * _KM_PER_DEG_LAT * math.cos(math.radians(lat0)), (lat - lat0) * _KM_PER_DEG_LAT])


def _to_latlon(lat0: float, lon0: float, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lat = lat0 + xy[..., 1] / _KM_PER_DEG_LAT
    lon = lon0 + xy[..., 0] / (_KM_PER_DEG_LAT * math.cos(math.radians(lat0)))
    return lat, lon


def province_shares(lat: float, lon: float, cov_km2: np.ndarray, lookup: ProvinceLookup | None,
                    *, seed: int = 0) -> tuple[tuple[str, float], ...]:
    """Share of a Gaussian region's mass in each province (seeded draws: the same fix, the same shares)."""
    if lookup is None:
        return ()
    rng = np.random.default_rng(seed)
    pts = rng.multivariate_normal(np.zeros(2), 0.5 * (cov_km2 + cov_km2.T), size=PROVINCE_SAMPLES,
                                  method="eigh")
    plat, plon = _to_latlon(lat, lon, pts)
    counts: dict[str, int] = {}
    for code in lookup(np.asarray(plat), np.asarray(plon)):
        if code:
            counts[str(code)] = counts.get(str(code), 0) + 1
    return tuple(sorted(((c, n / PROVINCE_SAMPLES) for c, n in counts.items()), key=lambda kv: (-kv[1], kv[0])))


def _position(lat: float, lon: float, cov_km2: np.ndarray, *, method: str, n_sensors: int,
              lookup: ProvinceLookup | None, eirp_dbw: float | None = None) -> Position:
    a, b, az = _ellipse(cov_km2)
    return Position(lat=float(lat), lon=float(lon), error_km=math.sqrt(CHI2_2DOF_95) * a, semi_major_km=a,
                    semi_minor_km=b, orientation_deg=az, provinces=province_shares(lat, lon, cov_km2, lookup),
                    kind="ellipse", n_sensors=n_sensors, eirp_dbw=eirp_dbw, method=method)


def tdoa_position(result: TdoaResult, lookup: ProvinceLookup | None = None) -> Position:
    """A TDOA fix as an alert position (method ``tdoa``), its covariance turned from ENU m^2 to km^2."""
    cov = np.array(result.fix.cov_m2, dtype=np.float64) / 1e6
    return _position(result.lat, result.lon, cov, method="tdoa", n_sensors=len(result.pairs) + 1, lookup=lookup)


def fuse_positions(rss: Position, tdoa: Position, lookup: ProvinceLookup | None = None) -> FusedFix:
    """Combine a received-level position (an ellipse or region; an annulus is no Gaussian and is not
    fused: the TDOA fix stands alone) with a TDOA position. See the module docstring.

    Province shares: of the fused Gaussian when the fixes agree; when they do not, the even mixture of
    each fix's own shares (the level fix's as its localiser stated them, the TDOA fix's drawn from its
    ellipse), so a confident level decision and a TDOA fix across a border make an ambiguous one, never
    a flipped one. With no ``lookup`` the TDOA fix's stated shares are used.
    """
    def tdoa_shares() -> tuple[tuple[str, float], ...]:
        if lookup is None:
            return tdoa.provinces
        return province_shares(tdoa.lat, tdoa.lon, covariance_km2(tdoa), lookup)

    if rss.kind == "annulus" or rss.semi_major_km <= 0.0:
        return FusedFix(tdoa if lookup is None else replace(tdoa, provinces=tdoa_shares()), True, 0.0)
    lat0, lon0 = rss.lat, rss.lon
    p1, p2 = covariance_km2(rss), covariance_km2(tdoa)
    floor = np.eye(2) * 1e-8  # a degenerate axis (a fix on a straight line of sensors) stays invertible
    p1, p2 = p1 + floor, p2 + floor
    x1, x2 = np.zeros(2), _to_km(lat0, lon0, tdoa.lat, tdoa.lon)
    d = x2 - x1
    m2 = float(d @ np.linalg.solve(p1 + p2, d))
    consistent = m2 <= CHI2_2DOF_999
    if consistent:
        i1, i2 = np.linalg.inv(p1), np.linalg.inv(p2)
        cov = np.linalg.inv(i1 + i2)
        x = cov @ (i1 @ x1 + i2 @ x2)
    else:
        x = 0.5 * (x1 + x2)
        cov = 0.5 * (p1 + p2) + 0.25 * np.outer(d, d)
    lat, lon = _to_latlon(lat0, lon0, x)
    pos = _position(float(lat), float(lon), cov, method="fused", n_sensors=max(rss.n_sensors, tdoa.n_sensors),
                    lookup=lookup if consistent else None, eirp_dbw=rss.eirp_dbw)
    if not consistent:
        mix: dict[str, float] = {}
        for shares in (rss.provinces, tdoa_shares()):
            for code, p in shares:
                mix[code] = mix.get(code, 0.0) + 0.5 * p
        pos = replace(pos, provinces=tuple(sorted(mix.items(), key=lambda kv: (-kv[1], kv[0]))))
    return FusedFix(pos, consistent, m2)


def _level_area_km2(rss: Position) -> float:
    return math.pi * CHI2_2DOF_95 * max(rss.semi_major_km, 1e-6) * max(rss.semi_minor_km, 1e-6)


def _log_right_density(rss: Position, tdoa: Position, level_llr: float | None) -> tuple[float, float]:
    """(log density of a right TDOA fix at its place given the levels, Mahalanobis^2 of the two fixes)."""
    p_sum = covariance_km2(rss) + covariance_km2(tdoa) + np.eye(2) * 1e-8
    d = _to_km(rss.lat, rss.lon, tdoa.lat, tdoa.lon)
    m2 = float(d @ np.linalg.solve(p_sum, d))
    # The levels' own likelihood ratio is the sharper test where their posterior is no ellipse (a banana, a
    # tail), but it knows nothing of the model and calibration errors the localiser's calibrated region
    # carries: a fix disagrees only when both say so.
    dist2 = m2 if level_llr is None else min(m2, -2.0 * min(level_llr, 0.0))
    return -0.5 * dist2 - math.log(2.0 * math.pi * math.sqrt(float(np.linalg.det(p_sum)))), m2


def fix_weights(rss: Position, tdoa: Position, *, outlier_probability: float,
                level_llr: float | None = None) -> tuple[tuple[float, float, float], float]:
    """Posterior weights of (both right: the fused Gaussian; the TDOA fix right and the level fix in its
    tail: the TDOA Gaussian alone; the TDOA fix a wrong peak: the level fix alone), and the two fixes'
    Mahalanobis^2.

    Both right: the fix lands where the levels put the emitter, ``N(x_tdoa; x_rss, P_rss + P_tdoa)``,
    its exponent the smaller of the Mahalanobis distance and, when given, the levels' own log-likelihood
    ratio (``-2 min(level_llr, 0)``). Level fix in its tail (``LEVEL_TAIL``: a 95 % region misses 5 %), or a wrong
    peak: the fix lands anywhere in the level fix's 95 % ellipse, ``1 / area``. Priors ``1 - q``, ``q``.
    """
    log_r, m2 = _log_right_density(rss, tdoa, level_llr)
    q = min(max(outlier_probability, 0.0), 1.0)
    log_u = -math.log(_level_area_km2(rss))
    terms = np.array([math.log1p(-q) + math.log1p(-LEVEL_TAIL) + log_r if q < 1.0 else -np.inf,
                      math.log1p(-q) + math.log(LEVEL_TAIL) + log_u if q < 1.0 else -np.inf,
                      math.log(q) + log_u if q > 0.0 else -np.inf])
    w = np.exp(terms - np.max(terms))
    w /= w.sum()
    return (float(w[0]), float(w[1]), float(w[2])), m2


def fuse_with_doubt(rss: Position, tdoa: Position, lookup: ProvinceLookup | None = None, *,
                    outlier_probability: float, level_llr: float | None = None, seed: int = 0) -> FusedFix:
    """Fuse a level fix with a TDOA fix that may be a wrong peak (see the module docstring).

    The result is the mixture of :func:`fix_weights`' three branches. Its point is the level fix's when the
    TDOA fix is likelier a wrong peak than right (``w_l > w_f + w_t``), else the fused one, or the TDOA fix's
    when the level fix is likelier in its tail (``w_t > w_f``); its 95 % region
    the smaller of two ellipses (the point branch's shape, the mixture's second moment about the point)
    each sized to hold 95 % of the mixture's draws; provinces the weighted mixture of the branches'
    shares. ``consistent``: the point is the fused one. With ``outlier_probability`` 0 and no
    ``level_llr`` this is :func:`fuse_positions`.
    """
    if (outlier_probability <= 0.0 and level_llr is None) or rss.kind == "annulus" or rss.semi_major_km <= 0.0:
        return fuse_positions(rss, tdoa, lookup)
    (w_f, w_t, w_l), m2 = fix_weights(rss, tdoa, outlier_probability=outlier_probability, level_llr=level_llr)
    lat0, lon0 = rss.lat, rss.lon
    p1, p2 = covariance_km2(rss) + np.eye(2) * 1e-8, covariance_km2(tdoa) + np.eye(2) * 1e-8
    x2 = _to_km(lat0, lon0, tdoa.lat, tdoa.lon)
    i1, i2 = np.linalg.inv(p1), np.linalg.inv(p2)
    cf = np.linalg.inv(i1 + i2)
    xf = cf @ (i2 @ x2)
    branches = [(w_f, xf, cf), (w_t, x2, p2), (w_l, np.zeros(2), p1)]
    # Two places, not three: the fused and the fix-alone branches both put the emitter at the fix (the
    # fix's region is far smaller than the levels'), so the fix's place is taken when the fix is likelier
    # right than wrong (w_f + w_t against w_l), whichever of its two branches holds more.
    k_point = 2 if w_l > w_f + w_t else (0 if w_f >= w_t else 1)
    centre, shape0 = branches[k_point][1], branches[k_point][2]
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(MIXTURE_SAMPLES, [w_f, w_t, w_l])
    draws = np.concatenate([rng.multivariate_normal(m, c, size=n, method="eigh")
                            for (_, m, c), n in zip(branches, counts, strict=True)])
    moment = sum((w * (c + np.outer(m - centre, m - centre)) for w, m, c in branches), np.zeros((2, 2)))
    best: np.ndarray | None = None
    dev = draws - centre
    for shape in (shape0, moment):
        k2 = float(np.quantile(np.einsum("ij,ij->i", dev, np.linalg.solve(shape, dev.T).T), 0.95))
        cov = shape * max(k2, 1e-12) / CHI2_2DOF_95
        if best is None or np.linalg.det(cov) < np.linalg.det(best):
            best = cov
    assert best is not None
    lat, lon = _to_latlon(lat0, lon0, centre)
    pos = _position(float(lat), float(lon), best, method="fused", n_sensors=max(rss.n_sensors, tdoa.n_sensors),
                    lookup=None, eirp_dbw=rss.eirp_dbw)
    flat, flon = _to_latlon(lat0, lon0, xf)
    fused_shares = province_shares(float(flat), float(flon), cf, lookup) if lookup is not None else tdoa.provinces
    tdoa_shares = (province_shares(tdoa.lat, tdoa.lon, p2, lookup) if lookup is not None else tdoa.provinces)
    mix: dict[str, float] = {}
    for shares, weight in ((fused_shares, w_f), (tdoa_shares, w_t), (rss.provinces, w_l)):
        for code, p in shares:
            mix[code] = mix.get(code, 0.0) + weight * p
    pos = replace(pos, provinces=tuple(sorted(((c, p) for c, p in mix.items() if p > 0.0),
                                              key=lambda kv: (-kv[1], kv[0]))))
    return FusedFix(pos, k_point == 0, m2, weight_tdoa=w_f + w_t, level_llr=level_llr,
                    point=("fused", "tdoa", "levels")[k_point])


def station_odds_factor(tdoa: Position, rss: Position | None, lat: float, lon: float, *, tol_km: float,
                        outlier_probability: float, level_llr: float | None = None) -> float:
    """By how much a TDOA fix multiplies the odds that a licensed station at (lat, lon) is the emitter
    (against "an unknown emitter where the levels put it").

    Station: the fix lands at its site, ``N(site; x_tdoa, P_tdoa + tol^2)``, or is a wrong peak; unknown:
    the fix lands where the levels say (:func:`fix_weights`' densities) or is a wrong peak. With
    ``q`` = 0 a fix far from the site rules the station out; with ``q`` > 0 it divides its odds by at
    most ~1/q: a narrowband fix that is often a wrong peak cannot by itself overturn what the levels and
    the licence say.
    """
    q = min(max(outlier_probability, 0.0), 1.0)
    cov_t = covariance_km2(tdoa) + np.eye(2) * (tol_km**2 + 1e-8)
    d = _to_km(tdoa.lat, tdoa.lon, lat, lon)
    dens_st = math.exp(-0.5 * float(d @ np.linalg.solve(cov_t, d))) / (2.0 * math.pi * math.sqrt(
        float(np.linalg.det(cov_t))))
    if rss is None or rss.kind == "annulus" or rss.semi_major_km <= 0.0:  # no level density: the region decides
        return 1.0 if float(d @ np.linalg.solve(cov_t, d)) <= CHI2_2DOF_95 else q
    log_r, _ = _log_right_density(rss, tdoa, level_llr)
    u = 1.0 / _level_area_km2(rss)
    dens_unk = (1.0 - LEVEL_TAIL) * math.exp(log_r) + LEVEL_TAIL * u
    return ((1.0 - q) * dens_st + q * u) / max((1.0 - q) * dens_unk + q * u, 1e-300)


def inside_region(pos: Position, lat: float, lon: float, *, tol_km: float = 0.0) -> bool:
    """Whether a point lies inside a position's stated 95 % ellipse, widened by ``tol_km`` (1-sigma, both
    axes: how far a point's own coordinates may be off, e.g. a station's licensed site)."""
    cov = covariance_km2(pos) + np.eye(2) * (tol_km**2 + 1e-8)
    d = _to_km(pos.lat, pos.lon, lat, lon)
    return float(d @ np.linalg.solve(cov, d)) <= CHI2_2DOF_95


def newest_fix(evidence: Sequence[Any], cache: dict[str, dict[str, Any]] | None = None) -> dict[str, Any] | None:
    """The newest readable TDOA fix file among an alert's evidence references (that holds a position)."""
    for ref in reversed([str(e) for e in evidence if str(e).endswith(FIX_SUFFIX)]):
        doc = cache.get(ref) if cache is not None else None
        if doc is None:
            try:
                doc = json.loads(Path(ref).read_text())
            except (OSError, ValueError):
                continue
            if cache is not None:
                cache[ref] = doc
        if isinstance(doc, dict) and "position" in doc:
            return doc
    return None


def with_tdoa(doc: dict[str, Any], cache: dict[str, dict[str, Any]] | None = None,
              lookup: ProvinceLookup | None = None) -> dict[str, Any]:
    """An alert document with its newest TDOA fix in ``tdoa`` (the fix's detail: what the console draws
    hyperbolas from) and fused into ``position`` (``position_rss`` keeps the level fix); unchanged when it
    has none. When the engine has already judged with the fix (its position says ``fused`` or ``tdoa``
    and ``position_rss`` is stated), the position is the engine's and is not fused again. The server's
    outbox and the report both show alerts through this, so they say the same method."""
    fix = newest_fix(doc.get("evidence") or [], cache)
    if fix is None:
        return doc
    tdoa = Position.from_json(fix["position"], "tdoa.position")
    detail = {k: v for k, v in fix.items() if k != "alert_id"}
    rss_doc = doc.get("position")
    stated = (rss_doc or {}).get("method") in ("fused", "tdoa") and doc.get("position_rss") is not None
    if stated:
        rss = Position.from_json(doc["position_rss"], "alert.position_rss")
        detail["consistent_with_rss"] = fuse_positions(rss, tdoa).consistent
    elif rss_doc:
        fused = fuse_positions(Position.from_json(rss_doc, "alert.position"), tdoa, lookup)
        doc["position_rss"] = rss_doc
        doc["position"] = fused.position.to_json()
        detail["consistent_with_rss"] = fused.consistent
    else:
        doc["position"] = tdoa.to_json()
    doc["tdoa"] = detail
    return doc
