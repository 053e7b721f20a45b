"""The simulator: what a sensor at a given site receives from a scenario of transmitters.

A product feature (demo, training, tests without hardware), so it models what an RTL-SDR really
delivers: received levels from a propagation model (:class:`~sdr.sources.sim_world.RealisticWorld`
for a world that does not flatter the engine), the site's calibration error (its true antenna
factor and gain differ from the configured ones), thermal noise kTB with the site's noise figure,
the site's LO error (ppm, correctable like a dongle's), a DC spike, tuner gain steps and 8-bit
quantisation with clipping. Levels are calibrated: ``dBFS = dBm + gain_db + 10`` (the nominal
RTL-SDR full scale that ``dsp.dbfs_to_dbm`` assumes, also exposed as ``calibration``), so a
measurement converted with ``dsp.dbfs_to_dbm`` gives back the true antenna-port level (which,
with a calibration error, is not what the configured antenna factor implies).

Scenario time is driven by the sample count (``t = samples / rate``), so a read is as fast as the
CPU allows (``realtime=False``) or paced to the wall clock (``realtime=True``). Everything is
deterministic for a seed and independent of how reads are chunked. Only transmitters inside the
tuned band are rendered.
"""

from __future__ import annotations

import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import lru_cache

import numpy as np

from dsp import CalibrationTable
from sdr.scenario import CONTINUOUS_MODULATIONS, Scenario, SensorSite, Transmitter
from sdr.sources import sim_waveforms as wf
from sdr.sources.base import SourceBase, SourceError, check_center_freq_hz, validate_read_count
from sdr.sources.sim_link import FreeSpaceModel, PropagationModel, received_dbm
from sdr.sources.sim_world import RealisticWorld, world_model

log = logging.getLogger(__name__)

#: dBFS of a 0 dBm signal at 0 dB gain (dsp.calibration.NOMINAL_FULL_SCALE_DBM = -10 dBm reads 0 dBFS).
FULL_SCALE_OFFSET_DB = 10.0
THERMAL_DBM_PER_HZ = -174.0
R820T_GAINS_DB = (0.0, 0.9, 1.4, 2.7, 3.7, 7.7, 8.7, 12.5, 14.4, 15.7, 16.6, 19.7, 20.7, 22.9, 25.4, 28.0, 29.7,
                  32.8, 33.8, 36.4, 37.2, 38.6, 40.2, 42.1, 43.4, 43.9, 44.5, 48.0, 49.6)
AGC_TARGET_DBFS = -18.0
#: noise of the IF stages and ADC, fixed in dBFS: it dithers the 8-bit quantiser, and it is why an
#: RTL-SDR's noise floor in dBm rises as the gain goes down.
ADC_NOISE_DBFS = -50.0
#: uniform quantisation noise of the 8-bit grid, both components: 2 * (1/127.5)**2 / 12.
QUANTISATION_NOISE_DBFS = 10 * math.log10(2 / 12 / 127.5**2)
NOISE_TABLE_LEN = 1 << 20
NOISE_BLOCK = 1 << 16

#: (tone Hz, peak deviation Hz) making up the modulating signal of the angle-modulated services.
#: Few tones keep the per-sample cost low; incommensurate frequencies give a dense, speech/music-like comb.
FM_BROADCAST_TONES = ((433.0, 26e3), (1370.0, 24e3), (6830.0, 20e3), (19e3, 7.5e3))
NFM_TONES = ((88.5, 300.0), (610.0, 900.0), (1770.0, 800.0))
#: Samples rendered per pass: noise, every emitter and the quantiser run on one L2-sized piece (512 KB of
#: complex64); 2**16 rather than 2**15 halves the per-block Python work (schedules, hashes), +7 % overall.
RENDER_BLOCK = 1 << 16


def _splitmix64(x: int) -> int:
    x = (x + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return x ^ (x >> 31)


def _hash(*parts: int) -> int:
    h = 0
    for p in parts:
        h = _splitmix64(h ^ (int(p) & 0xFFFFFFFFFFFFFFFF))
    return h


#: int16 units per unit of noise amplitude in the noise table (peaks ~4, so well inside int16).
NOISE_TABLE_SCALE = 8192.0


@lru_cache(maxsize=1)
def _noise_table() -> np.ndarray:
    """Unit-power complex Gaussian noise shared by all simulated sources (each reads it at its own offsets).

    I/Q interleaved int16 at NOISE_TABLE_SCALE: half the memory traffic of complex64 (the table is
    8 MB, read from memory at random offsets, and the renderer was waiting on it); rounding to 2**-13
    of the unit is 86 dB below the noise itself.
    """
    rng = np.random.default_rng(0x5EED)
    n = NOISE_TABLE_LEN + NOISE_BLOCK
    x = rng.standard_normal(2 * n, dtype=np.float32) * np.float32(math.sqrt(0.5))
    return np.clip(np.rint(x * np.float32(NOISE_TABLE_SCALE)), -32767, 32767).astype(np.int16)


def snap_gain_db(gain_db: float) -> float:
    """The R820T gain step nearest to gain_db (what librtlsdr would set)."""
    return min(R820T_GAINS_DB, key=lambda g: abs(g - gain_db))


@dataclass
class _Emitter:
    """A transmitter prepared for the current tuning: level, offset, oscillator state."""

    index: int
    tx: Transmitter
    amp: float
    inc: int
    p0: int
    tone_inc: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    tone_p0: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    tone_beta: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float64))
    #: carrier then tone increments / start phases and their phasor tables, for the phasor kernels
    incs: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    p0s: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    ptab: np.ndarray = field(default_factory=lambda: np.zeros((0, 2, wf.ANCHOR), np.float32))


class SimulatedSource(SourceBase):
    """IQ a sensor of ``scenario`` would receive; see the module docstring."""

    def __init__(
        self,
        scenario: Scenario,
        sensor_id: str,
        *,
        center_freq_hz: float = 100e6,
        sample_rate_hz: float = 2.4e6,
        gain_db: float | None = None,
        ppm: float = 0.0,
        seed: int | None = None,
        realtime: bool = False,
        start_s: float = 0.0,
        propagation: PropagationModel | None = None,
        calibration_error_db: float | None = None,
        dc_offset_dbfs: float | None = -48.0,
        quantize: bool = True,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.scenario = scenario
        try:
            self.site: SensorSite = scenario.sensor(sensor_id)
        except KeyError as exc:
            raise SourceError(exc.args[0]) from exc
        self.seed = int(seed if seed is not None else _hash(scenario.seed, *sensor_id.encode()) & 0x7FFFFFFF)
        self.propagation = propagation or world_model(scenario) or FreeSpaceModel()
        self.calibration_error_db = self._calibration_error(calibration_error_db)
        self.realtime = bool(realtime)
        self.quantize = bool(quantize)
        self.dc_offset_dbfs = dc_offset_dbfs
        self._monotonic, self._sleep = monotonic, sleep
        self._center_hz = float(center_freq_hz)
        self._rate_hz = float(sample_rate_hz)
        self._ppm_correction = float(ppm)
        self._requested_gain: float | None = None
        self._gain_db = 0.0
        self._k = 0  # samples produced so far (the scenario clock)
        self._k_base, self._t_base = 0, float(start_s)
        self._wall_start: float | None = None
        self._rx_dbm = {
            tx.id: received_dbm(self.propagation, tx, self.site) + self.calibration_error_db
            for tx in scenario.transmitters
        }
        self._env_cache: OrderedDict[tuple[int, int], np.ndarray] = OrderedDict()
        self._burst_offsets: dict[tuple[int, int], float] = {}
        self._emitters: list[_Emitter] = []
        self.gain_db = gain_db  # also prepares the emitters

    def _calibration_error(self, stated: float | None) -> float:
        """The receiver's hidden bias (dB): given here, else the world's (drawn or stated per site), else the site's.

        The true antenna factor is the configured one minus this, so the antenna port sees this much
        more power than the configured factor implies and the sensor reports a field this much high.
        """
        if stated is not None:
            return float(stated)
        if isinstance(self.propagation, RealisticWorld):
            return self.propagation.calibration_error_db(self.site)
        return float(self.site.calibration_error_db or 0.0)

    # -- calibration and truth -----------------------------------------------------------
    @property
    def effective_gain_db(self) -> float:
        """The tuner gain in use (the AGC's choice when ``gain_db`` is None)."""
        return self._gain_db

    @property
    def calibration(self) -> CalibrationTable:
        """dBm at the antenna port that reads 0 dBFS, per gain: for ``dsp.dbfs_to_dbm(table=...)``."""
        return CalibrationTable(
            gains_db=R820T_GAINS_DB,
            freqs_hz=(1e6, 6e9),
            offsets_db=tuple((-g - FULL_SCALE_OFFSET_DB,) * 2 for g in R820T_GAINS_DB),
        )

    @property
    def dbfs_offset_db(self) -> float:  # type: ignore[override]
        """dBm = dBFS - effective gain - this."""
        return FULL_SCALE_OFFSET_DB

    def received_dbm(self, transmitter_id: str) -> float:
        """True power of a transmitter at this sensor's antenna port while it is keyed (dBm).

        Includes the calibration error: with the configured antenna factor it converts to the field
        the sensor reports, ``true field + calibration_error_db``.
        """
        return self._rx_dbm[transmitter_id]

    def noise_dbm(self, bandwidth_hz: float | None = None) -> float:
        """Thermal noise at the antenna port referred to the front end, in bandwidth_hz (default: the rate)."""
        bw = self._rate_hz if bandwidth_hz is None else bandwidth_hz
        return THERMAL_DBM_PER_HZ + self.site.noise_figure_db + 10 * math.log10(bw)

    def noise_floor_dbfs(self) -> float:
        """Total noise power before quantisation (thermal through the gain, plus ADC noise), dBFS."""
        thermal = self.noise_dbm() + self._gain_db + FULL_SCALE_OFFSET_DB
        return 10 * math.log10(10 ** (thermal / 10) + 10 ** (ADC_NOISE_DBFS / 10))

    def measured_floor_dbfs(self) -> float:
        """Noise a measurement should see: the analogue noise plus quantisation noise when quantising."""
        q = 10 ** (QUANTISATION_NOISE_DBFS / 10) if self.quantize else 0.0
        return 10 * math.log10(10 ** (self.noise_floor_dbfs() / 10) + q)

    def noise_floor_dbm_per_hz(self) -> float:
        """Expected measured noise density at the antenna port (thermal, ADC, quantisation), dBm/Hz."""
        return self.measured_floor_dbfs() - self._gain_db - FULL_SCALE_OFFSET_DB - 10 * math.log10(self._rate_hz)

    @property
    def scenario_time_s(self) -> float:
        """Scenario time of the next sample to be read."""
        return self._t_base + (self._k - self._k_base) / self._rate_hz

    def seek(self, t_s: float) -> None:
        """Carry the scenario clock forward to ``t_s`` without rendering the gap.

        A sensor reads a few tens of ms per sweep and then idles until its revisit; a network that
        follows the wall clock (the demo: schedules in wall seconds) seeks to the elapsed time
        before each hop instead of lagging behind it. Never goes back (the stream stays causal).
        """
        if t_s > self.scenario_time_s:
            self._t_base, self._k_base = float(t_s), self._k
            self._wall_start = None

    # -- Source interface -----------------------------------------------------------------
    def set_sample_rate(self, sample_rate_hz: float) -> None:
        """Change the rate; the scenario clock carries on from where it is."""
        if sample_rate_hz <= 0:
            raise SourceError(f"sample rate must be > 0, got {sample_rate_hz}")
        self._t_base, self._k_base = self.scenario_time_s, self._k
        self._rate_hz = float(sample_rate_hz)
        self._wall_start = None
        self._prepare()

    @property
    def gain_db(self) -> float | None:
        return self._requested_gain

    @gain_db.setter
    def gain_db(self, value: float | None) -> None:
        self._requested_gain = None if value is None else snap_gain_db(float(value))
        self._prepare()

    @property
    def ppm(self) -> float:
        return self._ppm_correction

    def tune(self, freq_hz: float) -> None:
        check_center_freq_hz(freq_hz)
        self._center_hz = float(freq_hz)
        self._prepare()

    def close(self) -> None:
        self._emitters = []

    # -- preparation ----------------------------------------------------------------------
    def _lo_hz(self) -> float:
        return self._center_hz * (1.0 + (self.site.ppm_error - self._ppm_correction) * 1e-6)

    def _prepare(self) -> None:
        """Pick the transmitters inside the tuned band, set the AGC gain, compute amplitudes."""
        lo = self._lo_hz()
        half = self._rate_hz / 2
        inband = [
            (i, tx) for i, tx in enumerate(self.scenario.transmitters)
            if abs(tx.emitted_freq_hz - lo) < half + tx.bandwidth_hz / 2
        ]
        if self._requested_gain is None:
            total_mw = 10 ** (self.noise_dbm() / 10) + sum(10 ** (self._rx_dbm[tx.id] / 10) for _, tx in inband)
            want = AGC_TARGET_DBFS - FULL_SCALE_OFFSET_DB - 10 * math.log10(total_mw)
            self._gain_db = max(g for g in R820T_GAINS_DB if g <= max(want, 0.0))
        else:
            self._gain_db = self._requested_gain
        self._emitters = []
        for i, tx in inband:
            level_dbfs = self._rx_dbm[tx.id] + self._gain_db + FULL_SCALE_OFFSET_DB
            em = _Emitter(
                index=i, tx=tx, amp=10 ** (level_dbfs / 20),
                inc=wf.nco_increment(tx.emitted_freq_hz - lo, self._rate_hz),
                p0=_hash(self.seed, i, 1) & 0xFFFFFFFF,
            )
            tones = {"fm_broadcast": FM_BROADCAST_TONES, "nfm": NFM_TONES}.get(tx.modulation, ())
            if tones:
                em.tone_inc = np.array([wf.nco_increment(f, self._rate_hz) for f, _ in tones], dtype=np.int64)
                em.tone_p0 = np.array([_hash(self.seed, i, 2, j) & 0xFFFFFFFF for j in range(len(tones))], np.int64)
                # phase deviation beta = dev / f_mod radians, in turns
                em.tone_beta = np.array([dev / f / (2 * np.pi) for f, dev in tones], dtype=np.float64)
            em.incs = np.concatenate([[em.inc], em.tone_inc]).astype(np.int64)
            em.p0s = np.concatenate([[em.p0], em.tone_p0]).astype(np.int64)
            em.ptab = wf.phasor_tables(em.incs)
            self._emitters.append(em)
        self._sigma = math.sqrt(10 ** (self.noise_floor_dbfs() / 10))
        self._dc = 0j if self.dc_offset_dbfs is None else complex(10 ** (self.dc_offset_dbfs / 20)) * (1 + 0.6j) / abs(
            1 + 0.6j)
        self._dc_iq = np.array([self._dc.real, self._dc.imag], dtype=np.float32)

    # -- scheduling ------------------------------------------------------------------------
    def _on_intervals(self, em: _Emitter, t0: float, t1: float) -> list[tuple[float, float, int, float]]:
        """(start_s, stop_s, burst_index, burst_start_s) of keyed time within [t0, t1)."""
        tx = em.tx
        windows = [(max(a, t0), min(b, t1)) for a, b in tx.schedule] if tx.schedule else [(t0, t1)]
        windows = [(a, b) for a, b in windows if b > a]
        if not windows:
            return []
        burst = tx.burst_s
        continuous = tx.modulation in CONTINUOUS_MODULATIONS and tx.duty_cycle >= 1.0
        if continuous:
            return [(a, b, -1, 0.0) for a, b in windows]
        period = burst / tx.duty_cycle
        out = []
        for kb in range(math.floor((t0 - period) / period), math.floor(t1 / period) + 1):
            u = 0.0 if tx.duty_cycle >= 1.0 else self._burst_offset(em.index, kb)
            bs = kb * period + u * (period - burst)
            for a, b in windows:
                lo, hi = max(a, bs), min(b, bs + burst)
                if hi > lo:
                    out.append((lo, hi, kb, bs))
        return out

    def _burst_offset(self, index: int, burst_index: int) -> float:
        """Where burst ``burst_index`` of transmitter ``index`` starts within its period, as a fraction in [0, 1).

        A pure function of (seed, index, burst); memoised because every render block asks again
        (the hash is pure Python, it was ~5 % of the simulator's time).
        """
        key = (index, burst_index)
        u = self._burst_offsets.get(key)
        if u is None:
            if len(self._burst_offsets) >= 4096:
                self._burst_offsets.clear()
            u = self._burst_offsets[key] = (_hash(self.seed, index, 3, burst_index) >> 11) / float(1 << 53)
        return u

    def _envelope(self, em: _Emitter, burst_index: int) -> np.ndarray:
        key = (em.index, burst_index)
        env = self._env_cache.get(key)
        if env is None:
            rng = np.random.default_rng([self.seed, em.index, burst_index & 0x7FFFFFFF, 4])
            n_sym = math.ceil(em.tx.burst_s * em.tx.symbol_rate) + 1
            env = wf.burst_envelope(em.tx.modulation, n_sym, rng)
            self._env_cache[key] = env
            if len(self._env_cache) > 64:
                self._env_cache.popitem(last=False)
        else:
            self._env_cache.move_to_end(key)
        return env

    # -- rendering -------------------------------------------------------------------------
    def _k_of(self, t_s: float) -> float:
        return self._k_base + (t_s - self._t_base) * self._rate_hz

    def _noise_into(self, k0: int, out: np.ndarray) -> None:
        """out = the site's noise for samples k0 .. k0+len(out)-1 (copied and scaled in one pass)."""
        table = _noise_table()
        flat = out.view(np.float32)
        scale = np.float32(self._sigma / NOISE_TABLE_SCALE)
        n = out.shape[0]
        pos = 0
        while pos < n:
            k = k0 + pos
            block, within = divmod(k, NOISE_BLOCK)
            take = min(n - pos, NOISE_BLOCK - within)
            off = _hash(self.seed, block, 5) % NOISE_TABLE_LEN + within
            wf.scale_i16(table[2 * off : 2 * (off + take)], scale, flat[2 * pos : 2 * (pos + take)])
            pos += take

    def render(self, k0: int, n: int) -> np.ndarray:
        """Samples k0 .. k0+n-1 of this sensor's stream at the current tuning (no clock side effects)."""
        out = np.empty(n, dtype=np.complex64)
        self._render_into(k0, out)
        return out

    def _render_into(self, k0: int, out: np.ndarray) -> None:
        """Render samples k0 .. k0+len(out)-1 into ``out`` (a contiguous complex64 buffer): no temporaries."""
        n = out.shape[0]
        self._noise_into(k0, out)
        flat = out.view(np.float32)
        t0 = self._t_base + (k0 - self._k_base) / self._rate_hz
        t1 = t0 + n / self._rate_hz
        for em in self._emitters:
            for a, b, kb, bs in self._on_intervals(em, t0, t1):
                i0 = max(0, math.ceil(self._k_of(a) - k0 - 1e-9))
                i1 = min(n, math.ceil(self._k_of(b) - k0 - 1e-9))
                if i1 <= i0:
                    continue
                seg = flat[2 * i0 : 2 * i1]
                if kb < 0 or em.tx.modulation in CONTINUOUS_MODULATIONS:
                    wf.add_angle_modulated_phasor(seg, k0 + i0, em.amp, em.incs, em.p0s, em.tone_beta, em.ptab)
                else:
                    env = self._envelope(em, kb)
                    step = em.tx.symbol_rate * wf.ENV_OVERSAMPLE / self._rate_hz
                    wf.add_enveloped_phasor(seg, k0 + i0, em.amp, em.inc, em.p0, em.ptab[0], env, self._k_of(bs), step)
        if self.quantize:
            wf.quantize_u8_inplace(flat, self._dc_iq)
        elif self._dc:
            out += np.complex64(self._dc)

    def read(self, n: int) -> np.ndarray:
        n = validate_read_count(n)
        if self.realtime:
            self._pace(n)
        t0 = self.scenario_time_s
        out = np.empty(n, dtype=np.complex64)
        for i in range(0, n, RENDER_BLOCK):
            self._render_into(self._k + i, out[i : i + RENDER_BLOCK])
        self._k += n
        self._timestamp_utc = self.scenario.start_utc + timedelta(seconds=t0)
        return out

    def _pace(self, n: int) -> None:
        """Wait until the wall clock has reached the end of the block about to be read."""
        now = self._monotonic()
        if self._wall_start is None:
            self._wall_start = now - (self._k - self._k_base) / self._rate_hz
        due = self._wall_start + (self._k + n - self._k_base) / self._rate_hz
        if due > now:
            self._sleep(due - now)
