"""Free-space field strength, received power and the field-strength -> dBm conversion."""

from __future__ import annotations

import math

import numpy as np
import pytest

from coordination.propagation import (
    field_dbuv_m_to_dbm,
    free_space_field_dbuv_m,
    free_space_received_dbm,
)


def test_free_space_field_is_erp_dbw_plus_76_92_minus_20_log_d() -> None:
    assert float(free_space_field_dbuv_m(30.0, 1.0)) == pytest.approx(106.92)
    assert float(free_space_field_dbuv_m(0.0, 10.0)) == pytest.approx(56.92)
    e = free_space_field_dbuv_m(np.array([30.0, 40.0]), np.array([[1.0], [100.0]]))
    assert e.shape == (2, 2)
    assert e[1, 1] == pytest.approx(40.0 + 76.92 - 40.0)


def test_received_power_is_friis_with_eirp_equal_erp_plus_2_15_db() -> None:
    # 1 kW e.r.p. at 100 MHz over 10 km: EIRP 62.15 dBm, FSPL 20 log10(4 pi 1e4 / 2.998) = 92.44 dB.
    fspl = 20.0 * math.log10(4.0 * math.pi * 10_000.0 / (299_792_458.0 / 100e6))
    assert float(free_space_received_dbm(30.0, 10.0, 100e6)) == pytest.approx(62.15 - fspl, abs=1e-9)
    # Doubling distance or frequency costs 6.02 dB.
    p = free_space_received_dbm(30.0, np.array([10.0, 20.0]), np.array([100e6, 200e6]))
    assert p[0] - p[1] == pytest.approx(2 * 20 * math.log10(2), abs=1e-9)


def test_field_to_dbm_conversion_is_e_minus_20_log_f_mhz_minus_77_2_plus_gain() -> None:
    assert float(field_dbuv_m_to_dbm(60.0, 100e6)) == pytest.approx(60.0 - 40.0 - 77.2)
    assert float(field_dbuv_m_to_dbm(60.0, 100e6, rx_gain_dbi=5.0)) == pytest.approx(60.0 - 40.0 - 77.2 + 5.0)


@pytest.mark.parametrize("f_hz", [30e6, 433e6, 3.9e9])
def test_the_three_helpers_agree_within_the_rounding_of_77_2(f_hz: float) -> None:
    d = np.geomspace(0.1, 500.0, 9)
    via_field = field_dbuv_m_to_dbm(free_space_field_dbuv_m(20.0, d), f_hz)
    direct = free_space_received_dbm(20.0, d, f_hz)
    assert np.max(np.abs(via_field - direct)) < 0.03


def test_non_positive_distance_or_frequency_is_rejected() -> None:
    with pytest.raises(ValueError, match="d_km must be finite and > 0"):
        free_space_field_dbuv_m(30.0, [1.0, 0.0])
    with pytest.raises(ValueError, match="f_hz must be finite and > 0"):
        field_dbuv_m_to_dbm(50.0, -1.0)
    with pytest.raises(ValueError, match="d_km must be finite and > 0"):
        free_space_received_dbm(30.0, -2.0, 100e6)
