"""Scenario TOML: a valid file loads into typed values; every mistake names file, entry and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from sdr.scenario import ScenarioError, load_scenario

GOOD = """
[scenario]
name = "border"
seed = 7
start_utc = "2026-03-01T08:00:00Z"

[[sensors]]
id = "SH-01"
province = "Shanghai"
lat = 31.0
lon = 121.0
height_m = 25
noise_figure_db = 5

[[transmitters]]
id = "FM-1"
lat = 31.1
lon = 121.1
freq_hz = 98.1e6
erp_dbw = 40
antenna_height_m = 150
modulation = "fm_broadcast"

[[transmitters]]
id = "PIRATE"
lat = 31.2
lon = 120.9
freq_hz = 100.3e6
erp_dbw = 10
modulation = "nfm"
duty_cycle = 0.5
schedule = [[600, 1200], [3000, 3600]]
freq_offset_hz = 2500
erp_boost_db = 6
"""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "scenario.toml"
    p.write_text(text)
    return p


def test_a_valid_scenario_loads(tmp_path: Path) -> None:
    sc = load_scenario(write(tmp_path, GOOD))
    assert sc.name == "border" and sc.seed == 7
    assert sc.start_utc.isoformat() == "2026-03-01T08:00:00+00:00"
    site = sc.sensor("SH-01")
    assert (site.height_m, site.noise_figure_db, site.antenna_factor_db_m) == (25.0, 5.0, 20.0)
    pirate = sc.transmitters[1]
    assert pirate.schedule == ((600.0, 1200.0), (3000.0, 3600.0))
    assert pirate.emitted_freq_hz == 100.3025e6
    assert pirate.effective_erp_dbw == 16.0
    assert pirate.scheduled_on(700) and not pirate.scheduled_on(1300)
    assert sc.transmitters[0].scheduled_on(1e6)  # no schedule: always on


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('modulation = "nfm"', 'modulation = "am"', r"#2 \(PIRATE\): key 'modulation' must be one of"),
        ("erp_dbw = 10", 'erp_dbw = "ten"', r"#2 \(PIRATE\): key 'erp_dbw' must be float"),
        ("duty_cycle = 0.5", "duty_cycle = 1.5", r"key 'duty_cycle' must be in \(0, 1\]"),
        ("schedule = [[600, 1200], [3000, 3600]]", "schedule = [[1200, 600]]", r"schedule\[0\] must be \[on_s"),
        ("freq_offset_hz = 2500", "freq_ofset_hz = 2500", r"unknown key 'freq_ofset_hz'"),
        ('province = "Shanghai"\n', "", r"\[\[sensors\]\] #1 \(SH-01\): missing required key 'province'"),
        ("lat = 31.0", "lat = 131.0", r"key 'lat' must be within -90..90"),
        ('id = "PIRATE"', 'id = "FM-1"', r"duplicate transmitters id 'FM-1'"),
        ("seed = 7", "seed = -1", r"key 'seed' must be a non-negative integer"),
        ("duty_cycle = 0.5", "duty_cycle = 0.5\nazimuth_deg = 90", r"'azimuth_deg' and 'beamwidth_deg' go together"),
        ("duty_cycle = 0.5", "duty_cycle = 0.5\nazimuth_deg = 90\nbeamwidth_deg = 0.5",
         r"key 'beamwidth_deg' must be within 1..360"),
        ("duty_cycle = 0.5", "duty_cycle = 0.5\nfront_to_back_db = -3", r"key 'front_to_back_db' must be within 0..60"),
    ],
)
def test_mistakes_name_file_entry_and_key(tmp_path: Path, old: str, new: str, message: str) -> None:
    assert old in GOOD
    p = write(tmp_path, GOOD.replace(old, new, 1))
    with pytest.raises(ScenarioError, match=message) as err:
        load_scenario(p)
    assert str(p) in str(err.value)


def test_invalid_toml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match=r"not valid TOML"):
        load_scenario(write(tmp_path, "[[sensors]\nid = 1"))
    with pytest.raises(ScenarioError, match=r"cannot read: No such file"):
        load_scenario(tmp_path / "absent.toml")


def test_unknown_sensor_lists_the_known_ones(tmp_path: Path) -> None:
    sc = load_scenario(write(tmp_path, GOOD))
    with pytest.raises(KeyError, match=r"no sensor 'JS-09'.*sensors: SH-01"):
        sc.sensor("JS-09")


def test_the_demo_table_is_ignored_and_an_unknown_table_still_refused(tmp_path: Path) -> None:
    with_demo = write(tmp_path, GOOD + "\n[demo]\nduration_s = 30\n[demo.engine]\nauto_resolve_after_s = 15\n")
    assert load_scenario(with_demo).transmitters == load_scenario(write(tmp_path, GOOD)).transmitters
    with pytest.raises(ScenarioError, match=r"unknown table 'dmeo'"):
        load_scenario(write(tmp_path, GOOD + "\n[dmeo]\nduration_s = 30\n"))


def test_the_shipped_demo_scenario_opens_as_a_simulated_source() -> None:
    from borderwatch.demo_scenario import default_scenario_path
    from sdr.sources import open_source

    with open_source(f"sim:{default_scenario_path()}?sensor=SH-QINGPU&freq=100M&rate=250k") as source:
        assert source.read(4096).size == 4096
