"""Occupancy CSV, alerts GeoJSON and SM.1809-style exports against the archive they came from."""

from __future__ import annotations

import io

import numpy as np
import pytest
from report_testkit import CH_A_HZ, CH_B_HZ, F_START_HZ, F_STEP_HZ, N_BINS, PERIOD, ZJ_SWEEPS, build_world, zj_sweep

from coordination.report import (
    ArchiveReader,
    ExportIntegrityError,
    Period,
    ReportOptions,
    alerts_geojson,
    build_report,
    occupancy_csv,
    read_sm1809,
    verify_sm1809,
    write_all_sm1809,
)
from dsp import wilson_interval


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return build_world(tmp_path_factory.mktemp("report-exports"))


@pytest.fixture(scope="module")
def report(world):
    return build_report(world.data_dir, ReportOptions(Period.parse(PERIOD), stations=world.stations_csv))


def test_occupancy_csv_one_row_per_channel_and_interval(report):
    import csv

    buf = io.StringIO()
    n = occupancy_csv(report, buf)
    rows = list(csv.DictReader(io.StringIO(buf.getvalue())))
    assert len(rows) == n
    js = [r for r in rows if r["sensor_id"] == "js-01"]
    assert len(js) == 3 * 15  # three reports x 15 channels
    a = [r for r in js if float(r["channel_hz"]) == CH_A_HZ]
    assert [int(r["occupied"]) for r in a] == [30, 15, 0]
    assert [float(r["fco"]) for r in a] == [0.5, 0.25, 0.0]
    assert all(int(r["revisits"]) == 60 and r["band"] == "PMR 400" and r["province"] == "JS" for r in a)
    lo, hi = wilson_interval(30, 60)
    assert float(a[0]["fco_ci_low"]) == pytest.approx(float(lo), abs=1e-6)
    assert float(a[0]["fco_ci_high"]) == pytest.approx(float(hi), abs=1e-6)
    assert a[0]["t_start_utc"] == "2026-11-01T00:00:00.000000Z" and a[0]["t_end_utc"] == "2026-11-01T01:00:00.000000Z"
    zj = [r for r in rows if r["sensor_id"] == "zj-01" and float(r["channel_hz"]) == CH_B_HZ]
    assert sum(int(r["revisits"]) for r in zj) == ZJ_SWEEPS
    assert sum(int(r["occupied"]) for r in zj) == ZJ_SWEEPS // 4
    assert {r["source"] for r in zj} == {"archived spectra"}


def test_alerts_geojson_points_nulls_and_response_times(report):
    fc = alerts_geojson(report)
    assert fc["type"] == "FeatureCollection"
    by_id = {f["id"]: f for f in fc["features"]}
    assert sorted(by_id) == ["A1", "A2", "A4", "A4#region"]
    assert by_id["A4"]["geometry"] == {"type": "Point", "coordinates": [120.7, 30.9]}
    assert by_id["A4#region"]["geometry"]["type"] == "Polygon"
    assert by_id["A1"]["geometry"] is None  # not located: GeoJSON null geometry
    assert by_id["A1"]["properties"]["time_to_resolve_s"] == 1800.0
    assert by_id["A2"]["properties"]["time_to_ack_s"] == 300.0 and by_id["A2"]["properties"]["time_to_ack_exact"]
    assert by_id["A4"]["properties"]["verdicts"] == ["unlicensed", "cross_border"]
    assert by_id["A4"]["properties"]["province_probabilities"] == {"ZJ": 0.8, "JS": 0.2}


def test_sm1809_export_holds_every_sweep_and_verifies(world, report, tmp_path):
    with ArchiveReader(world.data_dir) as reader:
        files = write_all_sm1809(reader, report, tmp_path / "sm1809")
    assert [n for _, n in files] == [ZJ_SWEEPS]  # js-01 archived no spectra
    path = files[0][0]
    verify_sm1809(path)
    header, levels, times = read_sm1809(path)
    assert header["LocationName"] == "zj-01" and header["Province"] == "ZJ"
    assert float(header["FreqStart_Hz"]) == F_START_HZ and float(header["FreqStep_Hz"]) == F_STEP_HZ
    assert int(header["DataPoints"]) == N_BINS and int(header["Sweeps"]) == ZJ_SWEEPS
    assert header["LevelUnits"] == "dBm"
    assert levels.shape == (ZJ_SWEEPS, N_BINS)
    np.testing.assert_allclose(levels[0], zj_sweep(0))
    np.testing.assert_allclose(levels[1], zj_sweep(1))
    assert times[0] == "2026-11-02T10:00:00.000000Z"


def test_sm1809_tampering_is_detected(world, report, tmp_path):
    with ArchiveReader(world.data_dir) as reader:
        ((path, _),) = write_all_sm1809(reader, report, tmp_path)
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace(";-80.0;", ";-81.0;", 1), encoding="utf-8")
    with pytest.raises(ExportIntegrityError, match="checksum mismatch"):
        verify_sm1809(path)
    path.write_text(text.rsplit("SHA256;", 1)[0], encoding="utf-8")
    with pytest.raises(ExportIntegrityError, match="no SHA256"):
        verify_sm1809(path)
