"""``borderwatch tasking`` and ``borderwatch campaign`` against a real coordination server."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from server_testkit import TEST_PROFILE
from web_testkit import CentreWorld

from borderwatch.cli import main
from coordination.protocol import format_utc


@pytest.fixture
def centre(tmp_path: Path):
    c = CentreWorld(tmp_path / "centre", [])
    yield c
    c.close()


def run(capsys, *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_tasking_request_decide_and_list(centre: CentreWorld, capsys) -> None:
    s = ("--server", centre.api_addr)
    rc, out, _ = run(capsys, "tasking", "request", "js-01", "--kind", "iq_snapshot", "--center-hz", "446.05e6",
                     "--duration-s", "0.2", "--reason", "DF fix on the PMR446 jammer", "--by", "sh-op",
                     "--as-province", "SH", "--json", *s)
    assert rc == 0
    r = json.loads(out)
    assert (r["state"], r["owner"], r["result"]) == ("done", "JS", f"tasking-{r['id']}")
    rc, _, err = run(capsys, "tasking", "request", "js-01", "--kind", "iq_snapshot", "--reason", "x", "--by", "sh-op",
                     "--as-province", "SH", *s)
    assert rc == 1 and err == "borderwatch tasking request: a snapshot needs --center-hz\n"
    rc, out, _ = run(capsys, "tasking", "list", "--as-province", "SH", *s)
    assert rc == 0 and r["id"] in out and "SH -> JS js-01 iq_snapshot" in out
    rc, _, err = run(capsys, "tasking", "decide", r["id"], "--grant", "--by", "js-op", "--as-province", "JS", *s)
    assert rc == 1 and err.startswith("borderwatch tasking decide: ") and "is done already" in err
    assert len(err.splitlines()) == 1  # one line for people; the traceback goes to the debug log


def test_campaign_add_and_list(centre: CentreWorld, capsys) -> None:
    s = ("--server", centre.api_addr)
    start = datetime.now(UTC) + timedelta(days=1)
    rc, out, _ = run(capsys, "campaign", "add", "rail-7", "--lead", "js", "--provinces", "JS,SH", "--sensors", "js-01",
                     "--profiles", TEST_PROFILE.name, "--start", format_utc(start),
                     "--end", format_utc(start + timedelta(hours=3)), "--title", "GSM-R week", *s)
    assert rc == 0 and "rail-7  planned  lead JS" in out
    rc, _, err = run(capsys, "campaign", "add", "rail-8", "--lead", "JS", "--provinces", "JS", "--sensors", "js-01",
                     "--profiles", "no_such", "--start", format_utc(start), "--end", format_utc(start), *s)
    assert rc == 1 and "not one the server serves" in err
    rc, out, _ = run(capsys, "campaign", "list", "--json", *s)
    assert [c["id"] for c in json.loads(out)] == ["rail-7"]


def test_empty_listings_say_so_and_acting_needs_by_like_cases_and_coord(centre: CentreWorld, capsys) -> None:
    s = ("--server", centre.api_addr)
    assert run(capsys, "tasking", "list", "--as-province", "sh", *s)[:2] == (0, "no requests\n")
    assert run(capsys, "campaign", "list", *s)[:2] == (0, "no campaigns\n")
    assert run(capsys, "tasking", "list", "--json", *s)[:2] == (0, "[]\n")
    with pytest.raises(SystemExit) as info:  # the actor arguments of every acting command: --by is required
        main(["tasking", "decide", "T1", "--grant", *s])
    assert info.value.code == 2 and "--by" in capsys.readouterr().err
