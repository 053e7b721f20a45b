"""Waveform rendering for the simulator: Numba kernels, each with the numpy twin that defines it.

Every waveform is a function of the *absolute* sample index k, never of how reads are chunked, so
``read(1000)`` twice equals ``read(2000)`` once. Carriers are numerically controlled oscillators:
phase in 32-bit fixed-point turns, ``(k * inc + p0) mod 2**32``, looked up in a sine table (spurs
below -60 dBc, under the 8-bit quantisation floor). Angle modulation (FM, NFM) adds a sum of tone
phase terms; bursts (OOK, GMSK, QPSK) multiply the carrier by a precomputed oversampled complex
envelope, linearly interpolated.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numba import njit

TABLE_BITS = 12
TABLE_SIZE = 1 << TABLE_BITS
SHIFT = 32 - TABLE_BITS
TWO32 = float(1 << 32)
SIN_TABLE = np.sin(2 * np.pi * np.arange(TABLE_SIZE) / TABLE_SIZE).astype(np.float32)
COS_TABLE = np.cos(2 * np.pi * np.arange(TABLE_SIZE) / TABLE_SIZE).astype(np.float32)


def nco_increment(freq_hz: float, sample_rate_hz: float) -> int:
    """Phase increment per sample in 2**-32 turns (negative frequencies wrap, as they should)."""
    return round(freq_hz / sample_rate_hz * TWO32) % (1 << 32)


#: Added to table-index phases so truncation is floor (phases are negative with angle modulation).
_INDEX_OFFSET = float(1 << 30)


@njit(cache=True, nogil=True)
def add_angle_modulated(out, k0, amp, inc, p0, tone_inc, tone_p0, tone_beta_turns, sin_t, cos_t):  # pragma: no cover
    """out[i] += amp * exp(j*2pi*(carrier(k) + sum_j beta_j * sin(tone_j(k)))), k = k0 + i.

    Accumulators start at ``(k0 * inc + p0) mod 2**32`` and then step by ``inc`` (uint32 wrap), which
    equals the closed form for every k and costs one add per sample. No fastmath: the result must
    not depend on where a block starts (vectorised remainders would round differently).
    """
    mask = np.uint64(0xFFFFFFFF)
    tsize = sin_t.shape[0]
    tmask = tsize - 1
    shift = np.uint64(32 - int(np.log2(tsize)))
    ntone = tone_inc.shape[0]
    k = np.uint64(k0)
    acc = (k * np.uint64(inc) + np.uint64(p0)) & mask  # uint64 kept below 2**32 by the mask
    step = np.uint64(inc)
    tacc = np.empty(ntone, dtype=np.uint32)
    tstep = np.empty(ntone, dtype=np.uint32)
    tbeta = np.empty(ntone, dtype=np.float64)
    for j in range(ntone):
        tacc[j] = np.uint32((k * np.uint64(tone_inc[j]) + np.uint64(tone_p0[j])) & mask)
        tstep[j] = np.uint32(tone_inc[j])
        tbeta[j] = tone_beta_turns[j] * tsize
    if ntone == 0:  # a pure carrier: the accumulator's top bits are the table index
        for i in range(out.shape[0]):
            idx = acc >> shift
            out[i] += complex(amp * cos_t[idx], amp * sin_t[idx])
            acc = (acc + step) & mask
        return
    scale = tsize / 4294967296.0
    for i in range(out.shape[0]):
        ph = float(acc) * scale + _INDEX_OFFSET
        for j in range(ntone):
            ph += tbeta[j] * sin_t[tacc[j] >> shift]
            tacc[j] += tstep[j]
        idx = np.int64(ph) & tmask
        out[i] += complex(amp * cos_t[idx], amp * sin_t[idx])
        acc = (acc + step) & mask


def add_angle_modulated_np(
    out: np.ndarray, k0: int, amp: float, inc: int, p0: int,
    tone_inc: np.ndarray, tone_p0: np.ndarray, tone_beta_turns: np.ndarray,
    sin_t: np.ndarray = SIN_TABLE, cos_t: np.ndarray = COS_TABLE,
) -> None:
    """Numpy twin of :func:`add_angle_modulated` (closed-form phases, same float64 arithmetic)."""
    k = np.uint64(k0) + np.arange(out.size, dtype=np.uint64)
    mask = np.uint64(0xFFFFFFFF)
    tsize = sin_t.size
    shift = np.uint64(32 - int(np.log2(tsize)))
    ph = ((k * np.uint64(inc) + np.uint64(p0)) & mask).astype(np.float64) * (tsize / TWO32) + _INDEX_OFFSET
    for ti, tp, tb in zip(tone_inc, tone_p0, tone_beta_turns):
        tacc = (k * np.uint64(ti) + np.uint64(tp)) & mask
        ph += (tb * tsize) * sin_t[(tacc >> shift).astype(np.int64)].astype(np.float64)
    idx = ph.astype(np.int64) & (tsize - 1)
    out += (amp * cos_t[idx].astype(np.float64) + 1j * (amp * sin_t[idx].astype(np.float64))).astype(out.dtype)


@njit(cache=True, nogil=True)
def add_enveloped_carrier(out, k0, amp, inc, p0, env, env_k0, env_step, sin_t, cos_t):  # pragma: no cover
    """out[i] += amp * env(pos) * exp(j*2pi*carrier(k)), pos = (k - env_k0) * env_step, linear interp.

    Samples whose envelope position falls outside ``env`` add nothing (the burst is off).
    """
    mask = np.uint64(0xFFFFFFFF)
    tsize = sin_t.shape[0]
    shift = np.uint64(32 - int(np.log2(tsize)))
    nenv = env.shape[0]
    last = float(nenv - 1)
    acc = (np.uint64(k0) * np.uint64(inc) + np.uint64(p0)) & mask
    step = np.uint64(inc)
    for i in range(out.shape[0]):
        pos = (k0 + i - env_k0) * env_step
        if pos >= 0.0 and pos <= last:
            j = int(pos)
            if j > nenv - 2:
                j = nenv - 2
            f = pos - j
            e0 = env[j]
            e1 = env[j + 1]
            er = amp * (e0.real + (e1.real - e0.real) * f)
            ei = amp * (e0.imag + (e1.imag - e0.imag) * f)
            idx = acc >> shift
            c = cos_t[idx]
            s = sin_t[idx]
            out[i] += complex(er * c - ei * s, er * s + ei * c)
        acc = (acc + step) & mask


def add_enveloped_carrier_np(
    out: np.ndarray, k0: int, amp: float, inc: int, p0: int, env: np.ndarray, env_k0: float, env_step: float,
    sin_t: np.ndarray = SIN_TABLE, cos_t: np.ndarray = COS_TABLE,
) -> None:
    """Numpy twin of :func:`add_enveloped_carrier`."""
    k = k0 + np.arange(out.size, dtype=np.int64)
    pos = (k - env_k0) * env_step
    inside = (pos >= 0) & (pos <= env.size - 1)
    j = np.clip(pos.astype(np.int64), 0, env.size - 2)
    f = pos - j
    e0, e1 = env[j], env[j + 1]
    er = amp * (e0.real + (e1.real - e0.real) * f)
    ei = amp * (e0.imag + (e1.imag - e0.imag) * f)
    mask = np.uint64(0xFFFFFFFF)
    shift = np.uint64(32 - int(np.log2(sin_t.size)))
    idx = (((k.astype(np.uint64) * np.uint64(inc) + np.uint64(p0)) & mask) >> shift).astype(np.int64)
    c, s = cos_t[idx].astype(np.float64), sin_t[idx].astype(np.float64)
    out += np.where(inside, (er * c - ei * s) + 1j * (er * s + ei * c), 0).astype(out.dtype)


@njit(cache=True, nogil=True)
def quantize_u8(x, offset, out):  # pragma: no cover - compiled
    """out = the 8-bit grid an RTL-SDR delivers for x + offset (float I/Q components, full scale 1), clipped.

    ``offset`` holds the (I, Q) DC offset added before quantising; truncating ``v + 0.5`` after the
    clip to [0, 255.5) is rint onto the half-integer grid centred at 127.5. The loop runs over I/Q
    pairs with branch-free clips so that it vectorises (same float32 operations as a per-component
    loop, so the same result to the bit). With ``out is x`` LLVM cannot prove the loop safe to
    vectorise and runs it scalar: use :func:`quantize_u8_inplace` for that.
    """
    o_i = offset[0]
    o_q = offset[1]
    scale = np.float32(127.5)
    mid = np.float32(128.0)
    lo = np.float32(0.0)
    hi = np.float32(255.5)
    inv = np.float32(1.0 / 127.5)
    for p in range(x.shape[0] // 2):
        v = (x[2 * p] + o_i) * scale + mid
        v = lo if v < lo else v
        v = hi if v > hi else v
        out[2 * p] = (np.float32(np.int32(v)) - scale) * inv
        w = (x[2 * p + 1] + o_q) * scale + mid
        w = lo if w < lo else w
        w = hi if w > hi else w
        out[2 * p + 1] = (np.float32(np.int32(w)) - scale) * inv


@njit(cache=True, nogil=True)
def quantize_u8_inplace(x, offset):  # pragma: no cover - compiled
    """x = :func:`quantize_u8` of x, in place (one array, so it vectorises: ~5x the two-array kernel on x, x)."""
    o_i = offset[0]
    o_q = offset[1]
    scale = np.float32(127.5)
    mid = np.float32(128.0)
    lo = np.float32(0.0)
    hi = np.float32(255.5)
    inv = np.float32(1.0 / 127.5)
    for p in range(x.shape[0] // 2):
        v = (x[2 * p] + o_i) * scale + mid
        v = lo if v < lo else v
        v = hi if v > hi else v
        x[2 * p] = (np.float32(np.int32(v)) - scale) * inv
        w = (x[2 * p + 1] + o_q) * scale + mid
        w = lo if w < lo else w
        w = hi if w > hi else w
        x[2 * p + 1] = (np.float32(np.int32(w)) - scale) * inv


def quantize_u8_np(x: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """Numpy twin of :func:`quantize_u8`."""
    y = x.reshape(-1, 2) + offset[None, :]
    v = np.clip(np.floor(y * 127.5 + 128.0), 0, 255)
    return ((v - 127.5) * (1.0 / 127.5)).astype(x.dtype).reshape(-1)


# -- burst envelopes (computed once per burst, oversampled) -----------------------------------
ENV_OVERSAMPLE = 8


@lru_cache(maxsize=8)
def _gaussian_taps(bt: float, sps: int, span: int = 4) -> np.ndarray:
    t = np.arange(-span * sps / 2, span * sps / 2 + 1) / sps
    sigma = np.sqrt(np.log(2)) / (2 * np.pi * bt)
    h = np.exp(-(t**2) / (2 * sigma**2))
    return h / h.sum()


@lru_cache(maxsize=8)
def _rrc_taps(alpha: float, sps: int, span: int = 6) -> np.ndarray:
    t = np.arange(-span * sps / 2, span * sps / 2 + 1) / sps
    h = np.empty_like(t)
    for i, ti in enumerate(t):
        if abs(ti) < 1e-9:
            h[i] = 1 - alpha + 4 * alpha / np.pi
        elif abs(abs(ti) - 1 / (4 * alpha)) < 1e-9:
            h[i] = alpha / np.sqrt(2) * ((1 + 2 / np.pi) * np.sin(np.pi / (4 * alpha))
                                          + (1 - 2 / np.pi) * np.cos(np.pi / (4 * alpha)))
        else:
            h[i] = (np.sin(np.pi * ti * (1 - alpha)) + 4 * alpha * ti * np.cos(np.pi * ti * (1 + alpha))) / (
                np.pi * ti * (1 - (4 * alpha * ti) ** 2))
    return h / np.sqrt(np.sum(h**2))


def burst_envelope(modulation: str, n_symbols: int, rng: np.random.Generator) -> np.ndarray:
    """Complex envelope of one burst at ENV_OVERSAMPLE samples per symbol, mean power 1 while keyed.

    gmsk_burst: GMSK, BT 0.3, h 0.5 (constant envelope). qpsk_burst: Gray QPSK, root-raised-cosine
    alpha 0.35. ook: on-off keyed random bits starting with a 1, edges softened over 1/8 symbol.
    """
    sps = ENV_OVERSAMPLE
    n_symbols = max(2, int(n_symbols))
    if modulation == "gmsk_burst":
        bits = rng.integers(0, 2, n_symbols) * 2 - 1
        freq = np.repeat(bits.astype(np.float64), sps)
        freq = np.convolve(freq, _gaussian_taps(0.3, sps), mode="same")
        phase = np.cumsum(freq) * (np.pi / 2) / sps  # h = 0.5: pi/2 per symbol
        env = np.exp(1j * phase)
    elif modulation == "qpsk_burst":
        sym = (rng.integers(0, 2, n_symbols) * 2 - 1 + 1j * (rng.integers(0, 2, n_symbols) * 2 - 1)) / np.sqrt(2)
        up = np.zeros(n_symbols * sps, dtype=np.complex128)
        up[::sps] = sym
        env = np.convolve(up, _rrc_taps(0.35, sps), mode="same")
        env /= np.sqrt(np.mean(np.abs(env) ** 2))
    elif modulation == "ook":
        bits = rng.integers(0, 2, n_symbols).astype(np.float64)
        bits[0] = 1.0
        env = np.convolve(np.repeat(bits, sps), np.ones(2) / 2, mode="same").astype(np.complex128)
    else:
        raise ValueError(f"no burst envelope for modulation {modulation!r}")
    return env.astype(np.complex64)
