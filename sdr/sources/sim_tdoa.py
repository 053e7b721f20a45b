"""What each sensor's dongle records during a synchronised TDOA snapshot, rendered sample by sample.

Why a renderer of its own: the streaming :class:`~sdr.sources.simulated.SimulatedSource` draws each
emitter independently per sensor (levels right, waveforms unrelated), which is all a spectrum monitor
needs; a time difference needs the *same* waveform at every sensor, each copy late by its path and
sampled by that sensor's own clock. Here every transmitter has one seeded complex baseband waveform in
true time; a sensor's sample n is taken at

    t_n = T + start_offset_s + n / (fs * (1 + ppm * 1e-6))          (its crystal runs fast or slow)

and holds, for every transmitter in the tuned band, the waveform at t_n - distance / c (straight-line
distance between the antennas in ECEF, heights included), optionally plus later, weaker rays
(multipath), mixed down by the LO, which runs on the same crystal: F * (1 + ppm * 1e-6), with a fresh PLL
phase after every retune. Levels come from the world (:class:`~sdr.sources.sim_world.RealisticWorld`:
P.1546 median plus shadowing), noise from kTB and the sensor's noise figure. The samples of a retune's
settling time are noise with a decaying transient (the sensor drops them; they are rendered so a reader
that does not drop them is wrong, visibly).

Impairments (both off by default, so known-answer tests see clean signals):

- multipath per link (:class:`MultipathProfile`): 1-3 extra rays, each later than the direct one by a
  delay drawn log-uniformly between a few hundred ns and a few us and weaker by 3-15 dB, with its own
  carrier phase; the link's total power stays the world's. The numbers follow the COST 207 delay profiles
  (rural area: taps within 0.5 us, typical urban: taps at 0.2-5 us, 0-10 dB down) and the r.m.s. delay
  spreads ITU-R P.1407 reports for VHF/UHF mobile links (a few hundred ns in open country, ~1-3 us in
  towns). :class:`Multipath` is the older fixed two-ray case.
- the dongle's ADC (:class:`AdcModel`): per segment the tuner gain is the R820T step that puts the
  segment's total power near the AGC target (-18 dBFS, as the streaming simulator), the IF/ADC noise
  (-50 dBFS) is added and I and Q are quantised to 8 bits with clipping (the RTL2832U's unsigned bytes):
  about 7 effective bits. The recording is scaled back to dBm units, so levels stay calibrated.

Waveforms are statistical stand-ins with the right spectra: FM broadcast (programme audio as
band-limited noise to 15 kHz, 19 kHz pilot, +-50..75 kHz deviation), NFM speech (300-3000 Hz band-limited
noise, +-2.5 kHz), and wideband digital (root-raised-cosine QPSK at a given bandwidth). Tones would be
a poor stand-in: their correlation is periodic, which no real programme is.
"""

from __future__ import annotations

import hashlib
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dsp.calibration import dbuv_m_to_dbm
from dsp.clock_align import resample
from dsp.multilat import C_M_S, geodetic_to_ecef
from dsp.tdoa_pair import SnapshotWindows
from sdr.scenario import SensorSite, Transmitter
from sdr.sources.base import SourceBase
from sdr.sources.sim_link import PropagationModel
from sdr.sources.simulated import ADC_NOISE_DBFS, AGC_TARGET_DBFS, FULL_SCALE_OFFSET_DB, R820T_GAINS_DB

#: Thermal noise density at 290 K (dBm/Hz).
KTB_DBM_HZ = -173.98
#: Margin of the waveform grid beyond the snapshot (s): start offsets, path delays, interpolator reach.
GRID_MARGIN_S = 0.05
#: Waveform kinds the renderer draws, and their default occupied bandwidth (Hz).
TDOA_WAVEFORMS: dict[str, float] = {"fm_broadcast": 180e3, "nfm": 11e3, "wideband": 150e3}


@dataclass(frozen=True)
class SnapshotPlan:
    """"At UTC T capture F_ref, then F, then F_ref again, N samples each, on one sample clock."""

    ref_freq_hz: float
    target_freq_hz: float
    sample_rate_hz: float
    ref_samples: int
    target_samples: int
    settle_samples: int

    @property
    def total_samples(self) -> int:
        return 2 * self.ref_samples + self.target_samples + 2 * self.settle_samples

    def windows(self) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int]]:
        """(ref_before, target, ref_after) sample spans, settling excluded."""
        r, t, s = self.ref_samples, self.target_samples, self.settle_samples
        return (0, r), (r + s, r + s + t), (r + 2 * s + t, 2 * r + 2 * s + t)

    def retunes(self) -> tuple[tuple[int, float], ...]:
        """(sample index of the retune, frequency tuned to) for each segment."""
        (a, _), (b, _), (c, _) = self.windows()
        s = self.settle_samples
        return (a, self.ref_freq_hz), (b - s, self.target_freq_hz), (c - s, self.ref_freq_hz)


@dataclass(frozen=True)
class DongleClock:
    """A sensor's timing: crystal error (ppm, sample rate and LO alike) and start error (s) at T."""

    ppm: float = 0.0
    start_offset_s: float = 0.0
    pps_locked: bool = False


#: One extra ray of a link: (excess delay s, amplitude relative to the direct ray, carrier phase rad).
Ray = tuple[float, float, float]


@dataclass(frozen=True)
class Multipath:
    """Two-ray multipath: a second copy ``delay_s`` later and ``rel_db`` weaker, per link."""

    delay_s: float = 1e-6
    rel_db: float = -6.0

    def rays(self, rng: np.random.Generator, key: int) -> tuple[list[Ray], float]:
        """The extra ray of one link (its delay 0.5-1.5 x ``delay_s`` from ``key``) and the direct ray's
        amplitude (1: the second ray adds power)."""
        extra = self.delay_s * (0.5 + (key % 1000) / 1000.0)
        return [(extra, 10 ** (self.rel_db / 20), (key >> 10) % 6283 / 1000)], 1.0


@dataclass(frozen=True)
class MultipathProfile:
    """Multipath drawn per link: ``rays`` extra rays (inclusive range), each ``delay_s`` later (log-uniform
    in the range) and ``rel_db`` weaker (uniform), random carrier phase; total power kept (the world's
    level already holds the multipath). See the module docstring for where the numbers come from."""

    name: str
    delay_s: tuple[float, float]
    rays_range: tuple[int, int] = (1, 3)
    rel_db: tuple[float, float] = (-15.0, -3.0)

    def rays(self, rng: np.random.Generator, key: int) -> tuple[list[Ray], float]:
        """One link's extra rays and the direct ray's amplitude (so that the powers sum to one)."""
        del key
        k = int(rng.integers(self.rays_range[0], self.rays_range[1] + 1))
        lo, hi = math.log(self.delay_s[0]), math.log(self.delay_s[1])
        out = [(math.exp(rng.uniform(lo, hi)), 10 ** (rng.uniform(*self.rel_db) / 20), rng.uniform(0, 2 * math.pi))
               for _ in range(k)]
        direct = 1.0 / math.sqrt(1.0 + sum(a * a for _, a, _ in out))
        return [(d, a * direct, ph) for d, a, ph in out], direct


#: Open country (COST 207 rural area: every tap within 0.5 us).
RURAL = MultipathProfile("rural", (0.1e-6, 0.5e-6))
#: Towns (COST 207 typical urban: taps from 0.2 to 5 us).
URBAN = MultipathProfile("urban", (0.5e-6, 5e-6))
#: The benchmark's default: links anywhere between open country and town, a few hundred ns to a few us.
MIXED = MultipathProfile("mixed", (0.2e-6, 3e-6))


@dataclass(frozen=True)
class AdcModel:
    """The dongle's receive chain after the antenna: per-segment AGC on the R820T gain steps, IF/ADC noise,
    ``bits`` bits per I and Q with clipping (see the module docstring)."""

    bits: int = 8
    agc_target_dbfs: float = AGC_TARGET_DBFS
    adc_noise_dbfs: float = ADC_NOISE_DBFS

    def gain_db(self, power_mw: float) -> float:
        """The highest gain step that keeps ``power_mw`` at or below the AGC target."""
        level0 = 10 * math.log10(max(power_mw, 1e-30)) + FULL_SCALE_OFFSET_DB
        want = self.agc_target_dbfs - level0
        return max(g for g in R820T_GAINS_DB if g <= max(want, 0.0))

    def digitise(self, x_mw: np.ndarray, gain_db: float, rng: np.random.Generator) -> np.ndarray:
        """``x_mw`` (amplitudes in sqrt(mW)) through the gain, ADC noise and quantiser, back in sqrt(mW)."""
        scale = 10 ** ((gain_db + FULL_SCALE_OFFSET_DB) / 20)
        fs = scale * x_mw
        sd = math.sqrt(10 ** (self.adc_noise_dbfs / 10) / 2)
        fs = fs + sd * (rng.standard_normal(fs.size) + 1j * rng.standard_normal(fs.size))
        half = (2**self.bits - 1) / 2.0  # 127.5 for 8 bits: codes 0..255 centred on 127.5
        i = np.clip(np.rint(fs.real * half + half), 0, 2 * half)
        q = np.clip(np.rint(fs.imag * half + half), 0, 2 * half)
        return ((i - half) + 1j * (q - half)) / (half * scale)


@dataclass(frozen=True)
class TdoaEmitter:
    """A transmitter and the waveform it sends in a snapshot (kind in TDOA_WAVEFORMS, bandwidth in Hz)."""

    tx: Transmitter
    kind: str
    bandwidth_hz: float
    seed: int


def _seed(*parts: object) -> int:
    return int.from_bytes(hashlib.sha256("|".join(map(str, parts)).encode()).digest()[:8], "little")


def _lowpass_noise(rng: np.random.Generator, n: int, fs: float, lo_hz: float, hi_hz: float) -> np.ndarray:
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / fs)
    spec[(f < lo_hz) | (f > hi_hz)] = 0
    x = np.fft.irfft(spec, n)
    return x / (np.std(x) + 1e-30)


def waveform(kind: str, bandwidth_hz: float, n: int, fs: float, seed: int) -> np.ndarray:
    """Unit-power complex baseband of ``kind`` (see the module docstring), ``n`` samples at ``fs``."""
    rng = np.random.default_rng(seed)
    if kind == "fm_broadcast":
        dev = rng.uniform(50e3, 75e3) * min(1.0, bandwidth_hz / 180e3)
        audio = 0.3 * _lowpass_noise(rng, n, fs, 30.0, 15e3) + 0.1 * np.sin(2 * np.pi * 19e3 * np.arange(n) / fs)
        return np.exp(2j * np.pi * dev * np.cumsum(np.clip(audio, -1, 1)) / fs)
    if kind == "nfm":
        dev = 2.5e3 * min(1.0, bandwidth_hz / 11e3)
        audio = 0.35 * _lowpass_noise(rng, n, fs, 300.0, 3000.0)
        return np.exp(2j * np.pi * dev * np.cumsum(np.clip(audio, -1, 1)) / fs)
    if kind == "wideband":
        spec = np.fft.fft(rng.standard_normal(n) + 1j * rng.standard_normal(n))
        f = np.abs(np.fft.fftfreq(n, 1 / fs))
        # raised-cosine shaped band of the stated width (roll-off 0.25): a QPSK-like digital carrier
        half, roll = bandwidth_hz / 2, 0.25 * bandwidth_hz / 2
        shape = np.where(f <= half - roll, 1.0, np.where(f >= half + roll, 0.0,
                         0.5 * (1 + np.cos(np.pi * (f - (half - roll)) / (2 * roll)))))
        x = np.fft.ifft(spec * shape)
        return x / np.sqrt(np.mean(np.abs(x) ** 2))
    raise ValueError(f"unknown TDOA waveform {kind!r}; choose one of {sorted(TDOA_WAVEFORMS)}")


def path_delay_s(tx: Transmitter, site: SensorSite) -> float:
    """Straight-line propagation delay between the antennas (s)."""
    a = geodetic_to_ecef(np.array(tx.lat), np.array(tx.lon), np.array(tx.antenna_height_m))
    b = geodetic_to_ecef(np.array(site.lat), np.array(site.lon), np.array(site.height_m))
    return float(np.linalg.norm(a - b)) / C_M_S


def received_dbm(model: PropagationModel, tx: Transmitter, site: SensorSite) -> float:
    """Power at the antenna port (dBm) from the world's field strength and the site's antenna factor."""
    return float(dbuv_m_to_dbm(model.field_strength_dbuv_m(tx, site), site.antenna_factor_db_m))


def noise_dbm(site: SensorSite, bandwidth_hz: float) -> float:
    """Receiver noise power over ``bandwidth_hz`` (dBm): kTB plus the site's noise figure."""
    return KTB_DBM_HZ + site.noise_figure_db + 10 * math.log10(bandwidth_hz)


class SnapshotRenderer:
    """Renders a :class:`SnapshotPlan` for sensors from one set of transmitters (waveforms cached)."""

    def __init__(self, emitters: Sequence[TdoaEmitter], model: PropagationModel, plan: SnapshotPlan, *,
                 multipath: Multipath | MultipathProfile | None = None, adc: AdcModel | None = None,
                 seed: int = 0) -> None:
        self.emitters = tuple(emitters)
        self.model = model
        self.plan = plan
        self.multipath = multipath
        self.adc = adc
        self.seed = seed
        fs = plan.sample_rate_hz
        self._grid_t0 = -GRID_MARGIN_S
        n_grid = int((plan.total_samples / fs + 2 * GRID_MARGIN_S) * fs)
        self._waves = {e.tx.id: waveform(e.kind, e.bandwidth_hz, n_grid, fs, e.seed) for e in self.emitters}

    def _in_band(self, tuned_hz: float) -> list[TdoaEmitter]:
        half = 0.5 * self.plan.sample_rate_hz
        return [e for e in self.emitters if abs(e.tx.emitted_freq_hz - tuned_hz) + 0.5 * e.bandwidth_hz < half]

    def render(self, site: SensorSite, clock: DongleClock) -> SnapshotWindows:
        """The sensor's whole recording (complex64, dBm-scaled: |x|^2 is mW) and its segment windows."""
        plan = self.plan
        fs = plan.sample_rate_hz
        rng = np.random.default_rng(_seed(self.seed, site.id))
        n = np.arange(plan.total_samples, dtype=np.float64)
        t = clock.start_offset_s + n / (fs * (1 + clock.ppm * 1e-6))
        noise_mw = 10 ** (noise_dbm(site, fs) / 10)
        iq = (rng.standard_normal(n.size) + 1j * rng.standard_normal(n.size)) * math.sqrt(noise_mw / 2)
        windows = plan.windows()
        for (a, b), (_, tuned) in zip(windows, plan.retunes()):
            lo_hz = tuned * (1 + clock.ppm * 1e-6)
            phase0 = rng.uniform(0, 2 * np.pi)  # the PLL locks with a new phase on every retune
            for em in self._in_band(tuned):
                amp = math.sqrt(10 ** (received_dbm(self.model, em.tx, site) / 10))
                tau = path_delay_s(em.tx, site)
                rays = [(tau, amp, 0.0)]
                if self.multipath is not None:
                    k = _seed(self.seed, "mp", em.tx.id, site.id)
                    extra, direct = self.multipath.rays(np.random.default_rng(k), k)
                    rays = [(tau, amp * direct, 0.0)] + [(tau + d, amp * a, ph) for d, a, ph in extra]
                for delay, a_ray, ph in rays:
                    te = t[a:b] - delay
                    s = resample(self._waves[em.tx.id], (te - self._grid_t0) * fs)
                    f_off = em.tx.emitted_freq_hz - lo_hz
                    # carrier phase: emitted frequency times the delay, kept small-number exact
                    rot = 2 * np.pi * (f_off * t[a:b] - em.tx.emitted_freq_hz * delay) - phase0 + ph
                    iq[a:b] += a_ray * s * np.exp(1j * rot)
        for (_, b), nxt in itertools.pairwise(windows):
            settle = np.arange(nxt[0] - b)
            iq[b : nxt[0]] *= 1 + 30 * np.exp(-settle / max(1, settle.size / 5))
        if self.adc is not None:
            # the AGC sets each segment's gain on its settled samples; the settling before it shares that gain
            starts = [0] + [r for r, _ in plan.retunes()[1:]] + [iq.size]
            for (a, b), lo, hi in zip(windows, starts[:-1], starts[1:]):
                gain = self.adc.gain_db(float(np.mean(np.abs(iq[a:b]) ** 2)))
                iq[lo:hi] = self.adc.digitise(iq[lo:hi], gain, rng)
        return SnapshotWindows(iq=iq.astype(np.complex64), sample_rate_hz=fs, ref_before=windows[0],
                               target=windows[1], ref_after=windows[2], ref_freq_hz=plan.ref_freq_hz,
                               target_freq_hz=plan.target_freq_hz, pps_locked=clock.pps_locked)


class RecordingSource(SourceBase):
    """Plays one rendered snapshot recording through the Source interface (tuning is the recording's:
    ``tune`` only notes the frequency), so the sensor's own snapshot code path takes it unchanged."""

    can_retune = True
    finite = True

    def __init__(self, iq: np.ndarray, sample_rate_hz: float, center_freq_hz: float) -> None:
        self._iq = np.asarray(iq, dtype=np.complex64)
        self._rate_hz = float(sample_rate_hz)
        self._center_hz = float(center_freq_hz)
        self._pos = 0
        self.gain_db: float | None = None

    def tune(self, freq_hz: float) -> None:
        self._center_hz = float(freq_hz)

    def read(self, n: int) -> np.ndarray:
        out = self._iq[self._pos : self._pos + int(n)]
        self._pos += out.size
        return out

    def close(self) -> None:
        """Nothing to release."""


class SimulatedSnapshots:
    """What a simulated sensor records when ordered a TDOA snapshot: the order becomes a
    :class:`SnapshotPlan`, rendered for this sensor's site and dongle clock from the given transmitters
    (the target emitters and the reference broadcaster), played back as a :class:`RecordingSource`.
    Orders of one round (same frequencies and sizes) share one renderer, so every sensor hears the
    same waveforms; the dongle clock is drawn per order from the sensor's seed (+-``ppm`` and
    +-``offset_s``, uniform). ``multipath`` and ``adc`` add the impairments (see the module docstring)."""

    def __init__(self, emitters: Sequence[TdoaEmitter], model: PropagationModel, site: SensorSite, *,
                 seed: int = 0, ppm: float = 50.0, offset_s: float = 0.01,
                 multipath: Multipath | MultipathProfile | None = None,
                 renderers: dict[tuple[float, ...], SnapshotRenderer] | None = None,
                 adc: AdcModel | None = None) -> None:
        self.emitters = tuple(emitters)
        self.model = model
        self.site = site
        self.seed = seed
        self.ppm = ppm
        self.offset_s = offset_s
        self.multipath = multipath
        self.adc = adc
        #: shared between the sensors of one simulated network (one renderer per ordered plan)
        self.renderers = renderers if renderers is not None else {}
        self.orders = 0

    def __call__(self, ref_hz: float, target_hz: float, sample_rate_hz: float, ref_samples: int,
                 target_samples: int, settle_samples: int) -> RecordingSource:
        plan = SnapshotPlan(ref_hz, target_hz, sample_rate_hz, ref_samples, target_samples, settle_samples)
        key = (ref_hz, target_hz, sample_rate_hz, float(ref_samples), float(target_samples), float(settle_samples))
        renderer = self.renderers.get(key)
        if renderer is None:
            renderer = self.renderers[key] = SnapshotRenderer(self.emitters, self.model, plan,
                                                              multipath=self.multipath, adc=self.adc,
                                                              seed=self.seed)
        rng = np.random.default_rng(_seed(self.seed, self.site.id, self.orders))
        self.orders += 1
        clock = DongleClock(ppm=rng.uniform(-self.ppm, self.ppm), start_offset_s=rng.uniform(-self.offset_s,
                                                                                             self.offset_s))
        win = renderer.render(self.site, clock)
        return RecordingSource(win.iq, sample_rate_hz, ref_hz)
