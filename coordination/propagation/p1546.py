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
``field_strength_paths(...)``
    The same for many paths at once, each with its own zones and its own f, t, heights, area,
    q and e.r.p. (numpy over paths; the scalar entry point is this with one path).
``field_strength_many(f_mhz, t_pct, heff_m, h2_m, r2_m, area, d_km_array, *, path="Land", ...)``
    Many receivers on single-zone paths (all land or all of one sea kind), vectorised: what the
    border checks use. Per-point arguments may be scalars or arrays.
``field_strength_profile(profile, ...)``
    Reads an SG3 "Fryderyk_csv" path profile (or takes a parsed :class:`PathProfile`) and derives
    every terrain-dependent input from it (see :mod:`coordination.propagation.p1546_profile`).

Steps followed (Annex 6): nominal time, frequency, distance and height brackets (steps 2-4),
curve look-up with log-distance and log-height interpolation and Emax limits (step 8, Annex 5
sections 4.1-4.3, 5), frequency interpolation/extrapolation incl. the Fresnel-clearance sea method
below 100 MHz (step 9, section 6), time interpolation with Qi (step 10, sections 7 and 16), mixed
land/sea paths (step 11, section 8), terrain clearance angle (step 12, section 11), tropospheric
scatter (step 13, section 13), receiving antenna height and clutter (step 14, section 9),
transmitter clutter (step 15, section 10), slope path (step 16, section 14), paths shorter than
1 km (step 17, section 15), location variability (step 18, section 12), the maximum field strength
(step 19, section 2) and the equivalent basic transmission loss (step 20, section 17). Steps 5-11
live in :mod:`coordination.propagation._p1546_curves`.

Agreement: the 52 SG3 validation datasets within 1e-4 dB (``test_p1546_validation.py``) and the
600 reference cases of the whole domain within 1e-3 dB (``test_p1546_reference_cases.py``).
Where the Recommendation leaves room we follow the SG3 reference implementation; a choice that
replaces, raises or ignores a given input is logged as a warning on the
``coordination.propagation.p1546`` logger, once per call whatever the number of points.

* Terrain data: an input that needs terrain data is optional; without it the step that needs it
  is skipped, as the Recommendation's "where known" steps and the SG3 reference do: tca_deg
  (step 12), eff1_deg and eff2_deg (step 13, both needed), r1_m with ha_m (step 15), ha_m
  (step 16 and the slope distance of Emax), wa_m (equation (34) of step 18).
* h1 (section 3): land paths shorter than 15 km use hb_m, equation (6), else ha_m, equations
  (4)-(5); with neither h1 = heff (warned). A path of several zones takes h1 as though all land
  (section 8), also for its sea zones (not raised to 3 m there, as the SG3 reference), except
  h1 <= 0 m, where section 4.2 has no sea value: its sea zones use 3 m (section 8, warned).
  A single all-sea path uses heff, raised to 3 m (section 3.3, warned).
* Negative h1 on land (section 4.3): case b, Ch1 = 6.03 - J(K_nu arctan(-h1/9000)), also when
  eff1_deg is known (case a would need the terrain and can jump at h1 = 0).
* Emax (section 2 and step 19): Efs + (d_sea/d) Ese at the path length, minus the slope term of
  section 14 when ha_m is known; this one value limits the curve values of h1 >= 10 m (section
  4.1), the frequency extrapolation above 2000 MHz (section 6), equations (11a) and (15a), and the
  result. Land values for h1 < 10 m and frequency interpolation below 2000 MHz are not limited.
* Sea kinds below 50 % of time: "Cold" and "Sea" (no climate given, warned) read the cold-sea
  curves, "Warm" the warm-sea curves; beside a "Warm" zone a "Cold" zone counts as warm (section
  8); each sea zone enters the mixed-path rule by its length.
* Sea h1 < 10 m (section 4.2): Dh1 and D20 at the required frequency; E' of (11c) as the SG3
  reference computes it (``_p1546_curves._EQ11C_LOG_2``, the one place we knowingly differ from
  the text, by up to 2.7 dB); E'' from equation (9).
* D06 (section 18): h1 limited to >= 0 m and D06 to >= 0.001 km.
* Receiver (section 9): R' (equation (27)) limited to >= 1 m (warned); below 10 m the urban
  correction is reduced by Kh2 log10(10/R'). "Rural" uses R' = 10 m (warned if r2_m differs).
  r2_m = None takes 10 m rural/suburban/sea, 20 m urban, 30 m dense urban.
* Terrain clearance angle (section 11): tca limited to 0.55..40 degrees, applied also for a
  receiver at sea (warned), as the SG3 results do.
* Tropospheric scatter (section 13): theta_s = theta_e + eff1 + eff2, not below 0; N0 = 325.
* Transmitter clutter (section 10): -J(nu), nu = 0.0108 sqrt(f) sign(R1 - ha) sqrt(|R1 - ha|
  |arctan((R1 - ha)/27)|) (angle in degrees).
* Paths shorter than 1 km (section 15): steps 5-16 at 1 km, then log-slope-distance interpolation
  down to the free-space value at 0.04 km; without ha_m the slope uses h1 (warned).
* Location variability (section 12): E(q) = E(50 %) + Qi(q/100) sigma_L; with terrain data
  (wa_m given, as for profiles: 500 m) sigma_L = (0.024 f_GHz + 0.52) wa^0.28 (34); without,
  the area's standard deviation: 12 dB rural, 10 dB suburban, 8 dB urban and dense urban
  (the SG3 reference's values); 0 dB for receivers at sea.

Why each region was off before (600 reference cases; before: 127 within 1e-3 dB):

* h1 < 10 m (negative and small, up to 25 dB): the troposcatter floor was applied with unknown
  angles taken as 0 and lifted weak fields; Emax also limited land values below 10 m.
* f < 100 MHz (4-8 dB): the same troposcatter floor on long paths, and the sea method of (15)
  ran only on all-sea paths with a per-kind Emax.
* 600-850 km (2-11 dB): the troposcatter floor (theta1 = theta2 = 0) exceeded the curves.
* q != 50 %: equation (34) with wa = 500 m (about 4 dB) instead of the no-terrain 8/10/12 dB.
* Short paths, high antennas (0.2-0.7 dB): the slope correction ran with ha = h1 when ha was unknown.
* Sea, warm, cold, mixed: mixed paths used the full land or sea Emax per kind instead of the
  mixed Emax, "Sea" beside "Warm" read warm curves, h1 of mixed paths was floored at 3 m, and
  sea h1 < 10 m used (11b) for E'' of (11c) and the nominal frequency in D06.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, NDArray

from coordination.propagation._p1546_curves import (
    KIND_COLD,
    KIND_LAND,
    KIND_WARM,
    Points,
    d06_km,
    field_of_kind,
    mixed_path,
)
from coordination.propagation._p1546_math import (
    free_space_limit_dbuv_m,
    inv_cum_normal,
    knife_edge_loss_db,
    sea_enhancement_db,
)
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
    "field_strength_paths",
    "field_strength_profile",
    "field_strength_steps",
    "location_sigma_db",
    "read_profile",
]

log = logging.getLogger(__name__)

AREAS = ("Rural", "Suburban", "Urban", "Dense Urban", "Sea")
PATH_TYPES = ("Land", "Sea", "Warm", "Cold")
_AREA_RURAL, _AREA_SEA = AREAS.index("Rural"), AREAS.index("Sea")

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
    "e_troposcatter_dbuv_m",     # step 13 (section 13); -inf when the terminal angles are unknown
    "r2_modified_m",             # R' of step 14 (equation (27)); 10 m for rural and sea receivers
    "rx_height_correction_db",   # step 14 (section 9)
    "tx_clutter_correction_db",  # step 15 (section 10)
    "slope_correction_db",       # step 16 (section 14)
    "e_dbuv_m",                  # final field strength for 1 kW e.r.p.
)

#: Section 9: default representative clutter heights R (m) per area (index of AREAS) when r2_m is None.
_DEFAULT_R2_M = np.array([10.0, 10.0, 20.0, 30.0, 10.0])
#: Section 12 without terrain data: location standard deviation sigma_L (dB) per area (index of AREAS).
_SIGMA_NO_TERRAIN_DB = np.array([12.0, 10.0, 8.0, 8.0, 0.0])

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]
BoolArray = NDArray[np.bool_]


# --------------------------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------------------------


class _Notes:
    """Implementer notes of one call, each logged once when the call ends (not once per point)."""

    def __init__(self) -> None:
        self._messages: dict[str, None] = {}

    def add(self, message: str) -> None:
        self._messages.setdefault(message, None)

    def flush(self) -> None:
        for message in self._messages:
            log.warning("%s", message)
        self._messages.clear()


def _check_range(name: str, value: FloatArray, lo: float, hi: float, unit: str) -> None:
    bad = ~(np.isfinite(value) & (value >= lo) & (value <= hi))
    if bad.any():
        first = float(value[np.argmax(bad)])
        raise ValueError(f"{name} = {first!r} is outside the P.1546-6 range {lo:g} to {hi:g} {unit}")


def _check_positive(name: str, value: FloatArray, what: str) -> None:
    bad = ~(np.isfinite(value) & (value > 0.0))
    if bad.any():
        raise ValueError(f"{name} = {float(value[np.argmax(bad)])!r} must be {what}")


def _area_codes(area: str | Sequence[str], n: int) -> IntArray:
    names = [area] if isinstance(area, str) else list(area)
    for name in names:
        if name not in AREAS:
            raise ValueError(f"area = {name!r} is unknown: allowed {', '.join(AREAS)}")
    codes = np.array([AREAS.index(name) for name in names], dtype=np.intp)
    if codes.size not in (1, n):
        raise ValueError(f"area has {codes.size} entries for {n} points: give one area or one per point")
    return np.full(n, codes[0], dtype=np.intp) if codes.size == 1 else codes


def _check_distances(d_km: FloatArray, name: str) -> None:
    if d_km.size == 0:
        raise ValueError(f"{name} is empty: give at least one distance in km (range > 0 to {D_MAX_KM:g} km)")
    bad = ~np.isfinite(d_km) | (d_km <= 0.0)
    if bad.any():
        first = float(d_km[np.argmax(bad)])
        raise ValueError(f"{name} contains {first!r}: distances must be > 0 km (range > 0 to {D_MAX_KM:g} km)")


@dataclass(frozen=True)
class _Inputs:
    """Validated per-point inputs of the procedure (arrays of one length n)."""

    f_mhz: FloatArray
    t_pct: FloatArray
    heff_m: FloatArray
    h2_m: FloatArray
    r2_m: FloatArray          # NaN: the area's default clutter height
    area: IntArray            # index into AREAS
    q_pct: FloatArray
    erp_kw: FloatArray
    d_km: FloatArray          # total path length
    d_land_km: FloatArray
    d_cold_km: FloatArray     # sea zones read on the cold-sea curves below 50 % time ("Sea", "Cold")
    d_warm_km: FloatArray     # sea zones read on the warm-sea curves ("Warm"; "Cold" beside "Warm")
    single_zone: BoolArray    # the path is one zone (section 3.3 applies to an all-sea one)


def _inputs(f_mhz: ArrayLike, t_pct: ArrayLike, heff_m: ArrayLike, h2_m: ArrayLike, r2_m: ArrayLike | None,
            area: str | Sequence[str], q_pct: ArrayLike, erp_kw: ArrayLike, d_km: FloatArray, d_land: FloatArray,
            d_cold: FloatArray, d_warm: FloatArray, single_zone: BoolArray) -> _Inputs:
    n = d_km.size

    def per_point(name: str, value: ArrayLike) -> FloatArray:
        arr = np.asarray(value, dtype=np.float64).ravel()
        if arr.size not in (1, n):
            raise ValueError(f"{name} has {arr.size} values for {n} points: give one value or one per point")
        return np.full(n, arr[0]) if arr.size == 1 else arr

    f, t, q = per_point("f_mhz", f_mhz), per_point("t_pct", t_pct), per_point("q_pct", q_pct)
    heff, h2, erp = per_point("heff_m", heff_m), per_point("h2_m", h2_m), per_point("erp_kw", erp_kw)
    r2 = per_point("r2_m", np.nan if r2_m is None else r2_m)
    _check_range("f_mhz", f, F_MIN_MHZ, F_MAX_MHZ, "MHz")
    _check_range("t_pct", t, T_MIN_PCT, T_MAX_PCT, "%")
    _check_range("q_pct", q, Q_MIN_PCT, Q_MAX_PCT, "%")
    codes = _area_codes(area, n)
    bad = ~(np.isfinite(heff) & (heff <= H1_MAX_M))
    if bad.any():
        raise ValueError(f"heff_m = {float(heff[np.argmax(bad)])!r} must be a finite height of at most {H1_MAX_M:g} m")
    _check_positive("h2_m", h2, "a receiving antenna height above 0 m (range 1 to 3000 m)")
    _check_positive("erp_kw", erp, "a positive e.r.p. in kW")
    return _Inputs(f, t, heff, h2, r2, codes, q, erp, d_km, d_land, d_cold, d_warm, single_zone)


# --------------------------------------------------------------------------------------------
# corrections: steps 12 to 19
# --------------------------------------------------------------------------------------------


def _tca_correction(f_mhz: FloatArray, tca_deg: float) -> FloatArray:
    """Section 11, equations (31)-(32): J(nu') - J(nu) with tca limited to 0.55..40 degrees."""
    tca = min(max(tca_deg, 0.55), 40.0)
    sqrt_f = np.sqrt(f_mhz)
    return knife_edge_loss_db(0.036 * sqrt_f) - knife_edge_loss_db(0.065 * tca * sqrt_f)


def _troposcatter(f_mhz: FloatArray, t_pct: FloatArray, d_km: FloatArray, theta1_deg: float,
                  theta2_deg: float) -> FloatArray:
    """Section 13, equations (35)-(36): field strength due to tropospheric scatter."""
    theta_e = np.degrees(d_km / EARTH_K_RADIUS_KM)
    theta_s = np.maximum(theta_e + theta1_deg + theta2_deg, 0.0)
    logf = np.log10(f_mhz)
    lf = 5.0 * logf - 2.5 * (logf - 3.3) ** 2
    return (24.4 - 20.0 * np.log10(d_km) - 10.0 * theta_s - lf + 0.15 * N0_N_UNITS
            + 10.1 * (-np.log10(0.02 * t_pct)) ** 0.7)


def _rx_height_correction(inp: _Inputs, h1_m: FloatArray, d_km: FloatArray,
                          notes: _Notes) -> tuple[FloatArray, FloatArray]:
    """Section 9, equations (27)-(29): receiving antenna height and clutter correction, and R' (m)."""
    f, h2, area = inp.f_mhz, inp.h2_m, inp.area
    k_h2 = 3.2 + 6.2 * np.log10(f)
    c10 = k_h2 * np.log10(h2 / 10.0)          # (28b) with R' = 10 m: rural receivers, and at sea for h2 >= 10 m
    corr = c10.copy()
    r_mod = np.full(f.shape, 10.0)
    sea = area == _AREA_SEA
    sea_low = sea & (h2 < 10.0)
    if sea_low.any():
        # Section 9 (receiver adjacent to sea, h2 < 10 m): 0.6 Fresnel-clearance distances.
        d10 = d06_km(f, h1_m, 10.0)
        dh2 = d06_km(f, h1_m, h2)
        with np.errstate(divide="ignore", invalid="ignore"):
            mid = c10 * np.log10(d_km / dh2) / np.log10(d10 / dh2)
        corr = np.where(sea_low, np.where(d_km >= d10, c10, np.where(d_km <= dh2, 0.0, mid)), corr)
    rural = area == _AREA_RURAL
    if (rural & np.isfinite(inp.r2_m) & (inp.r2_m != 10.0)).any():
        notes.add("P.1546 section 9: rural receivers use R' = 10 m; the r2_m given is not used")
    urban = ~(sea | rural)
    if urban.any():
        r = np.where(np.isfinite(inp.r2_m), inp.r2_m, _DEFAULT_R2_M[area])
        r_u = (1000.0 * d_km * r - 15.0 * h1_m) / (1000.0 * d_km - 15.0)       # (27)
        if (urban & (r_u < 1.0)).any():
            notes.add("P.1546 section 9: modified clutter height R' below 1 m raised to 1 m")
        r_u = np.maximum(r_u, 1.0)
        h_dif = r_u - h2
        theta_clut = np.degrees(np.arctan(h_dif / 27.0))
        nu = 0.0108 * np.sqrt(f) * np.sqrt(np.maximum(h_dif * theta_clut, 0.0))
        with np.errstate(divide="ignore"):
            c_u = np.where(h2 < r_u, 6.03 - knife_edge_loss_db(nu), k_h2 * np.log10(h2 / r_u))   # (28a), (28b)
        # The curves are for R = 10 m: below it the correction is reduced by Kh2 log10(10/R').
        c_u = c_u - np.where(r_u < 10.0, k_h2 * np.log10(10.0 / r_u), 0.0)
        corr = np.where(urban, c_u, corr)
        r_mod = np.where(urban, r_u, r_mod)
    return corr, r_mod


def _tx_clutter_correction(f_mhz: FloatArray, r1_m: float, ha_m: FloatArray) -> FloatArray:
    """Section 10, equation (30): loss by clutter of height R1 around the transmitting antenna."""
    h_dif = r1_m - ha_m
    theta_clut = np.degrees(np.arctan(h_dif / 27.0))
    nu = 0.0108 * np.sqrt(f_mhz) * np.sign(h_dif) * np.sqrt(np.abs(h_dif * theta_clut))
    return -knife_edge_loss_db(nu)


def location_sigma_db(f_mhz: float, wa_m: float = WA_M) -> float:
    """Section 12, equation (34): location variability sigma_L = (0.024 f_GHz + 0.52) wa^0.28 dB."""
    return (0.024 * f_mhz / 1000.0 + 0.52) * wa_m**0.28


def _location_sigma(inp: _Inputs, wa_m: float | None) -> FloatArray:
    """Section 12: sigma_L per point; 0 dB for receivers at sea (no location variability there)."""
    if wa_m is None:
        # No terrain data: the area's standard deviation (table _SIGMA_NO_TERRAIN_DB).
        return _SIGMA_NO_TERRAIN_DB[inp.area]
    sigma = (0.024 * inp.f_mhz / 1000.0 + 0.52) * float(wa_m) ** 0.28        # (34)
    return np.where(inp.area == _AREA_SEA, 0.0, sigma)


# --------------------------------------------------------------------------------------------
# the whole procedure on arrays
# --------------------------------------------------------------------------------------------


def _h1(inp: _Inputs, ha_m: float | None, hb_m: float | None, notes: _Notes) -> FloatArray:
    """Section 3: the transmitting/base antenna height h1 used by the curves, per point."""
    heff, d = inp.heff_m, inp.d_km
    all_sea = inp.d_land_km <= 0.0
    sea_path = all_sea & inp.single_zone
    # Sections 3.1-3.2 on land and on every path of several zones (section 8: the sea surface is
    # taken as though land); equations (4)-(5) with ha, (6) with hb, (7) from 15 km on.
    h_short = hb_m if hb_m is not None else ha_m
    if h_short is None:
        if (~sea_path & (d < 15.0)).any():
            notes.add("P.1546 section 3.1: path shorter than 15 km without ha_m/hb_m (no terrain data): "
                      "h1 = heff")
        h1 = heff
    else:
        h_near = np.where(d <= 3.0, h_short, h_short + (heff - h_short) * (d - 3.0) / 12.0)
        h1 = np.where(d < 15.0, h_near, heff)
    # Section 3.3: on an all-sea path h1 is the height above the sea, not reliable below 3 m.
    low = sea_path & (heff < 3.0)
    if low.any():
        notes.add("P.1546 section 3.3: h1 below 3 m on a sea path raised to 3 m")
    return np.where(sea_path, np.maximum(heff, 3.0), h1)


def _curves(inp: _Inputs, h1: FloatArray, d_calc: FloatArray, emax: FloatArray, notes: _Notes) -> FloatArray:
    """Steps 5-11: each propagation type on the points that have it, then the mixed-path rule."""
    pts = Points(inp.f_mhz, inp.t_pct, d_calc, emax)
    n = d_calc.size
    h1_sea = h1
    if ((inp.d_cold_km + inp.d_warm_km > 0.0) & (h1 <= 0.0)).any():
        # Section 4.2 has no sea field for h1 <= 0 (log(h1/10) in (11c)); section 8 gives the sea
        # part of a mixed path h1 = 3 m when h1 < 3 m. For 0 < h1 < 3 m we keep h1, as the SG3 reference.
        notes.add("P.1546 section 8: h1 <= 0 m on the sea zones of a path: their field uses h1 = 3 m")
        h1_sea = np.where(h1 <= 0.0, 3.0, h1)
    fields = {}
    for kind, length in ((KIND_LAND, inp.d_land_km), (KIND_COLD, inp.d_cold_km), (KIND_WARM, inp.d_warm_km)):
        has = length > 0.0
        h1_kind = h1 if kind == KIND_LAND else h1_sea
        if has.all():
            fields[kind] = field_of_kind(kind, h1_kind, pts)
        elif has.any():
            sel = np.nonzero(has)[0]
            e = np.zeros(n)
            e[sel] = field_of_kind(kind, h1_kind[sel], pts.take(sel))
            fields[kind] = e
        else:
            fields[kind] = np.zeros(n)
    d_sea = inp.d_cold_km + inp.d_warm_km
    if not (d_sea > 0.0).any():
        return fields[KIND_LAND]
    with np.errstate(divide="ignore", invalid="ignore"):
        # Section 8: a sea made of cold and warm zones counts each by its length.
        e_sea = (fields[KIND_COLD] * inp.d_cold_km + fields[KIND_WARM] * inp.d_warm_km) / d_sea
    e_mixed = mixed_path(fields[KIND_LAND], e_sea, d_sea / inp.d_km)
    return np.where(d_sea <= 0.0, fields[KIND_LAND], np.where(inp.d_land_km <= 0.0, e_sea, e_mixed))


def _predict(inp: _Inputs, *, ha_m: float | None, hb_m: float | None, r1_m: float | None, tca_deg: float | None,
             htter_m: float | None, hrter_m: float | None, eff1_deg: float | None, eff2_deg: float | None,
             wa_m: float | None, notes: _Notes, steps: dict[str, FloatArray] | None = None) -> FloatArray:
    """Steps 1-19 for 1 kW e.r.p. at every point of ``inp``.

    When ``steps`` is a dict it receives the intermediate values (names in :data:`STEP_NAMES`).
    """
    trace = steps if steps is not None else {}
    d = inp.d_km
    d_calc = np.maximum(d, 1.0)
    h1 = _h1(inp, ha_m, hb_m, notes)
    d_sea = inp.d_cold_km + inp.d_warm_km
    # Step 19's maximum (section 2), for mixed paths interpolated by the sea fraction: the limit
    # every step applies; with ha known it is taken at the slope distance of section 14.
    emax = free_space_limit_dbuv_m(d) + d_sea / d * sea_enhancement_db(d, inp.t_pct)
    dh_km = None
    if ha_m is not None:
        dh_km = 1e-3 * ((ha_m + (htter_m or 0.0)) - (inp.h2_m + (hrter_m or 0.0)))
        emax = emax + 20.0 * np.log10(d / np.sqrt(d * d + dh_km * dh_km))
    trace["h1_m"] = h1
    trace["e_max_dbuv_m"] = emax
    # Steps 5-11.
    e = _curves(inp, h1, d_calc, emax, notes)
    trace["e_curves_dbuv_m"] = e
    # Step 12: terrain clearance angle (section 11), when known.
    trace["tca_correction_db"] = np.zeros_like(e)
    if tca_deg is not None:
        if (inp.area == _AREA_SEA).any():
            notes.add("P.1546 section 11: terrain clearance angle correction applied to a receiver at sea "
                      "(as the SG3 reference results do); pass tca_deg=None to skip it")
        trace["tca_correction_db"] = _tca_correction(inp.f_mhz, tca_deg)
        e = e + trace["tca_correction_db"]
    # Step 13: tropospheric scatter (section 13) needs both terminals' clearance angles.
    trace["e_troposcatter_dbuv_m"] = np.full(e.shape, -np.inf)
    if eff1_deg is not None and eff2_deg is not None:
        trace["e_troposcatter_dbuv_m"] = _troposcatter(inp.f_mhz, inp.t_pct, d_calc, eff1_deg, eff2_deg)
        e = np.maximum(e, trace["e_troposcatter_dbuv_m"])
    # Step 14: receiving antenna height and clutter (section 9).
    trace["rx_height_correction_db"], trace["r2_modified_m"] = _rx_height_correction(inp, h1, d_calc, notes)
    e = e + trace["rx_height_correction_db"]
    # Step 15: clutter around the transmitter (section 10), when R1 and ha are known.
    trace["tx_clutter_correction_db"] = np.zeros_like(e)
    if r1_m is not None and ha_m is not None:
        trace["tx_clutter_correction_db"] = _tx_clutter_correction(inp.f_mhz, float(r1_m), np.full(e.shape, ha_m))
        e = e + trace["tx_clutter_correction_db"]
    # Step 16: slope path (section 14), when ha is known.
    trace["slope_correction_db"] = np.zeros_like(e)
    if dh_km is not None:
        trace["slope_correction_db"] = 20.0 * np.log10(d_calc / np.sqrt(d_calc * d_calc + dh_km * dh_km))
        e = e + trace["slope_correction_db"]
    # Step 17: paths shorter than 1 km (section 15).
    short = d < 1.0
    if short.any():
        if dh_km is None:
            notes.add("P.1546 section 15: path shorter than 1 km without ha_m: slope distances taken with ha = h1")
            dh = 1e-3 * (h1 - inp.h2_m)
        else:
            dh = np.broadcast_to(dh_km, d.shape)
        d_slope = np.sqrt(d * d + dh * dh)
        d_inf = np.sqrt(0.04 * 0.04 + dh * dh)
        d_sup = np.sqrt(1.0 + dh * dh)
        e_inf = free_space_limit_dbuv_m(d_inf)
        e_short = e_inf + (e - e_inf) * np.log10(d_slope / d_inf) / np.log10(d_sup / d_inf)     # (38)
        e_short = np.where(d <= 0.04, free_space_limit_dbuv_m(d_slope), e_short)
        e = np.where(short, e_short, e)
    # Step 18: location variability (section 12), equation (33).
    if (inp.q_pct != 50.0).any():
        e = e + inv_cum_normal(inp.q_pct / 100.0) * _location_sigma(inp, wa_m) * (inp.q_pct != 50.0)
    # Step 19: the maximum field strength.
    trace["e_dbuv_m"] = np.minimum(e, emax)
    return trace["e_dbuv_m"]


# --------------------------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------------------------


def _zone_lengths(zones: FloatArray, types: Sequence[str]) -> tuple[float, float, float]:
    """(land, cold-curve sea, warm-curve sea) lengths of one path's zones (section 8)."""
    if len(types) != zones.size:
        raise ValueError(f"path_types has {len(types)} entries but d_km has {zones.size}: give one type per zone")
    for kind in types:
        if kind not in PATH_TYPES:
            raise ValueError(f"path type {kind!r} is unknown: allowed {', '.join(PATH_TYPES)}")
    _check_distances(zones, "d_km")
    warm_present = "Warm" in types
    land = cold = warm = 0.0
    for length, kind in zip(zones.tolist(), types):
        if kind == "Land":
            land += length
        elif kind == "Warm" or (kind == "Cold" and warm_present):
            # Section 8: a path with cold and warm sea zones counts all its cold sea as warm sea.
            warm += length
        else:
            # "Cold", and "Sea" without a stated climate: the cold-sea curves of 10 % and 1 % of time
            # (figures 5-6, 13-14, 21-22), the SG3 reference's default; at 50 % one sea curve serves all.
            cold += length
    return land, cold, warm


def _sea_notes(types: Sequence[str], t_pct: FloatArray, notes: _Notes) -> None:
    if "Warm" in types and "Cold" in types:
        notes.add("P.1546 section 8: path with warm and cold sea zones reads its cold zones on the warm-sea curves")
    if "Sea" in types and np.any(t_pct < 50.0):
        notes.add("P.1546: sea zone of kind 'Sea' below 50 % of time uses the cold-sea curves; give 'Warm' or 'Cold'")


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
    wa_m: float | None = None,
) -> tuple[float, float]:
    """Field strength (dBuV/m for erp_kw) and equivalent basic transmission loss Lb (dB) of one path.

    d_km and path_types list the zones from the transmitter ("Land", "Sea", "Warm", "Cold").
    area is the receiver's environment ("Rural", "Suburban", "Urban", "Dense Urban", "Sea");
    r2_m its representative clutter height (None: the Recommendation's example for the area).
    wa_m is the width of the square area of the location variability (section 12) when terrain
    data describe the receiver's surroundings; None (no terrain data) uses the area's standard deviation.
    Raises ValueError for inputs outside the Recommendation's ranges.
    """
    e, lb = field_strength_paths(f_mhz, t_pct, heff_m, h2_m, r2_m, area, [d_km], [path_types], q_pct=q_pct,
                                 erp_kw=erp_kw, ha_m=ha_m, hb_m=hb_m, r1_m=r1_m, tca_deg=tca_deg, htter_m=htter_m,
                                 hrter_m=hrter_m, eff1_deg=eff1_deg, eff2_deg=eff2_deg, wa_m=wa_m)
    return float(e[0]), float(lb[0])


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
    A step that does not apply reports 0 dB (corrections) or -inf (the troposcatter floor).
    """
    steps: dict[str, FloatArray] = {}
    field_strength_paths(f_mhz, t_pct, heff_m, h2_m, r2_m, area, [d_km], [path_types], steps=steps,
                         **kwargs)  # type: ignore[arg-type]
    return {name: float(steps[name][0]) for name in STEP_NAMES}


def field_strength_paths(
    f_mhz: ArrayLike,
    t_pct: ArrayLike,
    heff_m: ArrayLike,
    h2_m: ArrayLike,
    r2_m: ArrayLike | None,
    area: str | Sequence[str],
    d_km: Sequence[Sequence[float]],
    path_types: Sequence[Sequence[str]],
    *,
    q_pct: ArrayLike = 50.0,
    erp_kw: ArrayLike = 1.0,
    ha_m: float | None = None,
    hb_m: float | None = None,
    r1_m: float | None = None,
    tca_deg: float | None = None,
    htter_m: float | None = None,
    hrter_m: float | None = None,
    eff1_deg: float | None = None,
    eff2_deg: float | None = None,
    wa_m: float | None = None,
    steps: dict[str, FloatArray] | None = None,
) -> tuple[FloatArray, FloatArray]:
    """:func:`field_strength` for many paths at once, each with its own zones and parameters.

    d_km[i] and path_types[i] are the zones of path i (as in :func:`field_strength`). f_mhz,
    t_pct, heff_m, h2_m, r2_m (NaN: the area's default), q_pct, erp_kw and area take one value
    for all paths or one per path; the terrain inputs (ha_m ... eff2_deg) are shared.
    Returns arrays (e_dbuv_m, lb_db), one value per path.
    """
    if len(d_km) != len(path_types):
        raise ValueError(f"d_km has {len(d_km)} paths but path_types has {len(path_types)}: one zone list per path")
    if len(d_km) == 0:
        raise ValueError("d_km is empty: give at least one path")
    n = len(d_km)
    lengths = np.empty((n, 3))
    single = np.empty(n, dtype=bool)
    all_types: set[str] = set()
    zone_lists = []
    for i, (zones_i, types_i) in enumerate(zip(d_km, path_types)):
        zones = np.atleast_1d(np.asarray(zones_i, dtype=np.float64))
        types = [types_i] if isinstance(types_i, str) else list(types_i)
        lengths[i] = _zone_lengths(zones, types)
        single[i] = zones.size == 1
        all_types.update(types)
        zone_lists.append(types)
    total = lengths.sum(axis=1)
    _check_range("total path length d_km", total, 0.0, D_MAX_KM, "km")
    notes = _Notes()
    inp = _inputs(f_mhz, t_pct, heff_m, h2_m, r2_m, area, q_pct, erp_kw, total, lengths[:, 0], lengths[:, 1],
                  lengths[:, 2], single)
    for types in zone_lists:
        _sea_notes(types, inp.t_pct, notes)
    return _finish(inp, notes, steps, ha_m=ha_m, hb_m=hb_m, r1_m=r1_m, tca_deg=tca_deg, htter_m=htter_m,
                   hrter_m=hrter_m, eff1_deg=eff1_deg, eff2_deg=eff2_deg, wa_m=wa_m)


def _finish(inp: _Inputs, notes: _Notes, steps: dict[str, FloatArray] | None, **terrain: float | None
            ) -> tuple[FloatArray, FloatArray]:
    try:
        e = _predict(inp, notes=notes, steps=steps, **terrain)
    finally:
        notes.flush()
    lb = 139.3 - e + 20.0 * np.log10(inp.f_mhz)                                # (40)
    return e + 10.0 * np.log10(inp.erp_kw), lb


def field_strength_many(
    f_mhz: ArrayLike,
    t_pct: ArrayLike,
    heff_m: ArrayLike,
    h2_m: ArrayLike,
    r2_m: ArrayLike | None,
    area: str | Sequence[str],
    d_km_array: ArrayLike,
    *,
    path: str = "Land",
    q_pct: ArrayLike = 50.0,
    erp_kw: ArrayLike = 1.0,
    ha_m: float | None = None,
    hb_m: float | None = None,
    r1_m: float | None = None,
    tca_deg: float | None = None,
    htter_m: float | None = None,
    hrter_m: float | None = None,
    eff1_deg: float | None = None,
    eff2_deg: float | None = None,
    wa_m: float | None = None,
) -> tuple[FloatArray, FloatArray]:
    """Many receivers on single-zone paths, vectorised (the border-check workhorse).

    Same method and arguments as :func:`field_strength`, with every receiver on an all-``path``
    path of length d_km_array[i]. The other per-point arguments (f_mhz, t_pct, heff_m, h2_m,
    r2_m, area, q_pct, erp_kw) take one value for all points or one per point (flattened order of
    d_km_array); the terrain inputs are shared. Returns arrays (e_dbuv_m, lb_db) shaped like d_km_array.
    """
    if path not in PATH_TYPES:
        raise ValueError(f"path = {path!r} is unknown: allowed {', '.join(PATH_TYPES)}")
    d_in = np.asarray(d_km_array, dtype=np.float64)
    d = np.ascontiguousarray(d_in.ravel())
    _check_distances(d, "d_km_array")
    if np.any(d > D_MAX_KM):
        raise ValueError(f"d_km_array contains {float(d.max())!r}: outside the P.1546-6 range > 0 to {D_MAX_KM:g} km")
    zero = np.zeros_like(d)
    land, cold, warm = (d, zero, zero) if path == "Land" else (zero, zero, d) if path == "Warm" else (zero, d, zero)
    notes = _Notes()
    inp = _inputs(f_mhz, t_pct, heff_m, h2_m, r2_m, area, q_pct, erp_kw, d, land, cold, warm,
                  np.ones(d.shape, dtype=bool))
    _sea_notes([path], inp.t_pct, notes)
    e, lb = _finish(inp, notes, None, ha_m=ha_m, hb_m=hb_m, r1_m=r1_m, tca_deg=tca_deg, htter_m=htter_m,
                    hrter_m=hrter_m, eff1_deg=eff1_deg, eff2_deg=eff2_deg, wa_m=wa_m)
    return e.reshape(d_in.shape), lb.reshape(d_in.shape)


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
    wa_m: float = WA_M,
) -> ProfilePrediction:
    """Predict along an SG3 "Fryderyk_csv" path profile (file path or parsed :class:`PathProfile`).

    The measurement row ``dataset`` gives frequency, antenna heights, e.r.p. and time percentage;
    keyword arguments override them (and are required when the file has no measurement rows).
    Terrain-dependent inputs (h1 via heff/hb, land/sea zones, clutter, angles) come from the
    profile as described in :mod:`coordination.propagation.p1546_profile`; with terrain data the
    location variability uses equation (34) over a square of width wa_m.
    """
    prof = profile if isinstance(profile, PathProfile) else read_profile(profile)
    inp = prof.inputs(dataset, f_mhz=f_mhz, t_pct=t_pct, ha_m=ha_m, h2_m=h2_m, erp_kw=erp_kw)
    steps: dict[str, FloatArray] = {}
    e, lb = field_strength_paths(
        inp.f_mhz, inp.t_pct, inp.heff_m, inp.h2_m, inp.r2_m, inp.area, [inp.zone_lengths_km], [inp.zone_types],
        q_pct=q_pct, erp_kw=inp.erp_kw, ha_m=inp.ha_m, hb_m=inp.hb_m, r1_m=inp.r1_m, tca_deg=inp.tca_deg,
        htter_m=inp.htter_m, hrter_m=inp.hrter_m, eff1_deg=inp.eff1_deg, eff2_deg=inp.eff2_deg, wa_m=wa_m,
        steps=steps)
    return ProfilePrediction(float(e[0]), float(lb[0]), inp, {name: float(steps[name][0]) for name in STEP_NAMES})
