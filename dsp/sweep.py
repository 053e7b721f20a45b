"""Sweeps wider than the sample rate: hop planning, DC-spike removal and hop stitching.

Crop semantics follow rtl_power (``-c``) and soapy_power: ``crop_fraction`` is the share of each hop's
bins that is discarded, half at each edge, because the anti-alias filter roll-off makes the band edges
unreliable. Hops are spaced by the kept bandwidth ``sample_rate_hz * (1 - crop_fraction)`` so the kept
parts tile the sweep; the stitched frequency axis is rebuilt as ``f0 + k * bin_hz`` (never by adding
floats hop after hop), so it is exactly uniform.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def remove_dc_spike(power: np.ndarray, bins: int = 3) -> np.ndarray:
    """Replace the ``bins`` centre bins of an fftshifted spectrum by a straight line between their neighbours.

    Zero-IF receivers (RTL-SDR) put a spurious line at 0 Hz offset from LO leakage and DC offset; it is
    not a signal and must not be detected as one. Works on the last axis; returns a new array.
    """
    power = np.asarray(power, dtype=np.float64)
    n = power.shape[-1]
    if bins < 0 or bins > n - 2:
        raise ValueError(f"bins must be in [0, {n - 2}] for a spectrum of {n} bins, got {bins}")
    out = power.copy()
    if bins == 0:
        return out
    lo = n // 2 - bins // 2
    hi = lo + bins  # exclusive
    left = power[..., lo - 1]
    right = power[..., hi]
    frac = (np.arange(1, bins + 1) / (bins + 1))
    out[..., lo:hi] = left[..., None] + (right - left)[..., None] * frac
    return out


def crop_bins_per_side(nfft: int, crop_fraction: float) -> int:
    """Bins discarded at each edge of a hop: ``round(nfft * crop_fraction / 2)``."""
    if not 0.0 <= crop_fraction < 1.0:
        raise ValueError(f"crop_fraction must be in [0, 1), got {crop_fraction!r}")
    return round(nfft * crop_fraction / 2.0)


def plan_hops(
    start_hz: float, stop_hz: float, sample_rate_hz: float, crop_fraction: float, *, nfft: int | None = None
) -> list[float]:
    """Centre frequencies of the hops that cover ``[start_hz, stop_hz]`` after cropping.

    Hop k is centred at ``start_hz + (k + 0.5) * step`` with ``step = sample_rate_hz * (1 - crop_fraction)``.
    When ``nfft`` is given, the step is rounded to the whole number of bins that :func:`stitch_hops`
    keeps, so hops made with any crop fraction tile exactly on the bin grid.
    """
    if not stop_hz > start_hz:
        raise ValueError(f"stop_hz ({stop_hz}) must be above start_hz ({start_hz})")
    if not sample_rate_hz > 0:
        raise ValueError(f"sample_rate_hz must be positive, got {sample_rate_hz}")
    if nfft is None:
        if not 0.0 <= crop_fraction < 1.0:
            raise ValueError(f"crop_fraction must be in [0, 1), got {crop_fraction!r}")
        step = sample_rate_hz * (1.0 - crop_fraction)
    else:
        kept = nfft - 2 * crop_bins_per_side(nfft, crop_fraction)
        step = kept * sample_rate_hz / nfft
    n_hops = max(1, math.ceil((stop_hz - start_hz) / step - 1e-9))
    return [start_hz + (k + 0.5) * step for k in range(n_hops)]


def stitch_hops(
    hops: Sequence[tuple[float, np.ndarray, np.ndarray]], crop_fraction: float
) -> tuple[np.ndarray, np.ndarray]:
    """Crop each hop's edges and join the hops into one spectrum on an exact uniform frequency axis.

    hops: ``(center_freq_hz, offsets_hz, power)`` per hop, offsets fftshifted (ascending, uniform) and the
    same for every hop. Hops are sorted by centre. Where cropped hops overlap, the overlap is split in the
    middle (each bin comes from the hop whose centre is nearer); a gap or a hop off the bin grid raises
    ``ValueError`` naming the hop.

    Returns ``(freqs_hz, power)`` with absolute frequencies ``freqs_hz[0] + k * bin_hz``.
    """
    if not hops:
        raise ValueError("stitch_hops needs at least one hop")
    order = sorted(range(len(hops)), key=lambda i: float(hops[i][0]))
    offsets0 = np.asarray(hops[order[0]][1], dtype=np.float64)
    nfft = offsets0.size
    if nfft < 2:
        raise ValueError("each hop needs at least two bins")
    bin_hz = (offsets0[-1] - offsets0[0]) / (nfft - 1)
    if not bin_hz > 0 or not np.allclose(np.diff(offsets0), bin_hz, rtol=1e-9, atol=1e-9 * abs(bin_hz)):
        raise ValueError(f"hop {order[0]}: offsets_hz must be ascending and uniformly spaced")
    c = crop_bins_per_side(nfft, crop_fraction)
    if nfft - 2 * c < 1:
        raise ValueError(f"crop_fraction {crop_fraction} leaves no bins of {nfft}")

    pieces: list[tuple[int, np.ndarray]] = []  # (first bin index on the global grid, kept power)
    f0 = float(hops[order[0]][0]) + offsets0[c]
    for i in order:
        center_hz, offsets_hz, power = hops[i]
        offsets_hz = np.asarray(offsets_hz, dtype=np.float64)
        power = np.asarray(power, dtype=np.float64)
        if offsets_hz.shape != offsets0.shape or not np.allclose(
            offsets_hz, offsets0, rtol=0, atol=1e-6 * bin_hz
        ):
            raise ValueError(f"hop {i}: offsets_hz differ from the first hop's; every hop needs the same bins")
        if power.shape[-1] != nfft:
            raise ValueError(f"hop {i}: power has {power.shape[-1]} bins, offsets_hz has {nfft}")
        first = float(center_hz) + offsets_hz[c]
        k = (first - f0) / bin_hz
        k_int = round(k)
        if abs(k - k_int) > 1e-3:
            raise ValueError(
                f"hop {i} at {center_hz} Hz is off the bin grid by {(k - k_int) * bin_hz:.3f} Hz; "
                "plan hops with plan_hops(..., nfft=nfft)"
            )
        pieces.append((k_int, power[..., c : nfft - c]))

    out: list[np.ndarray] = []
    end = pieces[0][0]  # next global bin index to fill
    for j, (start, kept) in enumerate(pieces):
        n = kept.shape[-1]
        if start > end:
            raise ValueError(
                f"gap of {(start - end) * bin_hz:.1f} Hz before hop {order[j]}: hops are too far apart "
                "for this crop_fraction"
            )
        if start + n <= end:  # wholly inside the bins already filled
            continue
        overlap = end - start
        if overlap > 0 and out:
            give_back = overlap // 2  # bins the previous hop returns to this one
            out[-1] = out[-1][..., : out[-1].shape[-1] - give_back]
            kept = kept[..., overlap - give_back :]
        out.append(kept)
        end = start + n
    power_all = np.concatenate(out, axis=-1)
    freqs = f0 + bin_hz * np.arange(power_all.shape[-1])
    return freqs, power_all
