"""Verdict benchmark: is the rules engine right when the world is not ideal?

Monte-Carlo over random incidents on the shipped sensor layout (the sensors of
borderwatch/data/demo_scenario.toml), feeding the rules engine directly (no sockets, no IQ) with
what each sensor would report in the realistic simulated world (sdr.sources.sim_world.RealisticWorld:
log-normal shadowing per link, per-link model error - effective height, terrain clearance, receiver
clutter, sea paths - and a per-sensor calibration error; the sensors' own noise figures and LO errors):

- unlicensed emitters of every band of the rules at random places: inland (> 10 km from any border),
  near a border (< 8 km), off the coast; plausible e.r.p. per service;
- licensed stations of the sample data (station_db/data/sample_stations.csv) with a power fault
  (+15..20 dB) or a frequency fault (2-4 x the tolerance);
- licensed stations of the sample data within their licence.

A licensed station's public-mobile sector (``dir:65``) radiates through a real antenna: its filed azimuth off by
N(0, 5 deg), its width x U(0.8, 1.2), its back lobe 15-28 dB down (:func:`real_antenna`); the engine knows only
the filed pattern. Unlicensed emitters are omnidirectional.

The same incidents are played at each shadowing level (same paths, receivers and draws; only the
shadowing scales). Each incident gets a fresh engine, but the spread the network learns from its matched
stations (coordination.spread) carries over from incident to incident within a level, as it would in a
server that has judged the earlier ones (``--warmup N``: N licensed incidents of another draw first, only
to learn it; ``--no-learning``: a fresh spread per incident, the engine as it was before it learnt).
Every sensor sweeps the incident's band twice (random order and times within the sweep, 0.5 dB
sweep-to-sweep noise) and reports the emission when
its peak bin clears its noise floor by the band's margin; its silence is reported too (coverage).

Printed per shadowing level: split-alert rate (one emitter, several alerts), exact verdict-set
accuracy, source-province top-1 (all; emitters > 5 km from a border), coverage of the stated 95 %
region and median / 90th-percentile position error (unlicensed emitters: where the position comes
from the levels; a matched licensed station is placed at its licence's position), and alerts on
licensed traffic within licence (where the rules call for none); and the spread the network learnt by the
end of the level (from the engine's own judgements of matched stations, never from the world's settings).
The last two columns: the faulty stations caught (an alert with licence_violation by the check of the fault:
power for +15..20 dB, frequency for an offset); ``--licence`` breaks the licensed alerts down by cause (verdicts,
check, sensors heard) and the catches by sensors heard; ``--engine KEY=VALUE`` tries EngineConfig fields.

Usage: python benchmarks/bench_verdicts.py [--n 500] [--seed 7] [--shadowing 0 4 6 8] [--detail] [--cases]
[--only K ...]   (--cases: one block per split or wrong incident; --only: replay those incident numbers alone)
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import statistics
import sys
import tempfile
import time
import zlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from borderwatch.demo import sample_stations_path
from borderwatch.demo_propagation import water_mask
from borderwatch.demo_scenario import load_demo_scenario
from coordination import prediction
from coordination.alerts import Alert, InMemoryAlertStore, Position
from coordination.engine import EngineConfig, RulesEngine, SweepCoverage
from coordination.sensors import SensorInfo
from coordination.spread import ErpBias, NetworkSpread
from coordination.tdoa import ReferenceBroadcaster, SensorSnapshot, TdoaError, locate_tdoa
from coordination.tdoa_fusion import tdoa_position
from coordination.tdoa_orders import TdoaSettings, target_fm_of
from coordination.tdoa_reference import choose_reference
from sdr.scenario import SensorSite, Transmitter
from sdr.sources.sim_reports import reported_class, sweep_report
from sdr.sources.sim_tdoa import MIXED, AdcModel, DongleClock, SnapshotPlan, SnapshotRenderer, TdoaEmitter
from sdr.sources.sim_world import RealisticWorld
from station_db import geo
from station_db.exchange import load_station_file, parse_pattern
from station_db.models import MEMBER_PROVINCES, Station
from station_db.regions import KM_PER_DEG_LAT, KM_PER_DEG_LON_EQ
from station_db.repository import StationRepository
from station_db.rules import BandRule, RuleSet, load_rules

T0 = datetime(2026, 11, 25, 8, 0, 0, tzinfo=UTC)
SWEEP_NOISE_DB = 0.5
#: every sensor sweeps the band once per round of this many seconds (with --ptt: at its own phase within it)
SWEEP_EVERY_S = 6.0
#: --ptt: the over's length range (s)
PTT_OVER_S = (3.0, 8.0)
BOX = (30.35, 32.15, 116.9, 122.2)  # lat_lo, lat_hi, lon_lo, lon_hi: the network and its reach
#: The shipped sensors' profiles sweep at 3.125-6.25 kHz (borderwatch/data/demo_scenario.toml): the bins a
#: sensor's class is measured with (the levels' bins are the band's raster / 4, up to 50 kHz)
CLASS_BIN_HZ = 6250.0
AGREEMENT_UNCERTAINTY_DB = 6.0  # the rules' measurement uncertainty over an agreed field (rules-engine.md s. 6)
MAX_SENSOR_KM = 45.0  # incidents are placed where the network can hear them
ERP_DBW = {"land_mobile": (0.0, 20.0), "broadcast": (15.0, 30.0), "aeronautical": (5.0, 17.0),
           "maritime": (5.0, 17.0), "public_mobile": (10.0, 25.0)}


@dataclass(frozen=True)
class Incident:
    kind: str  # unlicensed-inland / -border / -offshore (/ -cochannel) / fault-power / fault-freq / licensed
    tx: Transmitter
    band: BandRule
    obw_hz: float
    province: str  # where the emitter truly is (offshore: the nearest member province)
    border_km: float
    station: Station | None = None


@dataclass
class Outcome:
    heard: bool
    n_alerts: int
    verdicts: frozenset[str]
    truth: frozenset[str]
    top1: str | None = None
    err_km: float | None = None
    covered: bool | None = None
    n_heard: int = 0
    ambiguous: bool = False  # an alert says the position left its province open (cross-border by doubt)
    detail: str = ""  # the alerts in one line each (--cases)
    doubt_p: float | None = None  # ambiguous: the probability of the province that is both source and affected
    true_p: float | None = None  # the true province's probability in the main alert's position
    region_km: float | None = None  # the main alert's stated 95 % semi-major axis
    #: waveform, sensors, error km, 95 % km, covered, the round told the target is FM
    tdoa: tuple[str, int, float, float, bool, bool] | None = None
    checks: frozenset[str] = frozenset()  # licence checks that raised a violation: frequency / bandwidth / power
    possible_excess: bool = False  # a finding of a power excess the fit shows but cannot establish
    identity_check: str | None = None  # with --tdoa: a round checking a licensed identity: alerted / confirmed


@dataclass
class Table:
    rows: list[tuple[Incident, Outcome]] = field(default_factory=list)


# ---------------------------------------------------------------------- world and network


def sensors_of_demo() -> tuple[list[SensorSite], list[SensorInfo]]:
    sc = load_demo_scenario().scenario
    sites = list(sc.sensors)
    infos = [SensorInfo(s.id, s.province, s.lat, s.lon, s.height_m, s.antenna_factor_db_m) for s in sites]
    return sites, infos


def station_repo(path: Path) -> tuple[StationRepository, list[Station]]:
    stations = load_station_file(sample_stations_path()).stations
    repo = StationRepository(path)
    by_prov: dict[str, list[Station]] = {}
    for s in stations:
        by_prov.setdefault(s.province, []).append(s)
    for prov, sts in by_prov.items():
        repo.import_stations(sts, prov, f"sample-{prov}.csv", f"bench-{prov}")
    return repo, stations


def nearest_province(lat: float, lon: float) -> str:
    code = geo.province_of(lat, lon)
    if code in MEMBER_PROVINCES:
        return str(code)
    d = {p: float(geo.distances_to_province_km(np.array([lat]), np.array([lon]), p)[0]) for p in MEMBER_PROVINCES}
    return min(d, key=lambda p: d[p])


def border_km(lat: float, lon: float) -> float:
    return float(geo.distance_to_border_km(lat, lon)[0])


# ---------------------------------------------------------------------- incidents


def _min_sensor_km(lat: float, lon: float, infos: Sequence[SensorInfo]) -> float:
    return min(float(geo.haversine_km(lat, lon, s.lat, s.lon)) for s in infos)


def _place(kind: str, rng: np.random.Generator, infos: Sequence[SensorInfo]) -> tuple[float, float]:
    for _ in range(20000):
        lat = float(rng.uniform(BOX[0], BOX[1]))
        lon = float(rng.uniform(BOX[2], BOX[3]))
        if _min_sensor_km(lat, lon, infos) > MAX_SENSOR_KM:
            continue
        code = geo.province_of(lat, lon)
        if kind == "offshore":
            if code is None and lon > 121.0 and 1.0 < _min_sensor_km(lat, lon, infos) < 40.0:
                d = min(float(geo.distances_to_province_km(np.array([lat]), np.array([lon]), p)[0])
                        for p in ("SH", "JS", "ZJ"))
                if d < 25.0:
                    return lat, lon
            continue
        if code not in MEMBER_PROVINCES:
            continue
        b = border_km(lat, lon)
        if (kind == "inland" and b > 10.0) or (kind == "border" and b < 8.0):
            return lat, lon
    raise RuntimeError(f"could not place an {kind} incident")


def real_antenna(st: Station, world_seed: int | None) -> dict[str, float]:
    """A licensed station's antenna as the world has it: none for an omnidirectional one; for a sector
    (``dir:BW``) the filed azimuth off by N(0, 5 deg), the beamwidth x U(0.8, 1.2) and a back lobe U(15, 28) dB
    down, where the engine takes the filed azimuth and width and a 20 dB back lobe. Drawn per station and world
    (its own generator: the incidents' draws stay as they were); ``world_seed`` None: the filed antenna exactly
    (the ideal world)."""
    beamwidth = parse_pattern(st.pattern)
    if beamwidth is None or st.azimuth_deg is None:
        return {}
    if world_seed is None:
        return {"azimuth_deg": st.azimuth_deg, "beamwidth_deg": beamwidth, "front_to_back_db": 20.0}
    r = np.random.default_rng([world_seed, zlib.crc32(st.station_id.encode())])
    return {"azimuth_deg": float(st.azimuth_deg + r.normal(0.0, 5.0)) % 360.0,
            "beamwidth_deg": float(beamwidth * r.uniform(0.8, 1.2)), "front_to_back_db": float(r.uniform(15.0, 28.0))}


def make_incidents(n: int, rng: np.random.Generator, rules: RuleSet, stations: Sequence[Station],
                   infos: Sequence[SensorInfo], world_seed: int | None = 0) -> list[Incident]:
    near = [s for s in stations if _min_sensor_km(s.lat, s.lon, infos) < 40.0 and rules.band_for(s.tx_freq_hz)]
    kinds = ["unlicensed-inland"] * 15 + ["unlicensed-border"] * 15 + ["unlicensed-offshore"] * 8 + \
        ["fault-power"] * 12 + ["fault-freq"] * 10 + ["licensed"] * 20
    out: list[Incident] = []
    bands = list(rules.bands)
    for i in range(n):
        kind = kinds[int(rng.integers(len(kinds)))]
        if kind.startswith("unlicensed"):
            where = kind.split("-")[1]
            band = bands[int(rng.integers(len(bands)))]
            if where == "offshore" and band.service not in ("maritime", "aeronautical", "broadcast"):
                band = next(b for b in bands if b.service == "maritime")
            lat, lon = _place(where, rng, infos)
            for _ in range(50):  # a free channel here: no licensed station on it within 60 km
                f = band.channel_center_hz(float(rng.uniform(band.f_lo_hz, band.f_hi_hz))) or band.f_lo_hz
                if band.f_lo_hz + band.channel_width_hz / 2 <= f <= band.f_hi_hz - band.channel_width_hz / 2 and not [
                        s for s in stations if abs(s.tx_freq_hz - f) < band.channel_width_hz
                        and float(geo.haversine_km(lat, lon, s.lat, s.lon)) < 60.0]:
                    break
            lo, hi = ERP_DBW.get(band.service, (0.0, 20.0))
            tx = Transmitter(id=f"inc{i}", lat=lat, lon=lon, freq_hz=f, erp_dbw=float(rng.uniform(lo, hi)),
                             modulation="nfm", antenna_height_m=float(rng.uniform(10.0, 40.0)))
            out.append(Incident(kind, tx, band, 0.8 * band.channel_width_hz, nearest_province(lat, lon),
                                border_km(lat, lon)))
            continue
        st = near[int(rng.integers(len(near)))]
        st_band = rules.band_for(st.tx_freq_hz)
        assert st_band is not None  # `near` keeps only stations in a band of the rules
        boost = float(rng.uniform(15.0, 20.0)) if kind == "fault-power" else 0.0
        tol = max(0.10 * st.necessary_bw_hz, 1000.0)
        offset = float(rng.choice([-1, 1]) * rng.uniform(2.0, 4.0) * tol) if kind == "fault-freq" else 0.0
        tx = Transmitter(id=f"inc{i}-{st.station_id}", lat=st.lat, lon=st.lon, freq_hz=st.tx_freq_hz,
                         erp_dbw=st.erp_dbw, modulation="nfm", erp_boost_db=boost, freq_offset_hz=offset,
                         antenna_height_m=prediction.station_heff_m(st), **real_antenna(st, world_seed))
        out.append(Incident(kind, tx, st_band, 0.9 * st.necessary_bw_hz, st.province, border_km(st.lat, st.lon), st))
    return out


def make_cochannel(n: int, rng: np.random.Generator, rules: RuleSet, stations: Sequence[Station],
                   infos: Sequence[SensorInfo]) -> list[Incident]:
    """``n`` pirates on a licensed station's own channel, 5-40 km from it on land in a member province (within
    45 km of a sensor), the licensee silent meanwhile: the case the station prior gets wrong most (the main draw
    keeps pirates off channels with a licensee within 60 km). Truth: ``unlicensed`` (and cross-border by the
    levels); an alert naming the station, or none, is the station prior taking a pirate for a licensee."""
    near = [s for s in stations if _min_sensor_km(s.lat, s.lon, infos) < 40.0 and rules.band_for(s.tx_freq_hz)]
    out: list[Incident] = []
    for _ in range(200 * max(n, 1)):
        if len(out) >= n:
            break
        st = near[int(rng.integers(len(near)))]
        band = rules.band_for(st.tx_freq_hz)
        assert band is not None  # `near` keeps only stations in a band of the rules
        d_km, az = float(rng.uniform(5.0, 40.0)), float(rng.uniform(0.0, 2.0 * math.pi))
        lat = st.lat + d_km * math.cos(az) / KM_PER_DEG_LAT
        lon = st.lon + d_km * math.sin(az) / (KM_PER_DEG_LON_EQ * math.cos(math.radians(st.lat)))
        if _min_sensor_km(lat, lon, infos) > MAX_SENSOR_KM or geo.province_of(lat, lon) not in MEMBER_PROVINCES:
            continue
        lo, hi = ERP_DBW.get(band.service, (0.0, 20.0))
        tx = Transmitter(id=f"cochannel{len(out)}", lat=lat, lon=lon, freq_hz=st.tx_freq_hz,
                         erp_dbw=float(rng.uniform(lo, hi)), modulation="nfm",
                         antenna_height_m=float(rng.uniform(10.0, 40.0)))
        out.append(Incident("unlicensed-cochannel", tx, band, 0.8 * band.channel_width_hz,
                            nearest_province(lat, lon), border_km(lat, lon)))
    if len(out) < n:
        raise RuntimeError(f"could place only {len(out)} of {n} co-channel pirates")
    return out


# ---------------------------------------------------------------------- one incident


def _bin_hz(band: BandRule) -> float:
    return min(band.raster_hz, band.channel_width_hz) / 4.0


def truth_verdicts(inc: Incident, measured: dict[str, list[float]], infos: Sequence[SensorInfo],
                   day: date) -> frozenset[str]:
    """What the agreed rules call for, judged with the truth (who emits, where, how strong).

    Cross-border towards B: a sensor of B (not the emitter's province) measures it over the border
    limit, or a licensed station heard outside its province is predicted over the limit at the B
    border (P.1546, licensed e.r.p. plus any boost). A station within its licence with an agreement
    in force towards B: only over the agreed field (+ the measurement uncertainty for a measurement).
    """
    prov = {s.sensor_id: s.province for s in infos}
    lim = inc.band.border_limit_dbuv_m
    worst: dict[str, float] = {}
    for sid, levels in measured.items():
        if prov[sid] != inc.province:
            worst[prov[sid]] = max(worst.get(prov[sid], -math.inf), max(levels))
    if inc.station is None:
        return frozenset({"unlicensed", *(["cross_border"] if any(v >= lim for v in worst.values()) else [])})
    out: set[str] = set()
    st = inc.station
    if inc.kind.startswith("fault"):
        out.add("licence_violation")
    predicted: dict[str, float] = {}
    if worst:  # heard outside its province: the predicted-border rule applies
        erp = st.erp_dbw + inc.tx.erp_boost_db
        for p in geo.neighbours(st.province):
            if p not in MEMBER_PROVINCES:
                continue
            d, (blat, blon) = geo.distance_to_border_km(st.lat, st.lon, p, province=st.province)
            if math.isfinite(d):
                predicted[p] = prediction.predict_at_point_dbuv_m(st, blat, blon, prediction.BORDER_RX_HEIGHT_M,
                                                                  inc.band, erp)
    within = not inc.kind.startswith("fault")
    for p in set(worst) | set(predicted):
        m, e = worst.get(p), predicted.get(p)
        c = st.coordination_with(p)
        if within and c is not None and c.in_force_on(day):
            agreed = float(c.agreed_field_dbuv_m or 0.0)
            over = (m is not None and m > agreed + AGREEMENT_UNCERTAINTY_DB) or (e is not None and e > agreed + 0.05)
        else:
            over = (m is not None and m >= lim) or (e is not None and e > lim)
        if over:
            out.add("cross_border")
    return frozenset(out)


def covered(alert: Alert, lat: float, lon: float) -> bool:
    assert alert.position is not None
    return covered_by(alert.position, lat, lon)


def covered_by(p: Position, lat: float, lon: float) -> bool:
    """Whether a position's stated 95 % region (ellipse or annulus) holds (lat, lon)."""
    d = float(geo.haversine_km(p.lat, p.lon, lat, lon))
    if p.kind == "annulus":
        return (p.r_inner_km or 0.0) <= d <= (p.r_outer_km or 0.0)
    east = (lon - p.lon) * KM_PER_DEG_LON_EQ * math.cos(math.radians(p.lat))
    north = (lat - p.lat) * KM_PER_DEG_LAT
    az = math.radians(p.orientation_deg)
    u = east * math.sin(az) + north * math.cos(az)  # along the major axis
    v = east * math.cos(az) - north * math.sin(az)
    a = max(p.semi_major_km, 1e-6)
    b = max(p.semi_minor_km, 1e-6)
    return (u / a) ** 2 + (v / b) ** 2 <= 5.991


def _tdoa_kind(inc: Incident) -> tuple[str, float]:
    """The snapshot waveform of the incident's emitter: FM for broadcast, a wideband block for public
    mobile (GSM-like 200 kHz), narrowband FM for the rest (land mobile, maritime, aeronautical)."""
    if inc.band.service == "broadcast":
        return "fm_broadcast", min(inc.obw_hz, 180e3)
    if inc.obw_hz >= 100e3:
        return "wideband", min(inc.obw_hz, 180e3)
    return "nfm", inc.obw_hz


def tdoa_fix(inc: Incident, world: RealisticWorld, sites: Sequence[SensorSite], infos: Sequence[SensorInfo],
             measured: dict[str, list[float]], stations: Sequence[Station], start: Position | None,
             rng: np.random.Generator, seed: int, target_fm: bool = False) -> Position | str:
    """A TDOA round as the server would order it: the strongest heard sensors (at most the server's
    ``max_sensors``), the sample data's best FM reference for them, snapshots rendered in the same world
    (multipath, 8-bit ADC behind AGC, dongles +-50 ppm and +-10 ms), then locate_tdoa, told the target is FM
    as the server tells it (``target_fm``: from the classes the sensors reported on the alert). Returns the fix
    as an alert position, or why there is none."""
    st = TdoaSettings()
    ids = sorted(measured, key=lambda sid: -max(measured[sid]))[: st.max_sensors]
    by_id = {s.id: (s, i) for s, i in zip(sites, infos, strict=True)}
    choice = choose_reference(stations, [by_id[sid][1] for sid in ids], today=T0.date())
    if choice is None:
        return "no reference broadcaster strong enough at every sensor"
    ref_st = choice.station
    ref = ReferenceBroadcaster(ref_st.station_id, ref_st.lat, ref_st.lon,
                               ref_st.antenna_height_m + ref_st.ground_height_m, ref_st.tx_freq_hz)
    fs = st.sample_rate_hz
    plan = SnapshotPlan(ref.freq_hz, inc.tx.freq_hz, fs, ref_samples=round(st.ref_s * fs),
                        target_samples=round(st.target_s * fs), settle_samples=round(st.settle_s * fs))
    ref_tx = Transmitter(id=ref_st.station_id, lat=ref_st.lat, lon=ref_st.lon, freq_hz=ref_st.tx_freq_hz,
                         erp_dbw=ref_st.erp_dbw, modulation="fm_broadcast",
                         antenna_height_m=prediction.station_heff_m(ref_st))
    kind, bw = _tdoa_kind(inc)
    renderer = SnapshotRenderer([TdoaEmitter(inc.tx, kind, bw, seed), TdoaEmitter(ref_tx, "fm_broadcast", 180e3,
                                                                                  seed + 7)],
                                world, plan, seed=seed, multipath=MIXED, adc=AdcModel())
    snaps = []
    for sid in ids:
        site = by_id[sid][0]
        clock = DongleClock(ppm=float(rng.uniform(-50, 50)), start_offset_s=float(rng.uniform(-10e-3, 10e-3)))
        snaps.append(SensorSnapshot(sid, site.lat, site.lon, site.height_m, renderer.render(site, clock)))
    try:
        res = locate_tdoa(snaps, ref, starts_latlon=[] if start is None else [(start.lat, start.lon)],
                          target_fm=target_fm)
    except TdoaError as exc:
        return str(exc)
    return tdoa_position(res)


def play(inc: Incident, world: RealisticWorld, sites: Sequence[SensorSite], infos: Sequence[SensorInfo],
         repo: StationRepository, rules: RuleSet, cfg: EngineConfig, rng: np.random.Generator, t0: datetime,
         tdoa_stations: Sequence[Station] | None = None, seed: int = 0, spread: NetworkSpread | None = None,
         erp_bias: ErpBias | None = None, tdoa_fm: bool = True,
         fixes: dict[str, Any] | None = None, ptt: bool = False) -> Outcome:
    """One incident. With ``tdoa_stations`` each sensor's reports carry the emission class its own sweep would
    measure (:func:`sdr.sources.sim_reports.reported_class`, once per sensor, at its first report's SNR, with the
    shipped profiles' bins: 6.25 kHz at most), and the round is told the target is FM as the server tells it,
    from those classes on the alert (``tdoa_fm`` False: never, the rounds before the class reached them).
    ``fixes``: rounds already solved (by seed and shadowing), taken instead of solving again, and the new ones
    added (a fix depends on the incident, the world and the level fix only: the engine's fusion settings do not
    move it). ``ptt``: the emitter is keyed for one over (``PTT_OVER_S`` long, starting within the first 6 s)
    and each sensor sweeps every ``SWEEP_EVERY_S`` at its own phase, three times: a sensor hears it only when
    a sweep falls within the over (push-to-talk traffic and keyed carriers; the sweeps after the over hear
    nothing)."""
    engine = RulesEngine(repo, rules, InMemoryAlertStore(), config=cfg, spread=spread, erp_bias=erp_bias)
    prov_of = {s.sensor_id: s.province for s in infos}
    band = inc.band
    bin_hz = _bin_hz(band)
    cover = SweepCoverage(band.f_lo_hz, band.f_hi_hz, bin_hz)
    measured: dict[str, list[float]] = {}
    events = []
    notes: set[str] = set()
    classes: dict[str, tuple[str, float]] = {}  # sensor -> the class its sweeps report (with TDOA only)
    if ptt:  # one over, keyed at a random time; each sensor sweeps the band every 6 s at its own phase
        prng = np.random.default_rng([seed, 88])
        phase = prng.uniform(0.0, SWEEP_EVERY_S, len(sites))
        on_s = float(prng.uniform(0.0, SWEEP_EVERY_S))
        off_s = on_s + float(prng.uniform(*PTT_OVER_S))
    for sweep in range(3 if ptt else 2):
        if ptt:
            order = np.argsort(phase)
            offsets = phase[order]
        else:
            order = rng.permutation(len(sites))
            offsets = np.sort(rng.uniform(0.0, 1.5, len(sites)))
        base = t0 + timedelta(seconds=SWEEP_EVERY_S * sweep)
        for k, j in enumerate(order):
            site, info = sites[j], infos[j]
            rep = sweep_report(world, inc.tx, site, obw_hz=inc.obw_hz, bin_hz=bin_hz, margin_db=band.margin_db,
                               rng=rng, sweep_noise_db=SWEEP_NOISE_DB)
            if ptt and not on_s <= SWEEP_EVERY_S * sweep + float(offsets[k]) <= off_s:
                rep = dataclasses.replace(rep, emission=None)  # swept while the transmitter was not keyed
            ems: list[dict[str, float | str]] = [rep.emission] if rep.emission else []
            if rep.emission is not None:
                measured.setdefault(site.id, []).append(rep.reported_field_dbuv_m)
                if tdoa_stations is not None:
                    if site.id not in classes:  # its own generator: the incident's draws stay as they were
                        kind, bw = _tdoa_kind(inc)
                        classes[site.id] = reported_class(kind, bw, float(rep.emission["snr_db"]),
                                                          bin_hz=min(bin_hz, CLASS_BIN_HZ), seed=seed * 100 + int(j))
                    ems = [{**rep.emission, "emission_class": classes[site.id][0],
                            "class_confidence": classes[site.id][1]}]
            t = base + timedelta(seconds=float(offsets[k]))
            events += engine.observe(info, t, ems, rep.noise_floor_dbm, site.antenna_factor_db_m, coverage=cover)
        events += engine.tick(base + timedelta(seconds=SWEEP_EVERY_S if ptt else 4.0))
        # a finding with no alert lives in the channel status while the cluster is judged
        notes |= {n for c in engine.channel_status() for n in c.get("licence_notes", ())}
    tdoa_note = ""
    check: str | None = None  # an identity check's round: whether its fix opened an alert or left the station
    tdoa_seen: tuple[str, int, float, float, bool, bool] | None = None
    if tdoa_stations is not None and len(measured) >= 3:
        # The server orders a round when an alert opens; the fix reaches the engine while the levels are
        # still within the evidence horizon, so the judgement is redone on the fused position.
        last_now: dict[str, Alert] = {}
        for ev in events:
            last_now[ev.alert.id] = ev.alert
        live = [a for a in last_now.values() if a.active]
        # With no alert, a round the engine asks for to check a licensed identity resting on the prior.
        checks = [] if live else engine.identity_checks()
        target: tuple[str, Position | None, bool] | None = None
        asked: dict[str, Any] | None = None  # the identity check the round is for
        if live:
            main = max(live, key=lambda a: len(a.sensors))
            target = (main.id, main.position, tdoa_fm and target_fm_of(main.to_json()))
        elif checks:
            asked = max(checks, key=lambda d: len(d["sensors"]))
            target = (asked["id"], None if asked["position"] is None else Position.from_json(asked["position"]),
                      tdoa_fm and target_fm_of(asked))
        if target is not None:
            target_id, start, fm = target
            key = f"{seed}/{world.shadowing_db:g}"
            if fixes is not None and key in fixes:  # the same round, solved by an earlier run
                got = fixes[key]
                fix = got if isinstance(got, str) else Position.from_json(got)
            else:
                fix = tdoa_fix(inc, world, sites, infos, measured, tdoa_stations, start, rng, seed, fm)
                if fixes is not None:  # this run takes the fix as a later one will read it (JSON's rounding)
                    fixes[key] = fix if isinstance(fix, str) else fix.to_json()
                    fix = fix if isinstance(fix, str) else Position.from_json(fixes[key])
            if isinstance(fix, str):
                tdoa_note = f"      TDOA: no fix ({fix})"
            else:
                tdoa_seen = (_tdoa_kind(inc)[0], fix.n_sensors,
                             float(geo.haversine_km(fix.lat, fix.lon, inc.tx.lat, inc.tx.lon)), fix.error_km,
                             covered_by(fix, inc.tx.lat, inc.tx.lon), fm)
                tdoa_note = (f"      TDOA: fix {float(geo.haversine_km(fix.lat, fix.lon, inc.tx.lat, inc.tx.lon)):.2f} "
                             f"km off, 95 % {fix.error_km:.2f} km{', FM target' if fm else ''}")
                got_events = engine.add_position_fix(target_id, fix, t0 + timedelta(seconds=12.0))
                events += got_events
                if asked is not None:
                    check = "alerted" if any(e.event == "opened" for e in got_events) else "confirmed"
                    tdoa_note += f"; identity check of {asked['matched_station']} (p {asked['probability']}): {check}"
    events += engine.tick(t0 + timedelta(seconds=40.0))
    last: dict[str, Alert] = {}
    for ev in events:
        last[ev.alert.id] = ev.alert
    alerts = [a for a in last.values() if a.resolved_by != "engine"]  # withdrawn provisional ones do not count
    truth = truth_verdicts(inc, measured, infos, t0.date())
    out = Outcome(heard=bool(measured), n_alerts=len(alerts),
                  verdicts=frozenset(v for a in alerts for v in a.verdicts), truth=truth, n_heard=len(measured),
                  ambiguous=any(f.startswith("ambiguous:") for a in alerts for f in a.findings), tdoa=tdoa_seen,
                  checks=frozenset(c for a in alerts for f in a.findings for c in licence_checks(f)),
                  possible_excess=any(f.startswith("possible") for a in alerts for f in a.findings)
                  or bool(notes), identity_check=check)
    heard_s = ", ".join(f"{sid}({prov_of[sid]}) {max(v):.1f}" for sid, v in sorted(measured.items(),
                                                                                    key=lambda kv: -max(kv[1])))
    out.detail = f"heard: {heard_s or '-'}\n" + "\n".join(
        f"      alert {'+'.join(a.verdicts)} src {'/'.join(a.provinces_source)} aff {'/'.join(a.provinces_affected)} "
        f"matched {a.matched_station} sensors {','.join(r.sensor_id for r in a.sensors)}"
        + ("" if a.position is None else f" pos {a.position.kind} {a.position.error_km:.1f} km "
           f"{dict(a.position.provinces)}") for a in alerts) + (f"\n{tdoa_note}" if tdoa_note else "")
    if alerts:
        main = max(alerts, key=lambda a: len(a.sensors))
        out.top1 = main.provinces_source[0] if main.provinces_source else None
        if main.position is not None:
            probs = main.position.province_probabilities
            out.true_p, out.region_km = probs.get(inc.province, 0.0), main.position.error_km
            both = set(main.provinces_source) & set(main.provinces_affected)
            out.doubt_p = max((probs.get(p, 0.0) for p in both), default=None)
        if inc.station is None and main.position is not None:
            out.err_km = float(geo.haversine_km(main.position.lat, main.position.lon, inc.tx.lat, inc.tx.lon))
            out.covered = covered(main, inc.tx.lat, inc.tx.lon)
    return out


# ---------------------------------------------------------------------- report


def licence_checks(finding: str) -> tuple[str, ...]:
    """Which licence check a violation finding of the engine reports (its wording, docs/rules-engine.md s. 6)."""
    for check, start in (("frequency", "frequency offset "), ("bandwidth", "occupied bandwidth "),
                         ("power", "measured field ")):
        if finding.startswith(start):
            return (check,)
    return ()


def fault_caught(inc: Incident, o: Outcome) -> bool:
    """A faulty station is caught when an alert says licence_violation by the check of its fault."""
    return "licence_violation" in o.verdicts and ("power" if inc.kind == "fault-power" else "frequency") in o.checks


def summarise(level: float, rows: Sequence[tuple[Incident, Outcome]]) -> dict[str, float]:
    heard = [(i, o) for i, o in rows if o.heard]
    alerted = [(i, o) for i, o in heard if o.n_alerts > 0]
    exact = [o.verdicts == o.truth for _, o in heard]
    top = [(i, o.top1 == i.province) for i, o in alerted]
    top_far = [ok for i, ok in top if i.border_km > 5.0]
    errs = [o.err_km for _, o in heard if o.err_km is not None]
    cov = [o.covered for _, o in heard if o.covered is not None]
    lic = [o for i, o in heard if i.kind == "licensed" and not o.truth]

    def pct(xs: Sequence[bool]) -> float:
        return 100.0 * sum(xs) / len(xs) if xs else float("nan")

    return {
        "shadow_db": level, "incidents": len(rows), "heard": len(heard),
        "split_pct": pct([o.n_alerts > 1 for _, o in heard]),
        "exact_pct": pct(exact), "top1_pct": pct([ok for _, ok in top]), "top1_far_pct": pct(top_far),
        "coverage_pct": pct([bool(c) for c in cov]),
        "err_med_km": statistics.median(errs) if errs else float("nan"),
        "err_p90_km": float(np.percentile(errs, 90)) if errs else float("nan"),
        "lic_alert_pct": pct([o.n_alerts > 0 for o in lic]), "lic_n": len(lic),
        "pwr_caught_pct": pct([fault_caught(i, o) for i, o in heard if i.kind == "fault-power"]),
        "frq_caught_pct": pct([fault_caught(i, o) for i, o in heard if i.kind == "fault-freq"]),
    }


def licence_lines(rows: Sequence[tuple[Incident, Outcome]]) -> list[str]:
    """Alerts on licensed traffic within licence by cause (verdicts, the licence check, sensors heard), and
    the faults caught per kind by sensors heard: what an accusation level trades."""
    heard = [(i, o) for i, o in rows if o.heard]
    lic = [(i, o) for i, o in heard if i.kind == "licensed" and not o.truth]
    bad: Counter[str] = Counter()
    for _, o in lic:
        if o.n_alerts:
            bad[f"{'+'.join(sorted(o.verdicts))}{' by ' + '/'.join(sorted(o.checks)) if o.checks else ''}, "
                f"{'3+' if o.n_heard >= 3 else o.n_heard} sensor(s)"] += 1
    lines = [f"    licensed within licence: {sum(n for n in bad.values())} alerted of {len(lic)}, "
             f"{sum(o.possible_excess for _, o in lic)} with a possible-excess or possible-violation finding"]
    lines += [f"      {n:3d} x {k}" for k, n in bad.most_common()]
    for kind in ("fault-power", "fault-freq"):
        sub = [(i, o) for i, o in heard if i.kind == kind]
        parts = []
        for label, lo, hi in (("1", 1, 1), ("2", 2, 2), ("3-4", 3, 4), ("5+", 5, 99)):
            s = [fault_caught(i, o) for i, o in sub if lo <= o.n_heard <= hi]
            parts.append(f"{label}: {sum(s)}/{len(s)}")
        lines.append(f"    {kind} caught {sum(fault_caught(i, o) for i, o in sub)}/{len(sub)} (by sensors heard "
                     f"{', '.join(parts)}), possible-excess/violation finding on "
                     f"{sum(o.possible_excess for _, o in sub)}")
    return lines


def breakdown(rows: Sequence[tuple[Incident, Outcome]]) -> str:
    heard = [(i, o) for i, o in rows if o.heard]
    lines = []
    for label, lo, hi in (("1 sensor", 1, 1), ("2 sensors", 2, 2), ("3+ sensors", 3, 99)):
        sub = [(i, o) for i, o in heard if lo <= o.n_heard <= hi]
        far = [o.top1 == i.province for i, o in sub if o.n_alerts and i.border_km > 5.0]
        errs = [o.err_km for _, o in sub if o.err_km is not None]
        cov = [bool(o.covered) for _, o in sub if o.covered is not None]
        lines.append(f"    heard by {label:10s} {len(sub):4d} incidents: exact "
                     f"{100.0 * sum(o.verdicts == o.truth for _, o in sub) / max(len(sub), 1):5.1f} %, top1>5km "
                     f"{100.0 * sum(far) / max(len(far), 1):5.1f} % of {len(far)}, median error "
                     f"{statistics.median(errs) if errs else float('nan'):5.1f} km, cover95 "
                     f"{100.0 * sum(cov) / max(len(cov), 1):5.1f} % of {len(cov)}")
    doubt = [(i, o) for i, o in heard if o.verdicts != o.truth and o.ambiguous
             and o.verdicts - o.truth == {"cross_border"}]
    lines.append(f"    misses that are only the ambiguity rule (cross-border by doubt): {len(doubt)}")
    lines += ambiguity_lines(doubt)
    lines += tdoa_lines([o.tdoa for _, o in heard if o.tdoa is not None])
    checked: dict[str, list[str]] = {}
    for i, o in heard:
        if o.identity_check is not None:
            checked.setdefault(i.kind, []).append(o.identity_check)
    if checked:
        lines.append("    identity checks (TDOA rounds for a licensed identity resting on the prior): " + ", ".join(
            f"{k} {len(v)} ({v.count('alerted')} opened an alert)" for k, v in sorted(checked.items())))
    by: dict[str, list[bool]] = {}
    wrong: Counter[str] = Counter()
    for i, o in rows:
        if not o.heard:
            continue
        by.setdefault(i.kind, []).append(o.verdicts == o.truth)
        if o.verdicts != o.truth:
            wrong[f"{i.kind}: truth {'+'.join(sorted(o.truth)) or '-'} got {'+'.join(sorted(o.verdicts)) or '-'}"] += 1
    lines += [f"    {k:22s} exact {100.0 * sum(v) / len(v):5.1f} % of {len(v)}" for k, v in sorted(by.items())]
    lines += [f"    miss {n:3d} x {k}" for k, n in wrong.most_common(8)]
    return "\n".join(lines)


def outcome_record(k: int, level: float, inc: Incident, o: Outcome) -> dict[str, object]:
    """One incident's outcome as plain JSON (--jsonl)."""
    return {"k": k, "shadow_db": level, "kind": inc.kind, "province": inc.province, "border_km": inc.border_km,
            "heard": o.heard, "n_heard": o.n_heard, "n_alerts": o.n_alerts, "verdicts": sorted(o.verdicts),
            "truth": sorted(o.truth), "top1": o.top1, "err_km": o.err_km, "covered": o.covered,
            "ambiguous": o.ambiguous, "doubt_p": o.doubt_p, "region_km": o.region_km,
            "tdoa": None if o.tdoa is None else list(o.tdoa), "identity_check": o.identity_check}


def ambiguity_lines(doubt: Sequence[tuple[Incident, Outcome]]) -> list[str]:
    """What the ambiguity rule's misses are made of: by kind and by sensors heard, the probability the
    position gave the doubted province (both source and affected) and whether the stated region really
    reaches over the border (the emitter is nearer a border than the region's 95 % semi-major axis)."""
    if not doubt:
        return []
    lines = []
    groups: dict[str, list[tuple[Incident, Outcome]]] = {}
    for i, o in doubt:
        groups.setdefault(i.kind, []).append((i, o))
        groups.setdefault(f"heard by {'3+' if o.n_heard >= 3 else o.n_heard}", []).append((i, o))
    for label, sub in sorted(groups.items()):
        ps = [o.doubt_p for _, o in sub if o.doubt_p is not None]
        reach = sum(1 for i, o in sub if o.region_km is not None and i.border_km < o.region_km)
        errs = [o.err_km for _, o in sub if o.err_km is not None]
        cov = [bool(o.covered) for _, o in sub if o.covered is not None]
        lines.append(f"      doubt {label:20s} {len(sub):3d}: P(doubted province) median "
                     f"{statistics.median(ps) if ps else float('nan'):.2f}, < 0.3 in {sum(p < 0.3 for p in ps)}, "
                     f"region reaches the border {reach}, median region "
                     f"{statistics.median([o.region_km for _, o in sub if o.region_km]) if sub else 0:.1f} km, "
                     f"error {statistics.median(errs) if errs else float('nan'):.1f} km, covered {sum(cov)}/{len(cov)}")
    return lines


def tdoa_lines(fixes: Sequence[tuple[str, int, float, float, bool]]) -> list[str]:
    """The TDOA fixes alone, by waveform and sensor count: error and coverage of their own stated region."""
    lines = []
    for kind in sorted({f[0] for f in fixes}):
        for lo, hi in ((3, 3), (4, 99)):
            sub = [f for f in fixes if f[0] == kind and lo <= f[1] <= hi]
            if sub:
                lines.append(f"    TDOA {kind:12s} {lo}{'+' if hi > lo else ''} sensors {len(sub):3d} fixes: median "
                             f"error {statistics.median(f[2] for f in sub):6.2f} km, median 95 % "
                             f"{statistics.median(f[3] for f in sub):6.2f} km, covered {sum(f[4] for f in sub)}"
                             f"/{len(sub)}")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=500, help="incidents per shadowing level (default 500)")
    ap.add_argument("--seed", type=int, default=7, help="incident and sweep seed (default 7)")
    ap.add_argument("--world-seed", type=int, default=11, help="seed of the world's draws (default 11)")
    ap.add_argument("--shadowing", type=float, nargs="+", default=[0.0, 4.0, 6.0, 8.0])
    ap.add_argument("--ideal", action="store_true", help="no model or calibration error (the engine's own law)")
    ap.add_argument("--detail", action="store_true", help="per-kind accuracy and the commonest misses")
    ap.add_argument("--cases", action="store_true", help="every split alert and wrong verdict set, one block each")
    ap.add_argument("--only", type=int, nargs="+", default=None, help="play only these incident numbers")
    ap.add_argument("--tdoa", action="store_true",
                    help="levels + TDOA: incidents heard by >= 3 sensors get a rendered TDOA round fused in")
    ap.add_argument("--tdoa-no-fm", action="store_true",
                    help="with --tdoa: never tell the round the target is FM (before the sensors' class reached it)")
    ap.add_argument("--tdoa-fixes", default=None, metavar="FILE",
                    help="with --tdoa: take the rounds solved by an earlier run from FILE (JSON lines), append new "
                         "ones: a second run with other fusion settings (--engine) on the same incidents costs "
                         "little")
    ap.add_argument("--compare", action="store_true",
                    help="with --tdoa: also play the same incidents levels only and print that row too")
    ap.add_argument("--warmup", type=int, default=0,
                    help="licensed incidents (another draw) played first at each level, only to learn the spread")
    ap.add_argument("--no-learning", action="store_true", help="a fresh learnt spread per incident (none learnt)")
    ap.add_argument("--learnt-fixes", action="store_true",
                    help="the localiser takes the learnt spread for every fix (default: for fixes of at most "
                         "learnt_spread_max_sensors = 2 levels, the 3-10 dB spread mixture for more)")
    ap.add_argument("--mixture-fixes", action="store_true",
                    help="the localiser keeps its 3-10 dB spread mixture for every fix (learnt_spread_in_fixes off)")
    ap.add_argument("--global-erp", action="store_true",
                    help="one e.r.p. prior for every service (the localiser's erp_range_dbw), not erp_by_service")
    ap.add_argument("--kinds", nargs="+", default=None, metavar="PREFIX",
                    help="play only incidents whose kind starts with one of these (e.g. unlicensed)")
    ap.add_argument("--jsonl", default=None, help="append one JSON line per incident's outcome to this file")
    ap.add_argument("--cochannel", type=int, default=0, metavar="N",
                    help="N more incidents after the draw: pirates on a licensee's channel 5-40 km from it "
                         "(kind unlicensed-cochannel; the headline columns then include them)")
    ap.add_argument("--ptt", action="store_true",
                    help="keyed traffic: one over of 3-8 s, sensors sweeping every 6 s at their own phases")
    ap.add_argument("--licence", action="store_true",
                    help="licensed alerts by cause and faults caught by sensors heard (also with --detail)")
    ap.add_argument("--erp-bias", action="store_true",
                    help="the power check takes out the e.r.p. fits' common bias the network learnt "
                         "(erp_bias_correction; the learnt bias is printed either way)")
    ap.add_argument("--engine", nargs="+", default=[], metavar="KEY=VALUE",
                    help="EngineConfig fields to try (e.g. power_accuse_z=1.64: the accusation level before)")
    ap.add_argument("--localiser", nargs="+", default=[], metavar="KEY=VALUE",
                    help="LocaliserConfig fields to try (e.g. sigma_db=2.5 n_sigma=4)")
    args = ap.parse_args(argv)
    rules = load_rules()
    sites, infos = sensors_of_demo()
    rng = np.random.default_rng(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        repo, stations = station_repo(Path(tmp) / "stations.db")
        incidents = make_incidents(args.n, rng, rules, stations, infos, None if args.ideal else args.world_seed)
        if args.cochannel:  # their own generator: the main draw stays as it was
            incidents += make_cochannel(args.cochannel, np.random.default_rng([args.seed, 77]), rules, stations, infos)
        warm = [i for i in make_incidents(4 * args.warmup, np.random.default_rng([args.seed, 99]), rules, stations,
                                          infos, None if args.ideal else args.world_seed)
                if i.station is not None][: args.warmup]
        base = (RealisticWorld.ideal(seed=args.world_seed) if args.ideal
                else RealisticWorld(seed=args.world_seed, water_mask=water_mask))
        loc = {k: float(v) if "." in v else int(v) for k, v in (kv.split("=", 1) for kv in args.localiser)}
        cfg = EngineConfig(localiser=loc) if loc else EngineConfig()  # type: ignore[arg-type]
        if args.learnt_fixes:
            cfg = dataclasses.replace(cfg, learnt_spread_in_fixes=True, learnt_spread_max_sensors=1000)
        if args.engine:
            cfg = dataclasses.replace(cfg, **{k: float(v) if "." in v else int(v)  # type: ignore[arg-type]
                                              for k, v in (kv.split("=", 1) for kv in args.engine)})
        if args.erp_bias:
            cfg = dataclasses.replace(cfg, erp_bias_correction=True)
        if args.mixture_fixes:
            cfg = dataclasses.replace(cfg, learnt_spread_in_fixes=False)
        if args.global_erp:
            cfg = dataclasses.replace(cfg, localiser=dataclasses.replace(cfg.localiser, erp_by_service=()))
        print(f"bench_verdicts: {len(incidents)} incidents x {len(args.shadowing)} shadowing levels, "
              f"{len(sites)} sensors (demo layout), seed {args.seed}, world seed {args.world_seed}, "
              f"{'ideal world' if args.ideal else 'model + calibration error'}"
              f"{', levels + TDOA (heard by >= 3 sensors)' if args.tdoa else ', levels only'}"
              f"{', keyed traffic (one over, sweeps at their own phases)' if args.ptt else ''}", flush=True)
        print("kinds: " + ", ".join(f"{k} {n}" for k, n in sorted(Counter(i.kind for i in incidents).items())))
        header = (f"{'shadow':>6} {'heard':>5} {'split%':>6} {'exact%':>6} {'top1%':>6} {'top1>5km%':>9} "
                  f"{'cover95%':>8} {'err_med':>7} {'err_p90':>7} {'lic_alert%':>10} {'s':>5} {'pwr_fault%':>10} "
                  f"{'frq_fault%':>10}")
        print(header)
        fixes: dict[str, Any] = {}
        if args.tdoa_fixes and Path(args.tdoa_fixes).exists():
            for line in Path(args.tdoa_fixes).read_text().splitlines():
                rec = json.loads(line)
                fixes[rec["key"]] = rec["fix"]
        written = set(fixes)
        for level in args.shadowing:
            world = base.with_shadowing(level)
            t_start = time.perf_counter()
            # One generator per incident (seeded by its number): an incident replays alone (--only) as in the run.
            picked = [(k, inc) for k, inc in enumerate(incidents) if (args.only is None or k in args.only)
                      and (args.kinds is None or inc.kind.startswith(tuple(args.kinds)))]
            learnt = NetworkSpread()
            bias = ErpBias()
            for k, inc in enumerate(warm):
                play(inc, world, sites, infos, repo, rules, cfg,
                     np.random.default_rng([args.seed, int(level * 10), k, 1]), T0 - timedelta(hours=k + 1),
                     spread=learnt, erp_bias=bias)
            rows = []
            for k, inc in picked:
                o = play(inc, world, sites, infos, repo, rules, cfg,
                         np.random.default_rng([args.seed, int(level * 10), k]), T0 + timedelta(hours=k),
                         stations if args.tdoa else None, 1000 * args.seed + k,
                         spread=None if args.no_learning else learnt, erp_bias=None if args.no_learning else bias,
                         tdoa_fm=not args.tdoa_no_fm, fixes=fixes, ptt=args.ptt)
                rows.append((inc, o))
                if args.tdoa_fixes:
                    with open(args.tdoa_fixes, "a", encoding="utf-8") as fh:
                        for key in fixes.keys() - written:
                            fh.write(json.dumps({"key": key, "fix": fixes[key]}) + "\n")
                    written |= fixes.keys()
                if args.jsonl:  # one line per incident as it is played: a long run is read while it goes
                    with open(args.jsonl, "a", encoding="utf-8") as fh:
                        fh.write(json.dumps(outcome_record(k, level, inc, o)) + "\n")
            m = summarise(level, rows)
            print(f"{level:6.1f} {m['heard']:5d} {m['split_pct']:6.1f} {m['exact_pct']:6.1f} {m['top1_pct']:6.1f} "
                  f"{m['top1_far_pct']:9.1f} {m['coverage_pct']:8.1f} {m['err_med_km']:7.1f} {m['err_p90_km']:7.1f} "
                  f"{m['lic_alert_pct']:10.1f} {time.perf_counter() - t_start:5.0f} {m['pwr_caught_pct']:10.1f} "
                  f"{m['frq_caught_pct']:10.1f}", flush=True)
            if not args.no_learning:
                prior = learnt.prior()
                print(f"    learnt spread: {'none' if prior is None else f'{prior.sigma_db:.2f} dB'} ({learnt.dof} dof"
                      f"{f', {args.warmup} warm-up incidents' if args.warmup else ''})", flush=True)
                est = bias.estimate()
                told = "none" if est is None else f"{est.median_db:+.2f} dB +- {est.se_db:.2f}"
                print(f"    learnt e.r.p. fit bias: {told}"
                      f" ({bias.n_stations} stations, {'taken out' if cfg.erp_bias_correction else 'not applied'})",
                      flush=True)
            if args.detail:
                print(breakdown(rows), flush=True)
            if args.detail or args.licence:
                print("\n".join(licence_lines(rows)), flush=True)
            if args.tdoa and args.compare:
                # The same incidents, levels only: same generators, so the same sweeps and reports.
                t_start = time.perf_counter()
                learnt_lv = NetworkSpread()  # learnt again along the levels-only pass (no warm-up)
                rows_lv = [(inc, play(inc, world, sites, infos, repo, rules, cfg,
                                      np.random.default_rng([args.seed, int(level * 10), k]), T0 + timedelta(hours=k),
                                      spread=None if args.no_learning else learnt_lv, ptt=args.ptt))
                           for k, inc in picked]
                m = summarise(level, rows_lv)
                print(f"{level:6.1f} {m['heard']:5d} {m['split_pct']:6.1f} {m['exact_pct']:6.1f} {m['top1_pct']:6.1f} "
                      f"{m['top1_far_pct']:9.1f} {m['coverage_pct']:8.1f} {m['err_med_km']:7.1f} "
                      f"{m['err_p90_km']:7.1f} {m['lic_alert_pct']:10.1f} {time.perf_counter() - t_start:5.0f}"
                      f"   <- levels only, same incidents", flush=True)
                if args.detail:
                    print(breakdown(rows_lv), flush=True)
                    both = [(i, o) for (i, o), (_, ot) in zip(rows_lv, rows, strict=True) if ot.tdoa is not None]
                    fixed = [(i, ot) for (i, o), (_, ot) in zip(rows_lv, rows, strict=True) if ot.tdoa is not None]
                    ex_lv = 100.0 * sum(o.verdicts == o.truth for _, o in both) / max(len(both), 1)
                    ex_td = 100.0 * sum(o.verdicts == o.truth for _, o in fixed) / max(len(fixed), 1)
                    print(f"    incidents with a TDOA fix: {len(fixed)}; exact levels only {ex_lv:.1f} %, "
                          f"with TDOA {ex_td:.1f} %", flush=True)
            if args.cases:
                for (k, _), (inc, o) in zip(picked, rows, strict=True):
                    if o.heard and (o.n_alerts > 1 or o.verdicts != o.truth):
                        print(f"  #{k} {inc.kind} {inc.band.name} {inc.tx.freq_hz / 1e6:.4f} MHz in {inc.province} "
                              f"({inc.border_km:.1f} km from a border) erp {inc.tx.erp_dbw + inc.tx.erp_boost_db:.1f} "
                              f"dBW{'' if inc.station is None else ' station ' + inc.station.station_id}: truth "
                              f"{'+'.join(sorted(o.truth)) or '-'}, {o.n_alerts} alert(s)"
                              f"{' AMBIG' if o.ambiguous else ''}"
                              f"\n      {o.detail}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
