"""The e.r.p. fits' common bias: learnt from stations within licence, taken out of the power check when asked.

Levels: P.1546 (50 % time) from the testkit's emitter, 0.5 dB of noise, three sensors deep in Anhui; the
network's learnt spread is given (about 5.7 dB), so the accusation bound is about 10.3 dB at z = 3.09.
The network has judged 25 stations whose fits read 3 dB low (a world weaker than the engine's P.1546).
"""

from __future__ import annotations

import numpy as np
import pytest
from engine_testkit import AH_DEEP_SENSORS, AH_DEEP_STATION_POS, learnt_spread, make_repo, run, station

from coordination.alerts import InMemoryAlertStore
from coordination.engine import EngineConfig, RulesEngine
from coordination.spread import ErpBias, NetworkSpread
from station_db.rules import load_rules

RULES = load_rules()


def learnt() -> tuple[NetworkSpread, ErpBias]:
    rng = np.random.default_rng(5)
    spread, bias = learnt_spread(6.0, rng), ErpBias()
    for k in range(25):
        bias.add(f"st{k}", float(rng.normal(-3.0, 1.0)))
    return spread, bias


def play(tmp_path, boost_db: float, correction: bool, sweeps: int = 3) -> tuple[list, RulesEngine]:
    st = station("AH-PMR-0100", "AH", *AH_DEEP_STATION_POS, erp_dbw=10.0)
    spread, bias = learnt()
    engine = RulesEngine(make_repo(tmp_path / "st.db", [st]), RULES, InMemoryAlertStore(),
                         config=EngineConfig(erp_bias_correction=correction), spread=spread, erp_bias=bias)
    events, _ = run(engine, AH_DEEP_SENSORS, *AH_DEEP_STATION_POS, erp_dbw=10.0 + boost_db,
                    rng=np.random.default_rng(3), noise_db=0.5, n=sweeps)
    return [e.alert for e in events if e.event == "opened"], engine


def test_the_fixtures_bias_is_three_db_low_with_a_small_error() -> None:
    est = learnt()[1].estimate()
    assert est is not None and -3.5 < est.median_db < -2.5 and est.se_db < 0.35 and est.n_stations == 25


def test_taking_the_bias_out_establishes_what_the_raw_fit_only_suggests(tmp_path) -> None:
    # one sweep, one judgement: the same levels are judged with and without the correction
    opened, engine = play(tmp_path / "raw", 9.0, correction=False, sweeps=1)
    assert opened == []
    [note] = engine.channel_status()[0]["licence_notes"]
    assert note.startswith("possible excess, not established: AH-PMR-0100's e.r.p. from the levels reads +")
    raw_db = float(note.split("reads ")[1].split(" dB")[0])

    opened, engine = play(tmp_path / "corrected", 9.0, correction=True, sweeps=1)
    [a] = opened
    assert a.verdicts == ("licence_violation",)
    [power] = [f for f in a.findings if f.startswith("measured field ")]
    corrected_db = float(power.split("measured field ")[1].split(" dB")[0])
    est = engine.erp_bias.estimate()
    assert est is not None
    assert corrected_db == pytest.approx(raw_db - est.median_db, abs=0.06)  # the finding's rounding
    assert f"the network's common fit bias {est.median_db:+.1f} dB (+-{est.se_db:.1f}, 25 stations) taken out" in power
    tol_db = float(power.split("tolerance ")[1].split(" dB")[0])
    assert 10.0 < tol_db < 10.8  # the spread's bound, widened in quadrature by 3.09 x the bias's SE (< 0.1 dB)


def test_a_station_established_as_violating_does_not_teach_the_bias_one_within_licence_does(tmp_path) -> None:
    opened, engine = play(tmp_path / "boosted", 16.0, correction=False)
    assert [a.verdicts for a in opened] == [("licence_violation",)]
    assert engine.erp_bias.n_stations == 25 and "AH-PMR-0100" not in dict(engine.erp_bias.to_doc())
    opened, engine = play(tmp_path / "within", 0.0, correction=False)
    assert opened == []
    offset = dict(engine.erp_bias.to_doc())["AH-PMR-0100"]
    assert engine.erp_bias.n_stations == 26 and abs(offset) < 1.0  # type: ignore[arg-type]
