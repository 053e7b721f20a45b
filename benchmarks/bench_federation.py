"""Benchmark: the shared store of federated centres, four servers writing at once.

Run: ``.venv/bin/python benchmarks/bench_federation.py [--quick] [--sensors 500] [--seconds 8]``

A throwaway PostgreSQL (initdb on loopback, :mod:`station_db.pg_cluster`; fsync off as in the
tests: the figure is the database's CPU and locking, not this machine's disk) and four writer
processes, one per centre (AH, JS, SH, ZJ), each with its own :class:`coordination.store.Store`
connection, writing exactly what a server writes per drained batch, through the same methods:

1. Emissions: each centre owns ``--sensors``/4 sensors; per batch it stores one Emissions message
   per sensor (``--emissions`` rows each, the idempotence ledger, the registry touch) and commits:
   one transaction per batch, as the server loop does. Reported: Emissions messages/s and rows/s
   for the four together, commit latency p50/p99, against the load 500 sensors put on it (one
   Emissions message per sensor per 1 s sweep: 500 messages/s).
2. Alerts: the four centres claim and update alerts on ``--keys`` cross-border cluster keys at the
   same time (every key is claimed by all four: the worst case for the unique index), then keep
   updating their standing alerts. Reported: alert writes/s (claims + updates) and a check that
   exactly one alert stands per key with the others linked to it.

Targets: the write path is not the bottleneck at 500 sensors: stored Emissions messages/s with four
writers well above 500/s, and commit p99 well under the 1 s sweep.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

CENTRES = ("AH", "JS", "SH", "ZJ")
T_UTC = "2026-11-25T08:00:00.000000Z"


def _emission(i: int) -> dict[str, float]:
    f = 150e6 + 12_500.0 * (i % 400)
    return {"center_hz": f, "peak_hz": f, "peak_dbm": -70.0, "power_dbm": -72.0, "bandwidth_xdb_hz": 8e3,
            "obw_hz": 1e4, "snr_db": 40.0, "f_lo_hz": f - 5e3, "f_hi_hz": f + 5e3}


def emissions_writer(url: str, centre: str, n_sensors: int, per_msg: int, seconds: float, batch: int,
                     start: float, out: mp.Queue) -> None:
    from coordination.protocol import Emissions, Hello
    from coordination.store import Store

    store = Store(url, centre=centre)
    sids = [f"{centre.lower()}-{i:04d}" for i in range(n_sensors)]
    for sid in sids:
        store.sensors.upsert(Hello(sid, 0, T_UTC, province=centre, lat=31.0, lon=120.0), T_UTC)
    store.commit()
    ems = tuple(_emission(i) for i in range(per_msg))
    while time.time() < start:
        time.sleep(0.001)
    t_end = time.perf_counter() + seconds
    seq, msgs, lat = 1, 0, []
    while time.perf_counter() < t_end:
        t0 = time.perf_counter()
        rows, touches = [], []
        for k in range(batch):  # one sweep of `batch` sensors (round robin)
            sid = sids[(msgs + k) % n_sensors]
            m = Emissions(sid, seq, T_UTC, profile="vhf", spectrum_seq=seq - 1, noise_floor_dbm=-110.0,
                          antenna_factor_db_m=20.0, emissions=ems)
            store.summaries.insert_emissions(m)
            rows.append((sid, seq, "emissions", T_UTC))
            touches.append((sid, seq, "vhf", T_UTC))
            if (msgs + k + 1) % n_sensors == 0:
                seq += 1
        store.ledger.mark_received(rows)
        store.sensors.touch({t[0]: t for t in touches}.values())
        store.commit()
        msgs += batch
        lat.append(time.perf_counter() - t0)
    store.close()
    out.put({"centre": centre, "messages": msgs, "seconds": seconds, "latencies": lat})


def alerts_writer(url: str, centre: str, n_keys: int, seconds: float, start: float, out: mp.Queue) -> None:
    from coordination.store import Store

    store = Store(url, centre=centre)
    while time.time() < start:
        time.sleep(0.001)
    claims, updates, won = 0, 0, []
    t0 = time.perf_counter()
    for k in range(n_keys):  # every centre claims every key: the unique index decides
        doc = {"id": f"{centre}-{k}", "event": "opened", "state": "open", "band": "PMR 400",
               "channel_hz": 450e6 + 12_500.0 * k, "provinces_source": ["ZJ"], "provinces_affected": ["JS"],
               "severity": "major", "first_seen": T_UTC, "last_seen": T_UTC}
        if store.alerts.claim_alert(doc, "JS,ZJ") == doc["id"]:
            won.append(doc)
        store.commit()
        claims += 1
    t_end = t0 + seconds
    i = 0
    while time.perf_counter() < t_end and won:
        doc = dict(won[i % len(won)], event="updated", last_seen=f"2026-11-25T08:{i // 60 % 60:02d}:{i % 60:02d}Z")
        store.alerts.save_alert_json(doc)
        store.commit()
        updates += 1
        i += 1
    elapsed = time.perf_counter() - t0
    store.close()
    out.put({"centre": centre, "claims": claims, "updates": updates, "won": len(won), "seconds": elapsed})


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(p / 100.0 * len(s)))] if s else float("nan")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sensors", type=int, default=500, help="sensors in all (split over the four centres)")
    ap.add_argument("--emissions", type=int, default=4, help="emission rows per Emissions message")
    ap.add_argument("--batch", type=int, default=25, help="Emissions messages per transaction (one drained batch)")
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--keys", type=int, default=200, help="cross-border cluster keys claimed by all four")
    ap.add_argument("--quick", action="store_true", help="short run (CI smoke)")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = ap.parse_args()
    if args.quick:
        args.seconds, args.keys = 2.0, 50

    from station_db.pg_cluster import PostgresUnavailableError, start_cluster

    try:
        cluster = start_cluster()
    except PostgresUnavailableError as exc:
        print(f"bench_federation: skipped: {exc}")
        return 0
    try:
        url = cluster.create_database("bench")
        from coordination.store import Store

        Store(url).close()  # schema once
        ctx = mp.get_context("spawn")
        results: dict[str, object] = {"sensors": args.sensors, "writers": len(CENTRES)}
        # 1. emissions
        q: mp.Queue = ctx.Queue()
        start = time.time() + 1.5
        per_centre = max(1, args.sensors // len(CENTRES))
        procs = [ctx.Process(target=emissions_writer, args=(url, c, per_centre, args.emissions, args.seconds,
                                                             args.batch, start, q)) for c in CENTRES]
        for p in procs:
            p.start()
        got = [q.get(timeout=120) for _ in procs]
        for p in procs:
            p.join(30)
        msgs = sum(g["messages"] for g in got)
        lat = [x for g in got for x in g["latencies"]]
        rate = msgs / args.seconds
        results["emissions"] = {
            "messages_per_s": round(rate), "rows_per_s": round(rate * args.emissions),
            "commit_p50_ms": round(1000 * pct(lat, 50), 2), "commit_p99_ms": round(1000 * pct(lat, 99), 2),
            "needed_messages_per_s": args.sensors, "headroom": round(rate / args.sensors, 1),
            "per_centre": {g["centre"]: round(g["messages"] / args.seconds) for g in got}}
        # 2. alerts
        q = ctx.Queue()
        start = time.time() + 1.5
        procs = [ctx.Process(target=alerts_writer, args=(url, c, args.keys, args.seconds / 2, start, q))
                 for c in CENTRES]
        for p in procs:
            p.start()
        got = [q.get(timeout=120) for _ in procs]
        for p in procs:
            p.join(30)
        store = Store(url)
        standing = store.db.fetchall("SELECT channel_hz, COUNT(*) FROM alerts WHERE canonical_id IS NULL "
                                     "AND cluster_key IS NOT NULL GROUP BY channel_hz")
        linked = store.db.fetchone("SELECT COUNT(*) FROM alerts WHERE canonical_id IS NOT NULL")
        store.close()
        writes = sum(g["claims"] + g["updates"] for g in got)
        secs = max(g["seconds"] for g in got)
        results["alerts"] = {
            "writes_per_s": round(writes / secs), "claims": sum(g["claims"] for g in got),
            "updates": sum(g["updates"] for g in got), "keys": args.keys,
            "standing": len(standing), "max_per_key": max((int(n) for _, n in standing), default=0),
            "linked": int(linked[0]) if linked else 0, "won_by_centre": {g["centre"]: g["won"] for g in got}}
    finally:
        cluster.stop()
    e, a = results["emissions"], results["alerts"]
    print(f"bench_federation: 4 centres writing one PostgreSQL at once, {args.sensors} sensors")
    print(f"  emissions: {e['messages_per_s']} Emissions messages/s ({e['rows_per_s']} rows/s), commit p50 "
          f"{e['commit_p50_ms']} ms, p99 {e['commit_p99_ms']} ms; 500 sensors at 1 sweep/s need "
          f"{e['needed_messages_per_s']}/s -> headroom x{e['headroom']}")
    print(f"  alerts: {a['writes_per_s']} alert writes/s ({a['claims']} concurrent claims on {a['keys']} keys, "
          f"{a['updates']} updates); standing per key: max {a['max_per_key']} ({a['standing']} standing, "
          f"{a['linked']} linked)")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    ok = a["max_per_key"] == 1 and a["standing"] == args.keys and e["messages_per_s"] > args.sensors
    print("  RESULT:", "ok" if ok else "NOT OK")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
