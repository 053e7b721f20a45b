"""The report as typed values: what :mod:`coordination.report.build` computes and the renderers show.

Nothing here reads files or draws; every number of the HTML, CSV, GeoJSON and SM.1809 outputs is a
field of these frozen dataclasses, so tests can compare a rendered number with its source.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from coordination.report.data import Period, SensorSite
from coordination.report.occupancy import ChannelOccupancy, OccupancyInterval


@dataclass(frozen=True)
class BandInfo:
    """A band as reported: the rules band (when one matches) and the archive profile measuring it."""

    name: str
    profile: str
    service: str
    f_lo_hz: float
    f_hi_hz: float
    raster_hz: float
    channel_width_hz: float


@dataclass(frozen=True)
class Spectrogram:
    """Max-hold power per time bucket and bin over the period (NaN where no sweep fell in a bucket)."""

    t_edges_s: np.ndarray  # (rows + 1,)
    freqs_hz: np.ndarray  # (bins,)
    max_dbm: np.ndarray  # (rows, bins)
    sweeps: int


@dataclass(frozen=True)
class StrongEmission:
    """The strongest detection of one sensor on one channel in the period."""

    sensor_id: str
    province: str
    channel_hz: float
    center_hz: float
    power_dbm: float
    field_dbuv_m: float
    bandwidth_hz: float
    detections: int
    first_utc: datetime
    last_utc: datetime


@dataclass(frozen=True)
class SiteBand:
    """One sensor (a border site) in one band: occupancy, its evolution, spectrogram, strongest emissions."""

    site: SensorSite
    band: BandInfo
    occupancy: ChannelOccupancy | None
    intervals: tuple[OccupancyInterval, ...]
    spectrogram: Spectrogram | None
    strongest: tuple[StrongEmission, ...]
    median_threshold_dbm: float | None


@dataclass(frozen=True)
class StationCheck:
    """A licensed station against the measurements: where it should be heard and where it was."""

    station_id: str
    province: str
    licensee: str
    service: str
    tx_freq_hz: float
    band: str
    expected_at: tuple[str, ...]
    heard_at: tuple[str, ...]
    predicted_dbm: dict[str, float] = field(default_factory=dict)

    @property
    def status(self) -> str:
        """heard_expected | not_heard | heard_unexpected | not_expected."""
        if self.expected_at:
            return "heard_expected" if set(self.expected_at) & set(self.heard_at) else "not_heard"
        return "heard_unexpected" if self.heard_at else "not_expected"


@dataclass(frozen=True)
class UnlicensedEmission:
    """Detections on a channel of a sensor that no licensed station of the database explains."""

    sensor_id: str
    province: str
    band: str
    channel_hz: float
    detections: int
    max_field_dbuv_m: float
    first_utc: datetime
    last_utc: datetime


@dataclass(frozen=True)
class AlertRow:
    """One alert of the period with its response times (seconds; None when not known)."""

    id: str
    state: str
    verdicts: tuple[str, ...]
    severity: str
    band: str
    f_center_hz: float
    provinces_source: tuple[str, ...]
    provinces_affected: tuple[str, ...]
    first_seen: datetime
    time_to_ack_s: float | None
    ack_exact: bool
    time_to_resolve_s: float | None
    lat: float | None
    lon: float | None
    doc: dict = field(default_factory=dict, compare=False, repr=False)
    #: what gave the position: rss (received levels), tdoa, fused; "" when the alert has none
    position_method: str = ""

    @property
    def pair(self) -> str:
        src = "+".join(self.provinces_source) or "?"
        aff = "+".join(self.provinces_affected) or "?"
        return f"{src}→{aff}"


@dataclass(frozen=True)
class DurationStats:
    """Count, median and maximum of a set of durations (seconds)."""

    n: int
    median_s: float | None
    max_s: float | None

    @classmethod
    def of(cls, values: list[float]) -> DurationStats:
        if not values:
            return cls(0, None, None)
        return cls(len(values), float(np.median(values)), float(np.max(values)))


@dataclass(frozen=True)
class AlertSummary:
    rows: tuple[AlertRow, ...]
    by_verdict: dict[str, int]
    by_band: dict[str, int]
    by_pair: dict[str, int]
    by_severity: dict[str, int]
    by_state: dict[str, int]
    ack: DurationStats
    resolve: DurationStats


@dataclass(frozen=True)
class CoordinationRow:
    """One coordination request of the period: who asked whom about which station, and the answers.

    ``answers``: (province, state, seconds from submission to the answer or None while waiting/lapsed).
    """

    id: str
    province: str
    station_id: str
    tx_freq_hz: float
    state: str
    submitted: datetime
    answers: tuple[tuple[str, str, float | None], ...]


@dataclass(frozen=True)
class CoordinationSummary:
    """Requests, their outcomes (per asked province) and how long the answers took."""

    rows: tuple[CoordinationRow, ...] = ()
    by_state: dict[str, int] = field(default_factory=dict)
    by_answer: dict[str, int] = field(default_factory=dict)
    answer_time: DurationStats = DurationStats(0, None, None)


@dataclass(frozen=True)
class Availability:
    """A sensor's presence over the period: sweeps, heartbeats, gaps, uptime, drops."""

    sensor_id: str
    province: str
    sweeps: int
    heartbeats: int
    first_utc: datetime | None
    last_utc: datetime | None
    uptime_fraction: float
    gaps: tuple[tuple[datetime, datetime], ...]
    gap_threshold_s: float
    sample_drops: int
    spool_drops: int

    @property
    def longest_gap_s(self) -> float:
        return max(((b - a).total_seconds() for a, b in self.gaps), default=0.0)


@dataclass(frozen=True)
class Report:
    """Everything one report shows."""

    archive: str
    period: Period
    province: str | None
    band_filter: str | None
    generated_utc: datetime
    sites: tuple[SensorSite, ...]
    bands: tuple[BandInfo, ...]
    site_bands: tuple[SiteBand, ...]
    stations: tuple[StationCheck, ...]
    unlicensed: tuple[UnlicensedEmission, ...]
    alerts: AlertSummary
    availability: tuple[Availability, ...]
    notes: tuple[str, ...] = ()
    coordination: CoordinationSummary = CoordinationSummary()
