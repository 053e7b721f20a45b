"""A licensed sector antenna (public mobile, ``dir:65``) is judged through its filed pattern.

The sample data's public-mobile bases radiate their licensed e.r.p. in a 65 degree main beam and some 20 dB
less behind. The realistic world gives the transmitter a real antenna (its beam 22 dB down behind); the
engine predicts every sensor's field and weighs every silence through the licence's pattern. Judged as
omnidirectional, the sensors behind the sector hear it 20 dB weaker than predicted, or not at all, and the
base's own traffic was called unlicensed on every seed.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from engine_testkit import demo_sites, final_alerts, make_repo, realistic_sweeps

from borderwatch.demo import sample_stations_path
from coordination import prediction
from coordination.alerts import InMemoryAlertStore
from coordination.engine import RulesEngine
from sdr.scenario import Transmitter
from sdr.sources.sim_world import RealisticWorld
from station_db.exchange import load_station_file
from station_db.rules import load_rules

RULES = load_rules()
SITES, INFOS = demo_sites()
BASE = next(s for s in load_station_file(sample_stations_path()).stations if s.station_id == "ZJ-MOB-0032")


def test_the_filed_pattern_sets_the_prediction_towards_each_point() -> None:
    assert BASE.pattern == "dir:65" and BASE.azimuth_deg == 140.0
    d = 0.05  # about 5 km: straight along the beam, across it, behind it
    ahead = (BASE.lat - d * np.cos(np.radians(40.0)), BASE.lon + d * np.sin(np.radians(40.0)))
    loss = prediction.antenna_loss_db(BASE, [ahead[0], BASE.lat + d, BASE.lat + d * 0.7],
                                      [ahead[1], BASE.lon, BASE.lon - d * 0.7])
    assert loss[0] < 0.5 and loss[1] == pytest.approx(20.0) and loss[2] == pytest.approx(20.0)
    omni = dataclasses.replace(BASE, pattern="omni")
    assert prediction.antenna_loss_db(omni, [BASE.lat + d], [BASE.lon]).tolist() == [0.0]
    band = RULES.band_for(BASE.tx_freq_hz)
    assert (prediction.predict_at_point_dbuv_m(omni, BASE.lat + d, BASE.lon, 10.0, band)
            - prediction.predict_at_point_dbuv_m(BASE, BASE.lat + d, BASE.lon, 10.0, band)) == pytest.approx(20.0)


def _judge(tmp_path, filed, seed: int) -> tuple[list, int]:
    engine = RulesEngine(make_repo(tmp_path / f"{filed.pattern}-{seed}.db", [filed]), RULES, InMemoryAlertStore())
    tx = Transmitter(id=BASE.station_id, lat=BASE.lat, lon=BASE.lon, freq_hz=BASE.tx_freq_hz, erp_dbw=BASE.erp_dbw,
                     modulation="nfm", antenna_height_m=prediction.station_heff_m(BASE), azimuth_deg=143.0,
                     beamwidth_deg=60.0, front_to_back_db=22.0)  # the real antenna, a little off the filed one
    heard: set[str] = set()
    events = realistic_sweeps(engine, RealisticWorld(seed=seed).with_shadowing(6.0), SITES, INFOS, [tx],
                              RULES.band_for(BASE.tx_freq_hz), seed=seed, heard=heard)
    return final_alerts(events), len(heard)


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_a_sector_bases_own_traffic_raises_no_alert(tmp_path, seed) -> None:
    alerts, n_heard = _judge(tmp_path, BASE, seed)
    assert n_heard >= 3 and alerts == [], [a.verdicts for a in alerts]
    # the same licence filed omnidirectional (the engine before it read patterns): an alert on licensed traffic
    alerts, _ = _judge(tmp_path, dataclasses.replace(BASE, pattern="omni"), seed)
    assert len(alerts) == 1 and "unlicensed" in alerts[0].verdicts
