"""Benchmark: P.1546-6 predictions per second, scalar calls vs the vectorised entry point.

One transmitter (FM broadcaster, 98 MHz, heff 150 m, 10 % time) against 1,000 border points at
0.5-300 km, over land and over cold sea. Target for the vectorised path on land: >= 1,000,000
points per CPU second on one core.

``--baseline DIR`` runs the same measurement on another checkout (e.g. a worktree at the previous
commit) in a subprocess, alternating with this one for ``--rounds`` rounds and keeping each side's
best figure (a shared, loaded machine slows single runs unevenly), and prints both and their ratio.

Run:  .venv/bin/python benchmarks/bench_p1546.py [--baseline /path/to/old/worktree]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

N_POINTS = 1000
TARGET_LAND_POINTS_S = 1_000_000
BASE = (98.0, 10.0, 150.0, 10.0, None)  # f MHz, t %, heff m, h2 m, R2 (area default)
CASES = {
    "Land": ("Rural", {"ha_m": 60.0, "tca_deg": 1.0, "htter_m": 300.0, "hrter_m": 250.0}),
    "Cold": ("Sea", {"ha_m": 60.0, "htter_m": 5.0, "hrter_m": 0.0}),
}


def _rate(fn: Callable[[], object], n_points: int, min_seconds: float = 1.0) -> float:
    """Points per CPU second of fn(), repeated until min_seconds of CPU time (after one warm-up).

    CPU time of this process, not wall time: on a machine shared with other jobs the wall clock
    also counts the time spent waiting for a core.
    """
    fn()
    reps = 0
    t0 = time.process_time()
    while True:
        fn()
        reps += 1
        elapsed = time.process_time() - t0
        if elapsed >= min_seconds:
            return reps * n_points / elapsed


def measure() -> dict[str, dict[str, float]]:
    """{path: {scalar, vectorised, max_dev_db}} for the code importable as coordination.propagation."""
    from coordination.propagation import p1546

    rng = np.random.default_rng(1546)
    d_km = np.sort(rng.uniform(0.5, 300.0, N_POINTS))
    out = {}
    for path, (area, kw) in CASES.items():
        args = (*BASE, area)

        def scalar(path: str = path, args: tuple = args, kw: dict = kw) -> None:
            for d in d_km:
                p1546.field_strength(*args, [float(d)], [path], **kw)

        def vectorised(path: str = path, args: tuple = args, kw: dict = kw) -> None:
            p1546.field_strength_many(*args, d_km, path=path, **kw)

        # Same answers from both entry points before timing them.
        e_vec, _ = p1546.field_strength_many(*args, d_km[:50], path=path, **kw)
        e_sc = np.array([p1546.field_strength(*args, [float(d)], [path], **kw)[0] for d in d_km[:50]])
        out[path] = {"scalar": _rate(scalar, N_POINTS), "vectorised": _rate(vectorised, N_POINTS),
                     "max_dev_db": float(np.max(np.abs(e_vec - e_sc)))}
    return out


def _baseline(tree: str) -> dict[str, dict[str, float]]:
    env = dict(os.environ, PYTHONPATH=tree)
    proc = subprocess.run([sys.executable, __file__, "--json"], env=env, capture_output=True, text=True, check=True,
                          cwd=tree)
    return json.loads(proc.stdout)


def _keep_best(best: dict[str, dict[str, float]], new: dict[str, dict[str, float]]) -> None:
    for path, fig in new.items():
        for key in ("scalar", "vectorised"):
            best[path][key] = max(best[path][key], fig[key])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", help="checkout to measure right after this one (e.g. the previous commit)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON only")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; the best of each side is kept")
    args = parser.parse_args()
    now = measure()
    if args.json:
        print(json.dumps(now))
        return 0
    before = None
    if args.baseline:
        before = _baseline(args.baseline)
        for _ in range(args.rounds - 1):
            _keep_best(now, measure())
            _keep_best(before, _baseline(args.baseline))
    for path, fig in now.items():
        verdict = "OK" if path != "Land" or fig["vectorised"] >= TARGET_LAND_POINTS_S else "BELOW TARGET"
        print(f"{path:4s}: scalar {fig['scalar']:10,.0f} points/s   vectorised {fig['vectorised']:12,.0f} points/s   "
              f"speed-up x{fig['vectorised'] / fig['scalar']:,.0f}   max |scalar-vectorised| {fig['max_dev_db']:.1e} dB"
              f"   [{verdict}]")
        if before is not None:
            old = before[path]
            print(f"      baseline: scalar {old['scalar']:10,.0f} points/s   vectorised {old['vectorised']:12,.0f} "
                  f"points/s   now/baseline: scalar x{fig['scalar'] / old['scalar']:.2f}, "
                  f"vectorised x{fig['vectorised'] / old['vectorised']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
