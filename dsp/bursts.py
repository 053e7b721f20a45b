"""Time-domain burst segmentation for bursty emitters (OOK remotes, TDMA, telemetry).

``short_time_band_power`` turns IQ into one band-power value per FFT frame; ``segment_bursts`` finds
the bursts in that series. The threshold is relative to a *local* noise floor: the running median of the
frame powers over ``floor_window_s`` (centred). A running median follows a floor that steps by 10 dB
mid-recording (AGC, gain change, interference ending) within half a window, and, as long as bursts
fill less than half of each window, it never drops below the pre-step floor before the step, so a
floor step cannot masquerade as a long burst. A global threshold would.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import scipy.fft
import scipy.ndimage
import scipy.signal

from dsp import _kernels

DEFAULT_FLOOR_WINDOW_S = 0.25
# IQ samples per FFT chunk in short_time_band_power (512 KiB of complex64).
_CHUNK_SAMPLES = 2**16


@dataclass(frozen=True)
class Burst:
    """One burst: start time from the beginning of the series and duration, in seconds."""

    start_s: float
    duration_s: float

    def to_dict(self) -> dict[str, float]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Burst:
        """Build from ``{"start_s": ..., "duration_s": ...}``; both finite, duration >= 0."""
        values = {}
        for name in ("start_s", "duration_s"):
            v = data.get(name) if isinstance(data, dict) else None
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
                raise ValueError(f"Burst.{name}: expected a finite number, got {v!r}")
            values[name] = float(v)
        if values["duration_s"] < 0:
            raise ValueError(f"Burst.duration_s: must be >= 0, got {values['duration_s']}")
        return cls(**values)


def short_time_band_power(
    iq: np.ndarray,
    sample_rate_hz: float,
    f_lo_offset_hz: float,
    f_hi_offset_hz: float,
    frame_len: int,
    *,
    window: str = "hann",
) -> tuple[np.ndarray, np.ndarray]:
    """Power in a band (offsets from centre, Hz) per non-overlapping frame: (times_s, power_db).

    Each frame of ``frame_len`` samples is windowed and transformed; bins whose centre lies in
    ``[f_lo_offset_hz, f_hi_offset_hz]`` are summed. ``power_db`` is the mean power in the band in dB
    relative to full scale (a full-scale complex tone well inside the band reads 0 dB). ``times_s`` are
    frame start times.
    """
    x = np.asarray(iq)
    if x.ndim != 1:
        raise ValueError(f"iq must be one-dimensional, got shape {x.shape}")
    if int(frame_len) != frame_len or frame_len < 2:
        raise ValueError(f"frame_len must be an integer >= 2, got {frame_len!r}")
    if not f_hi_offset_hz > f_lo_offset_hz:
        raise ValueError(f"f_hi_offset_hz ({f_hi_offset_hz}) must be above f_lo_offset_hz ({f_lo_offset_hz})")
    n_frames = x.size // frame_len
    if n_frames == 0:
        raise ValueError(f"iq has {x.size} samples, fewer than frame_len={frame_len}")
    win = scipy.signal.get_window(window, frame_len, fftbins=True)
    freqs = np.fft.fftshift(np.fft.fftfreq(frame_len, d=1.0 / sample_rate_hz))
    sel = np.flatnonzero((freqs >= f_lo_offset_hz) & (freqs <= f_hi_offset_hz))
    if sel.size == 0:
        raise ValueError(
            f"band [{f_lo_offset_hz}, {f_hi_offset_hz}] Hz holds no bin centre at frame_len={frame_len}; "
            "widen the band or lengthen the frame"
        )
    # Frames are windowed, transformed and summed in cache-sized chunks: memory stays bounded for
    # recordings of any length.
    xf = np.ascontiguousarray(x[: n_frames * frame_len], dtype=np.complex64).view(np.float32)
    win2 = np.repeat(win.astype(np.float32), 2)
    chunk = max(1, _CHUNK_SAMPLES // frame_len)
    buf = np.empty((chunk, frame_len), dtype=np.complex64)
    band = np.empty(n_frames)
    for first in range(0, n_frames, chunk):
        n = min(chunk, n_frames - first)
        _kernels.window_segments(xf, first * frame_len, frame_len, n, win2, buf.view(np.float32))
        spec = np.fft.fftshift(scipy.fft.fft(buf[:n], axis=1, overwrite_x=True), axes=1)
        _kernels.band_power_frames(spec, int(sel[0]), int(sel[-1]) + 1, band[first : first + n])
    # Parseval: sum over all bins of |X|^2 = frame_len * sum(|x w|^2), so this scale makes the band sum
    # the mean power of the frame's signal in the band (noise and tones alike; no window ENBW error).
    band /= frame_len * float(np.sum(win * win))
    power_db = 10.0 * np.log10(np.maximum(band, np.finfo(np.float64).tiny))
    times_s = np.arange(n_frames) * (frame_len / sample_rate_hz)
    return times_s, power_db


def rolling_floor_db(frame_power_db: np.ndarray, window_frames: int) -> np.ndarray:
    """Centred running median of frame powers (dB) over ``window_frames``; edges use a shrunk window."""
    p = np.asarray(frame_power_db, dtype=np.float64)
    w = int(max(1, min(window_frames, p.size)))
    return scipy.ndimage.median_filter(p, size=w, mode="nearest")


def segment_bursts(
    frame_power_db: np.ndarray,
    frame_dt_s: float,
    *,
    threshold_db: float,
    merge_gap_s: float = 0.0,
    min_duration_s: float = 0.0,
    floor_db: float | np.ndarray | None = None,
    floor_window_s: float = DEFAULT_FLOOR_WINDOW_S,
) -> list[Burst]:
    """Bursts where the frame power exceeds the local floor by more than ``threshold_db`` dB.

    frame_power_db: one power value per frame (frame i covers [i * dt, (i + 1) * dt)).
    threshold_db: margin above the local floor (dB), not an absolute level.
    merge_gap_s: bursts separated by gaps shorter than or equal to this are joined (OOK symbols).
    min_duration_s: shorter bursts are dropped.
    floor_db: the floor (scalar or per frame) when known; default: :func:`rolling_floor_db` over
    ``floor_window_s``.
    """
    p = np.asarray(frame_power_db, dtype=np.float64)
    if p.ndim != 1:
        raise ValueError(f"frame_power_db must be one-dimensional, got shape {p.shape}")
    if not frame_dt_s > 0:
        raise ValueError(f"frame_dt_s must be positive, got {frame_dt_s!r}")
    if p.size == 0:
        return []
    if floor_db is None:
        floor = rolling_floor_db(p, round(floor_window_s / frame_dt_s))
    elif np.ndim(floor_db) and np.shape(floor_db) != p.shape:
        raise ValueError(f"floor_db must be a scalar or one value per frame {p.shape}, got {np.shape(floor_db)}")
    else:
        floor = np.broadcast_to(np.asarray(floor_db, dtype=np.float64), p.shape)
    above = np.concatenate([[False], p > floor + threshold_db, [False]])
    d = np.diff(above.astype(np.int8))
    starts = np.flatnonzero(d == 1)
    stops = np.flatnonzero(d == -1)  # exclusive
    merged: list[list[int]] = []
    for a, b in zip(starts.tolist(), stops.tolist()):
        if merged and (a - merged[-1][1]) * frame_dt_s <= merge_gap_s + 1e-12:
            merged[-1][1] = b
        else:
            merged.append([a, b])
    return [
        Burst(start_s=a * frame_dt_s, duration_s=(b - a) * frame_dt_s)
        for a, b in merged
        if (b - a) * frame_dt_s >= min_duration_s - 1e-12
    ]
