"""Compute a :class:`~coordination.report.model.Report` from an archive (the one place with the logic).

Choices a monitoring engineer should know (also in docs/reports.md):

* A *border area* is a sensor site: every sensor stands near a provincial border and reports its own
  occupancy; sites are grouped by province.
* FCO comes from the sensors' own SM.1880 reports when there are any (every sweep counted), else
  from the archived sweeps (hourly intervals); both count "strongest bin above the sweep threshold".
  The archive keeps each sweep's noise floor; its threshold is the floor plus the band's margin
  (rules ``margin_db``), as the sensor computes it.
* A licensed station is *expected* at a sensor when its licensed e.r.p., through the propagation
  model of the rules engine (:mod:`coordination.prediction`), gives a strongest-bin level above the
  sensor's median threshold in that band; it is *heard* when an emission of that sensor in the
  period covers its frequency (within half the necessary bandwidth or half a raster step).
* Uptime: the period minus the gaps, a gap being a silence (no sweep, no heartbeat) longer than
  ``max(3 x median spacing, 60 s)``; a sensor that never spoke has uptime 0.
"""

from __future__ import annotations

import logging
import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from coordination.profiles import slug
from coordination.report.data import (
    DEFAULT_MARGIN_DB,
    ArchiveReader,
    EmissionRecord,
    Period,
    ProfileAxis,
    SensorSite,
    from_epoch_s,
    parse_utc_text,
)
from coordination.report.i18n import N_
from coordination.report.model import (
    AlertRow,
    AlertSummary,
    Availability,
    BandInfo,
    CoordinationRow,
    CoordinationSummary,
    DurationStats,
    Report,
    SiteBand,
    Spectrogram,
    StationCheck,
    StrongEmission,
    UnlicensedEmission,
)
from coordination.report.occupancy import (
    SOURCE_REPORTS,
    SOURCE_SPECTRA,
    combine_intervals,
    intervals_from_reports,
    occupancy_from_spectra,
)
from station_db.exchange import read_stations
from station_db.repository import StationRepository
from station_db.rules import BandRule, RuleSet, load_rules

log = logging.getLogger(__name__)

MIN_GAP_S = 60.0
SPECTRA_INTERVAL_S = 3600.0


@dataclass(frozen=True)
class ReportOptions:
    """What to report on; ``stations``/``rules`` None: the archive's stations.db / the shipped rules."""

    period: Period
    province: str | None = None
    band: str | None = None
    stations: Path | None = None
    rules: Path | None = None
    top_emissions: int = 10
    spectrogram_rows: int = 240
    now: datetime | None = None


# ---------------------------------------------------------------------- bands


def band_for_profile(rules: RuleSet | None, axis: ProfileAxis | None, profile: str,
                     centres_hz: np.ndarray | None = None) -> tuple[BandInfo, BandRule | None]:
    """The rules band measured by a profile (by name, else by frequency), and the BandRule (or None)."""
    rule = None
    if rules is not None:
        for b in rules.bands:
            if slug(b.name) == profile or b.name == profile:
                rule = b
                break
        if rule is None:
            mid = None
            if axis is not None:
                mid = (axis.f_start_hz + axis.f_stop_hz) / 2.0
            elif centres_hz is not None and centres_hz.size:
                mid = float(np.median(centres_hz))
            if mid is not None:
                rule = rules.band_for(mid)
    if rule is not None:
        return BandInfo(rule.name, profile, rule.service, rule.f_lo_hz, rule.f_hi_hz, rule.raster_hz,
                        rule.channel_width_hz), rule
    raster = 12_500.0
    if centres_hz is not None and centres_hz.size > 1:
        raster = float(np.median(np.diff(np.sort(centres_hz))))
    if axis is not None:
        f_lo, f_hi = axis.f_start_hz, axis.f_stop_hz
    elif centres_hz is not None and centres_hz.size:
        f_lo, f_hi = float(np.min(centres_hz)) - raster / 2, float(np.max(centres_hz)) + raster / 2
    else:
        f_lo = f_hi = 0.0
    return BandInfo(profile, profile, "", f_lo, f_hi, raster, raster), None


def band_matches(band: BandInfo, wanted: str | None) -> bool:
    """``--band`` accepts the rules band name (any case) or the profile name."""
    return name_matches(band.name, wanted) or (wanted is not None and wanted.strip().lower() == band.profile.lower())


def name_matches(name: str, wanted: str | None) -> bool:
    """A band name against ``--band`` (None matches everything): same text in any case, or same slug."""
    if not wanted:
        return True
    w = wanted.strip().lower()
    return w in (name.lower(), slug(name))


# ---------------------------------------------------------------------- spectrogram


def spectrogram(reader: ArchiveReader, main: ProfileAxis, period: Period, rows: int) -> Spectrogram | None:
    """Max-hold power per (time bucket, bin) on one axis (the profile's main one), streamed chunk by chunk."""
    edges = np.linspace(period.start_s, period.end_s, rows + 1)
    out = np.full((rows, main.n_bins), -np.inf, dtype=np.float32)
    sweeps = 0
    for ch in reader.iter_spectra(main.sensor_id, main.profile, period, axis=main):
        if ch.rows == 0:
            continue
        order = np.argsort(ch.t_utc_s, kind="stable")
        t, p = ch.t_utc_s[order], ch.power_dbm[order]
        b = np.clip(np.searchsorted(edges, t, side="right") - 1, 0, rows - 1)
        starts = np.concatenate(([0], np.flatnonzero(np.diff(b)) + 1))
        red = np.maximum.reduceat(p, starts, axis=0)
        ub = b[starts]
        out[ub] = np.maximum(out[ub], red)
        sweeps += ch.rows
    if sweeps == 0:
        return None
    out[~np.isfinite(out)] = np.nan
    freqs = main.f_start_hz + main.f_step_hz * np.arange(main.n_bins)
    return Spectrogram(edges, freqs, out, sweeps)


# ---------------------------------------------------------------------- emissions


def channel_of(band: BandInfo, freq_hz: float) -> float:
    """Centre of the raster channel nearest ``freq_hz``."""
    k = round((freq_hz - band.f_lo_hz) / band.raster_hz)
    return band.f_lo_hz + k * band.raster_hz


def strongest_emissions(ems: Sequence[EmissionRecord], band: BandInfo, site: SensorSite, top: int
                        ) -> tuple[StrongEmission, ...]:
    """Per channel the strongest detection (by channel power), the ``top`` channels, strongest first."""
    groups: dict[float, list[EmissionRecord]] = defaultdict(list)
    for e in ems:
        groups[channel_of(band, e.center_hz)].append(e)
    out = []
    for ch_hz, es in groups.items():
        best = max(es, key=lambda e: e.power_dbm)
        out.append(StrongEmission(site.sensor_id, site.province, ch_hz, best.center_hz, best.power_dbm,
                                  best.field_dbuv_m, best.bandwidth_hz, len(es), min(e.t_utc for e in es),
                                  max(e.t_utc for e in es)))
    out.sort(key=lambda s: (-s.power_dbm, s.channel_hz))
    return tuple(out[:top])


# ---------------------------------------------------------------------- availability


def availability(reader: ArchiveReader, site: SensorSite, period: Period, now: datetime | None = None
                 ) -> Availability:
    """Uptime, gaps and drops of one sensor in the period (see the module doc for the gap rule)."""
    t_sweeps = reader.spectra_times(site.sensor_id, period)
    health = reader.health(site.sensor_id, period)
    t_hb = np.array([h.t_utc.timestamp() for h in health])
    t = np.unique(np.concatenate([t_sweeps, t_hb]))
    end_s = period.end_s if now is None else min(period.end_s, max(now.timestamp(), period.start_s + 1.0))
    span = end_s - period.start_s
    if t.size:
        spacing = float(np.median(np.diff(t))) if t.size > 1 else MIN_GAP_S
        thr = max(3.0 * spacing, MIN_GAP_S)
        bounds = np.concatenate(([period.start_s], t, [end_s]))
        d = np.diff(bounds)
        idx = np.flatnonzero(d > thr)
        gaps = tuple((from_epoch_s(bounds[i]), from_epoch_s(bounds[i + 1])) for i in idx)
        down = float(d[idx].sum())
        uptime = max(0.0, 1.0 - down / span)
    else:
        thr, gaps, uptime = MIN_GAP_S, ((period.start, from_epoch_s(end_s)),), 0.0
    sample, spool = _counter_increase(health, "sample_drops"), _counter_increase(health, "spool_dropped")
    return Availability(site.sensor_id, site.province, int(t_sweeps.size), len(health),
                        from_epoch_s(t[0]) if t.size else None, from_epoch_s(t[-1]) if t.size else None, uptime,
                        gaps, thr, sample, spool)


def _counter_increase(health: Sequence[Any], key: str) -> int:
    """Total increase of a cumulative counter across heartbeats (a drop in value = sensor restart)."""
    total, prev = 0.0, None
    for h in health:
        v = h.health.get(key)
        if v is None:
            continue
        if prev is not None:
            total += v - prev if v >= prev else v
        prev = v
    return round(total)


# ---------------------------------------------------------------------- alerts


def alert_row(doc: dict[str, Any]) -> AlertRow:
    """Response times from the alert JSON.

    Exact when the document carries ``acknowledged_at``/``resolved_at``; otherwise the last change
    (``updated_at``) of an alert in that state: exact for a resolved alert (nothing changes it
    afterwards), an upper bound for an acknowledged one (later sightings also move ``updated_at``).
    """
    aid = str(doc.get("id"))
    first = parse_utc_text(doc["first_seen"], f"alert {aid} first_seen")
    state = str(doc.get("state", "open"))
    upd = doc.get("updated_at") or doc.get("last_seen")
    t_ack = t_res = None
    exact = False
    if doc.get("acknowledged_at"):
        t_ack, exact = (parse_utc_text(doc["acknowledged_at"], f"alert {aid}") - first).total_seconds(), True
    elif state == "acknowledged" and upd:
        t_ack = (parse_utc_text(upd, f"alert {aid} updated_at") - first).total_seconds()
    if doc.get("resolved_at"):
        t_res = (parse_utc_text(doc["resolved_at"], f"alert {aid}") - first).total_seconds()
    elif state == "resolved" and upd:
        t_res = (parse_utc_text(upd, f"alert {aid} updated_at") - first).total_seconds()
    pos = doc.get("position") or {}
    return AlertRow(aid, state, tuple(doc.get("verdicts") or ()), str(doc.get("severity", "")),
                    str(doc.get("band", "")), float(doc.get("f_center_hz") or 0.0),
                    tuple(doc.get("provinces_source") or ()), tuple(doc.get("provinces_affected") or ()), first,
                    t_ack, exact, t_res, pos.get("lat"), pos.get("lon"), dict(doc),
                    str(pos.get("method") or "rss") if pos else "")


def summarise_coordination(docs: Sequence[dict[str, Any]]) -> CoordinationSummary:
    """Requests, outcomes per asked province, and the time from submission to each answer (agreed or
    objected; a lapsed deadline is an outcome, not an answer time)."""
    rows = []
    for d in docs:
        submitted = parse_utc_text(str(d["submitted_at"]), f"request {d.get('id')}")
        answers = []
        for a in d.get("answers", ()):
            t = None
            if a.get("state") in ("agreed", "objected") and a.get("at"):
                t = (parse_utc_text(str(a["at"]), f"request {d.get('id')} answer") - submitted).total_seconds()
            answers.append((str(a.get("province", "")), str(a.get("state", "")), t))
        station = d.get("station") or {}
        rows.append(CoordinationRow(str(d.get("id", "")), str(d.get("province", "")),
                                    str(station.get("station_id", "")), float(station.get("tx_freq_hz") or 0.0),
                                    str(d.get("state", "")), submitted, tuple(answers)))
    return CoordinationSummary(
        rows=tuple(rows), by_state=dict(sorted(Counter(r.state for r in rows).items())),
        by_answer=dict(sorted(Counter(s for r in rows for _, s, _t in r.answers).items())),
        answer_time=DurationStats.of([t for r in rows for _, _s, t in r.answers if t is not None]))


def summarise_alerts(docs: Sequence[dict[str, Any]]) -> AlertSummary:
    rows = tuple(alert_row(d) for d in docs)
    by_verdict: Counter[str] = Counter(v for r in rows for v in r.verdicts)
    return AlertSummary(
        rows=rows, by_verdict=dict(sorted(by_verdict.items())),
        by_band=dict(sorted(Counter(r.band for r in rows).items())),
        by_pair=dict(sorted(Counter(r.pair for r in rows).items())),
        by_severity=dict(sorted(Counter(r.severity for r in rows).items())),
        by_state=dict(sorted(Counter(r.state for r in rows).items())),
        ack=DurationStats.of([r.time_to_ack_s for r in rows if r.time_to_ack_s is not None]),
        resolve=DurationStats.of([r.time_to_resolve_s for r in rows if r.time_to_resolve_s is not None]))


# ---------------------------------------------------------------------- licensed vs measured


def _open_stations(reader: ArchiveReader, path: Path | None) -> StationRepository | None:
    """The station database the report checks licences against (a CSV/JSON export is imported in memory)."""
    p = path if path is not None else reader.root / "stations.db"
    if not Path(p).exists():
        return None
    if Path(p).suffix.lower() in (".csv", ".json"):
        repo = StationRepository(":memory:")
        repo.import_all_provinces(read_stations(Path(p)), Path(p).name, "report")
        return repo
    return StationRepository(p)


def measured_range(sb: SiteBand) -> tuple[float, float] | None:
    """Frequencies the sensor actually measured in the band (its sweep axis, else its reported channels)."""
    if sb.spectrogram is not None and sb.spectrogram.freqs_hz.size:
        return float(sb.spectrogram.freqs_hz[0]), float(sb.spectrogram.freqs_hz[-1])
    if sb.occupancy is not None and sb.occupancy.channel_centers_hz.size:
        c = sb.occupancy.channel_centers_hz
        return float(c.min()) - sb.band.raster_hz / 2, float(c.max()) + sb.band.raster_hz / 2
    return None


def _emission_arrays(ems: Sequence[EmissionRecord]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(centre, lower edge, upper edge) of each emission, Hz."""
    a = np.array([(e.center_hz, e.f_lo_hz, e.f_hi_hz) for e in ems], dtype=np.float64).reshape(-1, 3)
    return a[:, 0], a[:, 1], a[:, 2]


def licensing(site_bands: Sequence[SiteBand], rules_by_band: dict[str, BandRule], repo: StationRepository,
              ems_by_site_band: dict[tuple[str, str], list[EmissionRecord]], period: Period, province: str | None
              ) -> tuple[tuple[StationCheck, ...], tuple[UnlicensedEmission, ...]]:
    """Stations expected/heard per sensor, and emission channels no licence explains.

    A station is checked only at the sensors whose measured frequencies contain its frequency.
    """
    from coordination.prediction import predict_field_dbuv_m
    from coordination.sensors import SensorInfo
    from dsp import dbuv_m_to_dbm

    checks: list[StationCheck] = []
    unlicensed: list[UnlicensedEmission] = []
    by_band: dict[str, list[SiteBand]] = defaultdict(list)
    for sb in site_bands:
        by_band[sb.band.name].append(sb)
    for band_name, sbs in sorted(by_band.items()):
        band = sbs[0].band
        rule = rules_by_band.get(band_name)
        measured = [(sb, r, _emission_arrays(ems_by_site_band.get((sb.site.sensor_id, sb.band.profile), ())))
                    for sb in sbs if (r := measured_range(sb)) is not None]
        if not measured:
            continue
        f_lo = min(r[0] for _, r, _ in measured) - band.raster_hz
        f_hi = max(r[1] for _, r, _ in measured) + band.raster_hz
        stations = [s for s in repo.stations_overlapping(f_lo, f_hi)
                    if s.status == "active" and s.valid_from <= period.end.date() and s.valid_to >= period.start.date()]
        for st in stations:
            expected, heard, pred = [], [], {}
            tol = max(st.necessary_bw_hz / 2.0, band.raster_hz / 2.0)
            in_range = False
            for sb, (lo, hi), (c, e_lo, e_hi) in measured:
                if not lo <= st.tx_freq_hz <= hi:
                    continue
                in_range = True
                site = sb.site
                if np.any((np.abs(c - st.tx_freq_hz) <= tol) | ((e_lo <= st.tx_freq_hz) & (st.tx_freq_hz <= e_hi))):
                    heard.append(site.sensor_id)
                if rule is None or sb.median_threshold_dbm is None or not math.isfinite(site.lat):
                    continue
                info = SensorInfo(site.sensor_id, site.province or "?", site.lat, site.lon, max(site.height_m, 0.0),
                                  site.antenna_factor_db_m)
                p_dbm = float(dbuv_m_to_dbm(predict_field_dbuv_m(st, info, rule), site.antenna_factor_db_m))
                bin_hz = (float(np.median(np.diff(sb.spectrogram.freqs_hz)))
                          if sb.spectrogram is not None and sb.spectrogram.freqs_hz.size > 1 else band.raster_hz / 4)
                pred[site.sensor_id] = round(p_dbm, 2)
                # the sensor compares its strongest bin with the threshold: spread the power over the bins
                if p_dbm - 10.0 * math.log10(max(1.0, st.necessary_bw_hz / bin_hz)) > sb.median_threshold_dbm:
                    expected.append(site.sensor_id)
            if not in_range:
                continue  # no sensor measured its frequency
            if province and st.province != province and not expected and not heard:
                continue
            checks.append(StationCheck(st.station_id, st.province, st.licensee, st.service, st.tx_freq_hz,
                                       band_name, tuple(expected), tuple(heard), pred))
        s_lo = np.array([s.tx_lo_hz for s in stations]) - band.raster_hz / 2
        s_hi = np.array([s.tx_hi_hz for s in stations]) + band.raster_hz / 2
        for sb, _r, (c, _lo, _hi) in measured:
            ems = ems_by_site_band.get((sb.site.sensor_id, sb.band.profile), [])
            explained = np.zeros(c.size, bool)
            for i in range(0, c.size, 4096):  # bounded memory: emissions x stations per block
                part = c[i:i + 4096, None]
                explained[i:i + 4096] = ((part >= s_lo[None, :]) & (part <= s_hi[None, :])).any(axis=1)
            groups: dict[float, list[EmissionRecord]] = defaultdict(list)
            for k in np.flatnonzero(~explained):
                groups[channel_of(band, ems[k].center_hz)].append(ems[k])
            for ch_hz, es in sorted(groups.items()):
                unlicensed.append(UnlicensedEmission(sb.site.sensor_id, sb.site.province, band_name, ch_hz, len(es),
                                                     max(e.field_dbuv_m for e in es), min(e.t_utc for e in es),
                                                     max(e.t_utc for e in es)))
    checks.sort(key=lambda c: (c.band, c.tx_freq_hz, c.province, c.station_id))
    return tuple(checks), tuple(unlicensed)


# ---------------------------------------------------------------------- the whole report


def build_report(archive_dir: str | Path, options: ReportOptions) -> Report:
    """Read the archive and compute every section of the report."""
    period = options.period
    notes: list[str] = []
    rules = load_rules(options.rules)
    with ArchiveReader(archive_dir) as reader:
        sites = reader.sensors(options.province)
        if not sites:
            notes.append(N_("No sensor of the selection in the archive."))
        site_bands: list[SiteBand] = []
        rules_by_band: dict[str, BandRule] = {}
        ems_by_site_band: dict[tuple[str, str], list[EmissionRecord]] = defaultdict(list)
        all_ems = reader.emissions(period, [s.sensor_id for s in sites])
        for e in all_ems:
            ems_by_site_band[(e.sensor_id, e.profile)].append(e)
        for site in sites:
            # per profile its main axis (most sweeps): the one the spectrogram and SM.1809 export show
            axes = {a.profile: a for a in sorted(reader.profile_axes(site.sensor_id, period), key=lambda a: a.rows)}
            profiles = sorted(set(axes) | set(reader.occupancy_profiles(site.sensor_id, period)))
            for profile in profiles:
                reports = reader.occupancy(site.sensor_id, profile, period)
                centres = reports[-1].channel_centers_hz if reports else None
                band, rule = band_for_profile(rules, axes.get(profile), profile, centres)
                if not band_matches(band, options.band):
                    continue
                if rule is not None:
                    rules_by_band[band.name] = rule
                intervals = intervals_from_reports(reports)
                source = SOURCE_REPORTS
                thresholds = [r.threshold_dbm for r in reports]
                if not intervals and profile in axes:
                    all_centres = np.arange(band.f_lo_hz, band.f_hi_hz, band.raster_hz)
                    if rule is not None:
                        all_centres = rule.channel_centers_hz()
                    margin_db = rule.margin_db if rule is not None else DEFAULT_MARGIN_DB
                    sweeps = reader.iter_spectra(site.sensor_id, profile, period, margin_db=margin_db)
                    intervals = occupancy_from_spectra(sweeps,
                                                       all_centres, band.channel_width_hz,
                                                       interval_s=SPECTRA_INTERVAL_S)
                    source = SOURCE_SPECTRA
                    thresholds = [iv.threshold_dbm for iv in intervals]
                occ = combine_intervals(intervals, source=source)
                axis = axes.get(profile)
                spec = spectrogram(reader, axis, period, options.spectrogram_rows) if axis else None
                strongest = strongest_emissions(ems_by_site_band.get((site.sensor_id, profile), []), band, site,
                                                options.top_emissions)
                site_bands.append(SiteBand(site, band, occ, tuple(intervals), spec, strongest,
                                           float(np.median(thresholds)) if thresholds else None))
        bands = tuple(sorted({sb.band for sb in site_bands}, key=lambda b: b.f_lo_hz))
        repo = _open_stations(reader, options.stations)
        if repo is None:
            stations: tuple[StationCheck, ...] = ()
            unlicensed: tuple[UnlicensedEmission, ...] = ()
            notes.append(N_("No station database (stations.db in the archive or --stations): "
                            "the licensed-versus-measured section is empty."))
        else:
            try:
                stations, unlicensed = licensing(site_bands, rules_by_band, repo, ems_by_site_band, period,
                                                 options.province)
            finally:
                repo.close()
        docs = reader.alerts(period, options.province)
        actions = reader.alert_action_times()
        docs = [actions.get(str(d.get("id")), {}) | d for d in docs]  # the document's own times win
        if options.band:
            names = {b.name for b in bands}
            docs = [d for d in docs if str(d.get("band")) in names or name_matches(str(d.get("band")), options.band)]
        alerts = summarise_alerts(docs)
        avail = tuple(availability(reader, s, period, options.now) for s in sites)
        coordination = summarise_coordination(reader.coordination_requests(period, options.province))
    return Report(str(archive_dir), period, options.province, options.band, options.now or datetime.now(UTC),
                  tuple(sites), bands, tuple(site_bands), stations, unlicensed, alerts, avail, tuple(notes),
                  coordination)
