"""Which broadcaster the sensors of one TDOA round align their clocks on.

Why this choice matters: the reference segments fix every dongle's start offset and drift, so the
reference must be heard well by *every* chosen sensor (its worst sensor decides), be wideband (the
lag's precision goes with bandwidth: an FM broadcaster's 150-200 kHz, not a 12.5 kHz carrier) and be
on the air continuously at a licensed, known place (its path differences are subtracted).

Candidates: licensed stations in the FM broadcast band (87.5-108 MHz), active and valid today,
continuous, with a necessary bandwidth of at least ``MIN_REF_BW_HZ``. The level at each sensor is
what the sensor measured there when it has a recent emission on that frequency (its occupancy and
levels beat any prediction), otherwise the P.1546 prediction from the licence (50 % time, 50 %
locations). The signal-to-noise ratio is taken against kTB over the reference bandwidth plus a
typical dongle noise figure. The station with the best worst-sensor SNR wins; none above
``min_snr_db`` at every sensor means no TDOA round (a reference too weak at one sensor aligns
nothing there).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np

from coordination.prediction import field_0dbw_dbuv_m, station_heff_m
from coordination.propagation.free_space import field_dbuv_m_to_dbm
from coordination.sensors import SensorInfo
from station_db.geo import haversine_km
from station_db.models import Station

FM_BAND_HZ = (87.5e6, 108.0e6)
MIN_REF_BW_HZ = 100e3
#: Noise figure assumed for a dongle and its antenna system (dB).
NOISE_FIGURE_DB = 6.0
KTB_DBM_HZ = -173.98
#: Worst-sensor SNR the reference needs for a sub-sample clock alignment (dB).
MIN_REF_SNR_DB = 20.0


@dataclass(frozen=True)
class ReferenceChoice:
    """The chosen station, its worst-sensor SNR and each sensor's (snr_db, 'measured' | 'predicted')."""

    station: Station
    worst_snr_db: float
    per_sensor: tuple[tuple[str, float, str], ...]


def is_reference_candidate(st: Station, today: date) -> bool:
    """A licensed wideband FM broadcaster on the air continuously today."""
    return (FM_BAND_HZ[0] <= st.tx_freq_hz <= FM_BAND_HZ[1] and st.necessary_bw_hz >= MIN_REF_BW_HZ
            and st.status == "active" and st.valid_from <= today <= st.valid_to and st.occupation == "continuous")


def predicted_snr_db(st: Station, sensor: SensorInfo) -> float:
    """The licence's P.1546 level at the sensor's antenna over kTB + NF in the station's bandwidth."""
    d_km = float(haversine_km(st.lat, st.lon, sensor.lat, sensor.lon))
    field = st.erp_dbw + float(field_0dbw_dbuv_m(np.array([d_km]), st.tx_freq_hz, station_heff_m(st),
                                                 sensor.height_m, 50.0, ha_m=st.antenna_height_m)[0])
    level_dbm = float(field_dbuv_m_to_dbm(field, st.tx_freq_hz))
    return level_dbm - (KTB_DBM_HZ + 10.0 * math.log10(st.necessary_bw_hz) + NOISE_FIGURE_DB)


def choose_reference(candidates: Sequence[Station], sensors: Sequence[SensorInfo], *, today: date,
                     measured_snr_db: Mapping[tuple[str, float], float] | None = None,
                     min_snr_db: float = MIN_REF_SNR_DB) -> ReferenceChoice | None:
    """The best reference for these sensors, or None when no broadcaster is strong enough at all of them.

    ``measured_snr_db``: (sensor_id, station frequency Hz) -> the SNR the sensor recently measured there.
    """
    measured = measured_snr_db or {}
    best: ReferenceChoice | None = None
    for st in candidates:
        if not is_reference_candidate(st, today):
            continue
        rows = []
        for s in sensors:
            m = measured.get((s.sensor_id, st.tx_freq_hz))
            rows.append((s.sensor_id, m, "measured") if m is not None
                        else (s.sensor_id, predicted_snr_db(st, s), "predicted"))
        worst = min(r[1] for r in rows)
        if worst < min_snr_db:
            continue
        if best is None or worst > best.worst_snr_db or (worst == best.worst_snr_db
                                                         and st.station_id < best.station.station_id):
            best = ReferenceChoice(st, worst, tuple(rows))
    return best
