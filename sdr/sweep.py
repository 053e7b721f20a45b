"""The hop loop behind ``borderwatch scan``: tune, settle, dwell, Welch PSD, crop and stitch.

Like rtl_power/soapy_power: a band wider than the sample rate is covered by hops planned on the bin
grid (``dsp.plan_hops(..., nfft=)``), each hop's edges are cropped (anti-alias roll-off) and the
kept parts are stitched onto one exact axis. After every retune the first ``settle_s`` of samples
are discarded (PLL lock, samples of the old frequency still in buffers). A recording cannot retune:
it is measured in one hop and the band must lie inside it.

Powers are per bin and integrate (Welch density times bin width), in dBm when the source knows its
calibration (the simulator; ``dbfs_offset_db``), otherwise in dBFS.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

import numpy as np

from dsp import WelchAccumulator, plan_hops, remove_dc_spike, stitch_hops

log = logging.getLogger(__name__)

READ_BLOCK = 1 << 17


class SpectrumAccumulator(Protocol):
    """What the hop loop feeds: :class:`dsp.WelchAccumulator` or anything that estimates like it."""

    segments: int

    def reset(self) -> None: ...

    def update(self, iq_block: np.ndarray) -> None: ...

    def result(self) -> tuple[np.ndarray, np.ndarray]: ...


class SweepError(ValueError):
    """The sweep cannot be made with this source (band outside a recording, bad settings)."""


@dataclass(frozen=True)
class SweepSettings:
    """What to measure: band, resolution, time per sweep and the estimator."""

    start_hz: float
    stop_hz: float
    bin_hz: float
    interval_s: float = 10.0
    crop_fraction: float = 0.0
    window: str = "hann"
    overlap: float = 0.5
    detector: str = "mean"
    settle_s: float = 0.005
    dc_bins: int = 3

    def __post_init__(self) -> None:
        if not self.stop_hz > self.start_hz:
            raise SweepError(f"stop ({self.stop_hz:.0f} Hz) must be above start ({self.start_hz:.0f} Hz)")
        if self.bin_hz <= 0:
            raise SweepError(f"bin width must be > 0 Hz, got {self.bin_hz}")
        if self.interval_s <= 0:
            raise SweepError(f"interval must be > 0 s, got {self.interval_s}")
        if not 0 <= self.crop_fraction < 1:
            raise SweepError(f"crop must be in [0, 1), got {self.crop_fraction}")


@dataclass(frozen=True)
class SweepPlan:
    """How a sweep runs on one source: FFT size, hop centres, and which stitched bins to keep."""

    sample_rate_hz: float
    nfft: int
    hops_hz: tuple[float, ...]
    dwell_samples: int
    keep: slice
    f_first_hz: float
    bin_hz: float
    n_bins: int

    @property
    def freqs_hz(self) -> np.ndarray:
        """Centre frequency of every kept bin (exactly uniform)."""
        return self.f_first_hz + self.bin_hz * np.arange(self.n_bins)


@dataclass(frozen=True)
class SweepResult:
    """One stitched sweep: per-bin power over the band, and how it was measured."""

    freqs_hz: np.ndarray
    power_db: np.ndarray
    units: str
    t_start_utc: datetime
    t_stop_utc: datetime
    samples_per_hop: int
    hops: int
    nfft: int
    bin_hz: float
    hop_ranges: tuple[tuple[int, int], ...]  # [first, stop) kept-bin index of each hop, for rtl_power rows
    dropped_samples: int = 0


def nfft_for(sample_rate_hz: float, bin_hz: float) -> int:
    """The power-of-two FFT size whose bin width is nearest to bin_hz (at least 16)."""
    return max(16, 1 << max(0, round(math.log2(sample_rate_hz / bin_hz))))


def plan_sweep(source: object, settings: SweepSettings) -> SweepPlan:
    """Plan the hops for ``source`` (its rate, and whether it can retune at all)."""
    rate = float(source.sample_rate_hz)  # type: ignore[attr-defined]
    nfft = nfft_for(rate, settings.bin_hz)
    step = rate / nfft
    crop = settings.crop_fraction
    if getattr(source, "can_retune", True):
        hops = plan_hops(settings.start_hz, settings.stop_hz, rate, crop, nfft=nfft)
    else:
        centre = float(source.center_freq_hz)  # type: ignore[attr-defined]
        half = rate * (1 - crop) / 2
        if settings.start_hz < centre - half - step / 2 or settings.stop_hz > centre + half + step / 2:
            raise SweepError(
                f"{settings.start_hz / 1e6:.6f}-{settings.stop_hz / 1e6:.6f} MHz is outside the recording's "
                f"{(centre - half) / 1e6:.6f}-{(centre + half) / 1e6:.6f} MHz (a file cannot be retuned)"
            )
        hops = [centre]
    offsets = np.fft.fftshift(np.fft.fftfreq(nfft, d=1.0 / rate))
    freqs, _ = stitch_hops([(h, offsets, np.zeros(nfft)) for h in hops], crop)
    # Keep bins whose centre lies in [start - step/2, stop - step/2): (stop - start) / step bins.
    eps = 1e-6 * step
    i0 = int(np.searchsorted(freqs, settings.start_hz - step / 2 - eps, side="left"))
    i1 = int(np.searchsorted(freqs, settings.stop_hz - step / 2 - eps, side="left"))
    if i1 - i0 < 1:
        raise SweepError(f"the band holds no whole bin of {step:.1f} Hz")
    dwell = max(nfft, math.ceil(settings.interval_s / len(hops) * rate))
    return SweepPlan(rate, nfft, tuple(hops), dwell, slice(i0, i1), float(freqs[i0]), step, i1 - i0)


def source_gain_db(source: object) -> float:
    """RF gain in use: the AGC's choice where the source reports it, else the gain set, else 0 dB."""
    gain = getattr(source, "effective_gain_db", None)
    if gain is None:
        gain = getattr(source, "gain_db", None)
    return 0.0 if gain is None else float(gain)


def calibration_db(source: object) -> float | None:
    """dB to add to dBFS for dBm at the antenna port, when the source knows it (else None)."""
    offset = getattr(source, "dbfs_offset_db", None)
    if offset is None:
        return None
    return -source_gain_db(source) - float(offset)


def run_sweep(
    source: object,
    settings: SweepSettings,
    plan: SweepPlan | None = None,
    *,
    progress: Callable[[int, int], None] | None = None,
    allow_short: bool = True,
    accumulator: SpectrumAccumulator | None = None,
    hop_done: Callable[[int, float, SpectrumAccumulator], None] | None = None,
) -> SweepResult | None:
    """Sweep once; None when a finite source has no full FFT segment left (end of the recording).

    allow_short: accept a hop that got less than its dwell because a recording ended (right for the
    first sweep of a file shorter than the interval); False drops such a partial sweep (None).
    accumulator: the estimator fed with every hop's samples (reset per hop; default a Welch accumulator
    with the settings' window, overlap and detector, density scaling); hop_done(index, centre_hz,
    accumulator) is called after each hop, before the next reset (the sensor pipeline reads the
    hop's time slots there).
    """
    plan = plan or plan_sweep(source, settings)
    acc: SpectrumAccumulator = accumulator or WelchAccumulator(
        plan.sample_rate_hz, plan.nfft, window=settings.window, overlap=settings.overlap,
        detector=settings.detector, scaling="density")
    live = getattr(source, "can_retune", True)
    hops = []
    t_start = None
    samples_min = None
    cal: float | None = 0.0
    dropped0 = int(getattr(source, "dropped_samples", 0))
    for i, centre in enumerate(plan.hops_hz):
        if live:
            if abs(float(source.center_freq_hz) - centre) > 0.5 or i == 0:  # type: ignore[attr-defined]
                source.tune(centre)  # type: ignore[attr-defined]
            settle = int(settings.settle_s * plan.sample_rate_hz)
            if settle:
                source.read(settle)  # type: ignore[attr-defined]
        acc.reset()
        got = 0
        while got < plan.dwell_samples:
            block = source.read(min(READ_BLOCK, plan.dwell_samples - got))  # type: ignore[attr-defined]
            if t_start is None:
                t_start = getattr(source, "timestamp_utc", None) or datetime.now(UTC)
            if block.size == 0:
                break
            acc.update(block)
            got += block.size
        if acc.segments == 0 or (got < plan.dwell_samples and not allow_short):
            return None
        samples_min = got if samples_min is None else min(samples_min, got)
        offsets, density = acc.result()
        per_bin = density * plan.bin_hz
        if settings.dc_bins:
            per_bin = remove_dc_spike(per_bin, settings.dc_bins)
        hop_cal = calibration_db(source)
        if hop_cal is None:
            cal = None
        else:
            per_bin = per_bin * 10 ** (hop_cal / 10)
        hops.append((centre, offsets, per_bin))
        if hop_done is not None:
            hop_done(i, centre, acc)
        if progress is not None:
            progress(i + 1, len(plan.hops_hz))
    _, stitched = stitch_hops(hops, settings.crop_fraction)
    power = stitched[plan.keep]
    power_db = (10 * np.log10(np.maximum(power, 1e-30))).astype(np.float32)
    # Kept-bin ranges per hop (rtl_power writes one row per hop).
    kept = plan.nfft - 2 * round(plan.nfft * settings.crop_fraction / 2)
    edges = list(range(0, plan.n_bins, kept)) if len(plan.hops_hz) > 1 else [0]
    ranges = tuple((a, min(a + kept, plan.n_bins) if len(edges) > 1 else plan.n_bins) for a in edges)
    return SweepResult(
        freqs_hz=plan.freqs_hz, power_db=power_db, units="dBm" if cal is not None else "dBFS",
        t_start_utc=t_start or datetime.now(UTC), t_stop_utc=datetime.now(UTC),
        samples_per_hop=int(samples_min or 0), hops=len(plan.hops_hz), nfft=plan.nfft, bin_hz=plan.bin_hz,
        hop_ranges=ranges, dropped_samples=int(getattr(source, "dropped_samples", 0)) - dropped0,
    )
