"""``borderwatch cases`` against a real coordination server: the whole life cycle, export, verify."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from case_testkit import alert_doc
from web_testkit import CentreWorld

from borderwatch.cli import main
from coordination.cases import case_id_for

ALERT = "20261203T070000-cli00001"


@pytest.fixture
def api(tmp_path: Path):
    centre = CentreWorld(tmp_path / "centre", [alert_doc(ALERT, source=("JS",), affected=("SH",), severity="minor")])
    yield centre
    centre.close()


def run(capsys, *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_cases_cli_life_cycle_export_and_verify(api: CentreWorld, tmp_path: Path, capsys) -> None:
    s = ("--server", api.api_addr)
    cid = case_id_for(ALERT)
    assert run(capsys, "cases", "open", ALERT, "--by", "js-op", "--as-province", "JS", *s)[0] == 0
    assert run(capsys, "cases", "assign", cid, "JS team 3", "--by", "js-op", "--as-province", "JS", *s)[0] == 0
    rc, _, err = run(capsys, "cases", "handover", cid, "--to", "SH", "--by", "js-op", "--as-province", "JS", *s)
    assert rc == 1 and "--reason" in err
    assert run(capsys, "cases", "handover", cid, "--to", "SH", "--reason", "emitter in Jiading", "--by", "js-op",
               "--as-province", "JS", *s)[0] == 0
    rc, _, err = run(capsys, "cases", "handover", cid, "--accept", "--by", "js-op", "--as-province", "JS", *s)
    assert rc == 1 and "only SH" in err  # the asker cannot accept for SH
    assert run(capsys, "cases", "handover", cid, "--accept", "--by", "sh-op", "--as-province", "SH", *s)[0] == 0
    assert run(capsys, "cases", "note", cid, "on site at 10:40", "--by", "sh-op", "--as-province", "SH", *s)[0] == 0
    rc, out, _ = run(capsys, "cases", "close", cid, "referred", "--summary", "to the MIIT", "--by", "sh-op",
                     "--as-province", "SH", "--json", *s)
    assert rc == 0 and json.loads(out)["outcome"] == "referred"
    rc, out, _ = run(capsys, "cases", "list", "--state", "closed", *s)
    assert rc == 0 and cid in out and "held by SH" in out
    rc, out, _ = run(capsys, "cases", "show", ALERT, "--alert", *s)
    assert rc == 0 and "handover_accepted" in out and "#6" in out
    rc, out, _ = run(capsys, "cases", "verify", cid, *s)
    assert rc == 0 and "6 events, chain intact" in out
    rc, out, _ = run(capsys, "cases", "export", cid, "-o", str(tmp_path / "file"), *s)
    assert rc == 0 and "verified" in out
    zpath = tmp_path / "file" / f"{cid}.zip"
    assert run(capsys, "cases", "verify", "--zip", str(zpath))[0] == 0


def test_verify_zip_finds_an_edited_event(api: CentreWorld, tmp_path: Path, capsys) -> None:
    s = ("--server", api.api_addr)
    cid = case_id_for(ALERT)
    run(capsys, "cases", "open", ALERT, "--by", "op", *s)
    run(capsys, "cases", "note", cid, "first", "--by", "op", *s)
    run(capsys, "cases", "note", cid, "second", "--by", "op", *s)
    run(capsys, "cases", "export", cid, "-o", str(tmp_path), *s)
    src = tmp_path / f"{cid}.zip"
    with zipfile.ZipFile(src) as z:
        members = {n: z.read(n) for n in z.namelist()}
    doc = json.loads(members["case.json"])
    doc["events"][1]["data"]["text"] = "first (edited)"
    members["case.json"] = json.dumps(doc).encode()
    with zipfile.ZipFile(tmp_path / "edited.zip", "w") as z:
        for n, b in members.items():
            z.writestr(n, b)
    rc, out, _ = run(capsys, "cases", "verify", "--zip", str(tmp_path / "edited.zip"))
    assert rc == 3 and "case.json" in out and "chain BROKEN at event 2" in out
