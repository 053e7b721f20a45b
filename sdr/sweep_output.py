"""Writers for sweeps: rtl_power-compatible CSV and self-describing HDF5 (chosen by file extension).

CSV rows follow rtl_power exactly: ``date, time, Hz low, Hz high, Hz step, samples, dB, dB, ...``,
one row per hop, ``Hz low`` the first bin's centre, ``Hz high = Hz low + bins * step``; so existing
heatmap tools read it. HDF5 keeps one row per sweep in appendable, compressed datasets with the
measurement settings as attributes (DESIGN.md section 5: files describe themselves).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TextIO

import numpy as np

from sdr.sweep import SweepResult, SweepSettings


class SweepWriter:
    """Base: ``write(result)`` once per sweep, then ``close()``; also a context manager."""

    def write(self, result: SweepResult) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def close(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def __enter__(self) -> SweepWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class RtlPowerCsvWriter(SweepWriter):
    """rtl_power's CSV line format (one line per hop)."""

    def __init__(self, path: str | Path | TextIO) -> None:
        if isinstance(path, str | Path):
            self._fh: TextIO = open(path, "w", encoding="ascii", newline="\n")
            self._owned = True
        else:
            self._fh, self._owned = path, False

    def write(self, result: SweepResult) -> None:
        t = result.t_start_utc
        date, clock = t.strftime("%Y-%m-%d"), t.strftime("%H:%M:%S")
        for a, b in result.hop_ranges:
            low = result.freqs_hz[a]
            high = low + (b - a) * result.bin_hz
            values = ", ".join(f"{v:.2f}" for v in result.power_db[a:b])
            head = f"{date}, {clock}, {round(low)}, {round(high)}, {result.bin_hz:.2f}, {result.samples_per_hop}"
            self._fh.write(f"{head}, {values}\n")
        self._fh.flush()

    def close(self) -> None:
        if self._owned and not self._fh.closed:
            self._fh.close()


class Hdf5SweepWriter(SweepWriter):
    """Datasets ``freqs_hz`` (bins), ``power_db`` (sweeps x bins, float32), ``t_start_utc`` (sweeps)."""

    def __init__(self, path: str | Path, settings: SweepSettings, metadata: dict[str, Any] | None = None) -> None:
        import h5py

        self._h5 = h5py.File(path, "w")
        self._settings = settings
        self._meta = dict(metadata or {})
        self._power: Any = None  # h5py.Dataset once the first sweep fixed the bin count (h5py is untyped)

    def write(self, result: SweepResult) -> None:
        import h5py

        h5 = self._h5
        if self._power is None:
            n = result.freqs_hz.size
            h5.create_dataset("freqs_hz", data=result.freqs_hz.astype(np.float64))
            self._power = h5.create_dataset("power_db", shape=(0, n), maxshape=(None, n), dtype="f4",
                                            chunks=(1, n), compression="gzip", compression_opts=4)
            self._times = h5.create_dataset("t_start_utc", shape=(0,), maxshape=(None,),
                                            dtype=h5py.string_dtype(), chunks=(256,))
            s = self._settings
            attrs = {
                "format": "borderwatch-sweep-1", "units": result.units, "bin_hz": result.bin_hz,
                "f_start_hz": float(result.freqs_hz[0]), "n_bins": n, "nfft": result.nfft, "hops": result.hops,
                "samples_per_hop": result.samples_per_hop, "start_hz": s.start_hz, "stop_hz": s.stop_hz,
                "interval_s": s.interval_s, "crop_fraction": s.crop_fraction, "window": s.window,
                "overlap": s.overlap, "detector": s.detector, "power_is": "per-bin power (Welch density x bin width)",
            }
            attrs.update({k: v for k, v in self._meta.items() if v is not None})
            h5.attrs.update(attrs)
        i = self._power.shape[0]
        self._power.resize(i + 1, axis=0)
        self._power[i] = result.power_db
        self._times.resize(i + 1, axis=0)
        self._times[i] = result.t_start_utc.isoformat(timespec="microseconds")
        h5.flush()

    def close(self) -> None:
        if self._h5.id.valid:
            self._h5.close()


def open_writer(path: str | Path, settings: SweepSettings, metadata: dict[str, Any] | None = None) -> SweepWriter:
    """HDF5 for ``.h5``/``.hdf5``/``.hdf``, rtl_power CSV otherwise."""
    suffix = Path(path).suffix.lower()
    if suffix in (".h5", ".hdf5", ".hdf"):
        return Hdf5SweepWriter(path, settings, metadata)
    return RtlPowerCsvWriter(path)
