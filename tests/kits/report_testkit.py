"""A small server archive with known contents for the report tests.

Written through the server's own classes (:class:`coordination.store.Store`,
:class:`coordination.archive.SpectrumArchive`), so the files are exactly what a server writes.
Every number the report tests check is fixed here:

* period 2026-11-01..2026-11-02 (48 h); profile ``pmr_400`` (rules band "PMR 400"), 64 bins of
  3125 Hz from 446.0 MHz; channels 446.0125 ... 446.1875 MHz (12.5 kHz raster);
* js-01 (JS): three occupancy reports of 60 revisits; channel 446.0125 MHz occupied 30, 15, 0
  times (FCO 45/180 = 0.25), channel 446.1 MHz 60, 60, 60 (FCO 1.0); threshold -100 dBm;
  heartbeats every 60 s on 1 Nov except 06:00-08:00; sample_drops +7, spool_dropped +3;
  emissions: 446.1 MHz (-70 dBm, 10 sweeps), 446.05 MHz (-80 dBm, 5 sweeps, no licence);
* zj-01 (ZJ): no occupancy report; 120 archived sweeps (one a minute from 2026-11-02T10:00Z),
  levels -110 dBm, noise floor -106 dBm + the PMR 400 margin of 6 dB = threshold -100 dBm, the
  bins of channel 446.1 MHz at -80 dBm in every 4th sweep (FCO 30/120 = 0.25);
* stations: JS-T-1 at 446.1 MHz next to js-01 (expected and heard), ZJ-T-1 at 446.15 MHz next to
  zj-01 (expected, not heard), JS-T-2 at 420 MHz (in the band, outside every sweep: not reported);
* alerts: A1 acknowledged 600 s (recorded alert action) and resolved 1800 s after first seen
  (ZJ->JS, unlicensed), A2 acknowledged 300 s after
  (JS->ZJ, cross_border, exact acknowledged_at), A3 entirely before the period (excluded),
  A4 open with a position (ZJ->JS, unlicensed + cross_border).
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from coordination.archive import SensorMeta, SpectrumArchive
from coordination.protocol import EMISSION_FIELDS, Emissions, Hello, Occupancy, Spectrum, format_utc
from coordination.store import Store

DAY1 = datetime(2026, 11, 1, tzinfo=UTC)
PERIOD = "2026-11-01..2026-11-02"
PROFILE = "pmr_400"
F_START_HZ = 446.0e6
F_STEP_HZ = 3125.0
N_BINS = 64
CHANNELS_HZ = 446.0125e6 + 12_500.0 * np.arange(15)
CH_A_HZ = 446.0125e6
CH_B_HZ = 446.1e6
JS = dict(sensor_id="js-01", province="JS", lat=31.30, lon=120.52)
ZJ = dict(sensor_id="zj-01", province="ZJ", lat=30.77, lon=120.76)
HB_GAP = (DAY1 + timedelta(hours=6), DAY1 + timedelta(hours=8))
ZJ_T0 = DAY1 + timedelta(days=1, hours=10)
ZJ_SWEEPS = 120

STATIONS_HEADER = ("station_id,province,licensee,service,tx_freq_hz,rx_freq_hz,emission_designator,erp_dbw,"
                   "antenna_height_m,azimuth_deg,pattern,ground_height_m,lat_deg,lon_deg,valid_from,valid_to,status,"
                   "occupation")
STATIONS = (
    "JS-T-1,JS,Suzhou Test Taxi (fictional),land_mobile,446100000,,11K0F3E,10,20,,omni,5,31.32015,120.49554,"
    "2024-01-01,2028-12-31,active,intermittent",
    "ZJ-T-1,ZJ,Jiaxing Test Patrol (fictional),land_mobile,446150000,,11K0F3E,10,20,,omni,5,30.75,120.75,"
    "2024-01-01,2028-12-31,active,intermittent",
    # in the band but outside the sweeps (446.0-446.2 MHz): nobody measured it, so it is not reported
    "JS-T-2,JS,Suzhou Unmeasured Patrol (fictional),land_mobile,420000000,,11K0F3E,10,20,,omni,5,31.32,120.50,"
    "2024-01-01,2028-12-31,active,intermittent",
)


@dataclass(frozen=True)
class World:
    data_dir: Path
    stations_csv: Path


def _hello(site: dict, seq: int = 0) -> Hello:
    return Hello(site["sensor_id"], seq, format_utc(DAY1), province=site["province"], lat=site["lat"],
                 lon=site["lon"], height_m=10.0, antenna_factor_db_m=2.0, software="report-testkit")


def _emission(center_hz: float, power_dbm: float, bw_hz: float = 8000.0) -> dict[str, float]:
    e = {"center_hz": center_hz, "peak_hz": center_hz, "peak_dbm": power_dbm + 3, "power_dbm": power_dbm,
         "bandwidth_xdb_hz": bw_hz, "obw_hz": bw_hz, "snr_db": power_dbm + 112.0,
         "f_lo_hz": center_hz - bw_hz / 2, "f_hi_hz": center_hz + bw_hz / 2}
    assert set(e) == set(EMISSION_FIELDS)
    return e


def zj_sweep(k: int) -> np.ndarray:
    """Sweep k of zj-01: floor -110 dBm, channel 446.1 MHz at -80 dBm when k % 4 == 0."""
    p = np.full(N_BINS, -110.0, np.float32)
    if k % 4 == 0:
        f = F_START_HZ + F_STEP_HZ * np.arange(N_BINS)
        p[np.abs(f - CH_B_HZ) < 6250.0] = -80.0
    return p


def alert_docs() -> list[dict]:
    from coordination.alerts import Alert, Position, SensorReading

    def mk(aid: str, verdicts: tuple[str, ...], src: str, aff: str, first: datetime, state: str, upd: datetime,
           position: Position | None = None, f_hz: float = 446.05e6) -> dict:
        a = Alert(id=aid, event="opened" if state == "open" else state, state=state, verdicts=verdicts,
                  severity="major", severity_score=50.0, band="PMR 400", service="land_mobile", channel_hz=f_hz,
                  f_center_hz=f_hz, bandwidth_hz=8000.0, provinces_source=(src,), provinces_affected=(aff,),
                  sensors=(SensorReading("js-01", "JS", 31.30, 120.52, 40.0, -69.0, None, 20.0),),
                  position=position, candidate_stations=(), first_seen=first, last_seen=upd, updated_at=upd,
                  acknowledged_by="js-team" if state == "acknowledged" else None,
                  resolved_by="zj-team" if state == "resolved" else None, rules_version="test")
        return a.to_json()

    pos = Position(lat=30.9, lon=120.7, error_km=2.5, semi_major_km=1.5, semi_minor_km=1.0, orientation_deg=30.0,
                   provinces=(("ZJ", 0.8), ("JS", 0.2)))
    a1 = mk("A1", ("unlicensed",), "ZJ", "JS", DAY1 + timedelta(hours=1), "resolved",
            DAY1 + timedelta(hours=1, seconds=1800))
    a2 = mk("A2", ("cross_border",), "JS", "ZJ", DAY1 + timedelta(hours=2), "acknowledged",
            DAY1 + timedelta(hours=5))
    a2["acknowledged_at"] = format_utc(DAY1 + timedelta(hours=2, seconds=300))
    a3 = mk("A3", ("licence_violation",), "AH", "JS", DAY1 - timedelta(days=12), "resolved",
            DAY1 - timedelta(days=11))
    a4 = mk("A4", ("unlicensed", "cross_border"), "ZJ", "JS", DAY1 + timedelta(days=1, hours=10), "open",
            DAY1 + timedelta(days=1, hours=11), position=pos, f_hz=446.0625e6)
    return [a1, a2, a3, a4]


def build_world(root: Path) -> World:
    data = root / "data"
    store = Store(data / "server.db")
    archive = SpectrumArchive(data / "spectra")
    for site in (JS, ZJ):
        store.sensors.upsert(_hello(site), format_utc(DAY1))
    # js-01: three occupancy reports of 60 revisits each
    occ_a = (30, 15, 0)
    for i in range(3):
        fco = np.zeros(CHANNELS_HZ.size, np.float32)
        fco[0] = occ_a[i] / 60.0
        fco[np.argmin(np.abs(CHANNELS_HZ - CH_B_HZ))] = 1.0
        t0 = DAY1 + timedelta(hours=i)
        store.summaries.insert_occupancy(Occupancy(
            "js-01", 100 + i, format_utc(t0 + timedelta(hours=1)), profile=PROFILE,
            t_start_utc=format_utc(t0), t_end_utc=format_utc(t0 + timedelta(hours=1)),
            revisits=60, threshold_dbm=-100.0, fbo=float(fco.mean()),
            channel_centers_hz=CHANNELS_HZ.copy(), fco=fco))
    # js-01 heartbeats, one a minute on day 1 except 06:00-08:00; drop counters grow by 7 and 3
    seq = 1000
    drops = spool = 0
    for m in range(24 * 60):
        t = DAY1 + timedelta(minutes=m)
        if HB_GAP[0] <= t < HB_GAP[1]:
            continue
        if m in (100, 500, 900):
            drops += 2
        if m == 1000:
            drops += 1
        if m == 1200:
            spool += 3
        store.sensors.set_health("js-01", seq, format_utc(t), {
            "sample_drops": float(drops), "spool_dropped": float(spool), "uptime_s": float(m * 60)})
        seq += 1
    # js-01 emissions
    for k in range(10):
        t = DAY1 + timedelta(hours=3, minutes=k)
        store.summaries.insert_emissions(Emissions(
            "js-01", 2000 + k, format_utc(t), profile=PROFILE, noise_floor_dbm=-110.0,
            antenna_factor_db_m=2.0,
            emissions=(_emission(CH_B_HZ, -70.0 - k * 0.5), *((_emission(446.05e6, -80.0),) if k < 5 else ()))))
    # zj-01: archived sweeps only
    meta = SensorMeta("zj-01", "ZJ", ZJ["lat"], ZJ["lon"], 10.0)
    for k in range(ZJ_SWEEPS):
        t = ZJ_T0 + timedelta(minutes=k)
        archive.stage(meta, Spectrum("zj-01", 5000 + k, format_utc(t), profile=PROFILE, f_start_hz=F_START_HZ,
                                     f_step_hz=F_STEP_HZ, power_dbm=zj_sweep(k), noise_floor_dbm=-106.0,
                                     threshold_dbm=-100.0, antenna_factor_db_m=2.0))
    written, failed = archive.flush()
    assert len(written) == ZJ_SWEEPS and not failed
    for doc in alert_docs():
        store.alerts.save_alert_json(doc)
    store.commit()
    # A1 was acknowledged from another centre 600 s after it opened (recorded alert action)
    store.alerts.apply_alert_action("A1", "acknowledge", "js-team", None,
                                    format_utc(DAY1 + timedelta(hours=1, seconds=600)))
    store.commit()
    archive.close()
    store.close()
    stations = root / "stations.csv"
    stations.write_text("\n".join((STATIONS_HEADER, *STATIONS)) + "\n", encoding="utf-8")
    return World(data, stations)


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def read_json(path: Path) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))
