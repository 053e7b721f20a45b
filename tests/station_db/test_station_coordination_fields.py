"""Coordination status and primary/secondary allocation in the exchange format and the database.

Round trips of the new fields (CSV and JSON), files of the first format version (they still import,
and an import without the coordination column keeps what was recorded), validation errors with
file:line:field, and the schema migration that keeps a version-2 database's stations.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from datetime import date
from pathlib import Path

import pytest

from station_db.backend import Migration, migrate, open_database
from station_db.exchange import (
    COLUMNS_V1,
    FieldError,
    StationFileError,
    format_coordination,
    load_station_file,
    parse_coordination,
    read_stations,
    station_record,
    write_stations,
)
from station_db.models import Coordination, Station
from station_db.repository import StationRepository
from station_db.schema import MIGRATIONS, SCHEMA_VERSION

AGREED_JS = Coordination("JS", "agreed", 52.5, "SH-JS-2024-017", date(2024, 3, 1), date(2034, 2, 28))
PENDING_ZJ = Coordination("ZJ", "pending", reference="CR-20260101-0001")


def station(**kw: object) -> Station:
    base = dict(
        station_id="SH-T-0001", province="SH", licensee="Test FM (fictional)", service="broadcast",
        tx_freq_hz=98.1e6, rx_freq_hz=None, emission_designator="180KF3E", necessary_bw_hz=180_000.0,
        erp_dbw=30.0, antenna_height_m=120.0, azimuth_deg=None, pattern="omni", ground_height_m=4.0,
        lat=31.10, lon=121.20, valid_from=date(2024, 1, 1), valid_to=date(2034, 12, 31),
        allocation="secondary", coordination=(AGREED_JS, PENDING_ZJ),
    )
    base.update(kw)
    return Station(**base)  # type: ignore[arg-type]


def errors_of(path: Path) -> list[FieldError]:
    with pytest.raises(StationFileError) as info:
        read_stations(path)
    return info.value.errors


@pytest.mark.parametrize("suffix", [".csv", ".json"])
def test_new_fields_round_trip(tmp_path: Path, suffix: str) -> None:
    stations = [station(), station(station_id="SH-T-0002", allocation="primary", coordination=())]
    path = tmp_path / f"out{suffix}"
    write_stations(path, stations)
    assert read_stations(path) == stations
    assert load_station_file(path).coordination_given


def test_csv_cell_syntax() -> None:
    text = format_coordination((AGREED_JS, PENDING_ZJ))
    assert text == "JS:agreed:52.5:SH-JS-2024-017:2024-03-01:2034-02-28;ZJ:pending:CR-20260101-0001"
    assert parse_coordination(text, "SH") == (AGREED_JS, PENDING_ZJ)
    assert parse_coordination(" ZJ:not_required ; JS:objected ", "SH") == (
        Coordination("JS", "objected"), Coordination("ZJ", "not_required"))  # sorted by neighbour


def test_json_is_version_2_with_a_list_of_objects(tmp_path: Path) -> None:
    path = tmp_path / "out.json"
    write_stations(path, [station()])
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert doc["version"] == 2
    assert doc["stations"][0]["coordination"][0] == {
        "neighbour": "JS", "status": "agreed", "agreed_field_dbuv_m": 52.5, "reference": "SH-JS-2024-017",
        "valid_from": "2024-03-01", "valid_to": "2034-02-28"}


def test_version_1_json_still_imports(tmp_path: Path) -> None:
    rec = {k: v for k, v in station_record(station()).items() if k in COLUMNS_V1}
    path = tmp_path / "old.json"
    path.write_text(json.dumps({"format": "borderwatch-stations", "version": 1, "stations": [rec]}), encoding="utf-8")
    got = load_station_file(path)
    assert got.stations == [station(allocation="primary", coordination=())]
    assert not got.coordination_given


def test_version_1_json_refuses_version_2_fields(tmp_path: Path) -> None:
    rec = station_record(station())
    path = tmp_path / "old.json"
    path.write_text(json.dumps({"format": "borderwatch-stations", "version": 1, "stations": [rec]}), encoding="utf-8")
    errs = errors_of(path)
    assert {e.field for e in errs} == {"allocation", "coordination"}
    assert all("write version 2" in e.message for e in errs)


def test_old_csv_without_the_new_columns_imports(tmp_path: Path) -> None:
    path = tmp_path / "old.csv"
    write_stations(path, [station()])
    lines = path.read_text(encoding="utf-8").splitlines()
    cut = [",".join(line.split(",")[: len(COLUMNS_V1)]) for line in lines]
    path.write_text("\n".join(cut) + "\n", encoding="utf-8")
    got = load_station_file(path)
    assert got.stations == [station(allocation="primary", coordination=())]
    assert not got.coordination_given


BAD_CASES = [
    ("JS:agreed:52:REF", "agreed needs NEIGHBOUR:agreed:FIELD_DBUV_M:REFERENCE:VALID_FROM:VALID_TO"),
    ("JS:agreed:high:REF:2024-01-01:2025-01-01", "'high' is not a number"),
    ("JS:agreed:150:REF:2024-01-01:2025-01-01", "outside -40..120"),
    ("JS:agreed:50:REF:2025-01-01:2024-01-01", "ends (2024-01-01) before it starts (2025-01-01)"),
    ("JS:agreed:50:REF:2025-13-01:2026-01-01", "'2025-13-01' is not a date"),
    ("JS:agreed:50:bad ref:2024-01-01:2025-01-01", "reference 'bad ref'"),
    ("SH:not_required", "not coordinated with its own province"),
    ("XX:pending", "neighbour 'XX' is not one of SH, JS, ZJ, AH"),
    ("JS:maybe", "status 'maybe' is not one of agreed, not_required, pending, objected"),
    ("JS:pending;JS:objected", "neighbour JS appears twice"),
    ("JS:pending:REF:extra", "pending takes at most a reference"),
    ("AH:not_required", "AH shares no border with SH"),
]


@pytest.mark.parametrize(("cell", "message"), BAD_CASES)
def test_bad_coordination_cells_name_line_and_field(tmp_path: Path, cell: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    write_stations(path, [station(station_id="SH-T-0001", coordination=()),
                          station(station_id="SH-T-0002", coordination=())])
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[2] = lines[2].rstrip(",") + "," + cell  # the coordination cell is the last one
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    errs = errors_of(path)
    assert [(e.line, e.field) for e in errs] == [(3, "coordination")]
    assert message in errs[0].message, errs[0].message
    assert str(errs[0]).startswith(f"{path}:3: coordination: ")


def test_bad_allocation_is_named(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    rec = station_record(station(coordination=()))
    rec["allocation"] = "tertiary"
    path.write_text(json.dumps({"format": "borderwatch-stations", "version": 2, "stations": [rec]}), encoding="utf-8")
    errs = errors_of(path)
    assert [(e.line, e.field) for e in errs] == [(1, "allocation")]


def test_json_status_without_agreement_refuses_a_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    rec = station_record(station(coordination=()))
    rec["coordination"] = [{"neighbour": "JS", "status": "pending", "agreed_field_dbuv_m": 50}]
    path.write_text(json.dumps({"format": "borderwatch-stations", "version": 2, "stations": [rec]}), encoding="utf-8")
    (err,) = errors_of(path)
    assert err.field == "coordination" and "only go with status agreed" in err.message


# -- database -------------------------------------------------------------------------------------


def test_repository_keeps_coordination_when_the_file_has_none(tmp_path: Path) -> None:
    with StationRepository(tmp_path / "st.sqlite") as repo:
        repo.import_stations([station()], "SH", "a.csv", "h1")
        assert repo.get("SH", "SH-T-0001") == station()
        bare = station(coordination=())
        report = repo.import_stations([bare], "SH", "licensing.csv", "h2", coordination_given=False)
        assert (report.inserted, report.updated, report.unchanged) == (0, 0, 1)
        assert repo.get("SH", "SH-T-0001") == station()
        report = repo.import_stations([bare], "SH", "b.csv", "h3")  # the column given, empty: cleared
        assert report.updated == 1
        assert repo.get("SH", "SH-T-0001") == bare


def test_set_coordination_before_the_station_exists(tmp_path: Path) -> None:
    with StationRepository(tmp_path / "st.sqlite") as repo:
        repo.set_coordination("SH", "SH-T-0001", [AGREED_JS])
        assert repo.coordination_of("SH", "SH-T-0001") == (AGREED_JS,)
        repo.import_stations([station(coordination=())], "SH", "lic.csv", "h", coordination_given=False)
        assert repo.get("SH", "SH-T-0001").coordination == (AGREED_JS,)  # type: ignore[union-attr]
        repo.set_coordination("SH", "SH-T-0001", [PENDING_ZJ, dataclasses.replace(AGREED_JS, agreed_field_dbuv_m=50.0)])
        got = repo.get("SH", "SH-T-0001")
        assert got is not None and got.coordination_with("JS").agreed_field_dbuv_m == 50.0  # type: ignore[union-attr]
        assert [s.station_id for s in repo.stations_overlapping(98.0e6, 98.2e6)] == ["SH-T-0001"]
        assert repo.stations_overlapping(98.0e6, 98.2e6)[0].coordination == got.coordination
        repo.clear_coordination("SH", "SH-T-0001", "ZJ")
        assert repo.coordination_of("SH", "SH-T-0001") == (dataclasses.replace(AGREED_JS, agreed_field_dbuv_m=50.0),)


def test_migration_from_version_2_keeps_stations(tmp_path: Path) -> None:
    path = tmp_path / "v2.sqlite"
    db = open_database(str(path))
    migrate(db, "stations", [Migration(tuple(m)) for m in MIGRATIONS[:2]])
    db.execute("INSERT INTO provinces (code, name, member) VALUES ('SH', 'Shanghai', 1)")
    db.execute(
        "INSERT INTO stations (province, station_id, licensee, service, tx_freq_hz, rx_freq_hz, emission_designator, "
        "necessary_bw_hz, tx_lo_hz, tx_hi_hz, erp_dbw, antenna_height_m, azimuth_deg, pattern, ground_height_m, lat, "
        "lon, valid_from, valid_to, status, occupation, station_name) VALUES ('SH', 'SH-OLD-1', 'Old (fictional)', "
        "'broadcast', 98100000, NULL, '180KF3E', 180000, 98010000, 98190000, 30, 120, NULL, 'omni', 4, 31.1, 121.2, "
        "'2024-01-01', '2034-12-31', 'active', 'continuous', '老台')")
    db.close()
    with StationRepository(path) as repo:
        old = repo.get("SH", "SH-OLD-1")
        assert old is not None and old.station_name == "老台"
        assert (old.allocation, old.coordination) == ("primary", ())
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
