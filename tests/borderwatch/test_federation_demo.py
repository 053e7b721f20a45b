"""``borderwatch demo --federated``: four centres on a real PostgreSQL reach the single demo's verdicts.

A 45 s play (the first three incidents; the fourth comes on air too late to be judged and is marked
skipped), judged by the demo itself plus: one alert per incident across the four centres, routed to
the same provinces as with one server (tests/borderwatch/test_demo_e2e.py pins those for the single server).
"""

from __future__ import annotations

import contextlib
import io
import json
from collections import defaultdict

import pytest

from borderwatch.cli import main as cli_main
from station_db.pg_cluster import find_pg_bin

pytestmark = pytest.mark.slow

#: the single-server demo's conclusions (test_demo_e2e.py INCIDENTS): frequency, verdicts, source, affected
EXPECTED = {
    "pirate_fm": (100.1e6, 30e3, {"unlicensed", "cross_border"}, ["ZJ"], ["JS"]),
    "ah_pmr_0042": (410.2125e6, 6e3, {"cross_border", "licence_violation"}, ["AH"], ["JS"]),
    "ch16": (156.8e6, 6e3, {"unlicensed", "cross_border"}, ["SH"], ["JS"]),
}


def test_federated_demo_concludes_what_the_single_server_demo_does(tmp_path):
    if find_pg_bin() is None:
        pytest.skip("PostgreSQL server binaries not installed (Debian: apt-get install postgresql)")
    jsonl = tmp_path / "alerts.jsonl"
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = cli_main(["demo", "--federated", "--duration", "45", "--out", str(tmp_path / "out"),
                       "--alerts-jsonl", str(jsonl), "--plain"])
    out = buf.getvalue()
    assert rc == 0, out[-3000:]
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["passed"] and not summary["delivery"]["problems"], summary
    judged = [o for o in summary["outcomes"] if not o.get("skipped")]
    assert len(judged) >= 5  # 3 incidents + 2 licensed stations judged in 45 s
    events = [json.loads(line) for line in jsonl.read_text().splitlines()]
    ids_by_incident: dict[str, set[str]] = defaultdict(set)
    last: dict[str, dict] = {}
    for ev in events:
        last[ev["id"]] = ev
        for name, (f, tol, *_rest) in EXPECTED.items():
            if abs(ev["f_center_hz"] - f) <= tol:
                ids_by_incident[name].add(ev["id"])
    for name, (_f, _tol, verdicts, source, affected) in EXPECTED.items():
        assert len(ids_by_incident[name]) == 1, (name, ids_by_incident[name])  # one alert, not one per centre
        doc = last[next(iter(ids_by_incident[name]))]
        assert set(doc["verdicts"]) == verdicts and doc["provinces_source"] == source
        assert doc["provinces_affected"] == affected
    # every sensor's messages stored exactly once in the shared store
    per_sensor = summary["delivery"]["per_sensor"]
    assert len(per_sensor) == 16 and all(v["missing"] == 0 and v["stored"] == v["spooled"]
                                         for v in per_sensor.values())
