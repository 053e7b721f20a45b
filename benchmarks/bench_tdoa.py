"""TDOA geolocation: Monte-Carlo over geometry, SNR, bandwidth and shadowing with 4 sensors of the shipped layout.

Each trial draws an emitter position within 15 km of the sensors' centre, every dongle's crystal error
(uniform +-50 ppm) and start error (uniform +-10 ms), a world with 8 dB shadowing (the sensors' levels
and the reference broadcaster's differ per link), renders the four snapshots (reference, target,
reference) with :mod:`sdr.sources.sim_tdoa` and runs the server's chain (:func:`coordination.tdoa.locate_tdoa`)
directly, without sockets. The emitter's e.r.p. is set so the *median* sensor's in-band SNR is the
trial's SNR (the weakest is then lower, the strongest higher, by the shadowing). By default every link has
multipath (:data:`sdr.sources.sim_tdoa.MIXED`: 1-3 extra rays, 0.2-3 us, 3-15 dB down) and every dongle an
8-bit ADC behind its AGC (:class:`sdr.sources.sim_tdoa.AdcModel`); ``--clean`` drops both (the trials
the chain was first built on).

Printed: median / 90th-percentile error by waveform and SNR, how often the stated 95 % region covers the
truth, the cost of one fix (ms, process time), and the received-level fix (coordination.localisation on
the same sensors' levels, through the same world) on the same trials.

    python benchmarks/bench_tdoa.py [--trials 8] [--seed 19000] [--clean] [--snrs 0,5,10,20]
        [--no-ref-correction] [--no-target-correction] [--link-sigma-m 125] [--before-link-sigma-m 125]
        [--cases wideband] [--breakdown] [--sensors 3|4|5]

``--no-target-correction`` leaves an FM target's links' pulls in (they are read like the reference's when the
caller says the target is FM, :func:`dsp.tdoa_pair.target_multipath`).
``--no-ref-correction`` leaves each reference link's multipath pull in (the chain before
:mod:`dsp.fm_multipath`; its sigma is then the model term), for a before/after on the same trials.

By default each target link's multipath term is read from its own recording (:mod:`dsp.link_multipath`);
``--link-sigma-m`` sets one term for all instead, and ``--before-link-sigma-m`` states every fix's region
both ways on the same pairs (before / after columns: median error, cover95, median 95 % semi-major axis).

``--breakdown`` prints, per waveform and sensor count, every pair's range-difference error over its stated
sigma (z), whole and split into the reference side (the clock map's error at the target, known from the
renderer's true clocks) and the target side (the rest: the target lag and both target links' multipath), and
for every fix whose region missed the truth which side carried its worst pair. A Gaussian z with the right
sigma has median |z| 0.67, RMS 1, 4.6 % beyond 2: a larger median says the sigma is too small on all pairs (a
scale), a right median with many beyond 3 says a few links are pulled far beyond it (a tail).

The machine is shared: the cost is process time of this process, not wall time.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from coordination.localisation import LevelObservation, localise
from coordination.tdoa import (
    MULTIPATH_LINK_SIGMA_M,
    MeasuredPairs,
    ReferenceBroadcaster,
    SensorSnapshot,
    TdoaError,
    TdoaResult,
    measure_pairs,
    pair_sigmas,
    solve_pairs,
)
from dsp.link_multipath import envelope_kurtosis, is_constant_envelope
from dsp.multilat import C_M_S, EnuFrame
from sdr.scenario import SensorSite, Transmitter, load_scenario
from sdr.sources.sim_tdoa import (
    MIXED,
    AdcModel,
    DongleClock,
    SnapshotPlan,
    SnapshotRenderer,
    TdoaEmitter,
    noise_dbm,
    received_dbm,
)
from sdr.sources.sim_world import RealisticWorld

ROOT = Path(__file__).resolve().parents[1]
SENSOR_IDS = ("JS-KUNSHAN", "SH-QINGPU", "ZJ-JIASHAN", "JS-WUJIANG-LILI")
#: ``--sensors``: three of the four, or a fifth (SH-FENGJING, south of Dianshan Lake) added
SENSOR_SETS = {3: SENSOR_IDS[:3], 4: SENSOR_IDS, 5: (*SENSOR_IDS, "SH-FENGJING")}
#: A licensed FM broadcaster of the sample station data near the four (SH-FM-0007: 105.2 MHz, 10 kW, 200 m).
REFERENCE = ReferenceBroadcaster("SH-FM-0007", 31.17817, 121.15274, 200.0, 105.2e6)
FS = 250e3
CASES = (  # (label, kind, bandwidth Hz, target frequency Hz, target seconds)
    ("FM 180 kHz", "fm_broadcast", 180e3, 100.1e6, 0.2),
    ("wideband 150 kHz", "wideband", 150e3, 433.5e6, 0.2),
    ("NFM 12.5 kHz", "nfm", 11e3, 457.1e6, 1.0),
)
SNRS_DB = (0.0, 5.0, 10.0, 20.0)


def _sites(ids: tuple[str, ...] = SENSOR_IDS) -> list[SensorSite]:
    scen = load_scenario(ROOT / "borderwatch/data/demo_scenario.toml")
    return [scen.sensor(sid) for sid in ids]


def _trial(sites, world, case, snr_db, rng, seed, clean, ref_correction=True, link_sigma_m=None, before_sigma_m=None,
           target_correction=True, dump=None):
    _label, kind, bw, f_t, dur = case
    frame = EnuFrame(float(np.mean([s.lat for s in sites])), float(np.mean([s.lon for s in sites])))
    r, a = 15e3 * math.sqrt(rng.uniform()), rng.uniform(0, 2 * math.pi)
    lat, lon = frame.to_geodetic(r * math.sin(a), r * math.cos(a))
    tx = Transmitter(id=f"T{seed}", lat=lat, lon=lon, freq_hz=f_t, erp_dbw=0.0, modulation=kind, antenna_height_m=15.0)
    # e.r.p. so that the median sensor's in-band SNR is snr_db
    snr0 = np.array([received_dbm(world, tx, s) - noise_dbm(s, bw) for s in sites])
    tx = replace(tx, erp_dbw=snr_db - float(np.median(snr0)))
    ref_tx = Transmitter(id=REFERENCE.station_id, lat=REFERENCE.lat, lon=REFERENCE.lon, freq_hz=REFERENCE.freq_hz,
                         erp_dbw=40.0, modulation="fm_broadcast", antenna_height_m=REFERENCE.height_m)
    plan = SnapshotPlan(REFERENCE.freq_hz, f_t, FS, ref_samples=int(0.1 * FS), target_samples=int(dur * FS),
                        settle_samples=int(0.02 * FS))
    emitters = [TdoaEmitter(tx, kind, bw, seed), TdoaEmitter(ref_tx, "fm_broadcast", 180e3, seed + 7)]
    renderer = SnapshotRenderer(emitters, world, plan, seed=seed, multipath=None if clean else MIXED,
                                adc=None if clean else AdcModel())
    snaps, clocks = [], {}
    for s in sites:
        clock = clocks[s.id] = DongleClock(ppm=rng.uniform(-50, 50), start_offset_s=rng.uniform(-10e-3, 10e-3))
        snaps.append(SensorSnapshot(s.id, s.lat, s.lon, s.height_m, renderer.render(s, clock)))
    levels = [LevelObservation(s.lat, s.lon, world.reported_field_dbuv_m(tx, s), s.id) for s in sites]
    t0 = time.process_time()
    rss = localise(levels)
    t_rss = time.process_time() - t0
    truth = frame.to_enu(np.array(lat), np.array(lon), np.array(0.0))
    rss_err = float(np.linalg.norm(frame.to_enu(np.array(rss.lat), np.array(rss.lon), np.array(0.0))[:2] - truth[:2]))
    t0 = time.process_time()
    try:
        # the server knows an FM target from its detection's class; the bench from the case
        measured = measure_pairs(snaps, REFERENCE, ref_multipath_correction=ref_correction,
                                 target_fm=target_correction and kind == "fm_broadcast")
        fix = solve_pairs(measured, starts_latlon=[(rss.lat, rss.lon)], multipath_link_sigma_m=link_sigma_m)
    except TdoaError as exc:
        if dump is not None:
            dump.write(json.dumps({"seed": seed, "case": _label, "snr_db": snr_db, "fail": str(exc)}) + "\n")
        return None, rss_err, time.process_time() - t0, t_rss, str(exc)
    cost = time.process_time() - t0
    e, n = fix.frame.to_enu(np.array(lat), np.array(lon), np.array(0.0))[:2]
    err = math.hypot(fix.fix.east_m - e, fix.fix.north_m - n)
    parts = _pair_errors(measured, fix, tx, clocks, link_sigma_m)
    before = None
    if before_sigma_m is not None:  # the same pairs, the region stated with one model term for every target link
        old = solve_pairs(measured, starts_latlon=[(rss.lat, rss.lon)], multipath_link_sigma_m=before_sigma_m)
        before = (math.hypot(old.fix.east_m - e, old.fix.north_m - n), old.fix.contains(e, n), old.semi_major_m)
    if dump is not None:
        dump.write(json.dumps(_dump_row(measured, fix, parts, (e, n), [(rss.lat, rss.lon)], seed, _label, snr_db,
                                        cost, before)) + "\n")
    return (err, fix.fix.contains(e, n), fix.semi_major_m, parts, before), rss_err, cost, t_rss, ""


def _dump_row(measured: MeasuredPairs, fix: TdoaResult, parts: dict[str, object], truth_en: tuple[float, float],
              starts_latlon: list[tuple[float, float]], seed: int, label: str, snr_db: float, cost_s: float,
              before: tuple[float, bool, float] | None) -> dict[str, object]:
    """Everything a fix's region is stated from (the ENU sensors, the range differences, every sigma part of the
    stated and of the one-term weighting, the start points), with the truth and the pair errors: the region can
    be stated again another way on the very same pairs without measuring them again (``--dump``)."""
    frame, s0 = measured.frame, measured.s0
    sensors = [s0] + [p[0] for p in measured.pairs]
    enu = frame.to_enu(np.array([s.lat for s in sensors]), np.array([s.lon for s in sensors]),
                       np.array([s.height_m for s in sensors]))

    def sig(x: float | None) -> dict[str, list[float]]:
        ps = pair_sigmas(measured, x)
        return {k: [float(v) for v in getattr(ps, k)] for k in ("data_m", "target_lag_m", "ref0_m", "refi_m",
                                                                  "target0_m", "targeti_m")}

    seg = s0.windows.segment(s0.windows.target)
    return {"seed": seed, "case": label, "snr_db": snr_db, "sensors_enu": enu.tolist(),
            "rdiff_m": [p.tdoa_s * C_M_S for _, p in measured.pairs],
            "starts_enu": [frame.to_enu(np.array(la), np.array(lo), np.array(0.0))[:2].tolist()
                           for la, lo in starts_latlon],
            "stated": sig(None), "weight": sig(MULTIPATH_LINK_SIGMA_M),
            "tail_stated": bool(pair_sigmas(measured, None).target_tail),
            "kurtosis0": envelope_kurtosis(seg), "constant_envelope": bool(is_constant_envelope(seg)),
            "snr_eff_db": [p.target.snr_eff_db for _, p in measured.pairs],
            "truth_en": list(truth_en), "fix_en": [fix.fix.east_m, fix.fix.north_m],
            "cov_m2": [list(r) for r in fix.fix.cov_m2], "chi2": fix.fix.chi2, "dof": fix.fix.dof,
            "n_dropped": len(fix.dropped) - len(measured.dropped), "cost_s": cost_s,
            "err_total_m": [float(x) for x in parts["total"]], "err_ref_m": [float(x) for x in parts["ref"]],
            "covered": bool(fix.fix.contains(*truth_en)), "semi_major_m": fix.semi_major_m,
            "before": list(before) if before is not None else None}


def _true_index(clock0: DongleClock, clocki: DongleClock, n0: float) -> float:
    """Sensor i's sample index of the instant sensor 0 sampled at ``n0`` (the renderer's clocks)."""
    t = clock0.start_offset_s + n0 / (FS * (1 + clock0.ppm * 1e-6))
    return (t - clocki.start_offset_s) * FS * (1 + clocki.ppm * 1e-6)


def _pair_errors(measured: MeasuredPairs, fix: TdoaResult, tx: Transmitter, clocks: dict[str, DongleClock],
                 link_sigma_m: float | None) -> dict[str, object]:
    """Per pair: the range difference's error (m) split into the reference side (the clock map's error at the
    target, from the renderer's true clocks) and the target side (the rest), with the stated sigmas of each."""
    frame, s0 = measured.frame, measured.s0
    p_tx = frame.to_enu(np.array(tx.lat), np.array(tx.lon), np.array(tx.antenna_height_m))
    pos = {s.sensor_id: frame.to_enu(np.array(s.lat), np.array(s.lon), np.array(s.height_m))
           for s in [s0] + [p[0] for p in measured.pairs]}
    mid = 0.5 * sum(s0.windows.target)
    total, ref_side = [], []
    for si, p in measured.pairs:
        truth = float(np.linalg.norm(p_tx - pos[si.sensor_id]) - np.linalg.norm(p_tx - pos[s0.sensor_id]))
        total.append(p.tdoa_s * C_M_S - truth)
        e_clock = float(p.clock.index_at(np.array(mid))) - _true_index(clocks[s0.sensor_id], clocks[si.sensor_id], mid)
        ref_side.append(-e_clock / FS * C_M_S)
    sig = pair_sigmas(measured, link_sigma_m)
    tot, rs = np.array(total), np.array(ref_side)
    return {"n": len(measured.pairs) + 1, "total": tot, "ref": rs, "target": tot - rs,
            "sig_total": np.sqrt(np.diag(sig.covariance_m2())), "sig_ref": sig.reference_side_m,
            "sig_target": sig.target_side_m, "sig_lag": sig.target_lag_m,
            "dropped": len(fix.dropped) - len(measured.dropped), "chi2": fix.fix.chi2, "dof": fix.fix.dof}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=8, help="trials per (waveform, SNR)")
    ap.add_argument("--seed", type=int, default=19000)
    ap.add_argument("--clean", action="store_true", help="no multipath, no ADC (the first, flattering trials)")
    ap.add_argument("--snrs", default=",".join(f"{x:g}" for x in SNRS_DB), help="median-sensor SNRs, dB")
    ap.add_argument("--no-ref-correction", action="store_true",
                    help="keep the reference links' multipath pull (the chain before dsp.fm_multipath)")
    ap.add_argument("--link-sigma-m", type=float, default=None,
                    help="one multipath model term for every target link (and reference link without the correction); "
                         "default: each target link's read from its own recording (dsp.link_multipath)")
    ap.add_argument("--before-link-sigma-m", type=float, default=None,
                    help=f"also state each fix's region with this one term per target link (the model before "
                         f"dsp.link_multipath: {MULTIPATH_LINK_SIGMA_M:g}) on the same pairs: before/after columns")
    ap.add_argument("--no-target-correction", action="store_true",
                    help="keep an FM target's links' multipath pull (the chain before it was read per target link)")
    ap.add_argument("--cases", default="", help="only the waveforms whose label contains this")
    ap.add_argument("--sensors", type=int, choices=sorted(SENSOR_SETS), default=4,
                    help="3: the first three of the four; 5: SH-FENGJING added (default 4)")
    ap.add_argument("--breakdown", action="store_true",
                    help="per waveform: each pair's error over its stated sigma, reference vs target side; misses")
    ap.add_argument("--dump", type=Path, default=None,
                    help="append every trial's pairs, sigma parts and truth as JSON lines (to state regions again)")
    args = ap.parse_args()
    dump = args.dump.open("a") if args.dump is not None else None
    snrs = [float(x) for x in args.snrs.split(",") if x.strip()]
    ids = SENSOR_SETS[args.sensors]
    sites = _sites(ids)
    print(f"TDOA with {len(sites)} sensors ({', '.join(ids)}), reference {REFERENCE.station_id} "
          f"{REFERENCE.freq_hz / 1e6:.1f} MHz, {FS / 1e3:.0f} kS/s, shadowing 8 dB, +-50 ppm, +-10 ms, "
          + ("clean (no multipath, no ADC)" if args.clean else f"multipath {MIXED.name}, 8-bit ADC with AGC"))
    print(f"{'waveform':<18} {'SNR':>4} {'n':>3} {'fail':>4} {'median m':>9} {'p90 m':>8} {'cover95':>8} "
          f"{'major m':>8} {'ms/fix':>7} | {'RSS median m':>12} {'RSS ms':>7}"
          + (f" | before: {'median m':>8} {'cover95':>7} {'major m':>7}" if args.before_link_sigma_m is not None
             else ""))
    all_cover: list[bool] = []
    all_before: list[bool] = []
    gross: list[bool] = []  # outside its region and farther than max(5 x its 95 % semi-major, 2 km)
    reasons: list[str] = []
    breakdown: dict[str, list[tuple[bool, dict]]] = {}
    for ci, case in enumerate(CASES):
        if args.cases and args.cases not in case[0]:
            continue
        for snr in snrs:
            errs, covers, majors, costs, rss_errs, rss_costs, fails = [], [], [], [], [], [], 0
            before: list[tuple[float, bool, float]] = []
            for k in range(args.trials):
                seed = args.seed + 100_000 * ci + 1000 * round(snr) + k
                rng = np.random.default_rng(seed)
                world = RealisticWorld(shadowing_db=8.0, seed=seed)
                res, rss_err, cost, t_rss, why = _trial(sites, world, case, snr, rng, seed, args.clean,
                                                        not args.no_ref_correction, args.link_sigma_m,
                                                        args.before_link_sigma_m, not args.no_target_correction,
                                                        dump)
                if dump is not None:
                    dump.flush()
                rss_errs.append(rss_err)
                rss_costs.append(t_rss)
                costs.append(cost)
                if res is None:
                    fails += 1
                    reasons.append(f"{case[0]} {snr:.0f} dB seed {seed}: {why}")
                    continue
                errs.append(res[0])
                covers.append(res[1])
                majors.append(res[2])
                gross.append(not res[1] and res[0] > max(5.0 * res[2], 2000.0))
                breakdown.setdefault(case[0], []).append((res[1], res[3]))
                if res[4] is not None:
                    before.append(res[4])
            all_cover += covers
            med = float(np.median(errs)) if errs else math.nan
            p90 = float(np.percentile(errs, 90)) if errs else math.nan
            cov = float(np.mean(covers)) if covers else math.nan
            major = float(np.median(majors)) if majors else math.nan
            row = (f"{case[0]:<18} {snr:>4.0f} {args.trials:>3} {fails:>4} {med:>9.0f} {p90:>8.0f} {cov:>8.1%} "
                   f"{major:>8.0f} {1e3 * float(np.median(costs)):>7.0f} | {float(np.median(rss_errs)):>12.0f} "
                   f"{1e3 * float(np.median(rss_costs)):>7.0f}")
            if before:
                b = np.array(before)
                all_before += [bool(x) for x in b[:, 1]]
                row += (f" | {float(np.median(b[:, 0])):>16.0f} {float(np.mean(b[:, 1])):>7.1%} "
                        f"{float(np.median(b[:, 2])):>7.0f}")
            print(row)
    if all_cover:
        print(f"95 % regions cover the truth in {np.mean(all_cover):.1%} of {len(all_cover)} fixes (target 90-98 %)"
              + (f"; before {np.mean(all_before):.1%}" if all_before else ""))
        print(f"gross misses (farther than max(5 x the 95 % semi-major, 2 km): what the engine's tdoa_wrong_by_sensors "
              f"counts): {sum(gross)} of {len(gross)} fixes on {len(sites)} sensors")
    for line in reasons:
        print("no fix:", line)
    if args.breakdown:
        _print_breakdown(breakdown)


def _zstats(z: np.ndarray) -> str:
    """A Gaussian with the right sigma: median |z| 0.67, RMS 1.0, 4.6 % beyond 2, 0.3 % beyond 3."""
    a = np.abs(z)
    return (f"{np.median(a):>5.2f} {math.sqrt(float(np.mean(z**2))):>5.2f} {np.mean(a > 2):>5.0%} "
            f"{np.mean(a > 3):>5.0%} {np.max(a):>5.1f}")


def _print_breakdown(breakdown: dict[str, list[tuple[bool, dict]]]) -> None:
    """Each pair's error over its stated sigma (z), for the whole pair and its two sides, per waveform and
    sensor count; then for the fixes whose region missed the truth, which side carries the worst pair."""
    print("\nper pair z = error / stated sigma: |z| median, RMS, >2, >3, max  (Gaussian: 0.67 1.00 5% 0% ~3)")
    print(f"{'waveform':<18} {'sens':>4} {'pairs':>5} | {'whole pair':^29} | {'reference side':^29} | "
          f"{'target side':^29} | {'RMS err ref/tgt m':>17} {'sigma ref/tgt/lag m':>19}")
    for label, rows in breakdown.items():
        for n in sorted({r["n"] for _, r in rows}):
            sel = [r for _, r in rows if r["n"] == n]
            cat = {k: np.concatenate([r[k] for r in sel]) for k in ("total", "ref", "target", "sig_total", "sig_ref",
                                                                      "sig_target", "sig_lag")}
            print(f"{label:<18} {n:>4} {cat['total'].size:>5} | {_zstats(cat['total'] / cat['sig_total'])} | "
                  f"{_zstats(cat['ref'] / cat['sig_ref'])} | {_zstats(cat['target'] / cat['sig_target'])} | "
                  f"{math.sqrt(float(np.mean(cat['ref']**2))):>8.0f}/{math.sqrt(float(np.mean(cat['target']**2))):<8.0f}"
                  f" {np.median(cat['sig_ref']):>6.0f}/{np.median(cat['sig_target']):.0f}/"
                  f"{np.median(cat['sig_lag']):.0f}")
    print("\nmisses (region without the truth): worst pair's z, whole / reference side / target side, chi2/dof")
    for label, rows in breakdown.items():
        for covered, r in rows:
            if covered:
                continue
            zt = r["total"] / r["sig_total"]
            k = int(np.argmax(np.abs(zt)))
            side = "target" if abs(r["target"][k]) >= abs(r["ref"][k]) else "reference"
            print(f"  {label:<18} {r['n']} sensors: z {zt[k]:+5.1f} = ref {r['ref'][k]:+5.0f} m "
                  f"(z {r['ref'][k] / r['sig_ref'][k]:+4.1f}) + target {r['target'][k]:+5.0f} m "
                  f"(z {r['target'][k] / r['sig_target'][k]:+4.1f}): {side}; all pairs z "
                  + " ".join(f"{x:+.1f}" for x in zt) + f"; chi2 {r['chi2']:.1f}/{r['dof']}"
                  + (f", {r['dropped']} left out" if r["dropped"] else ""))


if __name__ == "__main__":
    main()
