"""``borderwatch detect`` on the simulator: calibrated power and the bursts the scenario scheduled."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from borderwatch.cli import main
from sdr.scenario import load_scenario
from sdr.sources import SimulatedSource

SCENARIO = """
[scenario]
seed = 5
[[sensors]]
id = "S"
province = "Anhui"
lat = 31.0
lon = 118.0
[[transmitters]]
id = "CW"
lat = 31.02
lon = 118.0
freq_hz = 433.95e6
erp_dbw = -30
modulation = "cw"
[[transmitters]]
id = "REMOTE"
lat = 31.01
lon = 118.0
freq_hz = 433.80e6
erp_dbw = -30
modulation = "ook"
duty_cycle = 0.2
burst_duration_s = 0.05
"""


def test_detect_on_the_simulator_is_calibrated_and_finds_the_bursts(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "s.toml"
    path.write_text(SCENARIO)
    truth = SimulatedSource(load_scenario(path), "S")
    uri = f"sim:{path}?sensor=S&freq=433.92M&rate=1M"
    assert main(["detect", "--source", uri, "--duration", "2", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["calibrated"] is True
    (cw,) = [e for e in doc["emissions"] if abs(e["peak_hz"] - 433.95e6) < 500]
    assert cw["power_dbm"] == pytest.approx(truth.received_dbm("CW"), abs=1.0)
    assert cw["continuous"] is True
    (remote,) = [e for e in doc["emissions"] if abs(e["center_hz"] - 433.80e6) < 2e3]
    bursts = remote["bursts"]
    assert len(bursts) == 8  # duty 0.2 of 50 ms packets: one per 250 ms period
    assert all(b["duration_s"] == pytest.approx(0.05, abs=0.003) for b in bursts)
    for k, b in enumerate(bursts):  # packet k lies inside its period
        assert 0.25 * k - 0.002 <= b["start_s"] <= 0.25 * (k + 1) - 0.05 + 0.002
