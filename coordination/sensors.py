"""Static description of a monitoring sensor as the coordination server knows it.

The server core fills this from the sensor's Hello and the operator config; the rules engine
needs position (for localisation and propagation), province (for border verdicts), antenna height
(for the receiving-end of the path model) and antenna factor (to turn dBm at the port into dBuV/m).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class SensorInfo:
    """A sensor's identity and siting; immutable so it can be shared between threads and cached."""

    sensor_id: str
    province: str
    lat: float
    lon: float
    height_m: float = 10.0
    antenna_factor_db_m: float = 0.0

    def __post_init__(self) -> None:
        if not self.sensor_id:
            raise ValueError("SensorInfo.sensor_id must be non-empty")
        if not -90.0 <= self.lat <= 90.0:
            raise ValueError(f"SensorInfo {self.sensor_id!r}: lat {self.lat} outside [-90, 90]")
        if not -180.0 <= self.lon <= 180.0:
            raise ValueError(f"SensorInfo {self.sensor_id!r}: lon {self.lon} outside [-180, 180]")
        if self.height_m < 0.0:
            raise ValueError(f"SensorInfo {self.sensor_id!r}: height_m {self.height_m} must be >= 0")


@dataclass(frozen=True)
class SweepCoverage:
    """What one sensor sweep covered: its span and bin width.

    With it the engine knows which sensors looked at a channel and did not hear the emitter, and
    how weak an emission they would still have reported (their detection limit): "not heard" is
    evidence about where the emitter can be (docs/rules-engine.md section 4).
    """

    f_lo_hz: float
    f_hi_hz: float
    bin_hz: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.f_lo_hz) and math.isfinite(self.f_hi_hz) and self.f_lo_hz < self.f_hi_hz):
            raise ValueError(f"SweepCoverage: need f_lo_hz < f_hi_hz, got {self.f_lo_hz!r}..{self.f_hi_hz!r}")
        if not (math.isfinite(self.bin_hz) and self.bin_hz > 0):
            raise ValueError(f"SweepCoverage: bin_hz={self.bin_hz!r} must be > 0")
