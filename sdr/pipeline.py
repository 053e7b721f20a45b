"""One monitoring-profile measurement: IQ source + MonitoringProfile -> calibrated spectrum, floor, emissions.

Why it is built this way:
- The hop loop is :func:`sdr.sweep.run_sweep` (shared with ``borderwatch scan``): hops planned on the
  bin grid, stitched and trimmed to the profile band, so bin ``k`` is at ``f_start_hz + k * f_step_hz``
  exactly and every sensor with the same sample rate has the same axis (the server compares sensors
  bin for bin). The FFT size is the power of two nearest to ``rate / bin_hz``; the message carries the
  actual ``f_step_hz``. ``dwell_s`` is per hop.
- Powers are per bin, in dBm at the antenna port, and they integrate: the Welch density is multiplied
  by the bin width (not "spectrum" scaling), so summing the bins of an emission gives its true power
  whatever the window (a Hann "spectrum" scaling would read noise and wideband power 1.76 dB high).
  The emission ``power_dbm`` is that sum (noise subtracted), the figure the rules engine compares.
- Calibration: a source that knows its level (the simulator) says so in ``dbfs_offset_db``
  (dBm = dBFS - gain_db - dbfs_offset_db); hardware uses the sensor's configured full-scale level
  (dBm = dBFS + full_scale_dbm - gain_db, :func:`dsp.dbfs_to_dbm`).
- One emission per transmitter: every hop is accumulated by :class:`dsp.slotted_welch.SlottedWelch`, which
  keeps a mean PSD per ~2 ms slot of the dwell besides the dwell's Welch estimate (same FFTs, no IQ
  kept). Emissions close enough to be one channel are grouped by when they were on
  (:mod:`dsp.sweep_grouping`: FSK tones, OOK keying sidebands) and measured as one: SM.443 shape on
  the slots the group was on in, power and SNR as the sweep's averages. Isolated emissions cost nothing
  more and are reported as detected.
- Occupancy (ITU-R SM.1880) is accumulated sweep by sweep in constant memory and reported every
  ``occupancy_interval_s``: a channel is occupied in a sweep when its strongest bin exceeds that
  sweep's threshold (noise floor + margin), the same threshold the spectrum message carries.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from coordination.protocol import EMISSION_FIELDS, MonitoringProfile
from dsp import Emission, channel_occupancy, dbfs_to_dbm, detect_emissions, noise_floor
from dsp.calibration import NOMINAL_FULL_SCALE_DBM
from dsp.classify import CW_MAX_BINS, Classification, classify_emission, slot_features
from dsp.grouping import GroupingConfig
from dsp.occupancy import channel_bins
from dsp.slotted_welch import SlottedWelch
from dsp.sweep_grouping import (
    OVERLAP_DOF,
    EmissionGroup,
    HopSlots,
    band_slots,
    burst_components,
    gated_spectrum_dbm,
    group_emissions,
    measure_group,
)
from dsp.welch import segment_step
from sdr.sweep import (
    SpectrumAccumulator,
    SweepError,
    SweepPlan,
    SweepResult,
    SweepSettings,
    calibration_db,
    plan_sweep,
    run_sweep,
    source_gain_db,
)

log = logging.getLogger(__name__)

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
    segments: int  # FFT segments behind every bin (per hop): the K of the noise statistics
    samples: int  # IQ samples read over all hops
    hops: int
    dropped_samples: int = 0
    classes: tuple[tuple[str, float], ...] = ()  # (emission class, confidence) per emission, spectrum only

    @property
    def freqs_hz(self) -> np.ndarray:
        return self.f_start_hz + self.f_step_hz * np.arange(self.power_dbm.size)

    def emission_dicts(self) -> tuple[dict[str, float | str], ...]:
        out = []
        for i, e in enumerate(self.emissions):
            d: dict[str, float | str] = {k: float(getattr(e, k)) for k in EMISSION_FIELDS}
            if i < len(self.classes):
                d["emission_class"], d["class_confidence"] = self.classes[i]
            out.append(d)
        return tuple(out)


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
    known = calibration_db(source)
    if known is not None:
        return known
    base = float(dbfs_to_dbm(0.0, gain_db=source_gain_db(source), freq_hz=0.0))  # NOMINAL_FULL_SCALE_DBM - gain
    if full_scale_dbm is None:
        return base
    return base - NOMINAL_FULL_SCALE_DBM + float(full_scale_dbm)


class ProfileRunner:
    """Measures one profile repeatedly with one source and accumulates its occupancy.

    The hop loop is :func:`sdr.sweep.run_sweep` (the same one ``borderwatch scan`` uses); the plan is
    made once per sample rate with the profile's dwell per hop. A new profile gets a new runner.
    """

    def __init__(self, profile: MonitoringProfile, *, full_scale_dbm: float | None = None,
                 noise_pfa: float = 1e-3) -> None:
        self.profile = profile
        self.full_scale_dbm = full_scale_dbm
        self.noise_pfa = noise_pfa
        self.settings = SweepSettings(
            start_hz=profile.f_start_hz, stop_hz=profile.f_stop_hz, bin_hz=profile.bin_hz,
            interval_s=profile.dwell_s, crop_fraction=profile.crop, window=profile.window,
            overlap=profile.overlap, detector=profile.detector, settle_s=SETTLE_S, dc_bins=DC_SPIKE_BINS,
        )
        self._plan: SweepPlan | None = None
        self._acc: SlottedWelch | None = None
        self.occupancy = OccupancyAccumulator(profile)

    def _plan_for(self, source: object) -> SweepPlan:
        rate = float(source.sample_rate_hz)  # type: ignore[attr-defined]
        if self._plan is None or self._plan.sample_rate_hz != rate:
            try:
                plan = plan_sweep(source, self.settings)
            except SweepError as exc:
                raise PipelineError(f"profile {self.profile.name}: {exc}") from exc
            if plan.n_bins < 2:
                raise PipelineError(f"profile {self.profile.name}: band holds fewer than 2 bins of {plan.bin_hz} Hz")
            dwell = max(plan.nfft, math.ceil(self.profile.dwell_s * rate))  # the profile's dwell is per hop
            self._plan = dataclasses.replace(plan, dwell_samples=dwell)
            self._acc = SlottedWelch(rate, plan.nfft, dwell, window=self.profile.window,
                                     overlap=self.profile.overlap, detector=self.profile.detector)
            self.occupancy.reset()
            log.debug("profile %s: %d hops, nfft %d, %d bins of %.1f Hz", self.profile.name,
                      len(plan.hops_hz), plan.nfft, plan.n_bins, plan.bin_hz)
        return self._plan

    def measure(self, source: object, t_utc: datetime | None = None) -> Measurement:
        """Sweep the profile once and return the calibrated measurement (and feed the occupancy)."""
        p = self.profile
        plan = self._plan_for(source)
        assert self._acc is not None
        slots: list[tuple[float, tuple[np.ndarray, np.ndarray] | None]] = []

        def hop_done(i: int, centre_hz: float, acc: SpectrumAccumulator) -> None:
            # the last hop's slots stay in the accumulator until they are read
            if i == len(plan.hops_hz) - 1:
                slots.append((centre_hz, None))
            else:
                sums, weights = self._slot_sums()
                slots.append((centre_hz, (sums.copy(), weights)))

        res = run_sweep(source, self.settings, plan, accumulator=self._acc, hop_done=hop_done)
        if res is None:
            raise SourceExhaustedError(f"profile {p.name}: the source ended before one {plan.nfft}-sample segment")
        cal_db = calibration_offset_db(source, self.full_scale_dbm)
        power_dbm = res.power_db.astype(np.float64)
        if res.units != "dBm":  # hardware: the configured (or nominal) full-scale calibration
            power_dbm += cal_db
        lin = 10.0 ** (power_dbm / 10.0)
        step = segment_step(plan.nfft, p.overlap)
        seg_per_hop = max(1, (res.samples_per_hop - plan.nfft) // step + 1)
        k = seg_per_hop if p.detector == "mean" else 1
        tiny = 1e-30
        floor_dbm = 10.0 * math.log10(max(noise_floor(lin, method="fcme", pfa=self.noise_pfa, segments=k), tiny))
        threshold_dbm = floor_dbm + p.margin_db
        found = detect_emissions(res.freqs_hz, power_dbm, floor_dbm=floor_dbm, margin_db=p.margin_db)
        ems = tuple(e for e in found if all(math.isfinite(getattr(e, f)) for f in EMISSION_FIELDS))
        floor_lin = 10.0 ** (floor_dbm / 10.0)
        # The sweep keeps no IQ: the class comes from the spectrum alone (a line, a carrier with
        # sidebands, a flat block; else unknown), with the confidence that implies; a group's from
        # the spectrum of the slots it was on in.
        hops = self._hop_slots(res, slots, plan.bin_hz * 10.0 ** (cal_db / 10.0))
        # a packet too short or too weak to lift the dwell's average still stands out in its own slots
        bursts = [b for h in hops for b in burst_components(h, floor_lin, ems, dc_bins=DC_SPIKE_BINS)]
        spectra: list[_ClassInput] = []
        if ems or bursts:
            ems, spectra = self._grouped(ems, tuple(bursts), hops, res.freqs_hz, power_dbm, lin, floor_dbm)
        classes = tuple(
            (c.emission_class, round(c.confidence, 3))
            for c in (self._classify(plan.sample_rate_hz, floor_lin, e, ci) for e, ci in zip(ems, spectra)))
        m = Measurement(profile=p.name, t_utc=t_utc or res.t_start_utc, f_start_hz=plan.f_first_hz,
                        f_step_hz=plan.bin_hz, power_dbm=power_dbm.astype(np.float32), noise_floor_dbm=floor_dbm,
                        threshold_dbm=threshold_dbm, emissions=ems, detector=p.detector,
                        segments=seg_per_hop, samples=res.samples_per_hop * res.hops, hops=res.hops,
                        dropped_samples=res.dropped_samples, classes=classes)
        self.occupancy.add(m)
        return m

    def _slot_sums(self) -> tuple[np.ndarray, np.ndarray]:
        assert self._acc is not None
        return self._acc.slot_sums()

    def _hop_slots(self, res: SweepResult, slots: list[tuple[float, tuple[np.ndarray, np.ndarray] | None]],
                   scale: float) -> list[HopSlots]:
        """The sweep's hops as time slots on their own axes, with the part of the sweep each supplies."""
        assert self._acc is not None
        offsets = np.fft.fftfreq(self._acc.nfft, 1.0 / self._acc.sample_rate_hz)  # the slots' (FFT) order
        half = res.bin_hz / 2.0
        out = []
        for (centre, rows), (a, b) in zip(slots, res.hop_ranges, strict=True):
            sums, weights = self._slot_sums() if rows is None else rows
            out.append(HopSlots(freqs_hz=centre + offsets, power=sums, row_scale=weights * scale,
                                slot_s=self._acc.slot_s, kept_lo_hz=float(res.freqs_hz[a] - half),
                                kept_hi_hz=float(res.freqs_hz[b - 1] + half),
                                segments_per_slot=self._acc.segs_per_slot))
        return out

    def _grouped(self, found: tuple[Emission, ...], bursts: tuple[Emission, ...], hops: list[HopSlots],
                 freqs_hz: np.ndarray, power_dbm: np.ndarray, lin: np.ndarray,
                 floor_dbm: float) -> tuple[tuple[Emission, ...], list[_ClassInput]]:
        """One emission per group of components that keyed together, and what to classify it on.

        Burst components (seen in the slots, not in the average) join a group they keyed with, stand
        alone when they keyed by themselves, and are dropped when they never keyed (noise in one block)."""
        ems = sorted(found + bursts, key=lambda e: e.center_hz)
        weak = [any(e is b for b in bursts) for e in ems]
        groups = group_emissions(ems, hops, 10.0 ** (floor_dbm / 10.0), channel_width_hz=self.profile.channel_width_hz,
                                 weak=weak)
        edges = [(min(ems[i].f_lo_hz for i in g.members), max(ems[i].f_hi_hz for i in g.members)) for g in groups]
        out: list[Emission] = []
        spectra: list[_ClassInput] = []
        floor_lin = 10.0 ** (floor_dbm / 10.0)
        for k, g in enumerate(groups):
            out.append(measure_group(ems, g, hops, freqs_hz, power_dbm, floor_dbm,
                                     limit_lo_hz=edges[k - 1][1] if k > 0 else None,
                                     limit_hi_hz=edges[k + 1][0] if k + 1 < len(groups) else None,
                                     dc_bins=DC_SPIKE_BINS))
            spectra.append(_class_input(g, out[-1], hops, freqs_hz, lin, floor_lin))
            if len(g.members) > 1:
                log.debug("profile %s: %d components at %.6f MHz are one emission", self.profile.name,
                          len(g.members), out[-1].center_hz / 1e6)
        return tuple(out), spectra

    @staticmethod
    def _classify(rate_hz: float, floor_lin: float, e: Emission, ci: _ClassInput) -> Classification:
        return classify_emission(None, rate_hz, ci.freqs_hz, ci.power_lin, floor_lin, center_offset_hz=0.0,
                                 f_lo_hz=e.f_lo_hz, f_hi_hz=e.f_hi_hz, obw_hz=e.obw_hz, slots=ci.slots,
                                 keyed=ci.keyed)


@dataclass(frozen=True)
class _ClassInput:
    """What an emission is classified on: a spectrum (linear, per bin) and its time slots' features."""

    freqs_hz: np.ndarray
    power_lin: np.ndarray
    slots: tuple[float, float] | None
    keyed: bool | None


def _class_input(g: EmissionGroup, e: Emission, hops: list[HopSlots], freqs_hz: np.ndarray, lin: np.ndarray,
                 floor_lin: float) -> _ClassInput:
    """A keyed emission's spectrum while it was on (on its hop's axis, around its extent), else the sweep's
    average; and how its spectrum moved over the slots it was on in (all of them when it was not keyed).

    keyed: True when it was on in bursts; False when it was on in nearly every slot (steady); None when
    the slots cannot say (too weak to be seen slot by slot)."""
    hop = hops[g.hop]
    if e.obw_hz <= CW_MAX_BINS * float(freqs_hz[1] - freqs_hz[0]):  # a line: its width alone tells it
        return _ClassInput(freqs_hz, lin, None, g.on_slots is not None or None)
    rows_f, rows, use = band_slots(hop, e.f_lo_hz, e.f_hi_hz, g.on_slots)
    slots = slot_features(rows_f, rows, floor_lin, e.obw_hz, hop.segments_per_slot / OVERLAP_DOF, use)
    if g.on_slots is not None:
        margin = 8.0 * float(freqs_hz[1] - freqs_hz[0])
        f_on, p_on = gated_spectrum_dbm(hop, g.on_slots, DC_SPIKE_BINS, e.f_lo_hz - margin, e.f_hi_hz + margin)
        return _ClassInput(f_on, 10.0 ** (p_on / 10.0), slots, True)
    on = rows.sum(axis=1) > floor_lin * rows_f.size * 10.0 ** (GroupingConfig.on_db / 10.0)
    steady = bool(on.size) and float(on.mean()) >= GroupingConfig.continuous_fraction
    return _ClassInput(freqs_hz, lin, slots, False if steady else None)


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
    _edges: np.ndarray | None = None  # lo, hi, lo, hi ... bin index of each channel (None: overlapping channels)

    def reset(self) -> None:
        self._counts, self._revisits, self._thr_sum = None, 0, 0.0
        self._t_start = self._t_end = None
        self._axis = None
        self._edges = None

    @property
    def channel_centers_hz(self) -> np.ndarray:
        """Centres of the channels counted (those inside the measured band)."""
        return self._centers

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
            lo, hi = channel_bins(freqs, self._centers, width)
            edges = np.column_stack([lo, hi]).ravel()
            ok = self._centers.size > 0 and bool(np.all(hi > lo)) and bool(np.all(np.diff(edges) >= 0))
            self._edges = edges if ok else None
        if self._centers.size == 0:
            return
        if self._edges is not None:
            # a channel is occupied when its strongest bin is over the threshold (channel_occupancy's "peak"
            # level); with the channels' bins known once per axis that is one reduction over the sweep
            padded = np.append(m.power_dbm, -np.inf)  # a channel ending at the last bin ends at a valid index
            occ = (np.maximum.reduceat(padded, self._edges)[::2] > m.threshold_dbm).astype(np.float64)
        else:
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
        axis, centers, edges = self._axis, self._centers, self._edges
        self.reset()
        self._axis, self._centers, self._edges = axis, centers, edges
        return rep


def measure_once(source: object, profile: MonitoringProfile, *, full_scale_dbm: float | None = None) -> Measurement:
    """Convenience: one sweep of ``profile`` with ``source`` (CLI, tests, benchmarks)."""
    t0 = time.perf_counter()
    m = ProfileRunner(profile, full_scale_dbm=full_scale_dbm).measure(source)
    log.debug("measured %s in %.3f s", profile.name, time.perf_counter() - t0)
    return m
