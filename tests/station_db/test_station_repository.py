"""Station repository on real SQLite files: atomic, idempotent, province-scoped imports; queries."""

from __future__ import annotations

import dataclasses
import sqlite3
from datetime import date
from pathlib import Path

import pytest

from station_db.exchange import read_stations
from station_db.models import Station
from station_db.repository import ImportRejectedError, StationRepository
from station_db.rules import load_rules
from station_db.schema import SCHEMA_VERSION, SchemaError

SAMPLE = Path(__file__).resolve().parents[2] / "station_db" / "data" / "sample_stations.csv"


@pytest.fixture(scope="module")
def sample() -> list[Station]:
    return read_stations(SAMPLE)


@pytest.fixture
def repo(tmp_path: Path):
    with StationRepository(tmp_path / "db" / "stations.sqlite") as r:
        yield r


def of(stations: list[Station], province: str) -> list[Station]:
    return [s for s in stations if s.province == province]


def station(sid: str = "JS-T-0001", province: str = "JS", **changes) -> Station:
    s = Station(
        station_id=sid, province=province, licensee="Test (fictional)", service="land_mobile",
        tx_freq_hz=151.25e6, rx_freq_hz=None, emission_designator="11K0F3E", necessary_bw_hz=11e3,
        erp_dbw=10.0, antenna_height_m=30.0, azimuth_deg=None, pattern="omni", ground_height_m=5.0,
        lat=31.30, lon=120.60, valid_from=date(2024, 1, 1), valid_to=date(2028, 12, 31),
        status="active", occupation="intermittent",
    )
    return dataclasses.replace(s, **changes)


def test_new_database_is_wal_and_migrated(tmp_path: Path) -> None:
    path = tmp_path / "new.sqlite"
    StationRepository(path).close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"stations", "sensors", "provinces", "coordination_rules", "imports"} <= tables
    members = conn.execute("SELECT code FROM provinces WHERE member = 1 ORDER BY code").fetchall()
    assert [m[0] for m in members] == ["AH", "JS", "SH", "ZJ"]
    conn.close()
    StationRepository(path).close()  # reopening an up-to-date database is a no-op


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.sqlite"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(SchemaError, match="newer than this program"):
        StationRepository(path)


def test_import_then_reimport_changes_nothing(repo: StationRepository, sample: list[Station]) -> None:
    first = repo.import_stations(of(sample, "JS"), "JS", "js.csv", "h1")
    assert (first.inserted, first.updated, first.unchanged, first.removed) == (183, 0, 0, 0)
    before = repo.all_stations()
    again = repo.import_stations(of(sample, "JS"), "JS", "js.csv", "h1")
    assert (again.inserted, again.updated, again.unchanged, again.removed, again.changed) == (0, 0, 183, 0, False)
    assert repo.all_stations() == before
    assert [r.import_id for r in repo.imports("JS")] == [first.import_id, again.import_id]


def test_update_and_replace(repo: StationRepository) -> None:
    repo.import_stations([station("JS-T-0001"), station("JS-T-0002")], "JS", "a.csv", "a")
    moved = station("JS-T-0001", erp_dbw=13.0)
    r = repo.import_stations([moved], "JS", "b.csv", "b")
    assert (r.inserted, r.updated, r.unchanged, r.removed) == (0, 1, 0, 0)
    assert repo.get("JS", "JS-T-0001") == moved and repo.get("JS", "JS-T-0002") is not None
    r = repo.import_stations([moved], "JS", "c.csv", "c", replace=True)
    assert (r.updated, r.unchanged, r.removed) == (0, 1, 1)
    assert [s.station_id for s in repo.all_stations("JS")] == ["JS-T-0001"]


def test_a_province_cannot_replace_another_provinces_stations(repo: StationRepository) -> None:
    zj = station("X-0001", "ZJ", lat=30.75, lon=120.75)
    repo.import_stations([zj], "ZJ", "zj.csv", "z")
    before = repo.all_stations()
    with pytest.raises(ImportRejectedError, match="a province can only import its own stations"):
        repo.import_stations([station("JS-T-0001"), dataclasses.replace(zj, erp_dbw=40.0)], "JS", "js.csv", "j")
    # JS may use the same id for its own station: ids are unique per province, not globally.
    repo.import_stations([station("X-0001")], "JS", "js.csv", "j", replace=True)
    assert repo.get("ZJ", "X-0001") == zj
    assert {s.province for s in repo.find("X-0001")} == {"JS", "ZJ"}
    # JS's replace=True import did not delete ZJ's station.
    assert len(repo.all_stations()) == len(before) + 1


def test_refused_batch_changes_nothing(repo: StationRepository) -> None:
    repo.import_stations([station("JS-T-0001")], "JS", "a.csv", "a")
    before = (repo.all_stations(), repo.imports())
    with pytest.raises(ImportRejectedError, match="appears twice"):
        repo.import_stations([station("JS-T-0002"), station("JS-T-0002", erp_dbw=1.0)], "JS", "b.csv", "b")
    with pytest.raises(ImportRejectedError, match="not a member"):
        repo.import_stations([station(province="SD")], "SD", "sd.csv", "s")
    assert (repo.all_stations(), repo.imports()) == before


def test_failure_inside_the_transaction_rolls_everything_back(repo: StationRepository) -> None:
    repo.import_stations([station("JS-T-0001")], "JS", "a.csv", "a")
    before = (repo.all_stations(), repo.imports())
    # A value SQLite refuses (NOT NULL) after some rows were already written in the transaction.
    broken = station("JS-T-0003", licensee=None)  # type: ignore[arg-type]
    with pytest.raises(sqlite3.IntegrityError):
        repo.import_stations([station("JS-T-0002"), broken], "JS", "b.csv", "b", replace=True)
    assert (repo.all_stations(), repo.imports()) == before


def test_rejected_file_is_logged_without_touching_stations(repo: StationRepository) -> None:
    repo.import_stations([station("JS-T-0001")], "JS", "a.csv", "a")
    before = repo.all_stations()
    r = repo.record_rejected_import("JS", "bad.csv", "bh", 19, "20 errors")
    assert (r.status, r.rejected, r.accepted) == ("rejected", 19, 0)
    assert repo.all_stations() == before and repo.imports()[-1] == r


def test_all_provinces_import_is_one_transaction(repo: StationRepository, sample: list[Station]) -> None:
    reports = repo.import_all_provinces(sample, "sample.csv", "h")
    assert [(r.province, r.inserted) for r in reports] == [("AH", 136), ("JS", 183), ("SH", 93), ("ZJ", 185)]
    assert repo.count() == 597


def test_stations_overlapping_uses_the_licensed_band(repo: StationRepository, sample: list[Station]) -> None:
    repo.import_all_provinces(sample, "sample.csv", "h")
    # AH-PMR-0042: 410.2125 MHz, 11 kHz -> [410.207, 410.218] MHz.
    assert [s.station_id for s in repo.stations_overlapping(410.2176e6, 410.2300e6)] == ["AH-PMR-0042"]
    assert repo.stations_overlapping(410.2181e6, 410.2300e6) == []
    # A 200 kHz FM channel is found from a narrow probe anywhere inside it.
    assert [s.station_id for s in repo.stations_overlapping(97.58e6, 97.585e6)] == ["JS-FM-0003"]
    # The demo keeps these free.
    assert repo.stations_overlapping(156.775e6, 156.825e6) == []
    assert repo.stations_overlapping(99.9e6, 100.3e6) == []
    assert [s.station_id for s in repo.stations_overlapping(152.37e6, 152.43e6)] == ["ZJ-PMR-0107"]


def test_overlap_sees_wider_stations_imported_by_another_connection(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite"
    with StationRepository(path) as server, StationRepository(path) as cli:
        cli.import_stations([station("JS-T-0001")], "JS", "a.csv", "a")
        assert len(server.stations_overlapping(151.25e6, 151.25e6)) == 1
        wide = station("JS-T-0002", tx_freq_hz=1805.4e6, emission_designator="5M00G7W", necessary_bw_hz=5e6,
                       service="public_mobile")
        cli.import_stations([wide], "JS", "b.csv", "b")
        # 2.4 MHz above the centre is inside the 5 MHz carrier, far beyond the earlier widest band.
        assert [s.station_id for s in server.stations_overlapping(1807.8e6, 1807.9e6)] == ["JS-T-0002"]


def test_valid_on_filter(repo: StationRepository) -> None:
    repo.import_stations(
        [station("JS-T-0001"), station("JS-T-0002", status="planned"),
         station("JS-T-0003", valid_to=date(2025, 6, 30))], "JS", "a.csv", "a")
    found = repo.stations_overlapping(151.25e6, 151.25e6, valid_on=date(2026, 1, 1))
    assert [s.station_id for s in found] == ["JS-T-0001"]
    assert len(repo.stations_overlapping(151.25e6, 151.25e6)) == 3


def test_query_filters_combine(repo: StationRepository, sample: list[Station]) -> None:
    repo.import_all_provinces(sample, "sample.csv", "h")
    near = repo.query(near=(31.70, 118.60), radius_km=8.0)
    assert near[0].station_id == "AH-PMR-0042"  # ordered by distance
    assert len(near) == 6 and {s.province for s in near} == {"AH"}
    assert [s.station_id for s in repo.query(freq_hz=156.65e6, bandwidth_hz=25e3)] == ["SH-MAR-0002"]
    assert [s.station_id for s in repo.query(freq_hz=410.2125e6, near=(31.70, 118.60), radius_km=1.0)] == [
        "AH-PMR-0042"]
    assert repo.query(freq_hz=410.2125e6, province="JS") == []
    fm = repo.query(service="broadcast", province="SH")
    assert len(fm) == 8 and all(s.service == "broadcast" for s in fm)
    with pytest.raises(ValueError, match="go together"):
        repo.query(near=(31.0, 120.0))


def test_border_filter(repo: StationRepository, sample: list[Station]) -> None:
    repo.import_all_provinces(sample, "sample.csv", "h")
    near_border = repo.stations_near_border(5.0)
    ids = {s.station_id for s in near_border}
    assert "AH-PMR-0042" in ids  # 3.4 km from Jiangsu
    assert "AH-PMR-0010" not in ids  # Hefei, ~107 km from any border
    assert 0 < len(near_border) < 100
    assert {s.province for s in repo.stations_near_border(5.0, "AH")} == {"AH"}
    assert len(repo.stations_near_border(1000.0)) == 597


def test_sensors_upsert(repo: StationRepository) -> None:
    repo.upsert_sensor("js-kunshan-1", "JS", 31.38, 120.98, description="roof")
    repo.upsert_sensor("js-kunshan-1", "JS", 31.385, 120.98, antenna_height_m=15.0, public_key="abc")
    repo.upsert_sensor("ah-maanshan-1", "AH", 31.69, 118.55)
    sensors = repo.sensors()
    assert [s.sensor_id for s in sensors] == ["ah-maanshan-1", "js-kunshan-1"]
    assert (sensors[1].lat, sensors[1].antenna_height_m, sensors[1].public_key) == (31.385, 15.0, "abc")
    assert [s.sensor_id for s in repo.sensors("AH")] == ["ah-maanshan-1"]


def test_rules_are_stored(repo: StationRepository) -> None:
    assert repo.rules() is None
    rules = load_rules()
    repo.set_rules(rules)
    assert repo.rules() == rules
