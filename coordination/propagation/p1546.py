"""ITU-R P.1546-6 point-to-area field-strength prediction (30 MHz to 4 GHz, 1 m to 1000 km).

Why this module exists: cross-border coordination asks what field strength a licensed transmitter
produces at the provincial border; the four provinces (like the HCM agreement) answer with
Recommendation ITU-R P.1546-6. This is an independent implementation of Annexes 5 and 6 of the
Recommendation (the step-by-step procedure) on the tabulated curves shipped in ``data/``, checked
against all 52 ITU-R Study Group 3 validation datasets to 1e-4 dB (tests/coordination/propagation/
``test_p1546_validation.py``).

Public entry points
-------------------
``field_strength(f_mhz, t_pct, heff_m, h2_m, r2_m, area, d_km, path_types, *, ...)``
    One path given as zones (lengths from the transmitter and their kinds). Returns
    ``(e_dbuv_m, lb_db)``: field strength for the given e.r.p. and the equivalent basic
    transmission loss (equation (40), always for 1 kW as the Recommendation defines it).
``field_strength_many(f_mhz, t_pct, heff_m, h2_m, r2_m, area, d_km_array, *, path="Land", ...)``
    One transmitter against many receiver distances on single-zone paths (all land or all sea),
    vectorised with numpy: what the coordination server uses for border lines.
``field_strength_profile(profile, ...)``
    Reads an SG3 "Fryderyk_csv" path profile (or takes a parsed :class:`PathProfile`) and derives
    every terrain-dependent input from it (see :mod:`coordination.propagation.p1546_profile`).

Steps followed (Annex 6): nominal time, frequency, distance and height brackets (steps 2-4),
curve look-up with log-distance and log-height interpolation and Emax limits (step 8, Annex 5
sections 4.1-4.3, 5), frequency interpolation/extrapolation incl. the Fresnel-clearance sea method
below 100 MHz (step 9, section 6), time interpolation with Qi (step 10, sections 7 and 16), mixed
land/sea paths (step 11, section 8), terrain clearance angle (step 12, section 11), tropospheric
scatter floor (step 13, section 13), receiving antenna height and clutter (step 14, section 9),
transmitter clutter (step 15, section 10), slope path (step 16, section 14), paths shorter than
1 km (step 17, section 15), location variability (step 18, section 12), the maximum field strength
(step 19, section 2) and the equivalent basic transmission loss (step 20, section 17).

Implementer choices (where the Recommendation leaves room, we follow the SG3 reference results;
a choice that replaces, raises or ignores a given input is announced with a ``logging`` warning
on the ``coordination.propagation.p1546`` logger):

* h1 on land paths shorter than 15 km (section 3.1): with ``hb_m`` equations (6)-(7), else with
  ``ha_m`` equations (4)-(5); with neither, h1 = heff (warned).
* Sea paths: h1 = heff; an h1 below 3 m on a sea path is raised to 3 m (warned).
* Negative h1 on land: Ch1 = 6.03 - J(K_nu theta) always with theta = arctan(-h1/9000) (the
  "no terrain data" form, section 4.3), also when ``eff1_deg`` is known: the SG3 reference
  results do so (eff1_deg still enters the tropospheric-scatter angle).
* Emax limits inside steps 8 and 9 (section 2) use the required time percentage (not the nominal
  one of the curve) and the slope distance of section 14, as the SG3 reference results do; for
  d < 1 km they are taken at the slope distance for d = 1 km.
* Sea zones of kind "Sea" at 1 % and 10 % of time use the cold-sea curves; a path with any
  "Warm" zone uses the warm-sea curves for all its sea (section 8, warned when cold sea is also
  present); "Cold" uses cold sea.
* The modified receiver clutter height R' (equation (27)) is limited to at least 1 m (warned);
  when R' < 10 m the urban correction is reduced by Kh2 log10(10/R') since the curves are for
  R = 10 m. In "Rural" areas R' = 10 m whatever r2_m (warned if r2_m differs). r2_m = None takes
  the Recommendation's examples: 10 m rural/suburban/sea, 20 m urban, 30 m dense urban.
* Terrain clearance angle correction (section 11) is applied whenever ``tca_deg`` is given, with
  tca limited to 0.55..40 degrees, as the reference results do (also for a receiver at sea).
* Tropospheric scatter (section 13): theta_s = theta_e + theta1 + theta2 with theta1 = eff1_deg,
  theta2 = eff2_deg (else tca_deg), missing angles taken as 0, theta_s not below 0; N0 = 325.
* Transmitter clutter (section 10) only when ``r1_m`` is given: -J(nu) with
  nu = 0.0108 sqrt(f) sign(R1 - ha) sqrt(|R1 - ha| |arctan((R1 - ha)/27)|) (angle in degrees).
* Slope path (section 14): d_slope = sqrt(d^2 + 1e-6 ((ha + htter) - (h2 + hrter))^2); ha
  defaults to h1 and terrain heights to 0 m. Emax of step 19 is taken at d_slope.
* Paths shorter than 1 km (section 15): steps 5-16 run at d = 1 km, then the field strength is
  interpolated in log slope distance between the free-space value at the slope distance for
  0.04 km and the 1 km value; at or below that the free-space value is used.
* Location variability (section 12): E(q) = E(50 %) + Qi(q/100) sigma_L with
  sigma_L = (0.024 f_GHz + 0.52) wa^0.28 for a square area of width wa = 500 m (equation (34));
  q in 1..99 %; not applied to receivers at sea.
* Field strengths for distances below the first tabulated 1 km (only needed inside the sea
  h1 < 10 m method, section 4.2) extrapolate the first log-distance segment.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, NDArray

from coordination.propagation._p1546_math import (
    free_space_limit_dbuv_m,
    fresnel_06_distance_km,
    inv_cum_normal,
    knife_edge_loss_db,
    sea_enhancement_db,
)
from coordination.propagation._p1546_tables import LOG_NOMINAL_H1, load_tables
from coordination.propagation.p1546_profile import PathProfile, ProfileFormatError, ProfileInputs, read_profile

__all__ = [
    "AREAS",
    "PATH_TYPES",
    "STEP_NAMES",
    "PathProfile",
    "ProfileFormatError",
    "ProfileInputs",
    "ProfilePrediction",
    "field_strength",
    "field_strength_many",
    "field_strength_profile",
    "field_strength_steps",
    "location_sigma_db",
    "read_profile",
]

log = logging.getLogger(__name__)

AREAS = ("Rural", "Suburban", "Urban", "Dense Urban", "Sea")
PATH_TYPES = ("Land", "Sea", "Warm", "Cold")

F_MIN_MHZ, F_MAX_MHZ = 30.0, 4000.0
T_MIN_PCT, T_MAX_PCT = 1.0, 50.0
Q_MIN_PCT, Q_MAX_PCT = 1.0, 99.0
D_MAX_KM = 1000.0
H1_MAX_M = 3000.0
N0_N_UNITS = 325.0
#: Section 12: width of the square area over which location variability is described (m).
WA_M = 500.0
EARTH_K_RADIUS_KM = 6370.0 * 4.0 / 3.0

#: Intermediate values reported by :func:`field_strength_steps` (1 kW e.r.p.).
STEP_NAMES = (
    "h1_m",                      # transmitting/base antenna height used (section 3)
    "e_max_dbuv_m",              # maximum field strength of step 19 (section 2)
    "e_curves_dbuv_m",           # field strength after steps 5-11 (curves, interpolations, mixed path)
    "tca_correction_db",         # step 12 (section 11)
    "e_troposcatter_dbuv_m",     # step 13 (section 13)
    "r2_modified_m",             # R' of step 14 (equation (27)); 10 m for rural and sea receivers
    "rx_height_correction_db",   # step 14 (section 9)
    "tx_clutter_correction_db",  # step 15 (section 10)
    "slope_correction_db",       # step 16 (section 14)
    "e_dbuv_m",                  # final field strength for 1 kW e.r.p.
)

#: Section 4.3: K_nu per nominal frequency for the negative-h1 correction.
_K_NU_NEG_H1 = {100.0: 1.35, 600.0: 3.31, 2000.0: 6.00}
#: Section 9: default representative clutter heights R (m) per area when r2_m is None.
_DEFAULT_R2_M = {"Rural": 10.0, "Suburban": 10.0, "Urban": 20.0, "Dense Urban": 30.0, "Sea": 10.0}

FloatArray = NDArray[np.float64]


# --------------------------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------------------------


def _check_range(name: str, value: float, lo: float, hi: float, unit: str) -> None:
    if not (math.isfinite(value) and lo <= value <= hi):
        raise ValueError(f"{name} = {value!r} is outside the P.1546-6 range {lo:g} to {hi:g} {unit}")


def _check_common(f_mhz: float, t_pct: float, q_pct: float, heff_m: float, h2_m: float, area: str,
                  erp_kw: float) -> None:
    _check_range("f_mhz", f_mhz, F_MIN_MHZ, F_MAX_MHZ, "MHz")
    _check_range("t_pct", t_pct, T_MIN_PCT, T_MAX_PCT, "%")
    _check_range("q_pct", q_pct, Q_MIN_PCT, Q_MAX_PCT, "%")
    if area not in AREAS:
        raise ValueError(f"area = {area!r} is unknown: allowed {', '.join(AREAS)}")
    if not (math.isfinite(heff_m) and heff_m <= H1_MAX_M):
        raise ValueError(f"heff_m = {heff_m!r} must be a finite height of at most {H1_MAX_M:g} m")
    if not (math.isfinite(h2_m) and h2_m > 0.0):
        raise ValueError(f"h2_m = {h2_m!r} must be a receiving antenna height above 0 m (range 1 to 3000 m)")
    if not (math.isfinite(erp_kw) and erp_kw > 0.0):
        raise ValueError(f"erp_kw = {erp_kw!r} must be a positive e.r.p. in kW")


def _check_distances(d_km: FloatArray, name: str) -> None:
    if d_km.size == 0:
        raise ValueError(f"{name} is empty: give at least one distance in km (range > 0 to {D_MAX_KM:g} km)")
    bad = ~np.isfinite(d_km) | (d_km <= 0.0)
    if np.any(bad):
        first = float(d_km[np.argmax(bad)])
        raise ValueError(f"{name} contains {first!r}: distances must be > 0 km (range > 0 to {D_MAX_KM:g} km)")


# --------------------------------------------------------------------------------------------
# curves: steps 8 (h1, distance) and 9 (frequency)
# --------------------------------------------------------------------------------------------


def _emax(kind: str, t_pct: float, d_km: FloatArray) -> FloatArray:
    """Section 2: Efs on land, Efs + Ese over sea (any sea kind)."""
    e = free_space_limit_dbuv_m(d_km)
    if kind != "land":
        e = e + sea_enhancement_db(d_km, t_pct)
    return e


def _curves_at_distance(table: FloatArray, d_km: FloatArray) -> FloatArray:
    """Section 5: each height column interpolated linearly in log10(d) -> (n, 8)."""
    tabs = load_tables()
    logd = np.log10(d_km)
    idx = np.clip(np.searchsorted(tabs.log_distances, logd, side="right") - 1, 0, tabs.log_distances.size - 2)
    l0 = tabs.log_distances[idx]
    l1 = tabs.log_distances[idx + 1]
    w = ((logd - l0) / (l1 - l0))[:, None]
    e0 = table[idx]
    return e0 + w * (table[idx + 1] - e0)


def _interp_h1(e_d: FloatArray, h1_m: FloatArray) -> FloatArray:
    """Section 4.1: interpolation in log10(h1) between bracketing curves (extrapolation above 1200 m)."""
    logh = np.log10(h1_m)
    j = np.clip(np.searchsorted(LOG_NOMINAL_H1, logh, side="right") - 1, 0, LOG_NOMINAL_H1.size - 2)
    w = (logh - LOG_NOMINAL_H1[j]) / (LOG_NOMINAL_H1[j + 1] - LOG_NOMINAL_H1[j])
    rows = np.arange(e_d.shape[0])
    e0 = e_d[rows, j]
    return e0 + w * (e_d[rows, j + 1] - e0)


def _field_nominal(kind: str, f_nom: float, t_nom: float, t_pct: float, h1_m: FloatArray, d_km: FloatArray,
                   emax: FloatArray) -> FloatArray:
    """Step 8: field strength for one figure (nominal f, t, path kind) at h1 and d >= 1 km.

    ``emax`` is the limit of section 2 for the required time percentage t_pct at the slope distance
    (as the SG3 results do), one value per point.
    """
    tabs = load_tables()
    table = tabs.table(f_nom, t_nom, kind)
    e_d = _curves_at_distance(table, d_km)
    out = np.empty_like(d_km)
    high = h1_m >= 10.0
    if np.all(high):
        return np.minimum(_interp_h1(e_d, h1_m), emax)
    if np.any(high):
        out[high] = np.minimum(_interp_h1(e_d[high], h1_m[high]), emax[high])
    low = ~high
    e10 = e_d[low, 0]
    e20 = e_d[low, 1]
    h1 = h1_m[low]
    d = d_km[low]
    if kind == "land":
        # Section 4.2 (land): E = Ezero + 0.1 h1 (E10 - Ezero), Ezero = E10 + 0.5 (C1020 + Ch1neg10).
        k_nu = _K_NU_NEG_H1[f_nom]
        ch1neg10 = 6.03 - knife_edge_loss_db(k_nu * math.degrees(math.atan(10.0 / 9000.0)))
        ezero = e10 + 0.5 * ((e10 - e20) + ch1neg10)
        e = ezero + 0.1 * h1 * (e10 - ezero)
        neg = h1 < 0.0
        if np.any(neg):
            # Section 4.3: field strength for h1 = 0 plus Ch1 = 6.03 - J(K_nu theta), theta = arctan(-h1/9000)
            # (equation for terrain data not available: the SG3 reference results use it in all cases).
            theta = np.degrees(np.arctan(-h1 / 9000.0))
            ch1 = 6.03 - knife_edge_loss_db(k_nu * theta)
            e = np.where(neg, ezero + ch1, e)
        out[low] = np.minimum(e, emax[low])
    else:
        out[low] = _sea_low_h1(table, kind, t_pct, h1, d, e10, e20, f_nom, emax[low])
    return out


def _sea_low_h1(table: FloatArray, kind: str, t_pct: float, h1: FloatArray, d: FloatArray,
                e10: FloatArray, e20: FloatArray, f_nom: float, emax: FloatArray) -> FloatArray:
    """Section 4.2 (sea, 1 <= h1 < 10 m): Fresnel-clearance distances Dh1 and D20, equations (10)-(11)."""
    d_h1 = fresnel_06_distance_km(f_nom, h1, 10.0)
    d_20 = float(fresnel_06_distance_km(f_nom, 20.0, 10.0))
    hfac = np.log10(h1 / 10.0) / np.log10(2.0)
    e_dh1 = _emax(kind, t_pct, d_h1)
    e_d20_curves = _curves_at_distance(table, np.full(1, d_20))[0]
    e_d20 = e_d20_curves[0] + (e_d20_curves[1] - e_d20_curves[0]) * hfac
    e_b = e_dh1 + (e_d20 - e_dh1) * np.log10(d / d_h1) / np.log10(d_20 / d_h1)   # (11b)
    e_prime = e10 + (e20 - e10) * hfac
    fs = (d - d_20) / d
    e_c = e_prime * (1.0 - fs) + e_b * fs                                          # (11c)
    e = np.where(d <= d_h1, emax, np.where(d < d_20, e_b, e_c))
    return np.minimum(e, emax)


def _nominal_pair(value: float, nominals: tuple[float, float, float]) -> tuple[float, ...]:
    """Steps 2-3: the two bracketing nominal values (one when the value coincides with a nominal)."""
    if value in nominals:
        return (value,)
    if value < nominals[1]:
        return (nominals[0], nominals[1])
    return (nominals[1], nominals[2])


def _field_frequency(kind: str, f_mhz: float, t_nom: float, t_pct: float, h1_m: FloatArray, d_km: FloatArray,
                     emax: FloatArray, all_sea: bool) -> FloatArray:
    """Step 9 / section 6: interpolate or extrapolate in log10(f) between nominal frequencies."""
    f_noms = _nominal_pair(f_mhz, (100.0, 600.0, 2000.0))
    if len(f_noms) == 1:
        return _field_nominal(kind, f_noms[0], t_nom, t_pct, h1_m, d_km, emax)
    f_inf, f_sup = f_noms
    e_inf = _field_nominal(kind, f_inf, t_nom, t_pct, h1_m, d_km, emax)
    e_sup = _field_nominal(kind, f_sup, t_nom, t_pct, h1_m, d_km, emax)
    ffac = math.log10(f_mhz / f_inf) / math.log10(f_sup / f_inf)
    e = np.minimum(e_inf + (e_sup - e_inf) * ffac, emax)
    if all_sea and f_mhz < 100.0:
        # Section 6, equations (15): 0.6 Fresnel clearance method for sea paths below 100 MHz.
        d600 = fresnel_06_distance_km(600.0, h1_m, 10.0)
        use = d_km < d600
        if np.any(use):
            d = d_km[use]
            h1 = h1_m[use]
            df = fresnel_06_distance_km(f_mhz, h1, 10.0)
            dd600 = d600[use]
            emax600 = _emax(kind, t_pct, dd600)
            e600_inf = _field_nominal(kind, f_inf, t_nom, t_pct, h1, dd600, emax600)
            e600_sup = _field_nominal(kind, f_sup, t_nom, t_pct, h1, dd600, emax600)
            e_d600 = e600_inf + (e600_sup - e600_inf) * ffac
            e_df = _emax(kind, t_pct, df)
            with np.errstate(divide="ignore", invalid="ignore"):
                e_mid = e_df + (e_d600 - e_df) * np.log10(d / df) / np.log10(dd600 / df)
            e[use] = np.where(d <= df, emax[use], e_mid)
    return e


def _field_time(kind: str, f_mhz: float, t_pct: float, sea_kind: str, h1_m: FloatArray, d_km: FloatArray,
                emax: FloatArray, all_sea: bool) -> FloatArray:
    """Step 10 / section 7: interpolate between nominal time percentages with Qi(t/100)."""
    t_noms = _nominal_pair(t_pct, (1.0, 10.0, 50.0))

    def curve_kind(t_nom: float) -> str:
        if kind == "land":
            return "land"
        return "sea" if t_nom == 50.0 else sea_kind

    if len(t_noms) == 1:
        return _field_frequency(curve_kind(t_noms[0]), f_mhz, t_noms[0], t_pct, h1_m, d_km, emax, all_sea)
    t_inf, t_sup = t_noms
    e_inf = _field_frequency(curve_kind(t_inf), f_mhz, t_inf, t_pct, h1_m, d_km, emax, all_sea)
    e_sup = _field_frequency(curve_kind(t_sup), f_mhz, t_sup, t_pct, h1_m, d_km, emax, all_sea)
    q_t, q_inf, q_sup = inv_cum_normal(np.array([t_pct, t_inf, t_sup]) / 100.0)
    return e_sup + (e_inf - e_sup) * (q_t - q_sup) / (q_inf - q_sup)


# --------------------------------------------------------------------------------------------
# corrections: steps 12 to 19
# --------------------------------------------------------------------------------------------


def _tca_correction(f_mhz: float, tca_deg: float) -> float:
    """Section 11, equations (31)-(32): J(nu') - J(nu) with tca limited to 0.55..40 degrees."""
    tca = min(max(tca_deg, 0.55), 40.0)
    nu_ref = 0.036 * math.sqrt(f_mhz)
    nu = 0.065 * tca * math.sqrt(f_mhz)
    return float(knife_edge_loss_db(nu_ref) - knife_edge_loss_db(nu))


def _troposcatter(f_mhz: float, t_pct: float, d_km: FloatArray, theta1_deg: float, theta2_deg: float) -> FloatArray:
    """Section 13, equations (35)-(36): field strength due to tropospheric scatter."""
    theta_e = np.degrees(d_km / EARTH_K_RADIUS_KM)
    theta_s = np.maximum(theta_e + theta1_deg + theta2_deg, 0.0)
    logf = math.log10(f_mhz)
    lf = 5.0 * logf - 2.5 * (logf - 3.3) ** 2
    return (24.4 - 20.0 * np.log10(d_km) - 10.0 * theta_s - lf + 0.15 * N0_N_UNITS
            + 10.1 * (-math.log10(0.02 * t_pct)) ** 0.7)


def _rx_height_correction(f_mhz: float, area: str, h2_m: float, r2_m: float | None, h1_m: FloatArray,
                          d_km: FloatArray, warn: bool) -> tuple[FloatArray, FloatArray]:
    """Section 9, equations (27)-(29): receiving antenna height and clutter correction, and R' (m)."""
    k_h2 = 3.2 + 6.2 * math.log10(f_mhz)
    ten = np.full(d_km.shape, 10.0)
    if area == "Sea":
        c10 = k_h2 * math.log10(h2_m / 10.0)
        if h2_m >= 10.0:
            return np.full(d_km.shape, c10), ten
        h1 = np.maximum(h1_m, 1.0)
        d10 = fresnel_06_distance_km(f_mhz, h1, 10.0)
        dh2 = fresnel_06_distance_km(f_mhz, h1, h2_m)
        mid = c10 * np.log10(d_km / dh2) / np.log10(d10 / dh2)
        return np.where(d_km >= d10, c10, np.where(d_km <= dh2, 0.0, mid)), ten
    if area == "Rural":
        if warn and r2_m is not None and r2_m != 10.0:
            log.warning("P.1546 section 9: rural receiver uses R' = 10 m; r2_m = %g m not used", r2_m)
        return np.full(d_km.shape, k_h2 * math.log10(h2_m / 10.0)), ten
    r = _DEFAULT_R2_M[area] if r2_m is None else float(r2_m)
    r_mod = (1000.0 * d_km * r - 15.0 * h1_m) / (1000.0 * d_km - 15.0)
    if warn and np.any(r_mod < 1.0):
        log.warning("P.1546 section 9: modified clutter height R' below 1 m raised to 1 m (R2 = %g m)", r)
    r_mod = np.maximum(r_mod, 1.0)
    k_nu = 0.0108 * math.sqrt(f_mhz)
    h_dif = r_mod - h2_m
    theta_clut = np.degrees(np.arctan(h_dif / 27.0))
    nu = k_nu * np.sqrt(np.maximum(h_dif * theta_clut, 0.0))
    with np.errstate(divide="ignore"):
        corr = np.where(h2_m < r_mod, 6.03 - knife_edge_loss_db(nu), k_h2 * np.log10(h2_m / r_mod))
    return corr - np.where(r_mod < 10.0, k_h2 * np.log10(10.0 / r_mod), 0.0), r_mod


def _tx_clutter_correction(f_mhz: float, r1_m: float, ha_m: FloatArray) -> FloatArray:
    """Section 10, equation (30): loss by clutter of height R1 around the transmitting antenna."""
    h_dif = r1_m - ha_m
    theta_clut = np.degrees(np.arctan(h_dif / 27.0))
    nu = 0.0108 * math.sqrt(f_mhz) * np.sign(h_dif) * np.sqrt(np.abs(h_dif * theta_clut))
    return -knife_edge_loss_db(nu)


def location_sigma_db(f_mhz: float, wa_m: float = WA_M) -> float:
    """Section 12, equation (34): location variability sigma_L = (0.024 f_GHz + 0.52) wa^0.28 dB."""
    return (0.024 * f_mhz / 1000.0 + 0.52) * wa_m**0.28


def _location_correction(f_mhz: float, q_pct: float) -> float:
    """Section 12, equation (33): E(q) = E(50 %) + Qi(q/100) sigma_L."""
    return float(inv_cum_normal(q_pct / 100.0)) * location_sigma_db(f_mhz)


# --------------------------------------------------------------------------------------------
# the whole procedure on arrays
# --------------------------------------------------------------------------------------------


def _h1_for_land(heff_m: float, d_km: FloatArray, ha_m: float | None, hb_m: float | None,
                 warn: bool) -> FloatArray:
    """Section 3.1-3.2: h1 on land from heff, and from hb or ha on paths shorter than 15 km."""
    h_short = hb_m if hb_m is not None else ha_m
    if h_short is None:
        if warn and np.any(d_km < 15.0):
            log.warning("P.1546 section 3.1: land path shorter than 15 km without ha_m/hb_m; h1 = heff = %g m", heff_m)
        return np.full(d_km.shape, float(heff_m))
    h1 = np.where(d_km <= 3.0, h_short, h_short + (heff_m - h_short) * (d_km - 3.0) / 12.0)
    return np.where(d_km < 15.0, h1, heff_m)


def _predict(f_mhz: float, t_pct: float, h1_m: FloatArray, h2_m: float, r2_m: float | None, area: str,
             d_km: FloatArray, sea_fraction: float, sea_kind: str, *, q_pct: float, ha_m: float | None,
             r1_m: float | None, tca_deg: float | None, htter_m: float | None, hrter_m: float | None,
             eff1_deg: float | None, eff2_deg: float | None, warn: bool,
             steps: dict[str, FloatArray] | None = None) -> FloatArray:
    """Steps 1-19 for 1 kW e.r.p.; d_km is the total path length, sea_fraction the sea share.

    When ``steps`` is a dict it receives the intermediate values (names in :data:`STEP_NAMES`).
    """
    trace = steps if steps is not None else {}
    d_calc = np.maximum(d_km, 1.0)
    all_sea = sea_fraction >= 1.0
    if warn and eff1_deg is not None and np.any(h1_m < 0.0):
        log.warning("P.1546 section 4.3: negative h1 corrected with theta = arctan(-h1/9000), not eff1_deg = %g "
                    "(as the SG3 reference results do)", eff1_deg)
    h1_sea = h1_m
    if sea_fraction > 0.0 and np.any(h1_m < 3.0):
        if warn:
            log.warning("P.1546 section 3.3: h1 below 3 m on a sea path raised to 3 m")
        h1_sea = np.maximum(h1_m, 3.0)
    # Slope distances (section 14); the Emax limits of section 2 are taken at them.
    ha_arr = h1_m if ha_m is None else np.full(d_km.shape, float(ha_m))
    dh_km = 1e-3 * ((ha_arr + (htter_m or 0.0)) - (h2_m + (hrter_m or 0.0)))
    d_slope = np.sqrt(d_km * d_km + dh_km * dh_km)
    d_slope_calc = np.sqrt(d_calc * d_calc + dh_km * dh_km)
    emax_land = free_space_limit_dbuv_m(d_slope_calc)
    emax_sea = emax_land + sea_enhancement_db(d_slope_calc, t_pct)
    # Steps 5-11.
    if sea_fraction <= 0.0:
        e = _field_time("land", f_mhz, t_pct, sea_kind, h1_m, d_calc, emax_land, False)
    elif all_sea:
        e = _field_time("sea", f_mhz, t_pct, sea_kind, h1_sea, d_calc, emax_sea, True)
    else:
        e_land = _field_time("land", f_mhz, t_pct, sea_kind, h1_m, d_calc, emax_land, False)
        e_sea = _field_time("sea", f_mhz, t_pct, sea_kind, h1_sea, d_calc, emax_sea, False)
        a0 = 1.0 - (1.0 - sea_fraction) ** (2.0 / 3.0)                     # (18)
        v = np.maximum(1.0, 1.0 + (e_sea - e_land) / 40.0)                  # (19)
        a = a0**v
        e = (1.0 - a) * e_land + a * e_sea                                  # (17)
    trace["h1_m"] = h1_m
    trace["e_max_dbuv_m"] = free_space_limit_dbuv_m(d_slope) + (
        sea_fraction * sea_enhancement_db(d_slope, t_pct) if 0.0 < sea_fraction and t_pct < 50.0 else 0.0)
    trace["e_curves_dbuv_m"] = e
    # Step 12: terrain clearance angle.
    trace["tca_correction_db"] = np.zeros_like(e)
    if tca_deg is not None:
        if warn and area == "Sea":
            log.warning("P.1546 section 11: terrain clearance angle correction applied to a receiver at sea "
                        "(as the SG3 reference results do); pass tca_deg=None to skip it")
        trace["tca_correction_db"] = np.full(e.shape, _tca_correction(f_mhz, tca_deg))
        e = e + trace["tca_correction_db"]
    # Step 13: tropospheric scatter floor.
    theta2 = eff2_deg if eff2_deg is not None else (tca_deg if tca_deg is not None else 0.0)
    trace["e_troposcatter_dbuv_m"] = _troposcatter(f_mhz, t_pct, d_calc, eff1_deg or 0.0, theta2)
    e = np.maximum(e, trace["e_troposcatter_dbuv_m"])
    # Step 14: receiving antenna height / clutter.
    trace["rx_height_correction_db"], trace["r2_modified_m"] = _rx_height_correction(
        f_mhz, area, h2_m, r2_m, h1_m, d_calc, warn)
    e = e + trace["rx_height_correction_db"]
    # Step 15: clutter around the transmitter.
    trace["tx_clutter_correction_db"] = np.zeros_like(e)
    if r1_m is not None:
        trace["tx_clutter_correction_db"] = _tx_clutter_correction(f_mhz, float(r1_m), ha_arr)
        e = e + trace["tx_clutter_correction_db"]
    # Step 16: slope path.
    trace["slope_correction_db"] = 20.0 * np.log10(d_calc / d_slope_calc)
    e = e + trace["slope_correction_db"]
    # Step 17: paths shorter than 1 km.
    short = d_km < 1.0
    if np.any(short):
        d_inf = np.sqrt(0.04 * 0.04 + dh_km * dh_km)
        e_inf = free_space_limit_dbuv_m(d_inf)
        e_short = e_inf + (e - e_inf) * np.log10(d_slope / d_inf) / np.log10(d_slope_calc / d_inf)
        e_short = np.where(d_slope <= d_inf, free_space_limit_dbuv_m(d_slope), e_short)
        e = np.where(short, e_short, e)
    # Step 18: location variability (receivers on land only).
    if q_pct != 50.0 and area != "Sea":
        e = e + _location_correction(f_mhz, q_pct)
    # Step 19: maximum field strength (mixed paths below 50 % interpolate land/sea maxima).
    trace["e_dbuv_m"] = np.minimum(e, trace["e_max_dbuv_m"])
    return trace["e_dbuv_m"]


def _sea_kind(types: Sequence[str], t_pct: float, warn: bool) -> str:
    """Curves for the sea zones below 50 % time: warm if any zone is warm sea, else cold (section 8)."""
    if "Warm" in types:
        if warn and "Cold" in types:
            log.warning("P.1546 section 8: path with warm and cold sea zones uses the warm-sea curves for all sea")
        return "warm"
    if warn and t_pct < 50.0 and "Sea" in types:
        log.warning("P.1546: sea zone of kind 'Sea' at t = %g %% uses the cold-sea curves; give 'Warm' or 'Cold'",
                    t_pct)
    return "cold"


# --------------------------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------------------------


def field_strength(
    f_mhz: float,
    t_pct: float,
    heff_m: float,
    h2_m: float,
    r2_m: float | None,
    area: str,
    d_km: Sequence[float],
    path_types: Sequence[str],
    *,
    q_pct: float = 50.0,
    erp_kw: float = 1.0,
    ha_m: float | None = None,
    hb_m: float | None = None,
    r1_m: float | None = None,
    tca_deg: float | None = None,
    htter_m: float | None = None,
    hrter_m: float | None = None,
    eff1_deg: float | None = None,
    eff2_deg: float | None = None,
) -> tuple[float, float]:
    """Field strength (dBuV/m for erp_kw) and equivalent basic transmission loss Lb (dB) of one path.

    d_km and path_types list the zones from the transmitter ("Land", "Sea", "Warm", "Cold").
    area is the receiver's environment ("Rural", "Suburban", "Urban", "Dense Urban", "Sea");
    r2_m its representative clutter height (None: the Recommendation's example for the area).
    Raises ValueError for inputs outside the Recommendation's ranges.
    """
    return _single_path(f_mhz, t_pct, heff_m, h2_m, r2_m, area, d_km, path_types, q_pct=q_pct, erp_kw=erp_kw,
                        ha_m=ha_m, hb_m=hb_m, r1_m=r1_m, tca_deg=tca_deg, htter_m=htter_m, hrter_m=hrter_m,
                        eff1_deg=eff1_deg, eff2_deg=eff2_deg, steps=None)


def field_strength_steps(
    f_mhz: float,
    t_pct: float,
    heff_m: float,
    h2_m: float,
    r2_m: float | None,
    area: str,
    d_km: Sequence[float],
    path_types: Sequence[str],
    **kwargs: float | None,
) -> dict[str, float]:
    """The intermediate values of :func:`field_strength` (names in :data:`STEP_NAMES`, 1 kW e.r.p.).

    Why: a coordination engineer disputing a prediction wants to see which step decides it
    (curves, troposcatter floor, clutter, the Emax cap); the SG3 step logs are checked against it.
    """
    steps: dict[str, FloatArray] = {}
    _single_path(f_mhz, t_pct, heff_m, h2_m, r2_m, area, d_km, path_types, steps=steps, **kwargs)  # type: ignore[arg-type]
    return {name: float(steps[name][0]) for name in STEP_NAMES}


def _single_path(f_mhz: float, t_pct: float, heff_m: float, h2_m: float, r2_m: float | None, area: str,
                 d_km: Sequence[float], path_types: Sequence[str], *, q_pct: float = 50.0, erp_kw: float = 1.0,
                 ha_m: float | None = None, hb_m: float | None = None, r1_m: float | None = None,
                 tca_deg: float | None = None, htter_m: float | None = None, hrter_m: float | None = None,
                 eff1_deg: float | None = None, eff2_deg: float | None = None,
                 steps: dict[str, FloatArray] | None = None) -> tuple[float, float]:
    f_mhz, t_pct, heff_m, h2_m = float(f_mhz), float(t_pct), float(heff_m), float(h2_m)
    _check_common(f_mhz, t_pct, float(q_pct), heff_m, h2_m, area, float(erp_kw))
    zones = np.atleast_1d(np.asarray(d_km, dtype=np.float64))
    types = [path_types] if isinstance(path_types, str) else list(path_types)
    if len(types) != zones.size:
        raise ValueError(f"path_types has {len(types)} entries but d_km has {zones.size}: give one type per zone")
    for kind in types:
        if kind not in PATH_TYPES:
            raise ValueError(f"path type {kind!r} is unknown: allowed {', '.join(PATH_TYPES)}")
    _check_distances(zones, "d_km")
    d_total = float(zones.sum())
    _check_range("total path length d_km", d_total, 0.0, D_MAX_KM, "km")
    d_sea = float(sum(z for z, k in zip(zones, types) if k != "Land"))
    sea_fraction = d_sea / d_total
    d_arr = np.array([d_total])
    if sea_fraction < 1.0 and types[0] == "Land":
        h1 = _h1_for_land(heff_m, d_arr, ha_m, hb_m, warn=True)
    else:
        h1 = np.array([heff_m])
    sea_kind = _sea_kind(types, t_pct, True)
    e = _predict(f_mhz, t_pct, h1, h2_m, r2_m, area, d_arr, sea_fraction, sea_kind, q_pct=float(q_pct), ha_m=ha_m,
                 r1_m=r1_m, tca_deg=tca_deg, htter_m=htter_m, hrter_m=hrter_m, eff1_deg=eff1_deg, eff2_deg=eff2_deg,
                 warn=True, steps=steps)
    e_1kw = float(e[0])
    lb = 139.3 - e_1kw + 20.0 * math.log10(f_mhz)                           # (40)
    return e_1kw + 10.0 * math.log10(erp_kw), lb


def field_strength_many(
    f_mhz: float,
    t_pct: float,
    heff_m: float,
    h2_m: float,
    r2_m: float | None,
    area: str,
    d_km_array: ArrayLike,
    *,
    path: str = "Land",
    q_pct: float = 50.0,
    erp_kw: float = 1.0,
    ha_m: float | None = None,
    hb_m: float | None = None,
    r1_m: float | None = None,
    tca_deg: float | None = None,
    htter_m: float | None = None,
    hrter_m: float | None = None,
    eff1_deg: float | None = None,
    eff2_deg: float | None = None,
) -> tuple[FloatArray, FloatArray]:
    """One transmitter against many receiver distances on single-zone paths, vectorised.

    Same method and arguments as :func:`field_strength`, with every receiver on an all-``path``
    path of length d_km_array[i] and heff (and the other terrain inputs) shared by all points.
    Returns arrays (e_dbuv_m, lb_db) shaped like d_km_array.
    """
    f_mhz, t_pct, heff_m, h2_m = float(f_mhz), float(t_pct), float(heff_m), float(h2_m)
    _check_common(f_mhz, t_pct, float(q_pct), heff_m, h2_m, area, float(erp_kw))
    if path not in PATH_TYPES:
        raise ValueError(f"path = {path!r} is unknown: allowed {', '.join(PATH_TYPES)}")
    d_in = np.asarray(d_km_array, dtype=np.float64)
    d = np.ascontiguousarray(d_in.ravel())
    _check_distances(d, "d_km_array")
    if np.any(d > D_MAX_KM):
        raise ValueError(f"d_km_array contains {float(d.max())!r}: outside the P.1546-6 range > 0 to {D_MAX_KM:g} km")
    if path == "Land":
        h1 = _h1_for_land(heff_m, d, ha_m, hb_m, warn=True)
        sea_fraction = 0.0
    else:
        h1 = np.full(d.shape, heff_m)
        sea_fraction = 1.0
    sea_kind = _sea_kind([path], t_pct, True)
    e = _predict(f_mhz, t_pct, h1, h2_m, r2_m, area, d, sea_fraction, sea_kind, q_pct=float(q_pct), ha_m=ha_m,
                 r1_m=r1_m, tca_deg=tca_deg, htter_m=htter_m, hrter_m=hrter_m, eff1_deg=eff1_deg, eff2_deg=eff2_deg,
                 warn=True)
    lb = 139.3 - e + 20.0 * math.log10(f_mhz)
    return (e + 10.0 * math.log10(erp_kw)).reshape(d_in.shape), lb.reshape(d_in.shape)


@dataclass(frozen=True)
class ProfilePrediction:
    """One prediction made from a path profile: the result and the inputs derived for it.

    Unpacks like the other entry points: ``e_dbuv_m, lb_db = field_strength_profile(...)``.
    """

    e_dbuv_m: float
    lb_db: float
    inputs: ProfileInputs
    steps: dict[str, float]

    def __iter__(self) -> Iterator[float]:
        return iter((self.e_dbuv_m, self.lb_db))


def field_strength_profile(
    profile: str | Path | PathProfile,
    dataset: int = 0,
    *,
    f_mhz: float | None = None,
    t_pct: float | None = None,
    ha_m: float | None = None,
    h2_m: float | None = None,
    erp_kw: float | None = None,
    q_pct: float = 50.0,
) -> ProfilePrediction:
    """Predict along an SG3 "Fryderyk_csv" path profile (file path or parsed :class:`PathProfile`).

    The measurement row ``dataset`` gives frequency, antenna heights, e.r.p. and time percentage;
    keyword arguments override them (and are required when the file has no measurement rows).
    Terrain-dependent inputs (h1 via heff/hb, land/sea zones, clutter, angles) come from the
    profile as described in :mod:`coordination.propagation.p1546_profile`.
    """
    prof = profile if isinstance(profile, PathProfile) else read_profile(profile)
    inp = prof.inputs(dataset, f_mhz=f_mhz, t_pct=t_pct, ha_m=ha_m, h2_m=h2_m, erp_kw=erp_kw)
    steps: dict[str, FloatArray] = {}
    e, lb = _single_path(
        inp.f_mhz, inp.t_pct, inp.heff_m, inp.h2_m, inp.r2_m, inp.area, inp.zone_lengths_km, inp.zone_types,
        q_pct=q_pct, erp_kw=inp.erp_kw, ha_m=inp.ha_m, hb_m=inp.hb_m, r1_m=inp.r1_m, tca_deg=inp.tca_deg,
        htter_m=inp.htter_m, hrter_m=inp.hrter_m, eff1_deg=inp.eff1_deg, eff2_deg=inp.eff2_deg, steps=steps)
    return ProfilePrediction(e, lb, inp, {name: float(steps[name][0]) for name in STEP_NAMES})
