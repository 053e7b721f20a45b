"""Station files in Chinese: UTF-8 (with/without BOM) and GB18030 detected and named; names round-trip."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from station_testkit import chinese_stations

from borderwatch.cli import main
from station_db.exchange import StationFileError, load_station_file, read_stations, write_stations
from station_db.repository import StationRepository
from station_db.schema import MIGRATIONS


@pytest.fixture
def utf8_text(tmp_path: Path) -> str:
    """The canonical exchange CSV of the Chinese stations, as our exporter writes it."""
    write_stations(tmp_path / "canonical.csv", chinese_stations())
    return (tmp_path / "canonical.csv").read_bytes().decode("utf-8")


@pytest.mark.parametrize(("codec", "prefix", "expected"), [
    ("utf-8", b"", "utf-8"),
    ("utf-8", b"\xef\xbb\xbf", "utf-8-sig"),
    ("gb18030", b"", "gb18030"),
    ("gb18030", b"\x84\x31\x95\x33", "gb18030"),  # GB18030's own BOM (U+FEFF encoded)
])
def test_encoding_is_detected_and_names_read_back(tmp_path: Path, utf8_text: str, codec: str, prefix: bytes,
                                                  expected: str) -> None:
    p = tmp_path / "in.csv"
    p.write_bytes(prefix + utf8_text.encode(codec))
    loaded = load_station_file(p)
    assert loaded.encoding == expected
    assert loaded.stations == chinese_stations()
    assert [s.licensee for s in loaded.stations][1] == "苏州园区𠮷祥物业有限公司"


def test_gb18030_is_really_not_utf8(utf8_text: str) -> None:
    data = utf8_text.encode("gb18030")
    assert len(data) < len(utf8_text.encode("utf-8"))  # 2 bytes per Han character instead of 3
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")


def test_gb18030_file_imports_and_exports_identically(tmp_path: Path, utf8_text: str,
                                                      capsys: pytest.CaptureFixture) -> None:
    gb = tmp_path / "licences_gbk.csv"
    gb.write_bytes(utf8_text.encode("gb18030"))
    db = tmp_path / "s.sqlite"
    assert main(["stations", "import", str(gb), "--all-provinces", "--db", str(db)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"{gb}: read as GB18030"
    assert [line.split(":")[0] for line in out[1:]] == ["AH", "JS", "SH", "ZJ"]
    with StationRepository(db) as repo:
        assert [r.encoding for r in repo.imports()] == ["gb18030"] * 4
        by_id = sorted(repo.all_stations(), key=lambda s: s.station_id)
        assert by_id == sorted(chinese_stations(), key=lambda s: s.station_id)

    exported = tmp_path / "out.csv"
    assert main(["stations", "export", "-o", str(exported), "--db", str(db)]) == 0
    # Same text, now UTF-8 (the export's encoding whatever the import's), row order by province then id.
    data = exported.read_bytes()
    assert not data.startswith(b"\xef\xbb\xbf")
    lines = data.decode("utf-8").splitlines()
    src = utf8_text.splitlines()
    assert lines[0] == src[0] and sorted(lines[1:]) == sorted(src[1:])
    assert sum("上海港引航站" in line for line in lines) == 1

    with_bom = tmp_path / "out_bom.csv"
    assert main(["stations", "export", "--bom", "-o", str(with_bom), "--db", str(db)]) == 0
    assert with_bom.read_bytes() == b"\xef\xbb\xbf" + data
    assert load_station_file(with_bom).encoding == "utf-8-sig"
    assert read_stations(with_bom) == read_stations(exported)

    json_out = tmp_path / "out.json"
    assert main(["stations", "export", "-o", str(json_out), "--db", str(db)]) == 0
    assert "苏州园区对讲中继" in json_out.read_text(encoding="utf-8")  # not \\u escapes
    assert read_stations(json_out) == read_stations(exported)


def test_rejected_gb18030_file_says_how_it_was_read(tmp_path: Path, utf8_text: str,
                                                    capsys: pytest.CaptureFixture) -> None:
    gb = tmp_path / "bad.csv"
    gb.write_bytes(utf8_text.replace("97500000", "abc").encode("gb18030"))
    db = tmp_path / "s.sqlite"
    assert main(["stations", "import", str(gb), "--province", "AH", "--db", str(db)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[-1].startswith(f"{gb} (read as GB18030): ")
    with StationRepository(db) as repo:
        (rec,) = repo.imports()
        assert (rec.status, rec.encoding) == ("rejected", "gb18030")


def test_undecodable_and_utf16_files_name_the_problem(tmp_path: Path, utf8_text: str) -> None:
    p = tmp_path / "u16.csv"
    p.write_bytes(utf8_text.encode("utf-16"))
    with pytest.raises(StationFileError, match="UTF-16 text is not accepted"):
        read_stations(p)
    p.write_bytes(utf8_text.encode("utf-8") + b"\xff\xfe\n")
    with pytest.raises(StationFileError) as info:
        read_stations(p)
    (err,) = info.value.errors
    assert err.line == 6 and "neither UTF-8 nor GB18030" in err.message and info.value.encoding is None


def test_schema_1_database_gains_station_name_and_encoding(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    conn = sqlite3.connect(path)
    for statement in MIGRATIONS[0]:
        conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    with StationRepository(path) as repo:
        repo.import_stations(chinese_stations()[:1], "SH", "x.csv", "0" * 64, encoding="gb18030")
        assert repo.all_stations()[0].station_name == "上海港引航站"
        assert repo.imports()[0].encoding == "gb18030"
