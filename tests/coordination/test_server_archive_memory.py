"""The spectrum archive's memory stays bounded while it appends (no chunk kept per row written).

HDF5 2.0 caches up to 8 MiB of chunks per dataset of every open file by default and keeps what an
append-only file writes: a server with one day file open per sensor grew by the size of the
spectra it archived (~1 MiB per sensor-minute at 4096 bins). These tests pin the archive's own
chunk-cache settings and check the resident memory of a few thousand 4096-bin rows.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from server_testkit import T0

from coordination.archive import CHUNK_BYTES, SensorMeta, SpectrumArchive
from coordination.protocol import Spectrum, format_utc

N_BINS = 4096
ROW_BYTES = 4 * N_BINS


def _rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def _trim() -> None:
    """Give freed heap back to the OS, so RSS shows what is still held (not what is fragmented)."""
    name = ctypes.util.find_library("c")
    if name:
        try:
            ctypes.CDLL(name).malloc_trim(0)
        except (OSError, AttributeError):
            pass


def _append_rows(archive: SpectrumArchive, n_sensors: int, seqs: range, power: np.ndarray) -> None:
    for seq in seqs:
        t = format_utc(T0 + timedelta(seconds=seq))
        for i in range(n_sensors):
            sid = f"mem-{i:02d}"
            archive.stage(SensorMeta(sid, "JS"), Spectrum(
                sid, seq, t, profile="p", f_start_hz=446e6, f_step_hz=3125.0, power_dbm=power,
                noise_floor_dbm=-112.0, threshold_dbm=-106.0, antenna_factor_db_m=2.0))
        written, failed = archive.flush()
        assert len(written) == n_sensors and not failed


def test_open_day_files_cache_at_most_two_chunks_per_dataset(tmp_path: Path) -> None:
    archive = SpectrumArchive(tmp_path / "spectra")
    power = np.full(N_BINS, -110.0, dtype=np.float32)
    _append_rows(archive, 1, range(1, 4), power)
    f = next(iter(archive._files.values()))
    for name in ("power_dbm", "t_utc", "seq", "noise_floor_dbm"):
        nslots, nbytes, w0 = f[f"p/{name}"].id.get_access_plist().get_chunk_cache()
        assert nbytes <= 2 * CHUNK_BYTES, (name, nbytes)  # HDF5 2.0 default: 8 MiB
        assert nslots <= 101, (name, nslots)  # default 8191: 64 KiB of slot table per dataset
        assert w0 == 1.0
    archive.close()


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc (Linux)")
def test_resident_memory_does_not_grow_with_the_rows_archived(tmp_path: Path) -> None:
    n_sensors, warm, rows = 24, 20, 160  # 24 open files; 3,360 rows (52.5 MiB of spectra) after warm-up
    archive = SpectrumArchive(tmp_path / "spectra")
    power = (-110.0 + 3.0 * np.random.default_rng(1).standard_normal(N_BINS)).astype(np.float32)
    _append_rows(archive, n_sensors, range(1, warm + 1), power)
    _trim()
    before = _rss_mib()
    _append_rows(archive, n_sensors, range(warm + 1, rows + 1), power)
    _trim()
    grown = _rss_mib() - before
    data_mib = n_sensors * (rows - warm) * ROW_BYTES / 2**20
    # Before the fix the growth was the data itself (~52 MiB here); now the HDF5 chunk index only.
    assert grown < 0.15 * data_mib, f"RSS grew {grown:.1f} MiB while archiving {data_mib:.1f} MiB of spectra"
    archive.close()


def _spectrum(sid: str, seq: int, day_offset: int) -> Spectrum:
    t = format_utc(T0 + timedelta(days=day_offset, seconds=seq))
    return Spectrum(sid, seq, t, profile="p", f_start_hz=446e6, f_step_hz=3125.0,
                    power_dbm=np.full(64, -100.0 - seq, dtype=np.float32), noise_floor_dbm=-112.0,
                    threshold_dbm=-106.0, antenna_factor_db_m=2.0)


def test_a_sensors_past_day_file_is_closed_when_it_writes_a_new_day(tmp_path: Path) -> None:
    archive = SpectrumArchive(tmp_path / "spectra")
    meta = SensorMeta("js-01", "JS")
    archive.stage(meta, _spectrum("js-01", 1, 0))
    archive.stage(SensorMeta("js-02", "JS"), _spectrum("js-02", 1, 0))
    archive.flush()
    day0, day1 = ((T0 + timedelta(days=d)).strftime("%Y%m%d") for d in (0, 1))
    assert {p.name for p in archive._files} == {f"js-01_{day0}.h5", f"js-02_{day0}.h5"}
    # A late row of day 0 staged with day 1's first row: both written in one flush, day 0 stays open
    # while it is part of the batch (undo_last_flush may still cut it back).
    archive.stage(meta, _spectrum("js-01", 2, 0))
    archive.stage(meta, _spectrum("js-01", 3, 1))
    written, failed = archive.flush()
    assert [m.seq for m in written] == [2, 3] and not failed
    assert f"js-01_{day0}.h5" in {p.name for p in archive._files}
    archive.stage(meta, _spectrum("js-01", 4, 1))
    archive.flush()
    archive.stage(meta, _spectrum("js-01", 5, 2))
    archive.flush()
    names = {p.name for p in archive._files}
    day2 = (T0 + timedelta(days=2)).strftime("%Y%m%d")
    assert names == {f"js-01_{day2}.h5", f"js-02_{day0}.h5"}  # other sensors' files untouched
    # the closed days still read back (reopened on demand), rows complete
    power = archive.reader.last_rows("js-01", "p", 10, day=day0).power_dbm
    assert power[:, 0].tolist() == [-101.0, -102.0]
    power = archive.reader.last_rows("js-01", "p", 10, day=day1).power_dbm
    assert power[:, 0].tolist() == [-103.0, -104.0]
    archive.close()
