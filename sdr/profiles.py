"""The default monitoring profiles: one agreed procedure, identical on every sensor.

The server sends the profiles every sensor must run when it connects (from its config, or one per
band of the coordination rules). These are the local fallback a sensor uses until the server
speaks, or when it never does. They are the server's own fallback pair
(``coordination.profiles.FALLBACK_PROFILES``, checked equal by a test), so a sensor that starts
while the server is away measures exactly what the server would have asked for: PMR446 and marine
VHF, small bands that are legal to watch everywhere and cheap in CPU (a small board, or ten
simulated sensors in one process, keep up). Channel centres are ``f_start_hz + raster/2 + k * raster``.
"""

from __future__ import annotations

from coordination.protocol import MonitoringProfile

DEFAULT_PROFILES: tuple[MonitoringProfile, ...] = (
    MonitoringProfile(name="pmr446", f_start_hz=446.0e6, f_stop_hz=446.2e6, bin_hz=3125.0, margin_db=6.0,
                      channel_raster_hz=12_500.0, channel_width_hz=12_500.0, revisit_s=1.0),
    MonitoringProfile(name="maritime_vhf", f_start_hz=156.0e6, f_stop_hz=162.05e6, bin_hz=6250.0, margin_db=6.0,
                      channel_raster_hz=25_000.0, channel_width_hz=25_000.0, revisit_s=2.0),
)


def default_profiles() -> tuple[MonitoringProfile, ...]:
    """The built-in fallback profiles (the same tuple on every sensor)."""
    return DEFAULT_PROFILES
