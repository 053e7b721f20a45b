"""ITU-R SM.443 99 % bandwidth of one emission against its noise floor, right at low SNR too.

The power-sum method sums an emission's power bin by bin and cuts beta / 2 = 0.5 % from each side. On
a measured spectrum every bin also holds noise. Subtracting the floor leaves that noise zero-mean, but
clipping the difference at zero ("power cannot be negative") turns it into power: with K averaged
segments a noise bin's clipped excess averages 0.4 floor / sqrt(K), and summed over the dozens of bins
of a skirt that outweighs keying sidebands or audio lines 20-30 dB under the peak. The measured
bandwidth then grows with the noise (an OOK remote at 10 dB SNR read 10.2 kHz for 4.3 kHz).

Here the excess (power minus floor) stays signed, and the span it is summed over stops where the
excess beyond it is no longer significant: walking outward from the detected core, the extent grows
to the end of each block of bins whose summed excess exceeds ``z`` times its standard deviation, and
stops when no such block starts within ``max_gap_bins`` (a block ending more than ``NEAR_BINS`` past
the edge must reach ``EXTENT_Z_FAR``: the more bins a walk has tried, the likelier noise alone crossed).
The deviation of a sum of W bins is ``floor * sqrt(W * BLOCK_VARIANCE / K)`` (a Welch average of K
Hann segments at 50 % overlap: one bin varies as floor^2 * 1.06 / K, and neighbouring Hann bins are
correlated, so W bins vary as about 2 W independent ones; measured 1.9-2.4 for W = 5-50).

A skirt does not end where it stops being significant: it goes on under the noise. The sum therefore
runs ``APRON`` of the extent's width further on each side. The signed excess there is unbiased (noise
adds as much as it takes), so the tail just past the edge counts, at the price of the noise of those
bins (a deviation of sqrt(2 W / K) floor-bins for W bins): the apron is cut short where that noise would
reach ``APRON_NOISE`` of the beta / 2 of power each cut is placed at. On a keyed spectrum falling as f^-4, 10 dB
over the floor at the top, K = 54: the extent alone reads 0.74 of the 99 % bandwidth, with the apron
0.88; clipping read 1.29. What lies further out is not measured: the 99 % bandwidth is then that of the
part that stands out of the noise (a little narrow), never noise counted as sidebands.
A carrier narrower than a bin (CW) is not resolved: what the spectrum shows is the analysis window's
response (ITU-R SM.328), whose steep main lobe makes each 0.5 % cut ride on the noise of the bins past
it. When an emission's extent is a few bins and the Hann response of one line fits its excess to the
noise, its 99 % bandwidth is the fitted response's (:func:`unresolved_line_obw_hz`).
The x-dB bandwidth is measurable only where the level x dB under the peak stands clear of the noise
(:func:`xdb_measurable`); below that SNR it is reported as not measurable, not as a number.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: Variance of a sum of W noise bins (Welch, Hann, 50 % overlap), in units of W floor^2 / K.
BLOCK_VARIANCE = 2.0
#: Significance (standard deviations) of a block of excess that extends an emission's extent: a block
#: of up to NEAR_BINS bins next to the edge, and a block that ends further out.
EXTENT_Z = 2.0
EXTENT_Z_FAR = 3.5
NEAR_BINS = 4
#: Share of the significant extent's width the sum runs on past each of its edges (the skirt under the noise).
APRON = 0.3
#: ... as long as the noise summed over it stays under this share of the power each 99 % cut is at.
APRON_NOISE = 0.5
#: An emission whose significant extent (with its apron) spans at most this many bins may be a line narrower
#: than a bin (the Hann main lobe is 4 bins; a noise block far out can stretch a carrier's extent to 28)...
LINE_MAX_BINS = 40
#: ... judged on that extent and at least the bins this far either side of its peak (the main lobe and two
#: sidelobes): a resolved emission's sidebands in the extent refuse the fit
LINE_FIT_BINS = 4
#: Noise bins in a Welch average of K segments stay under floor * (1 + XDB_CLEAR_SIGMAS / sqrt(K)).
XDB_CLEAR_SIGMAS = 4.0


@dataclass(frozen=True)
class SpanPower:
    """Signed excess power of one emission over its significant extent (bins lo..hi inclusive)."""

    lo: int
    hi: int
    power: float  # summed excess (linear, the spectrum's unit); <= 0 when nothing stands out
    center_hz: float  # excess-weighted centre
    obw_hz: float  # SM.443 99 % bandwidth of the excess within lo..hi


def significant_extent(excess: np.ndarray, sigma: np.ndarray, a: int, b: int, lo_lim: int, hi_lim: int, *,
                       z: float | None = None, max_gap_bins: int = 32) -> tuple[int, int]:
    """Bins lo..hi: the core a..b widened over every block of excess beyond it that is significant.

    excess: power minus floor per bin (signed); sigma: the standard deviation of one bin's excess as a
    member of a block (floor * sqrt(BLOCK_VARIANCE / K)). Outward from the current edge, bins are summed
    until the sum exceeds z * sqrt(sum of sigma^2): the edge moves there and the sum restarts; after
    ``max_gap_bins`` bins without that, or at lo_lim / hi_lim, the edge stays.
    """
    if not (0 <= lo_lim <= a <= b <= hi_lim < excess.size):
        raise ValueError(f"need 0 <= lo_lim <= a <= b <= hi_lim < bins, got {lo_lim}, {a}, {b}, {hi_lim}, "
                         f"{excess.size}")
    z = EXTENT_Z if z is None else z
    z_far = max(z, EXTENT_Z_FAR)
    var = sigma * sigma

    def walk(start: int, stop: int, step: int) -> int:
        edge, s, v, j = start, 0.0, 0.0, start
        while j != stop:
            j += step
            s += float(excess[j])
            v += float(var[j])
            # a few bins past the edge (a skirt going on) at z; further out (a line beyond a gap) at z_far:
            # a walk of dozens of noise bins crosses 2 sigma somewhere one time in three
            if s > (z if abs(j - edge) <= NEAR_BINS else z_far) * math.sqrt(v):
                edge, s, v = j, 0.0, 0.0
            elif abs(j - edge) > max_gap_bins:
                break
        return edge

    return walk(a, lo_lim, -1), walk(b, hi_lim, 1)


def signed_obw_hz(freqs_hz: np.ndarray, excess: np.ndarray, beta: float = 0.01) -> float:
    """Width holding (1 - beta) of the summed signed excess, beta / 2 cut from each side.

    Each bin is uniform over its width. The cumulative sum of a signed excess is not monotonic; each
    cut is at the first crossing seen from its own side (noise inside the emission cannot move it
    outward past a bin that is already beyond beta / 2 of the power).
    """
    f = np.asarray(freqs_hz, dtype=np.float64)
    e = np.asarray(excess, dtype=np.float64)
    total = float(e.sum())
    if e.size == 0 or total <= 0:
        return 0.0
    bin_hz = float(f[1] - f[0]) if f.size > 1 else 0.0
    target = beta / 2.0 * total

    def cut(values: np.ndarray, edges: np.ndarray, sign: float) -> float:
        cum = np.cumsum(values)
        j = int(np.argmax(cum >= target))  # first bin (from this side) where the tail reaches beta / 2
        before = float(cum[j - 1]) if j > 0 else 0.0
        within = (target - before) / values[j] if values[j] > 0 else 0.0
        return float(edges[j] + sign * min(max(within, 0.0), 1.0) * bin_hz)

    lo = cut(e, f - bin_hz / 2.0, 1.0)
    hi = cut(e[::-1], (f + bin_hz / 2.0)[::-1], -1.0)
    return max(0.0, hi - lo)


def span_power(freqs_hz: np.ndarray, power: np.ndarray, floor: np.ndarray, a: int, b: int, lo_lim: int,
               hi_lim: int, *, averages: int, z: float | None = None, max_gap_bins: int = 32,
               beta: float = 0.01) -> SpanPower:
    """Centre, power and 99 % bandwidth of the emission whose core is bins a..b (see the module docstring).

    power, floor: linear per-bin power and the noise floor per bin; averages: Welch segments K behind
    ``power``; lo_lim / hi_lim: the extent never passes these (a neighbouring emission).
    """
    if averages < 1:
        raise ValueError(f"averages must be >= 1 (Welch segments), got {averages}")
    f = np.asarray(freqs_hz, dtype=np.float64)
    p = np.asarray(power, dtype=np.float64)
    fl = np.broadcast_to(np.asarray(floor, dtype=np.float64), p.shape)
    excess = p - fl
    sigma = fl * math.sqrt(BLOCK_VARIANCE / averages)
    lo, hi = significant_extent(excess, sigma, a, b, lo_lim, hi_lim, z=z, max_gap_bins=max_gap_bins)
    # the apron's noise (sqrt(2 W / K) floor-bins) must stay well under the beta / 2 of power each cut is at
    cut = beta / 2.0 * max(float(excess[lo : hi + 1].sum()), 0.0) / float(fl[lo : hi + 1].mean())
    apron = int(min(APRON * (hi - lo + 1), averages / BLOCK_VARIANCE * (APRON_NOISE * cut) ** 2))
    lo, hi = max(lo_lim, lo - apron), min(hi_lim, hi + apron)
    sl = slice(lo, hi + 1)
    total = float(excess[sl].sum())
    k_peak = a + int(np.argmax(p[a : b + 1]))
    center = float(np.sum(excess[sl] * f[sl]) / total) if total > 0 else float(f[k_peak])
    obw = signed_obw_hz(f[sl], excess[sl], beta)
    if hi - lo + 1 <= LINE_MAX_BINS:
        # a line narrower than a bin reads the window's response; fitted, the noise beyond cannot widen it
        # (see unresolved_line_obw_hz); judged on the whole extent, so sidebands in it refuse the fit
        wide = slice(max(lo_lim, min(lo, k_peak - LINE_FIT_BINS)), min(hi_lim, max(hi, k_peak + LINE_FIT_BINS)) + 1)
        line = unresolved_line_obw_hz(f[wide], excess[wide], fl[wide], averages, beta=beta)
        obw = obw if line is None else line
    return SpanPower(lo, hi, total, center, obw)


def hann_line_kernel(offsets_bins: np.ndarray) -> np.ndarray:
    """Power that a Hann-windowed FFT puts in a bin ``offsets_bins`` from a pure carrier, per unit of its
    power at the bin it sits on: |sinc(v) / (1 - v^2)|^2 (the N-point window's transform to (v / N)^2)."""
    v = np.asarray(offsets_bins, dtype=np.float64)
    near_one = np.abs(np.abs(v) - 1.0) < 1e-9
    safe = np.where(near_one, 0.0, v)
    amp = np.where(near_one, 0.5, np.sinc(safe) / np.where(near_one, 1.0, 1.0 - safe * safe))
    return amp * amp


def unresolved_line_obw_hz(freqs_hz: np.ndarray, excess: np.ndarray, floor: np.ndarray, averages: int, *,
                           beta: float = 0.01) -> float | None:
    """The 99 % bandwidth of an emission narrower than the analysis resolution, or None if it is resolved.

    A carrier narrower than a bin (CW) shows the analysis window's own response, nothing of itself
    (ITU-R SM.328: the measured spectrum is the emission's convolved with the resolution filter's): its
    99 % bandwidth at this resolution is the window's, 2.9-3.5 Hann bins by where the carrier falls
    between bins. Cut where the noise-added excess crosses 0.5 % of its power, its steep main lobe's
    tails take the noise of the bins beyond for sidebands: at 10 dB over the noise in 1 kHz (4 bins at
    244 Hz), 0.5 % of its power is 0.2 floor-bins, as much as the noise of three bins, and the cut moved
    out by a bin or two (985-1279 Hz for a 717-861 Hz response). Here the window response is fitted
    (carrier position to 0.02 bin, least-squares level) over the bins given; when what is left is noise
    (chi-square of the residual within 4 standard deviations of its degrees of freedom, each bin's variance
    that of a K-average Welch bin holding noise plus the fitted line) the emission is unresolved and its
    99 % bandwidth is that of the fitted response, sampled on the bins as the spectrum is.
    """
    f = np.asarray(freqs_hz, dtype=np.float64)
    e = np.asarray(excess, dtype=np.float64)
    fl = np.asarray(floor, dtype=np.float64)
    if e.size < 5 or averages < 1:
        return None
    peak = int(np.argmax(e))
    k = np.arange(e.size, dtype=np.float64)
    shifts = np.arange(-0.5, 0.5001, 0.02)  # where the carrier falls between bins
    models = hann_line_kernel(k[None, :] - (peak + shifts[:, None]))
    levels = models @ e / np.sum(models * models, axis=1)
    fitted = levels[:, None] * models
    model = np.maximum(fitted[int(np.argmin(np.sum((e - fitted) ** 2, axis=1)))], 0.0)
    var = (fl * fl + 2.0 * fl * model) * (1.0 + 2.0 * 0.25**2) / averages  # one Welch bin, 50 % overlap: 1.06 / K
    chi2 = float(np.sum((e - model) ** 2 / np.maximum(var, np.finfo(np.float64).tiny)))
    dof = e.size - 2
    if chi2 > dof + 4.0 * math.sqrt(2.0 * dof):
        return None
    return signed_obw_hz(f, model, beta)


def xdb_measurable(snr_db: float, x_db: float, averages: int) -> bool:
    """True when the level ``x_db`` under a peak ``snr_db`` over the floor stands clear of the noise bins.

    A noise bin of a K-segment Welch average stays under floor * (1 + 4 / sqrt(K)) (4 standard
    deviations); the x-dB points are only where the spectrum crosses the x-dB level if that level is
    above it. Otherwise the "x-dB bandwidth" is the width of wherever noise happens to reach it.
    """
    clear_db = 10.0 * math.log10(1.0 + XDB_CLEAR_SIGMAS / math.sqrt(max(1, averages)))
    return snr_db - x_db >= clear_db
