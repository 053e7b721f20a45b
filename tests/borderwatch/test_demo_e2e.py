"""End to end: ``borderwatch demo`` plays the shipped scenario once, headless, and the network must
conclude exactly what the scenario says about every transmitter, in the realistic world (6 dB
shadowing, model and calibration error, the localiser at its defaults), with every incident heard by
three or more sensors placed by time difference of arrival.

One play (the default 90 s of scenario, about 100 s of wall time) is shared by every test of this
module. The assertions read what any user of the demo gets: the alert events of ``--alerts-jsonl``
(the documented alert schema), the archive of ``--out`` (SQLite, HDF5, SigMF) and its summary.json,
so they check the command, not its internals.

The incidents (borderwatch/data/demo_scenario.toml):
1. unlicensed FM 100.1 MHz in Zhejiang, 8 km from Jiangsu -> unlicensed + cross_border, ZJ -> JS;
2. AH-PMR-0042 (410.2125 MHz) at +15 dB e.r.p. -> cross_border + licence_violation, AH -> JS;
3. a carrier on maritime ch 16 off Chongming (SH) -> unlicensed + cross_border, SH -> JS, and a
   safety band: published to every province;
4. ZJ-PMR-0107 5 kHz off 152.375 MHz -> licence_violation + cross_border (heard above the 12 dBuV/m
   PMR 150 limit in JS and SH), ZJ -> JS, SH;
5. ZJ-FM-0003 (100.9 MHz) as licensed but above the field Shanghai agreed -> cross_border ZJ -> SH, the
   agreement (ZJ-SH-2025-002) quoted in the findings;
6. the new JS-FM-0020 (99.8 MHz, Taicang), coordination pending -> cross_border JS -> SH, ZJ;
plus licensed stations within licence (ZJ-PMR-0065 410.7625 MHz, AH-PMR-0010 409.75 MHz, and the FM
broadcaster SH-FM-0005 99.4 MHz, agreed with JS and ZJ and heard there) that must raise nothing.
"""

from __future__ import annotations

import contextlib
import io
import json
import sqlite3
from collections import defaultdict

import h5py
import numpy as np
import pytest

from borderwatch.cli import main as cli_main
from station_db.geo import haversine_km

pytestmark = pytest.mark.slow

#: (freq_hz, tolerance_hz, verdicts, source, affected, notified, true position)
INCIDENTS = {
    "pirate_fm": (100.1e6, 30e3, {"unlicensed", "cross_border"}, ["ZJ"], ["JS"], {"ZJ", "JS"}, (30.78, 120.62)),
    "ah_pmr_0042": (410.2125e6, 6e3, {"cross_border", "licence_violation"}, ["AH"], ["JS"], {"AH", "JS"},
                    (31.70, 118.60)),
    "ch16": (156.8e6, 6e3, {"unlicensed", "cross_border"}, ["SH"], ["JS"], {"AH", "JS", "SH", "ZJ"}, (31.55, 121.55)),
    "zj_pmr_0107": (152.380e6, 6e3, {"licence_violation", "cross_border"}, ["ZJ"], ["JS", "SH"], {"ZJ", "JS", "SH"},
                    (30.75, 120.75)),
    "zj_fm_0003": (100.9e6, 30e3, {"cross_border"}, ["ZJ"], ["SH"], {"ZJ", "SH"}, (30.705, 120.90319)),
    "js_fm_0020": (99.8e6, 30e3, {"cross_border"}, ["JS"], ["SH", "ZJ"], {"JS", "SH", "ZJ"}, (31.47, 121.08)),
}
TRAFFIC_HZ = (410.7625e6, 409.75e6, 99.4e6)
MAX_POSITION_ERROR_KM = 5.0
PINNED_KEYS = {"id", "event", "state", "verdicts", "severity", "band", "f_center_hz", "bandwidth_hz",
               "provinces_source", "provinces_affected", "sensors", "position", "candidate_stations",
               "first_seen", "last_seen"}


@pytest.fixture(scope="module")
def played(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    jsonl = out / "alerts.jsonl"
    log = out / "stdout.txt"
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = cli_main(["demo", "--out", str(out / "archive"), "--alerts-jsonl", str(jsonl), "--plain"])
    log.write_text(buf.getvalue())
    events = [json.loads(line) for line in jsonl.read_text().splitlines()]
    summary = json.loads((out / "archive" / "summary.json").read_text())
    return {"rc": rc, "out": out / "archive", "events": events, "summary": summary, "stdout": buf.getvalue()}


def final_alerts(events):
    last = {}
    for ev in events:
        last[ev["id"]] = ev
    return last


def incident_of(alert):
    hits = [k for k, v in INCIDENTS.items() if abs(alert["f_center_hz"] - v[0]) <= v[1]]
    return hits[0] if hits else None


def test_demo_command_succeeds_and_says_so(played):
    assert played["rc"] == 0, played["stdout"][-3000:]
    assert "RESULT: all 6 incidents raised the expected alerts" in played["stdout"]
    assert played["summary"]["passed"] is True
    assert 85.0 <= played["summary"]["duration_s"] <= 100.0


def test_every_event_follows_the_documented_schema(played):
    events = played["events"]
    assert len(events) >= 4
    for ev in events:
        assert PINNED_KEYS <= set(ev), sorted(PINNED_KEYS - set(ev))
        assert ev["event"] in ("opened", "updated", "acknowledged", "resolved")
        assert set(ev["verdicts"]) <= {"unlicensed", "cross_border", "licence_violation"}
    opened = defaultdict(int)
    for ev in events:
        opened[ev["id"]] += ev["event"] == "opened"
    assert set(opened.values()) == {1}  # each alert opened exactly once (no flapping)


def test_each_incident_raised_exactly_one_alert_with_the_right_verdicts_and_provinces(played):
    alerts = final_alerts(played["events"])
    by_incident = defaultdict(list)
    for a in alerts.values():
        by_incident[incident_of(a)].append(a)
    assert None not in by_incident, [(a["f_center_hz"], a["verdicts"]) for a in by_incident.get(None, [])]
    assert sorted(by_incident) == sorted(INCIDENTS)
    for name, (_, _, verdicts, source, affected, _, _) in INCIDENTS.items():
        (a,) = by_incident[name]
        assert set(a["verdicts"]) == verdicts, (name, a["verdicts"])
        assert sorted(a["provinces_source"]) == sorted(source), (name, a["provinces_source"])
        assert sorted(a["provinces_affected"]) == sorted(affected), (name, a["provinces_affected"])


def test_each_alert_reached_exactly_the_provinces_that_must_act(played):
    routed = {o["transmitter"]: set(o["routed_to"]) for o in played["summary"]["outcomes"]}
    assert routed["PIRATE-FM-100.1"] == INCIDENTS["pirate_fm"][5]
    assert routed["AH-PMR-0042"] == INCIDENTS["ah_pmr_0042"][5]
    assert routed["CH16-INTERFERER"] == INCIDENTS["ch16"][5]  # maritime safety band: everybody
    assert routed["ZJ-PMR-0107"] == INCIDENTS["zj_pmr_0107"][5]
    assert routed["ZJ-FM-0003"] == INCIDENTS["zj_fm_0003"][5]
    assert routed["JS-FM-0020"] == INCIDENTS["js_fm_0020"][5]


def test_estimated_positions_are_within_5_km_and_rest_on_time_differences(played):
    alerts = final_alerts(played["events"])
    for a in alerts.values():
        name = incident_of(a)
        lat, lon = INCIDENTS[name][6]
        pos = a["position"]
        assert pos is not None, name
        err_km = float(haversine_km(pos["lat"], pos["lon"], lat, lon))
        assert err_km <= MAX_POSITION_ERROR_KM, (name, err_km)
        probs = pos["provinces"]
        assert max(probs, key=probs.get) == INCIDENTS[name][3][0]  # the source province dominates the region
        # heard by >= 3 sensors: a TDOA round placed it (alone or fused with the levels)
        assert len(a["sensors"]) < 3 or pos["method"] in ("tdoa", "fused"), (name, len(a["sensors"]), pos)


@pytest.mark.xfail(strict=False, reason="an honest 95 % region leaves the truth outside about one fix in twenty, so "
                   "six fixes all inside their regions happens in about three plays of four; measured: all inside "
                   "with the solver's block-scatter sigmas, the NFM fixes up to 1.2 km outside before them")
def test_estimated_positions_are_within_the_stated_error(played):
    alerts = final_alerts(played["events"])
    for a in alerts.values():
        lat, lon = INCIDENTS[incident_of(a)][6]
        pos = a["position"]
        assert float(haversine_km(pos["lat"], pos["lon"], lat, lon)) <= pos["error_km"], (incident_of(a), pos)


def test_each_tdoa_round_kept_its_snapshots_and_fix_as_evidence(played):
    from sigmf import sigmffile

    from borderwatch.demo_scenario import load_demo_scenario

    on_air = {t.id for t in load_demo_scenario().scenario.transmitters}
    alerts = final_alerts(played["events"])
    tdoa = [a for a in alerts.values() if a["position"]["method"] in ("tdoa", "fused")]
    assert len(tdoa) >= 5
    for a in tdoa:
        fix = a["tdoa"]
        assert "error" not in fix and fix["reference_station"] in on_air, fix  # aligned on a station on the air
        snaps = [e for e in a["evidence"] if e.endswith(".sigmf-meta") and "/tdoa-" in e]
        assert len(snaps) >= 3 and any(e.endswith(".tdoa.json") for e in a["evidence"]), a["evidence"]
        s = sigmffile.fromfile(snaps[0])
        labels = [x["core:label"] for x in s.get_annotations()]
        assert labels == ["ref_before", "target", "ref_after"] and s.read_samples().dtype == np.complex64


def test_the_summary_prints_how_each_incident_was_placed(played):
    out = played["stdout"]
    header = next(line for line in out.splitlines() if "transmitter" in line and "position by" in line)
    assert "sensors" in header
    rows = [line.split() for line in out.splitlines() if line.startswith("  ok ")]
    methods = {r[1]: r[8] for r in rows if r[1] in {o["transmitter"] for o in played["summary"]["outcomes"]
                                                    if o["expected"]["verdicts"]}}
    assert len(methods) == 6 and set(methods.values()) <= {"tdoa", "fused"}, methods
    for o in played["summary"]["outcomes"]:
        if o["expected"]["verdicts"]:
            assert o["n_sensors"] >= 3 and o["position_method"] in ("tdoa", "fused"), o


def test_the_licensed_station_matched_is_the_one_at_fault(played):
    alerts = final_alerts(played["events"])
    for a in alerts.values():
        name = incident_of(a)
        if name in ("ah_pmr_0042", "zj_pmr_0107"):
            ids = [c["station_id"] for c in a["candidate_stations"]]
            assert {"ah_pmr_0042": "AH-PMR-0042", "zj_pmr_0107": "ZJ-PMR-0107"}[name] in ids


def test_the_station_above_its_agreed_value_is_reported_with_the_agreement(played):
    alerts = [a for a in final_alerts(played["events"]).values() if incident_of(a) == "zj_fm_0003"]
    assert alerts and any("above the agreement SH agreed 61.7 dBuV/m at the border (ZJ-SH-2025-002" in f
                          for f in alerts[0]["findings"]), alerts[0]["findings"] if alerts else None


def test_licensed_traffic_raised_nothing(played):
    for ev in played["events"]:
        assert all(abs(ev["f_center_hz"] - f) > 12.5e3 for f in TRAFFIC_HZ), ev["id"]
    heard = {o["transmitter"]: o for o in played["summary"]["outcomes"]}
    assert heard["ZJ-PMR-0065"]["alert_ids"] == [] and heard["AH-PMR-0010"]["alert_ids"] == []
    assert heard["SH-FM-0005"]["alert_ids"] == []  # agreed with the neighbours that hear it


def test_the_pirate_going_off_air_resolves_its_alert(played):
    alerts = final_alerts(played["events"])
    (pirate,) = [a for a in alerts.values() if incident_of(a) == "pirate_fm"]
    assert pirate["state"] == "resolved" and pirate["resolved_by"] == "auto"
    others = [a for a in alerts.values() if incident_of(a) != "pirate_fm"]
    assert {a["state"] for a in others} == {"open"}


def test_nothing_was_dropped_every_seq_stored_once(played):
    d = played["summary"]["delivery"]
    assert sum(d["rejected"].values()) == 0
    assert d["problems"] == []
    assert len(d["per_sensor"]) == 16
    for sid, s in d["per_sensor"].items():
        assert s["spooled"] > 100, sid
        assert s["stored"] == s["spooled"] and s["missing"] == 0 and s["spool_dropped"] == 0, (sid, s)


def test_alerts_are_in_the_sqlite_archive(played):
    db = sqlite3.connect(played["out"] / "server.db")
    try:
        rows = {r[0]: json.loads(r[1]) for r in db.execute("SELECT id, json FROM alerts")}
    finally:
        db.close()
    assert set(rows) == set(final_alerts(played["events"]))


def test_hdf5_spectra_are_readable_and_each_seq_stored_once(played):
    files = sorted((played["out"] / "spectra").rglob("*.h5"))
    assert len(files) == 16
    for path in files:
        with h5py.File(path, "r") as h:
            assert h.attrs["sensor_id"] and h.attrs["province"] in ("SH", "JS", "ZJ", "AH")
            assert set(h) == {"fm_broadcast", "pmr_150", "maritime_vhf", "pmr_400"}
            for name, g in h.items():
                p = g["power_dbm"][...]
                assert p.shape[0] >= 30 and p.shape[1] == g.attrs["n_bins"]
                assert np.all(np.isfinite(p)) and -160 < float(np.median(p)) < -60
                seqs = g["seq"][...]
                assert len(np.unique(seqs)) == len(seqs), (path.name, name)


def test_sigmf_evidence_is_readable_and_annotated(played):
    from sigmf import sigmffile

    metas = sorted(m for m in (played["out"] / "evidence").rglob("*.sigmf-meta") if not m.name.startswith("tdoa-"))
    assert len(metas) >= 4  # at least one capture per incident (TDOA snapshots aside: their own test)
    incidents = set()
    for meta in metas:
        s = sigmffile.fromfile(str(meta))
        x = s.read_samples()
        assert x.dtype == np.complex64 and len(x) >= 100_000
        f = s.get_captures()[0]["core:frequency"]
        incidents.add(next(k for k, v in INCIDENTS.items() if abs(f - v[0]) <= v[1]))
        (ann,) = s.get_annotations()
        assert ann["core:freq_lower_edge"] < f < ann["core:freq_upper_edge"]
    assert incidents == set(INCIDENTS)


def test_demo_opens_a_case_per_major_or_critical_alert_held_by_the_province_that_must_act(played):
    alerts = final_alerts(played["events"])
    serious = {aid for aid, a in alerts.items() if any(
        ev["id"] == aid and ev["severity"] in ("major", "critical") for ev in played["events"])}
    cases = played["summary"]["cases"]
    assert sorted(c["alert_id"] for c in cases) == sorted(serious) and len(cases) >= 4
    holders = {incident_of(alerts[c["alert_id"]]): c["holder"] for c in cases}
    # unlicensed: the source province finds it; licence violation: the licensee's province
    assert holders["pirate_fm"] == "ZJ" and holders["ch16"] == "SH"
    assert holders["ah_pmr_0042"] == "AH" and holders["zj_pmr_0107"] == "ZJ"
    assert "web view for field teams: https://127.0.0.1:" in played["stdout"]
    assert "cases: " in played["stdout"] and "held by" in played["stdout"]


@pytest.mark.parametrize("seed", [101, 202])
def test_the_realistic_world_of_other_seeds_concludes_by_the_rules_and_places_by_time_differences(tmp_path, seed):
    """Other draws of the same world (paths, receivers' calibration, dongle clocks, waveforms): the same file,
    only ``[scenario] seed`` changed; one full play each (about 100 s of wall time). Which neighbour is
    affected by an unlicensed emitter follows that draw's fields (a sensor just under or over its
    province's limit), so it is held to the rule, not to the shipped draw's list: the provinces, other
    than the source, whose sensors measured it above their border limit (a licensed station's neighbours
    judge it against what they agreed: the shipped expectations hold). Everything else is the shipped
    expectation: one alert per incident, its verdicts and source, within 5 km by time differences when
    three or more sensors heard it, nothing on licensed traffic, nothing lost."""
    from borderwatch.demo_scenario import default_scenario_path

    text = default_scenario_path().read_text(encoding="utf-8")
    assert "\nseed = 2026\n" in text
    scenario = tmp_path / f"demo-seed-{seed}.toml"
    scenario.write_text(text.replace("\nseed = 2026\n", f"\nseed = {seed}\n"), encoding="utf-8")
    jsonl = tmp_path / "alerts.jsonl"
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        cli_main(["demo", "--scenario", str(scenario), "--out", str(tmp_path / "archive"), "--plain",
                  "--alerts-jsonl", str(jsonl)])
    summary = json.loads((tmp_path / "archive" / "summary.json").read_text())
    alerts = final_alerts([json.loads(line) for line in jsonl.read_text().splitlines()])
    draw_dependent = ("affected ", "published to ")
    problems = [f"{o['transmitter']}: {p}" for o in summary["outcomes"] for p in o["problems"]
                if not (_unlicensed(o) and p.startswith(draw_dependent))]
    assert not problems and not summary["stray_alerts"] and not summary["delivery"]["problems"], \
        "\n".join(problems + summary["delivery"]["problems"]) or buf.getvalue()[-3000:]
    for o in summary["outcomes"]:
        if not o["expected"]["verdicts"]:
            continue
        assert o["n_sensors"] < 3 or o["position_method"] in ("tdoa", "fused"), o
        if not _unlicensed(o):
            continue  # licensed: the neighbours' agreed values decide, as the shipped expectations say
        (aid,) = o["alert_ids"]
        a = alerts[aid]
        over = {r["province"] for r in a["sensors"] if r["measured_dbuv_m"] >= r["border_limit_dbuv_m"]}
        assert set(a["provinces_affected"]) == over - set(a["provinces_source"]), (o["transmitter"], a["sensors"])
        assert set(a["provinces_source"]) | set(a["provinces_affected"]) <= set(o["routed_to"]), o


def _unlicensed(outcome: dict) -> bool:
    return "unlicensed" in outcome["expected"]["verdicts"]
