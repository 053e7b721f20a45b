"""A simulated world that does not flatter the rules engine: real paths, real receivers.

Why: the rules engine localises emitters and judges licences with the ITU-R P.1546 median over
land (50 % time, 50 % locations, rural receiver, effective height = the stated antenna height). A
simulator that propagated with exactly that law (plus a little noise) would only ever show the
engine's logic in a world made to agree with it. Real paths scatter around the P.1546 median by
several dB (its own location variability, P.1546 section 12), the median itself is wrong for a
given path (the terrain around the transmitter, obstacles near the receiver, clutter, water), and
real receivers are off in calibration by a few dB. :class:`RealisticWorld` puts all of that
between the transmitters and what the sensors report, deterministically (every draw is a hash of
the seed and the link's ids, so a scenario plays the same everywhere and a draw does not depend
on which links were asked for first).

The field at a sensor's antenna (``true_field_dbuv_m``) is

    min(free space over the slant path,
        P.1546(f, 50 % time, heff + dh_link, h2, receiver clutter R2_site, terrain clearance angle tca_link,
               land/water zones of the path) + erp + shadowing_db * z_link)

and what the sensor reports (``reported_field_dbuv_m``) adds its calibration error. With every
spread at 0 and no water mask (:meth:`RealisticWorld.ideal`), the median is exactly the engine's
law (``coordination.prediction.field_0dbw_dbuv_m``), which keeps the old ideal-world expectations
reproducible. The spreads and where they come from are in docs/scenario.md ("The simulated world").
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from coordination.propagation import p1546
from sdr.scenario import Scenario, SensorSite, Transmitter, WorldSettings
from sdr.sources.sim_link import (
    FreeSpaceModel,
    PropagationModel,
    antenna_gain_db,
    distance_km,
)

log = logging.getLogger(__name__)
_FREE_SPACE = FreeSpaceModel()

ENGINE_TIME_PCT = 50.0
"""What a sensor sees most of the time: the P.1546 median time (the engine's localisation model)."""
ENGINE_AREA = "Rural"
"""The engine's receiving-area type (coordination.prediction.AREA): R' = 10 m, no clutter loss."""
CLUTTER_AREA = "Suburban"
"""P.1546 section 9 with an explicit clutter height: the same equations as "Urban" for a given R2."""
F_RANGE_MHZ = (30.0, 4000.0)
"""P.1546 validity; frequencies outside are predicted at the nearest end (the engine does the same)."""
MIN_HEFF_M = 1.0
MIN_SEA_H1_M = 3.0
"""P.1546 section 3.3: h1 on a path with sea is at least 3 m (it would raise it, with a warning)."""
FLAT_CLEARANCE_DEG = 0.0
"""Terminal clearance angles of the engine's flat-terrain assumption (coordination.prediction): with
them P.1546's tropospheric-scatter floor (section 13) applies."""
TCA_REFERENCE_DEG = 0.55
"""P.1546 section 11: the correction is 0 at (and limited below to) this terrain clearance angle."""
WATER_SAMPLES = 24
"""Points along a path classified land / water (a 60 km path: one per 2.5 km)."""

WaterMask = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""(lats, lons) -> bool array, True where the point is on water (sea, estuary); injected by callers
that have geography (``sdr`` does not import ``station_db``)."""


def unit_normal(*parts: str) -> float:
    """A deterministic N(0, 1) draw from names (seed, kind, link ids): order- and thread-independent."""
    digest = hashlib.blake2b("|".join(parts).encode(), digest_size=16).digest()
    u1 = (int.from_bytes(digest[:8], "little") + 0.5) / 2.0**64
    u2 = (int.from_bytes(digest[8:], "little") + 0.5) / 2.0**64
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


def unit_uniform(*parts: str) -> float:
    """A deterministic U(0, 1) draw from names, like :func:`unit_normal`."""
    digest = hashlib.blake2b("|".join(parts).encode(), digest_size=8).digest()
    return (int.from_bytes(digest, "little") + 0.5) / 2.0**64


@dataclass(frozen=True)
class LinkTruth:
    """The hidden parameters of one (transmitter, sensor) path, for tests and for explaining a result."""

    heff_m: float
    tca_deg: float
    rx_clutter_m: float | None
    water_fraction: float
    median_0dbw_dbuv_m: float
    engine_0dbw_dbuv_m: float

    @property
    def model_error_db(self) -> float:
        """How far the path's real median is from the engine's law (negative: weaker than predicted)."""
        return self.median_0dbw_dbuv_m - self.engine_0dbw_dbuv_m


@dataclass(frozen=True)
class RealisticWorld:
    """Propagation and receiver truth of a simulated world; see the module docstring.

    Spreads (all seeded, documented with their sources in docs/scenario.md):

    - ``shadowing_db``: standard deviation of the log-normal location variability per link;
    - ``heff_sigma_m``: per-link error of the transmitter's effective height (P.1546 heff is the
      height above the average terrain 3-15 km towards the receiver, which the engine does not know);
    - ``tca_sigma_deg``: per-link terrain clearance angle at the receiver, half-normal; only angles
      above 0.55 degrees give a (diffraction) loss, as in P.1546 section 11;
    - ``rx_clutter_min_m`` / ``rx_clutter_max_m``: per-sensor representative clutter height around
      the receiving antenna, uniform (P.1546 section 9; None/None = the engine's rural 10 m);
    - ``calibration_sigma_db``: per-sensor calibration error (true antenna factor and gain versus the
      configured ones) for sensors whose ``calibration_error_db`` is not stated;
    - ``water_mask``: paths over water (estuary, sea) get P.1546's mixed land/sea method.

    ``field_strength_dbuv_m`` makes it a simulator ``PropagationModel``. Medians are cached per
    link (the cache is shared by :meth:`with_shadowing` copies, whose median is the same).
    """

    shadowing_db: float = 6.0
    heff_sigma_m: float = 25.0
    tca_sigma_deg: float = 0.5
    rx_clutter_min_m: float | None = 5.0
    rx_clutter_max_m: float | None = 15.0
    calibration_sigma_db: float = 2.0
    seed: int = 0
    time_pct: float = ENGINE_TIME_PCT
    water_mask: WaterMask | None = field(default=None, compare=False)
    _cache: dict[tuple[object, ...], LinkTruth] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        for name in ("shadowing_db", "heff_sigma_m", "tca_sigma_deg", "calibration_sigma_db"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v >= 0):
                raise ValueError(f"RealisticWorld: {name} must be a finite number >= 0, got {v!r}")
        lo, hi = self.rx_clutter_min_m, self.rx_clutter_max_m
        if (lo is None) != (hi is None):
            raise ValueError("RealisticWorld: give both rx_clutter_min_m and rx_clutter_max_m, or neither")
        if lo is not None and hi is not None and not 0 < lo <= hi <= 100:
            raise ValueError(f"RealisticWorld: rx clutter range must satisfy 0 < min <= max <= 100 m, got {lo}..{hi}")
        if not 1.0 <= self.time_pct <= 50.0:
            raise ValueError(f"RealisticWorld: time_pct must be within 1..50, got {self.time_pct!r}")

    # -- construction ------------------------------------------------------------------------
    @classmethod
    def ideal(cls, shadowing_db: float = 0.0, seed: int = 0) -> RealisticWorld:
        """The engine's own law exactly (no model error, no calibration error), plus optional shadowing."""
        return cls(shadowing_db=shadowing_db, heff_sigma_m=0.0, tca_sigma_deg=0.0, rx_clutter_min_m=None,
                   rx_clutter_max_m=None, calibration_sigma_db=0.0, seed=seed)

    @classmethod
    def from_settings(cls, settings: WorldSettings, seed: int, water_mask: WaterMask | None = None) -> RealisticWorld:
        """The world a scenario's ``[world]`` table describes (model "realistic" or "p1546").

        ``seed`` is the scenario's, used unless the table states its own; the water mask is used
        only when the table asks for ``water_paths``.
        """
        if settings.model not in ("realistic", "p1546"):
            raise ValueError(f"RealisticWorld models P.1546 worlds, not {settings.model!r}")
        lo, hi = settings.rx_clutter_m if settings.rx_clutter_m is not None else (None, None)
        return cls(shadowing_db=settings.shadowing_db, heff_sigma_m=settings.heff_sigma_m,
                   tca_sigma_deg=settings.tca_sigma_deg, rx_clutter_min_m=lo, rx_clutter_max_m=hi,
                   calibration_sigma_db=settings.calibration_sigma_db,
                   seed=settings.seed if settings.seed is not None else seed,
                   water_mask=water_mask if settings.water_paths else None)

    def with_shadowing(self, shadowing_db: float) -> RealisticWorld:
        """The same world (same paths, receivers and draws) at another shadowing level; shares the cache."""
        return RealisticWorld(shadowing_db, self.heff_sigma_m, self.tca_sigma_deg, self.rx_clutter_min_m,
                              self.rx_clutter_max_m, self.calibration_sigma_db, self.seed, self.time_pct,
                              self.water_mask, self._cache)

    # -- per-link and per-sensor draws ---------------------------------------------------------
    def _z(self, kind: str, *ids: str) -> float:
        return unit_normal(str(self.seed), kind, *ids)

    def shadowing_z(self, tx: Transmitter, site: SensorSite) -> float:
        """The link's N(0, 1) location-variability draw (the same at every shadowing level).

        Hashed from (seed, tx id, sensor id) alone, as the demo's first link model did, so the ideal
        world plays exactly the draws it always played.
        """
        return unit_normal(str(self.seed), tx.id, site.id)

    def shadowing(self, tx: Transmitter, site: SensorSite) -> float:
        """The location-variability term of this link (dB), fixed for the run."""
        return self.shadowing_db * self.shadowing_z(tx, site) if self.shadowing_db > 0 else 0.0

    def calibration_error_db(self, site: SensorSite) -> float:
        """The sensor's hidden bias: reported field minus true field (dB); stated in the site or drawn."""
        if site.calibration_error_db is not None:
            return float(site.calibration_error_db)
        if self.calibration_sigma_db <= 0:
            return 0.0
        return self.calibration_sigma_db * self._z("calibration", site.id)

    def rx_clutter_m(self, site: SensorSite) -> float | None:
        """Representative clutter height around the sensor's antenna (m), or None (engine's rural 10 m)."""
        if site.clutter_height_m is not None:
            return float(site.clutter_height_m)
        if self.rx_clutter_min_m is None or self.rx_clutter_max_m is None:
            return None
        u = unit_uniform(str(self.seed), "clutter", site.id)
        return self.rx_clutter_min_m + u * (self.rx_clutter_max_m - self.rx_clutter_min_m)

    def link(self, tx: Transmitter, site: SensorSite) -> LinkTruth:
        """The hidden parameters and the 0 dBW median field of a link (cached)."""
        key = (tx.id, tx.lat, tx.lon, tx.emitted_freq_hz, tx.antenna_height_m,
               site.id, site.lat, site.lon, site.height_m, site.clutter_height_m,
               self.seed, self.heff_sigma_m, self.tca_sigma_deg, self.rx_clutter_min_m, self.rx_clutter_max_m,
               self.time_pct, id(self.water_mask) if self.water_mask is not None else None)
        got = self._cache.get(key)
        if got is None:
            got = self._cache[key] = self._link(tx, site)
        return got

    def _link(self, tx: Transmitter, site: SensorSite) -> LinkTruth:
        d_km = max(distance_km(tx.lat, tx.lon, site.lat, site.lon), 1e-3)
        f_mhz = min(max(tx.emitted_freq_hz / 1e6, F_RANGE_MHZ[0]), F_RANGE_MHZ[1])
        h_nominal = max(tx.antenna_height_m, MIN_HEFF_M)
        h2 = max(site.height_m, 1.0)
        engine = _p1546_0dbw(f_mhz, self.time_pct, h_nominal, h2, None, ENGINE_AREA, [d_km], ["Land"], h_nominal,
                             None)
        heff = max(h_nominal + self.heff_sigma_m * self._z("heff", tx.id, site.id), MIN_HEFF_M)
        tca = abs(self.tca_sigma_deg * self._z("tca", tx.id, site.id))
        clutter = self.rx_clutter_m(site)
        zones, kinds = self._zones(tx, site, d_km)
        water = sum(z for z, k in zip(zones, kinds, strict=True) if k == "Sea") / d_km
        if water > 0:
            heff = max(heff, MIN_SEA_H1_M)
        if clutter is not None:
            # P.1546 eq. (27) keeps the modified clutter height R' >= 1 m (else it warns and raises it).
            clutter = max(clutter, 1.0 + 0.015 * heff / max(d_km, 1.0) + 0.01)
        median = _p1546_0dbw(f_mhz, self.time_pct, heff, h2, clutter,
                             ENGINE_AREA if clutter is None else CLUTTER_AREA, zones, kinds, h_nominal,
                             tca if tca > TCA_REFERENCE_DEG else None)
        return LinkTruth(heff_m=heff, tca_deg=tca, rx_clutter_m=clutter, water_fraction=water,
                         median_0dbw_dbuv_m=median, engine_0dbw_dbuv_m=engine)

    def _zones(self, tx: Transmitter, site: SensorSite, d_km: float) -> tuple[list[float], list[str]]:
        """The path as land / sea zones from the transmitter (one land zone without a water mask)."""
        if self.water_mask is None:
            return [d_km], ["Land"]
        frac = (np.arange(WATER_SAMPLES) + 0.5) / WATER_SAMPLES
        lats = tx.lat + frac * (site.lat - tx.lat)
        lons = tx.lon + frac * (site.lon - tx.lon)
        wet = np.asarray(self.water_mask(lats, lons), dtype=bool)
        seg = d_km / WATER_SAMPLES
        zones: list[float] = []
        kinds: list[str] = []
        for w in wet:
            kind = "Sea" if w else "Land"
            if kinds and kinds[-1] == kind:
                zones[-1] += seg
            else:
                zones.append(seg)
                kinds.append(kind)
        return zones, kinds

    # -- fields --------------------------------------------------------------------------------
    def median_field_dbuv_m(self, tx: Transmitter, site: SensorSite) -> float:
        """The path's real median (model error included, shadowing not) for the transmitter's e.r.p. towards
        the sensor (its antenna's gain that way)."""
        return tx.effective_erp_dbw + antenna_gain_db(tx, site) + self.link(tx, site).median_0dbw_dbuv_m

    def engine_field_dbuv_m(self, tx: Transmitter, site: SensorSite) -> float:
        """What the engine's law predicts for this link (for comparisons; not what the world delivers)."""
        return tx.effective_erp_dbw + self.link(tx, site).engine_0dbw_dbuv_m

    def free_space_dbuv_m(self, tx: Transmitter, site: SensorSite) -> float:
        """Free space over the slant path (through the transmitter's antenna): no real field is above it."""
        return _FREE_SPACE.field_strength_dbuv_m(tx, site)

    def true_field_dbuv_m(self, tx: Transmitter, site: SensorSite) -> float:
        """What reaches the sensor's antenna (dBuV/m): real median + shadowing, never above free space."""
        return min(self.median_field_dbuv_m(tx, site) + self.shadowing(tx, site), self.free_space_dbuv_m(tx, site))

    def reported_field_dbuv_m(self, tx: Transmitter, site: SensorSite) -> float:
        """What the sensor reports (its configured antenna factor applied to what its port sees)."""
        return self.true_field_dbuv_m(tx, site) + self.calibration_error_db(site)

    def field_strength_dbuv_m(self, tx: Transmitter, site: SensorSite) -> float:
        """The simulator's ``PropagationModel`` protocol: the true field at the antenna."""
        return self.true_field_dbuv_m(tx, site)

    # -- vectorised ----------------------------------------------------------------------------
    def true_fields_dbuv_m(self, txs: Sequence[Transmitter], sites: Sequence[SensorSite]) -> np.ndarray:
        """``true_field_dbuv_m`` for every (transmitter, site): array shaped (len(txs), len(sites)).

        Medians are cached per link, so re-asking at another shadowing level (:meth:`with_shadowing`)
        costs only the hashes.
        """
        out = np.empty((len(txs), len(sites)))
        for i, tx in enumerate(txs):
            for j, site in enumerate(sites):
                out[i, j] = self.true_field_dbuv_m(tx, site)
        return out

    def calibration_errors_db(self, sites: Sequence[SensorSite]) -> np.ndarray:
        """``calibration_error_db`` per site, shaped (len(sites),)."""
        return np.array([self.calibration_error_db(s) for s in sites], dtype=float)

    def reported_fields_dbuv_m(self, txs: Sequence[Transmitter], sites: Sequence[SensorSite]) -> np.ndarray:
        """``reported_field_dbuv_m`` for every (transmitter, site), shaped (len(txs), len(sites))."""
        return self.true_fields_dbuv_m(txs, sites) + self.calibration_errors_db(sites)[None, :]


def _p1546_0dbw(f_mhz: float, t_pct: float, heff_m: float, h2_m: float, r2_m: float | None, area: str,
                zones: Sequence[float], kinds: Sequence[str], ha_m: float, tca_deg: float | None) -> float:
    """P.1546 field (dBuV/m) of a 0 dBW e.r.p. transmitter over the given zones."""
    # the receiver's clearance angle also raises the troposcatter angle (section 13); the transmitter's
    # surroundings stay flat, as the engine assumes
    e_1kw, _ = p1546.field_strength(f_mhz, t_pct, heff_m, h2_m, r2_m, area, list(zones), list(kinds),
                                    ha_m=ha_m, tca_deg=tca_deg, eff1_deg=FLAT_CLEARANCE_DEG,
                                    eff2_deg=FLAT_CLEARANCE_DEG if tca_deg is None else tca_deg)
    return float(e_1kw) - 30.0


def world_model(scenario: Scenario, water_mask: WaterMask | None = None) -> PropagationModel | None:
    """The propagation model a scenario's ``[world]`` names; None when it states no world.

    ``water_mask`` is geography the caller has (``borderwatch`` passes the provinces' land);
    without one every path is over land.
    """
    settings = scenario.world
    if settings is None:
        return None
    if settings.model == "free_space":
        return FreeSpaceModel()
    return RealisticWorld.from_settings(settings, scenario.seed, water_mask)
