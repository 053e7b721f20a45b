"""``borderwatch report`` end to end: on a known archive, and on what a real server stored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
import zmq
from report_testkit import CH_A_HZ, PERIOD, ZJ_SWEEPS, build_world, read_csv, read_json
from server_testkit import SimSensor, loopback_config

from borderwatch.cli import main
from coordination.protocol import Heartbeat, Occupancy, Spectrum, format_utc
from coordination.report import ArchiveReader, Period, ReportOptions, build_report, verify_sm1809
from coordination.report.occupancy import combine_intervals, occupancy_from_spectra


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return build_world(tmp_path_factory.mktemp("report-cli"))


def test_report_command_writes_html_and_every_export(world, tmp_path, capsys):
    out = tmp_path / "report.html"
    rc = main(["report", "--archive", str(world.data_dir), "--period", PERIOD, "--stations", str(world.stations_csv),
               "-o", str(out), "--occupancy-csv", str(tmp_path / "occ.csv"),
               "--alerts-geojson", str(tmp_path / "alerts.geojson"), "--sm1809", str(tmp_path / "sm")])
    assert rc == 0
    text = out.read_text(encoding="utf-8")
    assert 'data-channel-hz="446012500.0" data-fco="0.250000"' in text
    rows = read_csv(tmp_path / "occ.csv")
    assert sum(int(r["occupied"]) for r in rows if float(r["channel_hz"]) == CH_A_HZ) == 45
    features = read_json(tmp_path / "alerts.geojson")["features"]
    assert [f["id"] for f in features if f["properties"]["feature"] == "position"] == ["A1", "A2", "A4"]
    (sm,) = (tmp_path / "sm").glob("*.sm1809.txt")
    verify_sm1809(sm)
    printed = capsys.readouterr().out
    assert f"({ZJ_SWEEPS} sweeps)" in printed and "(3 alerts)" in printed


def test_report_command_in_chinese_for_one_province(world, tmp_path):
    out = tmp_path / "zh.html"
    assert main(["report", "--archive", str(world.data_dir), "--period", PERIOD, "--province", "js",
                 "--lang", "zh_CN", "-o", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert "电磁环境报告" in text and "省份: 江苏" in text
    assert 'data-sensor="js-01"' in text and 'data-sensor="zj-01"' not in text


@pytest.mark.parametrize(("args", "message"), [
    (["--period", "2026-11-07..2026-11-01"], "last day is before the first"),
    (["--period", PERIOD, "--lang", "fr_FR"], "fr_FR"),
])
def test_report_command_user_errors_are_one_line(world, tmp_path, capsys, args, message):
    rc = main(["report", "--archive", str(world.data_dir), "-o", str(tmp_path / "x.html"), *args])
    err = capsys.readouterr().err
    assert rc == 1 and message in err and "Traceback" not in err and err.count("\n") == 1


def test_report_command_missing_archive(tmp_path, capsys):
    rc = main(["report", "--archive", str(tmp_path / "none"), "--period", PERIOD, "-o", str(tmp_path / "r.html")])
    assert rc == 1 and "no such directory" in capsys.readouterr().err


def test_report_of_what_a_real_server_stored(tmp_path):
    """A DEALER speaking the protocol to the real server; the report reads back what it stored."""
    from coordination.server import Server

    t0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
    n = 40
    freqs = 446.0e6 + 3125.0 * np.arange(64)
    centers = 446.00625e6 + 12_500.0 * np.arange(15)
    busy = np.abs(freqs - centers[4]) < 6250.0
    ctx = zmq.Context()
    srv = Server(loopback_config(tmp_path)).start()
    try:
        s = SimSensor(ctx, srv.endpoints["sensors"], sensor_id="js-01", province="JS", lat=31.30, lon=120.52)
        s.hello()
        occupied = 0
        for k in range(n):
            p = np.full(64, -110.0, np.float32)
            if k % 5 == 0:
                p[busy] = -75.0
                occupied += 1
            s.send(Spectrum("js-01", 1 + k, format_utc(t0 + timedelta(seconds=60 * k)), profile="pmr446",
                            f_start_hz=446.0e6, f_step_hz=3125.0, power_dbm=p, noise_floor_dbm=-110.0,
                            threshold_dbm=-100.0, antenna_factor_db_m=2.0))
        fco = np.zeros(15, np.float32)
        fco[4] = occupied / n
        s.send(Occupancy("js-01", 100, format_utc(t0 + timedelta(seconds=60 * n)), profile="pmr446",
                         t_start_utc=format_utc(t0), t_end_utc=format_utc(t0 + timedelta(seconds=60 * n)),
                         revisits=n, threshold_dbm=-100.0, fbo=float(fco.mean()), channel_centers_hz=centers, fco=fco))
        s.send(Heartbeat("js-01", 101, format_utc(t0 + timedelta(seconds=60 * n)),
                         health={"sample_drops": 4.0, "spool_dropped": 0.0}))
        want = {*range(1, n + 1), 100, 101}
        assert s.wait_acked(want, timeout_s=10) == want
        s.close()
    finally:
        srv.stop()
        ctx.term()
    data = tmp_path / "data"
    r = build_report(data, ReportOptions(Period.parse("2026-11-01..2026-11-01")))
    (sb,) = r.site_bands
    assert sb.site.sensor_id == "js-01" and sb.band.profile == "pmr446" and sb.band.name == "PMR 400"
    assert sb.occupancy.fco[4] == pytest.approx(occupied / n) and sb.occupancy.max_revisits == n
    assert sb.spectrogram.sweeps == n and np.nanmax(sb.spectrogram.max_dbm) == pytest.approx(-75.0)
    (av,) = r.availability
    assert av.sweeps == n and av.heartbeats == 1
    # the sensor's own count and a recount from the archived sweeps agree
    with ArchiveReader(data) as reader:
        recount = combine_intervals(occupancy_from_spectra(
            reader.iter_spectra("js-01", "pmr446", Period.parse("2026-11-01..2026-11-01")), centers, 12_500.0))
    assert recount.occupied[4] == occupied and recount.revisits[4] == n
    np.testing.assert_array_equal(recount.occupied, sb.occupancy.occupied)
