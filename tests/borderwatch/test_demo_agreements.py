"""The demo's FM broadcasters through the rules engine, with the shipped sample stations and the demo's
sensors, levels from the ideal world (the engine's own law): what the scenario expects of them.

SH-FM-0005 (agreed with JS and ZJ) raises nothing; ZJ-FM-0003 within its licence but above the field
Shanghai agreed raises cross_border ZJ -> SH with the agreement quoted; the new JS-FM-0020, whose
coordination is pending, raises cross_border JS -> SH. (The whole demo plays these in
tests/borderwatch/test_demo_e2e.py, slow.)
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import station_db
from borderwatch.demo_scenario import load_demo_scenario
from coordination.alerts import InMemoryAlertStore
from coordination.engine import EngineConfig, RulesEngine
from coordination.sensors import SensorInfo
from coordination.stations import open_stations
from sdr.sources.sim_world import RealisticWorld
from station_db.rules import load_rules

T0 = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
NOISE_DBM = -110.0
FM_TRANSMITTERS = ("SH-FM-0005", "ZJ-FM-0003", "JS-FM-0020")


@pytest.fixture(scope="module")
def demo():
    return load_demo_scenario()


@pytest.fixture(scope="module")
def stations(tmp_path_factory):
    repo = open_stations(Path(station_db.__file__).parent / "data" / "sample_stations.csv",
                         tmp_path_factory.mktemp("st"))
    yield repo
    repo.close()


def play(demo, stations, tx_id: str) -> list:
    tx = next(t for t in demo.scenario.transmitters if t.id == tx_id)
    world = RealisticWorld.ideal()
    engine = RulesEngine(stations, load_rules(), InMemoryAlertStore(), config=EngineConfig(**demo.settings.engine))
    events: list = []
    t = T0
    for _ in range(4):
        for site in demo.scenario.sensors:
            p_dbm = world.field_strength_dbuv_m(tx, site) - 107.0 - site.antenna_factor_db_m
            info = SensorInfo(site.id, site.province, site.lat, site.lon, site.height_m, site.antenna_factor_db_m)
            em = {"center_hz": tx.freq_hz, "peak_hz": tx.freq_hz, "peak_dbm": p_dbm + 3, "power_dbm": p_dbm,
                  "bandwidth_xdb_hz": 150e3, "obw_hz": 170e3, "snr_db": p_dbm - NOISE_DBM,
                  "f_lo_hz": tx.freq_hz - 85e3, "f_hi_hz": tx.freq_hz + 85e3}
            events += engine.observe(info, t, [em] if p_dbm - NOISE_DBM >= 10.0 else [], NOISE_DBM)
        t += timedelta(seconds=2)
        events += engine.tick(t)
    events += engine.tick(t + timedelta(seconds=10))
    final: dict[str, object] = {}
    for e in events:
        final[e.alert.id] = e.alert
    return list(final.values())


@pytest.mark.parametrize("tx_id", FM_TRANSMITTERS)
def test_fm_broadcasters_conclude_what_the_demo_expects(demo, stations, tx_id: str) -> None:
    exp = demo.expectation_for(tx_id)
    assert exp is not None
    alerts = play(demo, stations, tx_id)
    if not exp.verdicts:
        assert alerts == [], [(a.verdicts, a.provinces_affected, a.findings) for a in alerts]
        return
    [a] = alerts
    assert set(a.verdicts) == set(exp.verdicts), a.findings
    assert set(a.provinces_source) == set(exp.provinces_source)
    assert set(a.provinces_affected) == set(exp.provinces_affected), a.findings
    if tx_id == "ZJ-FM-0003":
        assert any("above the agreement SH agreed 61.7 dBuV/m at the border (ZJ-SH-2025-002" in f
                   for f in a.findings), a.findings
    if tx_id == "JS-FM-0020":
        assert any("coordination with SH pending (CR-JS-20261120090000-5a17c0)" in f for f in a.findings), a.findings
