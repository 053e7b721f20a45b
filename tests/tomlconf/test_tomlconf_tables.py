"""The one TOML table reader: typed getters whose errors name file, table, key and value."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tomlconf import MISSING, TomlError, TomlTable, parse_toml, read_toml

DOC = """
[spool]
dir = "spool"
quota_mb = 512
fsync = true

[[band]]
name = "PMR 400"
priority = 4

[[band]]
name = ""
priority = 4.0
"""


class PlantError(TomlError):
    """A reader's own error class (callers catch it as before)."""


@pytest.fixture
def doc() -> TomlTable:
    return parse_toml(DOC, "plant.toml", PlantError)


def test_getters_return_typed_values_and_defaults(doc, tmp_path):
    spool = doc.table("spool")
    assert spool.num("quota_mb", 0.01, 1e7) == 512.0 and spool.int_("quota_mb", 1, 10**6) == 512
    assert spool.bool_("fsync") is True and spool.str_("dir") == "spool"
    assert spool.num("absent_s", default=2.5) == 2.5 and spool.num_or_none("absent_s") is None
    assert spool.path_("dir", tmp_path) == tmp_path / "spool"
    assert doc.table("daemon", required=False).keys() == set()
    assert [t.str_("name") for t in doc.tables("band")[:1]] == ["PMR 400"]


@pytest.mark.parametrize(("call", "message"), [
    (lambda d: d.table("spool").num("quota_mb", 0.01, 100.0),
     "plant.toml: spool.quota_mb = 512: must be within [0.01, 100]"),
    (lambda d: d.table("spool").str_("dir", re.compile(r"^/"), "must be an absolute path"),
     "plant.toml: spool.dir = 'spool': must be an absolute path"),
    (lambda d: d.table("spool").int_("missing_key"),
     "plant.toml: spool.missing_key = (missing): required key is missing"),
    (lambda d: d.tables("band")[1].int_("priority", 1, 9), "plant.toml: band[1].priority = 4.0: must be an integer"),
    (lambda d: d.tables("band")[1].str_("name"), "plant.toml: band[1].name = '': must be a non-empty string"),
    (lambda d: d.table("spool").bool_("dir"), "plant.toml: spool.dir = 'spool': must be true or false"),
    (lambda d: d.table("spool").check_unknown({"dir", "quota_mb"}),
     "plant.toml: spool.fsync = True: unknown key (known: dir, quota_mb)"),
    (lambda d: d.table("daemon"), "plant.toml: daemon = (missing): required table is missing"),
    (lambda d: d.table("band"), "plant.toml: band = [{"),
    (lambda d: d.tables("profile", required=True), "plant.toml: profile = (missing): at least one [[profile]]"),
])
def test_errors_name_file_table_key_and_value(doc, call, message):
    with pytest.raises(PlantError) as err:
        call(doc)
    assert str(err.value).startswith(message), str(err.value)
    assert err.value.path == "plant.toml" and err.value.key in str(err.value)


def test_a_missing_value_is_marked_missing_not_none(doc):
    with pytest.raises(TomlError) as err:
        doc.table("spool").raw("nope")
    assert err.value.value is MISSING and err.value.key == "spool.nope"


def test_files_that_cannot_be_read_or_parsed_name_themselves(tmp_path: Path):
    with pytest.raises(TomlError, match=r"absent.toml: \(file\): cannot read: No such file"):
        read_toml(tmp_path / "absent.toml")
    (tmp_path / "latin1.toml").write_bytes('name = "caf\xe9"'.encode("latin-1"))
    with pytest.raises(TomlError, match=r"\(file\): not UTF-8 text"):
        read_toml(tmp_path / "latin1.toml")
    (tmp_path / "broken.toml").write_text("[spool\n", encoding="utf-8")
    with pytest.raises(TomlError, match=r"broken.toml: \(syntax\): not valid TOML"):
        read_toml(tmp_path / "broken.toml")
    (tmp_path / "ok.toml").write_text('[web]\nport = 8443\n', encoding="utf-8")
    assert read_toml(tmp_path / "ok.toml").table("web").int_("port", 1, 65535) == 8443


def test_a_reader_may_keep_an_older_error_class_through_a_factory():
    class OldError(ValueError):
        pass

    doc = parse_toml("x = 1", "old.toml", lambda f, k, v, p: OldError(f"{f}: {k}: {p}"))
    with pytest.raises(OldError, match=r"old\.toml: x: must be a non-empty string"):
        doc.str_("x")
