"""Small closed-form helpers of ITU-R P.1546-6 (knife-edge loss, inverse normal, Fresnel distance).

Kept apart from the step-by-step method so each helper can be checked on its own against the
Recommendation's equations. All functions accept numpy arrays (or scalars) and broadcast.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

# Annex 5 section 16 (approximation of the inverse complementary cumulative normal distribution).
_C0, _C1, _C2 = 2.515516698, 0.802853, 0.010328
_D1, _D2, _D3 = 1.432788, 0.189269, 0.001308

#: Below this knife-edge parameter J(nu) is taken as 0 dB (equation (12a) crosses zero there).
_J_NU_MIN = -0.7806


def knife_edge_loss_db(nu: ArrayLike) -> NDArray[np.float64]:
    """J(nu), equation (12a): 6.9 + 20 log10(sqrt((nu-0.1)^2+1) + nu - 0.1), 0 dB for nu <= -0.7806."""
    nu = np.asarray(nu, dtype=np.float64)
    x = nu - 0.1
    with np.errstate(invalid="ignore", divide="ignore"):
        j = 6.9 + 20.0 * np.log10(np.sqrt(x * x + 1.0) + x)
    return np.where(nu > _J_NU_MIN, j, 0.0)


def _t_xi(x: NDArray[np.float64]) -> NDArray[np.float64]:
    t = np.sqrt(-2.0 * np.log(x))
    xi = ((_C2 * t + _C1) * t + _C0) / (((_D3 * t + _D2) * t + _D1) * t + 1.0)
    return t - xi


def inv_cum_normal(x: ArrayLike) -> NDArray[np.float64]:
    """Qi(x), the inverse complementary cumulative normal distribution (Annex 5 section 16).

    Uses the Recommendation's rational approximation (not scipy's exact inverse) because the
    time-percentage interpolation of the reference results is defined with it.
    """
    x = np.asarray(x, dtype=np.float64)
    lo = np.minimum(x, 1.0 - x)
    q = _t_xi(lo)
    return np.where(x <= 0.5, q, -q)


def fresnel_06_distance_km(f_mhz: ArrayLike, h1_m: ArrayLike, h2_m: ArrayLike) -> NDArray[np.float64]:
    """D06(f, h1, h2), Annex 5 section 18: path length with 0.6 first-Fresnel-zone clearance over sea.

    Df = 0.0000389 f h1 h2 and Dh = 4.1 (sqrt(h1) + sqrt(h2)); D06 = Df Dh / (Df + Dh).
    """
    f = np.asarray(f_mhz, dtype=np.float64)
    h1 = np.asarray(h1_m, dtype=np.float64)
    h2 = np.asarray(h2_m, dtype=np.float64)
    df = 0.0000389 * f * h1 * h2
    dh = 4.1 * (np.sqrt(h1) + np.sqrt(h2))
    return df * dh / (df + dh)


def free_space_limit_dbuv_m(d_km: ArrayLike) -> NDArray[np.float64]:
    """Efs, equation (1): free-space field strength for 1 kW e.r.p., 106.9 - 20 log10(d)."""
    return 106.9 - 20.0 * np.log10(np.asarray(d_km, dtype=np.float64))


def sea_enhancement_db(d_km: ArrayLike, t_pct: ArrayLike) -> NDArray[np.float64]:
    """Ese, equation (2): the sea-path enhancement 2.38 (1 - exp(-d/8.94)) log10(50/t)."""
    d = np.asarray(d_km, dtype=np.float64)
    return 2.38 * (1.0 - np.exp(-d / 8.94)) * np.log10(50.0 / np.asarray(t_pct, dtype=np.float64))
