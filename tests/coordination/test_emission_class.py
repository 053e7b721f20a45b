"""Measured emission class against the licence's designator: a finding when they contradict."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from engine_testkit import AH_DEEP_SENSORS, AH_DEEP_STATION_POS, NOISE_FLOOR_DBM, T0, emission, make_repo, station

from coordination import protocol
from coordination.alerts import InMemoryAlertStore
from coordination.emission_class import check_class, expected_classes
from coordination.engine import RulesEngine
from dsp.classify import CLASSES
from station_db.rules import load_rules


@pytest.mark.parametrize(("designator", "expected"), [
    ("11K0F3E", {"nfm"}),  # FM telephony, 12.5 kHz channel
    ("180KF8EHF", {"fm_broadcast"}),  # FM sound broadcasting, stereo
    ("7K60FXE", {"2fsk", "4fsk"}),  # DMR digital voice (4-FSK)
    ("16K0F1D", {"2fsk", "4fsk"}),  # FSK telemetry
    ("6K00A3E", {"am"}),  # AM telephony (aeronautical)
    ("100HA1A", {"cw", "ook_ask"}),  # Morse
    ("2K00A1D", {"ook_ask"}),  # on-off keyed data
    ("25K0G7W", {"wideband_digital", "2fsk"}),  # PSK (or GMSK) multichannel digital
    ("8M00W7D", {"wideband_digital", "noise_like"}),  # OFDM-like
    ("0H00N0N", set()),  # not parseable: not judged
    ("2K70J3E", set()),  # SSB telephony: not judged
])
def test_designators_expect_these_classes(designator: str, expected: set[str]) -> None:
    assert expected_classes(designator) == expected


def test_a_contradiction_is_a_finding_only_when_the_classifier_is_sure() -> None:
    assert "measured 2fsk (confidence 0.90)" in (check_class("11K0F3E", "2fsk", 0.9).finding or "")
    assert "expects nfm" in (check_class("11K0F3E", "2fsk", 0.9).finding or "")
    assert check_class("11K0F3E", "2fsk", 0.55).finding is None  # unsure
    assert check_class("11K0F3E", "nfm", 0.99).finding is None  # agrees
    assert check_class("11K0F3E", "unknown", 0.0).finding is None
    assert check_class("2K70J3E", "2fsk", 0.99).finding is None  # designator not judged


def test_the_wire_vocabulary_holds_every_class_the_classifier_returns() -> None:
    assert set(CLASSES) | {"unknown"} == set(protocol.EMISSION_CLASSES)


def _observe(engine: RulesEngine, cls: str | None, confidence: float) -> list:
    rng = np.random.default_rng(17)
    events, t = [], T0
    for _ in range(4):
        for s in AH_DEEP_SENSORS:
            em = emission(s, *AH_DEEP_STATION_POS, erp_dbw=25.0, rng=rng, noise_db=2.0)  # 15 dB over licence
            if em is not None and cls is not None:
                em = {**em, "emission_class": cls, "class_confidence": confidence}
            events += engine.observe(s, t, [em] if em else [], NOISE_FLOOR_DBM, s.antenna_factor_db_m)
        t += timedelta(seconds=5)
        events += engine.tick(t)
    return [e for e in events if e.event == "opened"]


@pytest.mark.parametrize(("cls", "confidence", "finding"), [
    ("4fsk", 0.95, True),  # an FM telephony licence transmitting 4-FSK
    ("nfm", 0.95, False),
    ("4fsk", 0.5, False),
    (None, 0.0, False),  # an older sensor: no class on the wire
])
def test_the_engine_adds_the_class_finding_without_a_verdict(tmp_path, cls, confidence, finding) -> None:
    st = station("AH-PMR-0300", "AH", *AH_DEEP_STATION_POS, erp_dbw=10.0, designator="11K0F3E")
    engine = RulesEngine(make_repo(tmp_path / "st.db", [st]), load_rules(), InMemoryAlertStore())
    [ev] = _observe(engine, cls, confidence)
    assert ev.alert.verdicts == ("licence_violation",)  # the e.r.p.; the class adds no verdict
    assert any(f.startswith("emission class: measured 4fsk") for f in ev.alert.findings) == finding
