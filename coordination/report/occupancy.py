"""ITU-R SM.1880 occupancy for a report period: FCO per channel with revisit count and Wilson interval.

Two sources, same definition (a channel is occupied in a revisit when its strongest bin exceeds that
sweep's threshold, as the sensor's accumulator counts it):

* the sensors' own occupancy reports (``occupancy`` table): every sweep counted, even those not
  archived; counts per interval are ``round(fco * revisits)`` and add up over the period;
* the archived spectra, when a sensor sent no reports: :func:`dsp.channel_occupancy` on the sweeps,
  with each sweep's threshold subtracted so one call covers sweeps with different thresholds.

The confidence interval is :func:`dsp.wilson_interval` on the summed counts (95 %).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from coordination.report.data import OccupancySummary, SpectraChunk, from_epoch_s
from coordination.report.i18n import N_
from dsp import channel_occupancy, wilson_interval

SOURCE_REPORTS = N_("sensor occupancy reports")
SOURCE_SPECTRA = N_("archived spectra")


@dataclass(frozen=True)
class ChannelOccupancy:
    """FCO per channel of one sensor and profile over the period (arrays in channel order)."""

    sensor_id: str
    profile: str
    channel_centers_hz: np.ndarray
    occupied: np.ndarray  # revisits in which each channel was occupied (int)
    revisits: np.ndarray  # revisits counted per channel (int)
    source: str

    @property
    def fco(self) -> np.ndarray:
        return np.where(self.revisits > 0, self.occupied / np.maximum(self.revisits, 1), np.nan)

    @property
    def ci(self) -> tuple[np.ndarray, np.ndarray]:
        """95 % Wilson interval (low, high) per channel; NaN where a channel has no revisit."""
        lo = np.full(self.revisits.shape, np.nan)
        hi = np.full(self.revisits.shape, np.nan)
        for n in np.unique(self.revisits[self.revisits > 0]):
            sel = self.revisits == n
            lo[sel], hi[sel] = wilson_interval(self.occupied[sel], int(n))
        return lo, hi

    @property
    def fbo(self) -> float:
        """Band occupancy: occupied channel-revisits over all channel-revisits."""
        total = int(self.revisits.sum())
        return float(self.occupied.sum() / total) if total else float("nan")

    @property
    def max_revisits(self) -> int:
        return int(self.revisits.max()) if self.revisits.size else 0


@dataclass(frozen=True)
class OccupancyInterval:
    """FCO per channel over one measurement interval (one CSV block)."""

    sensor_id: str
    profile: str
    t_start_utc: datetime
    t_end_utc: datetime
    channel_centers_hz: np.ndarray
    occupied: np.ndarray
    revisits: int
    threshold_dbm: float

    @property
    def fco(self) -> np.ndarray:
        return self.occupied / self.revisits

    @property
    def fbo(self) -> float:
        return float(self.occupied.sum() / (self.revisits * max(self.occupied.size, 1)))


def _key(freq_hz: np.ndarray) -> np.ndarray:
    """Channel identity robust to float noise: centres rounded to 1 Hz."""
    return np.round(np.asarray(freq_hz, dtype=np.float64)).astype(np.int64)


def intervals_from_reports(reports: Iterable[OccupancySummary]) -> list[OccupancyInterval]:
    """The sensor's reports as integer counts (``round(fco * revisits)``)."""
    out = []
    for r in reports:
        if r.revisits < 1:
            continue
        occ = np.rint(np.asarray(r.fco, dtype=np.float64) * r.revisits).astype(np.int64)
        out.append(OccupancyInterval(r.sensor_id, r.profile, r.t_start_utc, r.t_end_utc,
                                     np.asarray(r.channel_centers_hz, dtype=np.float64), occ, int(r.revisits),
                                     float(r.threshold_dbm)))
    return out


def combine_intervals(intervals: Sequence[OccupancyInterval], *, source: str = SOURCE_REPORTS
                      ) -> ChannelOccupancy | None:
    """Sum counts per channel over intervals (channel sets may differ when a profile's axis changed)."""
    if not intervals:
        return None
    keys = np.unique(np.concatenate([_key(iv.channel_centers_hz) for iv in intervals]))
    occupied = np.zeros(keys.size, np.int64)
    revisits = np.zeros(keys.size, np.int64)
    centres = np.zeros(keys.size)
    for iv in intervals:
        idx = np.searchsorted(keys, _key(iv.channel_centers_hz))
        np.add.at(occupied, idx, iv.occupied)
        np.add.at(revisits, idx, iv.revisits)
        centres[idx] = iv.channel_centers_hz
    first = intervals[0]
    return ChannelOccupancy(first.sensor_id, first.profile, centres, occupied, revisits, source)


def occupancy_from_spectra(chunks: Iterable[SpectraChunk], channel_centers_hz: np.ndarray, channel_width_hz: float,
                           *, interval_s: float | None = None) -> list[OccupancyInterval]:
    """SM.1880 counts from archived sweeps (strongest bin vs the sweep's own threshold).

    With ``interval_s`` the sweeps are counted per interval of that length (aligned to the epoch);
    otherwise one interval per chunk. Channels outside a chunk's frequency axis are skipped.
    """
    out: list[OccupancyInterval] = []
    centres_all = np.asarray(channel_centers_hz, dtype=np.float64)
    for ch in chunks:
        if ch.rows == 0:
            continue
        f = ch.freqs_hz
        width = max(channel_width_hz, ch.f_step_hz)
        inside = (centres_all - width / 2 >= f[0] - ch.f_step_hz) & (centres_all + width / 2 <= f[-1] + ch.f_step_hz)
        centres = centres_all[inside]
        if centres.size == 0:
            continue
        # Subtracting each sweep's threshold makes the comparison "level - threshold > 0" for every sweep.
        rel = ch.power_dbm.astype(np.float64) - ch.threshold_dbm[:, None]
        if interval_s:
            bucket = np.floor(ch.t_utc_s / interval_s).astype(np.int64)
            splits = np.flatnonzero(np.diff(bucket)) + 1
            parts = np.split(np.arange(ch.rows), splits)
        else:
            parts = [np.arange(ch.rows)]
        for rows in parts:
            res = channel_occupancy(rel[rows], f, centres, width, 0.0, level="peak")
            n = res.revisits
            occ = np.rint(np.asarray(res.fco) * n).astype(np.int64)
            t0, t1 = ch.t_utc_s[rows[0]], ch.t_utc_s[rows[-1]]
            out.append(OccupancyInterval(ch.sensor_id, ch.profile, from_epoch_s(t0), from_epoch_s(t1), centres, occ, n,
                                         float(np.mean(ch.threshold_dbm[rows]))))
    return _merge_same_interval(out, interval_s) if interval_s else out


def _merge_same_interval(ivs: list[OccupancyInterval], interval_s: float) -> list[OccupancyInterval]:
    """Chunks end at arbitrary rows: join neighbours in the same interval with the same channel set."""
    out: list[OccupancyInterval] = []
    for iv in ivs:
        prev = out[-1] if out else None
        if (prev is not None and prev.sensor_id == iv.sensor_id
                and prev.channel_centers_hz.shape == iv.channel_centers_hz.shape
                and np.array_equal(prev.channel_centers_hz, iv.channel_centers_hz)
                and prev.t_start_utc.timestamp() // interval_s == iv.t_start_utc.timestamp() // interval_s):
            n = prev.revisits + iv.revisits
            thr = (prev.threshold_dbm * prev.revisits + iv.threshold_dbm * iv.revisits) / n
            out[-1] = OccupancyInterval(prev.sensor_id, prev.profile, prev.t_start_utc, iv.t_end_utc,
                                        prev.channel_centers_hz, prev.occupied + iv.occupied, n, thr)
        else:
            out.append(iv)
    return out
