"""Emission detection and ITU-R SM.443 bandwidths with known answers."""

from __future__ import annotations

import numpy as np
import pytest

import dsp

BIN_HZ = 100.0
F = np.arange(-4096, 4096) * BIN_HZ + 433.92e6  # absolute axis, 8192 bins


def _db(lin):
    return 10 * np.log10(lin)


@pytest.mark.parametrize(("sigma_hz", "centre_offset_hz"), [(2000.0, 0.0), (1234.5, 37.0), (600.0, -20_000.0)])
def test_gaussian_spectrum_obw_and_26db_bandwidth(sigma_hz, centre_offset_hz):
    """SM.443 known answers: 99 % OBW = 2 * 2.5758 sigma = 5.152 sigma; 26 dB width = 6.921 sigma."""
    f0 = 433.92e6 + centre_offset_hz
    p_mw = 1e-4 * np.exp(-((F - f0) ** 2) / (2 * sigma_hz**2)) + 1e-15  # floor -150 dBm per bin
    (e,) = dsp.detect_emissions(F, _db(p_mw), floor_dbm=-150.0)
    assert e.obw_hz == pytest.approx(5.152 * sigma_hz, abs=BIN_HZ)
    assert e.bandwidth_xdb_hz == pytest.approx(6.921 * sigma_hz, abs=BIN_HZ)
    assert e.center_hz == pytest.approx(f0, abs=1.0)
    assert e.peak_hz == pytest.approx(f0, abs=BIN_HZ / 2)
    total_mw = np.sum(p_mw - 1e-15)
    assert e.power_dbm == pytest.approx(_db(total_mw), abs=0.01)


def test_gaussian_in_noise_obw_is_noise_subtracted():
    """Same Gaussian 60 dB over real noise (floor -110 dBm): OBW still within one bin of 5.152 sigma."""
    sigma_hz = 1500.0
    rng = np.random.default_rng(2)
    noise_mw = 1e-11 * rng.gamma(100, 1 / 100, size=F.size)  # 100 averaged segments
    p_mw = 1e-5 * np.exp(-((F - 433.92e6) ** 2) / (2 * sigma_hz**2)) + noise_mw
    (e,) = dsp.detect_emissions(F, _db(p_mw), floor_dbm=-110.0)
    assert e.obw_hz == pytest.approx(5.152 * sigma_hz, abs=BIN_HZ)
    assert e.bandwidth_xdb_hz == pytest.approx(6.921 * sigma_hz, abs=BIN_HZ)
    assert e.snr_db == pytest.approx(60.0, abs=0.5)


@pytest.mark.parametrize("n_bins", [50, 101, 1000])
def test_flat_block_obw_is_99_percent_of_width(n_bins):
    width_hz = n_bins * BIN_HZ
    p_dbm = np.full(F.size, -200.0)
    start = 3000
    p_dbm[start : start + n_bins] = -60.0
    (e,) = dsp.detect_emissions(F, p_dbm, floor_dbm=-130.0)
    assert e.obw_hz == pytest.approx(0.99 * width_hz, rel=1e-9)
    assert e.f_lo_hz == pytest.approx(F[start] - BIN_HZ / 2)
    assert e.f_hi_hz - e.f_lo_hz == pytest.approx(width_hz)
    assert e.power_dbm == pytest.approx(-60.0 + _db(n_bins), abs=1e-6)
    assert e.center_hz == pytest.approx(F[start] + (n_bins - 1) * BIN_HZ / 2)
    assert e.snr_db == pytest.approx(70.0)


def test_center_is_power_weighted():
    p_mw = np.full(F.size, 1e-15)
    p_mw[1000] = 3e-6
    p_mw[1001] = 1e-6  # 3:1 -> centre a quarter bin above bin 1000
    (e,) = dsp.detect_emissions(F, _db(p_mw), floor_dbm=-150.0)
    assert e.center_hz == pytest.approx(F[1000] + 0.25 * BIN_HZ, abs=1e-3)
    assert e.peak_hz == F[1000]
    assert e.peak_dbm == pytest.approx(-55.23, abs=0.01)


def test_gaps_merge_and_narrow_runs_drop():
    p_dbm = np.full(F.size, -120.0)
    p_dbm[100:110] = -80.0
    p_dbm[112:120] = -80.0  # 2-bin gap: merged by default (2 bins)
    p_dbm[200:210] = -80.0
    p_dbm[220:230] = -80.0  # 10-bin gap: separate
    p_dbm[500] = -70.0  # single bin: dropped by the default 2-bin minimum width
    es = dsp.detect_emissions(F, p_dbm, floor_dbm=-120.0)
    assert [(round(e.f_lo_hz - F[0]), round(e.f_hi_hz - F[0])) for e in es] == [
        (9950, 11950), (19950, 20950), (21950, 22950)
    ]
    merged = dsp.detect_emissions(F, p_dbm, floor_dbm=-120.0, merge_hz=1000.0, min_width_hz=0.0)
    assert len(merged) == 3  # 100..119 and 200..229 merged, plus the single bin
    assert merged[2].peak_hz == F[500]


def test_per_bin_floor_and_margin():
    p_dbm = np.full(F.size, -100.0)
    floor = np.full(F.size, -110.0)
    floor[F.size // 2 :] = -95.0  # same -100 dBm level is 10 dB up on the left, 5 dB down on the right
    p_dbm[1000:1010] = -100.0 + 0.0
    es = dsp.detect_emissions(F, p_dbm, floor_dbm=floor, margin_db=6.0)
    assert len(es) == 1
    assert es[0].f_lo_hz == pytest.approx(F[0] - BIN_HZ / 2)
    assert es[0].f_hi_hz == pytest.approx(F[F.size // 2 - 1] + BIN_HZ / 2)
    assert dsp.detect_emissions(F, p_dbm, floor_dbm=floor, margin_db=12.0) == []


def test_emission_dict_round_trip_and_validation():
    p_dbm = np.full(F.size, -120.0)
    p_dbm[100:110] = -80.0
    (e,) = dsp.detect_emissions(F, p_dbm, floor_dbm=-120.0)
    d = e.to_dict()
    assert set(d) == {
        "center_hz", "peak_hz", "peak_dbm", "power_dbm", "bandwidth_xdb_hz", "obw_hz", "snr_db",
        "f_lo_hz", "f_hi_hz",
    }
    assert dsp.Emission.from_dict(d) == e
    with pytest.raises(ValueError, match="snr_db"):
        dsp.Emission.from_dict({**d, "snr_db": "high"})
    with pytest.raises(ValueError, match="missing"):
        dsp.Emission.from_dict({k: v for k, v in d.items() if k != "obw_hz"})


def test_end_to_end_from_iq():
    """IQ -> Welch PSD x bin width -> dBm -> FCME floor -> two emissions at the right frequencies."""
    fs, nfft, n = 1.024e6, 1024, 2**18
    rng = np.random.default_rng(4)
    t = np.arange(n) / fs
    x = 1e-3 * (rng.standard_normal(n) + 1j * rng.standard_normal(n))
    x += 3e-2 * np.exp(2j * np.pi * 100e3 * t)  # CW at +100 kHz
    beta = 5e3 / 1e3  # FM: 5 kHz deviation, 1 kHz tone
    x += 1e-2 * np.exp(1j * (2 * np.pi * -200e3 * t + beta * np.sin(2 * np.pi * 1e3 * t)))
    f, psd = dsp.welch_psd(x.astype(np.complex64), fs, nfft, scaling="density")
    p = psd * (fs / nfft)  # power per bin = PSD x bin width: integrates to the true power
    segs = (n - nfft) // (nfft // 2) + 1
    p_dbm = dsp.dbfs_to_dbm(10 * np.log10(p), gain_db=20.0, freq_hz=433.92e6)
    floor_dbm = dsp.dbfs_to_dbm(10 * np.log10(dsp.noise_floor(p, segments=segs)), gain_db=20.0, freq_hz=0)
    es = dsp.detect_emissions(f + 433.92e6, p_dbm, floor_dbm=floor_dbm, margin_db=10.0)
    assert len(es) == 2
    fm, cw = es
    assert cw.peak_hz - 433.92e6 == pytest.approx(100e3, abs=fs / nfft)
    assert fm.center_hz - 433.92e6 == pytest.approx(-200e3, abs=fs / nfft)
    # Carson: 2 * (5 kHz + 1 kHz) = 12 kHz holds ~98 % of the power; the 99 % OBW is close to it
    assert 9e3 < fm.obw_hz < 16e3
    # Integrated powers: CW (3e-2)^2 = -30.46 dBFS, FM (1e-2)^2 = -40 dBFS; dBm = dBFS - 10 - 20 (nominal)
    assert cw.power_dbm == pytest.approx(10 * np.log10(9e-4) - 30.0, abs=0.2)
    assert fm.power_dbm == pytest.approx(-40.0 - 30.0, abs=0.2)
    # the CW's peak bin reads its power less the Hann window's ENBW (1.5 bins = 1.76 dB)
    enbw_db = 10 * np.log10(dsp.enbw_bins("hann", nfft))
    assert enbw_db == pytest.approx(1.761, abs=1e-3)
    assert cw.peak_dbm == pytest.approx(cw.power_dbm - enbw_db, abs=0.2)


def _load_cu8(path):
    u = np.fromfile(path, np.uint8).astype(np.float32)
    return ((u[0::2] - 127.5) / 127.5 + 1j * (u[1::2] - 127.5) / 127.5).astype(np.complex64)


def _emissions_of_recording(path, fs=250e3, centre_hz=433.92e6, nfft=2048):
    x = _load_cu8(path)
    f, psd = dsp.welch_psd(x, fs, nfft)
    per_bin = dsp.remove_dc_spike(psd * fs / nfft, 3)
    floor = dsp.sliding_noise_floor(per_bin, window_bins=256, segments=(x.size - nfft) // (nfft // 2) + 1)
    return dsp.detect_emissions(f + centre_hz, 10 * np.log10(per_bin), floor_dbm=10 * np.log10(floor),
                                margin_db=10.0)


@pytest.mark.parametrize(
    ("relpath", "carrier_hz"),
    [
        ("rtl433/skylink_ha434tl/skylink_ha434tl_g001_433.92M_250k.cu8", 433.8125e6),
        ("rtl433/sensible_living_moisture/sensible_living_radiohead_g001_433.92M_250k.cu8", 433.9261e6),
    ],
)
def test_real_recordings_carrier_found_at_manifest_frequency(shared_dir, relpath, carrier_hz):
    """MANIFEST.md PSD ground truth (61 Hz resolution); our bins are 122 Hz: within two bins."""
    es = _emissions_of_recording(shared_dir / "data/recordings" / relpath)
    strongest = max(es, key=lambda e: e.peak_dbm)
    assert strongest.peak_hz == pytest.approx(carrier_hz, abs=250.0)
    assert strongest.snr_db > 25.0


def test_real_recording_spur_line_at_434_mhz(shared_dir):
    """The continuous receiver spur at 434.000 MHz in the Skylink captures is an emission too."""
    es = _emissions_of_recording(
        shared_dir / "data/recordings/rtl433/skylink_ha434tl/skylink_ha434tl_g001_433.92M_250k.cu8"
    )
    assert any(abs(e.peak_hz - 434.000e6) < 500.0 for e in es)
