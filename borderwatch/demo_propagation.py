"""The demo simulator's radio link: the same ITU-R P.1546 the rules engine predicts with.

Why a separate model (and not the simulator's free-space default): the engine localises an
unknown emitter with the P.1546 median (50 % time, 50 % locations, land, rural) field of a 0 dBW
emitter, and compares licensed stations with P.1546 predictions. A simulator that propagated in
free space would make every emitter look 20-40 dB stronger than the engine expects, so positions
would land in the wrong town and every licensed station would look like a power violation. With
the same law on both sides, what the demo shows (and what its end-to-end test asserts) is the
engine's logic, plus a controlled location variability: a seeded log-normal term per
(transmitter, sensor) pair of ``shadowing_db`` standard deviation (0 = the median exactly).

The transmitter's height is the scenario's ``antenna_height_m`` taken as the effective height
(antenna plus site height, the engine's convention for licensed stations); the receiving height
is the sensor's antenna height.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import numpy as np

from coordination.prediction import field_0dbw_dbuv_m
from sdr.scenario import SensorSite, Transmitter
from station_db.geo import haversine_km

MEDIAN_TIME_PCT = 50.0
"""What a sensor sees most of the time: the P.1546 median (the engine's localisation model)."""


def _unit_normal(*parts: str) -> float:
    """A deterministic N(0, 1) draw from the names of a link (seedable, order-independent of threads)."""
    digest = hashlib.blake2b("|".join(parts).encode(), digest_size=16).digest()
    u1 = (int.from_bytes(digest[:8], "little") + 0.5) / 2.0**64
    u2 = (int.from_bytes(digest[8:], "little") + 0.5) / 2.0**64
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


@dataclass(frozen=True)
class P1546LinkModel:
    """Field strength at a sensor from ITU-R P.1546 (median time), plus seeded shadowing."""

    shadowing_db: float = 0.0
    seed: int = 0
    time_pct: float = MEDIAN_TIME_PCT

    def shadowing(self, tx: Transmitter, site: SensorSite) -> float:
        """The location-variability term of this link (dB), fixed for the run."""
        if self.shadowing_db <= 0:
            return 0.0
        return self.shadowing_db * _unit_normal(str(self.seed), tx.id, site.id)

    def median_field_dbuv_m(self, tx: Transmitter, site: SensorSite) -> float:
        """P.1546 field of the transmitter's effective e.r.p. at the site, without shadowing."""
        d_km = float(haversine_km(tx.lat, tx.lon, site.lat, site.lon))
        g = field_0dbw_dbuv_m(np.array([d_km]), tx.emitted_freq_hz, tx.antenna_height_m, site.height_m,
                              self.time_pct, ha_m=tx.antenna_height_m)
        return float(tx.effective_erp_dbw + g[0])

    def field_strength_dbuv_m(self, tx: Transmitter, site: SensorSite) -> float:
        """The simulator's PropagationModel protocol."""
        return self.median_field_dbuv_m(tx, site) + self.shadowing(tx, site)
