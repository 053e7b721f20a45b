"""Licensed stations with power faults and within their licence, in the realistic world (6-8 dB).

A boosted station is far stronger than any unknown emitter the localiser assumes (a 40 dBW
broadcaster +17 dB is 57 dBW): it must still be one alert, matched to the station, with a power
violation; a station within its licence heard by far sensors (the lucky ones: only sensors whose
shadowing lifted the level over their detection limit report it) must not read as boosted.
"""

from __future__ import annotations

import pytest
from engine_testkit import demo_sites, final_alerts, make_repo, realistic_sweeps, station

from coordination import prediction
from coordination.alerts import InMemoryAlertStore
from coordination.engine import EngineConfig, RulesEngine
from sdr.scenario import Transmitter
from sdr.sources.sim_world import RealisticWorld
from station_db.rules import load_rules

RULES = load_rules()
SITES, INFOS = demo_sites()
# Yixing, west of Lake Tai: a 40 dBW FM broadcaster on a 90 m mast (the sample data's JS-FM-0004).
YIXING_FM = station("JS-FM-T004", "JS", 31.35493, 119.90383, tx_freq_hz=89.1e6, erp_dbw=40.0,
                    necessary_bw_hz=180e3, antenna_height_m=90.0, ground_height_m=9.0, service="broadcast",
                    designator="180KF3E")
# Hefei: a 30 dBW GSM-900 base station, 25 m mast, > 100 km from the other provinces.
HEFEI_GSM = station("AH-MOB-T005", "AH", 31.85797, 117.34045, tx_freq_hz=944.0e6, erp_dbw=30.0,
                    necessary_bw_hz=200e3, antenna_height_m=25.0, ground_height_m=18.0, service="public_mobile",
                    designator="200KG7W")


def _play(tmp_path, st, boost_db: float, shadowing_db: float, seed: int) -> list:
    engine = RulesEngine(make_repo(tmp_path / "st.db", [st]), RULES, InMemoryAlertStore(), config=EngineConfig())
    tx = Transmitter(id=f"tx-{st.station_id}", lat=st.lat, lon=st.lon, freq_hz=st.tx_freq_hz, erp_dbw=st.erp_dbw,
                     modulation="nfm", erp_boost_db=boost_db, antenna_height_m=prediction.station_heff_m(st))
    band = RULES.band_for(st.tx_freq_hz)
    world = RealisticWorld(seed=seed).with_shadowing(shadowing_db)
    return final_alerts(realistic_sweeps(engine, world, SITES, INFOS, [tx], band, seed=seed,
                                         obw_hz=0.9 * st.necessary_bw_hz))


@pytest.mark.parametrize("shadowing_db", [6.0, 8.0])
@pytest.mark.parametrize("st", [YIXING_FM, HEFEI_GSM], ids=["fm-yixing", "gsm-hefei"])
def test_a_boosted_station_heard_far_beyond_any_plausible_emitter_is_one_alert_and_a_violation(
        tmp_path, st, shadowing_db) -> None:
    # +20 dB: 60 dBW / 50 dBW, far beyond the 36 dBW an unknown emitter may have. The far sensor groups
    # used to be judged a second emitter (two alerts, one of them "unlicensed").
    for seed in (1, 2, 3):
        alerts = _play(tmp_path / f"{seed}", st, 20.0, shadowing_db, seed)
        assert len(alerts) == 1, [(a.verdicts, [s.sensor_id for s in a.sensors]) for a in alerts]
        [a] = alerts
        assert a.matched_station == f"{st.province}/{st.station_id}"
        assert "unlicensed" not in a.verdicts
        # One or two levels scattered by 8-10 dB cannot prove +20 dB. Three can, or, before the network has
        # learnt its spread (a fresh engine here), read as a possible excess the accusation level (0.1 %)
        # does not establish (seed 2 at 6 dB: +13.2 dB of three sensors, 14.4 dB needed): a finding.
        if len(a.sensors) >= 3:
            assert "licence_violation" in a.verdicts or any(
                f.startswith(f"possible excess, not established: {st.station_id}") for f in a.findings), a.findings


@pytest.mark.parametrize("shadowing_db", [6.0, 8.0])
def test_a_broadcaster_within_licence_heard_by_far_sensors_is_no_power_violation(tmp_path, shadowing_db) -> None:
    # Within licence the far sensors that report it are those the shadowing favoured; the silent ones
    # hold the e.r.p. estimate at the licence (a median of heard minus predicted read +6..9 dB here).
    for seed in range(4):
        for a in _play(tmp_path / f"{seed}", YIXING_FM, 0.0, shadowing_db, seed):
            assert a.matched_station == "JS/JS-FM-T004"
            assert "licence_violation" not in a.verdicts and "unlicensed" not in a.verdicts, a.findings
