"""The shipped fictional sample: on land in its province, reproducible, and as the demo needs it."""

from __future__ import annotations

import collections
import importlib.util
from pathlib import Path

import numpy as np
import pytest

from station_db import geo
from station_db.exchange import read_stations
from station_db.models import Station

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "station_db" / "data" / "sample_stations.csv"


@pytest.fixture(scope="module")
def sample() -> list[Station]:
    return read_stations(SAMPLE)


@pytest.fixture(scope="module")
def by_id(sample: list[Station]) -> dict[str, Station]:
    return {s.station_id: s for s in sample}


def test_hundreds_of_stations_over_four_provinces_and_five_services(sample: list[Station]) -> None:
    assert len(sample) == 597
    assert collections.Counter(s.province for s in sample) == {"AH": 136, "JS": 183, "SH": 93, "ZJ": 185}
    services = collections.Counter(s.service for s in sample)
    assert set(services) == {"broadcast", "land_mobile", "aeronautical", "maritime", "public_mobile"}
    assert min(services.values()) >= 20
    assert all("(fictional)" in s.licensee for s in sample)


def test_every_station_is_on_land_in_its_province(sample: list[Station]) -> None:
    lats = np.array([s.lat for s in sample])
    lons = np.array([s.lon for s in sample])
    assert list(geo.provinces_of(lats, lons)) == [s.province for s in sample]


def test_pmr_150_and_400_both_present(sample: list[Station]) -> None:
    pmr = [s.tx_freq_hz for s in sample if s.service == "land_mobile"]
    assert sum(146e6 <= f < 156e6 for f in pmr) > 100 and sum(406.1e6 <= f < 470e6 for f in pmr) > 100


@pytest.mark.parametrize(
    ("sid", "fields"),
    [
        ("AH-PMR-0042", dict(province="AH", tx_freq_hz=410.2125e6, emission_designator="11K0F3E", erp_dbw=10.0,
                             antenna_height_m=30.0, lat=31.70, lon=118.60, occupation="continuous")),
        ("ZJ-PMR-0107", dict(province="ZJ", tx_freq_hz=152.375e6, emission_designator="11K0F3E", erp_dbw=7.0,
                             antenna_height_m=25.0, lat=30.75, lon=120.75, occupation="intermittent")),
        ("JS-FM-0003", dict(province="JS", tx_freq_hz=97.5e6, emission_designator="180KF3E", erp_dbw=30.0,
                            antenna_height_m=150.0, lat=31.30, lon=120.60, service="broadcast")),
        ("SH-MAR-0002", dict(province="SH", tx_freq_hz=156.65e6, lat=31.39, lon=121.50, service="maritime")),
        ("AH-PMR-0010", dict(province="AH", tx_freq_hz=409.75e6, lat=31.82, lon=117.23)),
    ],
)
def test_demo_stations_are_exact(by_id: dict[str, Station], sid: str, fields: dict) -> None:
    s = by_id[sid]
    assert {k: getattr(s, k) for k in fields} == fields
    assert s.status == "active"


def test_ah_pmr_0042_is_a_few_km_from_jiangsu() -> None:
    km, _ = geo.distance_to_border_km(31.70, 118.60, other="JS")
    assert 2.0 < km < 5.0


def overlapping(sample: list[Station], f_hz: float, half_hz: float) -> list[str]:
    return [s.station_id for s in sample if s.tx_lo_hz < f_hz + half_hz and s.tx_hi_hz > f_hz - half_hz]


def test_demo_frequencies_are_left_free(sample: list[Station]) -> None:
    assert overlapping(sample, 156.8e6, 25e3) == []  # ch16: unlicensed interferer territory
    assert overlapping(sample, 100.1e6, 200e3) == []  # the demo's unlicensed FM
    assert overlapping(sample, 152.40e6, 30e3) == ["ZJ-PMR-0107"]  # only the one the demo moves there
    assert overlapping(sample, 410.2125e6, 12.5e3) == ["AH-PMR-0042"]
    assert overlapping(sample, 97.5e6, 200e3) == ["JS-FM-0003"]


def test_generator_reproduces_the_shipped_file(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("make_sample_stations", ROOT / "tools" / "make_sample_stations.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.generate() == read_stations(SAMPLE)
