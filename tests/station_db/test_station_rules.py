"""Coordination rules: shipped defaults and the errors a bad rules file gets."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from station_db.rules import RulesError, load_rules, parse_rules

BAND = """
[[band]]
name = "PMR 400"
service = "land_mobile"
f_lo_mhz = 406.1
f_hi_mhz = 470.0
raster_khz = 12.5
channel_width_khz = 12.5
border_limit_dbuv_m = 20.0
time_pct = 10.0
margin_db = 6.0
priority = 4
"""


def rules_text(band: str = BAND, version: str = 'version = "t1"\n') -> str:
    return version + band


def test_defaults_carry_the_hcm_trigger_values() -> None:
    rules = load_rules()
    assert rules.version == "2026.1"
    expected = {  # MHz inside the band -> permissible dBuV/m at the border
        35.0: 0.0, 80.0: 6.0, 150.0: 12.0, 170.0: 12.0, 390.0: 18.0, 440.0: 20.0, 900.0: 26.0, 1800.0: 35.0,
    }
    for f_mhz, limit in expected.items():
        assert rules.band_for(f_mhz * 1e6).border_limit_dbuv_m == limit, f_mhz


def test_defaults_cover_fm_airband_maritime_and_pmr400() -> None:
    rules = load_rules()
    fm, air, mar, pmr = (rules.band_for(f) for f in (97.5e6, 121.5e6, 156.8e6, 410.2125e6))
    assert (fm.name, fm.f_lo_hz, fm.f_hi_hz, fm.service) == ("FM broadcast", 87.5e6, 108e6, "broadcast")
    assert (air.f_lo_hz, air.f_hi_hz, air.priority, air.safety) == (118e6, 137e6, 1, True)
    assert (mar.f_lo_hz, mar.f_hi_hz, mar.priority, mar.safety, mar.raster_hz) == (156e6, 162.05e6, 1, True, 25e3)
    assert (pmr.f_lo_hz, pmr.f_hi_hz, pmr.raster_hz, pmr.safety) == (406.1e6, 470e6, 12.5e3, False)
    assert rules.band_for(50e6) is None
    assert rules.band_for(108e6) is None  # bands are half-open [f_lo, f_hi)
    assert rules.band_for(87.5e6).name == "FM broadcast"


def test_bands_are_sorted_and_disjoint() -> None:
    bands = load_rules().bands
    assert all(a.f_hi_hz <= b.f_lo_hz for a, b in itertools.pairwise(bands))


def test_channel_raster() -> None:
    pmr = load_rules().band_for(410e6)
    centres = pmr.channel_centers_hz()
    assert len(centres) == 5112  # (470 - 406.1) MHz / 12.5 kHz
    assert centres[0] == 406.1e6 and centres[-1] == pytest.approx(469.9875e6)
    assert np.all(np.diff(centres) == pytest.approx(12.5e3))
    k = pmr.channel_of(410.2125e6)
    assert k == 329 and centres[k] == pytest.approx(410.2125e6)
    assert pmr.channel_of(410.2175e6) == 329  # 5 kHz off still belongs to the nearest channel
    assert pmr.channel_center_hz(410.2190e6) == pytest.approx(410.2250e6)
    assert pmr.channel_of(400e6) is None


def test_load_from_file_and_units_in_keys(tmp_path: Path) -> None:
    text = rules_text(BAND.replace("f_lo_mhz = 406.1", "f_lo_khz = 406100").replace("raster_khz = 12.5",
                                                                                   "raster_hz = 12500"))
    path = tmp_path / "r.toml"
    path.write_text(text, encoding="utf-8")
    rules = load_rules(path)
    assert rules.source == str(path)
    assert rules.bands[0].f_lo_hz == 406.1e6 and rules.bands[0].raster_hz == 12500.0


@pytest.mark.parametrize(
    ("text", "key", "message"),
    [
        (rules_text(BAND.replace("f_lo_mhz", "f_lo")), "band[0].f_lo", "needs its unit in the key"),
        (rules_text(BAND.replace("f_lo_mhz = 406.1", "f_lo_mhz = 480.0")), "band[0].f_hi", "f_lo < f_hi"),
        (rules_text(BAND + BAND.replace('"PMR 400"', '"PMR 400 bis"').replace("406.1", "460.0")
                    .replace("470.0", "480.0")), "band[1].f_lo", "overlaps band 'PMR 400'"),
        (rules_text(BAND + BAND), "band[1].name", "duplicate band name"),
        (rules_text(BAND.replace('"land_mobile"', '"television"')), "band[0].service", "unknown service"),
        (rules_text(BAND.replace("priority = 4", "priority = 0")), "band[0].priority", "integer 1"),
        (rules_text(BAND.replace("time_pct = 10.0", "time_pct = 90.0")), "band[0].time_pct",
         r"must be within \[1, 50\]"),
        (rules_text(BAND.replace("f_hi_mhz = 470.0", 'f_hi_mhz = "470 MHz"')), "band[0].f_hi_mhz",
         "must be a number"),
        (rules_text(BAND.replace("margin_db = 6.0", "margin_db = 6.0\ncolour = 3")), "band[0].colour", "unknown key"),
        (rules_text(BAND.replace("margin_db = 6.0\n", "")), "band[0].margin_db", "missing"),
        (rules_text(BAND + "raster_mhz = 0.0125\n"), "band[0].raster_mhz", "given twice"),
        (rules_text(BAND, version=""), "version", "version string is required"),
        (rules_text("", 'version = "x"\n'), "band", "at least one"),
        ("version = [", "(syntax)", "not valid TOML"),
    ],
)
def test_rule_errors_name_file_key_and_value(text: str, key: str, message: str) -> None:
    with pytest.raises(RulesError, match=message) as info:
        parse_rules(text, source="mine.toml")
    err = info.value
    assert (err.file, err.key) == ("mine.toml", key)
    assert str(err).startswith(f"mine.toml: {key}")


def test_error_message_shows_the_bad_value() -> None:
    with pytest.raises(RulesError) as info:
        parse_rules(rules_text(BAND.replace("priority = 4", "priority = 12")), source="r.toml")
    assert info.value.value == 12
    assert str(info.value) == "r.toml: band[0].priority = 12: must be an integer 1 (highest) .. 9"


def test_missing_file_is_a_rules_error(tmp_path: Path) -> None:
    with pytest.raises(RulesError, match="cannot read"):
        load_rules(tmp_path / "absent.toml")
