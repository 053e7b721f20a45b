"""The archive's one reader reads what the writer wrote, through the writer's handles (the API) or
read-only files (console, reports), and reads the first archive format's per-row columns the same way."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import h5py
import numpy as np
from server_testkit import T0

from coordination.archive import SensorMeta, SpectrumArchive
from coordination.archive_reader import SpectrumArchiveReader
from coordination.protocol import Spectrum, format_utc

META = SensorMeta("js-01", "JS", 31.3, 120.6, 20.0)


def _spectrum(seq: int, f_start_hz: float = 446.0e6, n_bins: int = 32) -> Spectrum:
    power = np.linspace(-120.0, -60.0, n_bins, dtype=np.float32) + seq
    return Spectrum("js-01", seq, format_utc(T0 + timedelta(seconds=seq)), profile="pmr446", f_start_hz=f_start_hz,
                    f_step_hz=3125.0, power_dbm=power, noise_floor_dbm=-115.0 + seq, threshold_dbm=-105.0,
                    antenna_factor_db_m=2.5)


def _write(root: Path) -> SpectrumArchive:
    archive = SpectrumArchive(root)
    for seq in range(5):
        archive.stage(META, _spectrum(seq))
    archive.stage(META, _spectrum(5, f_start_hz=446.1e6))  # the axis changed: a second group
    written, failed = archive.flush()
    assert len(written) == 6 and not failed
    return archive


def test_reader_through_the_writer_and_read_only_agree(tmp_path: Path) -> None:
    archive = _write(tmp_path)
    live = archive.reader.last_rows("js-01", "pmr446", 10)
    archive.close()
    files = SpectrumArchiveReader(tmp_path)
    cold = files.last_rows("js-01", "pmr446", 10)
    assert live is not None and cold is not None
    assert live.info.group == cold.info.group == "pmr446~2" and live.info.f_start_hz == 446.1e6  # the latest axis
    np.testing.assert_array_equal(live.power_dbm, cold.power_dbm)
    assert cold.seq.tolist() == [5] and cold.antenna_factor_db_m.tolist() == [2.5]
    assert np.isnan(cold.threshold_dbm).all()  # this format keeps no threshold per row


def test_reader_lists_groups_with_axes_and_time_spans(tmp_path: Path) -> None:
    _write(tmp_path).close()
    files = SpectrumArchiveReader(tmp_path)
    [path] = files.files()
    assert files.sensor_ids() == ["js-01"] and files.days("js-01") == [T0.strftime("%Y%m%d")]
    assert files.file_attrs(path)["province"] == "JS"
    first, second = files.groups(path)
    assert (first.group, first.rows, first.n_bins, first.profile) == ("pmr446", 5, 32, "pmr446")
    assert first.t_last_s - first.t_first_s == 4.0 and second.t_first_s == T0.timestamp() + 5
    rows = files.rows(first, 1, 3)
    assert rows.seq.tolist() == [1, 2] and rows.noise_floor_dbm.tolist() == [-114.0, -113.0]
    np.testing.assert_allclose(rows.power_dbm[:, 0], [-119.0, -118.0])


def test_reader_reads_the_first_formats_per_row_threshold_and_antenna_factor(tmp_path: Path) -> None:
    path = tmp_path / "zj-01" / "zj-01_20261125.h5"
    path.parent.mkdir()
    with h5py.File(path, "w") as f:
        f.attrs.update({"sensor_id": "zj-01", "province": "ZJ"})
        g = f.create_group("vhf")
        g.attrs.update({"profile": "vhf", "f_start_hz": 150e6, "f_step_hz": 6250.0, "n_bins": 4, "detector": "max"})
        g["power_dbm"] = np.full((3, 4), -90.0, np.float32)
        g["t_utc"] = T0.timestamp() + np.arange(3.0)
        g["seq"] = np.arange(3, dtype=np.int64)
        g["noise_floor_dbm"] = np.full(3, -110.0, np.float32)
        g["threshold_dbm"] = np.array([-100.0, -99.0, -98.0], np.float32)
        g["antenna_factor_db_m"] = np.array([1.0, 1.5, 2.0], np.float32)
    files = SpectrumArchiveReader(tmp_path)
    [info] = files.groups(path)
    rows = files.rows(info, 0, 3)
    assert rows.threshold_dbm.tolist() == [-100.0, -99.0, -98.0]
    assert rows.antenna_factor_db_m.tolist() == [1.0, 1.5, 2.0] and info.detector == "max"
