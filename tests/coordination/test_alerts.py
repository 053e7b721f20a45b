"""Alert values: the documented JSON keys, round trip, validation, topics and the in-memory store."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from coordination.alerts import (
    Alert,
    AlertError,
    AlertEvent,
    AlertStore,
    CandidateStation,
    InMemoryAlertStore,
    Position,
    SensorReading,
)

T0 = datetime(2026, 11, 25, 8, 0, 0, 123456, tzinfo=UTC)

PINNED_KEYS = {
    "id", "event", "state", "verdicts", "severity", "severity_score", "band", "service", "channel_hz",
    "f_center_hz", "bandwidth_hz", "provinces_source", "provinces_affected", "sensors", "position",
    "candidate_stations", "first_seen", "last_seen", "acknowledged_by", "resolved_by", "note", "evidence",
    "rules_version",
}
SENSOR_KEYS = {"sensor_id", "province", "lat", "lon", "measured_dbuv_m", "measured_dbm", "predicted_dbuv_m",
               "border_limit_dbuv_m", "excess_db"}
POSITION_KEYS = {"lat", "lon", "error_km", "semi_major_km", "semi_minor_km", "orientation_deg", "provinces"}
CANDIDATE_KEYS = {"station_id", "province", "tx_freq_hz", "freq_offset_hz", "predicted_dbuv_m", "erp_dbw"}


def make_alert(**changes) -> Alert:
    base = Alert(
        id="20261125T080000-abcdef01", event="opened", state="open", verdicts=("unlicensed", "cross_border"),
        severity="major", severity_score=61.5, band="PMR 400", service="land_mobile", channel_hz=450_012_500.0,
        f_center_hz=450_012_700.0, bandwidth_hz=10_000.0, provinces_source=("ZJ",), provinces_affected=("JS",),
        sensors=(
            SensorReading("zj-1", "ZJ", 30.75, 120.15, 37.6, -89.4, None, 20.0, T0),
            SensorReading("js-1", "JS", 31.0, 120.15, 30.0, -97.0, 25.5, 20.0, T0),
        ),
        position=Position(30.83, 120.25, 6.9, 2.8, 2.2, 123.8, (("ZJ", 0.93), ("JS", 0.07)), "ellipse", 4,
                          eirp_dbw=14.9),
        candidate_stations=(CandidateStation("ZJ-1", "ZJ", 450_012_500.0, 200.0, (("js-1", 25.5), ("zj-1", 40.1)),
                                             10.0, 11_000.0, "licensee", 29.3, 120.9, False, ("too far",)),),
        first_seen=T0, last_seen=T0 + timedelta(seconds=30), rules_version="2026.1",
        findings=("no licensed station explains it",), resolution="unplanned yields to planned",
    )
    return base.evolve(**changes)


def test_to_json_has_every_pinned_key_with_plain_types() -> None:
    doc = make_alert().to_json()
    assert PINNED_KEYS <= set(doc)
    assert SENSOR_KEYS <= set(doc["sensors"][0])
    assert POSITION_KEYS <= set(doc["position"])
    assert CANDIDATE_KEYS <= set(doc["candidate_stations"][0])
    assert doc["verdicts"] == ["unlicensed", "cross_border"]
    assert doc["provinces_source"] == ["ZJ"] and doc["provinces_affected"] == ["JS"]
    assert doc["first_seen"] == "2026-11-25T08:00:00.123456Z"
    assert doc["last_seen"] == "2026-11-25T08:00:30.123456Z"
    assert doc["position"]["provinces"] == {"ZJ": 0.93, "JS": 0.07}
    assert doc["sensors"][1]["excess_db"] == pytest.approx(10.0)
    assert doc["sensors"][0]["predicted_dbuv_m"] is None
    assert doc["candidate_stations"][0]["predicted_dbuv_m"] == {"js-1": 25.5, "zj-1": 40.1}
    assert doc["f_lo_hz"] == pytest.approx(450_007_700.0) and doc["f_hi_hz"] == pytest.approx(450_017_700.0)
    json.dumps(doc, allow_nan=False)  # plain JSON, no NaN


def test_json_round_trip_is_lossless_at_json_precision() -> None:
    a = make_alert(acknowledged_by="js-team", note="on our way", evidence=("iq/abc.sigmf-meta",))
    doc = a.to_json()
    b = Alert.from_json(json.loads(json.dumps(doc)))
    assert b.to_json() == doc
    assert b.position is not None and b.position.province_probabilities == {"ZJ": 0.93, "JS": 0.07}


def test_position_null_round_trips() -> None:
    doc = make_alert(position=None).to_json()
    assert doc["position"] is None
    assert Alert.from_json(doc).position is None


def test_alert_is_immutable_and_evolve_makes_a_new_value() -> None:
    a = make_alert()
    with pytest.raises(AttributeError):
        a.state = "resolved"  # type: ignore[misc]
    b = a.evolve(state="acknowledged", event="acknowledged", acknowledged_by="zj-team")
    assert a.state == "open" and b.state == "acknowledged" and b.id == a.id


def test_topics_cover_source_and_affected_provinces_once() -> None:
    assert make_alert().topics() == ["alert.ZJ", "alert.JS"]
    assert make_alert(provinces_source=("AH",), provinces_affected=("JS", "AH")).topics() == ["alert.AH", "alert.JS"]
    ev = AlertEvent("opened", make_alert())
    assert ev.topics() == ["alert.ZJ", "alert.JS"] and ev.to_json()["event"] == "opened"


@pytest.mark.parametrize(("key", "value", "message"), [
    ("state", "closed", "alert.state"),
    ("event", "deleted", "alert.event"),
    ("severity", "huge", "alert.severity"),
    ("verdicts", ["pirate"], "alert.verdicts"),
    ("first_seen", "yesterday", "alert.first_seen"),
    ("last_seen", "2026-11-25T08:00:00", "alert.last_seen"),
    ("f_center_hz", "450 MHz", "alert.f_center_hz"),
    ("sensors", [{"sensor_id": "x"}], "alert.sensors[0].province"),
    ("sensors", [{**make_alert().to_json()["sensors"][0], "emission_class": "morse", "class_confidence": 0.9}],
     "alert.sensors[0].emission_class"),
    ("sensors", [{**make_alert().to_json()["sensors"][0], "emission_class": "nfm", "class_confidence": 1.5}],
     "alert.sensors[0].class_confidence"),
])
def test_from_json_names_the_bad_key(key: str, value: object, message: str) -> None:
    doc = make_alert().to_json()
    doc[key] = value
    with pytest.raises(AlertError, match=message.replace("[", r"\[").replace("]", r"\]")):
        Alert.from_json(doc)


def test_from_json_rejects_non_object() -> None:
    with pytest.raises(AlertError, match="alert must be an object"):
        Alert.from_json(["not", "an", "alert"])


def test_in_memory_store_filters_by_state_and_province() -> None:
    store = InMemoryAlertStore()
    assert isinstance(store, AlertStore)
    a = make_alert(id="a")
    b = make_alert(id="b", provinces_source=("AH",), provinces_affected=("JS",), first_seen=T0 + timedelta(1))
    c = make_alert(id="c", state="resolved", event="resolved", provinces_source=("SH",), provinces_affected=())
    for x in (a, b, c):
        store.save(x)
    assert [x.id for x in store.load_active()] == ["a", "b"]
    assert [x.id for x in store.list()] == ["a", "c", "b"]  # oldest first
    assert [x.id for x in store.list(state="resolved")] == ["c"]
    assert [x.id for x in store.list(province="JS")] == ["a", "b"]
    assert [x.id for x in store.list(state="open", province="AH")] == ["b"]
    assert store.get("c") is c and store.get("zzz") is None
    store.save(a.evolve(state="resolved", event="resolved"))
    assert [x.id for x in store.load_active()] == ["b"]
    with pytest.raises(AlertError, match="state filter"):
        store.list(state="bogus")
