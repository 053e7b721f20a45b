"""The report's numbers against the archive they came from (tests/kits/report_testkit.py fixes them)."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from report_testkit import CH_A_HZ, CH_B_HZ, DAY1, HB_GAP, PERIOD, ZJ_SWEEPS, build_world

from coordination.report import Period, ReportDataError, ReportOptions, build_report
from coordination.report.occupancy import SOURCE_REPORTS, SOURCE_SPECTRA
from dsp import wilson_interval


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return build_world(tmp_path_factory.mktemp("report-world"))


@pytest.fixture(scope="module")
def report(world):
    return build_report(world.data_dir, ReportOptions(Period.parse(PERIOD), stations=world.stations_csv))


def _sb(report, sensor_id):
    (sb,) = [s for s in report.site_bands if s.site.sensor_id == sensor_id]
    return sb


def _channel(occ, f_hz):
    k = int(np.argmin(np.abs(occ.channel_centers_hz - f_hz)))
    assert occ.channel_centers_hz[k] == pytest.approx(f_hz)
    return k


def test_period_is_whole_utc_days_end_exclusive():
    p = Period.parse("2026-11-01..2026-11-07")
    assert p.start.isoformat() == "2026-11-01T00:00:00+00:00"
    assert p.end.isoformat() == "2026-11-08T00:00:00+00:00"
    assert p.duration_s == 7 * 86400
    assert p.days()[0] == "20261101" and p.days()[-1] == "20261107" and len(p.days()) == 7
    with pytest.raises(ReportDataError, match="--period"):
        Period.parse("2026-11-07..2026-11-01")
    with pytest.raises(ReportDataError, match="YYYY-MM-DD"):
        Period.parse("last week")


def test_missing_archive_names_the_directory(tmp_path):
    with pytest.raises(ReportDataError, match=str(tmp_path / "nope")):
        build_report(tmp_path / "nope", ReportOptions(Period.parse(PERIOD)))


def test_fco_from_sensor_reports_sums_counts_over_intervals(report):
    sb = _sb(report, "js-01")
    occ = sb.occupancy
    assert occ.source == SOURCE_REPORTS
    assert sb.band.name == "PMR 400" and sb.band.raster_hz == 12_500.0
    a, b = _channel(occ, CH_A_HZ), _channel(occ, CH_B_HZ)
    assert occ.revisits[a] == 180 and occ.occupied[a] == 45
    assert occ.fco[a] == pytest.approx(0.25)
    assert occ.fco[b] == pytest.approx(1.0)
    lo, hi = occ.ci
    want_lo, want_hi = wilson_interval(45, 180)
    assert lo[a] == pytest.approx(float(want_lo)) and hi[a] == pytest.approx(float(want_hi))
    assert lo[b] == pytest.approx(float(wilson_interval(180, 180)[0])) and hi[b] == 1.0
    assert occ.fbo == pytest.approx((45 + 180) / (180 * 15))
    assert len(sb.intervals) == 3 and [iv.revisits for iv in sb.intervals] == [60, 60, 60]


def test_fco_from_archived_spectra_when_no_reports(report):
    sb = _sb(report, "zj-01")
    occ = sb.occupancy
    assert occ.source == SOURCE_SPECTRA
    b = _channel(occ, CH_B_HZ)
    assert occ.revisits[b] == ZJ_SWEEPS
    assert occ.occupied[b] == ZJ_SWEEPS // 4
    assert occ.fco[b] == pytest.approx(0.25)
    assert int(occ.occupied.sum()) == ZJ_SWEEPS // 4  # nothing else above threshold
    assert sum(iv.revisits for iv in sb.intervals) == ZJ_SWEEPS  # hourly intervals
    assert sb.median_threshold_dbm == pytest.approx(-100.0)


def test_spectrogram_is_max_hold_of_the_archived_sweeps(report):
    spec = _sb(report, "zj-01").spectrogram
    assert spec.sweeps == ZJ_SWEEPS
    assert np.nanmax(spec.max_dbm) == pytest.approx(-80.0)
    assert np.nanmin(spec.max_dbm) == pytest.approx(-110.0)
    rows_with_data = np.flatnonzero(np.isfinite(spec.max_dbm).any(axis=1))
    t_first = spec.t_edges_s[rows_with_data[0]]
    assert t_first <= (DAY1 + timedelta(days=1, hours=10)).timestamp() < spec.t_edges_s[rows_with_data[0] + 1]
    assert _sb(report, "js-01").spectrogram is None  # js-01 archived no spectra


def test_strongest_emissions_per_channel(report):
    s = _sb(report, "js-01").strongest
    assert [x.channel_hz for x in s] == [CH_B_HZ, 446.05e6]
    assert s[0].power_dbm == pytest.approx(-70.0) and s[0].detections == 10
    assert s[0].field_dbuv_m == pytest.approx(-70.0 + 107.0 + 2.0)
    assert s[1].detections == 5


def test_licensed_versus_measured(report):
    by_id = {c.station_id: c for c in report.stations}
    assert sorted(by_id) == ["JS-T-1", "ZJ-T-1"]  # JS-T-2 (420 MHz) was outside every sensor's sweep
    assert by_id["JS-T-1"].status == "heard_expected"
    assert by_id["JS-T-1"].heard_at == ("js-01",) and "js-01" in by_id["JS-T-1"].expected_at
    assert by_id["ZJ-T-1"].status == "not_heard"
    assert by_id["ZJ-T-1"].expected_at == ("zj-01",) and by_id["ZJ-T-1"].heard_at == ()
    (u,) = report.unlicensed
    assert (u.sensor_id, u.channel_hz, u.detections) == ("js-01", 446.05e6, 5)
    assert u.max_field_dbuv_m == pytest.approx(-80.0 + 107.0 + 2.0)


def test_without_stations_the_section_is_empty_and_says_why(world):
    r = build_report(world.data_dir, ReportOptions(Period.parse(PERIOD)))
    assert r.stations == () and r.unlicensed == ()
    assert any("station database" in n for n in r.notes)


def test_alerts_of_the_period_by_verdict_pair_and_response_times(report):
    a = report.alerts
    assert sorted(r.id for r in a.rows) == ["A1", "A2", "A4"]  # A3 ended before the period
    assert a.by_verdict == {"cross_border": 2, "unlicensed": 2}
    assert a.by_pair == {"JS→ZJ": 1, "ZJ→JS": 2}
    assert a.by_state == {"acknowledged": 1, "open": 1, "resolved": 1}
    rows = {r.id: r for r in a.rows}
    assert rows["A1"].time_to_resolve_s == pytest.approx(1800.0) and rows["A1"].state == "resolved"
    assert rows["A1"].time_to_ack_s == pytest.approx(600.0) and rows["A1"].ack_exact  # from alert_actions
    assert rows["A2"].time_to_ack_s == pytest.approx(300.0) and rows["A2"].ack_exact
    assert rows["A4"].time_to_ack_s is None and rows["A4"].time_to_resolve_s is None
    assert (a.ack.n, a.ack.median_s, a.ack.max_s) == (2, 450.0, 600.0)
    assert (a.resolve.n, a.resolve.max_s) == (1, 1800.0)


def test_province_filter_keeps_its_sensors_and_alerts(world):
    r = build_report(world.data_dir, ReportOptions(Period.parse(PERIOD), province="ZJ",
                                                   stations=world.stations_csv))
    assert [s.sensor_id for s in r.sites] == ["zj-01"]
    assert sorted(x.id for x in r.alerts.rows) == ["A1", "A2", "A4"]  # all involve ZJ
    r = build_report(world.data_dir, ReportOptions(Period.parse(PERIOD), province="AH"))
    assert r.sites == () and r.alerts.rows == ()


def test_band_filter_accepts_rules_name_or_profile(world):
    for name in ("PMR 400", "pmr_400", "pmr 400"):
        r = build_report(world.data_dir, ReportOptions(Period.parse(PERIOD), band=name))
        assert len(r.site_bands) == 2, name
    r = build_report(world.data_dir, ReportOptions(Period.parse(PERIOD), band="Maritime VHF"))
    assert r.site_bands == () and r.alerts.rows == ()


def test_sensor_availability_uptime_gaps_and_drops(report):
    av = {a.sensor_id: a for a in report.availability}
    js = av["js-01"]
    # heartbeats every minute on day 1 except 06:00-08:00; silent on day 2
    gap1 = (HB_GAP[1] - HB_GAP[0]).total_seconds() + 60.0
    tail = 86400.0 + 60.0
    assert js.heartbeats == 24 * 60 - 120
    assert js.uptime_fraction == pytest.approx(1.0 - (gap1 + tail) / (2 * 86400.0))
    assert len(js.gaps) == 2 and js.longest_gap_s == pytest.approx(tail)
    assert (js.sample_drops, js.spool_drops) == (7, 3)
    zj = av["zj-01"]
    assert zj.sweeps == ZJ_SWEEPS and zj.heartbeats == 0
    assert zj.uptime_fraction == pytest.approx((ZJ_SWEEPS - 1) * 60.0 / (2 * 86400.0))


def test_period_without_data_reports_nothing_measured(world):
    r = build_report(world.data_dir, ReportOptions(Period.parse("2026-12-01..2026-12-01")))
    assert r.site_bands == () and r.alerts.rows == ()
    assert all(a.uptime_fraction == 0.0 for a in r.availability)


def test_sweep_threshold_is_stored_one_or_floor_plus_margin(world, tmp_path):
    """Files that keep threshold_dbm per row (first archive format) are read as they are; newer files
    keep the floor only, and the threshold is floor + the band margin (as the sensor computes it)."""
    import shutil

    import h5py

    from coordination.report import ArchiveReader

    period = Period.parse(PERIOD)
    with ArchiveReader(world.data_dir) as reader:
        (chunk,) = list(reader.iter_spectra("zj-01", "pmr_400", period, margin_db=6.0))
    assert np.all(chunk.threshold_dbm == -100.0) and np.all(chunk.noise_floor_dbm == -106.0)
    data = tmp_path / "data"
    shutil.copytree(world.data_dir, data)
    (path,) = (data / "spectra" / "zj-01").glob("*.h5")
    with h5py.File(path, "r+") as f:
        g = f["pmr_400"]
        if "threshold_dbm" in g:
            del g["threshold_dbm"]
        g.create_dataset("threshold_dbm", data=np.full(g["t_utc"].shape, -70.0, np.float32))
    with ArchiveReader(data) as reader:
        (chunk,) = list(reader.iter_spectra("zj-01", "pmr_400", period, margin_db=6.0))
    assert np.all(chunk.threshold_dbm == -70.0)
    r = build_report(data, ReportOptions(period))
    assert int(_sb(r, "zj-01").occupancy.occupied.sum()) == 0  # -80 dBm is below a -70 dBm threshold
