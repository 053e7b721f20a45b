"""TDOA regions stated two ways on the very same measured pairs: from a ``bench_tdoa.py --dump`` file, every fix
made again by the server's code (:func:`coordination.tdoa.fix_from_sigmas`) with the target links' pulls as
Gaussians (before: the region of the chain without :class:`dsp.multilat.HeavyTail`) and as the chain states them
now (after: a noise-like target's links drawn heavy-tailed), so the columns differ only by the region.

Measuring the pairs is what costs (2-4 s of CPU per trial); stating a region costs milliseconds. So the trials
are measured once (``bench_tdoa.py --dump FILE``, in the background) and stated here as often as wanted; the
before column is checked against the fix the dump recorded (the same code then: it must agree to the metre and
in coverage, else the dump came from another tree and this says so).

Printed per waveform and SNR: trials, fixes, median and 90th-percentile error (unchanged by construction: the
estimate keeps its weights), cover95 before / after with n and the binomial standard error, median 95 %
semi-major before / after, ms per fix (the dump's measured chain plus this region's own cost), and cover95 of all
fixes pooled at >= 10 dB.

    python benchmarks/bench_tdoa_regions.py FILE.jsonl [FILE.jsonl ...] [--misses]
"""

from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from coordination.tdoa import PairSigmas, TdoaError, fix_from_sigmas

_PARTS = ("data_m", "target_lag_m", "ref0_m", "refi_m", "target0_m", "targeti_m")


def _sigmas(d: dict[str, list[float]]) -> PairSigmas:
    return PairSigmas(**{k: np.array(d[k], dtype=np.float64) for k in _PARTS})


def _state(row: dict, tail: bool) -> tuple[float, bool, float, float]:
    """(error m, covered, 95 % semi-major m, seconds) of the row's fix, its target links heavy-tailed or not."""
    stated = replace(_sigmas(row["stated"]), target_tail=tail and not row["constant_envelope"])
    weight = _sigmas(row["weight"])
    t0 = time.process_time()
    fix, _ = fix_from_sigmas(np.array(row["sensors_enu"]), np.array(row["rdiff_m"]), stated, weight,
                             starts_enu=[np.array(p) for p in row["starts_enu"]])
    cost = time.process_time() - t0
    e, n = row["truth_en"]
    major = fix.ellipse_95()[0]
    return math.hypot(fix.east_m - e, fix.north_m - n), fix.contains(e, n), major, cost


def _cover(x: list[bool]) -> str:
    if not x:
        return "-"
    p = float(np.mean(x))
    return f"{100 * p:5.1f} +-{100 * math.sqrt(p * (1 - p) / len(x)):3.1f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dumps", nargs="+", type=Path)
    ap.add_argument("--misses", action="store_true", help="list the fixes whose region misses the truth, after")
    args = ap.parse_args()
    rows = [json.loads(line) for f in args.dumps for line in f.open() if line.strip()]
    cells: dict[tuple[str, float], list[dict]] = {}
    for r in rows:
        cells.setdefault((r["case"], float(r["snr_db"])), []).append(r)
    print(f"{'waveform':<18} {'SNR':>4} {'n':>4} {'fail':>4} {'median m':>8} {'p90 m':>6} | "
          f"{'cover95 before %':>16} {'after %':>12} | {'major before/after m':>20} | {'ms/fix':>6} {'+region ms':>10}")
    pooled_b: list[bool] = []
    pooled_a: list[bool] = []
    mismatch = 0
    misses: list[str] = []
    for (case, snr), rs in sorted(cells.items()):
        ok = [r for r in rs if "fail" not in r]
        errs, cb, ca, mb, ma, cost, extra = [], [], [], [], [], [], []
        for r in ok:
            try:
                eb, inb, majb, tb = _state(r, tail=False)
                ea, ina, maja, ta = _state(r, tail=True)
            except TdoaError as exc:  # cannot happen for a dumped fix made by the same code
                mismatch += 1
                misses.append(f"  {case} {snr:.0f} dB seed {r['seed']}: {exc}")
                continue
            # the dump's own region: the chain's then (with the tail where it stated one, dumps after it landed)
            e_rec, in_rec, maj_rec = (ea, ina, maja) if r.get("tail_stated") else (eb, inb, majb)
            if abs(e_rec - math.hypot(r["fix_en"][0] - r["truth_en"][0], r["fix_en"][1] - r["truth_en"][1])) > 1.0 \
                    or in_rec != r["covered"] or abs(maj_rec - r["semi_major_m"]) > 1.0:
                mismatch += 1
            errs.append(ea)
            cb.append(inb)
            ca.append(ina)
            mb.append(majb)
            ma.append(maja)
            cost.append(r["cost_s"])
            extra.append(max(ta - tb, 0.0))
            if args.misses and not ina:
                z = (np.array(r["err_total_m"]) - np.array(r["err_ref_m"]))
                misses.append(f"  {case} {snr:.0f} dB seed {r['seed']}: {len(r['sensors_enu'])} sensors, error "
                              f"{ea:.0f} m, semi-major {maja:.0f} m, target-side pair errors "
                              + " ".join(f"{x:+.0f}" for x in z) + " m")
        if snr >= 10:
            pooled_b += cb
            pooled_a += ca
        med = float(np.median(errs)) if errs else math.nan
        p90 = float(np.percentile(errs, 90)) if errs else math.nan
        print(f"{case:<18} {snr:>4.0f} {len(rs):>4} {len(rs) - len(ok):>4} {med:>8.0f} {p90:>6.0f} | "
              f"{_cover(cb):>16} {_cover(ca):>12} | {float(np.median(mb)):>9.0f} / {float(np.median(ma)):<8.0f} | "
              f"{1e3 * float(np.median(cost)):>6.0f} {1e3 * float(np.median(extra)):>10.1f}")
    print(f"pooled >= 10 dB: cover95 {_cover(pooled_b)} -> {_cover(pooled_a)} % of {len(pooled_a)} fixes "
          f"(target 90-98 %)")
    if mismatch:
        print(f"WARNING: {mismatch} fixes stated before differ from the dump's (another tree made the dump?)")
    for line in misses:
        print(line)


if __name__ == "__main__":
    main()
