"""What a sensor would report about one transmitter, without rendering IQ: the fast simulator path.

The verdict benchmark (benchmarks/bench_verdicts.py) and the rules-engine tests play hundreds of
incidents; rendering and analysing IQ for each would take hours. This module turns the realistic
world's field at a sensor (:class:`sdr.sources.sim_world.RealisticWorld`: shadowing, model error,
calibration error) into the emission record the sensor's pipeline would send (``Emissions``
message fields), with the same detection rule: the emission's peak bin must clear the noise floor
by the profile's margin. The noise floor per bin is kTB plus the sensor's noise figure; a flat
emission of occupied bandwidth B spreads its power over B / bin bins; the sensor's LO error (ppm)
shifts the frequency it measures. The emission class is not in that record: where a caller needs it
(the server's TDOA rounds read it), :func:`reported_class` measures it the sensor's way on a short
rendering of the waveform (costs ~0.1 s, so once per sensor and emitter, not per sweep).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from coordination.protocol import MonitoringProfile
from dsp.calibration import dbuv_m_to_dbm
from sdr.pipeline import ProfileRunner
from sdr.scenario import SensorSite, Transmitter
from sdr.sources.sim_tdoa import TDOA_WAVEFORMS, RecordingSource, waveform
from sdr.sources.sim_world import RealisticWorld
from sdr.sweep import plan_sweep

KTB_DBM_HZ = -174.0
"""Thermal noise density at 290 K."""


@dataclass(frozen=True)
class SweepReport:
    """One sensor's sweep over a span: its floor and the emission it reports (None: not heard)."""

    noise_floor_dbm: float
    emission: dict[str, float] | None
    reported_field_dbuv_m: float
    """The field the sensor would report if it heard it (calibration error included)."""


def noise_floor_dbm(site: SensorSite, bin_hz: float) -> float:
    """Noise power in one bin: kTB plus the sensor's noise figure."""
    return KTB_DBM_HZ + site.noise_figure_db + 10.0 * math.log10(bin_hz)


def sweep_report(world: RealisticWorld, tx: Transmitter, site: SensorSite, *, obw_hz: float, bin_hz: float,
                 margin_db: float, rng: np.random.Generator | None = None, sweep_noise_db: float = 0.5) -> SweepReport:
    """The sensor's report of ``tx`` in one sweep (``sweep_noise_db``: sweep-to-sweep level scatter)."""
    floor = noise_floor_dbm(site, bin_hz)
    e = world.reported_field_dbuv_m(tx, site)
    if rng is not None and sweep_noise_db > 0:
        e += float(rng.normal(0.0, sweep_noise_db))
    power_dbm = float(dbuv_m_to_dbm(e, site.antenna_factor_db_m))
    snr = power_dbm - 10.0 * math.log10(max(obw_hz / bin_hz, 1.0)) - floor
    if snr < margin_db:
        return SweepReport(floor, None, e)
    f = tx.emitted_freq_hz * (1.0 + site.ppm_error * 1e-6)
    em = {"center_hz": f, "peak_hz": f, "power_dbm": power_dbm, "peak_dbm": power_dbm - 10.0 * math.log10(
        max(obw_hz / bin_hz, 1.0)), "snr_db": snr, "obw_hz": obw_hz, "bandwidth_xdb_hz": 0.8 * obw_hz,
        "f_lo_hz": f - obw_hz / 2.0, "f_hi_hz": f + obw_hz / 2.0}
    return SweepReport(floor, em, e)


def reported_class(modulation: str, bandwidth_hz: float, snr_db: float, *, bin_hz: float, seed: int,
                   dwell_s: float = 0.1) -> tuple[str, float]:
    """The (emission class, confidence) a live sensor's sweep reports for an emission of ``modulation``
    (a waveform of :data:`sdr.sources.sim_tdoa.TDOA_WAVEFORMS`, rendered as the TDOA simulator renders it) at
    ``snr_db`` over the noise in its ``bandwidth_hz``: the sensor's own pipeline (:class:`sdr.pipeline.ProfileRunner`:
    spectrum and time slots, no IQ, so 0.7 at most) on ``dwell_s`` of it, with ``bin_hz`` bins. The measured
    class, not the truth: a data carrier near its limit is read ``fm_broadcast`` now and then, narrowband FM
    ``unknown``. ``("unknown", 0.0)`` for another modulation, or when the sweep finds no emission."""
    if modulation not in TDOA_WAVEFORMS:
        return "unknown", 0.0
    # one hop of 8 bandwidths; the emission where the sweep plan puts it (off the tuner's centre and its DC spike)
    fs = max(8.0 * bandwidth_hz, 64.0 * bin_hz)
    n = int(dwell_s * fs)
    f_hz = 100e6
    prof = MonitoringProfile(name="class", f_start_hz=f_hz - 1.5 * bandwidth_hz, f_stop_hz=f_hz + 1.5 * bandwidth_hz,
                             bin_hz=bin_hz, dwell_s=dwell_s)
    runner = ProfileRunner(prof)
    [tuned_hz] = plan_sweep(RecordingSource(np.zeros(0), fs, f_hz), runner.settings).hops_hz
    rng = np.random.default_rng(seed)
    offset = (f_hz - tuned_hz) / fs
    sig = waveform(modulation, bandwidth_hz, n, fs, seed) * np.exp(2j * np.pi * offset * np.arange(n))
    n0 = 1.0 / (10.0 ** (snr_db / 10.0) * bandwidth_hz)  # W/Hz against the unit-power waveform
    iq = sig + (rng.standard_normal(n) + 1j * rng.standard_normal(n)) * math.sqrt(n0 * fs / 2.0)
    centre_hz = tuned_hz
    m = runner.measure(RecordingSource(iq, fs, centre_hz))
    if not m.emissions or not m.classes:
        return "unknown", 0.0
    k = max(range(len(m.emissions)), key=lambda i: m.emissions[i].power_dbm)
    cls, conf = m.classes[k] if k < len(m.classes) else ("unknown", 0.0)
    return str(cls), float(conf)
