"""HDF5 spectrum archive: one self-describing file per sensor per UTC day.

Layout of ``<root>/<sensor_id>/<sensor_id>_<YYYYMMDD>.h5``::

    /                         attrs: format, sensor_id, province, lat, lon, height_m, day_utc, units
    /<profile>/               one group per profile (axes differ between profiles); attrs:
                              profile, f_start_hz, f_step_hz, n_bins, detector, antenna_factor_db_m,
                              calibration, units
        power_dbm             (rows, bins) float32, chunked (chunk_rows, bins), compressed
        t_utc                 (rows,) float64, seconds since 1970-01-01T00:00:00Z
        seq                   (rows,) int64, the sensor's sequence number (idempotence key)
        noise_floor_dbm       (rows,) float32

If a profile's axis or calibration changes during the day (new f_start_hz, f_step_hz, bin count,
detector or antenna factor) the new rows go to ``<profile>~2`` (then ``~3``...), so every group has
one exact frequency axis and one calibration, stated in its attributes. Each open file has an index
of its groups by layout (read once when the file is opened), so finding or naming a group costs
O(1), not a scan of every group; and a sensor may create at most ``max_layouts`` layouts per day
file (:class:`LayoutLimitError` at staging): one key that sends a new ``f_start_hz`` with every
spectrum cannot make the server create thousands of groups. (Each per-row dataset costs
a metadata update at every flush, so rows carry only what varies row by row.)

:mod:`coordination.archive_reader` is the one reader of this layout (API, console, reports).

Rows are *staged* and written in batches (:meth:`SpectrumArchive.flush`): one extent change and one
block write per dataset, one ``flush`` per file, when the file has enough rows waiting or its oldest
row has waited long enough. Only rows whose file flushed are reported written, so the server acks
nothing that is not on disk.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from coordination.archive_reader import SpectrumArchiveReader
from coordination.hdf5_recovery import clear_status_flags
from coordination.protocol import Spectrum, parse_utc, utc_now_iso

log = logging.getLogger(__name__)

FORMAT = "borderwatch-spectra-1"
CHUNK_BYTES = 16 * 1024
#: HDF5 chunk cache per dataset of an open day file (h5py ``rdcc_*``). HDF5 2.0's default is 8 MiB
#: and 8191 slots per dataset, and it keeps every chunk written until it is full: an append-only
#: file never reads those chunks again, yet with one file open per sensor the server's memory grew
#: by the size of the spectra archived (~1 MiB per sensor-minute at 4096 bins, up to 8 MiB x 4
#: datasets x open files) plus 64 KiB of slot table per dataset. Only the last, partly filled chunk
#: is worth caching (a flush of a few rows rewrites it): room for two chunks, few slots, and full
#: chunks evicted first (w0 = 1).
CHUNK_CACHE_BYTES = 2 * CHUNK_BYTES
CHUNK_CACHE_SLOTS = 101
CHUNK_CACHE_W0 = 1.0
_ROW_FIELDS = ("t_utc", "seq", "noise_floor_dbm")
_ROW_DTYPES = {"t_utc": np.float64, "seq": np.int64, "noise_floor_dbm": np.float32}


@dataclass(frozen=True)
class SensorMeta:
    """What the file attributes say about the sensor (from its Hello)."""

    sensor_id: str
    province: str = ""
    lat: float = float("nan")
    lon: float = float("nan")
    height_m: float = float("nan")


@dataclass
class _GroupHandle:
    """Open datasets of one group and its row count (kept in memory: no HDF5 lookups per row)."""

    group: h5py.Group
    power: h5py.Dataset
    cols: dict[str, h5py.Dataset]
    rows: int


#: A group's layout: profile and exact axis and calibration (one HDF5 group each).
Layout = tuple[str, float, float, int, str, float]


def layout_of(msg: Spectrum) -> Layout:
    return (msg.profile, msg.f_start_hz, msg.f_step_hz, int(msg.power_dbm.size), msg.detector,
            msg.antenna_factor_db_m)


class LayoutLimitError(ValueError):
    """A spectrum would create one layout (HDF5 group) more than a sensor's day file may hold."""

    reason = "layout_limit"


@dataclass
class _FileIndex:
    """The groups of one open file by layout, and the next free ``~k`` suffix per profile."""

    by_layout: dict[Layout, str] = field(default_factory=dict)
    next_k: dict[str, int] = field(default_factory=dict)

    @classmethod
    def read(cls, f: h5py.File) -> _FileIndex:
        idx = cls()
        for name, g in f.items():
            a = g.attrs
            profile, _, k = name.partition("~")
            try:
                layout = (str(a.get("profile", profile)), float(a["f_start_hz"]), float(a["f_step_hz"]),
                          int(a["n_bins"]), str(a["detector"]), float(a["antenna_factor_db_m"]))
            except KeyError:  # not one of our groups: keep its name taken, nothing else
                layout = None
            if layout is not None:
                idx.by_layout.setdefault(layout, name)
            n = int(k) if k.isdigit() else 1
            idx.next_k[profile] = max(idx.next_k.get(profile, 1), n + 1)
        return idx

    def name_for(self, profile: str) -> str:
        k = self.next_k.get(profile, 1)
        self.next_k[profile] = k + 1
        return profile if k == 1 else f"{profile}~{k}"


@dataclass
class _Staged:
    meta: SensorMeta
    since: float = 0.0  # monotonic time the oldest row was staged
    rows: list[Spectrum] = field(default_factory=list)
    times: list[float] = field(default_factory=list)


_CACHE: dict[str, Any] = {"rdcc_nbytes": CHUNK_CACHE_BYTES, "rdcc_nslots": CHUNK_CACHE_SLOTS,
                          "rdcc_w0": CHUNK_CACHE_W0}


def _append(ds: h5py.Dataset, start: int, data: np.ndarray) -> None:
    """Write ``data`` as rows ``start..`` of an extendible dataset, growing it first.

    h5py's low-level calls: the high-level ``resize``/``__setitem__`` cost about as much Python
    time again as the write itself, per dataset and batch, which matters with hundreds of files.
    """
    data = np.ascontiguousarray(data)
    ds.id.set_extent((start + data.shape[0], *data.shape[1:]))
    fspace = ds.id.get_space()
    fspace.select_hyperslab((start, *(0,) * (data.ndim - 1)), data.shape)
    ds.id.write(h5py.h5s.create_simple(data.shape), fspace, data)


def day_of(t_utc: str) -> str:
    """The UTC day (YYYYMMDD) a timestamp belongs to."""
    return parse_utc(t_utc).strftime("%Y%m%d")


class SpectrumArchive:
    """Append-only HDF5 spectra with batched writes and a small cache of open files."""

    def __init__(self, root: Path, *, compression: str = "lzf", chunk_rows: int = 64, max_open_files: int = 64,
                 fsync: bool = False, max_layouts: int = 64) -> None:
        self.root = Path(root)
        self.max_layouts = int(max_layouts)
        self._index: dict[Path, _FileIndex] = {}
        # layouts known per (sensor, day): in the file or accepted at staging (the cap counts both)
        self._layouts: dict[tuple[str, str], set[Layout]] = {}
        self.compression = None if compression == "none" else compression
        self.chunk_rows = chunk_rows
        self.max_open_files = max_open_files
        self.fsync = fsync
        self._files: OrderedDict[Path, h5py.File] = OrderedDict()
        self._staged: dict[tuple[str, str], _Staged] = {}
        self._full: set[tuple[str, str]] = set()  # files that got rows since the last flush
        self._groups: dict[tuple[Any, ...], _GroupHandle] = {}
        self._last_batch: list[tuple[Path, list[tuple[_GroupHandle, int]]]] = []

    # ------------------------------------------------------------ paths and files

    def path_for(self, sensor_id: str, day: str) -> Path:
        return self.root / sensor_id / f"{sensor_id}_{day}.h5"

    def _open(self, path: Path, meta: SensorMeta | None, day: str, create: bool) -> h5py.File:
        f = self._files.get(path)
        if f is not None:
            self._files.move_to_end(path)
            return f
        if not create and not path.exists():
            raise FileNotFoundError(path)
        if create:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._close_past_days(path, day)
        try:
            f = h5py.File(path, "a" if create else "r+", libver="latest", **_CACHE)
        except OSError as exc:  # a killed server left the file flagged "open for write": recover it
            if "already open for write" not in str(exc) or not clear_status_flags(path):
                raise
            log.warning("archive file %s was not closed cleanly (server killed?): cleared its open-for-write "
                        "flags; rows after its last flush were never acked and will be resent", path)
            f = h5py.File(path, "a" if create else "r+", libver="latest", **_CACHE)
        if create and "format" not in f.attrs:
            m = meta or SensorMeta(sensor_id=path.parent.name)
            f.attrs.update({"format": FORMAT, "sensor_id": m.sensor_id, "province": m.province, "lat": m.lat,
                            "lon": m.lon, "height_m": m.height_m, "day_utc": day, "units": "dBm",
                            "created_utc": utc_now_iso(),
                            "description": "calibrated power per bin at the antenna port"})
        self._files[path] = f
        while len(self._files) > self.max_open_files:
            old_path, old = self._files.popitem(last=False)
            self._forget(old_path)
            try:
                old.close()
            except Exception:  # closing a broken file must not stop the others
                log.exception("closing an archive file failed")
        return f

    def _close_past_days(self, path: Path, day: str) -> None:
        """Close the sensor's open files of earlier days once it writes a later one.

        An open file holds native HDF5 memory that grows with the rows written to it (~50 B per
        chunk) until it is closed; left to the LRU, a sensor's past days stayed open for as many days
        as ``max_open_files`` allows. Files with rows still staged, or written in the current flush
        (which :meth:`undo_last_flush` may cut back), stay open; a late row simply reopens its file.
        """
        sensor_id = path.parent.name
        in_batch = {p for p, _ in self._last_batch}
        for p in [p for p in self._files if p.parent == path.parent and p != path]:
            p_day = p.stem.rsplit("_", 1)[-1]
            if p_day < day and p not in in_batch and (sensor_id, p_day) not in self._staged:
                self._drop(p)

    def _index_of(self, path: Path, f: h5py.File) -> _FileIndex:
        idx = self._index.get(path)
        if idx is None:
            idx = self._index[path] = _FileIndex.read(f)
        return idx

    def _group(self, f: h5py.File, path: Path, msg: Spectrum) -> _GroupHandle:
        """The group (and its datasets) holding rows of ``msg``'s profile and exact axis; cached."""
        layout = layout_of(msg)
        key = (path, *layout)
        h = self._groups.get(key)
        if h is not None:
            return h
        idx = self._index_of(path, f)
        name = idx.by_layout.get(layout)
        if name is None:
            name = idx.name_for(msg.profile)
            g = self._create_group(f, name, msg)
            idx.by_layout[layout] = name
        else:
            g = f[name]
        h = _GroupHandle(g, g["power_dbm"], {k: g[k] for k in _ROW_FIELDS}, int(g["power_dbm"].shape[0]))
        self._groups[key] = h
        return h

    def _known_layouts(self, sensor_id: str, day: str) -> set[Layout]:
        key = (sensor_id, day)
        known = self._layouts.get(key)
        if known is None:
            known = set()
            path = self.path_for(sensor_id, day)
            if path.exists():
                try:
                    known = set(self._index_of(path, self._open(path, None, day, create=False)).by_layout)
                except OSError:  # unreadable: the write will fail and say so
                    log.debug("cannot index %s", path, exc_info=True)
            self._layouts[key] = known
        return known

    def chunk_rows_for(self, n_bins: int) -> int:
        """Rows per chunk: at most ``chunk_rows`` and about CHUNK_BYTES per chunk.

        Each batch flush compresses the partly filled last chunk again, so big chunks cost CPU at
        every flush; ~16 KiB (one 4096-bin row: each row compressed exactly once) measured best for CPU
        and latency in bench_server, from 50 busy sensors to 500 sensors at 1 Hz.
        """
        return max(1, min(self.chunk_rows, CHUNK_BYTES // (4 * max(n_bins, 1))))

    def _create_group(self, f: h5py.File, name: str, msg: Spectrum) -> h5py.Group:
        n_bins = int(msg.power_dbm.size)
        g = f.create_group(name)
        g.attrs.update({"profile": msg.profile, "f_start_hz": msg.f_start_hz, "f_step_hz": msg.f_step_hz,
                        "n_bins": n_bins, "detector": msg.detector, "segments": msg.segments,
                        "antenna_factor_db_m": msg.antenna_factor_db_m,
                        "calibration": "power_dbm at the antenna port; field dBuV/m = dBm + 107 + antenna factor",
                        "units": "dBm", "t_utc_units": "s since 1970-01-01T00:00:00Z"})
        opts: dict[str, Any] = {}
        if self.compression:
            opts = {"compression": self.compression, "shuffle": True}
        g.create_dataset("power_dbm", shape=(0, n_bins), maxshape=(None, n_bins), dtype=np.float32,
                         chunks=(self.chunk_rows_for(n_bins), n_bins), **opts)
        for k in _ROW_FIELDS:
            g.create_dataset(k, shape=(0,), maxshape=(None,), dtype=_ROW_DTYPES[k], chunks=(1024,))
        return g

    # ------------------------------------------------------------ writing

    def stage(self, meta: SensorMeta, msg: Spectrum, now_mono: float = 0.0) -> None:
        """Queue one spectrum for a later :meth:`flush` (nothing is written yet).

        Raises :class:`LayoutLimitError` (nothing staged) when the spectrum's layout would be one more
        than ``max_layouts`` in its sensor's day file.
        """
        t = parse_utc(msg.t_utc)
        key = (msg.sensor_id, t.strftime("%Y%m%d"))
        known = self._known_layouts(*key)
        layout = layout_of(msg)
        if layout not in known:
            if len(known) >= self.max_layouts:
                raise LayoutLimitError(f"{msg.sensor_id} seq {msg.seq}: day {key[1]} already holds {len(known)} "
                                       f"spectrum layouts (axis/calibration), the limit; this one "
                                       f"(profile {msg.profile!r}, f_start_hz={msg.f_start_hz}) is refused")
            known.add(layout)
        st = self._staged.get(key)
        if st is None:
            st = self._staged[key] = _Staged(meta, now_mono)
        st.rows.append(msg)
        st.times.append(t.timestamp())
        self._full.add(key)  # a candidate for the row-count test at the next flush

    @property
    def staged_rows(self) -> int:
        return sum(len(st.rows) for st in self._staged.values())

    def flush(self, now_mono: float | None = None, max_delay_s: float = 0.0, max_rows: int = 1,
              max_files: int = 1 << 30) -> tuple[list[Spectrum], list[tuple[Spectrum, str]]]:
        """Write staged rows; return (written, [(failed, error text)]). Failures are per file.

        With ``now_mono`` only the files that are due are written: ``max_rows`` rows waiting, or the
        oldest waiting ``max_delay_s``. One write + flush per file costs about as much as a few rows,
        so letting slow sensors' rows gather for a moment saves most of the archive's CPU; busy
        sensors reach ``max_rows`` at once and wait for nothing. At most ``max_files`` files per call
        (oldest first), so the loop's other work interleaves. Without ``now_mono``: everything.
        """
        written: list[Spectrum] = []
        failed: list[tuple[Spectrum, str]] = []
        if now_mono is None:
            staged, self._staged = self._staged, {}
            self._full.clear()
        else:
            # _staged is in staging order, so the files due by age are a prefix of it
            due: dict[tuple[str, str], None] = {}
            for k, st in self._staged.items():
                if now_mono - st.since < max_delay_s or len(due) >= max_files:
                    break
                due[k] = None
            full = [k for k in self._full if len(self._staged[k].rows) >= max_rows]
            for k in full:
                if len(due) >= max_files:
                    break
                due[k] = None
            self._full.difference_update(due)
            self._full.intersection_update(full)  # full ones left for the next call stay candidates
            staged = {k: self._staged.pop(k) for k in due}
        self._last_batch = []
        for (sensor_id, day), st in staged.items():
            path = self.path_for(sensor_id, day)
            try:
                self._write_file(path, day, st)
            except Exception as exc:  # disk full, unwritable dir, corrupt file: the rows are not stored
                text = f"archive write to {path} failed: {type(exc).__name__}: {exc}"
                failed.extend((m, text) for m in st.rows)
                self._drop(path)
            else:
                written.extend(st.rows)
        return written, failed

    def _write_file(self, path: Path, day: str, st: _Staged) -> None:
        f = self._open(path, st.meta, day, create=True)
        by_group: dict[int, tuple[_GroupHandle, list[int]]] = {}
        for i, m in enumerate(st.rows):
            h = self._group(f, path, m)
            by_group.setdefault(id(h), (h, []))[1].append(i)
        done: list[tuple[_GroupHandle, int]] = []
        try:
            for h, idx in by_group.values():
                n = len(idx)
                start = h.rows
                done.append((h, start))
                block = np.stack([st.rows[i].power_dbm for i in idx]).astype(np.float32, copy=False)
                cols = {"t_utc": [st.times[i] for i in idx], "seq": [st.rows[i].seq for i in idx],
                        "noise_floor_dbm": [st.rows[i].noise_floor_dbm for i in idx]}
                _append(h.power, start, block)
                for k, v in cols.items():
                    _append(h.cols[k], start, np.asarray(v, dtype=_ROW_DTYPES[k]))
                h.rows = start + n
            f.flush()
        except Exception:
            self._undo(path, done)
            raise
        self._last_batch.append((path, done))
        if self.fsync:
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def undo_last_flush(self) -> None:
        """Take back the rows of the last :meth:`flush` (the caller could not record them as stored:
        they will be resent and must not appear twice)."""
        batch, self._last_batch = self._last_batch, []
        for path, done in batch:
            f = self._files.get(path)
            self._undo(path, done)
            try:
                if f is not None:
                    f.flush()
            except Exception:
                log.warning("flushing %s after taking rows back failed", path, exc_info=True)

    def _undo(self, path: Path, done: list[tuple[_GroupHandle, int]]) -> None:
        """Best effort after a failed write: cut the groups back to their rows before this batch, so
        no half-written rows stay in the file (the batch is not acked and will be resent)."""
        for h, start in done:
            for ds in (h.power, *h.cols.values()):
                try:
                    if ds.shape[0] > start:
                        ds.resize(start, axis=0)
                except Exception:
                    log.debug("could not cut %s back to %d rows", ds.name, start, exc_info=True)
            h.rows = start
        self._forget(path)

    def _forget(self, path: Path) -> None:
        for key in [k for k in self._groups if k[0] == path]:
            del self._groups[key]
        self._index.pop(path, None)

    def _drop(self, path: Path) -> None:
        self._forget(path)
        self._layouts.pop((path.parent.name, path.stem.rsplit("_", 1)[-1]), None)
        f = self._files.pop(path, None)
        if f is not None:
            try:
                f.close()
            except Exception:
                log.debug("closing failed archive file %s", path, exc_info=True)

    # ------------------------------------------------------------ reading (through the one reader)

    @contextlib.contextmanager
    def reading(self, path: Path) -> Iterator[h5py.File]:
        """This writer's own open handle of ``path`` (FileNotFoundError when there is no such file),
        for :attr:`reader`: the process holds one HDF5 handle per file, and sees every flushed row."""
        yield self._open(path, None, path.stem.rsplit("_", 1)[-1], create=False)

    @property
    def reader(self) -> SpectrumArchiveReader:
        """The archive's reader (:mod:`coordination.archive_reader`) on this writer's files."""
        return SpectrumArchiveReader(self.root, open_file=self.reading)

    def close(self) -> None:
        for p in list(self._files):
            self._drop(p)
