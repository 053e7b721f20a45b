"""Exchange files: every validation error class with its line and field; lossless round trips."""

from __future__ import annotations

import dataclasses
import json
from datetime import date
from pathlib import Path

import pytest

from station_db.exchange import (
    COLUMNS_V1,
    FieldError,
    StationFileError,
    read_stations,
    write_stations,
)
from station_db.models import Station

DATA = Path(__file__).resolve().parents[2] / "station_db" / "data"
BAD = DATA / "bad_stations.csv"
HEADER = ",".join(c for c in COLUMNS_V1 if c != "station_name")  # GOOD_ROW leaves the optional name out
GOOD_ROW = ("JS-T-0001,JS,Test Radio (fictional),land_mobile,151250000,,11K0F3E,10,30,,omni,5,31.30,120.60,"
            "2024-01-01,2028-12-31,active,intermittent")


def errors_of(path: Path, **kw) -> list[FieldError]:
    with pytest.raises(StationFileError) as info:
        read_stations(path, **kw)
    return info.value.errors


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


# Every error class in the shipped bad file: (line, field, part of the message).
BAD_FILE_ERRORS = [
    (3, "tx_freq_hz", "'abc' is not a number"),
    (4, "tx_freq_hz", "20000000 Hz is outside 30 MHz..6 GHz"),
    (5, "emission_designator", "'16KOF3E' is not an emission designator"),
    (6, "lat_deg,lon_deg", "(31.82000, 117.23000) is in AH, 106.8 km from JS (allowed: 5 km)"),
    (7, "valid_to", "licence ends (2025-01-01) before it starts (2027-01-01)"),
    (8, "station_id", "duplicate id 'JS-BAD-0001' (first on line 2)"),
    (9, "service", "'television' is not one of broadcast"),
    (10, "erp_dbw", "95 dBW is outside -40..70 dBW"),
    (11, "valid_from", "'2025/01/01' is not a date YYYY-MM-DD"),
    (12, "azimuth_deg", "400 is outside 0..360 degrees"),
    (13, "azimuth_deg", "pattern 'dir:65' is directional: an azimuth is required"),
    (14, "province", "station belongs to ZJ, but the file is imported for JS"),
    (15, "licensee", "required value is empty"),
    (16, "(row)", "expected 18 fields, found 5"),
    (17, "station_id", "'JS BAD 16': use 1-40 letters"),
    (18, "status", "'revoked' is not one of active, planned, suspended, expired"),
    (18, "occupation", "'sometimes' is not one of continuous, intermittent"),
    (19, "antenna_height_m", "-5 m is outside 0..1000 m"),
    (20, "rx_freq_hz", "7000000000 Hz is outside 30 MHz..6 GHz"),
    (21, "pattern", "pattern 'yagi': use 'omni' or 'dir:BEAMWIDTH_DEG'"),
]


def test_bad_file_reports_every_error_with_line_and_field() -> None:
    errors = errors_of(BAD, province="JS")
    assert len(errors) == len(BAD_FILE_ERRORS)
    for err, (line, field, message) in zip(errors, BAD_FILE_ERRORS):
        assert (err.file, err.line, err.field) == (str(BAD), line, field)
        assert message in err.message, (err, message)


def test_field_error_prints_as_file_line_field_message() -> None:
    err = errors_of(BAD, province="JS")[0]
    assert str(err) == f"{BAD}:3: tx_freq_hz: 'abc' is not a number"


def test_without_importing_province_other_provinces_rows_are_fine() -> None:
    lines = {e.line for e in errors_of(BAD)}
    assert 14 not in lines and 2 not in lines


def test_header_problems(tmp_path: Path) -> None:
    header = HEADER.replace("erp_dbw", "erp_w").replace(",licensee", "")
    row = GOOD_ROW.replace(",Test Radio (fictional)", "")
    errs = errors_of(write(tmp_path, "h.csv", f"{header}\n{row}\n"))
    assert [(e.line, e.field) for e in errs] == [(1, "erp_w"), (1, "licensee"), (1, "erp_dbw")]
    assert "unknown column" in errs[0].message and "required column missing" in errs[1].message


def test_duplicate_column_and_empty_file(tmp_path: Path) -> None:
    errs = errors_of(write(tmp_path, "d.csv", f"{HEADER},status\n{GOOD_ROW},active\n"))
    assert (errs[0].line, errs[0].field, errs[0].message) == (1, "status", "column appears twice in the header")
    errs = errors_of(write(tmp_path, "e.csv", ""))
    assert (errs[0].field, errs[0].message) == ("(header)", "empty file: a header row is required")
    errs = errors_of(write(tmp_path, "n.csv", HEADER + "\n"))
    assert errs[0].message == "no stations in the file"


def test_neither_utf8_nor_gb18030_and_unknown_extension(tmp_path: Path) -> None:
    p = tmp_path / "latin.csv"
    p.write_bytes(HEADER.encode() + b"\n" + GOOD_ROW.replace("Test Radio", "Radio \xff").encode("latin-1") + b"\n")
    (err,) = errors_of(p)
    assert (err.line, err.field) == (2, "(file)")
    assert "neither UTF-8 nor GB18030" in err.message and "0xff" in err.message
    assert "must end in .csv or .json" in errors_of(write(tmp_path, "s.xlsx", ""))[0].message


def test_optional_columns_take_defaults(tmp_path: Path) -> None:
    keep = [c for c in COLUMNS_V1 if c not in ("rx_freq_hz", "azimuth_deg", "pattern", "ground_height_m", "status",
                                            "occupation", "station_name")]
    values = dict(zip(COLUMNS_V1, GOOD_ROW.split(",")))
    text = ",".join(keep) + "\n" + ",".join(values[c] for c in keep) + "\n"
    (s,) = read_stations(write(tmp_path, "o.csv", text))
    assert (s.rx_freq_hz, s.azimuth_deg, s.pattern, s.ground_height_m, s.status, s.occupation) == (
        None, None, "omni", 0.0, "active", "continuous")
    assert s.necessary_bw_hz == 11_000.0 and s.tx_lo_hz == 151_244_500.0


def test_bom_and_quoted_multiline_field_keep_line_numbers(tmp_path: Path) -> None:
    row2 = GOOD_ROW.replace("JS-T-0001", "JS-T-0002").replace("Test Radio (fictional)", '"Two\nLines Radio"')
    bad3 = GOOD_ROW.replace("JS-T-0001", "JS-T-0003").replace("151250000", "1e3")
    p = tmp_path / "b.csv"
    p.write_bytes(("\ufeff" + f"{HEADER}\n{GOOD_ROW}\n{row2}\n{bad3}\n").encode("utf-8"))
    errs = errors_of(p)
    assert [(e.line, e.field) for e in errs] == [(5, "tx_freq_hz")]  # row2 spans lines 3-4


def test_position_near_the_claimed_province_is_accepted(tmp_path: Path) -> None:
    # 2 km inside Anhui from the JS border near Ma'anshan: a JS licence there is plausible (< 5 km).
    near = GOOD_ROW.replace("31.30,120.60", "31.70,118.60")
    far = GOOD_ROW.replace("JS-T-0001", "JS-T-0002").replace("31.30,120.60", "31.82,117.23")
    errs = errors_of(write(tmp_path, "p.csv", f"{HEADER}\n{near}\n{far}\n"))
    assert [(e.line, e.field) for e in errs] == [(3, "lat_deg,lon_deg")]
    assert read_stations(write(tmp_path, "q.csv", f"{HEADER}\n{near}\n"))[0].lat == 31.70


def test_sea_position_is_rejected(tmp_path: Path) -> None:
    row = GOOD_ROW.replace("31.30,120.60", "31.00,123.50")  # East China Sea
    errs = errors_of(write(tmp_path, "s.csv", f"{HEADER}\n{row}\n"))
    assert errs[0].field == "lat_deg,lon_deg" and "outside every province" in errs[0].message


def sample_station(**changes) -> Station:
    s = Station(
        station_id="ZJ-T-0001", province="ZJ", licensee="\u5609\u5174 Port, \"Quoted\" (fictional)",
        service="public_mobile", tx_freq_hz=1805.4e6, rx_freq_hz=1710.4e6, emission_designator="200KG7W",
        necessary_bw_hz=200e3, erp_dbw=27.3, antenna_height_m=31.5, azimuth_deg=120.0, pattern="dir:65",
        ground_height_m=3.25, lat=30.751234, lon=120.756789, valid_from=date(2024, 1, 1),
        valid_to=date(2028, 12, 31), status="active", occupation="continuous",
    )
    return dataclasses.replace(s, **changes)


@pytest.mark.parametrize("suffix", [".csv", ".json"])
def test_round_trip_is_lossless(tmp_path: Path, suffix: str) -> None:
    stations = [
        sample_station(),
        sample_station(station_id="ZJ-T-0002", service="land_mobile", tx_freq_hz=152.375e6, rx_freq_hz=None,
                       emission_designator="11K0F3E", necessary_bw_hz=11e3, azimuth_deg=None, pattern="omni",
                       erp_dbw=7.0, occupation="intermittent", status="planned"),
        sample_station(station_id="ZJ-T-0003", tx_freq_hz=0.1 + 1805.6e6, lat=1 / 3 + 30.5),  # awkward floats
    ]
    path = tmp_path / f"rt{suffix}"
    write_stations(path, stations)
    assert read_stations(path) == stations
    write_stations(tmp_path / f"again{suffix}", read_stations(path))
    assert (tmp_path / f"again{suffix}").read_bytes() == path.read_bytes()


def test_sample_file_round_trips_through_json(tmp_path: Path) -> None:
    stations = read_stations(DATA / "sample_stations.csv")
    write_stations(tmp_path / "s.json", stations)
    assert read_stations(tmp_path / "s.json") == stations


def test_csv_bom_option(tmp_path: Path) -> None:
    write_stations(tmp_path / "b.csv", [sample_station()], bom=True)
    raw = (tmp_path / "b.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfstation_id,")
    assert read_stations(tmp_path / "b.csv") == [sample_station()]
    with pytest.raises(ValueError, match="only for CSV"):
        write_stations(tmp_path / "b.json", [sample_station()], bom=True)


def test_json_errors_carry_the_line_of_the_station(tmp_path: Path) -> None:
    write_stations(tmp_path / "ok.json", [sample_station(), sample_station(station_id="ZJ-T-0002")])
    doc = json.loads((tmp_path / "ok.json").read_text(encoding="utf-8"))
    doc["stations"][1]["erp_dbw"] = "lots"
    doc["stations"][1]["colour"] = "red"
    doc["stations"][0]["tx_freq_hz"] = True
    text = json.dumps(doc, indent=2)  # a different layout: one key per line
    errs = errors_of(write(tmp_path, "bad.json", text))
    lines = text.splitlines()
    line_of_first = lines.index("    {") + 1
    line_of_second = lines.index("    {", line_of_first) + 1
    assert line_of_first == 5
    assert [(e.line, e.field) for e in errs] == [(line_of_first, "tx_freq_hz"), (line_of_second, "colour")]
    doc["stations"][1].pop("colour")
    errs = errors_of(write(tmp_path, "bad2.json", json.dumps(doc, indent=2)))
    assert [(e.line, e.field, e.message) for e in errs][1] == (line_of_second, "erp_dbw", "'lots' is not a number")


def test_json_syntax_and_format_errors(tmp_path: Path) -> None:
    errs = errors_of(write(tmp_path, "a.json", '{"format": "borderwatch-stations",\n "version": 1,\n "stations": [}'))
    assert (errs[0].line, errs[0].field) == (3, "(json)")
    errs = errors_of(write(tmp_path, "b.json", '{"format": "other", "version": 1, "stations": []}'))
    assert errs[0].field == "format"
    errs = errors_of(write(tmp_path, "c.json", '[1]'))
    assert (errs[0].line, errs[0].message) == (1, "each station must be a JSON object")


def test_json_plain_list_is_accepted(tmp_path: Path) -> None:
    write_stations(tmp_path / "ok.json", [sample_station()])
    items = json.loads((tmp_path / "ok.json").read_text(encoding="utf-8"))["stations"]
    assert read_stations(write(tmp_path, "list.json", json.dumps(items))) == [sample_station()]


def test_geojson_export_for_maps(tmp_path: Path) -> None:
    write_stations(tmp_path / "s.geojson", [sample_station()])
    doc = json.loads((tmp_path / "s.geojson").read_text(encoding="utf-8"))
    (feature,) = doc["features"]
    assert doc["type"] == "FeatureCollection"
    assert feature["geometry"] == {"type": "Point", "coordinates": [120.756789, 30.751234]}
    assert feature["properties"]["station_id"] == "ZJ-T-0001"
    assert "export-only" in errors_of(tmp_path / "s.geojson")[0].message
