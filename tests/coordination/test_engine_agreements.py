"""The rules engine honours what the neighbours agreed: cross_border above the agreed value only, the
agreement quoted; pending/objected/expired as before; secondary yields to primary in who must act.

The Anhui PMR base 15.5 km from Jiangsu (engine_testkit) is predicted at 32.4 dBuV/m (P.1546, 10 %
of time) at the nearest Jiangsu border point against the band's 20 dBuV/m trigger value, and the
Jiangsu sensors hear it (19.0 and 15.7 dBuV/m): without an agreement that is ``cross_border``.
"""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest
from engine_testkit import AH_JS_SENSORS, AH_STATION_POS, T0, make_repo, run, station

from coordination.agreements import review_affected, secondary_yields
from coordination.alerts import InMemoryAlertStore, SensorReading
from coordination.engine import EngineConfig, RulesEngine
from station_db.models import Coordination
from station_db.rules import load_rules

RULES = load_rules()
BAND = RULES.by_name("PMR 400")
PREDICTED_AT_JS_BORDER = 32.43


def agreed(field: float, **kw: object) -> Coordination:
    base: dict[str, object] = dict(neighbour="JS", status="agreed", agreed_field_dbuv_m=field,
                                   reference="AH-JS-2025-007", valid_from=date(2025, 1, 1), valid_to=date(2030, 12, 31))
    base.update(kw)
    return Coordination(**base)  # type: ignore[arg-type]


def engine_with(tmp_path, coordination: tuple[Coordination, ...], **cfg: object) -> RulesEngine:
    st = dataclasses.replace(station("AH-PMR-0042", "AH", *AH_STATION_POS, erp_dbw=10.0), coordination=coordination)
    return RulesEngine(make_repo(tmp_path / "st.db", [st]), RULES, InMemoryAlertStore(),
                       config=EngineConfig(**cfg))  # type: ignore[arg-type]


def opened(events):
    return [e.alert for e in events if e.event == "opened"]


def test_without_agreement_the_trigger_value_raises_cross_border(tmp_path) -> None:
    events, _ = run(engine_with(tmp_path, ()), AH_JS_SENSORS, *AH_STATION_POS, erp_dbw=10.0)
    [a] = opened(events)
    assert a.verdicts == ("cross_border",) and a.provinces_affected == ("JS",)
    assert any(f"predicted {PREDICTED_AT_JS_BORDER:.1f} dBuV/m at the JS border" in f for f in a.findings), a.findings


def test_within_the_agreed_value_nothing_is_raised(tmp_path) -> None:
    engine = engine_with(tmp_path, (agreed(33.0),))
    events, _ = run(engine, AH_JS_SENSORS, *AH_STATION_POS, erp_dbw=10.0)
    assert events == []
    [status] = engine.channel_status()
    assert status["status"] == "licensed" and status["matched_station"] == "AH/AH-PMR-0042"


def test_above_the_agreed_value_raises_it_with_the_agreement_quoted(tmp_path) -> None:
    events, _ = run(engine_with(tmp_path, (agreed(30.0),)), AH_JS_SENSORS, *AH_STATION_POS, erp_dbw=10.0)
    [a] = opened(events)
    assert a.verdicts == ("cross_border",) and a.provinces_affected == ("JS",)
    quoted = [f for f in a.findings if "above the agreement JS agreed 30 dBuV/m at the border (AH-JS-2025-007, "
              "2025-01-01..2030-12-31)" in f]
    assert quoted and "predicted 32.4 dBuV/m at the border, +2.4 dB" in quoted[0], a.findings
    assert a.severity_score == pytest.approx(25.0 + 3.0 * (9 - BAND.priority) + 2.43, abs=0.05)  # excess over agreed


@pytest.mark.parametrize("status", ["pending", "objected", "not_required"])
def test_pending_or_objected_stations_raise_it_as_before(tmp_path, status: str) -> None:
    events, _ = run(engine_with(tmp_path, (Coordination("JS", status, reference="CR-AH-20260101000000-abcdef"),)),
                    AH_JS_SENSORS, *AH_STATION_POS, erp_dbw=10.0)
    [a] = opened(events)
    assert a.provinces_affected == ("JS",)
    assert any(f"coordination with JS {status} (CR-AH-20260101000000-abcdef): the trigger value 20 dBuV/m applies" in f
               for f in a.findings), a.findings


def test_an_expired_agreement_does_not_count(tmp_path) -> None:
    old = agreed(40.0, valid_from=date(2015, 1, 1), valid_to=date(2025, 12, 31))
    events, _ = run(engine_with(tmp_path, (old,)), AH_JS_SENSORS, *AH_STATION_POS, erp_dbw=10.0)
    [a] = opened(events)
    assert a.provinces_affected == ("JS",)
    assert any(f"is not in force on {T0.date()}" in f for f in a.findings), a.findings


def test_outside_its_licence_the_agreement_does_not_cover_the_station(tmp_path) -> None:
    events, _ = run(engine_with(tmp_path, (agreed(60.0),)), AH_JS_SENSORS, *AH_STATION_POS, erp_dbw=25.0)
    [a] = opened(events)
    assert set(a.verdicts) == {"licence_violation", "cross_border"} and a.provinces_affected == ("JS",)
    assert any("covers operation within the licence only" in f for f in a.findings), a.findings


# -- the review on measured levels (pure function) -------------------------------------------------


def reading(province: str, field: float) -> SensorReading:
    return SensorReading(sensor_id=f"{province.lower()}-1", province=province, lat=31.9, lon=118.6,
                         measured_dbuv_m=field, measured_dbm=field - 127.0, predicted_dbuv_m=None,
                         border_limit_dbuv_m=20.0, t_utc=T0)


@pytest.mark.parametrize(("measured", "raised"), [(40.0, False), (45.9, False), (46.1, True), (52.0, True)])
def test_measured_level_against_agreed_value_plus_uncertainty(measured: float, raised: bool) -> None:
    st = dataclasses.replace(station("AH-PMR-0042", "AH", *AH_STATION_POS), coordination=(agreed(40.0),))
    r = review_affected(st, ["JS"], [reading("AH", 60.0), reading("JS", measured)], {}, BAND, T0.date(),
                        within_licence=True, uncertainty_db=6.0)
    assert r.affected == (("JS",) if raised else ())
    if raised:
        assert r.excess_db == pytest.approx(measured - 40.0)
        assert f"measured {measured:.1f} dBuV/m in JS, {measured - 40.0:+.1f} dB (measurement uncertainty 6 dB)" \
            in r.findings[0]
    else:
        assert r.excess_db == 0.0 and "not cross-border for JS" in r.findings[0]


def test_only_the_agreed_neighbour_is_relieved() -> None:
    st = dataclasses.replace(station("JS-PMR-0001", "JS", 31.5, 120.5), coordination=(agreed(40.0, neighbour="SH"),))
    r = review_affected(st, ["ZJ", "SH"], [reading("ZJ", 30.0), reading("SH", 35.0)], {"ZJ": 31.0, "SH": 38.0},
                        BAND, T0.date(), within_licence=True, uncertainty_db=6.0)
    assert r.affected == ("ZJ",) and r.excess_db == pytest.approx(11.0)  # ZJ: 31 predicted - 20 trigger


# -- who must act ------------------------------------------------------------------------------------


def test_secondary_yields_to_primary_in_the_resolution(tmp_path) -> None:
    src = dataclasses.replace(station("AH-PMR-0300", "AH", *AH_STATION_POS, valid_from=date(2018, 6, 1)),
                              allocation="secondary")
    victim = station("JS-PMR-0300", "JS", 32.20, 119.20, valid_from=date(2024, 1, 1))
    engine = RulesEngine(make_repo(tmp_path / "st.db", [src, victim]), RULES, InMemoryAlertStore())
    events, _ = run(engine, AH_JS_SENSORS, *AH_STATION_POS, erp_dbw=10.0)
    [a] = opened(events)
    # Earlier licence, but secondary: it yields to the later primary station.
    assert a.resolution == ("secondary yields to primary: AH station AH-PMR-0300 (secondary) must not interfere "
                            "with JS station JS-PMR-0300 (primary)")


def test_a_secondary_victim_claims_no_protection_and_same_class_falls_back_to_dates() -> None:
    src = station("AH-PMR-0300", "AH", *AH_STATION_POS, valid_from=date(2024, 6, 1))
    sec = dataclasses.replace(station("JS-PMR-0300", "JS", 32.2, 119.2, valid_from=date(2019, 1, 1)),
                              allocation="secondary")
    text, rest = secondary_yields(src, [sec])
    assert text is not None and "JS station JS-PMR-0300 (secondary) claims no protection" in text and rest == []
    prim = station("JS-PMR-0301", "JS", 32.2, 119.2, valid_from=date(2019, 1, 1))
    assert secondary_yields(src, [sec, prim]) == (None, [prim])
