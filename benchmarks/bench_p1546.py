"""Benchmark: P.1546-6 predictions per second, scalar calls vs the vectorised entry point.

One transmitter (FM broadcaster, 98 MHz, heff 150 m, 10 % time) against 1,000 border points at
0.5-300 km, over land and over cold sea. Target for the vectorised path: >= 100,000 points/s on one core.

Run:  .venv/bin/python benchmarks/bench_p1546.py
"""

from __future__ import annotations

import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

from coordination.propagation import p1546

N_POINTS = 1000
BASE = (98.0, 10.0, 150.0, 10.0, None)  # f MHz, t %, heff m, h2 m, R2 (area default)


def _rate(fn, n_points: int, min_seconds: float = 1.0) -> float:
    """Points per second of fn(), repeated until min_seconds have passed (after one warm-up)."""
    fn()
    reps = 0
    t0 = time.perf_counter()
    while True:
        fn()
        reps += 1
        elapsed = time.perf_counter() - t0
        if elapsed >= min_seconds:
            return reps * n_points / elapsed


def main() -> int:
    rng = np.random.default_rng(1546)
    d_km = np.sort(rng.uniform(0.5, 300.0, N_POINTS))
    cases = {
        "Land": ("Rural", {"ha_m": 60.0, "tca_deg": 1.0, "htter_m": 300.0, "hrter_m": 250.0}),
        "Cold": ("Sea", {"ha_m": 60.0, "htter_m": 5.0, "hrter_m": 0.0}),
    }
    for path, (area, kw) in cases.items():
        args = (*BASE, area)
        def scalar(path: str = path, args: tuple = args, kw: dict = kw) -> None:
            for d in d_km:
                p1546.field_strength(*args, [float(d)], [path], **kw)

        def vectorised(path: str = path, args: tuple = args, kw: dict = kw) -> None:
            p1546.field_strength_many(*args, d_km, path=path, **kw)

        # Same answers from both entry points before timing them.
        e_vec, _ = p1546.field_strength_many(*args, d_km[:50], path=path, **kw)
        e_sc = np.array([p1546.field_strength(*args, [float(d)], [path], **kw)[0] for d in d_km[:50]])
        max_dev = float(np.max(np.abs(e_vec - e_sc)))
        r_scalar = _rate(scalar, N_POINTS)
        r_vec = _rate(vectorised, N_POINTS)
        verdict = "OK" if r_vec >= 100_000 else "BELOW TARGET"
        print(f"{path:4s}: scalar {r_scalar:10,.0f} points/s   vectorised {r_vec:12,.0f} points/s   "
              f"speed-up x{r_vec / r_scalar:,.0f}   max |scalar-vectorised| {max_dev:.1e} dB   [{verdict}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
