"""How far a target link's unresolved multipath may pull its correlation peak, from what one sensor can read.

Why: every link has later, weaker rays (a few hundred ns to a few us) that a 10-200 kHz signal cannot resolve;
they pull the link's correlation peak by a bias of the order of the delay spread, with a sign set by the rays'
phases. For a narrow signal the pull is the channel's group delay at the carrier, sum_k a_k d_k cos(phi_k) to
first order, and it has a long tail: where the rays nearly cancel the direct one (a fade at the carrier) the
group delay grows as a d / (1 - a). A TDOA region that states one Gaussian sigma for every link is then right
for most links and far too narrow for the few in a fade (the misses of the benchmark sit there).

What a sensor can read of its own link: a constant-envelope emission (FM, NFM, FSK) is received with the
envelope |C(f)| at its instantaneous frequency, so the envelope's ripple over the swept band
(:func:`dsp.fm_multipath.fm_multipath`) grows with the rays' strength and delay: a flat envelope is a clean
link, a rippled one a link near a fade. Whether the emission is constant-envelope is read from the strongest
sensor's recording: its envelope's kurtosis E|x|^4 / (E|x|^2)^2 is 1 for a constant envelope (1.2 at 10 dB
per sample, 1.4 at 5 dB) and 2 for a noise-like one (a digital carrier behind its pulse shaping, or noise).
Where nothing can be read (a noise-like signal, a sweep too narrow: 12.5 kHz NFM's +-2.5 kHz) the link gets
the unread term, the r.m.s. pull of the links as a whole.

Numbers (measured on the simulator's mixed rural-to-urban multipath, 8-bit ADC, 4 sensors, 10 dB, dev seeds
29500 and 59500 of bench_tdoa, never its published seeds): FM target pairs' target-side error r.m.s. 118 m at
ripple (both links together) < 0.05, 170 m at 0.05-0.1, 270 m at 0.1-0.2, 410 m at 0.2-0.4, 1 km beyond; the
links' group delay at the carrier r.m.s. ~160 m per link, 99th percentile of a pair's ~800 m.

An unread link's pull is not a Gaussian of that r.m.s.: most links are pulled a few tens of metres, the few near
a fade by up to kilometres. For the region of a noise-like target (whose links can never be read) each link's
pull is a Student t of 2 degrees of freedom and scale 80 m (:data:`UNREAD_TAIL_NU`, :data:`UNREAD_TAIL_SCALE_S`).
Fitted on the simulator's ray model itself (benchmarks/bench_link_tail.py: 40,000 links of the mixed profile, the
wideband waveform's own spectrum, peak of the correlation against the clean signal): |pull| quantiles 50/80/90/
95/98/99 % of 65 / 160 / 239 / 346 / 547 / 748 m against the t's 65 / 151 / 235 / 346 / 556 / 783 m (a t of
3 dof stops at 476 m at 99 %, a Gaussian of 160 m at 413 m); checked on the pairs of bench_tdoa's dev seeds 29500
and 59500 (232 wideband pairs at 10 dB, target side): 103 / 219 / 292 / 430 / 729 / 829 m against the model
pair's 109 / 243 / 365 / 525 / 817 / 1132 m (the model errs wide in the far tail).
"""

from __future__ import annotations

import math

import numpy as np

from dsp.fm_multipath import MIN_MULTIPATH_SAMPLES, fm_multipath

#: Envelope kurtosis below which an emission is taken for constant-envelope (1 clean, 2 noise-like).
CONSTANT_ENVELOPE_BELOW = 1.5
#: 1-sigma pull (s) of a target link whose multipath could not be read: the links' r.m.s. group delay.
UNREAD_SIGMA_S = 160.0 / 299_792_458.0
#: A read link's 1-sigma pull: LINK_SIGMA_FLOOR_S + LINK_SIGMA_PER_RIPPLE_S * ripple, at most LINK_SIGMA_MAX_S.
LINK_SIGMA_FLOOR_S = 60.0 / 299_792_458.0
LINK_SIGMA_PER_RIPPLE_S = 1400.0 / 299_792_458.0
LINK_SIGMA_MAX_S = 1200.0 / 299_792_458.0
#: An unread link of a noise-like emission: its pull as a Student t of UNREAD_TAIL_NU degrees of freedom and scale
#: UNREAD_TAIL_SCALE_S (see the module docstring), for the region; UNREAD_SIGMA_S stays its Gaussian 1-sigma in the
#: covariance (the region's shape and the fix's chi-square).
UNREAD_TAIL_NU = 2.0
UNREAD_TAIL_SCALE_S = 80.0 / 299_792_458.0


def envelope_kurtosis(x: np.ndarray) -> float:
    """E|x|^4 / (E|x|^2)^2 of a recording: 1 for a constant envelope, 2 for complex Gaussian (nan if empty)."""
    p = np.abs(np.asarray(x, dtype=np.complex128)) ** 2
    m2 = float(p.mean()) if p.size else 0.0
    return float(np.mean(p * p)) / (m2 * m2) if m2 > 0 else math.nan


def is_constant_envelope(x: np.ndarray) -> bool:
    """Whether a (strong) recording carries a constant-envelope emission (see the module docstring)."""
    k = envelope_kurtosis(x)
    return math.isfinite(k) and k < CONSTANT_ENVELOPE_BELOW


def link_sigma_s(x: np.ndarray, sample_rate_hz: float, *, constant_envelope: bool,
                 unread_sigma_s: float = UNREAD_SIGMA_S) -> float:
    """1-sigma (s) of the multipath pull of the link that recording ``x`` came through (uncorrected).

    ``constant_envelope``: the emission is (from :func:`is_constant_envelope` on the strongest sensor); without,
    or when the envelope does not sweep a band wide enough to read (:func:`dsp.fm_multipath.fm_multipath`),
    ``unread_sigma_s``."""
    x = np.asarray(x)
    if not constant_envelope or x.size < MIN_MULTIPATH_SAMPLES:
        return unread_sigma_s
    ripple = fm_multipath(x, sample_rate_hz).ripple
    if not math.isfinite(ripple):
        return unread_sigma_s
    return min(LINK_SIGMA_MAX_S, LINK_SIGMA_FLOOR_S + LINK_SIGMA_PER_RIPPLE_S * ripple)
