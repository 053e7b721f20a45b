"""Benchmark: first sight in a safety-of-life band -> provisional alert at a subscriber (target p99 < 250 ms).

Run: ``NUMBA_CACHE_DIR=.numba_cache .venv/bin/python benchmarks/bench_provisional.py [--quick] [--burn]``

A real server (this process: its loop thread, the shipped rules and profiles, the 596-station sample
database, SQLite WAL and the HDF5 archive in a temporary directory, the server's default timers) and
a real client in a child process: one ZeroMQ DEALER per sensor of the shipped realistic demo
scenario (four provinces) and a SUB socket on ``alert.``. Each trial, one sensor reports an
emission on a fresh, unlicensed airband or maritime VHF channel (a first sight); the latency is
from sending that Emissions message to receiving the ``opened`` provisional alert on the SUB
socket, both clocks in the client process. After the alert, the two nearest other sensors report
the same emission, so every cluster gets its full judgement (localiser, provinces) two seconds
later while the next first sights arrive: the judgements run in the same loop as the first sights,
as in service.

Baselines measured in the same run, between trials:

- ``transport``: a small message echoed by a plain ROUTER thread in the server process (loopback
  TCP, a Python thread waking up): the floor any server adds to;
- ``server floor``: a Heartbeat through the real server to its Ack (drain, validate, SQLite
  commit, ack): what the server adds to any message before the rules engine.

Server-side figures come from the loop thread itself: the CPU time of the batch that published
each provisional alert (thread CPU clock), and each judgement turn (the engine's ``judge``/``tick``
that judged: loop CPU and wall; the localiser's own CPU is on its worker thread, counted in the
process CPU). ``--every`` sets the pace (0.3 s: about 3.3 new emitters and judgements a second;
0.15 s: more than the loaded machine judges, a backlog grows). ``--burn`` runs a process that keeps
one of the machine's cores busy. ``--profile FILE`` runs the server loop under cProfile.

Before/after: run this script with ``PYTHONPATH`` pointing at a worktree of the older commit (it
measures a server without ``RulesEngine.judge`` or the localiser offload just the same).
"""

from __future__ import annotations

import os

os.environ.setdefault("NUMBA_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import cProfile
import logging
import multiprocessing as mp
import pstats
import shutil
import sys
import tempfile
import threading
import time
import tomllib
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import zmq

import station_db
from coordination.config import ServerConfig
from coordination.protocol import Emissions, Heartbeat, Hello, decode, format_utc
from coordination.server import Server
from station_db.geo import haversine_km

TARGET_P99_MS = 250.0
NOISE_FLOOR_DBM = -118.0
ANTENNA_FACTOR_DB_M = 12.0
SAFETY_BANDS_HZ = ((118.0e6, 137.0e6), (156.0e6, 162.05e6))  # airband, maritime VHF (the rules' safety bands)
RASTER_HZ = 25_000.0
SCENARIO = Path(__file__).resolve().parent.parent / "borderwatch" / "data" / "demo_scenario.toml"
SERVER_THREAD = "borderwatch-server"


def iso_now() -> str:
    return format_utc(datetime.now(UTC))


def scenario_sensors() -> list[tuple[str, str, float, float]]:
    """(id, province, lat, lon) of the shipped realistic scenario's sensors."""
    doc = tomllib.loads(SCENARIO.read_text(encoding="utf-8"))
    return [(str(s["id"]), str(s["province"]), float(s["lat"]), float(s["lon"])) for s in doc["sensors"]]


def safety_channels(repo: Any, n: int, seed: int) -> list[float]:
    """``n`` airband / maritime channels with no licensed station within +-25 kHz, in seeded random order."""
    free = []
    for lo, hi in SAFETY_BANDS_HZ:
        for k in range(int((hi - lo) / RASTER_HZ) - 1):  # not the band's edge channels
            ch = lo + RASTER_HZ * (k + 1)
            if not repo.query(freq_hz=ch, bandwidth_hz=2 * RASTER_HZ):
                free.append(ch)
    if len(free) < n:
        raise SystemExit(f"only {len(free)} free safety channels for {n} first sights")
    rng = np.random.default_rng(seed)
    return [float(f) for f in rng.permutation(free)[:n]]


def emission(f_hz: float, power_dbm: float, bw_hz: float = 16_000.0) -> dict[str, float]:
    return {"center_hz": f_hz, "peak_hz": f_hz, "peak_dbm": power_dbm + 3.0, "power_dbm": power_dbm,
            "bandwidth_xdb_hz": bw_hz, "obw_hz": bw_hz, "snr_db": power_dbm - NOISE_FLOOR_DBM,
            "f_lo_hz": f_hz - bw_hz / 2, "f_hi_hz": f_hz + bw_hz / 2}


def profile_for(f_hz: float) -> str:
    return "aeronautical_vhf_airband" if f_hz < 140e6 else "maritime_vhf"


# ---------------------------------------------------------------- client (child process)


def client(endpoints: dict[str, str], echo_addr: str, sensors: list[tuple[str, str, float, float]],
           plan: list[tuple[int, float, list[tuple[int, float]], float]], every_s: float, q: Any) -> None:
    """Hello every sensor, then run the trials of ``plan`` (sensor index, channel, followers, power)."""
    ctx = zmq.Context()
    socks = []
    for sid, prov, lat, lon in sensors:
        s = ctx.socket(zmq.DEALER)
        s.setsockopt(zmq.LINGER, 0)
        s.setsockopt(zmq.IDENTITY, sid.encode())
        s.connect(endpoints["sensors"])
        s.send_multipart(Hello(sid, 0, iso_now(), province=prov, lat=lat, lon=lon, height_m=20.0,
                               antenna_factor_db_m=ANTENNA_FACTOR_DB_M, software="bench").to_frames())
        socks.append(s)
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    sub.setsockopt(zmq.SUBSCRIBE, b"alert.")
    sub.connect(endpoints["pub"])
    echo = ctx.socket(zmq.DEALER)
    echo.setsockopt(zmq.LINGER, 0)
    echo.connect(echo_addr)
    seqs = [1] * len(sensors)
    acks_wanted: dict[tuple[int, int], float] = {}
    ack_ms: dict[str, list[float]] = {"emissions": [], "heartbeat": []}
    kinds: dict[tuple[int, int], str] = {}
    poller = zmq.Poller()
    for s in socks:
        poller.register(s, zmq.POLLIN)
    poller.register(sub, zmq.POLLIN)

    def pump(timeout_ms: float) -> list[tuple[float, dict[str, Any]]]:
        """Receive acks (timed) and alerts (returned with their arrival time) for up to ``timeout_ms``."""
        out: list[tuple[float, dict[str, Any]]] = []
        seen_alert_seq: set[int] = pump.seen  # type: ignore[attr-defined]
        end = time.perf_counter() + timeout_ms / 1000
        while True:
            left = max(0.0, end - time.perf_counter())
            ev = dict(poller.poll(int(left * 1000)))
            now = time.perf_counter()
            for i, s in enumerate(socks):
                while s in ev and s.poll(0):
                    msg = decode(s.recv_multipart())
                    if msg.TYPE == b"ack":
                        for a in msg.acked:  # type: ignore[attr-defined]
                            t0 = acks_wanted.pop((i, a), None)
                            if t0 is not None:
                                ack_ms[kinds.pop((i, a))].append(1e3 * (now - t0))
            while sub in ev and sub.poll(0):
                frames = sub.recv_multipart()
                msg = decode(frames[1:])
                if msg.seq not in seen_alert_seq:  # one event, published on several province topics
                    seen_alert_seq.add(msg.seq)
                    out.append((now, msg.alert))  # type: ignore[attr-defined]
            if left <= 0 or (out and timeout_ms == 0):
                return out

    pump.seen = set()  # type: ignore[attr-defined]

    def send(i: int, msg_of: Callable[[int], Any], kind: str) -> float:
        seq = seqs[i]
        seqs[i] += 1
        frames = msg_of(seq).to_frames()
        t0 = time.perf_counter()
        socks[i].send_multipart(frames)
        acks_wanted[(i, seq)] = t0
        kinds[(i, seq)] = kind
        return t0

    echo_ms: list[float] = []
    hb_sensor = 0
    latency_ms: list[float] = []
    missing: list[int] = []
    events: dict[str, int] = {"confirmed": 0, "withdrawn": 0}
    opened_at: dict[float, float] = {}  # channel (rounded Hz) -> arrival of its provisional alert
    ours: set[str] = set()

    def handle(alerts: list[tuple[float, dict[str, Any]]]) -> None:
        for t_rx, a in alerts:
            if a.get("event") == "opened" and a.get("provisional"):
                opened_at.setdefault(round(float(a.get("channel_hz") or 0.0)), t_rx)
                ours.add(str(a["id"]))
            elif a.get("id") in ours and a.get("event") == "updated" and not a.get("provisional"):
                events["confirmed"] += 1
            elif a.get("id") in ours and a.get("event") == "resolved":
                events["withdrawn"] += 1

    # Hellos handled and the SUB subscription live (slow joiner): a warm-up first sight, not counted.
    handle(pump(1000))
    i0, f0, _, p0 = plan[0]
    send(i0, lambda seq: Emissions(sensors[i0][0], seq, iso_now(), profile=profile_for(f0),
                                   noise_floor_dbm=NOISE_FLOOR_DBM, antenna_factor_db_m=ANTENNA_FACTOR_DB_M,
                                   emissions=(emission(f0, p0),)), "emissions")
    end = time.perf_counter() + 20.0
    while round(f0) not in opened_at and time.perf_counter() < end:
        handle(pump(50))
    ack_ms["emissions"].clear()
    ours.clear()
    t_start = time.perf_counter()
    for k, (i, f_hz, followers, power_dbm) in enumerate(plan[1:]):
        t_next = t_start + k * every_s
        # baselines between trials: the transport echo and a heartbeat round trip through the server
        t0 = time.perf_counter()
        echo.send(b"x" * 64)
        if echo.poll(2000):
            echo.recv()
            echo_ms.append(1e3 * (time.perf_counter() - t0))
        hb_sensor = (hb_sensor + 1) % len(socks)
        send(hb_sensor, lambda seq, j=hb_sensor: Heartbeat(sensors[j][0], seq, iso_now(), health={"cpu": 0.2}),
             "heartbeat")
        handle(pump(max(0.0, (t_next - time.perf_counter()) * 1000)))
        sid = sensors[i][0]
        t0 = send(i, lambda seq, sid=sid, f=f_hz, p=power_dbm: Emissions(
            sid, seq, iso_now(), profile=profile_for(f), noise_floor_dbm=NOISE_FLOOR_DBM,
            antenna_factor_db_m=ANTENNA_FACTOR_DB_M, emissions=(emission(f, p),)), "emissions")
        deadline = t0 + 3.0
        while round(f_hz) not in opened_at and time.perf_counter() < deadline:
            handle(pump(20))
        if round(f_hz) not in opened_at:
            missing.append(k)
        else:
            latency_ms.append(1e3 * (opened_at[round(f_hz)] - t0))
        for j, p in followers:  # the nearest sensors hear it too: the cluster gets its full judgement
            sj = sensors[j][0]
            send(j, lambda seq, sid=sj, f=f_hz, p=p: Emissions(
                sid, seq, iso_now(), profile=profile_for(f), noise_floor_dbm=NOISE_FLOOR_DBM,
                antenna_factor_db_m=ANTENNA_FACTOR_DB_M, emissions=(emission(f, p),)), "emissions")
    end = time.perf_counter() + 30.0  # the last judgements
    while time.perf_counter() < end and events["confirmed"] + events["withdrawn"] < len(latency_ms):
        handle(pump(100))
    q.put({"latency_ms": latency_ms, "missing": missing, "echo_ms": echo_ms, "ack_ms": ack_ms,
           "events": events, "duration_s": time.perf_counter() - t_start})
    for s in [*socks, sub, echo]:
        s.close(0)
    ctx.term()


def burner(stop_at: float) -> None:
    """Keep one core busy until ``stop_at`` (time.time())."""
    x = 0
    while time.time() < stop_at:
        x = (x * 31 + 7) % 1_000_003


# ---------------------------------------------------------------- server side


class Echo:
    """A plain ROUTER that echoes every message: the transport floor, measured in the server process."""

    def __init__(self, ctx: zmq.Context) -> None:
        self.sock = ctx.socket(zmq.ROUTER)
        self.sock.setsockopt(zmq.LINGER, 0)
        port = self.sock.bind_to_random_port("tcp://127.0.0.1")
        self.addr = f"tcp://127.0.0.1:{port}"
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="bench-echo", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.is_set():
            if self.sock.poll(100):
                self.sock.send_multipart(self.sock.recv_multipart())
        self.sock.close(0)


class LoopMeter:
    """Thread-CPU and wall time of the server loop's batches and engine ticks, taken in the loop thread.

    Wraps the public ``handle_batch`` of the intake and ``tick`` of the engine (a benchmark's probe,
    not a pattern for the code base)."""

    def __init__(self, srv: Server) -> None:
        self.srv = srv
        self.batches: list[tuple[float, float]] = []  # (cpu s, wall s) of batches that opened an alert
        self.ticks: list[tuple[float, float]] = []  # (cpu s, wall s) of engine ticks that did work
        assert srv.intake is not None and srv.engine is not None
        intake_batch = srv.intake.handle_batch

        def batch(raws: Any) -> None:
            opened = srv.counters.alert_events["opened"]
            c0, w0 = time.thread_time(), time.perf_counter()
            intake_batch(raws)
            if srv.counters.alert_events["opened"] > opened:
                self.batches.append((time.thread_time() - c0, time.perf_counter() - w0))

        offload = getattr(srv, "offload", None)  # the localiser's worker (absent in older servers)

        def timed(fn: Callable[[datetime], Any]) -> Callable[[datetime], Any]:
            def call(now: datetime) -> Any:
                c0, w0, n0 = time.thread_time(), time.perf_counter(), offload.offloaded if offload else 0
                out = fn(now)
                # it judged: the localiser went to the worker, or (inline) it cost more than an idle call
                if (offload.offloaded if offload else 0) > n0 or time.thread_time() - c0 > 0.002:
                    self.ticks.append((time.thread_time() - c0, time.perf_counter() - w0))
                return out
            return call

        srv.intake.handle_batch = batch  # type: ignore[method-assign]
        srv.engine.tick = timed(srv.engine.tick)  # type: ignore[method-assign]
        if hasattr(srv.engine, "judge"):  # the loop's own judgement turn (absent in older servers)
            srv.engine.judge = timed(srv.engine.judge)  # type: ignore[attr-defined]


def thread_cpu_s(name: str) -> float:
    """CPU time of the named thread of this process (its pthread CPU clock)."""
    for th in threading.enumerate():
        if th.name == name and th.ident is not None:
            return time.clock_gettime(time.pthread_getcpuclockid(th.ident))
    raise RuntimeError(f"no thread {name!r}")


def pct(xs: list[float], q: float) -> float:
    return float(np.percentile(xs, q)) if xs else float("nan")


def row(name: str, xs: list[float]) -> str:
    return (f"    {name:<38} median {pct(xs, 50):7.1f}  p95 {pct(xs, 95):7.1f}  p99 {pct(xs, 99):7.1f}  "
            f"max {max(xs) if xs else float('nan'):7.1f} ms  (n={len(xs)})")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--first-sights", type=int, default=300)
    ap.add_argument("--every", type=float, default=0.3, help="seconds between first sights (0.15: more "
                    "judgements than the loaded machine keeps up with)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--burn", action="store_true", help="a process keeps one core busy during the trials")
    ap.add_argument("--fsync", action="store_true", help="the server fsyncs SQLite before acking/publishing")
    ap.add_argument("--profile", type=Path, default=None, help="run the server loop under cProfile, stats here")
    ap.add_argument("--quick", action="store_true", help="60 first sights (smoke run)")
    args = ap.parse_args(argv)
    if args.quick:
        args.first_sights = 60
    logging.basicConfig(level=logging.ERROR)
    tmp = Path(tempfile.mkdtemp(prefix="bench_provisional_"))
    sample = Path(station_db.__file__).parent / "data" / "sample_stations.csv"
    cfg = ServerConfig(data_dir=tmp / "data", sensors_addr="tcp://127.0.0.1:*", api_addr="tcp://127.0.0.1:*",
                       pub_addr="tcp://127.0.0.1:*", stations=sample, fsync=args.fsync)
    srv = Server(cfg)
    prof = cProfile.Profile() if args.profile else None
    ready = threading.Event()
    if prof is None:
        srv.start()
    else:
        th = threading.Thread(target=prof.runcall, args=(srv.run,), kwargs={"on_ready": lambda _s: ready.set()},
                              name=SERVER_THREAD, daemon=True)
        th.start()
        if not ready.wait(60):
            raise SystemExit("server did not start")
    echo = Echo(zmq.Context.instance())
    ok = True
    burn = None
    try:
        meter = LoopMeter(srv)
        assert srv.stations is not None
        sensors = scenario_sensors()
        rng = np.random.default_rng(args.seed)
        channels = safety_channels(srv.stations, args.first_sights + 1, args.seed)  # the first: warm-up
        plan = []
        for k, f_hz in enumerate(channels):
            i = k % len(sensors)
            _, _, lat, lon = sensors[i]
            near = sorted((float(haversine_km(lat, lon, s[2], s[3])), j) for j, s in enumerate(sensors) if j != i)
            p0 = float(rng.uniform(-95.0, -70.0))
            plan.append((i, f_hz, [(j, p0 - 0.3 * d - float(rng.normal(0, 3))) for d, j in near[:2]], p0))
        print(f"bench_provisional: real server (shipped rules and profiles, {srv.stations.count()} licensed "
              f"stations, SQLite WAL fsync={'on' if args.fsync else 'off'}), {len(sensors)} sensor DEALERs + SUB in a "
              f"child process, {len(plan) - 1} first sights every {args.every * 1000:.0f} ms, each followed by 2 more "
              f"sensors' reports; load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores"
              f"{'; a burner process keeps one core busy' if args.burn else ''}")
        duration = len(plan) * args.every + 10
        if args.burn:
            burn = mp.get_context("spawn").Process(target=burner, args=(time.time() + duration + 30,), daemon=True)
            burn.start()
        q: mp.Queue = mp.get_context("spawn").Queue()
        proc = mp.get_context("spawn").Process(target=client, args=(dict(srv.endpoints), echo.addr, sensors,
                                                                   plan, args.every, q))
        cpu0, wall0, proc0 = thread_cpu_s(SERVER_THREAD), time.perf_counter(), time.process_time()
        proc.start()
        res = q.get(timeout=duration + 120)
        proc.join(30)
        cpu_server = thread_cpu_s(SERVER_THREAD) - cpu0
        cpu_process = time.process_time() - proc0
        wall = time.perf_counter() - wall0
        lat = res["latency_ms"]
        p99 = pct(lat, 99)
        good = bool(lat) and p99 < TARGET_P99_MS and not res["missing"]
        ok &= good
        print("  latency, client clock (send -> receive):")
        print(row("transport floor (ROUTER echo)", res["echo_ms"]))
        print(row("server floor (Heartbeat -> Ack)", res["ack_ms"]["heartbeat"]))
        print(row("Emissions -> Ack", res["ack_ms"]["emissions"]))
        print(row("first sight -> provisional alert (SUB)", lat))
        print(f"    target p99 < {TARGET_P99_MS:.0f} ms: {'PASS' if good else 'FAIL'}; "
              f"missing {res['missing'] or 'none'}; "
              f"p99 / server floor p99 = {p99 / max(pct(res['ack_ms']['heartbeat'], 99), 1e-9):.1f}, "
              f"median / transport median = {pct(lat, 50) / max(pct(res['echo_ms'], 50), 1e-9):.1f}")
        b_cpu = [1e3 * c for c, _ in meter.batches]
        b_wall = [1e3 * w for _, w in meter.batches]
        t_cpu = [1e3 * c for c, _ in meter.ticks]
        t_wall = [1e3 * w for _, w in meter.ticks]
        print("  server loop thread:")
        print(row("CPU of a batch opening a provisional", b_cpu))
        print(row("wall of that batch", b_wall))
        print(row("judgement turn (tick/judge), loop CPU", t_cpu))
        print(row("judgement turn (tick/judge), wall", t_wall))
        print(f"    loop thread CPU {cpu_server:.1f} s over {wall:.1f} s ({100 * cpu_server / wall:.0f} % of a core), "
              f"server process (with the localiser's worker) {cpu_process:.1f} s: "
              f"{cpu_process / max(len(lat), 1) * 1e3:.1f} ms per first sight with its follow-ups and judgement")
        ev = res["events"]
        print(f"  full judgements of the provisional alerts: {ev['confirmed']} confirmed, {ev['withdrawn']} withdrawn "
              f"of {len(lat)}")
        c = srv.counters_snapshot()
        print(f"  counters: stored {c['stored']}, alert events {c['alert_events']}, rejected {c['rejected']}, "
              f"internal errors {c['internal_errors']}, storage errors {c['storage_errors']}")
    finally:
        if burn is not None:
            burn.kill()
        echo.stop.set()
        srv.stop()
        if prof is not None:
            for th in threading.enumerate():
                if th.name == SERVER_THREAD:
                    th.join(30)
            prof.dump_stats(str(args.profile))
            pstats.Stats(str(args.profile)).sort_stats("cumulative").print_stats(40)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
