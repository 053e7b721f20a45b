"""Benchmark: N simulated sensors at 1 Hz into one real server process, over CURVE.

Run: ``NUMBA_CACHE_DIR=.numba_cache .venv/bin/python benchmarks/bench_load.py [--sensors 50 200 500]
[--seconds 60] [--insecure]``

The server is the real ``borderwatch server`` command in its own process (CurveZMQ + ZAP on, rules
engine with the 596-station sample database, HDF5 + SQLite storage in a temporary directory). A
child process drives N lightweight sensors, each its own CURVE DEALER with its own key: every
second a precomputed 4096-bin spectrum plus an Emissions message, as the real daemon's spool does.
Four more sensors on the Zhejiang/Jiangsu border report a fresh unlicensed emitter every few
seconds, and a console subscribed to ``alert.JS`` times the ``opened`` alerts.

Reported per N: server CPU (% of one core, from /proc over the measured run), server memory (RSS
at the end and its peak), ingest lag (send -> ack of each message, p50/p99: includes the archive's
deliberate batching of HDF5 writes), alert latency p50/p99 (first Emissions carrying the emitter
sent -> opened alert received, including the engine's group window), and messages lost (sent and
never acked after a drain period; must be 0).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import zmq

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_server import (
    BENCH_PROFILE,
    BORDER_SENSORS,
    N_BINS,
    NOISE_FLOOR_DBM,
    _emission,
    _emissions_frames,
    _spectrum_frames,
    border_powers_dbm,
    connect_fleet,
    free_channels,
)

import station_db
from coordination.client import ApiClient
from coordination.keys import ClientKeys, KeyStore
from coordination.protocol import decode

ROOT = Path(__file__).resolve().parents[1]
CLK_TCK = os.sysconf("SC_CLK_TCK")


def proc_cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_mem_mib(pid: int) -> tuple[float, float]:
    rss = hwm = 0.0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) / 1024
            elif line.startswith("VmHWM:"):
                hwm = int(line.split()[1]) / 1024
    return rss, hwm


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


# ---------------------------------------------------------------- sensors (child process)


def sensors_process(addr: str, keys_dir: str, server_key: str, n: int, seconds: float, trials: list[float],
                    trial_every_s: float, powers: list[float], out: mp.Queue) -> None:
    try:
        os.sched_setaffinity(0, {1 % os.cpu_count()})
    except (AttributeError, OSError):
        pass
    ctx = zmq.Context()
    store = KeyStore(keys_dir) if keys_dir else None
    rng = np.random.default_rng(1)
    payloads = [(NOISE_FLOOR_DBM + 3.0 * rng.standard_normal(N_BINS)).astype("<f4").tobytes() for _ in range(8)]
    weak = [_emission(446.5e6, NOISE_FLOOR_DBM + 3.0)]
    sensors = [{"sid": f"load-{i:03d}", "prov": "JS", "lat": 32.0 + 0.002 * i, "lon": 119.0, "border": False}
               for i in range(n)]
    sensors += [{"sid": sid, "prov": prov, "lat": lat, "lon": lon, "border": True, "power": p}
                for (sid, prov, lat, lon), p in zip(BORDER_SENSORS, powers)]
    for s in sensors:
        s.update(sent={}, next_t=0.0)
    keys_for = None if store is None else (lambda sid: ClientKeys(store.client(sid).pair, server_key.encode()))
    poller, by_sock = connect_fleet(ctx, addr, sensors, 1, keys_for)
    lags: dict[str, list[float]] = {"spectrum": [], "emissions": []}
    n_sent = 0
    start = time.monotonic()
    for k, s in enumerate(sensors):  # spread the 1 Hz sweeps over the second
        s["next_t"] = start + k / len(sensors)
    first_sent: dict[float, float] = {}
    active: list[float] = []
    next_trial = start + 2.0

    def read_acks(timeout_ms: int) -> None:
        for sock, _ in poller.poll(timeout_ms):
            s = by_sock[sock]
            for _ in range(1000):
                try:
                    frames = sock.recv_multipart(zmq.NOBLOCK)
                except zmq.Again:
                    break
                msg = decode(frames)
                if msg.TYPE != b"ack":
                    continue
                t = time.monotonic()
                for q in msg.acked:
                    info = s["sent"].pop(q, None)
                    if info is not None:
                        lags[info[0]].append(t - info[1])

    while time.monotonic() - start < seconds:
        now = time.monotonic()
        if trials and now >= next_trial:
            next_trial += trial_every_s
            active = [trials.pop(0)]  # one emitter at a time; the previous one goes off air
        for s in sensors:
            if now < s["next_t"]:
                continue
            s["next_t"] += 1.0
            q = s["seq"]
            if s["border"]:
                ems = [_emission(ch, s["power"]) for ch in active] or weak
                s["sock"].send_multipart(_emissions_frames(s["sid"], q, ems))
                s["sent"][q] = ("emissions", now)
                s["seq"] = q + 1
                n_sent += 1
                for ch in active:
                    first_sent.setdefault(ch, time.time())
                continue
            s["sock"].send_multipart(_spectrum_frames(s["sid"], q, payloads[q % len(payloads)]))
            s["sock"].send_multipart(_emissions_frames(s["sid"], q + 1, weak))
            s["sent"][q] = ("spectrum", now)
            s["sent"][q + 1] = ("emissions", now)
            s["seq"] = q + 2
            n_sent += 2
        read_acks(2)
    drain_until = time.monotonic() + 15
    while time.monotonic() < drain_until and any(s["sent"] for s in sensors):
        read_acks(50)
    lost = sum(len(s["sent"]) for s in sensors)
    out.put({"sent": n_sent, "lost": lost, "lags": lags, "first_sent": first_sent,
             "elapsed_s": time.monotonic() - start})
    for s in sensors:
        s["sock"].close(0)
    ctx.term()


# ---------------------------------------------------------------- one run


def run(n: int, seconds: float, insecure: bool, trial_every_s: float) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix=f"bench_load_{n}_"))
    keys = KeyStore(tmp / "keys")
    keys.new("server", "server")
    keys.new("bench-console", "console")
    for i in range(n):
        keys.new(f"load-{i:03d}", "sensor")
    for sid, *_ in BORDER_SENSORS:
        keys.new(sid, "sensor")
    ports = []
    for _ in range(3):
        s = __import__("socket").socket()
        s.bind(("127.0.0.1", 0))
        ports.append(s.getsockname()[1])
        s.close()
    addrs = [f"tcp://127.0.0.1:{p}" for p in ports]
    sample = Path(station_db.__file__).parent / "data" / "sample_stations.csv"
    p = BENCH_PROFILE
    (tmp / "server.toml").write_text(
        f'[server]\ndata_dir = "{tmp / "data"}"\nsensors_addr = "{addrs[0]}"\napi_addr = "{addrs[1]}"\n'
        f'pub_addr = "{addrs[2]}"\nstations = "{sample}"\n'
        + ("insecure = true\n" if insecure else f'keys_dir = "{keys.root}"\n')
        + "[engine]\ngroup_window_s = 0.2\n"
        f'[[profile]]\nname = "{p.name}"\nf_start_hz = {p.f_start_hz}\nf_stop_hz = {p.f_stop_hz}\n'
        f"bin_hz = {p.bin_hz}\nrevisit_s = 1.0\nchannel_raster_hz = {p.channel_raster_hz}\n"
        f"channel_width_hz = {p.channel_width_hz}\nmargin_db = {p.margin_db}\n")
    env = dict(os.environ, NUMBA_CACHE_DIR=str(ROOT / ".numba_cache"), PYTHONPATH=str(ROOT),
               NUMBA_NUM_THREADS="1", OMP_NUM_THREADS="1")
    server = subprocess.Popen([sys.executable, "-m", "borderwatch.cli", "server", "--config", str(tmp / "server.toml")],
                              env=env, cwd=tmp, stderr=open(tmp / "server.log", "w"))
    try:
        os.sched_setaffinity(server.pid, {0})
    except (AttributeError, OSError):
        pass
    console = None if insecure else keys.client("bench-console")
    try:
        with ApiClient(addrs[1], keys=console, timeout_s=60) as api:
            api.result("ping")
        from station_db.repository import StationRepository

        with StationRepository(tmp / "data" / "stations.db") as repo:
            trials = free_channels(repo, int(seconds / trial_every_s) + 2)
        received: dict[float, float] = {}
        stop = threading.Event()

        def subscribe() -> None:
            ctx = zmq.Context.instance()
            sub = ctx.socket(zmq.SUB)
            sub.setsockopt(zmq.LINGER, 0)
            if console is not None:
                console.apply(sub)
            sub.setsockopt(zmq.SUBSCRIBE, b"alert.JS")
            sub.connect(addrs[2])
            while not stop.is_set():
                if sub.poll(50):
                    frames = sub.recv_multipart()
                    a = decode(frames[1:]).alert  # type: ignore[attr-defined]
                    if a["event"] == "opened":
                        received.setdefault(float(a["channel_hz"]), time.time())
            sub.close(0)

        th = threading.Thread(target=subscribe, daemon=True)
        th.start()
        time.sleep(0.5)
        q: mp.Queue = mp.get_context("spawn").Queue()
        child = mp.get_context("spawn").Process(
            target=sensors_process, args=(addrs[0], "" if insecure else str(keys.root),
                                          keys.server().public_key, n, seconds, list(trials), trial_every_s,
                                          border_powers_dbm(), q))
        child.start()
        rss_samples: list[tuple[float, float]] = []

        def sample_rss() -> None:  # is memory flat in steady state, or still growing?
            while not stop.is_set():
                rss_samples.append((time.monotonic(), proc_mem_mib(server.pid)[0]))
                stop.wait(2.0)

        sampler = threading.Thread(target=sample_rss, daemon=True)
        sampler.start()
        # measure CPU over the sending period (after connect + hello, which the child reports by starting)
        time.sleep(min(5.0, seconds / 4))
        cpu0, t0 = proc_cpu_s(server.pid), time.monotonic()
        result = q.get(timeout=seconds + 240)
        cpu1, t1 = proc_cpu_s(server.pid), time.monotonic()
        child.join(30)
        time.sleep(1.0)
        stop.set()
        th.join(5)
        rss, hwm = proc_mem_mib(server.pid)
        with ApiClient(addrs[1], keys=console, timeout_s=30) as api:
            c = api.result("counters")
        lat = [received[ch] - t for ch, t in result["first_sent"].items() if ch in received]
        half = [(t, r) for t, r in rss_samples if t >= t0 + (t1 - t0) / 2 and t <= t1]
        slope = (60 * (half[-1][1] - half[0][1]) / (half[-1][0] - half[0][0])
                 if len(half) >= 2 and half[-1][0] > half[0][0] else float("nan"))
        lags = result["lags"]
        all_lags = lags["spectrum"] + lags["emissions"]
        return {"n": n, "seconds": seconds, "cpu_pct": 100 * (cpu1 - cpu0) / (t1 - t0), "rss_mib": rss,
                "hwm_mib": hwm,
                "rss_slope_mib_min": slope, "lag_p50_ms": 1e3 * pct(all_lags, 50),
                "lag_p99_ms": 1e3 * pct(all_lags, 99),
                "lag_emissions_p99_ms": 1e3 * pct(lags["emissions"], 99),
                "alert_p50_ms": 1e3 * pct(lat, 50), "alert_p99_ms": 1e3 * pct(lat, 99),
                "alerts": f"{len(lat)}/{len(result['first_sent'])}", "sent": result["sent"], "lost": result["lost"],
                "stored": sum(c["stored"].values()), "rejected": sum(c["rejected"].values()),
                "curve": not insecure}
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(60)
        except subprocess.TimeoutExpired:
            server.kill()
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sensors", type=int, nargs="+", default=[50, 200, 500])
    ap.add_argument("--seconds", type=float, default=60.0, help="sending time per run")
    ap.add_argument("--trial-every", type=float, default=3.0, help="seconds between new border emitters")
    ap.add_argument("--insecure", action="store_true", help="plain TCP instead of CURVE (to see its cost)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    rows = []
    print(f"bench_load: {'plain TCP' if args.insecure else 'CurveZMQ + ZAP'}, {N_BINS}-bin spectrum + Emissions per "
          f"sensor per second, {args.seconds:g} s per run, server pinned to CPU 0, sensors to CPU 1")
    hdr = (f"{'sensors':>7} {'msg/s':>6} {'CPU %':>6} {'RSS MiB':>8} {'MiB/min':>7} {'lag p50':>8} {'lag p99':>8} "
           f"{'alert p50':>9} {'alert p99':>9} {'alerts':>7} {'sent':>7} {'lost':>5}")
    print(hdr)
    ok = True
    for n in args.sensors:
        r = run(n, args.seconds, args.insecure, args.trial_every)
        rows.append(r)
        ok &= r["lost"] == 0
        print(f"{n:>7} {r['sent'] / args.seconds:>6.0f} {r['cpu_pct']:>6.1f} {r['rss_mib']:>8.0f} "
              f"{r['rss_slope_mib_min']:>7.0f} "
              f"{r['lag_p50_ms']:>6.0f}ms {r['lag_p99_ms']:>6.0f}ms {r['alert_p50_ms']:>7.0f}ms "
              f"{r['alert_p99_ms']:>7.0f}ms {r['alerts']:>7} {r['sent']:>7} {r['lost']:>5}", flush=True)
    print("MiB/min = server RSS growth over the second half of the run (0: flat); "
          "ingest lag = send -> ack (spectra wait up to the archive's 2 s batching window by design; "
          "Emissions p99: " + ", ".join(f"{r['n']}: {r['lag_emissions_p99_ms']:.0f} ms" for r in rows) + ")")
    print(f"messages lost: {'0 (PASS)' if ok else 'FAIL'}")
    if args.json:
        print(json.dumps(rows, indent=1))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
