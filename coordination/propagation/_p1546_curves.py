"""Steps 5-11 of P.1546-6 Annex 6 on arrays of points: curves, heights, frequency, time, mixed paths.

Why a module of its own: this is where the tabulated figures become a field strength for the
required distance, h1, frequency and time percentage, and every point of a call may carry its own
values of all of them (a border check over many stations, or the 600 reference cases in one call).
Each function therefore takes one value per point and selects per point, with numpy, the branch the
Recommendation prescribes; nothing here loops over points in Python.

All field strengths are for 1 kW e.r.p., 50 % of locations, receiving antenna at R = 10 m.
Section numbers refer to Annex 5 of Recommendation ITU-R P.1546-6.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from coordination.propagation._p1546_math import fresnel_06_distance_km, inv_cum_normal, knife_edge_loss_db
from coordination.propagation._p1546_tables import LOG_NOMINAL_H1, load_tables

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]

#: Curve families of the stacked tables: land, cold sea, warm sea (50 % of time: the sea curves).
KIND_LAND, KIND_COLD, KIND_WARM = 0, 1, 2
_F_NOM = np.array([100.0, 600.0, 2000.0])
_T_NOM = np.array([1.0, 10.0, 50.0])
_N_D, _N_H = 78, 8

#: Section 4.3, equation (12b): K_nu for the nominal frequencies 100, 600 and 2000 MHz.
_K_NU = np.array([1.35, 3.31, 6.00])
#: Section 4.2, equation (9a): Ch1neg10, the correction of equation (12) for h1 = -10 m, per nominal f.
_CH1_NEG10 = 6.03 - knife_edge_loss_db(_K_NU * math.degrees(math.atan(10.0 / 9000.0)))


#: Denominator of E' in equation (11c). The text reads log(h1/10)/log(20/10) (decimal logs, as in
#: ED20 of (11b)); the ITU-R SG3 reference implementation divides by the natural log of 2 instead,
#: and every reference case at sea with h1 < 10 m follows it (by up to 2.7 dB). We keep the
#: reference's value so that a regulator checking us with the ITU's software gets our number;
#: math.log10(2.0) here gives the text's form (test_p1546_reference_cases.py measures the
#: difference: about 30 of the 600 rows move).
_EQ11C_LOG_2 = math.log(2.0)


@functools.cache
def _flat() -> FloatArray:
    """The 24 figures as one flat array indexed ((f, t, kind) * 78 + distance) * 8 + height."""
    tabs = load_tables()
    out = np.empty((3, 3, 3, _N_D, _N_H))
    for fi, f_nom in enumerate(_F_NOM):
        for ti, t_nom in enumerate(_T_NOM):
            out[fi, ti, KIND_LAND] = tabs.table(float(f_nom), float(t_nom), "land")
            # At 50 % of time the Recommendation gives one sea family (figures 4, 12, 20).
            out[fi, ti, KIND_COLD] = tabs.table(float(f_nom), float(t_nom), "cold")
            out[fi, ti, KIND_WARM] = tabs.table(float(f_nom), float(t_nom), "warm")
    return out.ravel()


def emax_sea_dbuv_m(d_km: FloatArray, t_pct: FloatArray) -> FloatArray:
    """Section 2, equations (1b)-(3): Efs + Ese, the maximum over an all-sea path."""
    return 106.9 - 20.0 * np.log10(d_km) + 2.38 * (1.0 - np.exp(-d_km / 8.94)) * np.log10(50.0 / t_pct)


def d06_km(f_mhz: FloatArray | float, h1_m: FloatArray | float, h2_m: FloatArray | float) -> FloatArray:
    """Section 18, equation (38): D06 with h1 limited to >= 0 m and the result to >= 0.001 km."""
    return np.maximum(fresnel_06_distance_km(f_mhz, np.maximum(h1_m, 0.0), h2_m), 0.001)


@dataclass(frozen=True)
class _Distance:
    """Section 5: where each distance falls among the 78 tabulated ones (log-distance weights)."""

    index: IntArray
    weight: FloatArray

    @classmethod
    def of(cls, d_km: FloatArray) -> _Distance:
        logs = load_tables().log_distances
        logd = np.log10(d_km)
        # Below 1 km (only inside the sea methods) the first segment is extrapolated (section 5).
        i = np.clip(np.searchsorted(logs, logd, side="right") - 1, 0, _N_D - 2)
        return cls(i, (logd - logs[i]) / (logs[i + 1] - logs[i]))


@dataclass(frozen=True)
class Points:
    """Per-point inputs of steps 5-11 (arrays of one length; h1 may differ between land and sea)."""

    f_mhz: FloatArray
    t_pct: FloatArray
    d_km: FloatArray          # distance at which the curves are read (the path length, at least 1 km)
    emax_dbuv_m: FloatArray   # Emax of section 2 for the whole path (mixed-path form of step 19)

    def take(self, sel: IntArray) -> Points:
        return Points(self.f_mhz[sel], self.t_pct[sel], self.d_km[sel], self.emax_dbuv_m[sel])


def _gather(base: IntArray, dist: _Distance, col: IntArray) -> FloatArray:
    """E at the required distance for one height column of the figure whose first row is ``base``."""
    flat = _flat()
    lo = (base + dist.index) * _N_H + col
    e0 = flat[lo]
    return e0 + dist.weight * (flat[lo + _N_H] - e0)


def _nominal(kind: int, fi: IntArray, ti: IntArray, h1: FloatArray, p: Points, dist: _Distance,
             h_col: IntArray, h_w: FloatArray) -> FloatArray:
    """Step 8: field strength of one figure (nominal f index fi, t index ti) at h1 and p.d_km."""
    base = ((fi * 3 + ti) * 3 + kind) * _N_D
    e_lo = _gather(base, dist, h_col)
    e_hi = _gather(base, dist, h_col + 1)
    high = h1 >= 10.0
    # Section 4.1, equation (8): log-height interpolation (extrapolation above 1200 m), then Emax.
    e_high = np.minimum(e_lo + h_w * (e_hi - e_lo), p.emax_dbuv_m)
    if high.all():
        return e_high
    # For h1 < 10 m the columns read are h1 = 10 m (E10) and h1 = 20 m (E20).
    e10, e20 = e_lo, e_hi
    ezero = e10 + 0.5 * ((e10 - e20) + _CH1_NEG10[fi])                      # (9a), (9b)
    e_eq9 = ezero + 0.1 * h1 * (e10 - ezero)                                  # (9)
    if kind == KIND_LAND:
        # Section 4.2 (land, 0 <= h1 < 10 m): equation (9). Section 4.3 (h1 < 0): the h1 = 0 value
        # plus Ch1 = 6.03 - J(nu), nu = K_nu theta_eff2, theta_eff2 = arctan(-h1/9000) (12)-(12c):
        # case b, the only one possible without terrain data and free of a jump at h1 = 0.
        with np.errstate(invalid="ignore"):
            theta = np.degrees(np.arctan(-h1 / 9000.0))
        e_neg = ezero + 6.03 - knife_edge_loss_db(_K_NU[fi] * theta)
        e_low = np.where(h1 < 0.0, e_neg, e_eq9)
    else:
        e_low = _sea_low_h1(base, h1, p, e10, e20, e_eq9)
    return np.where(high, e_high, e_low)


def _sea_low_h1(base: IntArray, h1: FloatArray, p: Points, e10: FloatArray, e20: FloatArray,
                e_eq9: FloatArray) -> FloatArray:
    """Section 4.2 (sea, h1 < 10 m): the 0.6 Fresnel-clearance distances Dh1, D20, equations (10)-(11c).

    Dh1 and D20 are taken at the required frequency, as the SG3 reference implementation does.
    """
    d = p.d_km
    d_h1 = d06_km(p.f_mhz, h1, 10.0)                                         # (10a)
    d_20 = d06_km(p.f_mhz, 20.0, 10.0)                                       # (10b)
    with np.errstate(divide="ignore", invalid="ignore"):
        h_fac = np.log10(h1 / 10.0) / math.log10(2.0)
        at20 = _Distance.of(d_20)
        zero = np.zeros_like(base)
        e10_d20 = _gather(base, at20, zero)
        e20_d20 = _gather(base, at20, zero + 1)
        e_d20 = e10_d20 + (e20_d20 - e10_d20) * h_fac
        e_dh1 = emax_sea_dbuv_m(d_h1, p.t_pct)
        e_b = e_dh1 + (e_d20 - e_dh1) * np.log10(d / d_h1) / np.log10(d_20 / d_h1)   # (11b)
        e_prime = e10 + (e20 - e10) * np.log10(h1 / 10.0) / _EQ11C_LOG_2
        fs = (d - d_20) / d
        e_c = e_prime * (1.0 - fs) + e_eq9 * fs                                       # (11c)
    return np.where(d <= d_h1, p.emax_dbuv_m, np.where(d < d_20, e_b, e_c))          # (11a)


def _h_column(h1: FloatArray) -> tuple[IntArray, FloatArray]:
    """Section 4.1: lower nominal height column and log-height weight (column 0 for h1 < 10 m)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        logh = np.log10(np.where(h1 >= 10.0, h1, 10.0))
    j = np.clip(np.searchsorted(LOG_NOMINAL_H1, logh, side="right") - 1, 0, _N_H - 2)
    return j, (logh - LOG_NOMINAL_H1[j]) / (LOG_NOMINAL_H1[j + 1] - LOG_NOMINAL_H1[j])


def _frequency(kind: int, ti: IntArray, h1: FloatArray, p: Points, dist: _Distance, h_col: IntArray,
               h_w: FloatArray, f_lo: IntArray, f_fac: FloatArray) -> FloatArray:
    """Step 9, section 6, equation (14): log-frequency interpolation/extrapolation between nominals."""
    e_inf = _nominal(kind, f_lo, ti, h1, p, dist, h_col, h_w)
    if not f_fac.any():
        return e_inf        # every f is its lower nominal frequency: (14) returns E_inf exactly
    e_sup = _nominal(kind, f_lo + 1, ti, h1, p, dist, h_col, h_w)
    e = e_inf + (e_sup - e_inf) * f_fac
    # Extrapolation above 2000 MHz is limited to Emax (section 6).
    return np.where(p.f_mhz > 2000.0, np.minimum(e, p.emax_dbuv_m), e)


def field_of_kind(kind: int, h1: FloatArray, p: Points) -> FloatArray:
    """Steps 6-10 for one propagation type (land, cold or warm sea) at every point of ``p``."""
    f, t, d = p.f_mhz, p.t_pct, p.d_km
    dist = _Distance.of(d)
    h_col, h_w = _h_column(h1)
    # Step 3: nominal frequencies 100/600 MHz below 600 MHz, else 600/2000 MHz.
    f_lo = np.where(f < 600.0, 0, 1)
    f_fac = np.log10(f / _F_NOM[f_lo]) / np.log10(_F_NOM[f_lo + 1] / _F_NOM[f_lo])
    # Step 2: nominal time percentages 1/10 % below 10 %, else 10/50 %.
    t_lo = np.where(t < 10.0, 0, 1)
    # A nominal time needs no second curve family: (16) then weighs the other one by exactly 0.
    needed = ((t != _T_NOM[t_lo + 1]).any(), (t != _T_NOM[t_lo]).any())
    e_t = [_frequency(kind, t_lo + k, h1, p, dist, h_col, h_w, f_lo, f_fac) if needed[k] else np.zeros(d.shape)
           for k in (0, 1)]
    if kind != KIND_LAND:
        # Section 6, equations (15a)-(15b): sea paths below 100 MHz and shorter than D06(600, h1, 10)
        # use the 0.6 Fresnel-clearance method instead of the frequency extrapolation.
        d600 = d06_km(600.0, h1, 10.0)
        fresnel = (f < 100.0) & (d < d600)
        if fresnel.any():
            sel = np.nonzero(fresnel)[0]
            e_t = [e.copy() for e in e_t]
            for k in (0, 1):
                if needed[k]:
                    e_t[k][sel] = _sea_below_100mhz(kind, t_lo[sel] + k, h1[sel], p.take(sel), d600[sel])
    if not (needed[0] and needed[1]):
        return e_t[0] if needed[0] else e_t[1]
    # Step 10, section 7, equation (16): interpolation in Qi(t/100) between the nominal times.
    q_t = inv_cum_normal(t / 100.0)
    q_inf = inv_cum_normal(_T_NOM[t_lo] / 100.0)
    q_sup = inv_cum_normal(_T_NOM[t_lo + 1] / 100.0)
    return e_t[1] * (q_inf - q_t) / (q_inf - q_sup) + e_t[0] * (q_t - q_sup) / (q_inf - q_sup)


def _sea_below_100mhz(kind: int, ti: IntArray, h1: FloatArray, p: Points, d600: FloatArray) -> FloatArray:
    """Equations (15a)-(15b): Emax up to df, then log-distance towards E(d600) at the required f."""
    d_f = d06_km(p.f_mhz, h1, 10.0)
    at600 = Points(p.f_mhz, p.t_pct, d600, p.emax_dbuv_m)
    dist600 = _Distance.of(d600)
    h_col, h_w = _h_column(h1)
    f_lo = np.zeros(h1.shape, dtype=np.intp)          # f < 100 MHz: extrapolation from 100 and 600 MHz
    f_fac = np.log10(p.f_mhz / 100.0) / math.log10(6.0)
    e_d600 = _frequency(kind, ti, h1, at600, dist600, h_col, h_w, f_lo, f_fac)
    e_df = emax_sea_dbuv_m(d_f, p.t_pct)
    with np.errstate(divide="ignore", invalid="ignore"):
        e_mid = e_df + (e_d600 - e_df) * np.log10(p.d_km / d_f) / np.log10(d600 / d_f)
    return np.where(p.d_km <= d_f, p.emax_dbuv_m, e_mid)


def mixed_path(e_land: FloatArray, e_sea: FloatArray, sea_fraction: FloatArray) -> FloatArray:
    """Step 11, section 8, equations (17)-(19): land/sea combination by the sea fraction."""
    a0 = 1.0 - (1.0 - sea_fraction) ** (2.0 / 3.0)                           # (18)
    v = np.maximum(1.0, 1.0 + (e_sea - e_land) / 40.0)                         # (19)
    a = a0**v
    return (1.0 - a) * e_land + a * e_sea                                      # (17)
