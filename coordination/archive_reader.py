"""The one reader of the HDF5 spectrum archive (the layout :mod:`coordination.archive` writes).

Every consumer of archived spectra goes through :class:`SpectrumArchiveReader`: the server's API
(``spectrum`` and ``waterfall`` ops, through the writer's own open files), the console's replay
mode and the reports (read-only files, no locking: the server may still be writing them). The
layout knowledge lives here once:

- ``<root>/<sensor_id>/<sensor_id>_<YYYYMMDD>.h5``, one file per sensor per UTC day; file
  attributes describe the sensor (``sensor_id``, ``province``, ``lat``, ``lon``, ``height_m``);
- one group per profile, ``<profile>~2``, ``~3``... when the axis or calibration changed during
  the day; group attributes give the axis (``f_start_hz``, ``f_step_hz``, ``n_bins``),
  ``detector`` and ``antenna_factor_db_m``;
- per row: ``power_dbm`` (rows x bins), ``t_utc`` (s since the epoch), ``seq``,
  ``noise_floor_dbm``. Files of the first archive format also kept ``threshold_dbm`` and
  ``antenna_factor_db_m`` per row; :meth:`SpectrumArchiveReader.rows` reads both formats the same
  way (a missing per-row value comes from the group attribute, or is NaN).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

log = logging.getLogger(__name__)

#: Opens one archive file for reading (context manager); FileNotFoundError when it does not exist.
FileOpener = Callable[[Path], contextlib.AbstractContextManager[h5py.File]]


@contextlib.contextmanager
def open_read_only(path: Path) -> Iterator[h5py.File]:
    """Open an archive file read-only without file locking (the server may hold it open for writing)."""
    if not path.exists():
        raise FileNotFoundError(path)
    f = h5py.File(path, "r", locking=False)
    try:
        yield f
    finally:
        f.close()


def profile_of(group_name: str) -> str:
    """``pmr446~2`` (axis changed during the day) -> ``pmr446``."""
    return group_name.split("~", 1)[0]


def _generation(group_name: str) -> int:
    return int(group_name.split("~", 1)[1]) if "~" in group_name else 1


def plain(v: Any) -> Any:
    """An HDF5 attribute value as a plain Python value (bytes -> str, numpy scalar -> number)."""
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if isinstance(v, np.generic):
        return v.item()
    return v


@dataclass(frozen=True)
class GroupInfo:
    """One profile group of one sensor's day file: its axis and its time span."""

    path: Path
    group: str
    sensor_id: str
    profile: str
    f_start_hz: float
    f_step_hz: float
    n_bins: int
    detector: str
    rows: int
    t_first_s: float
    t_last_s: float

    @property
    def f_stop_hz(self) -> float:
        return self.f_start_hz + self.f_step_hz * self.n_bins

    @property
    def axis(self) -> tuple[float, float, int]:
        return (self.f_start_hz, self.f_step_hz, self.n_bins)


@dataclass(frozen=True)
class SpectrumRows:
    """Rows ``lo:hi`` of one group: every per-row value as an array of the same length."""

    info: GroupInfo
    power_dbm: np.ndarray           # (rows, bins) float32
    t_utc_s: np.ndarray             # (rows,) float64
    seq: np.ndarray                 # (rows,) int64
    noise_floor_dbm: np.ndarray     # (rows,) float64, NaN where the file has none
    threshold_dbm: np.ndarray       # (rows,) float64, NaN where the file has none
    antenna_factor_db_m: np.ndarray  # (rows,) float64
    attrs: dict[str, Any]


def _column(g: h5py.Group, name: str, lo: int, hi: int, default: float) -> np.ndarray:
    """Rows ``lo:hi`` of a per-row dataset, or ``default`` repeated when the file has no such dataset."""
    if name in g:
        return np.asarray(g[name][lo:hi], dtype=np.float64)
    return np.full(hi - lo, default)


class SpectrumArchiveReader:
    """Read the spectrum archive under ``root`` (``<data>/spectra``).

    ``open_file``: how a file is opened; by default read-only without locking. The server passes the
    writer's own handles (:meth:`coordination.archive.SpectrumArchive.reading`), so the API sees
    every row the writer has flushed, through the one HDF5 handle the process holds per file.
    """

    def __init__(self, root: str | Path, *, open_file: FileOpener = open_read_only) -> None:
        self.root = Path(root)
        self.open_file = open_file

    # ------------------------------------------------------------ files

    def path_for(self, sensor_id: str, day: str) -> Path:
        return self.root / sensor_id / f"{sensor_id}_{day}.h5"

    def sensor_ids(self) -> list[str]:
        """Sensors with a directory of day files."""
        return sorted(p.name for p in self.root.iterdir() if p.is_dir()) if self.root.is_dir() else []

    def days(self, sensor_id: str) -> list[str]:
        """The UTC days (YYYYMMDD) with a file of ``sensor_id``, oldest first."""
        d = self.root / sensor_id
        return sorted(p.stem.rsplit("_", 1)[-1] for p in d.glob(f"{sensor_id}_*.h5")) if d.is_dir() else []

    def latest_day(self, sensor_id: str) -> str | None:
        days = self.days(sensor_id)
        return days[-1] if days else None

    def files(self) -> list[Path]:
        """Every day file of every sensor."""
        return sorted(self.root.glob("*/*.h5")) if self.root.is_dir() else []

    def file_attrs(self, path: Path) -> dict[str, Any]:
        """A day file's attributes (the sensor's description) as plain values."""
        with self.open_file(path) as f:
            return {k: plain(v) for k, v in f.attrs.items()}

    # ------------------------------------------------------------ groups

    def groups(self, path: Path) -> list[GroupInfo]:
        """The profile groups of a day file that hold rows, in name order."""
        out = []
        with self.open_file(path) as f:
            sid = str(plain(f.attrs.get("sensor_id", path.parent.name)))
            for name in sorted(f.keys()):
                g = f[name]
                if not isinstance(g, h5py.Group) or "t_utc" not in g or g["t_utc"].shape[0] == 0:
                    continue
                t = g["t_utc"]
                a = g.attrs
                out.append(GroupInfo(path, name, sid, str(plain(a.get("profile", profile_of(name)))),
                                     float(a["f_start_hz"]), float(a["f_step_hz"]),
                                     int(a.get("n_bins", g["power_dbm"].shape[1])), str(plain(a.get("detector", ""))),
                                     int(t.shape[0]), float(t[0]), float(t[-1])))
        return out

    def times(self, info: GroupInfo) -> np.ndarray:
        """The ``t_utc`` column of a group (seconds since the epoch)."""
        with self.open_file(info.path) as f:
            return np.asarray(f[info.group]["t_utc"][:], np.float64)

    def rows(self, info: GroupInfo, lo: int, hi: int) -> SpectrumRows:
        """Rows ``lo:hi`` of a group, both archive formats read the same way."""
        with self.open_file(info.path) as f:
            g = f[info.group]
            a = {k: plain(v) for k, v in g.attrs.items()}
            n = hi - lo
            return SpectrumRows(
                info=info, power_dbm=np.asarray(g["power_dbm"][lo:hi], np.float32),
                t_utc_s=np.asarray(g["t_utc"][lo:hi], np.float64),
                seq=np.asarray(g["seq"][lo:hi], np.int64) if "seq" in g else np.full(n, -1, np.int64),
                noise_floor_dbm=_column(g, "noise_floor_dbm", lo, hi, float("nan")),
                threshold_dbm=_column(g, "threshold_dbm", lo, hi, float(a.get("threshold_dbm", float("nan")))),
                antenna_factor_db_m=_column(g, "antenna_factor_db_m", lo, hi, float(a.get("antenna_factor_db_m", 0.0))),
                attrs=a)

    def last_rows(self, sensor_id: str, profile: str, n: int, day: str | None = None) -> SpectrumRows | None:
        """The last ``n`` rows of ``profile`` (its latest axis group) in a sensor's day file (default: its
        latest day); None when there is no such file or profile."""
        day = day or self.latest_day(sensor_id)
        if day is None:
            return None
        path = self.path_for(sensor_id, day)
        try:
            with self.open_file(path) as f:
                names = [k for k in f.keys() if k == profile or k.startswith(profile + "~")]
                if not names:
                    return None
                name = max(names, key=_generation)
                g = f[name]
                a = g.attrs
                rows = int(g["power_dbm"].shape[0])
                t = g["t_utc"]
                info = GroupInfo(path, name, sensor_id, profile, float(a["f_start_hz"]), float(a["f_step_hz"]),
                                 int(g["power_dbm"].shape[1]), str(plain(a.get("detector", ""))), rows,
                                 float(t[0]) if rows else float("nan"), float(t[-1]) if rows else float("nan"))
        except FileNotFoundError:
            return None
        return self.rows(info, max(0, rows - n), rows)
