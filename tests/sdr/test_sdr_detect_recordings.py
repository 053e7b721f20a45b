"""``borderwatch detect`` on real RTL-SDR recordings finds what their decoders found (MANIFEST.md)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from borderwatch.cli import main

SKYLINK_STARTS_S = (0.2947, 0.4079, 0.5204, 0.6343, 0.7476, 0.8608, 0.9740)
PINNED_KEYS = {"center_hz", "peak_hz", "bandwidth_xdb_hz", "obw_hz", "power_dbm", "snr_db", "bursts"}


@pytest.fixture(scope="module")
def rec(shared_dir: Path) -> Path:
    return shared_dir / "data" / "recordings"


def detect_json(uri: str, capsys: pytest.CaptureFixture[str], *extra: str) -> dict:
    assert main(["detect", "--source", uri, "--json", *extra]) == 0
    return json.loads(capsys.readouterr().out)


def near(doc: dict, freq_hz: float, tol_hz: float) -> list[dict]:
    return [e for e in doc["emissions"] if abs(e["peak_hz"] - freq_hz) <= tol_hz]


@pytest.mark.parametrize("path", ["sigmf/skylink_ha434tl_g001_433.92M_250k.sigmf-meta",
                                  "rtl433/skylink_ha434tl/skylink_ha434tl_g002_433.92M_250k.cu8"])
def test_json_shape_is_the_pinned_one(rec: Path, path: str, capsys: pytest.CaptureFixture[str]) -> None:
    doc = detect_json(str(rec / path), capsys)
    assert doc["emissions"]
    for e in doc["emissions"]:
        assert PINNED_KEYS <= set(e)
        assert all(isinstance(e[k], float) for k in PINNED_KEYS - {"bursts", "bandwidth_xdb_hz"})
        # the 26 dB bandwidth of an emission less than 26 dB over the floor is under the noise: null, not a number
        # (plus the noise bins' spread: 1-2 dB for these recordings' hundreds of averages)
        if e["bandwidth_xdb_hz"] is None:
            assert e["snr_db"] < 26.0 + 2.0, e
        else:
            assert isinstance(e["bandwidth_xdb_hz"], float) and e["snr_db"] >= 26.0, e
        assert e["bursts"] and all(set(b) == {"start_s", "duration_s"} for b in e["bursts"])
        assert 433.79e6 < e["center_hz"] < 434.05e6  # absolute frequencies in Hz


@pytest.mark.parametrize("name", ["g001", "g002", "g003"])
def test_skylink_remote_and_its_seven_packets(rec: Path, name: str, capsys: pytest.CaptureFixture[str]) -> None:
    doc = detect_json(str(rec / f"rtl433/skylink_ha434tl/skylink_ha434tl_{name}_433.92M_250k.cu8"), capsys)
    (sky,) = near(doc, 433.8125e6, 3e3)
    assert sky["center_hz"] == pytest.approx(433.8125e6, abs=1.5e3)
    assert sky["snr_db"] > 20
    starts = np.array([b["start_s"] for b in sky["bursts"]])
    durations = np.array([b["duration_s"] for b in sky["bursts"]])
    assert starts.size == 7
    np.testing.assert_allclose(starts, SKYLINK_STARTS_S, atol=0.003)
    assert np.mean(np.diff(starts)) == pytest.approx(0.1132, abs=0.001)
    assert np.all((durations > 0.030) & (durations < 0.040))  # ~34.6 ms packets


def test_skylink_g003_floor_drop_makes_no_long_false_burst(rec: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The noise floor drops 10 dB at 0.566 s; a fixed threshold would report one burst 0 .. 0.566 s.
    doc = detect_json(str(rec / "rtl433/skylink_ha434tl/skylink_ha434tl_g003_433.92M_250k.cu8"), capsys)
    for e in doc["emissions"]:
        if len(e["bursts"]) == 1 and e["bursts"][0]["duration_s"] == pytest.approx(doc["duration_s"]):
            continue  # a continuous line (the receiver spurs) spans the file by definition
        assert max(b["duration_s"] for b in e["bursts"]) < 0.1, e


@pytest.mark.parametrize("n", range(1, 9))
def test_sensible_living_sensor_one_packet(rec: Path, n: int, capsys: pytest.CaptureFixture[str]) -> None:
    path = rec / f"rtl433/sensible_living_moisture/sensible_living_radiohead_g00{n}_433.92M_250k.cu8"
    doc = detect_json(str(path), capsys)
    (sensor,) = near(doc, 433.9261e6, 2e3)
    assert sensor["center_hz"] == pytest.approx(433.9261e6, abs=1e3)
    assert sensor["snr_db"] > 25
    (burst,) = sensor["bursts"]
    assert burst["start_s"] == pytest.approx(0.2846, abs=0.005)
    assert burst["duration_s"] == pytest.approx(0.200, abs=0.015)


@pytest.mark.parametrize("path", [
    "rtl433/sensible_living_moisture/sensible_living_radiohead_g001_433.92M_250k.cu8",
    "rtl433/skylink_ha434tl/skylink_ha434tl_g001_433.92M_250k.cu8",
])
def test_the_434_000_mhz_line_is_continuous(rec: Path, path: str, capsys: pytest.CaptureFixture[str]) -> None:
    doc = detect_json(str(rec / path), capsys)
    (line,) = near(doc, 434.000e6, 500)
    assert line["bursts"] == [{"start_s": 0.0, "duration_s": doc["duration_s"]}]
    assert line["continuous"] is True
    assert line["snr_db"] > 10


def test_wmbus_two_telegrams(rec: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = detect_json(str(rec / "sigmf/wmbus_t1_868.950M_1M6_samples2.sigmf-meta"), capsys)
    # the T1 telegrams: ~210-220 kHz wide (-20 dB) around 868.93 MHz, the strongest emission in the file
    meters = [e for e in doc["emissions"]
              if 868.85e6 < e["center_hz"] < 869.0e6 and (e["bandwidth_xdb_hz"] or 0) > 150e3]
    (meter,) = meters
    assert meter["snr_db"] == max(e["snr_db"] for e in doc["emissions"])
    starts = [b["start_s"] for b in meter["bursts"]]
    durations = [b["duration_s"] for b in meter["bursts"]]
    assert starts == pytest.approx([0.2393, 0.4556], abs=0.003)
    assert durations == pytest.approx([0.0067, 0.0147], abs=0.003)


def test_wmbus_issue48_telegram(rec: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = detect_json(str(rec / "wmbus/wmbus_rtlsdr_868.625M_2M4_issue48.cu8") + "?rate=2.4M", capsys)
    meter = max((e for e in doc["emissions"] if abs(e["center_hz"] - 868.91e6) < 30e3), key=lambda e: e["snr_db"])
    (burst,) = meter["bursts"]
    assert burst["start_s"] == pytest.approx(0.0306, abs=0.0015)
    assert burst["duration_s"] == pytest.approx(0.0069, abs=0.0015)


def test_text_output_lists_the_emissions(rec: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = rec / "rtl433/sensible_living_moisture/sensible_living_radiohead_g001_433.92M_250k.cu8"
    assert main(["detect", "--source", str(path)]) == 0
    out = capsys.readouterr().out
    assert "433.92" in out and "continuous" in out and "0.28" in out


def test_bad_source_is_one_line_exit_1(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["detect", "--source", f"file:{tmp_path / 'x.cu8'}", "--json"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "recording not found" in err


def keyed_with(doc: dict, starts_s: tuple[float, ...], centre_hz: float, span_hz: float,
               tol_s: float = 0.004) -> list[dict]:
    """Bursty emissions within span_hz of the device whose bursts mostly start at its packet starts."""
    def matches(e: dict) -> bool:
        hits = sum(any(abs(b["start_s"] - t) <= tol_s for t in starts_s) for b in e["bursts"])
        return hits >= max(1, len(e["bursts"]) / 2)

    return [e for e in doc["emissions"] if not e["continuous"] and abs(e["center_hz"] - centre_hz) <= span_hz
            and matches(e)]


@pytest.mark.parametrize(("path", "starts_s", "centre_hz", "tol_hz", "span_hz"), [
    ("rtl433/sensible_living_moisture/sensible_living_radiohead_g001_433.92M_250k.cu8", (0.2846,), 433.9261e6, 1e3,
     50e3),
    ("rtl433/sensible_living_moisture/sensible_living_radiohead_g005_433.92M_250k.cu8", (0.2846,), 433.9261e6, 1e3,
     50e3),
    ("rtl433/skylink_ha434tl/skylink_ha434tl_g001_433.92M_250k.cu8", SKYLINK_STARTS_S, 433.8125e6, 1.5e3, 50e3),
    ("rtl433/skylink_ha434tl/skylink_ha434tl_g003_433.92M_250k.cu8", SKYLINK_STARTS_S, 433.8125e6, 1.5e3, 50e3),
    ("sigmf/wmbus_t1_868.950M_1M6_samples2.sigmf-meta", (0.2393, 0.4556), 868.93e6, 30e3, 300e3),
    ("wmbus/wmbus_rtlsdr_868.625M_2M4_issue48.cu8?rate=2.4M", (0.0306,), 868.91e6, 30e3, 300e3),
])
def test_each_device_is_one_emission(rec: Path, path: str, starts_s: tuple[float, ...], centre_hz: float,
                                     tol_hz: float, span_hz: float, capsys: pytest.CaptureFixture[str]) -> None:
    # its sidebands, tones and lobes in its channel key with it: grouped into it, not emissions of their own
    doc = detect_json(str(rec / path), capsys)
    (device,) = keyed_with(doc, starts_s, centre_hz, span_hz)
    assert device["center_hz"] == pytest.approx(centre_hz, abs=tol_hz)
    assert len(device["bursts"]) == len(starts_s)
    assert device["carrier"] == []
