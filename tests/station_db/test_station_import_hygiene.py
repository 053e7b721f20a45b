"""Station files cannot smuggle control characters, and station ids compare without regard to case."""

from __future__ import annotations

from pathlib import Path

import pytest

from station_db.exchange import COLUMNS_V1, StationFileError, file_sha256, read_stations
from station_db.repository import StationRepository

HEADER = ",".join(c for c in COLUMNS_V1 if c != "station_name")
ROW = ("{sid},JS,{licensee},land_mobile,151250000,,11K0F3E,10,30,,omni,5,31.30,120.60,"
       "2024-01-01,2028-12-31,active,intermittent")


def station_file(tmp_path: Path, name: str, *rows: tuple[str, str]) -> Path:
    p = tmp_path / name
    p.write_text("\n".join([HEADER, *(ROW.format(sid=s, licensee=lic) for s, lic in rows)]) + "\n", encoding="utf-8")
    return p


@pytest.mark.parametrize("bad", ["\x00", "\x1b", "\x7f", "\u202e"])
def test_a_control_character_in_a_field_is_refused_with_file_line_and_field(tmp_path, bad):
    p = station_file(tmp_path, "s.csv", ("JS-T-0001", "Radio A"), ("JS-T-0002", f"Radio{bad}B"))
    with pytest.raises(StationFileError) as info:
        read_stations(p)
    [err] = info.value.errors
    assert (Path(err.file).name, err.line, err.field) == ("s.csv", 3, "licensee")
    assert f"U+{ord(bad):04X}" in err.message and "position 6" in err.message


def test_ids_differing_only_in_case_are_one_station(tmp_path):
    """Normalised to upper case: a lower-case id is the same licence, in one file (a duplicate,
    refused with both lines) and across imports (an update, not a second station)."""
    both = station_file(tmp_path, "both.csv", ("JS-AIR-0001", "Radio A"), ("js-air-0001", "Radio A"))
    with pytest.raises(StationFileError) as info:
        read_stations(both)
    [err] = info.value.errors
    assert (err.line, err.field) == (3, "station_id") and "first on line 2" in err.message
    repo = StationRepository(tmp_path / "st.db")
    try:
        first = station_file(tmp_path, "a.csv", ("JS-AIR-0001", "Radio A"))
        repo.import_stations(read_stations(first), "JS", first.name, file_sha256(first))
        second = station_file(tmp_path, "b.csv", ("js-air-0001", "Radio B"))
        report = repo.import_stations(read_stations(second), "JS", second.name, file_sha256(second))
        assert (report.inserted, report.updated, report.removed) == (0, 1, 0)
        assert [s.station_id for s in repo.all_stations("JS")] == ["JS-AIR-0001"]
        assert repo.get("JS", "js-air-0001").licensee == "Radio B"
    finally:
        repo.close()
