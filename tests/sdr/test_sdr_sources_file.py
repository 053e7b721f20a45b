"""FileSource: every format of the same real capture reads the same; metadata drives rate and frequency."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sdr.sources import FileSource, SourceError, open_source

SENSIBLE = "rtl433/sensible_living_moisture/sensible_living_radiohead_g001_433.92M_250k.cu8"
SKYLINK = "rtl433/skylink_ha434tl/skylink_ha434tl_g001_433.92M_250k.cu8"


@pytest.fixture(scope="module")
def rec(shared_dir: Path) -> Path:
    return shared_dir / "data" / "recordings"


def test_cu8_scaling_is_rtl_convention(rec: Path) -> None:
    src = FileSource(rec / SENSIBLE)
    raw = np.fromfile(rec / SENSIBLE, np.uint8)[:2000].astype(np.float32)
    expected = (raw[0::2] - 127.5) / 127.5 + 1j * (raw[1::2] - 127.5) / 127.5
    got = src.read(1000)
    assert got.dtype == np.complex64
    np.testing.assert_allclose(got, expected, atol=1e-7)


def test_rate_and_frequency_come_from_the_rtl433_filename(rec: Path) -> None:
    src = FileSource(rec / SENSIBLE)
    assert src.sample_rate_hz == 250e3
    assert src.center_freq_hz == 433.92e6
    assert src.num_samples == 131072
    assert src.duration_s == pytest.approx(0.524288)


def test_cu8_cs16_cf32_and_sigmf_read_the_same_samples(rec: Path) -> None:
    cu8 = FileSource(rec / SENSIBLE).read(131072)
    cs16 = FileSource(rec / "derived/sensible_living_g001_433.92M_250k.cs16", sample_rate_hz=250e3,
                      center_freq_hz=433.92e6).read(131072)
    cf32 = FileSource(rec / "sigmf/sensible_living_g001_433.92M_250k_cf32.sigmf-meta").read(131072)
    assert cu8.size == cs16.size == cf32.size == 131072
    np.testing.assert_allclose(cf32, cu8, atol=1e-6)
    # cs16 = u8*256 - 32640, read with the usual 1/32768 full scale: 0.4 % (0.03 dB) apart, no offset
    np.testing.assert_allclose(cs16, cu8 * (32640 / 32768), atol=1e-6)


def test_sigmf_meta_data_and_archive_agree_with_raw_cu8(rec: Path) -> None:
    raw = FileSource(rec / SKYLINK).read(300000)
    for name in ("skylink_ha434tl_g001_433.92M_250k.sigmf-meta", "skylink_ha434tl_g001_433.92M_250k.sigmf-data",
                 "skylink_ha434tl_g001_433.92M_250k.sigmf"):
        src = open_source(f"file:{rec / 'sigmf' / name}")
        assert src.sample_rate_hz == 250e3 and src.center_freq_hz == 433.92e6
        assert src.format == "cu8"
        np.testing.assert_array_equal(src.read(300000), raw)


def test_sigmf_wmbus_rate_from_metadata(rec: Path) -> None:
    src = open_source(f"file:{rec / 'sigmf/wmbus_t1_868.950M_1M6_samples2.sigmf-meta'}")
    assert (src.sample_rate_hz, src.center_freq_hz, src.num_samples) == (1.6e6, 868.95e6, 1048576)


def test_raw_file_without_rate_says_how_to_give_it(tmp_path: Path) -> None:
    p = tmp_path / "capture.cu8"
    p.write_bytes(bytes(1000))
    with pytest.raises(SourceError, match=r"rate= and freq="):
        FileSource(p)
    src = open_source(f"file:{p}?rate=1M&freq=100M")
    assert (src.sample_rate_hz, src.center_freq_hz) == (1e6, 100e6)


def test_unknown_raw_format_is_named(tmp_path: Path) -> None:
    p = tmp_path / "capture.bin"
    p.write_bytes(bytes(16))
    with pytest.raises(SourceError, match=r"unknown raw IQ format 'bin'"):
        FileSource(p, sample_rate_hz=1e6, center_freq_hz=1e8)
    assert FileSource(p, sample_rate_hz=1e6, center_freq_hz=1e8, fmt="cf32").num_samples == 2


def test_reads_end_short_then_empty(rec: Path) -> None:
    src = FileSource(rec / SENSIBLE)
    assert src.read(100000).size == 100000
    assert src.read(100000).size == 31072
    assert src.read(100000).size == 0


def test_loop_wraps_to_the_start(rec: Path) -> None:
    once = FileSource(rec / SENSIBLE).read(131072)
    src = open_source(f"file:{rec / SENSIBLE}?loop=1")
    assert not src.finite
    two = src.read(2 * 131072 + 5)
    np.testing.assert_array_equal(two[131072:262144], once)
    np.testing.assert_array_equal(two[262144:], once[:5])


def test_tune_inside_the_band_shifts_the_spectrum(rec: Path) -> None:
    # The Sensible Living carrier sits at +6.1 kHz; tuned to its frequency it moves to DC.
    src = FileSource(rec / SENSIBLE)
    src.seek(int(0.3 * 250e3))
    before = src.read(16384)
    src.seek(int(0.3 * 250e3))
    src.tune(433.9261e6)
    after = src.read(16384)
    f = np.fft.fftshift(np.fft.fftfreq(16384, 1 / 250e3))

    def peak(x: np.ndarray) -> float:
        return float(f[np.argmax(np.abs(np.fft.fftshift(np.fft.fft(x))))])

    assert peak(before) == pytest.approx(6100, abs=300)
    assert peak(after) == pytest.approx(0, abs=300)
    assert src.center_freq_hz == 433.9261e6


def test_tune_outside_the_recording_raises_with_its_band(rec: Path) -> None:
    src = FileSource(rec / SENSIBLE)
    with pytest.raises(SourceError, match=r"433\.795000-434\.045000 MHz"):
        src.tune(435e6)
    assert src.can_retune is False


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"recording not found: .*nope\.cu8"):
        open_source(str(tmp_path / "nope.cu8"))
