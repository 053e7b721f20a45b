"""A small synthetic world for the rules-engine tests: real border places, real station database.

Sensors sit at real places on both sides of the Zhejiang/Jiangsu and Anhui/Jiangsu borders
(checked against the shipped boundaries by ``test_engine_world_places_are_where_we_say``).
Received levels are computed from a known emitter through the same P.1546 model the engine uses
(50 % of time: what a sensor sees on average), plus Gaussian "shadowing" noise.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np

from coordination import prediction
from coordination.sensors import SensorInfo
from coordination.spread import NetworkSpread
from station_db.geo import haversine_km
from station_db.models import Station
from station_db.repository import StationRepository

T0 = datetime(2026, 11, 25, 8, 0, 0, tzinfo=UTC)
ANTENNA_FACTOR_DB_M = 20.0
NOISE_FLOOR_DBM = -125.0

# Zhejiang / Jiangsu border south of Lake Tai (border runs about 30.92 N between 120.1 and 120.45 E).
ZJ_JS_SENSORS = (
    SensorInfo("zj-jiaxing-w", "ZJ", 30.75, 120.15, 15.0, ANTENNA_FACTOR_DB_M),
    SensorInfo("zj-tongxiang", "ZJ", 30.72, 120.40, 15.0, ANTENNA_FACTOR_DB_M),
    SensorInfo("js-wujiang-w", "JS", 31.00, 120.15, 15.0, ANTENNA_FACTOR_DB_M),
    SensorInfo("js-wujiang-e", "JS", 31.02, 120.40, 15.0, ANTENNA_FACTOR_DB_M),
)
ZJ_EMITTER = (30.84, 120.25)  # ZJ, 9 km south of the JS border

# Anhui / Jiangsu border west of Nanjing (Ma'anshan side).
AH_JS_SENSORS = (
    SensorInfo("ah-maanshan-s", "AH", 31.70, 118.25, 15.0, ANTENNA_FACTOR_DB_M),
    SensorInfo("ah-hexian", "AH", 31.90, 118.20, 15.0, ANTENNA_FACTOR_DB_M),
    SensorInfo("js-nanjing-w", "JS", 31.95, 118.60, 15.0, ANTENNA_FACTOR_DB_M),
    SensorInfo("js-jiangning", "JS", 31.75, 118.70, 15.0, ANTENNA_FACTOR_DB_M),
)
AH_STATION_POS = (31.80, 118.30)  # AH, 15 km from the JS border

# Deep inside Anhui (Hefei area), > 100 km from any other province.
AH_DEEP_SENSORS = (
    SensorInfo("ah-hefei-n", "AH", 31.95, 117.25, 15.0, ANTENNA_FACTOR_DB_M),
    SensorInfo("ah-hefei-s", "AH", 31.75, 117.30, 15.0, ANTENNA_FACTOR_DB_M),
    SensorInfo("ah-feidong", "AH", 31.88, 117.48, 15.0, ANTENNA_FACTOR_DB_M),
)
AH_DEEP_STATION_POS = (31.85, 117.32)

PMR_FREQ_HZ = 450.0125e6  # PMR 400 band, on its 12.5 kHz raster


def station(
    station_id: str, province: str, lat: float, lon: float, *, tx_freq_hz: float = PMR_FREQ_HZ,
    erp_dbw: float = 10.0, necessary_bw_hz: float = 11_000.0, antenna_height_m: float = 25.0,
    ground_height_m: float = 10.0, service: str = "land_mobile", designator: str = "11K0F3E",
    valid_from: date = date(2020, 1, 1),
) -> Station:
    return Station(
        station_id=station_id, province=province, licensee=f"{station_id} licensee (test)", service=service,
        tx_freq_hz=tx_freq_hz, rx_freq_hz=None, emission_designator=designator, necessary_bw_hz=necessary_bw_hz,
        erp_dbw=erp_dbw, antenna_height_m=antenna_height_m, azimuth_deg=None, pattern="omni",
        ground_height_m=ground_height_m, lat=lat, lon=lon, valid_from=valid_from, valid_to=date(2030, 12, 31),
    )


def learnt_spread(sigma_db: float, rng: np.random.Generator, n_stations: int = 60) -> NetworkSpread:
    """A network that has judged ``n_stations`` stations of five levels each, scattered by ``sigma_db``: a spread
    learnt past its minimum degrees of freedom, so an engine given it uses it from its first judgement."""
    spread = NetworkSpread()
    for k in range(n_stations):
        spread.add(f"st{k}", {f"sensor{j}": float(v) for j, v in enumerate(rng.normal(0.0, sigma_db, 5))})
    return spread


def make_repo(path: Path, stations: Iterable[Station]) -> StationRepository:
    """A real SQLite station database holding ``stations`` (imported per owner province)."""
    repo = StationRepository(path)
    by_prov: dict[str, list[Station]] = {}
    for s in stations:
        by_prov.setdefault(s.province, []).append(s)
    for prov, sts in by_prov.items():
        repo.import_stations(sts, prov, f"test-{prov}.csv", f"hash-{prov}")
    return repo


def true_field_dbuv_m(sensor: SensorInfo, lat: float, lon: float, erp_dbw: float, freq_hz: float,
                      heff_m: float, ha_m: float, time_pct: float = 50.0) -> float:
    d_km = float(haversine_km(sensor.lat, sensor.lon, lat, lon))
    g = prediction.field_0dbw_dbuv_m(np.array([d_km]), freq_hz, heff_m, sensor.height_m, time_pct, ha_m=ha_m)
    return float(erp_dbw + g[0])


def emission(sensor: SensorInfo, lat: float, lon: float, *, erp_dbw: float, freq_hz: float = PMR_FREQ_HZ,
             obw_hz: float = 10_000.0, heff_m: float = 35.0, ha_m: float = 25.0,
             rng: np.random.Generator | None = None, noise_db: float = 0.0) -> dict[str, float] | None:
    """The emission record ``sensor`` reports for the emitter, or None when below its margin."""
    e = true_field_dbuv_m(sensor, lat, lon, erp_dbw, freq_hz, heff_m, ha_m)
    if rng is not None and noise_db > 0:
        e += float(rng.normal(0.0, noise_db))
    power_dbm = e - 107.0 - sensor.antenna_factor_db_m
    snr = power_dbm - NOISE_FLOOR_DBM
    if snr < 8.0:
        return None
    return {"center_hz": freq_hz, "peak_hz": freq_hz, "peak_dbm": power_dbm + 3.0, "power_dbm": power_dbm,
            "bandwidth_xdb_hz": obw_hz * 0.8, "obw_hz": obw_hz, "snr_db": snr,
            "f_lo_hz": freq_hz - obw_hz / 2.0, "f_hi_hz": freq_hz + obw_hz / 2.0}


def sweep(engine, sensors, t: datetime, lat: float, lon: float, **kw) -> list:
    """Every sensor reports one sweep at ``t`` (a sensor hearing nothing reports no emission)."""
    events = []
    for s in sensors:
        em = emission(s, lat, lon, **kw)
        events += engine.observe(s, t, [em] if em else [], NOISE_FLOOR_DBM, s.antenna_factor_db_m)
    return events


def run(engine, sensors, lat: float, lon: float, *, start: datetime = T0, n: int = 3, every_s: float = 5.0,
        **kw) -> tuple[list, datetime]:
    """``n`` sweeps ``every_s`` apart plus a tick after the last window; returns events and end time."""
    events: list = []
    t = start
    for _ in range(n):
        events += sweep(engine, sensors, t, lat, lon, **kw)
        t = t + timedelta(seconds=every_s)
        events += engine.tick(t)
    return events, t


# ---------------------------------------------------------------------- the realistic world


def demo_sites():
    """The shipped demo's sensors: simulator sites and the engine's view of them."""
    from borderwatch.demo_scenario import load_demo_scenario

    sites = list(load_demo_scenario().scenario.sensors)
    infos = [SensorInfo(s.id, s.province, s.lat, s.lon, s.height_m, s.antenna_factor_db_m) for s in sites]
    return sites, infos


def realistic_sweeps(engine, world, sites, infos, txs, band, *, t0: datetime = T0, sweeps: int = 2,
                     every_s: float = 6.0, seed: int = 0, obw_hz: float | None = None, coverage: bool = True,
                     tick_after_s: float = 40.0, heard: set[str] | None = None,
                     klass: tuple[str, float] | None = None) -> list:
    """Every sensor sweeps ``band`` ``sweeps`` times (random order and times within 1.5 s) and reports
    the strongest of ``txs`` it hears (sdr.sources.sim_reports: the realistic world's field, the
    sensor's floor and margin); returns all events, ending with a tick ``tick_after_s`` after ``t0``.
    ``heard`` collects the ids of the sensors that reported it; ``klass``: the (emission class, confidence)
    every report carries (what the sensors' classifier measured; none by default)."""
    from coordination.engine import SweepCoverage
    from sdr.sources.sim_reports import sweep_report

    rng = np.random.default_rng(seed)
    bin_hz = min(band.raster_hz, band.channel_width_hz) / 4.0
    obw = obw_hz or 0.8 * band.channel_width_hz
    cover = SweepCoverage(band.f_lo_hz, band.f_hi_hz, bin_hz) if coverage else None
    events: list = []
    for k in range(sweeps):
        base = t0 + timedelta(seconds=every_s * k)
        order = rng.permutation(len(sites))
        offsets = np.sort(rng.uniform(0.0, 1.5, len(sites)))
        for i, j in enumerate(order):
            reps = [sweep_report(world, tx, sites[j], obw_hz=obw, bin_hz=bin_hz, margin_db=band.margin_db, rng=rng)
                    for tx in txs]
            got = [r for r in reps if r.emission is not None]
            best = max(got, key=lambda r: r.reported_field_dbuv_m) if got else reps[0]
            if got and heard is not None:
                heard.add(infos[j].sensor_id)
            ems = [best.emission] if best.emission else []
            if klass is not None:
                ems = [{**e, "emission_class": klass[0], "class_confidence": klass[1]} for e in ems]
            events += engine.observe(infos[j], base + timedelta(seconds=float(offsets[i])), ems, best.noise_floor_dbm,
                                     sites[j].antenna_factor_db_m, coverage=cover)
        events += engine.tick(base + timedelta(seconds=4.0))
    events += engine.tick(t0 + timedelta(seconds=tick_after_s))
    return events


def final_alerts(events) -> list:
    """The last state of every alert the events name, withdrawn provisional ones left out."""
    last = {}
    for ev in events:
        last[ev.alert.id] = ev.alert
    return [a for a in last.values() if a.resolved_by != "engine"]
