"""The default monitoring profiles: one agreed procedure, identical on every sensor.

The server sends the profiles every sensor must run when it connects; these are the local
fallback used until it does (or when it never does). They are deliberately few and modest in
CPU: a sweep of a few MHz at a coarse bin every few seconds, so a small board (or ten simulated
sensors in one process) keeps up. Bands follow the services the four provinces coordinate:
aviation and maritime safety channels, land mobile, PMR446 and the 433 MHz ISM band.
"""

from __future__ import annotations

from coordination.protocol import MonitoringProfile

DEFAULT_PROFILES: tuple[MonitoringProfile, ...] = (
    MonitoringProfile(
        name="vhf_aviation", f_start_hz=118.0e6, f_stop_hz=121.6e6, bin_hz=3125.0, detector="mean",
        dwell_s=0.05, revisit_s=10.0, margin_db=10.0, channel_raster_hz=25_000.0, channel_width_hz=25_000.0,
        crop=0.25, occupancy_interval_s=300.0,
    ),
    MonitoringProfile(
        name="vhf_maritime", f_start_hz=156.0e6, f_stop_hz=162.025e6, bin_hz=3125.0, detector="mean",
        dwell_s=0.05, revisit_s=10.0, margin_db=10.0, channel_raster_hz=25_000.0, channel_width_hz=25_000.0,
        crop=0.25, occupancy_interval_s=300.0,
    ),
    MonitoringProfile(
        name="uhf_ism433", f_start_hz=433.05e6, f_stop_hz=434.79e6, bin_hz=3125.0, detector="peak",
        dwell_s=0.1, revisit_s=5.0, margin_db=10.0, channel_raster_hz=25_000.0, channel_width_hz=25_000.0,
        crop=0.25, occupancy_interval_s=300.0,
    ),
    MonitoringProfile(
        name="uhf_pmr446", f_start_hz=446.0e6, f_stop_hz=446.2e6, bin_hz=1562.5, detector="mean",
        dwell_s=0.1, revisit_s=5.0, margin_db=10.0, channel_raster_hz=12_500.0, channel_width_hz=12_500.0,
        crop=0.25, occupancy_interval_s=300.0,
    ),
)


def default_profiles() -> tuple[MonitoringProfile, ...]:
    """The built-in fallback profiles (the same tuple on every sensor)."""
    return DEFAULT_PROFILES
