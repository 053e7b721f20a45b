"""``borderwatch coord`` against a real server: submit from an exchange file, list, show (English and
Chinese), respond, withdraw; a bad file is reported as FILE:LINE: FIELD."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from server_testkit import T0, Clock, FakeEngine, loopback_config

from borderwatch import i18n
from borderwatch.cli import main
from coordination.server import Server
from station_db.exchange import write_stations
from station_db.models import Station
from station_db.repository import StationRepository
from station_db.rules import load_rules


def fm(station_id: str, **kw: object) -> Station:
    base: dict[str, object] = dict(
        station_id=station_id, province="JS", licensee="Suzhou FM (fictional)", service="broadcast",
        tx_freq_hz=99.3e6, rx_freq_hz=None, emission_designator="180KF3E", necessary_bw_hz=180e3, erp_dbw=30.0,
        antenna_height_m=150.0, azimuth_deg=None, pattern="omni", ground_height_m=5.0, lat=31.30, lon=120.60,
        valid_from=date(2026, 1, 1), valid_to=date(2035, 12, 31))
    base.update(kw)
    return Station(**base)  # type: ignore[arg-type]


@pytest.fixture
def server(tmp_path: Path):
    with StationRepository(tmp_path / "stations.db") as stations:
        srv = Server(loopback_config(tmp_path), clock=Clock(T0), engine=FakeEngine(), stations=stations,
                     rules=load_rules()).start()
        yield srv, stations
        srv.stop()
    i18n.set_language("en")


def run(capsys, *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_coord_cli_life_cycle(server, tmp_path: Path, capsys) -> None:
    srv, stations = server
    s = ("--server", srv.endpoints["api"])
    path = tmp_path / "proposed.csv"
    write_stations(path, [fm("JS-FM-0901"), fm("JS-FM-0902", tx_freq_hz=101.7e6)])
    rc, _, err = run(capsys, "coord", "submit", str(path), "--by", "js-planner", *s)
    assert rc == 1 and "give --station: one of JS-FM-0901, JS-FM-0902" in err
    rc, out, _ = run(capsys, "coord", "submit", str(path), "--station", "JS-FM-0901", "--by", "js-planner", "--json",
                     *s)
    assert rc == 0
    req = json.loads(out)
    assert "SH" in req["waiting_for"]
    rc, out, _ = run(capsys, "coord", "list", "--waiting-for", "SH", *s)
    assert rc == 0 and req["id"] in out and "JS/JS-FM-0901" in out and "99.3000 MHz" in out
    rc, out, _ = run(capsys, "coord", "show", req["id"], *s)
    assert rc == 0 and "SH border: worst" in out and "over the trigger value" in out and "submitted" in out
    rc, out, _ = run(capsys, "--lang", "zh_CN", "coord", "show", req["id"], *s)
    assert rc == 0 and "SH 边界：最大" in out and "超过触发值" in out
    i18n.set_language("en")
    rc, _, err = run(capsys, "coord", "respond", req["id"], "object", "--province", "SH", "--by", "sh", *s)
    assert rc == 1 and "an objection needs a reason" in err
    rc, out, _ = run(capsys, "coord", "respond", req["id"], "object", "--province", "SH", "--reason",
                     "protects SH-FM-0001", "--by", "sh-officer", *s)
    assert rc == 0 and "answer of SH: objected (protects SH-FM-0001)" in out
    assert next(c for c in stations.coordination_of("JS", "JS-FM-0901") if c.neighbour == "SH").status == "objected"
    rc, _, err = run(capsys, "coord", "withdraw", req["id"], "--by", "sh", "--as-province", "SH", *s)
    assert rc == 1 and "cannot withdraw a JS request" in err
    rc, out, err = run(capsys, "coord", "withdraw", req["id"], "--by", "js-planner", "--json", *s)
    if set(req["waiting_for"]) - {"SH"}:  # others still to answer: the request is open and can be withdrawn
        assert rc == 0 and json.loads(out)["state"] == "withdrawn"
        assert stations.coordination_of("JS", "JS-FM-0901") == ()
    else:
        assert rc == 1 and "only an open request can be withdrawn" in err


def test_coord_submit_reports_every_problem_of_the_file(server, tmp_path: Path, capsys) -> None:
    srv, _ = server
    path = tmp_path / "bad.csv"
    write_stations(path, [fm("JS-FM-0901")])
    text = path.read_text(encoding="utf-8").replace(",30,150,", ",lots,150,")
    path.write_text(text, encoding="utf-8")
    rc, _, err = run(capsys, "coord", "submit", str(path), "--by", "js", "--server", srv.endpoints["api"])
    assert rc == 1 and f"{path}:2: erp_dbw: 'lots' is not a number" in err
