"""Where is the emitter? Received-level localisation that is honest about what the levels can say.

Each sensor i that hears the emitter measures a field strength E_i (dBuV/m). With a propagation model
giving the field of a 0 dBW e.r.p. transmitter at distance d, ``g(d)``, and the unknown e.r.p. ``P``
(dBW), ``E_i = P + g(d_i(x, y)) + n_i``. The scatter ``n_i`` is not the model's ideal: real paths
scatter about the P.1546 median by 5.5-8 dB (location variability), receivers are off in calibration
by a few dB and the model itself is wrong near hills, water and towns. So the localiser does not
assume one spread; it works out which spread the levels it meets support:

- **Posterior on a grid.** The unknowns are (x, y, P, sigma). The posterior is evaluated on a grid of
  positions (two passes: the whole area the sensors can hear, then a finer grid over where the mass
  is), a grid of e.r.p. values (Gaussian prior centred in the plausible range of the emitter's service,
  :meth:`LocaliserConfig.for_service`: with one or two levels the region's length along the distance
  curve is this prior's, so a prior wider than what emitters radiate over-covers) and a few spreads
  ``sigma`` between ``sigma_db`` and ``sigma_max_db`` (uniform in log: the data choose). P and sigma
  are summed out; what remains is the probability of every grid cell. When the network has learnt its
  spread from matched licensed stations (:class:`SpreadPrior`, ``coordination.spread``), the spreads
  considered are that spread's posterior instead: one or two levels cannot say how much paths scatter
  (the e.r.p. takes their last degree of freedom), so without it their region was set by the 3-10 dB
  mixture whatever the world, too wide where paths agree with the model and too narrow where they do not.
  The unknown emitter's law (a 20 m mast) is widened by ``unknown_law_db`` over that learnt spread.
- **Robust loss.** Each measurement's likelihood is a Student-t (4 degrees of freedom) of scale
  sigma, so one sensor in a deep shadow (or a miscalibrated one) does not drag the fix: its cost
  grows like log(r), not r^2 (the Cauchy-like tail of a robust M-estimator).
- **"Not heard" is evidence.** A sensor that swept the channel and did not report the emitter,
  although its detection limit is ``L`` dBuV/m, says ``P + g(d) + n < L``: its likelihood term is
  ``Phi((L - P - g(d)) / sigma)``. This bounds where a strong emitter can be (it is not next to a
  silent sensor) and how strong a far one can be.
- **The station database as a prior.** Where a licensed station could be the emitter (a
  :class:`StationHypothesis`: its position, its licensed e.r.p., its own height's distance law),
  the evidence for "the emitter is that station" (likelihood at its position, e.r.p. near its licence
  with room for a fault) is weighed against "somewhere in the area" (likelihood averaged over the
  area). Each hypothesis comes back with its posterior probability.

The stated region is the 95 % **probability** region: an ellipse about the point estimate scaled so
that it holds 95 % of the posterior mass (not the Gaussian 95 % ellipse of a curvature, which is
badly optimistic when the posterior is a banana or has a tail). ``error_km`` is its semi-major axis.
Because sigma is estimated, the region widens when the levels disagree and narrows when they agree.

The point estimate (``lat``/``lon``) with three or more sensors is the maximum of the posterior,
polished by a Huber-weighted Gauss-Newton step; with fewer it is the posterior mean (three unknowns
cannot be fixed by fewer levels; ``kind="region"``). One sensor with no silent neighbour gives an
annulus around it (``kind="annulus"``) whose radii hold 95 % of the posterior.

The province of the emitter is not the province of the point estimate: posterior samples are looked
up in the province boundaries, so every province the region touches appears with its probability (a
sliver touched only by the region's edge gets a token probability of half a sample).

The model ``g`` is any vectorised function of distance; it is tabulated once per call on a
log-distance grid, so P.1546 costs a few hundred evaluations, not one per grid node.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import log_ndtr, logsumexp

from coordination.alerts import Position
from station_db.regions import KM_PER_DEG_LAT, KM_PER_DEG_LON_EQ  # the frame maps and exports draw regions in

FieldModel = Callable[[np.ndarray], np.ndarray]
"""d_km (array) -> field strength in dBuV/m produced by a 0 dBW e.r.p. transmitter."""

ProvinceLookup = Callable[[np.ndarray, np.ndarray], Sequence[str | None] | np.ndarray]
"""(lat_deg, lon_deg) arrays -> province code per point (None outside every province); a sequence or an
object array (as ``station_db.geo.provinces_of`` returns)."""

FREE_SPACE_1KM_0DBW_DBUV_M = 76.9
"""Free-space field at 1 km of 0 dBW e.r.p.: 106.9 dBuV/m for 1 kW minus 30 dB."""

FAULT_BELOW_DB, FAULT_ABOVE_DB = 10.0, 25.0
"""A licensed station with a power fault: from this far below to this far above its licensed e.r.p."""

ERP_BY_SERVICE_DBW: tuple[tuple[str, float, float, float], ...] = (
    ("land_mobile", 0.0, 20.0, 6.0),  # 1-5 W handheld (0-7 dBW) .. 25-50 W base on a gain mast (~20 dBW)
    ("broadcast", 10.0, 30.0, 6.0),  # an FM pirate: 10 W .. 1 kW
    ("aeronautical", 0.0, 20.0, 6.0),  # 5 W handheld .. 50 W ground station with a gain antenna
    ("maritime", 0.0, 20.0, 6.0),  # 1-6 W handheld .. 25 W ship station, a coast station's gain
    ("public_mobile", 5.0, 25.0, 6.0),  # an illegal repeater or a false base station: 3 W .. 300 W e.r.p.
)
"""What an unknown emitter of each service radiates (service, e.r.p. low / high dBW, prior spread dB): the
equipment unlicensed emitters of that service are made of, not the licensed stations' (whose e.r.p. the
station database holds). The prior's spread also carries the part of an unknown antenna height common
to all links (P.1546's height gain, 5-60 m against the assumed 20 m: ~3-5 dB)."""

UNKNOWN_LAW_DB = 2.0
"""The per-link spread (dB) an unknown emitter adds to the spread the network learnt from licensed stations:
those are fitted with their own heights' law, an unknown emitter with the 20 m one, and P.1546's height
gain for 5-60 m masts differs from it link by link (distance by distance) by 1.5-1.8 dB about its mean."""

CHI2_2DOF_95 = 5.991
"""Mahalanobis radius^2 of the 95 % ellipse of a 2-D Gaussian."""

_LOG_2PI_HALF = 0.5 * math.log(2.0 * math.pi)


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
class SilentObservation:
    """A sensor that swept the channel and did not hear the emitter, although it would have heard
    anything at or above ``limit_dbuv_m`` (its detection limit as a field strength)."""

    lat: float
    lon: float
    limit_dbuv_m: float
    sensor_id: str = ""


@dataclass(frozen=True)
class StationHypothesis:
    """"The emitter is this licensed station": its position, licence e.r.p. and distance law.

    ``g_heard_db`` / ``g_silent_db``: the field of the station at 0 dBW e.r.p. (its own heights,
    median time) at each heard / silent sensor, in the order of the observations given to
    :func:`locate`. The e.r.p. prior is the licence (``erp_sigma_db``) with a share ``fault_share``
    spread from 10 dB below to 25 dB above it (a faulty or boosted transmitter is still this station).
    """

    key: str
    lat: float
    lon: float
    erp_dbw: float
    g_heard_db: tuple[float, ...]
    g_silent_db: tuple[float, ...] = ()
    erp_sigma_db: float = 3.0
    fault_share: float = 0.3

    def erp_grid_dbw(self, step_db: float) -> np.ndarray:
        """The e.r.p. values this station can have (licence - 10 dB .. + 25 dB, 6 dB of slack each side).

        Its own range, not the plausible range of an unknown emitter: a 40 dBW broadcaster boosted by
        15 dB is 55 dBW, far above any handheld or base an unknown emitter is assumed to be.
        """
        return np.arange(self.erp_dbw - FAULT_BELOW_DB - 6.0, self.erp_dbw + FAULT_ABOVE_DB + 6.0 + 1e-9, step_db)


@dataclass(frozen=True)
class LocaliserConfig:
    """Knobs of the estimator; the defaults suit VHF/UHF land mobile over tens of km.

    ``sigma_db`` .. ``sigma_max_db``: the range of measurement spreads (shadowing + model error +
    calibration) the estimator considers; ``n_sigma`` values, uniform in log, the data weigh them.
    ``erp_range_dbw`` the plausible e.r.p. of an unknown emitter (-10 dBW = 0.1 W handheld .. 30 dBW =
    1 kW), ``erp_prior_sigma_db`` the width of the weak Gaussian prior centred in it: without it,
    level-only fits with few sensors trade distance for power and put a 10 W emitter inside the network
    100 km outside it as a 1 kW one. ``robust_nu``: degrees of freedom of the Student-t loss of one
    measurement (4: one sensor in a deep shadow does not drag the fix; ``inf``: Gaussian).
    ``licensed_prior``: prior probability that an emission on a channel where licensed stations
    could be heard comes from one of them (shared equally); ``station_blur_km``: how far the levels'
    centre may sit from a station that is the emitter (model error of the paths, not of the licence).
    ``miss_probability``: chance that a sensor misses an emission it should have heard (silence is
    strong evidence, not proof).
    ``erp_by_service``: (service, low dBW, high dBW, prior spread dB) of an unknown emitter per service
    (:meth:`for_service`): a PMR handheld is not an FM pirate, and with one or two levels the region's
    length along the distance curve is this prior's. ``unknown_law_db``: the per-link spread an unknown
    emitter adds to a learnt spread (:class:`SpreadPrior`, measured on stations whose heights are known).
    ``service_erp``: set by :meth:`for_service`, not by hand.
    """

    sigma_db: float = 3.0
    sigma_max_db: float = 10.0
    n_sigma: int = 3
    erp_range_dbw: tuple[float, float] = (-10.0, 30.0)
    erp_prior_sigma_db: float = 10.0
    erp_step_db: float = 2.0
    robust_nu: float = 4.0
    licensed_prior: float = 0.7
    station_blur_km: float = 3.0
    miss_probability: float = 0.05
    grid_n: int = 31
    refine_levels: int = 3
    max_range_km: float = 300.0
    n_samples: int = 1000
    n_edge: int = 72
    seed: int = 1546
    gauss_newton_iters: int = 15
    erp_by_service: tuple[tuple[str, float, float, float], ...] = ERP_BY_SERVICE_DBW
    unknown_law_db: float = UNKNOWN_LAW_DB
    service_erp: tuple[float, float, float] | None = None

    def __post_init__(self) -> None:
        if isinstance(self.erp_by_service, Mapping):  # from a TOML table: service = [low, high, spread]
            rows = []
            for name, v in self.erp_by_service.items():
                if not isinstance(v, Sequence) or len(v) != 3:
                    raise ValueError(f"LocaliserConfig.erp_by_service[{name!r}]={v!r}: "
                                     f"give [low_dbw, high_dbw, prior_spread_db]")
                rows.append((str(name), float(v[0]), float(v[1]), float(v[2])))
            object.__setattr__(self, "erp_by_service", tuple(rows))
        for name, lo, hi, sd in self.erp_by_service:
            if not (lo < hi and sd > 0.0 and all(math.isfinite(x) for x in (lo, hi, sd))):
                raise ValueError(f"LocaliserConfig.erp_by_service[{name!r}]: need low ({lo}) < high ({hi}) dBW "
                                 f"and a prior spread ({sd} dB) > 0")
        if not (self.unknown_law_db >= 0.0 and math.isfinite(self.unknown_law_db)):
            raise ValueError(f"LocaliserConfig: unknown_law_db={self.unknown_law_db} must be finite and >= 0")
        if not 0.0 < self.sigma_db <= self.sigma_max_db:
            raise ValueError(f"LocaliserConfig: need 0 < sigma_db ({self.sigma_db}) <= sigma_max_db "
                             f"({self.sigma_max_db})")
        if self.n_sigma < 1 or self.grid_n < 11:
            raise ValueError(f"LocaliserConfig: n_sigma={self.n_sigma} must be >= 1, grid_n={self.grid_n} >= 11")
        if not self.robust_nu > 0.0 or not 0.0 <= self.licensed_prior < 1.0:
            raise ValueError(f"LocaliserConfig: robust_nu={self.robust_nu} must be > 0 (inf: Gaussian), "
                             f"licensed_prior={self.licensed_prior} in [0, 1)")

    def for_service(self, service: str) -> LocaliserConfig:
        """This config with the e.r.p. prior of an unknown emitter of ``service`` (``erp_by_service``) for the
        position posterior (``service_erp``); the config itself for a service it does not list.

        The odds of a licensed station against "an unknown emitter somewhere" keep the general prior
        (``erp_range_dbw``, ``erp_prior_sigma_db``): a sharper prior makes an unknown emitter a better rival
        of a station at the same place, and ``licensed_prior`` and the engine's match threshold were set
        against the general one (with the service's prior, licensed stations within licence were judged
        unlicensed more often on the verdict benchmark)."""
        for name, lo, hi, sd in self.erp_by_service:
            if name == service:
                return dataclasses.replace(self, service_erp=(lo, hi, sd))
        return self

    def region_erp(self) -> tuple[float, float, float]:
        """(low dBW, high dBW, prior spread dB) of the e.r.p. prior the position posterior takes: the
        service's when :meth:`for_service` set one, else the general ``erp_range_dbw`` prior."""
        if self.service_erp is not None:
            return self.service_erp
        return self.erp_range_dbw[0], self.erp_range_dbw[1], self.erp_prior_sigma_db

    def sigmas(self) -> np.ndarray:
        """The spreads considered (dB)."""
        if self.n_sigma == 1 or self.sigma_max_db == self.sigma_db:
            return np.array([self.sigma_db])
        return np.geomspace(self.sigma_db, self.sigma_max_db, self.n_sigma)


@dataclass(frozen=True)
class SpreadPrior:
    """What the network has learnt about the spread of levels about the model (``coordination.spread``):
    the pooled spread ``sigma_db`` and the degrees of freedom ``dof`` behind it.

    Given to :func:`locate`, it replaces the wide spread mixture of the config by the posterior of the
    spread (scaled inverse chi-square in sigma^2 with ``dof`` degrees of freedom): a fix of one or two
    sensors, whose own levels cannot say how much paths scatter, takes the network's word for it; a fix of
    many sensors weighs its own residuals against it.
    """

    sigma_db: float
    dof: float
    wide_db: float = 0.0
    """An unusual path's spread (dB) beside the learnt one, with prior weight ``wide_share`` (0: none)."""
    wide_share: float = 0.0

    def __post_init__(self) -> None:
        if not (self.sigma_db > 0.0 and self.dof > 0.0 and math.isfinite(self.sigma_db) and math.isfinite(self.dof)):
            raise ValueError(f"SpreadPrior: sigma_db={self.sigma_db} and dof={self.dof} must be finite and > 0")
        if not (0.0 <= self.wide_share < 1.0 and self.wide_db >= 0.0 and math.isfinite(self.wide_db)
                and (self.wide_share == 0.0 or self.wide_db > 0.0)):
            raise ValueError(f"SpreadPrior: wide_share={self.wide_share} must be in [0, 1) and wide_db={self.wide_db} "
                             f"finite, > 0 when the share is")

    def widened(self, extra_db: float) -> SpreadPrior:
        """The spread with ``extra_db`` more added in quadrature (an independent error on every link); the wide
        component stays as it is (it stands for a path unlike the learnt ones, not for this error)."""
        if extra_db <= 0.0:
            return self
        return dataclasses.replace(self, sigma_db=math.hypot(self.sigma_db, extra_db))

    def with_wide(self, wide_db: float, share: float) -> SpreadPrior:
        """This learnt spread anchoring a mixture: prior weight ``1 - share`` on it, ``share`` on ``wide_db``.

        Why: a fix of three or more levels weighs spreads by its residuals, but with three or four levels (two
        unknowns of position and the e.r.p. take most of them) the prior weights still decide much of it; the
        fixed 3-10 dB mixture, uniform in log, then over-covered at 0 dB shadowing and under-covered at 8 dB
        (docs/rules-engine.md section 10). Anchored on what the network measured, with room for an unusual path
        (the residuals can still move the weight to ``wide_db``), the region follows the world's spread."""
        return dataclasses.replace(self, wide_db=wide_db, wide_share=share)

    def grid(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """``n`` spreads (dB) over +-2.5 standard deviations of log(sigma), and their normalised log weights;
        with a wide component, ``wide_db`` appended with its weight ``wide_share``."""
        sd = 1.0 / math.sqrt(2.0 * self.dof)
        k = np.linspace(-2.5, 2.5, n) if n > 1 else np.zeros(1)
        sig = self.sigma_db * np.exp(k * sd)
        # log density of log(sigma) under the scaled inverse chi-square of sigma^2 (grid is uniform in log)
        logw = -self.dof * np.log(sig) - 0.5 * self.dof * (self.sigma_db / sig) ** 2
        logw = logw - logsumexp(logw)
        if self.wide_share > 0.0:
            sig = np.append(sig, self.wide_db)
            logw = np.append(logw + math.log1p(-self.wide_share), math.log(self.wide_share))
        return sig, logw


@dataclass(frozen=True)
class Fix:
    """What :func:`locate` found: the position (with region and provinces) and the hypotheses' odds."""

    position: Position
    station_probabilities: tuple[tuple[str, float], ...]
    sigma_db: float
    """Posterior mean of the measurement spread: what the levels say about their own scatter."""


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


class _Likelihood:
    """log p(levels, silences | position, P, sigma) on arrays, with the robust mixture loss."""

    def __init__(self, e: np.ndarray, lim: np.ndarray, config: LocaliserConfig,
                 spread: SpreadPrior | None = None) -> None:
        self.e, self.lim = e.astype(np.float32), lim.astype(np.float32)
        if spread is None:  # the config's mixture, uniform in log: the data weigh it
            self.sig = config.sigmas()
            self.log_w = np.full(len(self.sig), -math.log(len(self.sig)))
        else:
            self.sig, self.log_w = spread.grid(max(config.n_sigma, 3))
        self.nu = config.robust_nu
        self.log_miss = math.log(config.miss_probability) if config.miss_probability > 0 else -math.inf
        self.log_hit = math.log1p(-config.miss_probability)
        lo, hi = config.erp_range_dbw
        self.p_grid = np.arange(lo - 6.0, hi + 6.0 + 1e-9, config.erp_step_db)
        p0 = 0.5 * (lo + hi)
        self.p_logprior_diffuse = -0.5 * ((self.p_grid - p0) / config.erp_prior_sigma_db) ** 2
        self.p_logprior_diffuse -= logsumexp(self.p_logprior_diffuse)
        # The position posterior's e.r.p. prior: the emitter's service's when known (same grid).
        self.p_logprior_region = self.p_logprior_diffuse
        if config.service_erp is not None:
            s_lo, s_hi, s_sd = config.service_erp
            lp = -0.5 * ((self.p_grid - 0.5 * (s_lo + s_hi)) / s_sd) ** 2
            self.p_logprior_region = lp - logsumexp(lp)
        nu = self.nu
        self.t_norm = (math.lgamma((nu + 1) / 2) - math.lgamma(nu / 2) - 0.5 * math.log(nu * math.pi)
                       if math.isfinite(nu) else -_LOG_2PI_HALF)

    def log_lik(self, g_heard: np.ndarray, g_silent: np.ndarray, p_logprior: np.ndarray,
                p_grid: np.ndarray | None = None) -> np.ndarray:
        """(n_sigma, N) log-likelihood with P summed out under ``p_logprior`` (:meth:`log_lik_priors`)."""
        return self.log_lik_priors(g_heard, g_silent, (p_logprior,), p_grid)[0]

    def log_lik_priors(self, g_heard: np.ndarray, g_silent: np.ndarray, p_logpriors: Sequence[np.ndarray],
                       p_grid: np.ndarray | None = None) -> list[np.ndarray]:
        """One (n_sigma, N) log-likelihood per e.r.p. prior, P summed out, times each spread's prior weight;
        g_* are (N, S) and (N, Q) 0 dBW fields.

        Heard: Student-t with ``robust_nu`` degrees of freedom (a Cauchy-like tail: a sensor 4 sigma
        off costs ~ 2 log(r), not r^2 / 2). Silent: log Phi((limit - level) / sigma). ``p_grid``: the
        e.r.p. values summed over (default: an unknown emitter's plausible range) with each of ``p_logpriors``.
        """
        p_grid = self.p_grid if p_grid is None else p_grid
        outs = [np.empty((len(self.sig), g_heard.shape[0])) for _ in p_logpriors]
        pg = p_grid.astype(np.float32)[None, None, :]
        base = (self.e[None, :, None] - g_heard.astype(np.float32)[:, :, None]) - pg  # (N, S, P)
        sil = None
        if g_silent.shape[1]:
            # A silent sensor whose limit is 5 spreads above the strongest level any cell and e.r.p. would
            # give it contributes log Phi(>= 5) ~ 0 everywhere: leave it out (most far sensors).
            z_min = (self.lim - g_silent.max(axis=0) - float(p_grid[-1])) / float(self.sig.min())
            keep = z_min < 5.0
            if np.any(keep):
                sil = (self.lim[keep][None, :, None] - g_silent[:, keep].astype(np.float32)[:, :, None]) - pg
        nu = self.nu
        # The t's scale is set so that its standard deviation is sigma (the spread), when it has one.
        t_scale = math.sqrt((nu - 2.0) / nu) if math.isfinite(nu) and nu > 2.0 else 1.0
        for i, s in enumerate(self.sig):
            r2 = np.square(base / np.float32(s * t_scale))
            if math.isfinite(nu):
                core = np.log1p(r2 / np.float32(nu)).sum(axis=1) * np.float32(-(nu + 1) / 2)
            else:
                core = r2.sum(axis=1) * np.float32(-0.5)
            ll = core.astype(np.float64) + len(self.e) * (self.t_norm - math.log(s * t_scale))  # (N, P)
            if sil is not None:
                z = sil / np.float32(s)
                near = z < 5.0  # log Phi(z) is ~0 above 5 spreads: compute it only where it is not
                term = np.zeros(z.shape, dtype=np.float64)
                # A sensor misses an emission now and then whatever its level (sweep timing, a burst
                # between dwells, local interference): silence costs at most log(miss_probability).
                term[near] = np.logaddexp(self.log_miss, self.log_hit + log_ndtr(z[near].astype(np.float64)))
                ll = ll + term.sum(axis=1)
            for out, p_logprior in zip(outs, p_logpriors, strict=True):  # one pass, several e.r.p. priors
                out[i] = logsumexp(ll + p_logprior[None, :], axis=1) + self.log_w[i]
        return outs


def _station_logprior(h: StationHypothesis, p_grid: np.ndarray, step: float) -> np.ndarray:
    lic = np.exp(-0.5 * ((p_grid - h.erp_dbw) / h.erp_sigma_db) ** 2) / (h.erp_sigma_db * math.sqrt(2 * math.pi))
    fault = ((p_grid >= h.erp_dbw - FAULT_BELOW_DB) & (p_grid <= h.erp_dbw + FAULT_ABOVE_DB)) / (
        FAULT_BELOW_DB + FAULT_ABOVE_DB)
    w = ((1.0 - h.fault_share) * lic + h.fault_share * fault) * step
    return np.log(np.maximum(w, 1e-300))


# ---------------------------------------------------------------------- estimator


def localise(
    observations: Sequence[LevelObservation],
    model: FieldModel | None = None,
    *,
    config: LocaliserConfig = LocaliserConfig(),
    province_lookup: ProvinceLookup | None = None,
    silent: Sequence[SilentObservation] = (),
) -> Position:
    """Estimate the emitter position (and its 95 % region and province probabilities) from levels.

    Raises LocalisationError for no observations or non-finite values. The returned
    :class:`Position` has ``kind`` ellipse (>= 3 sensors), region (fewer, or one with silent
    neighbours) or annulus (one sensor, nothing else known).
    """
    return locate(observations, model, config=config, province_lookup=province_lookup, silent=silent).position


def locate(
    observations: Sequence[LevelObservation],
    model: FieldModel | None = None,
    *,
    config: LocaliserConfig = LocaliserConfig(),
    province_lookup: ProvinceLookup | None = None,
    silent: Sequence[SilentObservation] = (),
    stations: Sequence[StationHypothesis] = (),
    spread: SpreadPrior | None = None,
) -> Fix:
    """:func:`localise` plus the posterior probability of each licensed-station hypothesis.

    The position returned is that of the emitter *not* assumed to be any of the stations (the
    engine reports the station's own position when it decides a station is the emitter). ``spread``:
    the network's learnt spread, in place of the config's spread mixture (for the unknown emitter widened
    by ``config.unknown_law_db``; a station hypothesis, whose law is its own, takes it as it is).
    """
    obs = list(observations)
    if not obs:
        raise LocalisationError("localise: no observations")
    for i, o in enumerate(obs):
        if not all(math.isfinite(v) for v in (o.lat, o.lon, o.field_dbuv_m)):
            raise LocalisationError(f"localise: observation {i} ({o.sensor_id!r}) has a non-finite value")
    sil = list(silent)
    for i, q in enumerate(sil):
        if not all(math.isfinite(v) for v in (q.lat, q.lon, q.limit_dbuv_m)):
            raise LocalisationError(f"localise: silent sensor {i} ({q.sensor_id!r}) has a non-finite value")
    for h in stations:
        if len(h.g_heard_db) != len(obs) or len(h.g_silent_db) != len(sil):
            raise LocalisationError(f"localise: station hypothesis {h.key!r} has {len(h.g_heard_db)}/"
                                    f"{len(h.g_silent_db)} fields for {len(obs)} heard / {len(sil)} silent sensors")
    model = model or log_distance_model()
    table = _Table(model, config.max_range_km)
    lat = np.array([o.lat for o in obs])
    lon = np.array([o.lon for o in obs])
    e = np.array([o.field_dbuv_m for o in obs])
    frame = _Frame(float(lat.mean()), float(lon.mean()))
    sx, sy = frame.to_xy(lat, lon)
    qx, qy = frame.to_xy(np.array([q.lat for q in sil]), np.array([q.lon for q in sil]))
    lim = np.array([q.limit_dbuv_m for q in sil])
    rng = np.random.default_rng(config.seed)
    # A learnt spread was measured on licensed stations fitted with their own heights' law; the unknown
    # emitter is fitted with the generic one, which misses its real height link by link: widen it for that
    # hypothesis only (a station hypothesis below carries its own law).
    like = _Likelihood(e, lim, config, None if spread is None else spread.widened(config.unknown_law_db))
    like_station = like if spread is None or config.unknown_law_db <= 0.0 else _Likelihood(e, lim, config, spread)

    priors = (like.p_logprior_region, like.p_logprior_diffuse)

    def loglik_at(px: np.ndarray, py: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The position posterior's log-likelihood (the service's e.r.p. prior) and the general prior's (the
        alternative a licensed station is weighed against); one array twice when they are the same."""
        gh = table.value(np.hypot(px[:, None] - sx[None, :], py[:, None] - sy[None, :]))
        gs = table.value(np.hypot(px[:, None] - qx[None, :], py[:, None] - qy[None, :]))
        if priors[0] is priors[1]:
            one = like.log_lik(gh, gs, priors[0])
            return one, one
        region, general = like.log_lik_priors(gh, gs, priors)
        return region, general

    # Level 0: the area every heard sensor could hear a plausible emitter from (their union if the
    # discs do not intersect), with twice the middle spread as slack. Then finer grids, each over a
    # few cells of the previous one around its densest cell, replace those cells (nested quadrature:
    # a sharp peak is integrated at its own scale, the tails at theirs).
    slack = 2.0 * float(np.median(like.sig))
    r_max = np.minimum(table.distance_for(e - (config.erp_range_dbw[1] + 6.0) - slack), config.max_range_km)
    box = _box(sx, sy, r_max)
    px, py, cell = _cells(box, config.grid_n)
    ll, ll_general = loglik_at(px, py)
    cw, chh = np.full(len(px), cell[0]), np.full(len(px), cell[1])
    area0 = (box[1] - box[0]) * (box[3] - box[2])
    n_fine = max(9, config.grid_n // 2)
    for _ in range(config.refine_levels):
        k = int(np.argmax(logsumexp(ll, axis=0)))  # densest cell
        fbox = (px[k] - 4.5 * cw[k], px[k] + 4.5 * cw[k], py[k] - 4.5 * chh[k], py[k] + 4.5 * chh[k])
        if 9.0 * cw[k] < 0.05 or 9.0 * chh[k] < 0.05:  # 50 m: finer than any level-based fix
            break
        fx, fy, fcell = _cells(fbox, n_fine)
        inside = (px > fbox[0]) & (px < fbox[1]) & (py > fbox[2]) & (py < fbox[3])
        px, py = np.concatenate([px[~inside], fx]), np.concatenate([py[~inside], fy])
        f_region, f_general = loglik_at(fx, fy)
        ll = np.concatenate([ll[:, ~inside], f_region], axis=1)
        ll_general = np.concatenate([ll_general[:, ~inside], f_general], axis=1)
        cw = np.concatenate([cw[~inside], np.full(len(fx), fcell[0])])
        chh = np.concatenate([chh[~inside], np.full(len(fx), fcell[1])])
    cell_xy = np.stack([cw, chh], axis=1)
    log_area = np.log(cw * chh)
    lp = logsumexp(ll, axis=0) + log_area  # log posterior mass of each cell
    # Evidence of "somewhere in the area" (uniform position prior over the level-0 box).
    log_ev_diffuse = float(logsumexp(logsumexp(ll_general, axis=0) + log_area)) - math.log(area0)
    w = np.exp(lp - lp.max())
    w /= w.sum()
    sig_post = np.exp(logsumexp(ll + log_area[None, :], axis=1) - logsumexp(ll + log_area[None, :]))
    sigma_hat = float(np.sum(sig_post * like.sig))

    # Licensed-station hypotheses against the diffuse alternative.
    station_probs: tuple[tuple[str, float], ...] = ()
    if stations:
        step = float(like.p_grid[1] - like.p_grid[0]) if len(like.p_grid) > 1 else 1.0
        logs = []
        # The station's licensed position, blurred by ``station_blur_km``: a path's real median differs
        # from the model's by several dB, so the levels' best centre sits a few km off even a correctly
        # placed station. Points on two rings about it, the station's own distance law corrected by
        # how the generic law changes with the displacement.
        ox, oy, ow = _blur_points(config.station_blur_km)
        for h in stations:
            hx, hy = frame.to_xy(np.array([h.lat]), np.array([h.lon]))
            d0h = np.hypot(hx[0] - sx, hy[0] - sy)
            d0s = np.hypot(hx[0] - qx, hy[0] - qy)
            ptx, pty = hx[0] + ox, hy[0] + oy
            dh = np.hypot(ptx[:, None] - sx[None, :], pty[:, None] - sy[None, :])
            ds = np.hypot(ptx[:, None] - qx[None, :], pty[:, None] - qy[None, :])
            gh = np.asarray(h.g_heard_db, dtype=float)[None, :] + table.value(dh) - table.value(d0h)[None, :]
            gs = (np.asarray(h.g_silent_db, dtype=float).reshape(1, len(sil)) + table.value(ds)
                  - table.value(d0s)[None, :])
            hp = h.erp_grid_dbw(step)
            lls = like_station.log_lik(gh, gs, _station_logprior(h, hp, step), hp)  # (n_sigma, points)
            logs.append(float(logsumexp(lls + np.log(ow)[None, :])))
        prior_each = config.licensed_prior / len(stations)
        terms = np.array([math.log(1.0 - config.licensed_prior) + log_ev_diffuse,
                          *[math.log(prior_each) + v for v in logs]])
        post = np.exp(terms - logsumexp(terms))
        station_probs = tuple((h.key, float(p)) for h, p in zip(stations, post[1:], strict=True))

    n = len(obs)
    if n == 1 and not sil:
        position = _annulus(obs[0], sx[0], sy[0], px, py, w, cell_xy, config, frame, province_lookup, rng)
        return Fix(position, station_probs, sigma_hat)
    if n >= 3:
        best = int(np.argmax(lp - log_area))  # densest cell (lp is the cell's mass)
        centre, erp = _polish(np.array([px[best], py[best]]), sx, sy, e, qx, qy, lim, table, config, sigma_hat)
        if not np.all(np.isfinite(centre)):
            centre = np.array([px[best], py[best]])
    else:
        centre = np.array([np.sum(w * px), np.sum(w * py)])
        erp = None
    if erp is None:
        erp = _erp_at(centre, sx, sy, e, table, config)
    dxy = np.stack([px - centre[0], py - centre[1]], axis=1)
    cov = (dxy * w[:, None]).T @ dxy + np.diag(w @ cell_xy**2 / 12.0)
    cov = _calibrate(cov, dxy, w)
    # Posterior samples (cells drawn by weight, jittered inside the cell) for the provinces.
    idx = rng.choice(len(w), size=config.n_samples, p=w)
    inner = np.stack([px[idx], py[idx]], axis=1) + (rng.random((config.n_samples, 2)) - 0.5) * cell_xy[idx]
    edge = _ellipse_edge(centre, cov, math.sqrt(CHI2_2DOF_95), config.n_edge)
    a, b, az = _ellipse(cov)
    plat, plon = frame.to_latlon(centre[0], centre[1])
    position = Position(
        lat=float(plat), lon=float(plon), error_km=math.sqrt(CHI2_2DOF_95) * a, semi_major_km=a, semi_minor_km=b,
        orientation_deg=az, provinces=_province_probabilities(province_lookup, frame, inner, edge),
        kind="ellipse" if n >= 3 else "region", n_sensors=n, eirp_dbw=float(erp),
    )
    return Fix(position, station_probs, sigma_hat)


def misfit(
    observations: Sequence[LevelObservation],
    model: FieldModel,
    *,
    sigma_db: float,
    config: LocaliserConfig = LocaliserConfig(),
    silent: Sequence[SilentObservation] = (),
) -> float:
    """Smallest chi-square (Gaussian, spread ``sigma_db``) with which ONE emitter explains the levels.

    Used to decide whether two groups of sensors hear one emitter or two: the likelihood-ratio test
    compares the misfit of the union with the sum of the groups' misfits. Silences count as
    one-sided terms (-2 log Phi). The e.r.p. is limited to the plausible range (+-6 dB): two far
    groups that only a transmitter far stronger than plausible could join stay apart.
    """
    obs = list(observations)
    if not obs:
        return 0.0
    table = _Table(model, config.max_range_km)
    lat = np.array([o.lat for o in obs])
    lon = np.array([o.lon for o in obs])
    e = np.array([o.field_dbuv_m for o in obs])
    frame = _Frame(float(lat.mean()), float(lon.mean()))
    sx, sy = frame.to_xy(lat, lon)
    qx, qy = frame.to_xy(np.array([q.lat for q in silent]), np.array([q.lon for q in silent]))
    lim = np.array([q.limit_dbuv_m for q in silent])
    lo, hi = config.erp_range_dbw
    p_grid = np.arange(lo - 6.0, hi + 6.0 + 1e-9, 2.0)
    r_max = np.minimum(table.distance_for(e - (hi + 6.0) - 2.0 * sigma_db), config.max_range_km)
    box = _box(sx, sy, r_max)
    best = math.inf
    for _ in range(2):
        px, py, cell = _grid(box, config.grid_n)
        gh = table.value(np.hypot(px[:, None] - sx[None, :], py[:, None] - sy[None, :]))
        r = (e[None, :, None] - gh[:, :, None] - p_grid[None, None, :]) / sigma_db
        chi = np.sum(r * r, axis=1)
        if len(silent):
            gs = table.value(np.hypot(px[:, None] - qx[None, :], py[:, None] - qy[None, :]))
            z = (lim[None, :, None] - gs[:, :, None] - p_grid[None, None, :]) / sigma_db
            chi = chi - 2.0 * np.sum(log_ndtr(z), axis=1)
        k = int(np.argmin(chi))
        best = min(best, float(chi.ravel()[k]))
        node = k // len(p_grid)
        box = (px[node] - 3 * cell[0], px[node] + 3 * cell[0], py[node] - 3 * cell[1], py[node] + 3 * cell[1])
    return best


def log_likelihood_at(
    points_latlon: Sequence[tuple[float, float]],
    observations: Sequence[LevelObservation],
    model: FieldModel,
    *,
    config: LocaliserConfig = LocaliserConfig(),
    silent: Sequence[SilentObservation] = (),
) -> np.ndarray:
    """log p(levels, silences | emitter at each point), with the e.r.p. and the spread summed over as in
    :func:`locate` (same robust loss, silence terms, e.r.p. prior and spreads, uniform in log).

    Why: a position from another method (a TDOA fix) is checked against what the levels say of that
    very place, not against the Gaussian summary of their region (a banana or a tail is not an ellipse);
    the spread is summed over, not fixed at its estimate, so a place the levels fit only with a larger
    spread is less likely, not excluded.
    """
    obs = list(observations)
    if not obs or not points_latlon:
        return np.zeros(len(points_latlon))
    table = _Table(model, config.max_range_km)
    frame = _Frame(float(np.mean([o.lat for o in obs])), float(np.mean([o.lon for o in obs])))
    sx, sy = frame.to_xy(np.array([o.lat for o in obs]), np.array([o.lon for o in obs]))
    qx, qy = frame.to_xy(np.array([q.lat for q in silent]), np.array([q.lon for q in silent]))
    px, py = frame.to_xy(np.array([p[0] for p in points_latlon]), np.array([p[1] for p in points_latlon]))
    like = _Likelihood(np.array([o.field_dbuv_m for o in obs]), np.array([q.limit_dbuv_m for q in silent]), config)
    gh = table.value(np.hypot(px[:, None] - sx[None, :], py[:, None] - sy[None, :]))
    gs = table.value(np.hypot(px[:, None] - qx[None, :], py[:, None] - qy[None, :]))
    return np.asarray(logsumexp(like.log_lik(gh, gs, like.p_logprior_diffuse), axis=0) - math.log(len(like.sig)))


def station_misfit(
    observations: Sequence[LevelObservation],
    station: StationHypothesis,
    *,
    sigma_db: float,
    silent: Sequence[SilentObservation] = (),
) -> float:
    """Smallest chi-square (Gaussian, spread ``sigma_db``) with which the licensed ``station`` explains the
    levels and silences: at its licensed position, with its own distance law, its e.r.p. anywhere in
    its fault range (licence - 10 .. + 25 dB).

    The companion of :func:`misfit` for the one-emitter test: a boosted broadcaster heard across the
    network is one emitter although no unknown emitter of plausible e.r.p. explains all its levels.
    """
    p = station.erp_grid_dbw(1.0)[6:-6]  # no slack: the fault range itself
    return float(np.min(_station_chi2(observations, station, p, sigma_db, silent)))


def station_erp_dbw(
    observations: Sequence[LevelObservation],
    station: StationHypothesis,
    *,
    sigma_db: float,
    silent: Sequence[SilentObservation] = (),
) -> float:
    """The e.r.p. (dBW) at which the licensed ``station`` best explains the levels and the silences.

    A censored (Tobit) fit: sensors hear a station only when their level clears their detection limit,
    so the heard levels of far sensors are the lucky ones (a median of heard minus predicted reads a
    station within licence as several dB boosted); the sensors that swept the channel and heard
    nothing hold the estimate down. Searched over the station's fault range with 6 dB slack.
    """
    p = station.erp_grid_dbw(0.25)
    chi = _station_chi2(observations, station, p, sigma_db, silent)
    return float(p[int(np.argmin(chi))])


def _station_chi2(observations: Sequence[LevelObservation], station: StationHypothesis, p: np.ndarray,
                  sigma_db: float, silent: Sequence[SilentObservation]) -> np.ndarray:
    """-2 log-likelihood (Gaussian heard levels, one-sided silences) of the station at each e.r.p. ``p``."""
    e = np.array([o.field_dbuv_m for o in observations], dtype=float)
    gh = np.asarray(station.g_heard_db, dtype=float)
    if len(gh) != len(e) or len(station.g_silent_db) != len(silent):
        raise LocalisationError(f"station fit: hypothesis {station.key!r} has {len(gh)}/{len(station.g_silent_db)} "
                                f"fields for {len(e)} heard / {len(silent)} silent sensors")
    r = (e[:, None] - gh[:, None] - p[None, :]) / sigma_db
    chi = np.sum(r * r, axis=0)
    if len(silent):
        lim = np.array([q.limit_dbuv_m for q in silent], dtype=float)
        z = (lim[:, None] - np.asarray(station.g_silent_db, dtype=float)[:, None] - p[None, :]) / sigma_db
        chi = chi - 2.0 * np.sum(log_ndtr(z), axis=0)
    return chi


# ---------------------------------------------------------------------- pieces


def _box(sx: np.ndarray, sy: np.ndarray, r_max: np.ndarray) -> tuple[float, float, float, float]:
    """Intersection of the sensors' hearing discs (their union if they do not intersect)."""
    x_lo, x_hi = float(np.max(sx - r_max)), float(np.min(sx + r_max))
    y_lo, y_hi = float(np.max(sy - r_max)), float(np.min(sy + r_max))
    if x_lo >= x_hi or y_lo >= y_hi:
        x_lo, x_hi = float(np.min(sx - r_max)), float(np.max(sx + r_max))
        y_lo, y_hi = float(np.min(sy - r_max)), float(np.max(sy + r_max))
    return _min_size((x_lo, x_hi, y_lo, y_hi), 2.0)


def _min_size(box: tuple[float, float, float, float], km: float) -> tuple[float, float, float, float]:
    x_lo, x_hi, y_lo, y_hi = box
    if x_hi - x_lo < km:
        c = 0.5 * (x_lo + x_hi)
        x_lo, x_hi = c - km / 2.0, c + km / 2.0
    if y_hi - y_lo < km:
        c = 0.5 * (y_lo + y_hi)
        y_lo, y_hi = c - km / 2.0, c + km / 2.0
    return x_lo, x_hi, y_lo, y_hi


def _blur_points(blur_km: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Offsets (km) and weights approximating a 2-D Gaussian of ``blur_km``: the centre and two rings."""
    if blur_km <= 0.0:
        return np.zeros(1), np.zeros(1), np.ones(1)
    th6 = np.linspace(0.0, 2.0 * math.pi, 6, endpoint=False)
    th12 = np.linspace(0.0, 2.0 * math.pi, 12, endpoint=False) + math.pi / 12.0
    r1, r2 = blur_km, 2.0 * blur_km
    ox = np.concatenate([[0.0], r1 * np.sin(th6), r2 * np.sin(th12)])
    oy = np.concatenate([[0.0], r1 * np.cos(th6), r2 * np.cos(th12)])
    # Ring weights: mass of a 2-D Gaussian within 0-0.5, 0.5-1.5, 1.5-2.5 sigma.
    m = [1 - math.exp(-0.125), math.exp(-0.125) - math.exp(-1.125), math.exp(-1.125) - math.exp(-3.125)]
    w = np.concatenate([[m[0]], np.full(6, m[1] / 6), np.full(12, m[2] / 12)])
    return ox, oy, w / w.sum()


def _cells(box: tuple[float, float, float, float], n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centres of an n x n tiling of ``box`` and the cell size (km)."""
    cx = (box[1] - box[0]) / n
    cy = (box[3] - box[2]) / n
    xx, yy = np.meshgrid(box[0] + (np.arange(n) + 0.5) * cx, box[2] + (np.arange(n) + 0.5) * cy)
    return xx.ravel(), yy.ravel(), np.array([cx, cy])


def _grid(box: tuple[float, float, float, float], n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    gx = np.linspace(box[0], box[1], n)
    gy = np.linspace(box[2], box[3], n)
    xx, yy = np.meshgrid(gx, gy)
    return xx.ravel(), yy.ravel(), np.array([gx[1] - gx[0], gy[1] - gy[0]])


def _calibrate(cov: np.ndarray, dxy: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Scale ``cov`` so that its 95 % ellipse holds 95 % of the posterior mass (weights ``w``)."""
    inv = np.linalg.pinv(cov)
    m2 = np.einsum("ij,jk,ik->i", dxy, inv, dxy)
    order = np.argsort(m2)
    cum = np.cumsum(w[order])
    q = float(m2[order][min(int(np.searchsorted(cum, 0.95)), len(order) - 1)])
    if not math.isfinite(q) or q <= 0.0:
        return cov
    return cov * max(q / CHI2_2DOF_95, 0.05)


def _erp_at(centre: np.ndarray, sx: np.ndarray, sy: np.ndarray, e: np.ndarray, table: _Table,
            config: LocaliserConfig) -> float:
    g = table.value(np.hypot(centre[0] - sx, centre[1] - sy))
    lo, hi, _ = config.region_erp()
    return float(np.clip(np.median(e - g), lo - 6.0, hi + 6.0))


def _polish(
    start: np.ndarray, sx: np.ndarray, sy: np.ndarray, e: np.ndarray, qx: np.ndarray, qy: np.ndarray,
    lim: np.ndarray, table: _Table, config: LocaliserConfig, sigma: float,
) -> tuple[np.ndarray, float]:
    """Iteratively reweighted, damped Gauss-Newton on (x, y, P) from the grid's best cell: the maximum
    of the same Student-t likelihood the grid uses.

    Heard sensors: residual E - P - g(d), weight (nu + 1) / (nu + (r / s)^2) with s the t's scale for
    the estimated spread (a sensor far off the others gets little say). Silent sensors:
    a one-sided residual, only where the fit would put the emitter above their detection limit.
    The e.r.p. prior is one more residual. Returns the position (km) and the e.r.p. (dBW).
    """
    lo, hi, prior_sd = config.region_erp()
    p0 = 0.5 * (lo + hi)
    prior_w = sigma / prior_sd
    theta = np.array([start[0], start[1], _erp_at(start, sx, sy, e, table, config)])

    def residuals(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        d = np.hypot(t[0] - sx, t[1] - sy)
        r = e - t[2] - table.value(d)
        dq = np.hypot(t[0] - qx, t[1] - qy)
        rq = np.minimum(lim - t[2] - table.value(dq), 0.0)
        return r, rq

    nu = config.robust_nu
    scale = sigma * (math.sqrt((nu - 2.0) / nu) if math.isfinite(nu) and nu > 2.0 else 1.0)

    def weights(r: np.ndarray) -> np.ndarray:
        if not math.isfinite(nu):
            return np.ones_like(r)
        return np.sqrt((nu + 1.0) / (nu + (r / scale) ** 2))

    def cost(t: np.ndarray, sw: np.ndarray) -> tuple[float, np.ndarray]:
        r, rq = residuals(t)
        full = np.concatenate([r * sw, rq, [prior_w * (p0 - t[2])]])
        return float(full @ full), full

    def jacobian(t: np.ndarray, sw: np.ndarray) -> np.ndarray:
        dx, dy = t[0] - sx, t[1] - sy
        d = np.maximum(np.hypot(dx, dy), 1e-2)
        gp = table.derivative(d)
        jh = np.stack([-gp * dx / d, -gp * dy / d, -np.ones_like(d)], axis=1) * sw[:, None]
        dqx, dqy = t[0] - qx, t[1] - qy
        dq = np.maximum(np.hypot(dqx, dqy), 1e-2)
        active = (lim - t[2] - table.value(dq)) < 0.0
        gq = table.derivative(dq)
        jq = np.stack([-gq * dqx / dq, -gq * dqy / dq, -np.ones_like(dq)], axis=1) * active[:, None]
        return np.vstack([jh, jq, [0.0, 0.0, -prior_w]])

    for _ in range(3):  # IRLS: reweight, then a damped Gauss-Newton run
        sw = weights(residuals(theta)[0])
        c, r = cost(theta, sw)
        lam = 1e-3
        for _ in range(config.gauss_newton_iters):
            J = jacobian(theta, sw)
            A = J.T @ J
            try:
                step = np.linalg.solve(A + lam * np.diag(np.diag(A) + 1e-9), -J.T @ r)
            except np.linalg.LinAlgError:  # degenerate geometry (co-located sensors): keep the grid answer
                break
            cand = theta + step
            c_new, r_new = cost(cand, sw)
            if c_new < c:
                done = c - c_new < 1e-10 * max(c, 1.0) and math.hypot(step[0], step[1]) < 1e-4
                theta, c, r, lam = cand, c_new, r_new, max(lam / 10.0, 1e-9)
                if done:
                    break
            else:
                lam *= 10.0
                if lam > 1e9:
                    break
    return theta[:2], float(theta[2])


def _annulus(
    o: LevelObservation, sx: float, sy: float, px: np.ndarray, py: np.ndarray, w: np.ndarray, cell_xy: np.ndarray,
    config: LocaliserConfig, frame: _Frame, lookup: ProvinceLookup | None, rng: np.random.Generator,
) -> Position:
    """One sensor, nothing else known: the ring around it holding 95 % of the posterior."""
    idx = rng.choice(len(w), size=config.n_samples, p=w)
    inner = np.stack([px[idx], py[idx]], axis=1) + (rng.random((config.n_samples, 2)) - 0.5) * cell_xy[idx]
    d = np.hypot(inner[:, 0] - sx, inner[:, 1] - sy)
    r_in, r_out = (float(v) for v in np.quantile(d, [0.025, 0.975]))
    te = np.linspace(0.0, 2.0 * math.pi, config.n_edge, endpoint=False)
    edge = np.stack([sx + r_out * np.sin(te), sy + r_out * np.cos(te)], axis=1)
    return Position(
        lat=o.lat, lon=o.lon, error_km=r_out, semi_major_km=r_out, semi_minor_km=r_out, orientation_deg=0.0,
        provinces=_province_probabilities(lookup, frame, inner, edge), kind="annulus", n_sensors=1,
        r_inner_km=r_in, r_outer_km=r_out,
    )
