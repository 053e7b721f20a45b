"""Known-answer emissions: seeded synthetic IQ of one transmitter each, with the answer it must give.

Detection and classification are only as trustworthy as the signals they were checked on. This module
renders the modulations a monitoring station meets (CW, AM, FM broadcast, NFM, 2-FSK, 4-FSK, OOK/ASK,
QPSK and OFDM as wideband digital, band-limited noise) in white Gaussian noise at a chosen SNR, and
states what a correct detector reports: centre (the power-weighted centre of what it sent: with few
symbols per packet an FSK's tones are not equally used), 99 % bandwidth (ITU-R SM.443, beta = 1 %, computed
from the noise-free waveform as sent: the packets with their switching edges, which a carrier-heavy ASK's
99 % points feel), bursts and emission class. Every parameter is drawn from
``seed`` within realistic ranges, so tests and benchmarks can use seeds the detector was not tuned on.

SNR is the keyed signal power over the noise power in the signal's own 99 % bandwidth (for CW, whose
bandwidth is a bin, over 1 kHz).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: Emission classes, in the order reports list them.
EMISSION_CLASSES: tuple[str, ...] = ("cw", "am", "fm_broadcast", "nfm", "2fsk", "4fsk", "ook_ask",
                                     "wideband_digital", "noise_like")
#: Waveforms this module renders, and the class each one is.
KINDS: dict[str, str] = {"cw": "cw", "am": "am", "fm_broadcast": "fm_broadcast", "nfm": "nfm", "2fsk": "2fsk",
                         "4fsk": "4fsk", "ook": "ook_ask", "ask": "ook_ask", "qpsk": "wideband_digital",
                         "ofdm": "wideband_digital", "noise": "noise_like"}
#: Reference bandwidth of the SNR of a CW carrier (Hz).
CW_SNR_BW_HZ = 1e3


@dataclass(frozen=True)
class KnownSignal:
    """Synthetic IQ (complex64, centred at 0 Hz) and what a correct detector says about it."""

    iq: np.ndarray
    sample_rate_hz: float
    kind: str
    emission_class: str
    center_hz: float  # where its power is: centroid of the keyed waveform's spectrum, offset from the IQ centre (Hz)
    obw_hz: float  # 99 % bandwidth of the noise-free keyed waveform (Hz)
    channel_hz: float  # the channel such a transmitter occupies (Hz): the scale of the tolerances
    bursts: tuple[tuple[float, float], ...]  # (start_s, duration_s); one spanning the IQ when continuous
    continuous: bool
    snr_db: float
    #: the 99 % bandwidth with each cut's tail share beta / 2 moved by BETA_TOLERANCE (narrowest, widest; Hz):
    #: a line spectrum's 99 % bandwidth jumps from line to line, so a tail share a hair off beta / 2 (noise of
    #: the tail's bins, a bin's leakage) may move it by a factor 2 when the tail beyond a line holds ~beta / 2
    obw_span_hz: tuple[float, float]


def _audio(rng: np.random.Generator, n: int, fs: float, f_lo: float, f_hi: float, tones: int) -> np.ndarray:
    """A few random tones between f_lo and f_hi (Hz), peak-normalised to 1: a stand-in for speech/music."""
    t = np.arange(n) / fs
    a = np.zeros(n)
    for _ in range(tones):
        a += rng.uniform(0.3, 1.0) * np.sin(2 * np.pi * rng.uniform(f_lo, f_hi) * t + rng.uniform(0, 2 * np.pi))
    return a / np.max(np.abs(a))


def _rrc(alpha: float, sps: int, span: int = 8) -> np.ndarray:
    t = np.arange(-span * sps, span * sps + 1) / sps
    h = np.sinc(t * (1 - alpha)) * (1 - alpha)
    num = np.sin(np.pi * t * (1 - alpha)) + 4 * alpha * t * np.cos(np.pi * t * (1 + alpha))
    den = np.pi * t * (1 - (4 * alpha * t) ** 2)
    ok = np.abs(den) > 1e-9
    h = np.where(ok, num / np.where(ok, den, 1.0), h + 4 * alpha / np.pi)
    return h / np.sqrt(np.sum(h**2))


def _fsk(rng: np.random.Generator, n: int, fs: float, levels: np.ndarray, rate: float) -> np.ndarray:
    """Phase-continuous FSK: each symbol holds one of ``levels`` (Hz), edges Gaussian-smoothed (BT 1)."""
    sps = fs / rate
    n_sym = int(n / sps) + 2
    sym = rng.choice(levels, n_sym)
    freq = sym[(np.arange(n) / sps).astype(np.int64)]
    sigma = sps * math.sqrt(math.log(2)) / (2 * math.pi * 1.0)
    taps = np.exp(-0.5 * (np.arange(-3 * int(sigma) - 1, 3 * int(sigma) + 2) / max(sigma, 1e-9)) ** 2)
    freq = np.convolve(freq, taps / taps.sum(), mode="same")
    return np.exp(2j * np.pi * np.cumsum(freq) / fs)


@dataclass(frozen=True)
class _Keying:
    """Amplitude keying of random bits: on-off (depth 1) or between two levels (depth < 1)."""

    bits: np.ndarray  # 1 = mark (full level), 0 = space
    samples_per_bit: float
    depth: float

    def render(self, n: int) -> np.ndarray:
        """The keyed level over n samples, edges raised-cosine over 1/4 bit."""
        sps = self.samples_per_bit
        level = (1.0 - self.depth) + self.depth * self.bits[(np.arange(n) / sps).astype(np.int64)]
        edge = max(2, int(sps / 4))
        taps = np.hanning(edge + 2)[1:-1]
        return np.convolve(level, taps / taps.sum(), mode="same").astype(np.complex128)

    def marked_at(self, spans: tuple[tuple[float, float], ...], fs: float) -> _Keying:
        """The same bits, with the first and last bit of each (start_s, duration_s) span a mark.

        A keyed packet starts with a preamble or sync mark and ends on a stop mark: its edges are where
        it sends. Random bits would start a packet with spaces a third of the time, and nothing, not
        even an ideal receiver, tells leading spaces from silence.
        """
        bits = self.bits.copy()
        for start_s, duration_s in spans:
            # the packet's edges fall anywhere in a bit: the bits that hold its first and last full bit time
            first, last = start_s * fs / self.samples_per_bit, (start_s + duration_s) * fs / self.samples_per_bit
            bits[int(first) : int(first) + 2] = 1.0
            bits[max(0, int(last) - 1) : int(last) + 1] = 1.0
        return _Keying(bits, self.samples_per_bit, self.depth)


def _ook(rng: np.random.Generator, n: int, fs: float, rate: float, depth: float) -> _Keying:
    """Random bits keyed on-off (depth 1) or between two amplitudes (depth < 1)."""
    sps = fs / rate
    bits = rng.integers(0, 2, int(n / sps) + 2).astype(np.float64)
    bits[0] = 1.0
    return _Keying(bits, sps, depth)


def _waveform(kind: str, rng: np.random.Generator, n: int, fs: float) -> tuple[np.ndarray | _Keying, float]:
    """Baseband waveform of ``kind`` (complex, at 0 Hz; for keyed kinds its keying, rendered once the packets
    are known) and the channel width it belongs in (Hz)."""
    if kind == "cw":
        return np.ones(n, np.complex128), 12.5e3
    if kind == "am":
        m = rng.uniform(0.5, 0.9)
        return 1.0 + m * _audio(rng, n, fs, 300.0, 4000.0, 5), 10e3
    if kind == "fm_broadcast":
        dev = rng.uniform(50e3, 75e3)
        audio = 0.9 * _audio(rng, n, fs, 50.0, 15e3, 8) + 0.1 * np.sin(2 * np.pi * 19e3 * np.arange(n) / fs)
        return np.exp(2j * np.pi * dev * np.cumsum(audio) / fs), 200e3
    if kind == "nfm":
        dev = rng.uniform(1.5e3, 3.0e3)
        return np.exp(2j * np.pi * dev * np.cumsum(_audio(rng, n, fs, 300.0, 3000.0, 5)) / fs), 12.5e3
    if kind == "2fsk":
        rate = rng.uniform(2e3, 10e3)
        spacing = rng.uniform(max(20e3, 3 * rate), 50e3)
        return _fsk(rng, n, fs, np.array([-0.5, 0.5]) * spacing, rate), spacing + 4 * rate
    if kind == "4fsk":
        rate = rng.uniform(2e3, 4.8e3)
        outer = rng.uniform(6e3, 15e3)
        return _fsk(rng, n, fs, np.array([-1.0, -1 / 3, 1 / 3, 1.0]) * outer, rate), 2 * outer + 4 * rate
    if kind in ("ook", "ask"):
        rate = rng.uniform(1e3, 5e3)
        depth = 1.0 if kind == "ook" else rng.uniform(0.6, 0.85)
        return _ook(rng, n, fs, rate, depth), max(20e3, 8 * rate)
    if kind == "qpsk":
        sps = int(rng.integers(5, 20))
        alpha = rng.uniform(0.2, 0.5)
        n_sym = n // sps + 20
        sym = (rng.integers(0, 2, n_sym) * 2 - 1 + 1j * (rng.integers(0, 2, n_sym) * 2 - 1)) / math.sqrt(2)
        up = np.zeros(n_sym * sps, np.complex128)
        up[::sps] = sym
        x = np.convolve(up, _rrc(alpha, sps), mode="same")[:n]
        return x / np.sqrt(np.mean(np.abs(x) ** 2)), fs / sps * (1 + alpha)
    if kind == "ofdm":
        bw = rng.uniform(0.1, 0.4) * fs
        nfft = 256
        used = int(bw / fs * nfft) // 2
        carriers = np.r_[1 : used + 1, nfft - used : nfft]
        n_sym = n // (nfft + nfft // 4) + 2
        grid = np.zeros((n_sym, nfft), np.complex128)
        grid[:, carriers] = (rng.integers(0, 2, (n_sym, carriers.size)) * 2 - 1
                             + 1j * (rng.integers(0, 2, (n_sym, carriers.size)) * 2 - 1))
        symbols = np.fft.ifft(grid, axis=1)
        ofdm = np.concatenate([symbols[:, -nfft // 4 :], symbols], axis=1).ravel()[:n]
        return ofdm / np.sqrt(np.mean(np.abs(ofdm) ** 2)), (2 * used + 1) * fs / nfft
    if kind == "noise":
        bw = rng.uniform(0.05, 0.3) * fs
        f = np.fft.fftfreq(n, 1 / fs)
        shape = np.exp(-0.5 * (f / (bw / 4)) ** 2)  # Gaussian hump: no flat top, no edges
        white = rng.standard_normal(n) + 1j * rng.standard_normal(n)
        x = np.fft.ifft(np.fft.fft(white) * np.sqrt(shape))
        return x / np.sqrt(np.mean(np.abs(x) ** 2)), 1.3 * bw
    raise ValueError(f"unknown synthetic kind {kind!r}; choose one of {sorted(KINDS)}")


def _schedule(rng: np.random.Generator, duration_s: float, bursty: bool) -> tuple[tuple[float, float], ...]:
    """Packets of 15-60 ms with gaps of 30-150 ms from 20 ms on; or one span of the whole signal."""
    if not bursty:
        return ((0.0, duration_s),)
    out, t = [], 0.02 + rng.uniform(0.0, 0.03)
    while True:
        d = rng.uniform(0.015, 0.060)
        if t + d > duration_s - 0.01:
            break
        out.append((t, d))
        t += d + rng.uniform(0.030, 0.150)
    return tuple(out)


def obw_99_hz(x: np.ndarray, sample_rate_hz: float, *, beta: float = 0.01) -> tuple[float, float]:
    """99 % bandwidth (with ``beta``: the (1 - beta) bandwidth) and power-weighted centre (Hz) of a noise-free
    waveform, from its whole periodogram (every sample counts: with few symbols, which ones were sent moves
    the centre)."""
    (obw,), centre = _obws(x, sample_rate_hz, (beta,))
    return obw, centre


def _obws(x: np.ndarray, sample_rate_hz: float, betas: Sequence[float]) -> tuple[list[float], float]:
    """The (1 - beta) bandwidths for each of ``betas`` and the centre (Hz), from one periodogram."""
    p = np.abs(np.fft.fftshift(np.fft.fft(x))) ** 2
    f = np.fft.fftshift(np.fft.fftfreq(x.size, 1.0 / sample_rate_hz))
    cum = np.cumsum(p) / np.sum(p)
    out = []
    for beta in betas:
        lo = float(f[int(np.searchsorted(cum, beta / 2))])
        hi = float(f[min(int(np.searchsorted(cum, 1.0 - beta / 2)), f.size - 1)])
        out.append(float(hi - lo + (f[1] - f[0])))
    return out, float(np.sum(f * p) / np.sum(p))


#: Kinds that transmit in packets (the rest are on throughout, except NFM and QPSK, drawn either way).
_BURSTY = {"2fsk": True, "4fsk": True, "ook": True, "ask": True, "cw": False, "am": False,
           "fm_broadcast": False, "noise": False, "ofdm": False}


def known_signal(kind: str, *, snr_db: float, seed: int, sample_rate_hz: float = 1e6,
                 duration_s: float = 0.5) -> KnownSignal:
    """One transmitter of ``kind`` at a seeded offset and its known answer (see the module docstring)."""
    if kind not in KINDS:
        raise ValueError(f"unknown synthetic kind {kind!r}; choose one of {sorted(KINDS)}")
    rng = np.random.default_rng(seed)
    fs = float(sample_rate_hz)
    n = int(duration_s * fs)
    rendered, channel_hz = _waveform(kind, rng, n, fs)
    bursty = _BURSTY.get(kind, bool(rng.integers(0, 2)))
    bursts = _schedule(rng, n / fs, bursty)
    wave = rendered.marked_at(bursts, fs).render(n) if isinstance(rendered, _Keying) else rendered
    gate = np.zeros(n) if bursty else np.ones(n)  # a continuous transmitter was on before and stays on after
    for start, dur in bursts if bursty else ():
        a, b = round(start * fs), round((start + dur) * fs)
        ramp = min(64, (b - a) // 4)
        gate[a:b] = 1.0
        gate[a : a + ramp] = np.linspace(0.0, 1.0, ramp)
        gate[b - ramp : b] = np.linspace(1.0, 0.0, ramp)
    keyed = wave * gate
    on = gate > 0.5
    # SM.443 counts the mean power emitted, so a packet's switching on and off is part of the spectrum: of
    # the whole keyed signal (its silences add nothing), not of the samples while keyed joined end to end
    (obw, narrow, wide), centroid = _obws(keyed, fs, (0.01, 0.01 * (1 + BETA_TOLERANCE), 0.01 * (1 - BETA_TOLERANCE)))
    span = fs / 2 - max(channel_hz, obw) - 0.05 * fs  # the skirts stay inside the band
    offset = float(rng.uniform(-span, span)) if span > 0 else 0.0
    signal = keyed * np.exp(2j * np.pi * offset * np.arange(n) / fs)
    p_on = float(np.mean(np.abs(wave[on]) ** 2))
    noise_bw = CW_SNR_BW_HZ if kind == "cw" else obw
    n0 = p_on / (10 ** (snr_db / 10) * noise_bw)  # W/Hz
    noise = (rng.standard_normal(n) + 1j * rng.standard_normal(n)) * math.sqrt(n0 * fs / 2)
    iq = (signal + noise).astype(np.complex64)
    return KnownSignal(iq=iq, sample_rate_hz=fs, kind=kind, emission_class=KINDS[kind], center_hz=offset + centroid,
                       obw_hz=obw, channel_hz=float(channel_hz), bursts=bursts, continuous=not bursty,
                       snr_db=float(snr_db), obw_span_hz=(min(narrow, obw), max(wide, obw)))


#: The known answers a detection is held to, in the order reports list them.
CRITERIA: tuple[str, ...] = ("count", "centre", "bandwidth", "bursts")
#: Tolerances of the known answers: centre (share of the channel), 99 % bandwidth (share, or bins of the
#: analysis FFT: a carrier is narrower than the resolution), burst edges (s).
CENTRE_TOLERANCE = 0.01
BANDWIDTH_TOLERANCE = 0.10
BANDWIDTH_TOLERANCE_BINS = 4
#: ... of the 99 % bandwidth's beta: the bandwidth is within tolerance of any (1 - beta') bandwidth for beta'
#: within this share of beta (the same relative tolerance the bandwidth has; see KnownSignal.obw_span_hz)
BETA_TOLERANCE = 0.10
EDGE_TOLERANCE_S = 0.002


def known_answer_misses(sig: KnownSignal, *, emissions: int, center_hz: float, obw_hz: float,
                        bursts: Sequence[tuple[float, float]], bin_hz: float) -> list[str]:
    """Which of :data:`CRITERIA` a detection of ``sig`` misses (empty: all met).

    emissions: how many the detector reported (one is right); the rest describe the one it reported:
    centre and 99 % bandwidth (Hz), bursts as (start_s, duration_s), bin_hz the resolution it measured at.
    With other than one emission the rest is not judged (which one would it be?).
    """
    if emissions != 1:
        return ["count"]
    failed = []
    if abs(center_hz - sig.center_hz) > CENTRE_TOLERANCE * sig.channel_hz:
        failed.append("centre")
    narrow, wide = sig.obw_span_hz
    if not (narrow - max(BANDWIDTH_TOLERANCE * narrow, BANDWIDTH_TOLERANCE_BINS * bin_hz) <= obw_hz
            <= wide + max(BANDWIDTH_TOLERANCE * wide, BANDWIDTH_TOLERANCE_BINS * bin_hz)):
        failed.append("bandwidth")
    if len(bursts) != len(sig.bursts) or not all(
            abs(s - s0) <= EDGE_TOLERANCE_S and abs(s + d - s0 - d0) <= EDGE_TOLERANCE_S
            for (s, d), (s0, d0) in zip(bursts, sig.bursts)):
        failed.append("bursts")
    return failed
