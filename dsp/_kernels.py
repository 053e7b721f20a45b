"""Numba kernels for the hot loops, each with a plain numpy twin that defines its correctness.

The kernels are small and typed by their inputs. They release the GIL (``nogil=True``) so a caller may
run several on different threads. The ``*_np`` twins are the reference implementations the tests
compare the kernels against; they are also what to read to understand a kernel.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# Detector codes shared by the accumulate kernel and its callers.
DETECTOR_SUM = 0  # sum of power (mean detector, Welch)
DETECTOR_MAX = 1  # running maximum (peak / max-hold)
DETECTOR_MIN = 2  # running minimum
DETECTOR_SUMSQ = 3  # sum of squared power (rms detector)


@njit(cache=True, nogil=True)
def window_segments(xf, start, step, nseg, win2, outf):  # pragma: no cover - compiled
    """Gather ``nseg`` overlapped segments (from sample ``start``, hop ``step``) times the window into ``outf``.

    Works on float32 views of complex64 data: ``xf`` is the IQ as interleaved I, Q floats, ``win2`` the
    window with each coefficient repeated (w0, w0, w1, w1, ...), ``outf`` the (>= nseg, 2 * nfft) float32
    view of the complex64 FFT buffer. On plain floats the loop vectorises (2.5x faster than on complex64
    elements). Fusing the gather with the window writes each sample once into a cache-sized buffer.
    """
    n2 = win2.shape[0]
    for s in range(nseg):
        base = 2 * (start + s * step)
        row = outf[s]
        for i in range(n2):
            row[i] = xf[base + i] * win2[i]


def window_segments_np(
    xf: np.ndarray, start: int, step: int, nseg: int, win2: np.ndarray, outf: np.ndarray
) -> None:
    """Numpy twin of :func:`window_segments` (same float32-view arguments, fills ``outf``)."""
    n2 = win2.shape[0]
    idx = 2 * (start + step * np.arange(nseg))[:, None] + np.arange(n2)[None, :]
    outf[:nseg] = xf[idx] * win2[None, :]


@njit(cache=True, nogil=True)
def accumulate_power(spec, nseg, acc, detector):  # pragma: no cover - compiled
    """Fold |spec[s, i]|^2 of the first ``nseg`` rows into ``acc`` (float64) by ``detector`` code.

    The branch on the detector sits outside the loops so each inner loop is a plain, vectorisable pass.
    """
    nfft = spec.shape[1]
    if detector == 0:
        for s in range(nseg):
            for i in range(nfft):
                v = spec[s, i]
                acc[i] += v.real * v.real + v.imag * v.imag
    elif detector == 1:
        for s in range(nseg):
            for i in range(nfft):
                v = spec[s, i]
                p = v.real * v.real + v.imag * v.imag
                if p > acc[i]:
                    acc[i] = p
    elif detector == 2:
        for s in range(nseg):
            for i in range(nfft):
                v = spec[s, i]
                p = v.real * v.real + v.imag * v.imag
                if p < acc[i]:
                    acc[i] = p
    else:
        for s in range(nseg):
            for i in range(nfft):
                v = spec[s, i]
                p = np.float64(v.real * v.real + v.imag * v.imag)
                acc[i] += p * p


def accumulate_power_np(spec: np.ndarray, nseg: int, acc: np.ndarray, detector: int) -> None:
    """Numpy twin of :func:`accumulate_power` (updates ``acc`` in place)."""
    p = (spec[:nseg].real.astype(np.float32) ** 2 + spec[:nseg].imag.astype(np.float32) ** 2).astype(np.float64)
    if detector == DETECTOR_SUM:
        acc += p.sum(axis=0)
    elif detector == DETECTOR_MAX:
        np.maximum(acc, p.max(axis=0), out=acc)
    elif detector == DETECTOR_MIN:
        np.minimum(acc, p.min(axis=0), out=acc)
    else:
        acc += (p * p).sum(axis=0)


@njit(cache=True, nogil=True)
def band_power_frames(spec, lo, hi, out):  # pragma: no cover - compiled
    """out[f] = sum over bins lo..hi-1 of |spec[f, bin]|^2 (float64), one value per FFT frame."""
    for f in range(spec.shape[0]):
        total = 0.0
        for i in range(lo, hi):
            v = spec[f, i]
            total += v.real * v.real + v.imag * v.imag
        out[f] = total


def band_power_frames_np(spec: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Numpy twin of :func:`band_power_frames`."""
    band = spec[:, lo:hi].astype(np.complex128)
    return (band.real**2 + band.imag**2).sum(axis=1)


@njit(cache=True, nogil=True)
def channel_levels(frames_lin, lo, hi, peak, out):  # pragma: no cover - compiled
    """Per revisit and channel: integrated (sum) or peak linear power of bins lo[c]..hi[c]-1.

    ``frames_lin`` is (revisits, bins) float64; ``out`` is (revisits, channels).
    """
    for r in range(frames_lin.shape[0]):
        for c in range(lo.shape[0]):
            acc = 0.0
            for i in range(lo[c], hi[c]):
                v = frames_lin[r, i]
                if peak:
                    if v > acc:
                        acc = v
                else:
                    acc += v
            out[r, c] = acc


def channel_levels_np(frames_lin: np.ndarray, lo: np.ndarray, hi: np.ndarray, peak: bool) -> np.ndarray:
    """Numpy twin of :func:`channel_levels`."""
    out = np.zeros((frames_lin.shape[0], lo.shape[0]))
    for c in range(lo.shape[0]):
        chunk = frames_lin[:, lo[c] : hi[c]]
        if chunk.shape[1]:
            out[:, c] = chunk.max(axis=1).clip(min=0.0) if peak else chunk.sum(axis=1)
    return out
