"""One monitoring-profile measurement: IQ source + MonitoringProfile -> calibrated spectrum, floor, emissions.

Why it is built this way:
- The frequency axis is exact: hops are planned on the bin grid (``plan_hops(..., nfft=)``), stitched
  by ``stitch_hops`` and trimmed to the profile band, so bin ``k`` is at ``f_start_hz + k * f_step_hz``
  on every sensor; the server can compare sensors bin for bin.
- Powers are per bin, in dBm at the antenna port, and they integrate: the Welch density is multiplied
  by the bin width (not "spectrum" scaling), so summing the bins of an emission gives its true power
  whatever the window (a Hann "spectrum" scaling would read noise and wideband power 1.76 dB high).
  The emission ``power_dbm`` is that sum (noise subtracted), the figure the rules engine compares.
- Calibration: a source that knows its level (the simulator) says so in ``dbfs_offset_db``
  (dBm = dBFS - gain_db - dbfs_offset_db); hardware uses the sensor's configured full-scale level
  (dBm = dBFS + full_scale_dbm - gain_db, :func:`dsp.dbfs_to_dbm`).
- Occupancy (ITU-R SM.1880) is accumulated sweep by sweep in constant memory and reported every
  ``occupancy_interval_s``: a channel is occupied in a sweep when its strongest bin exceeds that
  sweep's threshold (noise floor + margin), the same threshold the spectrum message carries.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from coordination.protocol import EMISSION_FIELDS, MonitoringProfile
from dsp import (
    Emission,
    WelchAccumulator,
    channel_occupancy,
    dbfs_to_dbm,
    detect_emissions,
    noise_floor,
    plan_hops,
    remove_dc_spike,
    stitch_hops,
)
from dsp.calibration import NOMINAL_FULL_SCALE_DBM

log = logging.getLogger(__name__)

#: Samples read from the source per call (bounded memory whatever the dwell).
READ_BLOCK = 1 << 17
#: Seconds of samples discarded after a retune of a live receiver (PLL settling, stale buffers).
SETTLE_S = 0.001
#: Centre bins replaced by interpolation in every hop (zero-IF DC spike).
DC_SPIKE_BINS = 3


class PipelineError(Exception):
    """A profile cannot be measured with this source (band outside a recording, too few samples)."""


class SourceExhaustedError(PipelineError):
    """A finite source (a recording) ended before one full FFT segment could be read."""


@dataclass(frozen=True)
class Measurement:
    """One sweep of one profile: calibrated per-bin power on an exact axis, floor, threshold, emissions."""

    profile: str
    t_utc: datetime
    f_start_hz: float
    f_step_hz: float
    power_dbm: np.ndarray  # float32, per bin, dBm at the antenna port
    noise_floor_dbm: float
    threshold_dbm: float
    emissions: tuple[Emission, ...]
    detector: str
    segments: int
    samples: int
    hops: int

    @property
    def freqs_hz(self) -> np.ndarray:
        return self.f_start_hz + self.f_step_hz * np.arange(self.power_dbm.size)

    def emission_dicts(self) -> tuple[dict[str, float], ...]:
        return tuple({k: float(getattr(e, k)) for k in EMISSION_FIELDS} for e in self.emissions)


@dataclass(frozen=True)
class OccupancyReport:
    """SM.1880 occupancy of one profile over one interval (the fields of a protocol Occupancy)."""

    profile: str
    t_start_utc: datetime
    t_end_utc: datetime
    revisits: int
    threshold_dbm: float
    fbo: float
    channel_centers_hz: np.ndarray
    fco: np.ndarray


def channel_centers(profile: MonitoringProfile) -> np.ndarray:
    """Channel centres of a profile: ``f_start + raster/2 + k * raster`` for channels inside the band."""
    raster = profile.channel_raster_hz
    n = math.floor((profile.f_stop_hz - profile.f_start_hz) / raster + 1e-9)
    return profile.f_start_hz + raster / 2.0 + raster * np.arange(max(n, 0))


def calibration_offset_db(source: object, full_scale_dbm: float | None) -> float:
    """dB to add to dBFS to get dBm at the antenna port, for the source's current gain."""
    gain = getattr(source, "effective_gain_db", None)  # the AGC's choice where the source reports it
    if gain is None:
        gain = getattr(source, "gain_db", None)
    gain_db = 0.0 if gain is None else float(gain)
    known = getattr(source, "dbfs_offset_db", None)
    if known is not None:
        return -gain_db - float(known)
    base = float(dbfs_to_dbm(0.0, gain_db=gain_db, freq_hz=0.0))  # NOMINAL_FULL_SCALE_DBM - gain
    if full_scale_dbm is None:
        return base
    return base - NOMINAL_FULL_SCALE_DBM + float(full_scale_dbm)


@dataclass
class _Plan:
    sample_rate_hz: float
    nfft: int
    hops_hz: list[float]
    keep: slice
    f_start_hz: float
    f_step_hz: float
    n_bins: int


class ProfileRunner:
    """Measures one profile repeatedly with one source and accumulates its occupancy.

    The hop plan and Welch accumulator are built once per sample rate and reused every sweep
    (the profile never changes inside a runner: a new profile gets a new runner).
    """

    def __init__(self, profile: MonitoringProfile, *, full_scale_dbm: float | None = None,
                 noise_pfa: float = 1e-3) -> None:
        self.profile = profile
        self.full_scale_dbm = full_scale_dbm
        self.noise_pfa = noise_pfa
        self._plan: _Plan | None = None
        self._acc: WelchAccumulator | None = None
        self.occupancy = OccupancyAccumulator(profile)

    # ------------------------------------------------------------ planning

    def _make_plan(self, source: object) -> _Plan:
        p = self.profile
        rate = float(source.sample_rate_hz)  # type: ignore[attr-defined]
        nfft = max(16, round(rate / p.bin_hz))
        step = rate / nfft
        if getattr(source, "can_retune", True):
            hops = plan_hops(p.f_start_hz, p.f_stop_hz, rate, p.crop, nfft=nfft)
        else:  # a recording: one hop at its centre, the band must lie inside what it kept
            centre = float(source.center_freq_hz)  # type: ignore[attr-defined]
            hops = [centre]
            half = rate * (1.0 - p.crop) / 2.0
            if p.f_start_hz < centre - half - step or p.f_stop_hz > centre + half + step:
                raise PipelineError(
                    f"profile {p.name} ({p.f_start_hz / 1e6:.4f}-{p.f_stop_hz / 1e6:.4f} MHz) lies outside the "
                    f"recording's {(centre - half) / 1e6:.4f}-{(centre + half) / 1e6:.4f} MHz (after crop {p.crop})"
                )
        # Stitched axis: find its first bin once with a dummy stitch, then trim to the profile band.
        offsets = np.fft.fftshift(np.fft.fftfreq(nfft, d=1.0 / rate))
        freqs, _ = stitch_hops([(h, offsets, np.zeros(nfft)) for h in hops], p.crop)
        i0 = int(np.searchsorted(freqs, p.f_start_hz - step / 2.0))
        i1 = int(np.searchsorted(freqs, p.f_stop_hz - step / 2.0))
        if i1 - i0 < 2:
            raise PipelineError(f"profile {p.name}: band holds fewer than 2 bins of {step:.1f} Hz")
        return _Plan(rate, nfft, hops, slice(i0, i1), float(freqs[i0]), step, i1 - i0)

    def _plan_for(self, source: object) -> _Plan:
        rate = float(source.sample_rate_hz)  # type: ignore[attr-defined]
        if self._plan is None or self._plan.sample_rate_hz != rate:
            self._plan = self._make_plan(source)
            self._acc = WelchAccumulator(rate, self._plan.nfft, window=self.profile.window,
                                         overlap=self.profile.overlap, detector=self.profile.detector,
                                         scaling="density")
            self.occupancy.reset()
            log.debug("profile %s: %d hops, nfft %d, %d bins of %.1f Hz", self.profile.name,
                      len(self._plan.hops_hz), self._plan.nfft, self._plan.n_bins, self._plan.f_step_hz)
        return self._plan

    # ------------------------------------------------------------ measuring

    def _dwell(self, source: object, acc: WelchAccumulator, n_samples: int) -> int:
        got = 0
        while got < n_samples:
            block = source.read(min(READ_BLOCK, n_samples - got))  # type: ignore[attr-defined]
            if block.size == 0:
                break
            acc.update(block)
            got += block.size
        return got

    def measure(self, source: object, t_utc: datetime | None = None) -> Measurement:
        """Sweep the profile once and return the calibrated measurement (and feed the occupancy)."""
        p = self.profile
        plan = self._plan_for(source)
        acc = self._acc
        assert acc is not None
        t0 = t_utc or datetime.now(UTC)
        live = getattr(source, "can_retune", True)
        n_dwell = max(plan.nfft, math.ceil(p.dwell_s * plan.sample_rate_hz))
        hops, samples, segments = [], 0, 0
        first_ts = None
        for centre in plan.hops_hz:
            if live:
                source.tune(centre)  # type: ignore[attr-defined]
                settle = int(SETTLE_S * plan.sample_rate_hz)
                if settle and len(plan.hops_hz) > 1:
                    source.read(settle)  # type: ignore[attr-defined]
            acc.reset()
            samples += self._dwell(source, acc, n_dwell)
            if first_ts is None:
                first_ts = getattr(source, "timestamp_utc", None)
            if acc.segments == 0:
                raise SourceExhaustedError(
                    f"profile {p.name}: the source ended before one {plan.nfft}-sample segment")
            segments += acc.segments
            offsets, dens = acc.result()
            # Calibrate per hop: an AGC may pick a different gain at every centre frequency.
            scale = plan.f_step_hz * 10.0 ** (calibration_offset_db(source, self.full_scale_dbm) / 10.0)
            hops.append((centre, offsets, remove_dc_spike(dens, DC_SPIKE_BINS) * scale))
        _, stitched = stitch_hops(hops, p.crop)
        lin = stitched[plan.keep]  # mW per bin at the antenna port (density x bin width, calibrated)
        tiny = 1e-30
        power_dbm = 10.0 * np.log10(np.maximum(lin, tiny))
        k = max(1, segments // max(1, len(hops))) if p.detector == "mean" else 1
        floor_lin = noise_floor(lin, method="fcme", pfa=self.noise_pfa, segments=k)
        floor_dbm = 10.0 * math.log10(max(floor_lin, tiny))
        threshold_dbm = floor_dbm + p.margin_db
        freqs = plan.f_start_hz + plan.f_step_hz * np.arange(plan.n_bins)
        ems = detect_emissions(freqs, power_dbm, floor_dbm=floor_dbm, margin_db=p.margin_db)
        ems = tuple(e for e in ems if all(math.isfinite(getattr(e, f)) for f in EMISSION_FIELDS))
        if t_utc is None and isinstance(first_ts, datetime):
            t0 = first_ts  # no clock given: the receiver's own time of the first sample
        m = Measurement(profile=p.name, t_utc=t0, f_start_hz=plan.f_start_hz, f_step_hz=plan.f_step_hz,
                        power_dbm=power_dbm.astype(np.float32), noise_floor_dbm=floor_dbm,
                        threshold_dbm=threshold_dbm, emissions=ems, detector=p.detector, segments=segments,
                        samples=samples, hops=len(hops))
        self.occupancy.add(m)
        return m


@dataclass
class OccupancyAccumulator:
    """SM.1880 counts for one profile, in constant memory; a report every ``occupancy_interval_s``."""

    profile: MonitoringProfile
    _counts: np.ndarray | None = None
    _centers: np.ndarray = field(default_factory=lambda: np.zeros(0))
    _revisits: int = 0
    _thr_sum: float = 0.0
    _t_start: datetime | None = None
    _t_end: datetime | None = None
    _axis: tuple[float, float, int] | None = None

    def reset(self) -> None:
        self._counts, self._revisits, self._thr_sum = None, 0, 0.0
        self._t_start = self._t_end = None
        self._axis = None

    @property
    def revisits(self) -> int:
        return self._revisits

    def add(self, m: Measurement) -> None:
        """Count which channels the sweep found occupied."""
        axis = (m.f_start_hz, m.f_step_hz, m.power_dbm.size)
        if self._axis != axis:
            self.reset()
            self._axis = axis
            centers = channel_centers(self.profile)
            freqs = m.freqs_hz
            width = max(self.profile.channel_width_hz, m.f_step_hz)
            inside = (centers - width / 2 >= freqs[0] - m.f_step_hz) & (
                centers + width / 2 <= freqs[-1] + m.f_step_hz)
            self._centers = centers[inside]
        if self._centers.size == 0:
            return
        res = channel_occupancy(m.power_dbm[None, :], m.freqs_hz, self._centers,
                                max(self.profile.channel_width_hz, m.f_step_hz), m.threshold_dbm, level="peak")
        occ = np.asarray(res.fco)
        self._counts = occ if self._counts is None else self._counts + occ
        self._revisits += 1
        self._thr_sum += m.threshold_dbm
        if self._t_start is None:
            self._t_start = m.t_utc
        self._t_end = m.t_utc

    def due(self, now_utc: datetime) -> bool:
        """True when the interval since the first counted sweep has elapsed."""
        return (self._t_start is not None and self._revisits > 0
                and (now_utc - self._t_start).total_seconds() >= self.profile.occupancy_interval_s)

    def report(self, now_utc: datetime | None = None) -> OccupancyReport | None:
        """The occupancy so far (None without sweeps), then start a new interval."""
        if self._counts is None or self._revisits == 0 or self._t_start is None:
            return None
        fco = self._counts / self._revisits
        rep = OccupancyReport(profile=self.profile.name, t_start_utc=self._t_start,
                              t_end_utc=now_utc or self._t_end or self._t_start, revisits=self._revisits,
                              threshold_dbm=self._thr_sum / self._revisits, fbo=float(fco.mean()),
                              channel_centers_hz=self._centers.copy(), fco=fco.astype(np.float32))
        axis = self._axis
        centers = self._centers
        self.reset()
        self._axis, self._centers = axis, centers
        return rep


def measure_once(source: object, profile: MonitoringProfile, *, full_scale_dbm: float | None = None) -> Measurement:
    """Convenience: one sweep of ``profile`` with ``source`` (CLI, tests, benchmarks)."""
    t0 = time.perf_counter()
    m = ProfileRunner(profile, full_scale_dbm=full_scale_dbm).measure(source)
    log.debug("measured %s in %.3f s", profile.name, time.perf_counter() - t0)
    return m
