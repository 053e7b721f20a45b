"""How far a link's multipath pulls the correlation peak of a constant-envelope FM broadcast, from its envelope.

Why: the TDOA chain aligns each dongle's clock on an FM broadcaster, and the broadcaster reaches every sensor
through that sensor's own later, weaker rays (a few hundred ns to a few us late). The FM programme's
correlation is broad (its r.m.s. bandwidth is its deviation's, some 20 kHz, not its 180 kHz occupied band),
so those rays move each link's peak by 100-400 m; the pair's clock map inherits the difference of two such
pulls. No correlation between two sensors can see it: both carry a pull of their own.

What one sensor can see: the broadcast is sent with a constant envelope, so the envelope it receives is the
channel's gain at the instantaneous frequency, |C(f_i(t))| (quasi-static: a ray's few us are short against the
programme's ~70 us swings of f_i). The discriminator gives f_i(t), so ln |y|^2 against f_i traces ln |C(f)|^2
over the swept band. To first order in weak rays (amplitude a_k, excess delay d_k, carrier phase phi_k)

    ln C(f) ~ sum_k a_k exp(j (phi_k - 2 pi f d_k)),
    pull of the peak      ~  sum_k a_k d_k cos phi_k,
    curvature of ln|C|^2  =  -(2 pi)^2 sum_k a_k d_k^2 cos phi_k,

so the curvature carries the pull's sign and size, scaled by an effective excess delay (``EFFECTIVE_DELAY_S``).
The slope carries the sine part, which does not move the peak. The pull is taken as -curvature / ((2 pi)^2 D)
and removed; what remains is stated as a 1-sigma that grows with the envelope's ripple (the part of ln|y|^2
the fit explains): strong multipath (a ray near the direct one's level, notches in the band) breaks the
first-order model, so above ``CORRECT_BELOW_RIPPLE`` nothing is corrected and the sigma is wide.

Where the numbers come from (measured, not derived): the simulator's mixed rural-to-urban multipath (COST 207
rural / typical urban tap delays, P.1407 delay spreads), 8-bit ADC, on 120 reference links (dev seeds
61000-61119) and checked on 120 others (63000-63119): the fitted effective delay is 3.0 us (first-order theory
with that delay profile gives ~2.3 us; the correlation weighs the band's edges more than the first-order
expansion does); the links' pull RMS 193 m -> 169 m after correction, median |pull| 86 -> 52 m; residual RMS
~30 m at ripple < 0.05, ~65 m at 0.05-0.1, ~200 m at 0.1-0.2, ~350 m beyond (up to 1.4 km past 0.5).
A receiver's own passband droop adds a curvature too, but the same one at every sensor of one dongle model:
it cancels in a pair.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: Effective excess delay linking the envelope's curvature to the peak's pull (s): see the module docstring.
EFFECTIVE_DELAY_S = 3.0e-6
#: Ripple (std of the fitted ln|C(f)|^2 over the recording) above which the first-order model is not trusted.
#: Was 0.15; at 0.3 the reference side of wideband pairs (the clock map's error against the renderer's true
#: clocks, dev seeds 29000+ / 49000+ of bench_tdoa at 10 dB, 40 trials each) fell from r.m.s. 191 / 253 m to
#: 142 / 207 m, median |error| 54 / 78 -> 51 / 66 m (FM pairs: 192 / 219 -> 108 / 189 m r.m.s.): a link rippled
#: 0.15-0.3 is still mostly pulled the way its curvature says. At 0.5 the r.m.s. grew again on one set (245 m).
CORRECT_BELOW_RIPPLE = 0.3
#: 1-sigma of the pull left after correction (s): a floor, growing with the ripple past RIPPLE_KNEE, at most
#: SIGMA_MAX_S (between the uncorrected pulls' RMS, 563 m, and their largest, 1.1 km, at ripple 0.3-0.5).
SIGMA_FLOOR_S = 40.0 / 299_792_458.0
RIPPLE_KNEE = 0.05
SIGMA_PER_RIPPLE_S = 2500.0 / 299_792_458.0
SIGMA_MAX_S = 900.0 / 299_792_458.0
#: 1-sigma of a pull that could not be read (too short, no sweep): the uncorrected links' RMS (193 m).
SIGMA_UNREAD_S = 200.0 / 299_792_458.0
#: Instantaneous frequency is smoothed over this long (s): the discriminator's noise, not the programme.
SMOOTH_S = 20e-6
#: Below this spread of the instantaneous frequency (Hz, 1-sigma) the band is not swept: nothing to read.
MIN_SWEEP_HZ = 5e3
#: Shortest recording read (samples): the fit has four coefficients, the programme must sweep the band.
MIN_MULTIPATH_SAMPLES = 1024
#: Frequency unit of the polynomial fit (Hz): keeps its columns of comparable size.
_F_UNIT_HZ = 25e3


@dataclass(frozen=True)
class FmMultipath:
    """One link's multipath pull of an FM broadcast's correlation peak and what is left unknown of it."""

    pull_s: float  # estimated pull (later = positive), to subtract from the link's lag; 0 when not corrected
    sigma_s: float  # 1-sigma of the pull that remains after the correction
    ripple: float  # std of the fitted ln|C(f)|^2 over the recording (0: flat channel)


def fm_multipath(x: np.ndarray, sample_rate_hz: float) -> FmMultipath:
    """The multipath pull of one sensor's recording ``x`` of a constant-envelope FM broadcast (see module)."""
    x = np.asarray(x, dtype=np.complex128)
    if x.ndim != 1 or x.size < MIN_MULTIPATH_SAMPLES:
        raise ValueError(f"an FM multipath estimate needs a 1-D recording of >= {MIN_MULTIPATH_SAMPLES} samples, "
                         f"got shape {x.shape}")
    p = np.abs(x) ** 2
    mean_p = float(p.mean())
    if not mean_p > 0:
        return FmMultipath(0.0, SIGMA_UNREAD_S, math.nan)
    p = p / mean_p
    f_hz = np.angle(x[1:] * np.conj(x[:-1])) / (2 * np.pi) * sample_rate_hz
    taps = max(1, round(SMOOTH_S * sample_rate_hz))
    f_hz = np.convolve(f_hz - f_hz.mean(), np.ones(taps) / taps, mode="same")
    if float(np.std(f_hz)) < MIN_SWEEP_HZ:
        return FmMultipath(0.0, SIGMA_UNREAD_S, math.nan)
    u = f_hz / _F_UNIT_HZ
    level = np.log(np.maximum(0.5 * (p[1:] + p[:-1]), 1e-3))  # the envelope between the two samples
    design = np.stack([np.ones_like(u), u, u * u, u * u * u], axis=1)
    beta, *_ = np.linalg.lstsq(design, level, rcond=None)
    ripple = float(np.std(design @ beta))
    curvature = float(beta[2]) / _F_UNIT_HZ**2  # of ln|C|^2, per Hz^2
    sigma = min(SIGMA_MAX_S, math.hypot(SIGMA_FLOOR_S, SIGMA_PER_RIPPLE_S * max(0.0, ripple - RIPPLE_KNEE)))
    if ripple >= CORRECT_BELOW_RIPPLE:
        return FmMultipath(0.0, sigma, ripple)
    pull = -curvature / ((2 * np.pi) ** 2 * EFFECTIVE_DELAY_S)
    pull = max(-EFFECTIVE_DELAY_S, min(EFFECTIVE_DELAY_S, pull))
    return FmMultipath(pull, sigma, ripple)
