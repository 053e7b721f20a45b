"""Benchmark: the coordination server on one core, with storage and the rules engine on.

Run: ``NUMBA_CACHE_DIR=.numba_cache .venv/bin/python benchmarks/bench_server.py [--quick]``

One server process (this one, pinned to CPU 0: loop thread and ZeroMQ I/O thread) with the real
rules engine, the shipped rules and the 596-station sample database, HDF5 archive (lzf) and SQLite
WAL in a temporary directory. Lightweight simulated sensors run in a child process (CPU 1): they
send precomputed 4096-bin spectra plus an Emissions message per sweep over loopback TCP, each
sensor keeping at most ``--window`` un-acked messages in flight, as the real spool does.

1. Throughput: sensors send as fast as acks allow; reported is the sustained rate of spectra
   stored, flushed and acked (and the messages/s including Emissions), plus server CPU.
2. Alert latency at 50 % load: background sensors paced at half the 2,000 spectra/s target while
   four sensors on the Zhejiang/Jiangsu border report an unlicensed emitter on a fresh channel every
   ``--trial-every`` s. Latency = time a subscriber of ``alert.JS`` receives the ``opened`` alert
   minus the time the first Emissions message containing the emission left the sensor. It includes
   the engine's grouping window (``group_window_s``: the engine waits that long, in sensor time, for
   the other sensors' reports of the same sweep before it judges), so the figure is given for the
   window used.

Targets: >= 2,000 spectra/s on one core; alert latency p99 < 500 ms at 50 % load.

The wall-clock rate depends on what else the machine runs; the CPU time per stored spectrum (with
its Emissions message) does not, and gives the capacity of one fully used core. ``--sensors 500
--window 8 --rate 500 --no-latency`` is the many-slow-sensors case (500 sensors at 1 Hz).
"""

from __future__ import annotations

import os

os.environ.setdefault("NUMBA_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import json
import logging
import multiprocessing as mp
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import zmq

import station_db
from coordination.config import ServerConfig
from coordination.protocol import MonitoringProfile, decode, format_utc
from coordination.server import Server

TARGET_SPECTRA_S = 2000.0
TARGET_P99_MS = 500.0
N_BINS = 4096
PMR_LO_HZ = 406.1e6
RASTER_HZ = 12_500.0
NOISE_FLOOR_DBM = -125.0
ANTENNA_FACTOR_DB_M = 20.0
BENCH_PROFILE = MonitoringProfile(name="pmr_400", f_start_hz=446.0e6, f_stop_hz=446.0e6 + N_BINS * 3125.0,
                                  bin_hz=3125.0, revisit_s=1.0, channel_raster_hz=RASTER_HZ,
                                  channel_width_hz=RASTER_HZ, margin_db=6.0)
# Sensors on both sides of the Zhejiang/Jiangsu border south of Lake Tai, and an emitter in ZJ.
BORDER_SENSORS = (("zj-jiaxing-w", "ZJ", 30.75, 120.15), ("zj-tongxiang", "ZJ", 30.72, 120.40),
                  ("js-wujiang-w", "JS", 31.00, 120.15), ("js-wujiang-e", "JS", 31.02, 120.40))
EMITTER = (30.84, 120.25)


def iso_now() -> str:
    return format_utc(datetime.now(UTC))


# ---------------------------------------------------------------- the sensor side (child process)


def _spectrum_frames(sid: str, seq: int, payload: bytes) -> list[bytes]:
    h = {"v": 1, "sensor_id": sid, "seq": seq, "t_utc": iso_now(), "profile": BENCH_PROFILE.name,
         "f_start_hz": BENCH_PROFILE.f_start_hz, "f_step_hz": BENCH_PROFILE.bin_hz, "shape": [N_BINS],
         "detector": "mean", "segments": 1, "noise_floor_dbm": NOISE_FLOOR_DBM, "threshold_dbm": -119.0,
         "antenna_factor_db_m": ANTENNA_FACTOR_DB_M, "dtype": "<f4", "len": N_BINS}
    return [b"spectrum", json.dumps(h, separators=(",", ":")).encode(), payload]


def _emission(center_hz: float, power_dbm: float) -> dict[str, float]:
    return {"center_hz": center_hz, "peak_hz": center_hz, "peak_dbm": power_dbm + 3, "power_dbm": power_dbm,
            "bandwidth_xdb_hz": 8000.0, "obw_hz": 10_000.0, "snr_db": power_dbm - NOISE_FLOOR_DBM,
            "f_lo_hz": center_hz - 5000.0, "f_hi_hz": center_hz + 5000.0}


def _emissions_frames(sid: str, seq: int, ems: list[dict[str, float]]) -> list[bytes]:
    h = {"v": 1, "sensor_id": sid, "seq": seq, "t_utc": iso_now(), "profile": BENCH_PROFILE.name,
         "spectrum_seq": seq - 1, "noise_floor_dbm": NOISE_FLOOR_DBM, "antenna_factor_db_m": ANTENNA_FACTOR_DB_M,
         "emissions": ems}
    return [b"emissions", json.dumps(h, separators=(",", ":")).encode()]


def _hello_frames(sid: str, prov: str, lat: float, lon: float) -> list[bytes]:
    h = {"v": 1, "sensor_id": sid, "seq": 0, "t_utc": iso_now(), "province": prov, "lat": lat, "lon": lon,
         "height_m": 15.0, "antenna_factor_db_m": ANTENNA_FACTOR_DB_M, "software": "bench", "capabilities": []}
    return [b"hello", json.dumps(h, separators=(",", ":")).encode()]


def connect_fleet(ctx: zmq.Context, addr: str, sensors: list[dict], first_seq: int,
                  keys_for: Callable[[str], Any] | None = None) -> tuple[zmq.Poller, dict[zmq.Socket, dict]]:
    """One DEALER per simulated sensor (identity: its id; CURVE keys from ``keys_for(id)`` when given), its
    Hello sent, then wait (up to 60 s) for every sensor's profile: the poller over the sockets and socket ->
    sensor. Each sensor dict gains ``sock`` and ``seq`` (the first data message's)."""
    poller = zmq.Poller()
    by_sock: dict[zmq.Socket, dict] = {}
    for s in sensors:
        sock = ctx.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.IDENTITY, s["sid"].encode())
        sock.setsockopt(zmq.SNDHWM, 100_000)
        if keys_for is not None:
            keys_for(s["sid"]).apply(sock)
        sock.connect(addr)
        sock.send_multipart(_hello_frames(s["sid"], s["prov"], s["lat"], s["lon"]))
        s.update(sock=sock, seq=first_seq)
        poller.register(sock, zmq.POLLIN)
        by_sock[sock] = s
    pending = {id(s["sock"]) for s in sensors}
    deadline = time.monotonic() + 60
    while pending and time.monotonic() < deadline:
        for sock, _ in poller.poll(100):
            if decode(sock.recv_multipart()).TYPE == b"profile":
                pending.discard(id(sock))
    return poller, by_sock


def sensor_process(addr: str, n_sensors: int, rate_spectra_s: float | None, duration_s: float, window: int,
                   trial_channels: list[float], trial_every_s: float, border_power_dbm: list[float],
                   seq_base: int, prefix: str, out: mp.Queue) -> None:
    """Drive ``n_sensors`` background sensors (and the border sensors when trials are given)."""
    try:
        os.sched_setaffinity(0, {1 % os.cpu_count()})
    except (AttributeError, OSError):
        pass
    ctx = zmq.Context()
    rng = np.random.default_rng(1)
    payloads = [(-125.0 + 3.0 * rng.standard_normal(N_BINS)).astype("<f4").tobytes() for _ in range(8)]
    weak = [_emission(446.5e6, NOISE_FLOOR_DBM + 3.0)]  # below the band margin: the engine files it away fast
    sensors = []
    for i in range(n_sensors):
        sid = f"{prefix}-{i:03d}"
        sensors.append({"sid": sid, "prov": "JS", "lat": 32.0 + 0.01 * i, "lon": 119.0, "border": False})
    if trial_channels:
        for (sid, prov, lat, lon), p in zip(BORDER_SENSORS, border_power_dbm):
            sensors.append({"sid": sid, "prov": prov, "lat": lat, "lon": lon, "border": True, "power": p})
    for s in sensors:
        s.update(inflight=set(), acked=0, next_t=0.0)
    poller, by_sock = connect_fleet(ctx, addr, sensors, seq_base + 1)
    bg = [s for s in sensors if not s["border"]]
    border = [s for s in sensors if s["border"]]
    period = None if rate_spectra_s is None else len(bg) / rate_spectra_s
    start = time.monotonic()
    for k, s in enumerate(bg):
        s["next_t"] = start + (0 if period is None else period * k / len(bg))
    border_period = 0.1
    border_next = start
    first_sent: dict[float, float] = {}
    active: list[float] = []
    next_trial = start + 1.0
    sent_spectra = 0
    acked_spectra = 0
    while True:
        now = time.monotonic()
        if now - start >= duration_s:
            break
        for s in bg:
            if len(s["inflight"]) + 2 > window or now < s["next_t"]:
                continue
            q = s["seq"]
            s["sock"].send_multipart(_spectrum_frames(s["sid"], q, payloads[q % len(payloads)]))
            s["sock"].send_multipart(_emissions_frames(s["sid"], q + 1, weak))
            s["inflight"].update((q, q + 1))
            s["seq"] = q + 2
            sent_spectra += 1
            s["next_t"] = now if period is None else s["next_t"] + period
        if border and trial_channels and now >= next_trial:
            next_trial += trial_every_s
            active.append(trial_channels.pop(0))
        if border and now >= border_next:
            border_next += border_period
            t_wall = time.time()
            for s in border:
                ems = [_emission(ch, s["power"]) for ch in active]
                q = s["seq"]
                s["sock"].send_multipart(_emissions_frames(s["sid"], q, ems))
                s["inflight"].add(q)
                s["seq"] = q + 1
            for ch in active:
                first_sent.setdefault(ch, t_wall)
        for sock, _ in poller.poll(0 if period is None else 1):
            s = by_sock[sock]
            while True:
                try:
                    frames = sock.recv_multipart(zmq.NOBLOCK)
                except zmq.Again:
                    break
                msg = decode(frames)
                if msg.TYPE == b"ack":
                    for q in msg.acked:
                        if q in s["inflight"]:
                            s["inflight"].discard(q)
                            if not s["border"] and (q - seq_base) % 2 == 1:
                                acked_spectra += 1
    out.put({"sent_spectra": sent_spectra, "acked_spectra": acked_spectra, "first_sent": first_sent,
             "elapsed_s": time.monotonic() - start})
    for s in sensors:
        s["sock"].close(0)
    ctx.term()


# ---------------------------------------------------------------- helpers


def border_powers_dbm() -> list[float]:
    """What each border sensor receives from a 10 dBW emitter at EMITTER (P.1546, 50 % time)."""
    from coordination import prediction
    from station_db.geo import haversine_km

    out = []
    for _, _, lat, lon in BORDER_SENSORS:
        d_km = float(haversine_km(lat, lon, *EMITTER))
        e = 10.0 + float(prediction.field_0dbw_dbuv_m(np.array([d_km]), 450e6, 35.0, 15.0, 50.0, ha_m=25.0)[0])
        out.append(e - 107.0 - ANTENNA_FACTOR_DB_M)
    return out


def free_channels(repo, n: int) -> list[float]:
    """PMR 400 channels with no licensed station within +-25 kHz (so the emission is unlicensed)."""
    out = []
    ch = PMR_LO_HZ + 1000 * RASTER_HZ
    while len(out) < n:
        ch += RASTER_HZ
        if not repo.query(freq_hz=ch, bandwidth_hz=50_000.0):
            out.append(ch)
    return out


def run_phase(srv: Server, n_sensors: int, rate: float | None, duration_s: float, window: int,
              trials: list[float] | None = None, trial_every_s: float = 0.2) -> tuple[dict, dict]:
    q: mp.Queue = mp.get_context("spawn").Queue()
    proc = mp.get_context("spawn").Process(
        target=sensor_process, args=(srv.endpoints["sensors"], n_sensors, rate, duration_s, window,
                                     list(trials or []), trial_every_s, border_powers_dbm() if trials else [],
                                     int(time.time() * 1000) * 1000, "lat" if trials else "tput", q))
    sub = None
    if trials:
        ctx = zmq.Context.instance()
        sub = ctx.socket(zmq.SUB)
        sub.setsockopt(zmq.SUBSCRIBE, b"alert.JS")
        sub.connect(srv.endpoints["pub"])
    stored0 = srv.counters.stored["spectrum"]
    proc.start()
    # measure over the steady part: skip the start-up (hello, connect) and the tail
    received: dict[float, float] = {}
    samples = []
    t_end = time.monotonic() + duration_s + 60
    while proc.is_alive() and time.monotonic() < t_end:
        if sub is not None:
            while sub.poll(5):
                frames = sub.recv_multipart()
                t_rx = time.time()
                a = decode(frames[1:]).alert
                if a["event"] == "opened":
                    received.setdefault(float(a["channel_hz"]), t_rx)
        else:
            time.sleep(0.05)
        samples.append((time.monotonic(), time.process_time(), srv.counters.stored["spectrum"]))
    result = q.get(timeout=60)
    proc.join(30)
    if sub is not None:
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            while sub.poll(50):
                frames = sub.recv_multipart()
                a = decode(frames[1:]).alert
                if a["event"] == "opened":
                    received.setdefault(float(a["channel_hz"]), time.time())
        sub.close(0)
    # steady window: the middle 80 % of the samples
    lo, hi = samples[len(samples) // 10], samples[-max(2, len(samples) // 10)]
    rate_stored = (hi[2] - lo[2]) / max(hi[0] - lo[0], 1e-9)
    cpu = (hi[1] - lo[1]) / max(hi[0] - lo[0], 1e-9)
    cpu_per_spectrum = (hi[1] - lo[1]) / max(hi[2] - lo[2], 1)
    stats = {"spectra_s": rate_stored, "server_cpu": cpu, "cpu_s_per_spectrum": cpu_per_spectrum, "sensor": result,
             "stored_total": srv.counters.stored["spectrum"] - stored0}
    lat = {}
    if trials:
        lat = {ch: received[ch] - t0 for ch, t0 in result["first_sent"].items() if ch in received}
        stats["alerts_expected"] = len(result["first_sent"])
        stats["alerts_received"] = len(lat)
    return stats, lat


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sensors", type=int, default=50)
    ap.add_argument("--duration", type=float, default=12.0)
    ap.add_argument("--window", type=int, default=64, help="un-acked messages in flight per sensor")
    ap.add_argument("--trials", type=int, default=60)
    ap.add_argument("--trial-every", type=float, default=0.2)
    ap.add_argument("--group-window", type=float, default=0.2, help="engine group_window_s for the latency run")
    ap.add_argument("--compression", default="lzf", choices=("lzf", "gzip", "none"))
    ap.add_argument("--chunk-rows", type=int, default=ServerConfig().chunk_rows)
    ap.add_argument("--batch", type=int, default=ServerConfig().batch_max_messages)
    ap.add_argument("--no-latency", action="store_true", help="throughput only")
    ap.add_argument("--rate", type=float, default=None,
                    help="pace the throughput run at this many spectra/s in total (default: as fast as acks allow)")
    ap.add_argument("--max-open-files", type=int, default=ServerConfig().max_open_files)
    ap.add_argument("--quick", action="store_true", help="short runs (CI smoke)")
    ap.add_argument("--keep", action="store_true", help="keep the data directory")
    args = ap.parse_args(argv)
    if args.quick:
        args.duration, args.trials, args.sensors = 5.0, 15, 20
    logging.basicConfig(level=logging.ERROR)
    try:
        os.sched_setaffinity(0, {0})
    except (AttributeError, OSError):
        pass
    tmp = Path(tempfile.mkdtemp(prefix="bench_server_"))
    sample = Path(station_db.__file__).parent / "data" / "sample_stations.csv"
    ok = True
    try:
        cfg = ServerConfig(data_dir=tmp / "data", sensors_addr="tcp://127.0.0.1:*", api_addr="tcp://127.0.0.1:*",
                           pub_addr="tcp://127.0.0.1:*", stations=sample, profiles=(BENCH_PROFILE,),
                           compression=args.compression, chunk_rows=args.chunk_rows,
                           batch_max_messages=args.batch, max_open_files=args.max_open_files,
                           engine={"group_window_s": args.group_window},
                           publish_spectra=True)
        srv = Server(cfg).start()
        try:
            print(f"bench_server: 1 core (pid pinned to CPU 0), {N_BINS} bins, storage HDF5 {args.compression} + "
                  f"SQLite WAL, rules engine on ({srv.stations.count()} stations), {args.sensors} sensors, "
                  f"window {args.window}")
            stats, _ = run_phase(srv, args.sensors, args.rate, args.duration, args.window)
            rate = stats["spectra_s"]
            per = stats["cpu_s_per_spectrum"]
            if args.rate is None:
                ok &= rate >= TARGET_SPECTRA_S
                verdict = f"target >= {TARGET_SPECTRA_S:,.0f}: {'PASS' if rate >= TARGET_SPECTRA_S else 'FAIL'}"
            else:
                verdict = f"paced at {args.rate:,.0f} spectra/s"
            print(f"  throughput: {rate:,.0f} spectra/s stored+acked ({2 * rate:,.0f} messages/s with Emissions), "
                  f"server CPU {100 * stats['server_cpu']:.0f} % of one core; {verdict}")
            print(f"    server CPU per spectrum (with its Emissions message): {per * 1e6:.0f} us -> "
                  f"{1 / per:,.0f} spectra/s per fully used core (the figure that does not depend on other load; "
                  f"{stats['stored_total']:,} stored in the run)")
            if args.no_latency:
                return 0 if ok else 1
            half = 0.5 * TARGET_SPECTRA_S
            channels = free_channels(srv.stations, args.trials)
            duration = max(args.duration, 2.0 + args.trials * args.trial_every)
            stats, lat = run_phase(srv, args.sensors, half, duration, args.window, channels, args.trial_every)
            ms = np.array(sorted(lat.values())) * 1000
            if ms.size:
                p50, p99 = float(np.percentile(ms, 50)), float(np.percentile(ms, 99))
                good = p99 < TARGET_P99_MS and stats["alerts_received"] == stats["alerts_expected"]
                ok &= good
                print(f"  alert latency at {stats['spectra_s']:,.0f} spectra/s background (50 % of target), "
                      f"engine group window {args.group_window * 1000:.0f} ms: p50 {p50:.0f} ms, p99 {p99:.0f} ms, "
                      f"max {ms.max():.0f} ms over {ms.size}/{stats['alerts_expected']} alerts; "
                      f"target p99 < {TARGET_P99_MS:.0f} ms: {'PASS' if good else 'FAIL'}")
                print(f"    (minus the grouping window the server's own share is p50 "
                      f"{p50 - args.group_window * 1000:.0f} ms, p99 {p99 - args.group_window * 1000:.0f} ms)")
            else:
                ok = False
                print(f"  alert latency: no alert received ({stats})")
            c = srv.counters_snapshot()
            print(f"  counters: stored {c['stored']}, duplicates {c['duplicates']}, rejected {c['rejected']}, "
                  f"storage errors {c['storage_errors']}, internal errors {c['internal_errors']}")
        finally:
            srv.stop()
    finally:
        if args.keep:
            print(f"  data kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
