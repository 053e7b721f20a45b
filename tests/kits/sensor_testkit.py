"""Shared bits of the sensor tests: a small scenario, a fast profile, a sensor.toml writer."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from coordination.protocol import MonitoringProfile
from sdr.daemon import SensorDaemon

SCENARIO_TOML = """
[scenario]
name = "sensor-test"
seed = 3
start_utc = "2026-01-01T08:00:00Z"

[[sensors]]
id = "ZJ-T1"
province = "ZJ"
lat = 30.0
lon = 120.0
height_m = 20
noise_figure_db = 6

[[transmitters]]
id = "CW1"
lat = 30.05
lon = 120.05
freq_hz = 446.05e6
erp_dbw = 0.0
modulation = "cw"

[[transmitters]]
id = "NFM1"
lat = 30.1
lon = 120.0
freq_hz = 446.10625e6
erp_dbw = 10.0
modulation = "nfm"

[[transmitters]]
id = "CW2"
lat = 30.02
lon = 119.95
freq_hz = 447.30e6
erp_dbw = -3.0
modulation = "cw"
"""

#: One hop at 2.4 MS/s, 128 bins, 0.02 s dwell: a sweep costs a few ms.
FAST_PROFILE = MonitoringProfile(
    name="pmr", f_start_hz=446.0e6, f_stop_hz=446.2e6, bin_hz=1562.5, detector="mean", dwell_s=0.02,
    revisit_s=0.2, margin_db=10.0, channel_raster_hz=12_500.0, channel_width_hz=12_500.0, crop=0.25,
    occupancy_interval_s=1.0,
)


def write_scenario(tmp_path: Path) -> Path:
    p = tmp_path / "scenario.toml"
    p.write_text(SCENARIO_TOML)
    return p


def write_sensor_config(tmp_path: Path, address: str, *, heartbeat_s: float = 0.5, quota_mb: float = 64,
                        revisit_s: float = 0.2, resend_timeout_s: float = 1.0) -> Path:
    scenario = write_scenario(tmp_path)
    p = tmp_path / "sensor.toml"
    p.write_text(f"""
[sensor]
id = "ZJ-T1"
province = "ZJ"
lat = 30.0
lon = 120.0
height_m = 20.0

[antenna]
factor_db_m = 20.0

[source]
uri = "sim:{scenario.name}?sensor=ZJ-T1"

[server]
address = "{address}"

[spool]
dir = "spool"
quota_mb = {quota_mb}
synchronous = "normal"

[daemon]
heartbeat_s = {heartbeat_s}
resend_timeout_s = {resend_timeout_s}

[[profiles]]
name = "pmr"
f_start_hz = 446.0e6
f_stop_hz = 446.2e6
bin_hz = 1562.5
dwell_s = 0.02
revisit_s = {revisit_s}
occupancy_interval_s = 1.0
""")
    return p


def run_until(daemon: SensorDaemon, done: Callable[[], bool], *, timeout_s: float = 60.0,
              slice_s: float = 0.25) -> None:
    """Run ``daemon`` in short slices until ``done()`` holds; fail after ``timeout_s`` of wall time.

    Tests wait for the work they need (so many sweeps, so many spooled rows) instead of running for a
    fixed time and assuming a sweep rate: on a loaded machine a sweep takes longer, not less often right.
    """
    deadline = time.monotonic() + timeout_s
    while not done():
        if time.monotonic() >= deadline:
            raise AssertionError(f"the daemon did not reach the condition within {timeout_s} s "
                                 f"({daemon.stats.sweeps} sweeps, spool depth {daemon.spool.depth})")
        daemon.run(duration_s=slice_s)
