"""Glue between the demo's scenario and the simulator's world: geography the ``sdr`` package lacks.

The world itself (ITU-R P.1546 with per-link model error, shadowing, calibration error; or the
engine's own law for the ideal world) lives in :mod:`sdr.sources.sim_world`. ``sdr`` may not import
``station_db``, so the land/water mask that gives paths over the Yangtze estuary, Hangzhou Bay and
the East China Sea P.1546's mixed land/sea method is made here from the provinces' boundaries:
a point outside every province of China is water.
"""

from __future__ import annotations

import numpy as np

from sdr.scenario import Scenario
from sdr.sources.sim_link import FreeSpaceModel, PropagationModel
from sdr.sources.sim_world import world_model
from station_db.geo import provinces_of


def water_mask(lats: np.ndarray, lons: np.ndarray) -> np.ndarray:
    """True where (lat, lon) is outside every province (sea, the estuary the boundaries leave out)."""
    codes = provinces_of(np.asarray(lats, dtype=float), np.asarray(lons, dtype=float))
    return np.array([c is None for c in np.ravel(codes)], dtype=bool).reshape(np.shape(lats))


def demo_world(scenario: Scenario) -> PropagationModel:
    """The simulator's propagation model for ``scenario`` (its ``[world]``), with the water mask."""
    return world_model(scenario, water_mask=water_mask) or FreeSpaceModel()
