"""``borderwatch stations``: the commands as a user runs them, on a real database in tmp_path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from borderwatch.cli import main
from station_db.exchange import read_stations
from station_db.repository import StationRepository

DATA = Path(__file__).resolve().parents[2] / "station_db" / "data"
SAMPLE = DATA / "sample_stations.csv"
BAD = DATA / "bad_stations.csv"


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "stations.sqlite"
    assert main(["stations", "import", str(SAMPLE), "--all-provinces", "--db", str(path)]) == 0
    return path


def snapshot(db: Path):
    with StationRepository(db) as repo:
        return repo.all_stations()


def test_import_reports_counts_and_reimport_changes_nothing(db: Path, capsys: pytest.CaptureFixture) -> None:
    capsys.readouterr()
    before = snapshot(db)
    assert main(["stations", "import", str(SAMPLE), "--all-provinces", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert "JS: 183 station(s)" in out and "0 inserted, 0 updated, 183 unchanged, 0 removed" in out
    assert snapshot(db) == before


def test_bad_file_prints_every_error_and_imports_nothing(db: Path, capsys: pytest.CaptureFixture) -> None:
    capsys.readouterr()
    before = snapshot(db)
    assert main(["stations", "import", str(BAD), "--province", "JS", "--db", str(db)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0] == f"{BAD}:3: tx_freq_hz: 'abc' is not a number"
    assert f"{BAD}:14: province: station belongs to ZJ, but the file is imported for JS; " \
           "a province can only import its own stations" in err
    assert err[-1] == f"{BAD} (read as UTF-8): 20 error(s); nothing imported"
    assert len(err) == 21
    assert snapshot(db) == before  # the good row on line 2 was not imported either
    with StationRepository(db) as repo:
        last = repo.imports()[-1]
    assert (last.province, last.status, last.rejected, last.accepted) == ("JS", "rejected", 19, 0)


def test_province_flag_refuses_other_provinces_rows(db: Path, capsys: pytest.CaptureFixture) -> None:
    capsys.readouterr()
    before = snapshot(db)
    assert main(["stations", "import", str(SAMPLE), "--province", "JS", "--db", str(db)]) == 1
    err = capsys.readouterr().err
    assert f"{SAMPLE}:2: province: station belongs to AH, but the file is imported for JS" in err
    assert snapshot(db) == before


@pytest.mark.parametrize("suffix", [".csv", ".json"])
def test_export_import_round_trip(db: Path, tmp_path: Path, suffix: str) -> None:
    out = tmp_path / f"js{suffix}"
    assert main(["stations", "export", "--province", "JS", "-o", str(out), "--db", str(db)]) == 0
    exported = read_stations(out)
    assert len(exported) == 183 and exported == [s for s in snapshot(db) if s.province == "JS"]
    fresh = tmp_path / "fresh.sqlite"
    assert main(["stations", "import", str(out), "--province", "JS", "--db", str(fresh)]) == 0
    assert snapshot(fresh) == exported


def test_border_km_export_keeps_only_border_stations(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "border.csv"
    assert main(["stations", "export", "--border-km", "5", "--bom", "-o", str(out), "--db", str(db)]) == 0
    near = read_stations(out)
    ids = {s.station_id for s in near}
    assert "AH-PMR-0042" in ids and "AH-PMR-0010" not in ids
    assert 0 < len(near) < 596 / 4
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")
    out20 = tmp_path / "border20.json"
    assert main(["stations", "export", "--border-km", "20", "-o", str(out20), "--db", str(db)]) == 0
    assert ids < {s.station_id for s in read_stations(out20)}


def test_query_by_frequency_and_place(db: Path, capsys: pytest.CaptureFixture) -> None:
    capsys.readouterr()
    assert main(["stations", "query", "--freq", "410.2125M", "--bandwidth", "12.5k", "--json", "--db", str(db)]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["station_id"] for r in rows] == ["AH-PMR-0042"]
    assert main(["stations", "query", "--freq", "156650000", "--near", "31.39,121.50", "--radius-km", "5",
                 "--db", str(db)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1].startswith("SH-MAR-0002") and "0.00" in out[1] and out[-1] == "1 station(s)"


def test_query_argument_errors(db: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["stations", "query", "--near", "31.39,121.50", "--db", str(db)]) == 1
    assert "--near and --radius-km go together" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["stations", "query", "--freq", "lots", "--db", str(db)])


def test_default_db_is_in_the_user_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert main(["stations", "import", str(SAMPLE), "--all-provinces"]) == 0
    assert (tmp_path / "xdg" / "borderwatch" / "stations.sqlite").is_file()


# -- border assignment check (P.1546) -------------------------------------------------------------


def run_check(args: list[str], capsys: pytest.CaptureFixture) -> tuple[int, list[dict]]:
    pytest.importorskip("coordination.propagation.p1546")
    capsys.readouterr()
    code = main(["stations", "check", *args, "--json"])
    return code, json.loads(capsys.readouterr().out)


def test_check_station_close_to_the_border_requires_coordination(db: Path, capsys: pytest.CaptureFixture) -> None:
    code, (result,) = run_check(["--station", "AH-PMR-0042", "--db", str(db)], capsys)
    assert code == 3 and result["coordination_required"] is True
    assert (result["band"], result["limit_dbuv_m"], result["time_pct"]) == ("PMR 400", 20.0, 10.0)
    worst = result["borders"][0]
    assert worst["neighbour"] == "JS" and worst["exceeds"]
    assert worst["worst_distance_km"] == pytest.approx(3.4, abs=0.2)
    # 10 dBW e.r.p. at ~3.4 km, 410 MHz: tens of dB over the 20 dBuV/m trigger.
    assert 50.0 < worst["worst_field_dbuv_m"] < 70.0
    assert worst["margin_db"] == pytest.approx(20.0 - worst["worst_field_dbuv_m"])
    assert {b["neighbour"] for b in result["borders"]} == {"JS", "ZJ", "JX", "HU", "HE", "SD"}


def test_check_station_far_from_the_border_needs_none(db: Path, capsys: pytest.CaptureFixture) -> None:
    code, (result,) = run_check(["--station", "AH-PMR-0010", "--db", str(db)], capsys)
    assert code == 0 and result["coordination_required"] is False
    worst = result["borders"][0]
    assert worst["worst_distance_km"] > 100.0 and 10.0 < worst["margin_db"] < 30.0
    assert all(not b["exceeds"] for b in result["borders"])


def test_check_proposed_station_from_csv(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    header = ",".join(SAMPLE.read_text(encoding="utf-8").splitlines()[0].split(",")[:18])  # the rows give 18
    row = ("AH-NEW-0001,AH,Proposed (fictional),land_mobile,410300000,,11K0F3E,10,30,,omni,10,31.70,118.60,"
           "2026-01-01,2030-12-31,planned,intermittent")
    low = row.replace("AH-NEW-0001", "AH-NEW-0002").replace(",10,30,", ",-20,5,").replace("31.70,118.60",
                                                                                           "31.82,117.23")
    p = tmp_path / "proposed.csv"
    p.write_text(f"{header}\n{row}\n{low}\n", encoding="utf-8")
    code, results = run_check(["--csv", str(p)], capsys)
    assert code == 3
    assert [r["coordination_required"] for r in results] == [True, False]


def test_check_directional_station_pointing_away_gains_margin(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    header = ",".join(SAMPLE.read_text(encoding="utf-8").splitlines()[0].split(",")[:18])  # the rows give 18
    base = ("JS-NEW-{n},JS,Proposed (fictional),public_mobile,1805400000,1710400000,200KG7W,27,30,{az},dir:65,5,"
            "31.38,120.98,2026-01-01,2030-12-31,planned,continuous")  # Kunshan, facing SH (east) or away (west)
    p = tmp_path / "sectors.csv"
    p.write_text(f"{header}\n{base.format(n='0001', az=100)}\n{base.format(n='0002', az=280)}\n", encoding="utf-8")
    _, (east, west) = run_check(["--csv", str(p)], capsys)
    sh_east = next(b for b in east["borders"] if b["neighbour"] == "SH")
    sh_west = next(b for b in west["borders"] if b["neighbour"] == "SH")
    assert sh_east["worst_field_dbuv_m"] - sh_west["worst_field_dbuv_m"] > 15.0  # up to the 20 dB front-to-back


def test_check_outside_every_band_and_unknown_station(db: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture) -> None:
    header = ",".join(SAMPLE.read_text(encoding="utf-8").splitlines()[0].split(",")[:18])  # the rows give 18
    p = tmp_path / "odd.csv"
    p.write_text(f"{header}\nJS-NEW-9,JS,X (fictional),fixed,2400000000,,1M00G7W,0,10,,omni,5,31.3,120.6,"
                 "2026-01-01,2027-01-01,planned,continuous\n", encoding="utf-8")
    code, (result,) = run_check(["--csv", str(p)], capsys)
    assert code == 0 and result["band"] is None and result["borders"] == []
    assert main(["stations", "check", "--station", "NOPE", "--db", str(db)]) == 1
    assert "no station 'NOPE'" in capsys.readouterr().err
