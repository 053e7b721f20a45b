"""Receivers as they are: calibration error, LO ppm error and noise figure show in what the dsp chain measures."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dsp import dbfs_to_dbm, detect_emissions, noise_floor, remove_dc_spike, welch_psd
from sdr.scenario import Scenario, parse_scenario
from sdr.sources import SimulatedSource
from sdr.sources.sim_world import RealisticWorld

RATE = 2.4e6
AF_DB_M = 15.0


def world_scenario(sensors: list[dict], transmitters: list[dict], **tables: dict) -> Scenario:
    return parse_scenario({"scenario": {"seed": 5}, "sensors": sensors, "transmitters": transmitters} | tables)


def sensor(id_: str, **kw: object) -> dict:
    return {"id": id_, "province": "JS", "lat": 31.0, "lon": 120.0, "height_m": 15,
            "antenna_factor_db_m": AF_DB_M} | kw


CW = {"id": "CW", "lat": 31.12, "lon": 120.05, "freq_hz": 410.3e6, "erp_dbw": 10.0, "modulation": "cw",
      "antenna_height_m": 30}


def measured(src: SimulatedSource, nfft: int = 4096, n: int = 1 << 19) -> tuple[np.ndarray, np.ndarray]:
    """Per-bin antenna-port dBm through the real dsp chain (Welch, DC removal, calibration table)."""
    x = src.read(n)
    f, dens = welch_psd(x, src.sample_rate_hz, nfft)
    per_bin_dbfs = 10 * np.log10(remove_dc_spike(dens * src.sample_rate_hz / nfft, 3))
    dbm = dbfs_to_dbm(per_bin_dbfs, gain_db=src.effective_gain_db, freq_hz=src.center_freq_hz + f,
                      table=src.calibration)
    return src.center_freq_hz + f, dbm


def reported_field_dbuv_m(src: SimulatedSource, freq_hz: float) -> float:
    """The field the sensor reports for the emission nearest freq_hz (its configured antenna factor)."""
    freqs, dbm = measured(src)
    floor = 10 * np.log10(noise_floor(10 ** (dbm / 10), segments=200))
    em = min(detect_emissions(freqs, dbm, floor_dbm=floor, margin_db=10), key=lambda e: abs(e.peak_hz - freq_hz))
    return em.power_dbm + 107.0 + src.site.antenna_factor_db_m


def test_calibration_error_shows_in_the_measured_level() -> None:
    sc = world_scenario([sensor("GOOD", calibration_error_db=0.0), sensor("HOT", calibration_error_db=2.7),
                         sensor("DRAWN")], [CW])
    realistic = RealisticWorld(shadowing_db=6.0, calibration_sigma_db=2.0, seed=13)
    # the three sensors share one mast; without path spread their links are identical
    same_path = RealisticWorld(0.0, 0.0, 0.0, None, None, calibration_sigma_db=2.0, seed=13)
    got: dict[tuple[str, int], float] = {}
    for k, world in enumerate((realistic, same_path)):
        for sid in ("GOOD", "HOT", "DRAWN"):
            src = SimulatedSource(sc, sid, center_freq_hz=410e6, sample_rate_hz=RATE, propagation=world)  # AGC
            got[sid, k] = reported_field_dbuv_m(src, 410.3e6)
            truth = world.reported_field_dbuv_m(sc.transmitters[0], sc.sensor(sid))
            assert got[sid, k] == pytest.approx(truth, abs=0.5)
    assert got["HOT", 1] - got["GOOD", 1] == pytest.approx(2.7, abs=0.5)
    drawn = same_path.calibration_error_db(sc.sensor("DRAWN"))
    assert abs(drawn) > 0.7  # this seed draws a visible bias
    assert got["DRAWN", 1] - got["GOOD", 1] == pytest.approx(drawn, abs=0.5)


def test_an_explicit_calibration_error_overrides_the_world() -> None:
    sc = world_scenario([sensor("S", calibration_error_db=1.0)], [CW])
    src = SimulatedSource(sc, "S", center_freq_hz=410e6, propagation=RealisticWorld.ideal(),
                          calibration_error_db=-4.0)
    assert src.calibration_error_db == -4.0
    plain = SimulatedSource(sc, "S", center_freq_hz=410e6, propagation=RealisticWorld.ideal())
    assert plain.calibration_error_db == 1.0
    assert src.received_dbm("CW") == pytest.approx(plain.received_dbm("CW") - 5.0)
    assert math.isfinite(src.received_dbm("CW"))


@pytest.mark.parametrize(("freq_hz", "ppm"), [(152.4e6, 2.5), (410.3e6, -1.8), (156.8e6, 6.0)])
def test_lo_ppm_error_shifts_the_measured_frequency_by_ppm_times_f(freq_hz: float, ppm: float) -> None:
    cw = CW | {"freq_hz": freq_hz}
    sc = world_scenario([sensor("EXACT"), sensor("OFF", ppm_error=ppm)], [cw],
                        world={"model": "p1546"}, sensor_defaults={"ppm_error": 0.0})
    peaks = {}
    for sid in ("EXACT", "OFF"):
        src = SimulatedSource(sc, sid, center_freq_hz=freq_hz - 300e3, sample_rate_hz=RATE)
        f, p = welch_psd(src.read(1 << 21), RATE, 1 << 18)  # 9.2 Hz bins
        peaks[sid] = src.center_freq_hz + float(f[np.argmax(p)])
    assert peaks["EXACT"] == pytest.approx(freq_hz, abs=10)
    # an LO ppm high mixes every carrier ppm * f low
    assert peaks["OFF"] - peaks["EXACT"] == pytest.approx(-ppm * 1e-6 * freq_hz, abs=15)


def test_noise_figure_moves_the_measured_floor_by_its_difference() -> None:
    sc = world_scenario([sensor("QUIET"), sensor("TOWN", noise_figure_db=22.0)], [],
                        sensor_defaults={"noise_figure_db": 14.0})
    assert (sc.sensor("QUIET").noise_figure_db, sc.sensor("TOWN").noise_figure_db) == (14.0, 22.0)
    floors = {}
    for sid in ("QUIET", "TOWN"):
        src = SimulatedSource(sc, sid, center_freq_hz=152e6, sample_rate_hz=RATE, gain_db=49.6, dc_offset_dbfs=None)
        _, dbm = measured(src)
        floors[sid] = 10 * math.log10(noise_floor(10 ** (dbm / 10), segments=200) / (RATE / 4096))
        assert floors[sid] == pytest.approx(src.noise_floor_dbm_per_hz(), abs=0.7)
    # at full gain kTB + NF dominates: the floors differ by the 8 dB of noise figure (ADC noise takes a little)
    assert floors["TOWN"] - floors["QUIET"] == pytest.approx(8.0, abs=0.5)
    assert floors["QUIET"] == pytest.approx(-174.0 + 14.0, abs=0.7)
