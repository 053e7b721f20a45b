"""The rules-engine behaviour the demo exposed: the order in which sensors report one emitter must not
split it into several alerts.

Qingpu (SH) and Qidong (JS) both hear a ch 16 carrier off Chongming but are 89 km apart, beyond the
80 km cluster link; Chongming (SH) is close to both. Reports arriving Qingpu, Qidong, Chongming
within one group window used to open two alerts (one per far sensor) that never merged.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from coordination.alerts import InMemoryAlertStore
from coordination.engine import EngineConfig, RulesEngine
from coordination.sensors import SensorInfo
from sdr.scenario import SensorSite, Transmitter
from sdr.sources.sim_world import RealisticWorld
from station_db.repository import StationRepository
from station_db.rules import load_rules

T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
AF_DB_M = 15.0
NOISE_DBM = -114.0
SITES = {
    "SH-QINGPU": SensorSite("SH-QINGPU", "SH", 31.15, 121.12, 15.0, AF_DB_M),
    "JS-QIDONG": SensorSite("JS-QIDONG", "JS", 31.81, 121.66, 15.0, AF_DB_M),
    "SH-CHONGMING": SensorSite("SH-CHONGMING", "SH", 31.62, 121.40, 15.0, AF_DB_M),
}
CH16 = Transmitter("CH16", 31.55, 121.55, 156.8e6, 17.0, "nfm", antenna_height_m=20.0)


def report(engine, sensor_id, t):
    site = SITES[sensor_id]
    p_dbm = RealisticWorld.ideal().field_strength_dbuv_m(CH16, site) - 107.0 - AF_DB_M
    em = {"center_hz": 156.8e6, "peak_hz": 156.8e6, "peak_dbm": p_dbm + 3, "power_dbm": p_dbm,
          "bandwidth_xdb_hz": 11e3, "obw_hz": 11e3, "snr_db": p_dbm - NOISE_DBM,
          "f_lo_hz": 156.7945e6, "f_hi_hz": 156.8055e6}
    info = SensorInfo(site.id, site.province, site.lat, site.lon, site.height_m, AF_DB_M)
    return engine.observe(info, t, [em], NOISE_DBM)


@pytest.fixture
def engine(tmp_path):
    repo = StationRepository(tmp_path / "stations.db")
    yield RulesEngine(repo, load_rules(), InMemoryAlertStore(), config=EngineConfig())
    repo.close()


def test_far_apart_sensors_are_89_km_apart_beyond_the_default_link():
    from station_db.geo import haversine_km

    a, b = SITES["SH-QINGPU"], SITES["JS-QIDONG"]
    assert float(haversine_km(a.lat, a.lon, b.lat, b.lon)) == pytest.approx(89, abs=2)
    assert EngineConfig().cluster_link_km < 89


@pytest.mark.parametrize("order", [("SH-QINGPU", "JS-QIDONG", "SH-CHONGMING"),
                                   ("SH-CHONGMING", "SH-QINGPU", "JS-QIDONG"),
                                   ("JS-QIDONG", "SH-QINGPU", "SH-CHONGMING")])
def test_one_emitter_one_alert_whatever_the_order_of_reports(engine, order):
    events = []
    for i, sid in enumerate(order):
        events += report(engine, sid, T0 + timedelta(seconds=0.2 * i))
    events += engine.tick(T0 + timedelta(seconds=5))
    opened = [e.alert for e in events if e.event == "opened"]
    assert len(opened) == 1  # ch 16 is a safety band: opened provisionally at first sight, then confirmed
    alert = [e.alert for e in events if e.alert.id == opened[0].id][-1]
    assert not alert.provisional and alert.active
    assert {r.sensor_id for r in alert.sensors} == set(SITES)
    # Three levels, no silent sensors known (no sweep coverage reported): the region reaches Jiangsu's
    # waters too, so Shanghai leads the sources and Jiangsu (whose sensor measured the excess) is affected.
    assert alert.provinces_source[0] == "SH" and "JS" in alert.provinces_affected
    assert set(alert.verdicts) == {"unlicensed", "cross_border"}
    err = np.hypot((alert.position.lat - CH16.lat) * 111.2, (alert.position.lon - CH16.lon) * 95.0)
    assert err < 5.0
