"""``borderwatch scan``: rtl_power-compatible CSV, HDF5, hopping over a simulated band, rtl_tcp hops."""

from __future__ import annotations

import csv
from pathlib import Path

import h5py
import numpy as np
import pytest

from borderwatch.cli import main
from sdr.rtltcp_server import RtlTcpServer
from sdr.scenario import parse_scenario
from sdr.sources import SimulatedSource
from sdr.sweep import SweepSettings, nfft_for, plan_sweep, run_sweep

SKYLINK = "rtl433/skylink_ha434tl/skylink_ha434tl_g001_433.92M_250k.cu8"


@pytest.fixture(scope="module")
def rec(shared_dir: Path) -> Path:
    return shared_dir / "data" / "recordings"


def read_rtl_power(path: Path) -> list[list[str]]:
    with open(path, newline="") as fh:
        return [[c.strip() for c in row] for row in csv.reader(fh)]


def row_bins(rows: list[list[str]]) -> tuple[np.ndarray, np.ndarray]:
    """Bin centres and dB values of rtl_power rows: bin i of a row is at Hz low + i * step."""
    freqs, values = [], []
    for r in rows:
        low, high, step = float(r[2]), float(r[3]), float(r[4])
        db = [float(v) for v in r[6:]]
        assert high == pytest.approx(low + len(db) * step, abs=1.0)
        freqs.extend(low + step * np.arange(len(db)))
        values.extend(db)
    return np.array(freqs), np.array(values)


def test_scan_of_a_recording_matches_the_rtl_power_layout(rec: Path, tmp_path: Path) -> None:
    out = tmp_path / "sweep.csv"
    assert main(["scan", "--source", str(rec / SKYLINK), "--start", "433.795M", "--stop", "434.045M",
                 "--bin", "1953.125", "-o", str(out)]) == 0
    ours = read_rtl_power(out)
    ref = read_rtl_power(rec / "derived/skylink_g001_rtl_power_format.csv")
    assert len(ours[0]) == 6 + 128
    assert ours[0][4] == "1953.12" and ours[0][5] == "262144"  # step, samples (the whole recording)
    f_ours, db_ours = row_bins(ours)
    f_ref, db_ref = row_bins(ref)
    np.testing.assert_allclose(f_ours, f_ref, atol=1.0)  # the same 128 bins, 433.795-434.045 MHz
    assert f_ours[np.argmax(db_ours)] == pytest.approx(433.8136e6, abs=2e3)  # the Skylink carrier
    k = int(np.argmin(np.abs(f_ours - 434.000e6)))
    assert db_ours[k] - np.median(db_ours) > 3  # the 434.000 MHz line
    # same real capture, same averaging: the spectra agree in shape (offsets of the dB scale aside)
    assert np.corrcoef(db_ours, db_ref)[0, 1] > 0.95


def test_a_recording_ends_after_the_sweeps_it_holds(rec: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sweep.csv"
    assert main(["scan", "--source", str(rec / SKYLINK), "--start", "433.8M", "--stop", "434.0M", "--bin", "2k",
                 "--interval", "0.5", "--runs", "5", "-o", str(out)]) == 0
    assert len(read_rtl_power(out)) == 2  # 1.05 s of samples: two sweeps of 0.5 s
    assert "ended after 2 sweep(s)" in capsys.readouterr().err


def test_scan_outside_the_recording_is_a_one_line_error(rec: Path, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", "--source", str(rec / SKYLINK), "--start", "433M", "--stop", "434M", "--bin", "2k",
                 "-o", str(tmp_path / "x.csv")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "outside the recording" in err


def band_scenario() -> tuple[object, dict[str, float]]:
    cws = {"A": 95.7e6, "B": 99.95e6, "C": 104.3e6}
    sc = parse_scenario({
        "sensors": [{"id": "S", "province": "Zhejiang", "lat": 30.0, "lon": 120.0}],
        "transmitters": [{"id": k, "lat": 30.05, "lon": 120.0, "freq_hz": f, "erp_dbw": -10.0 - 5 * i,
                          "modulation": "cw"} for i, (k, f) in enumerate(cws.items())],
    })
    return sc, cws


def cw_power_dbm(freqs: np.ndarray, dbm: np.ndarray, f_hz: float) -> float:
    """Sum of the bins around a carrier (per-bin power integrates; a Hann tone spreads over ~3 bins)."""
    k = int(np.argmin(np.abs(freqs - f_hz)))
    return float(10 * np.log10(np.sum(10 ** (dbm[k - 4 : k + 5] / 10))))


def test_hopping_sweep_of_a_simulated_band_finds_each_carrier_at_its_level() -> None:
    sc, cws = band_scenario()
    src = SimulatedSource(sc, "S", gain_db=40.2)
    settings = SweepSettings(95e6, 105e6, 10e3, interval_s=0.6, crop_fraction=0.25)
    plan = plan_sweep(src, settings)
    assert plan.nfft == nfft_for(2.4e6, 10e3) == 256
    assert len(plan.hops_hz) == 6  # 10 MHz in 1.8 MHz kept per hop
    result = run_sweep(src, settings, plan)
    assert result is not None and result.units == "dBm"
    assert result.freqs_hz[0] == pytest.approx(95e6, abs=result.bin_hz)
    assert result.freqs_hz.size == round(10e6 / result.bin_hz)
    for tx_id, f in cws.items():
        assert cw_power_dbm(result.freqs_hz, result.power_db, f) == pytest.approx(src.received_dbm(tx_id), abs=1.0)


def test_scan_writes_hdf5_that_describes_itself(tmp_path: Path) -> None:
    sc_path = tmp_path / "band.toml"
    sc_path.write_text(
        '[[sensors]]\nid = "S"\nprovince = "Zhejiang"\nlat = 30.0\nlon = 120.0\n'
        '[[transmitters]]\nid = "A"\nlat = 30.05\nlon = 120.0\nfreq_hz = 99.95e6\nerp_dbw = -10\nmodulation = "cw"\n'
    )
    out = tmp_path / "sweeps.h5"
    uri = f"sim:{sc_path}?sensor=S&gain=40"
    assert main(["scan", "--source", uri, "--start", "98M", "--stop", "102M", "--bin", "10k", "--interval", "0.2",
                 "--crop", "0.25", "--runs", "3", "-o", str(out)]) == 0
    with h5py.File(out) as h5:
        power = h5["power_db"][:]
        freqs = h5["freqs_hz"][:]
        assert power.shape == (3, freqs.size) and freqs.size == round(4e6 / h5.attrs["bin_hz"])
        assert h5.attrs["units"] == "dBm" and h5.attrs["source"] == uri
        assert h5.attrs["hops"] == 3 and h5.attrs["crop_fraction"] == 0.25
        assert len(h5["t_start_utc"]) == 3
        k = int(np.argmax(power[0]))
        assert freqs[k] == pytest.approx(99.95e6, abs=10e3)


def test_scan_through_rtl_tcp_hops_the_remote_receiver() -> None:
    sc, cws = band_scenario()
    served = SimulatedSource(sc, "S", gain_db=40.2)
    # Paced like a real dongle (here 4x faster): samples of the old frequency still in flight after a
    # retune are then few, and the sweep's settle time discards them.
    with RtlTcpServer(served, speed=4.0) as server:
        from sdr.sources import open_source

        with open_source(f"rtltcp://127.0.0.1:{server.port}?rate=2.4M&gain=40.2&buffer_s=4") as client:
            settings = SweepSettings(95e6, 105e6, 10e3, interval_s=0.3, crop_fraction=0.25, settle_s=0.05)
            plan = plan_sweep(client, settings)
            result = run_sweep(client, settings, plan)
    hops = [f for f in server.commands_named("frequency")][1:]  # the first is the client's initial tune
    assert hops == [round(h) for h in plan.hops_hz]
    assert server.commands_named("gain") == [402]
    assert result is not None and result.units == "dBFS"  # a network receiver is not calibrated
    for f in cws.values():
        k = int(np.argmin(np.abs(result.freqs_hz - f)))
        assert result.power_db[k] - np.median(result.power_db) > 20


def test_rtltcp_serve_command_streams_a_recording(rec: Path, loopback_port: int) -> None:
    import threading

    from sdr.sources import RtlTcpSource

    code: list[int] = []
    t = threading.Thread(target=lambda: code.append(main([
        "rtltcp-serve", "--source", f"{rec / SKYLINK}?loop=1", "--port", str(loopback_port), "--speed", "8",
        "--duration", "1.0"])))
    t.start()
    try:
        for _ in range(50):
            try:
                client = RtlTcpSource("127.0.0.1", loopback_port, sample_rate_hz=250e3, center_freq_hz=433.92e6)
                break
            except Exception:
                threading.Event().wait(0.02)
        with client:
            assert client.read(50_000).size == 50_000
    finally:
        t.join(5)
    assert code == [0]


def test_each_run_over_a_recording_gets_its_own_time(tmp_path: Path) -> None:
    # 4 s of noise at 64 kS/s as cu8 (a raw recording: no capture time); four 1 s sweeps.
    rng = np.random.default_rng(17)
    rate = 64_000
    u8 = np.clip(127.5 + 20 * rng.standard_normal(2 * 4 * rate), 0, 255).astype(np.uint8)
    path = tmp_path / "noise_100M_64k.cu8"
    u8.tofile(path)
    out = tmp_path / "sweep.csv"
    assert main(["scan", "--source", f"{path}?rate=64k&freq=100M", "--start", "99.99M", "--stop", "100.01M",
                 "--bin", "1k", "--interval", "1", "--runs", "4", "-o", str(out)]) == 0
    rows = read_rtl_power(out)
    stamps = [np.datetime64(f"{r[0]}T{r[1]}") for r in rows]
    assert len(rows) == 4
    steps = np.diff(stamps).astype("timedelta64[s]").astype(int)
    assert steps.tolist() == [1, 1, 1]  # one second of samples per sweep, in the recording's timeline
