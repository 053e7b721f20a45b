"""Waveform rendering for the simulator: Numba kernels, each with the numpy twin that defines it.

Every waveform is a function of the *absolute* sample index k, never of how reads are chunked, so
``read(1000)`` twice equals ``read(2000)`` once. Carriers are numerically controlled oscillators:
phase in 32-bit fixed-point turns, ``(k * inc + p0) mod 2**32``. Angle modulation (FM, NFM) adds a
sum of tone phase terms; bursts (OOK, GMSK, QPSK) multiply the carrier by a precomputed oversampled
complex envelope, linearly interpolated.

Two families: the table kernels (``add_angle_modulated``, ``add_enveloped_carrier``: phase looked
up in a 4096-entry sine table, spurs near -60 dBc) are the scalar reference; the renderer uses the
phasor kernels (``add_angle_modulated_phasor``, ``add_enveloped_phasor``): the same waveforms,
exact to float32 rounding, written so that LLVM vectorises them (3-5x faster, see
tests/sdr/test_sdr_sim_kernels.py for the agreement)."""

from __future__ import annotations

import math
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


@njit(cache=True, nogil=True)
def scale_i16(src, scale, out):  # pragma: no cover - compiled
    """out = float32(src) * scale: the simulator's int16 noise table to float32 I/Q at the site's level."""
    for i in range(out.shape[0]):
        out[i] = np.float32(src[i]) * scale


def scale_i16_np(src: np.ndarray, scale: float) -> np.ndarray:
    """Numpy twin of :func:`scale_i16`."""
    return src.astype(np.float32) * np.float32(scale)


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


# -- phasor oscillators: vectorisable, exact functions of k (what the renderer uses) ----------------
#: A carrier at sample k = mB + r is the anchor phasor A_m (computed in float64 once per B samples)
#: times P[r] from a per-frequency table of B phasors: one complex multiply per sample, no gathers,
#: so LLVM vectorises it; the value depends on k alone, never on where a block starts. Both factors
#: are exact to float32 rounding (no 12-bit phase truncation, so no -60 dBc table spurs).
ANCHOR_BITS = 10
ANCHOR = 1 << ANCHOR_BITS
_TWO_PI_OVER_2_32 = 2.0 * np.pi / TWO32
#: 1.5 * 2**23: x + MAGIC - MAGIC rounds a float32 |x| < 2**22 to the nearest integer (no fastmath,
#: so it is not folded away), branch-free and vectorisable.
_RINT_MAGIC = np.float32(1.5 * 2.0**23)
_PI32 = np.float32(np.pi)
# Taylor coefficients of sin/cos on [-pi/2, pi/2] (half angle): truncation error < 6e-8.
_S3, _S5, _S7, _S9, _S11 = (np.float32(c) for c in (-1 / 6, 1 / 120, -1 / 5040, 1 / 362880, -1 / 39916800))
_C2, _C4, _C6, _C8, _C10, _C12 = (np.float32(c) for c in (
    -1 / 2, 1 / 24, -1 / 720, 1 / 40320, -1 / 3628800, 1 / 479001600))


@lru_cache(maxsize=512)
def phasor_table(inc: int) -> np.ndarray:
    """P[r] = exp(j*2pi*(r*inc mod 2**32)/2**32), r < ANCHOR, as float32 rows (re, im); shape (2, ANCHOR).

    Cached per increment: a sweep that revisits its hops reuses the tables of every tuning.
    """
    r = np.arange(ANCHOR, dtype=np.uint64)
    ph = ((r * np.uint64(inc % (1 << 32))) & np.uint64(0xFFFFFFFF)).astype(np.float64) * _TWO_PI_OVER_2_32
    t = np.empty((2, ANCHOR), dtype=np.float32)
    t[0] = np.cos(ph)
    t[1] = np.sin(ph)
    return t


def phasor_tables(incs: np.ndarray) -> np.ndarray:
    """The tables of several increments stacked: shape (len(incs), 2, ANCHOR), for the kernels."""
    return np.ascontiguousarray(np.stack([phasor_table(int(i)) for i in incs]))


@njit(cache=True, nogil=True, inline="always")
def _anchor(k_anchor, inc, p0):  # pragma: no cover - compiled
    """exp(j*2pi*((k*inc + p0) mod 2**32)/2**32) at an anchor sample, float64 phase, float32 result."""
    ph = (np.uint64(k_anchor) * np.uint64(inc) + np.uint64(p0)) & np.uint64(0xFFFFFFFF)
    a = float(np.int64(ph)) * _TWO_PI_OVER_2_32
    return np.float32(math.cos(a)), np.float32(math.sin(a))


def _anchor_np(k_anchor: np.ndarray, inc: int, p0: int) -> tuple[np.ndarray, np.ndarray]:
    ph = (k_anchor.astype(np.uint64) * np.uint64(inc) + np.uint64(p0)) & np.uint64(0xFFFFFFFF)
    a = ph.astype(np.int64).astype(np.float64) * _TWO_PI_OVER_2_32
    return np.cos(a).astype(np.float32), np.sin(a).astype(np.float32)


@njit(cache=True, nogil=True, inline="always")
def sincos_turns(x):  # pragma: no cover - compiled
    """(cos, sin) of 2*pi*x for a float32 x in turns (|x| < 2**21), float32, error < 1e-6.

    Range reduction to [-0.5, 0.5] turns by rounding, polynomials for the half angle, then the
    double-angle formulas: branch-free, so loops calling it vectorise.
    """
    r = x - ((x + _RINT_MAGIC) - _RINT_MAGIC)
    h = r * _PI32
    h2 = h * h
    s = h + h * h2 * (_S3 + h2 * (_S5 + h2 * (_S7 + h2 * (_S9 + h2 * _S11))))
    c = np.float32(1.0) + h2 * (_C2 + h2 * (_C4 + h2 * (_C6 + h2 * (_C8 + h2 * (_C10 + h2 * _C12)))))
    return np.float32(1.0) - np.float32(2.0) * s * s, np.float32(2.0) * s * c


def sincos_turns_np(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Numpy twin of :func:`sincos_turns` (the same float32 operations)."""
    x = np.asarray(x, dtype=np.float32)
    r = x - ((x + _RINT_MAGIC) - _RINT_MAGIC)
    h = r * _PI32
    h2 = h * h
    s = h + h * h2 * (_S3 + h2 * (_S5 + h2 * (_S7 + h2 * (_S9 + h2 * _S11))))
    c = np.float32(1.0) + h2 * (_C2 + h2 * (_C4 + h2 * (_C6 + h2 * (_C8 + h2 * (_C10 + h2 * _C12)))))
    return np.float32(1.0) - np.float32(2.0) * s * s, np.float32(2.0) * s * c


@njit(cache=True, nogil=True)
def add_angle_modulated_phasor(out, k0, amp, incs, p0s, beta_turns, ptab):  # pragma: no cover - compiled
    """out += amp * exp(j*2pi*(carrier(k) + sum_j beta_j * sin(2pi*tone_j(k)))), k = k0 + i.

    ``out`` is float32 I/Q interleaved (a complex64 buffer's ``view(np.float32)``). ``incs``/``p0s``
    hold the carrier's then each tone's NCO increment and start phase (2**-32 turns), ``ptab`` their
    :func:`phasor_tables`, ``beta_turns`` each tone's peak phase deviation in turns. Tones are
    phasors too (sin = Im); the modulated phase goes through :func:`sincos_turns`. Every inner loop
    is branch-free over contiguous memory, so it vectorises.
    """
    n = out.shape[0] // 2
    ntone = incs.shape[0] - 1
    a32 = np.float32(amp)
    mod = np.empty(ANCHOR, dtype=np.float32)
    i = 0
    while i < n:
        k = k0 + i
        r0 = k & (ANCHOR - 1)
        m = min(ANCHOR - r0, n - i)
        cr, ci = _anchor(k - r0, incs[0], p0s[0])
        pr = ptab[0, 0, r0 : r0 + m]
        pi = ptab[0, 1, r0 : r0 + m]
        o = out[2 * i : 2 * (i + m)]
        if ntone == 0:
            for t in range(m):
                o[2 * t] += a32 * (cr * pr[t] - ci * pi[t])
                o[2 * t + 1] += a32 * (cr * pi[t] + ci * pr[t])
        else:
            for t in range(m):
                mod[t] = np.float32(0.0)
            for j in range(ntone):
                tr, ti = _anchor(k - r0, incs[j + 1], p0s[j + 1])
                b = np.float32(beta_turns[j])
                qr = ptab[j + 1, 0, r0 : r0 + m]
                qi = ptab[j + 1, 1, r0 : r0 + m]
                for t in range(m):
                    mod[t] += b * (tr * qi[t] + ti * qr[t])
            for t in range(m):
                co, s = sincos_turns(mod[t])
                er = cr * pr[t] - ci * pi[t]
                ei = cr * pi[t] + ci * pr[t]
                o[2 * t] += a32 * (er * co - ei * s)
                o[2 * t + 1] += a32 * (er * s + ei * co)
        i += m


def _carrier_np(k: np.ndarray, inc: int, p0: int, table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r = (k & (ANCHOR - 1)).astype(np.int64)
    ar, ai = _anchor_np(k - r, inc, p0)
    return ar * table[0, r] - ai * table[1, r], ar * table[1, r] + ai * table[0, r]


def add_angle_modulated_phasor_np(
    out: np.ndarray, k0: int, amp: float, incs: np.ndarray, p0s: np.ndarray, beta_turns: np.ndarray,
    ptab: np.ndarray,
) -> None:
    """Numpy twin of :func:`add_angle_modulated_phasor` (closed form per sample, same float32 steps)."""
    n = out.size // 2
    k = np.int64(k0) + np.arange(n, dtype=np.int64)
    cr, ci = _carrier_np(k, int(incs[0]), int(p0s[0]), ptab[0])
    a32 = np.float32(amp)
    if len(incs) == 1:
        out[0::2] += a32 * cr
        out[1::2] += a32 * ci
        return
    mod = np.zeros(n, np.float32)
    for j in range(len(incs) - 1):
        _, ti = _carrier_np(k, int(incs[j + 1]), int(p0s[j + 1]), ptab[j + 1])
        mod += np.float32(beta_turns[j]) * ti
    co, s = sincos_turns_np(mod)
    out[0::2] += a32 * (cr * co - ci * s)
    out[1::2] += a32 * (cr * s + ci * co)


@njit(cache=True, nogil=True)
def add_enveloped_phasor(out, k0, amp, inc, p0, ptab, env, env_k0, env_step):  # pragma: no cover - compiled
    """out += amp * env(pos) * carrier(k), pos = (k - env_k0) * env_step, linear interpolation.

    ``out`` is float32 I/Q interleaved, ``ptab`` the carrier's :func:`phasor_table`. Samples whose
    envelope position falls outside ``env`` add nothing (the burst is off). The envelope is filled
    one envelope interval at a time (segment bounds found with the same per-sample formula, so the
    result is the per-sample definition), then multiplied by the carrier: no gathers, vectorised.
    """
    n = out.shape[0] // 2
    nenv = env.shape[0]
    last = float(nenv - 1)
    # first sample with pos >= 0 and first with pos > last (pos is monotone in i)
    i_lo = min(max(0, math.ceil(env_k0 - k0) - 2), n)
    while i_lo < n and (k0 + i_lo - env_k0) * env_step < 0.0:
        i_lo += 1
    i_hi = min(max(i_lo, int((last / env_step + env_k0) - k0) - 2), n)
    while i_hi < n and (k0 + i_hi - env_k0) * env_step <= last:
        i_hi += 1
    if i_hi <= i_lo:
        return
    er = np.empty(i_hi - i_lo, dtype=np.float32)
    ei = np.empty(i_hi - i_lo, dtype=np.float32)
    a32 = np.float32(amp)
    i = i_lo
    while i < i_hi:
        j = int((k0 + i - env_k0) * env_step)
        if j >= nenv - 2:
            j = nenv - 2
            i_end = i_hi
        else:
            i_end = min(i_hi, max(i + 1, i + int((j + 1 - (k0 + i - env_k0) * env_step) / env_step) - 1))
            while i_end < i_hi and (k0 + i_end - env_k0) * env_step < j + 1:
                i_end += 1
        e0 = env[j]
        e1 = env[j + 1]
        e0r = np.float32(e0.real) * a32
        e0i = np.float32(e0.imag) * a32
        dr = (np.float32(e1.real) - np.float32(e0.real)) * a32
        di = (np.float32(e1.imag) - np.float32(e0.imag)) * a32
        for t in range(i, i_end):
            f = np.float32((k0 + t - env_k0) * env_step - j)
            er[t - i_lo] = e0r + dr * f
            ei[t - i_lo] = e0i + di * f
        i = i_end
    i = i_lo
    while i < i_hi:
        k = k0 + i
        r0 = k & (ANCHOR - 1)
        m = min(ANCHOR - r0, i_hi - i)
        cr, ci = _anchor(k - r0, inc, p0)
        pr = ptab[0, r0 : r0 + m]
        pi = ptab[1, r0 : r0 + m]
        o = out[2 * i : 2 * (i + m)]
        a = er[i - i_lo : i - i_lo + m]
        b = ei[i - i_lo : i - i_lo + m]
        for t in range(m):
            xr = cr * pr[t] - ci * pi[t]
            xi = cr * pi[t] + ci * pr[t]
            o[2 * t] += a[t] * xr - b[t] * xi
            o[2 * t + 1] += a[t] * xi + b[t] * xr
        i += m


def add_enveloped_phasor_np(
    out: np.ndarray, k0: int, amp: float, inc: int, p0: int, ptab: np.ndarray, env: np.ndarray,
    env_k0: float, env_step: float,
) -> None:
    """Numpy twin of :func:`add_enveloped_phasor` (per-sample definition, same float32 steps)."""
    n = out.size // 2
    k = np.int64(k0) + np.arange(n, dtype=np.int64)
    pos = (k - env_k0) * env_step
    inside = (pos >= 0) & (pos <= env.size - 1)
    j = np.clip(pos.astype(np.int64), 0, env.size - 2)
    f = (pos - j).astype(np.float32)
    a32 = np.float32(amp)
    e0, e1 = env[j], env[j + 1]
    e0r, e0i = e0.real.astype(np.float32) * a32, e0.imag.astype(np.float32) * a32
    dr = (e1.real.astype(np.float32) - e0.real.astype(np.float32)) * a32
    di = (e1.imag.astype(np.float32) - e0.imag.astype(np.float32)) * a32
    er, ei = e0r + dr * f, e0i + di * f
    xr, xi = _carrier_np(k, inc, p0, ptab)
    out[0::2] += np.where(inside, er * xr - ei * xi, np.float32(0))
    out[1::2] += np.where(inside, er * xi + ei * xr, np.float32(0))
