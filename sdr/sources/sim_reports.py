"""What a sensor would report about one transmitter, without rendering IQ: the fast simulator path.

The verdict benchmark (benchmarks/bench_verdicts.py) and the rules-engine tests play hundreds of
incidents; rendering and analysing IQ for each would take hours. This module turns the realistic
world's field at a sensor (:class:`sdr.sources.sim_world.RealisticWorld`: shadowing, model error,
calibration error) into the emission record the sensor's pipeline would send (``Emissions``
message fields), with the same detection rule: the emission's peak bin must clear the noise floor
by the profile's margin. The noise floor per bin is kTB plus the sensor's noise figure; a flat
emission of occupied bandwidth B spreads its power over B / bin bins; the sensor's LO error (ppm)
shifts the frequency it measures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from dsp.calibration import dbuv_m_to_dbm
from sdr.scenario import SensorSite, Transmitter
from sdr.sources.sim_world import RealisticWorld

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
