"""Spectrum DSP: Welch PSD, sweeps, calibration, noise floor, emissions, bursts, SM.1880 occupancy.

Pure functions on numpy arrays (Numba for the hot loops); no I/O, threads or sockets.
"""

from dsp.bursts import Burst, rolling_floor_db, segment_bursts, short_time_band_power
from dsp.calibration import CalibrationTable, dbfs_to_dbm, dbm_to_dbuv_m, dbuv_m_to_dbm
from dsp.emissions import Emission, detect_emissions
from dsp.floor import fcme_threshold_factor, noise_floor, sliding_noise_floor
from dsp.occupancy import OccupancyResult, channel_occupancy, wilson_interval
from dsp.sweep import plan_hops, remove_dc_spike, stitch_hops
from dsp.welch import WelchAccumulator, enbw_bins, psd_frequencies, welch_psd

__all__ = [
    "Burst",
    "CalibrationTable",
    "Emission",
    "OccupancyResult",
    "WelchAccumulator",
    "channel_occupancy",
    "dbfs_to_dbm",
    "dbm_to_dbuv_m",
    "dbuv_m_to_dbm",
    "detect_emissions",
    "enbw_bins",
    "fcme_threshold_factor",
    "noise_floor",
    "plan_hops",
    "psd_frequencies",
    "remove_dc_spike",
    "rolling_floor_db",
    "segment_bursts",
    "short_time_band_power",
    "sliding_noise_floor",
    "stitch_hops",
    "welch_psd",
    "wilson_interval",
]
