"""Recorded IQ as a source: SigMF recordings and archives, and raw cu8/cs8/cs16/cf32 files.

A recording cannot be retuned: its band is fixed at capture time. ``tune()`` inside the recorded
band shifts the samples digitally (so a channel can be brought to DC), outside it raises
:class:`SourceError` naming the band. Sweeps therefore measure a recording in a single "hop"
(``can_retune`` is False). All formats are scaled to full scale = 1 the same way the hardware
delivers them, so a cu8 file and its cs16/cf32 copies give the same numbers.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from sdr.sources.base import SI_SUFFIX, SourceBase, SourceError, validate_read_count

log = logging.getLogger(__name__)

#: raw formats: numpy dtype of one real component, offset and scale to full scale 1.
RAW_FORMATS: dict[str, tuple[str, float, float]] = {
    "cu8": ("u1", 127.5, 1 / 127.5),
    "cs8": ("i1", 0.0, 1 / 128.0),
    "cs16": ("<i2", 0.0, 1 / 32768.0),
    "cf32": ("<f4", 0.0, 1.0),
}
#: SigMF datatypes we read, mapped onto the raw format of the same layout.
SIGMF_DATATYPES: dict[str, tuple[str, float, float]] = {
    "cu8": RAW_FORMATS["cu8"],
    "ci8": RAW_FORMATS["cs8"],
    "ci16_le": RAW_FORMATS["cs16"],
    "cu16_le": ("<u2", 32767.5, 1 / 32767.5),
    "ci32_le": ("<i4", 0.0, 1 / 2147483648.0),
    "cf32_le": RAW_FORMATS["cf32"],
    "cf64_le": ("<f8", 0.0, 1.0),
}
_FORMAT_ALIASES = {"ci8": "cs8", "ci16": "cs16", "ci16_le": "cs16", "cf32_le": "cf32", "fc32": "cf32", "s16": "cs16"}

#: ``_<number><SI suffix>`` followed by ``_`` or ``.`` in a recording's file name
_NAME_NUMBER = re.compile(rf"_(\d+(?:\.\d+)?)([{''.join(SI_SUFFIX)}])(?=[_.])")


def _from_filename(name: str) -> tuple[float | None, float | None]:
    """rtl_433-style names end in ``_<freq>_<rate>``: ``g001_433.92M_250k.cu8`` -> (433.92e6, 250e3)."""
    values = [float(v) * SI_SUFFIX[u] for v, u in _NAME_NUMBER.findall(name)]
    if len(values) >= 2:
        return values[-2], values[-1]
    if len(values) == 1 and values[0] >= 1e6:
        return values[0], None
    return None, None


class FileSource(SourceBase):
    """IQ from a recording; finite (``read`` returns short at the end) unless ``loop`` is set."""

    can_retune = False

    def __init__(
        self,
        path: str | Path,
        *,
        sample_rate_hz: float | None = None,
        center_freq_hz: float | None = None,
        fmt: str | None = None,
        loop: bool = False,
    ) -> None:
        self.path = Path(path)
        self.loop = bool(loop)
        self.finite = not self.loop
        self._capture_utc: datetime | None = None
        name = self.path.name
        if not self.path.exists():
            raise SourceError(f"recording not found: {self.path}")
        if name.endswith((".sigmf-meta", ".sigmf-data", ".sigmf")):
            self._open_sigmf(sample_rate_hz, center_freq_hz)
        else:
            self._open_raw(fmt, sample_rate_hz, center_freq_hz)
        if self._rate_hz <= 0:
            raise SourceError(f"{self.path}: sample rate must be > 0, got {self._rate_hz}")
        self._recorded_center_hz = float(self._center_hz)
        self._shift_hz = 0.0
        self._pos = 0

    # -- opening ------------------------------------------------------------------------------
    def _open_raw(self, fmt: str | None, rate: float | None, freq: float | None) -> None:
        suffix = self.path.suffix.lstrip(".").lower()
        fmt = (fmt or suffix).lower()
        fmt = _FORMAT_ALIASES.get(fmt, fmt)
        if fmt not in RAW_FORMATS:
            raise SourceError(
                f"{self.path}: unknown raw IQ format {fmt!r}; give format= one of {sorted(RAW_FORMATS)}"
            )
        name_freq, name_rate = _from_filename(self.path.name)
        rate = rate if rate is not None else name_rate
        freq = freq if freq is not None else name_freq
        if rate is None or freq is None:
            raise SourceError(
                f"{self.path}: a raw {fmt} file has no header; give rate= and freq= "
                f"(e.g. file:{self.path}?rate=2.4e6&freq=100e6&format={fmt})"
            )
        dtype, offset, scale = RAW_FORMATS[fmt]
        self.format = fmt
        self._data: np.ndarray = np.memmap(self.path, dtype=np.dtype(dtype), mode="r")
        self._offset, self._scale = offset, scale
        self._num_samples = self._data.size // 2
        self._rate_hz, self._center_hz = float(rate), float(freq)

    def _open_sigmf(self, rate: float | None, freq: float | None) -> None:
        from sigmf import sigmffile  # imported here: only recordings need it

        path = self.path
        if path.name.endswith(".sigmf-data"):
            path = path.with_name(path.name[: -len(".sigmf-data")] + ".sigmf-meta")
        try:
            handle = sigmffile.fromfile(str(path), skip_checksum=True, autoscale=False)
        except Exception as exc:
            raise SourceError(f"{path}: not a readable SigMF recording ({exc})") from exc
        datatype = handle.get_global_field("core:datatype")
        if datatype not in SIGMF_DATATYPES:
            raise SourceError(
                f"{path}: core:datatype {datatype!r} is not supported; supported: {sorted(SIGMF_DATATYPES)}"
            )
        if int(handle.get_global_field("core:num_channels") or 1) != 1:
            raise SourceError(f"{path}: only single-channel recordings are supported")
        captures = handle.get_captures()
        meta_rate = handle.get_global_field("core:sample_rate")
        meta_freq = captures[0].get("core:frequency") if captures else None
        if len(captures) > 1:
            log.warning("%s: %d captures; using the first capture's frequency", path, len(captures))
        rate = rate if rate is not None else meta_rate
        freq = freq if freq is not None else meta_freq
        if rate is None or freq is None:
            raise SourceError(f"{path}: metadata lacks core:sample_rate or core:frequency; give rate= and freq=")
        when = captures[0].get("core:datetime") if captures else None
        if when:
            try:
                self._capture_utc = datetime.fromisoformat(when.replace("Z", "+00:00")).astimezone(UTC)
            except ValueError:
                log.warning("%s: unreadable core:datetime %r", path, when)
        dtype, offset, scale = SIGMF_DATATYPES[datatype]
        data_path = Path(handle.data_file) if handle.data_file else None
        if data_path is None or not data_path.exists():
            raise SourceError(f"{path}: the dataset file is missing")
        self.format = datatype
        self._data = np.memmap(data_path, dtype=np.dtype(dtype), mode="r", offset=int(handle.data_offset or 0))
        self._num_samples = int(handle.sample_count)
        self._data = self._data[: 2 * self._num_samples]
        self._offset, self._scale = offset, scale
        self._rate_hz, self._center_hz = float(rate), float(freq)
        self.sigmf = handle

    # -- Source interface ------------------------------------------------------------------
    @property
    def center_freq_hz(self) -> float:
        return self._recorded_center_hz + self._shift_hz

    @property
    def gain_db(self) -> float | None:
        """Unknown for a recording (it was set at capture time)."""
        return None

    @property
    def num_samples(self) -> int:
        """Samples in the recording."""
        return self._num_samples

    @property
    def duration_s(self) -> float:
        """Length of the recording in seconds."""
        return self._num_samples / self._rate_hz

    @property
    def position(self) -> int:
        """Index of the next sample ``read`` returns."""
        return self._pos

    def seek(self, sample_index: int) -> None:
        """Continue reading at sample_index (0 = start of the recording)."""
        if not 0 <= sample_index <= self._num_samples:
            raise SourceError(f"{self.path}: seek to {sample_index} outside 0..{self._num_samples}")
        self._pos = int(sample_index)

    def tune(self, freq_hz: float) -> None:
        """Shift the recorded band digitally so freq_hz sits at DC; outside the band raises."""
        half = self._rate_hz / 2
        lo, hi = self._recorded_center_hz - half, self._recorded_center_hz + half
        if not lo <= freq_hz <= hi:
            raise SourceError(
                f"cannot tune recording {self.path.name} to {freq_hz / 1e6:.6f} MHz: it holds only "
                f"{lo / 1e6:.6f}-{hi / 1e6:.6f} MHz (a file cannot be retuned; scan within that band)"
            )
        self._shift_hz = float(freq_hz) - self._recorded_center_hz

    def read(self, n: int) -> np.ndarray:
        n = validate_read_count(n)
        start = self._pos
        if self.loop and self._num_samples:
            parts, got, pos = [], 0, start
            while got < n:
                take = min(n - got, self._num_samples - pos)
                parts.append(self._convert(pos, take))
                got += take
                pos = (pos + take) % self._num_samples
            out = np.concatenate(parts) if parts else np.zeros(0, np.complex64)
            self._pos = pos
        else:
            take = max(0, min(n, self._num_samples - start))
            out = self._convert(start, take)
            self._pos = start + take
        if self._shift_hz:
            k = np.arange(start, start + out.size, dtype=np.float64)
            out *= np.exp(-2j * np.pi * (self._shift_hz / self._rate_hz) * k).astype(np.complex64)
        if self._capture_utc is not None:
            self._timestamp_utc = self._capture_utc + timedelta(seconds=start / self._rate_hz)
        return out

    def _convert(self, start: int, count: int) -> np.ndarray:
        raw = np.asarray(self._data[2 * start : 2 * (start + count)], dtype=np.float32)
        if self._offset:
            raw = raw - np.float32(self._offset)
        if self._scale != 1.0:
            raw = raw * np.float32(self._scale)
        return np.ascontiguousarray(raw).view(np.complex64).copy()

    def close(self) -> None:
        self._data = np.zeros(0, np.uint8)
