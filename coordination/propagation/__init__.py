"""Radio propagation: ITU-R P.1546-6 point-to-area prediction and free-space helpers.

Imports nothing else of borderwatch (the sdr simulator uses it too).
"""

from coordination.propagation import p1546
from coordination.propagation.free_space import (
    field_dbuv_m_to_dbm,
    free_space_field_dbuv_m,
    free_space_received_dbm,
)
from coordination.propagation.p1546 import (
    PathProfile,
    ProfilePrediction,
    field_strength,
    field_strength_many,
    field_strength_paths,
    field_strength_profile,
    read_profile,
)
from coordination.propagation.p1546_profile import ProfileFormatError

__all__ = [
    "PathProfile",
    "ProfileFormatError",
    "ProfilePrediction",
    "field_dbuv_m_to_dbm",
    "field_strength",
    "field_strength_many",
    "field_strength_paths",
    "field_strength_profile",
    "free_space_field_dbuv_m",
    "free_space_received_dbm",
    "p1546",
    "read_profile",
]
