"""Measured emission class against the licence's designator: a finding when they contradict."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from engine_testkit import AH_DEEP_SENSORS, AH_DEEP_STATION_POS, NOISE_FLOOR_DBM, T0, emission, make_repo, station

from coordination import protocol
from coordination.alerts import Alert, InMemoryAlertStore
from coordination.emission_class import check_class, expected_classes, target_is_fm
from coordination.engine import RulesEngine
from coordination.tdoa_orders import target_fm_of
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


FM, QPSK = ("fm_broadcast", 0.7), ("wideband_digital", 0.7)


@pytest.mark.parametrize(("sights", "fm"), [
    ([FM, FM, FM], True),  # FM broadcast as live sensors name it (spectrum only: 0.7 at most)
    ([("nfm", 0.9), ("nfm", 0.55), ("unknown", 0.0)], True),  # narrowband FM; unknown does not vote
    ([QPSK, QPSK, QPSK], False),  # a wideband data carrier
    ([("2fsk", 0.95)] * 3, False),  # FSK dwells on tones: its envelope cannot be read across the band
    # a QPSK carrier one sensor near its limit misreads (dev seed 7703): the unsure others still say no
    ([FM, ("wideband_digital", 0.52), ("wideband_digital", 0.52), ("wideband_digital", 0.53)], False),
    ([FM, FM, ("wideband_digital", 0.45)], False),  # mixed: a majority is not enough
    ([("fm_broadcast", 0.55), ("fm_broadcast", 0.5)], False),  # FM, but no sensor sure of it
    ([("unknown", 0.0)] * 3, False),
    ([(None, None), (None, None), (None, None)], False),  # older sensors: no class on the wire
    ([], False),
])
def test_the_target_is_fm_only_when_every_sensor_that_named_a_class_named_fm(sights, fm) -> None:
    assert target_is_fm(sights) is fm


def test_an_alerts_sensors_carry_their_measured_class_to_the_tdoa_round(tmp_path) -> None:
    st = station("AH-PMR-0300", "AH", *AH_DEEP_STATION_POS, erp_dbw=10.0, designator="11K0F3E")
    engine = RulesEngine(make_repo(tmp_path / "st.db", [st]), load_rules(), InMemoryAlertStore())
    [ev] = _observe(engine, "nfm", 0.65)
    doc = ev.alert.to_json()
    assert {(r["emission_class"], r["class_confidence"]) for r in doc["sensors"]} == {("nfm", 0.65)}
    again = Alert.from_json(doc).to_json()  # what the store keeps and the API's tdoa_locate reads back
    assert again["sensors"] == doc["sensors"] and target_fm_of(again)

    engine = RulesEngine(make_repo(tmp_path / "st2.db", [st]), load_rules(), InMemoryAlertStore())
    [old] = _observe(engine, None, 0.0)  # older sensors send no class: the round is not told FM
    assert "emission_class" not in old.alert.to_json()["sensors"][0] and not target_fm_of(old.alert.to_json())
