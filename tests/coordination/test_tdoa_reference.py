"""Choosing the reference broadcaster: heard by every sensor, wideband, licensed, continuous."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from coordination.sensors import SensorInfo
from coordination.tdoa_reference import choose_reference, predicted_snr_db

TODAY = date(2026, 12, 3)
SENSORS = [SensorInfo("JS-KUNSHAN", "JS", 31.385, 120.98, 30.0), SensorInfo("SH-QINGPU", "SH", 31.15, 121.12, 30.0),
           SensorInfo("ZJ-JIASHAN", "ZJ", 30.83, 120.92, 30.0)]


def _fm(station_id: str, freq_hz: float, lat: float, lon: float, erp_dbw: float, **kw):
    from station_db.models import Station

    base = Station(station_id=station_id, province="SH", licensee="x", service="broadcast", tx_freq_hz=freq_hz,
                   rx_freq_hz=None, emission_designator="180KF3E", necessary_bw_hz=180e3, erp_dbw=erp_dbw,
                   antenna_height_m=150.0, azimuth_deg=None, pattern="omni", ground_height_m=10.0, lat=lat, lon=lon,
                   valid_from=date(2024, 1, 1), valid_to=date(2030, 1, 1))
    return replace(base, **kw)


NEAR = _fm("SH-FM-A", 105.2e6, 31.18, 121.15, 40.0)
FAR = _fm("AH-FM-B", 91.0e6, 31.9, 117.3, 30.0)


def test_the_best_worst_sensor_wins_and_its_levels_are_stated() -> None:
    ch = choose_reference([FAR, NEAR], SENSORS, today=TODAY)
    assert ch is not None and ch.station.station_id == "SH-FM-A"
    assert ch.worst_snr_db == pytest.approx(min(predicted_snr_db(NEAR, s) for s in SENSORS))
    assert ch.worst_snr_db > 40.0 and {r[2] for r in ch.per_sensor} == {"predicted"}


def test_a_measurement_beats_the_prediction() -> None:
    # Qingpu measured the station at only 5 dB (a hill, a dead antenna): no reference for these three
    measured = {("SH-QINGPU", 105.2e6): 5.0}
    ch = choose_reference([NEAR], SENSORS, today=TODAY, measured_snr_db=measured)
    assert ch is None
    ok = choose_reference([NEAR], SENSORS, today=TODAY, measured_snr_db={("SH-QINGPU", 105.2e6): 33.0})
    assert ok is not None and ("SH-QINGPU", 33.0, "measured") in ok.per_sensor


@pytest.mark.parametrize("change", [
    {"necessary_bw_hz": 12.5e3},  # narrowband: a poor clock reference
    {"status": "suspended"},
    {"valid_to": date(2025, 1, 1)},
    {"occupation": "intermittent"},
    {"tx_freq_hz": 150.0e6},  # not FM broadcast
])
def test_unfit_stations_are_never_chosen(change) -> None:
    assert choose_reference([replace(NEAR, **change)], SENSORS, today=TODAY) is None
