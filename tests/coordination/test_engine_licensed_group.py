"""Licensed traffic of one of several stations is not unlicensed (coordination/licensed_group.py).

Three PMR bases of one channel within 1.5 km of each other share the prior that the emission is licensed
traffic: none reaches the match level alone (each at most about a third), together they are far above it.
The levels come from P.1546 with 6 dB of scatter, as a realistic world gives them.
"""

from __future__ import annotations

import re

import numpy as np
from engine_testkit import AH_DEEP_SENSORS, AH_DEEP_STATION_POS, make_repo, run, station

from coordination.alerts import InMemoryAlertStore
from coordination.engine import RulesEngine
from coordination.licensed_group import LicensedGroup, licensed_group
from station_db.rules import load_rules

RULES = load_rules()


def _three_bases(tmp_path, obw_hz: float, seed: int) -> tuple[list, RulesEngine]:
    lat, lon = AH_DEEP_STATION_POS
    sts = [station("AH-PMR-0300", "AH", lat, lon), station("AH-PMR-0301", "AH", lat + 0.01, lon + 0.008),
           station("AH-PMR-0302", "AH", lat - 0.006, lon + 0.012)]
    engine = RulesEngine(make_repo(tmp_path / f"st{seed}.db", sts), RULES, InMemoryAlertStore())
    events, _ = run(engine, AH_DEEP_SENSORS, lat, lon, erp_dbw=10.0, obw_hz=obw_hz,
                    rng=np.random.default_rng(seed), noise_db=6.0)
    return [e.alert for e in events if e.event == "opened"], engine


def test_co_sited_bases_within_licence_raise_no_alert(tmp_path) -> None:
    for seed in (1, 2, 3, 4):
        opened, engine = _three_bases(tmp_path, 10e3, seed)
        assert opened == [], f"seed {seed}: {[a.verdicts for a in opened]}"
        [status] = engine.channel_status()
        assert status["status"] == "licensed"
        assert status["matched_station"].split("/")[1] in {"AH-PMR-0300", "AH-PMR-0301", "AH-PMR-0302"}


def test_a_fault_of_one_of_them_is_a_violation_naming_the_group(tmp_path) -> None:
    # 16 kHz: over 1.2 x the 11 kHz licence of all three, whichever it is: a violation, never "unlicensed".
    opened, _ = _three_bases(tmp_path, 16e3, 5)
    [a] = opened
    assert a.verdicts == ("licence_violation",)
    [group] = [f for f in a.findings if f.startswith("licensed traffic: one of 3")]
    probs = [float(p) for p in re.findall(r"AH/AH-PMR-030\d \((0\.\d+)\)", group)]
    assert len(probs) == 3 and max(probs) < 0.5 <= sum(probs)  # none alone, all together
    assert a.provinces_source == ("AH",) and a.position is not None and a.position.kind == "station"


def _rival(key: str, prov: str, p: float):
    return (station(key, prov, 31.0, 118.0), p, 0.0, [0.0])


def test_the_group_needs_no_single_match_and_enough_together() -> None:
    a, b, c = _rival("A", "ZJ", 0.30), _rival("B", "JS", 0.25), _rival("C", "ZJ", 0.02)
    assert licensed_group([a, b, c], None, 0.5, 0.05) == LicensedGroup((a, b))  # C under the rival floor
    assert licensed_group([a, b], a[0], 0.5, 0.05) is None  # a station was matched alone
    assert licensed_group([a, c], None, 0.5, 0.05) is None  # 0.30 (+0.02 under the floor) is not enough
    assert licensed_group([a], None, 0.2, 0.05) is None  # one station is a match or nothing
    g = licensed_group([b, a], None, 0.5, 0.05)
    assert g is not None and g.best is a and abs(g.probability - 0.55) < 1e-12
    shares = g.province_shares()
    assert abs(shares["ZJ"] - 0.30 / 0.55) < 1e-12 and abs(shares["JS"] - 0.25 / 0.55) < 1e-12
    assert "ZJ/A (0.30), JS/B (0.25)" in g.finding()
