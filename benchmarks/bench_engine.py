"""Benchmark: the rules engine alone, on a busy network.

Run: ``.venv/bin/python benchmarks/bench_engine.py``

100 sensors on a 10 x 10 grid (8-10 km spacing) across the Jiangsu/Zhejiang/Anhui borders, 20
unlicensed 10 dBW emitters on distinct PMR 400 channels, levels from P.1546 (50 % time) with 2 dB
noise, precomputed so only the engine is timed. Each sensor sends one Emissions message per 5 s
sweep; ``tick`` runs after each sweep round. Reports Emissions messages per second through
``RulesEngine.observe`` (with the alert assessments they trigger) and the cost of one full
assessment (localisation + candidates + verdicts).
"""

from __future__ import annotations

import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from coordination import prediction
from coordination.alerts import InMemoryAlertStore
from coordination.engine import RulesEngine
from coordination.sensors import SensorInfo
from station_db import geo
from station_db.repository import StationRepository
from station_db.rules import load_rules

T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
AF_DB_M = 20.0
FLOOR_DBM = -125.0
PMR_HZ = 450.0125e6


def emissions_for(sensor: SensorInfo, emitters: list[tuple[float, float, float]],
                  rng: np.random.Generator) -> list[dict[str, float]]:
    out = []
    for lat, lon, f_hz in emitters:
        d = float(geo.haversine_km(sensor.lat, sensor.lon, lat, lon))
        e = 10.0 + float(prediction.field_0dbw_dbuv_m(np.array([d]), f_hz, 35.0, sensor.height_m, 50.0, 25.0)[0])
        p = e + rng.normal(0.0, 2.0) - 107.0 - AF_DB_M
        if p - FLOOR_DBM >= 8.0:
            out.append({"center_hz": f_hz, "peak_hz": f_hz, "peak_dbm": p + 3, "power_dbm": p, "bandwidth_xdb_hz": 8e3,
                        "obw_hz": 1e4, "snr_db": p - FLOOR_DBM, "f_lo_hz": f_hz - 5e3, "f_hi_hz": f_hz + 5e3})
    return out


def main() -> None:
    rng = np.random.default_rng(0)
    rules = load_rules()
    with tempfile.TemporaryDirectory() as tmp:
        repo = StationRepository(Path(tmp) / "stations.db")
        engine = RulesEngine(repo, rules, InMemoryAlertStore())
        sensors = []
        for i in range(100):
            lat, lon = 30.8 + 0.08 * (i // 10), 119.0 + 0.1 * (i % 10)
            sensors.append(SensorInfo(f"s{i:03d}", geo.province_of(lat, lon) or "JS", lat, lon, 15.0, AF_DB_M))
        emitters = [(30.8 + rng.random() * 0.8, 119.0 + rng.random() * 0.9, PMR_HZ + 12_500.0 * k) for k in range(20)]
        rounds = 20
        sweeps = [{s.sensor_id: emissions_for(s, emitters, rng) for s in sensors} for _ in range(4)]
        heard = np.mean([len(v) for v in sweeps[0].values()])
        n_msgs = n_events = 0
        t = T0
        start = time.perf_counter()
        for r in range(rounds):
            for s in sensors:
                n_events += len(engine.observe(s, t, sweeps[r % 4][s.sensor_id], FLOOR_DBM, AF_DB_M))
                n_msgs += 1
            t += timedelta(seconds=5)
            n_events += len(engine.tick(t))
        elapsed = time.perf_counter() - start
        # One full assessment, timed on its own.
        track = next(tr for trs in engine._tracks.values() for tr in trs)
        obs = list(track.obs.values())
        a0 = time.perf_counter()
        for _ in range(20):
            engine.assess(track.band, track.channel_hz, obs, t)
        assess_ms = (time.perf_counter() - a0) / 20 * 1e3
        repo.close()
    print(f"sensors 100, emitters 20, emissions per message {heard:.1f}, sensors per emitter "
          f"{100 * heard / 20:.0f}")
    print(f"observe: {n_msgs / elapsed:.0f} Emissions messages/s ({n_msgs} in {elapsed:.2f} s), "
          f"{n_events} alert events, {len(engine.open_alerts())} open alerts")
    print(f"one full assessment ({len(obs)} sensors): {assess_ms:.1f} ms")


if __name__ == "__main__":
    main()
