"""The wire protocol: every message round-trips, and hostile frames are rejected with a reason."""

from __future__ import annotations

import json

import numpy as np
import pytest

from coordination import protocol as p

T = "2026-11-25T12:00:00.000001Z"


def _roundtrip(msg: p.Message) -> p.Message:
    return p.decode(msg.to_frames())


def test_spectrum_roundtrip_keeps_values_and_axis() -> None:
    power = np.linspace(-120, -40, 4096, dtype=np.float32)
    msg = p.Spectrum("kunshan-1", 7, T, profile="pmr400", f_start_hz=406.1e6, f_step_hz=3125.0,
                     power_dbm=power, noise_floor_dbm=-118.5, threshold_dbm=-108.5)
    back = _roundtrip(msg)
    assert isinstance(back, p.Spectrum)
    np.testing.assert_array_equal(back.power_dbm, power)
    assert back.freqs_hz[1] - back.freqs_hz[0] == 3125.0
    assert back.freqs_hz[-1] == pytest.approx(406.1e6 + 4095 * 3125.0)
    assert (back.sensor_id, back.seq, back.t_utc) == ("kunshan-1", 7, T)


def test_every_message_type_roundtrips() -> None:
    prof = p.MonitoringProfile("fm", 87.5e6, 108e6, 10e3)
    msgs = [
        p.Hello("s1", 0, T, province="JS", lat=31.38, lon=120.98, capabilities=("iq",)),
        p.Emissions("s1", 1, T, emissions=({k: 1.5 for k in p.EMISSION_FIELDS},)),
        p.Occupancy("s1", 2, T, t_start_utc=T, t_end_utc=T, revisits=60, fbo=0.25,
                    channel_centers_hz=np.array([1e8, 1.002e8]), fco=np.array([0.1, 0.9], np.float32)),
        p.Heartbeat("s1", 3, T, health={"spool_depth": 12.0}),
        p.Evidence("s1", 4, T, capture_id="cap-1", chunk_index=0, chunk_count=2, meta={"a": 1}, data=b"\x01" * 10),
        p.Ack("server", 0, T, acked=(1, 2, 3)),
        p.ProfileMsg("server", 1, T, profiles=(prof,)),
        p.Command("server", 2, T, command_id="c1", action="capture_iq",
                  params={"duration_s": 1.0, "center_hz": 100.1e6}),
        p.AlertMsg("server", 3, T, alert={"id": "A1", "event": "opened", "state": "open"}),
        p.Request("console", 0, T, op="alerts", args={"state": "open"}),
        p.Reply("server", 0, T, result={"n": 1}, arrays=(np.ones(5, np.float32),)),
    ]
    for m in msgs:
        back = _roundtrip(m)
        assert type(back) is type(m)
        assert back.to_frames() == m.to_frames()


@pytest.mark.parametrize(
    ("frames", "reason"),
    [
        ([b"spectrum"], "frames"),
        ([b"nonsense", b"{}"], "type"),
        ([b"heartbeat", b"\xff\xfe"], "header_json"),
        ([b"heartbeat", b"[1,2]"], "header_json"),
        ([b"heartbeat", json.dumps({"v": 99, "sensor_id": "s", "seq": 1, "t_utc": T}).encode()], "version"),
        ([b"heartbeat", json.dumps({"v": 1, "sensor_id": "s", "seq": -1, "t_utc": T}).encode()], "field"),
        ([b"heartbeat", json.dumps({"v": 1, "sensor_id": "../etc", "seq": 1, "t_utc": T}).encode()], "field"),
        ([b"heartbeat", json.dumps({"v": 1, "sensor_id": "s", "seq": 1, "t_utc": "yesterday"}).encode()], "field"),
        ([b"heartbeat", b"x" * (p.MAX_HEADER_BYTES + 1)], "size"),
    ],
)
def test_bad_frames_are_rejected_with_a_reason(frames: list[bytes], reason: str) -> None:
    with pytest.raises(p.ProtocolError) as info:
        p.decode(frames)
    assert info.value.reason == reason


def test_spectrum_payload_must_match_its_header() -> None:
    msg = p.Spectrum("s1", 1, T, f_start_hz=1e8, f_step_hz=1e3, power_dbm=np.zeros(16, np.float32))
    frames = msg.to_frames()
    with pytest.raises(p.ProtocolError) as info:
        p.decode([*frames[:2], frames[2][:-4]])
    assert info.value.reason == "size"
    nan = np.full(16, np.nan, np.float32).tobytes()
    with pytest.raises(p.ProtocolError) as info:
        p.decode([*frames[:2], nan])
    assert info.value.reason == "field"


def test_allowed_types_filter_rejects_server_only_messages_from_sensors() -> None:
    frames = p.Ack("server", 0, T, acked=(1,)).to_frames()
    with pytest.raises(p.ProtocolError) as info:
        p.decode(frames, allowed=[b"spectrum", b"hello"])
    assert info.value.reason == "type"


def test_utc_text_is_fixed_width_z_and_converts_other_zones():
    from datetime import UTC, datetime, timedelta, timezone

    beijing = timezone(timedelta(hours=8))
    assert p.format_utc(datetime(2026, 12, 3, 21, 5, 7, 42, tzinfo=beijing)) == "2026-12-03T13:05:07.000042Z"
    assert p.format_epoch_utc(1_700_000_000.25) == "2023-11-14T22:13:20.250000Z"
    t = datetime(2026, 1, 2, 3, 4, 5, 600_000, tzinfo=UTC)
    assert p.parse_utc(p.format_utc(t)) == t


def test_utc_text_refuses_a_naive_time():
    from datetime import datetime

    with pytest.raises(ValueError, match="naive datetime"):
        p.format_utc(datetime(2026, 12, 3, 13, 0))


@pytest.mark.parametrize("text,problem", [("2026-12-03T13:00:00", "has no timezone"), ("yesterday", "not ISO-8601"),
                                          (1764766800, "must be an ISO-8601 string")])
def test_one_time_reader_for_the_wire_the_alerts_and_the_cases(text, problem) -> None:
    """The same text means the same instant everywhere, and each reader refuses the same texts in its own error."""
    from datetime import datetime, timedelta, timezone

    from coordination.alerts import AlertError
    from coordination.alerts import parse_time as alert_time
    from coordination.cases import CaseError
    from coordination.cases import parse_time as case_time

    good = "2026-12-03T21:00:00.5+08:00"
    want = datetime(2026, 12, 3, 13, 0, 0, 500_000, tzinfo=timezone(timedelta(0)))
    assert p.parse_utc(good) == alert_time(good, "first_seen") == case_time(good, "event.t_utc") == want
    with pytest.raises(p.ProtocolError, match=f"t_utc.*{problem}"):
        p.parse_utc(text)
    with pytest.raises(AlertError, match=f"alert.first_seen.*{problem}"):
        alert_time(text, "first_seen")
    with pytest.raises(CaseError, match=f"event.t_utc.*{problem}"):
        case_time(text, "event.t_utc")


def test_emissions_carry_an_optional_class_and_confidence() -> None:
    plain = {k: 1.5 for k in p.EMISSION_FIELDS}
    classed = {**plain, "emission_class": "2fsk", "class_confidence": 0.83}
    back = _roundtrip(p.Emissions("s1", 1, T, emissions=(plain, classed)))
    assert isinstance(back, p.Emissions)
    assert back.emissions[0] == plain  # an older sender's emission stays as it was
    assert back.emissions[1]["emission_class"] == "2fsk" and back.emissions[1]["class_confidence"] == 0.83


@pytest.mark.parametrize(("extra", "detail"), [
    ({"emission_class": "dsb", "class_confidence": 0.5}, "emission_class 'dsb' unknown"),
    ({"emission_class": "cw", "class_confidence": 1.5}, "class_confidence=1.5 outside"),
    ({"emission_class": "cw"}, "class_confidence"),
    ({"class_confidence": 0.5}, "emission_class"),
    ({"emission_class": 7, "class_confidence": 0.5}, "emission_class must be a string"),
])
def test_a_bad_emission_class_is_refused_naming_the_field(extra: dict, detail: str) -> None:
    header = {"v": 1, "sensor_id": "s1", "seq": 1, "t_utc": T, "profile": "", "spectrum_seq": None,
              "noise_floor_dbm": -120.0, "antenna_factor_db_m": 0.0,
              "emissions": [{**{k: 1.5 for k in p.EMISSION_FIELDS}, **extra}]}
    with pytest.raises(p.ProtocolError, match=detail) as info:
        p.decode([b"emissions", json.dumps(header).encode()])
    assert info.value.reason == "field"
