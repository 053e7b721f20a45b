"""``borderwatch scan`` (rtl_power-style band sweep) and ``borderwatch detect`` (emissions and bursts).

Thin shells: parse arguments, open the source URI, call :mod:`sdr.sweep` / :mod:`sdr.detect`,
write the result. User errors are raised as one-line exceptions (the CLI boundary prints them).
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from borderwatch.i18n import _
from sdr.detect import DetectConfig, detect
from sdr.pipeline import calibration_offset_db
from sdr.rtltcp_server import RtlTcpServer
from sdr.sources import URI_HELP, open_source
from sdr.sources.base import parse_si
from sdr.sweep import SweepSettings, calibration_db, plan_sweep, run_sweep
from sdr.sweep_output import open_writer

#: detect holds the IQ (and two spectrograms of it) in memory: by default at most this much of a file.
MAX_DEFAULT_S = 30.0


def parse_hz(text: str) -> float:
    """``433.92M``, ``250k``, ``2.4e6`` -> Hz (argparse type)."""
    try:
        value = parse_si(text)
    except ValueError:
        raise ValueError(_("not a frequency: {text!r}").format(text=text)) from None
    if not math.isfinite(value):
        raise ValueError(_("not a frequency: {text!r}").format(text=text))
    return value


parse_hz.__name__ = "frequency"  # argparse shows "invalid frequency value"


def register(subparsers: Any) -> None:
    """Add the ``scan`` and ``detect`` subcommands."""
    p = subparsers.add_parser(
        "scan", help=_("sweep a band (rtl_power-compatible CSV or HDF5)"),
        description="Sweep START..STOP in hops of the sample rate, average each hop for its share of the "
                    "interval and write one stitched spectrum per run. Source URIs: " + URI_HELP,
    )
    p.add_argument("--source", required=True, metavar="URI")
    p.add_argument("--start", required=True, type=parse_hz, metavar="HZ", help=_("lower band edge (e.g. 88M)"))
    p.add_argument("--stop", required=True, type=parse_hz, metavar="HZ", help=_("upper band edge"))
    p.add_argument("--bin", required=True, type=parse_hz, metavar="HZ", help=_("bin width (rounded to FFT size)"))
    p.add_argument("--interval", type=float, default=10.0, metavar="S",
                   help=_("integration time per sweep, shared by its hops (default 10)"))
    p.add_argument("--crop", type=float, default=0.0, metavar="F",
                   help=_("fraction of each hop's bins discarded at the edges (default 0)"))
    p.add_argument("--runs", type=int, default=1, metavar="N", help=_("number of sweeps (default 1)"))
    p.add_argument("--detector", choices=("mean", "peak", "min", "rms"), default="mean")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help=_(".csv (rtl_power format) or .h5"))
    p.set_defaults(handler=run_scan)

    d = subparsers.add_parser(
        "detect", help=_("find emissions and their bursts in IQ (a recording, or seconds of a live source)"),
        description="Emissions (centre, bandwidths, power, SNR) and, per emission, each burst's start and "
                    "duration in seconds from the start of the IQ. Source URIs: " + URI_HELP,
    )
    d.add_argument("--source", required=True, metavar="URI")
    d.add_argument("--nfft", type=int, default=4096, help=_("FFT size of the spectrum (default 4096)"))
    d.add_argument("--margin-db", type=float, default=6.0, help=_("detection margin over the noise floor (default 6)"))
    d.add_argument("--duration", type=float, default=None, metavar="S",
                   help=_("seconds of IQ to analyse (default: a whole recording, 1 s of a live source)"))
    d.add_argument("--json", action="store_true", help=_("machine-readable output"))
    d.set_defaults(handler=run_detect)

    r = subparsers.add_parser(
        "rtltcp-serve", help=_("serve a source (simulator, recording) to rtl_tcp clients"),
        description="Speak the rtl_tcp protocol for any source, so gqrx, SDR++ or rtl_433 can tune a "
                    "simulated sensor or replay a recording. Source URIs: " + URI_HELP,
    )
    r.add_argument("--source", required=True, metavar="URI")
    r.add_argument("--host", default="127.0.0.1", help=_("address to listen on (default 127.0.0.1)"))
    r.add_argument("--port", type=int, default=1234, help=_("TCP port (default 1234, as rtl_tcp)"))
    r.add_argument("--speed", type=float, default=1.0, help=_("multiple of real time (default 1)"))
    r.add_argument("--duration", type=float, default=None, metavar="S", help=_("stop after S seconds"))
    r.set_defaults(handler=run_rtltcp_serve)


def _progress_printer(run: int, runs: int) -> Callable[[int, int], None] | None:
    if not sys.stderr.isatty():
        return None

    def show(hop: int, hops: int) -> None:
        width = 30
        done = int(width * hop / hops)
        sys.stderr.write("\r" + _("scan run {run}/{runs} [{bar}] hop {hop}/{hops}").format(
            run=run, runs=runs, bar="#" * done + "." * (width - done), hop=hop, hops=hops))
        if hop == hops:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return show


def run_scan(args: Any) -> int:
    """Handler of ``borderwatch scan``."""
    if args.runs < 1:
        raise ValueError(_("--runs must be >= 1, got {n}").format(n=args.runs))
    settings = SweepSettings(start_hz=args.start, stop_hz=args.stop, bin_hz=args.bin, interval_s=args.interval,
                             crop_fraction=args.crop, detector=args.detector)
    with open_source(args.source) as source:
        plan = plan_sweep(source, settings)
        meta = {"source": args.source, "sample_rate_hz": plan.sample_rate_hz}
        written = 0
        # A recording without a capture time has no clock of its own: its rows are timed from the start of
        # the scan by the samples already swept, so every run gets its own time (rtl_power consumers merge
        # rows that share one) and the times match the recording's timeline.
        scan_start = datetime.now(UTC)
        swept_s = 0.0
        with open_writer(args.output, settings, meta) as writer:
            for run in range(1, args.runs + 1):
                result = run_sweep(source, settings, plan, progress=_progress_printer(run, args.runs),
                                   allow_short=run == 1)
                if result is None:
                    sys.stderr.write("scan: " + _("the recording ended after {n} sweep(s)").format(n=written) + "\n")
                    break
                if source.timestamp_utc is None:
                    result = dataclasses.replace(result, t_start_utc=scan_start + timedelta(seconds=swept_s))
                swept_s += result.samples_per_hop * result.hops / plan.sample_rate_hz
                writer.write(result)
                written += 1
    return 0 if written else 1


def _dbm_offset(source: Any) -> tuple[float, bool]:
    """dB to add to dBFS for antenna-port dBm, and whether it is a real calibration (not nominal)."""
    return calibration_offset_db(source, None), calibration_db(source) is not None


def run_detect(args: Any) -> int:
    """Handler of ``borderwatch detect``."""
    config = DetectConfig(nfft=args.nfft, margin_db=args.margin_db)
    with open_source(args.source) as source:
        rate = source.sample_rate_hz
        if args.duration is not None:
            n = int(args.duration * rate)
        elif getattr(source, "finite", False):
            n = int(getattr(source, "num_samples", 0)) or int(MAX_DEFAULT_S * rate)
            if n > MAX_DEFAULT_S * rate:
                sys.stderr.write("detect: " + _("analysing the first {s:.0f} s (use --duration for more)").format(
                    s=MAX_DEFAULT_S) + "\n")
                n = int(MAX_DEFAULT_S * rate)
        else:
            n = int(rate)
        chunks, got = [], 0
        while got < n:
            block = source.read(min(1 << 20, n - got))
            if block.size == 0:
                break
            chunks.append(block)
            got += block.size
        iq = np.concatenate(chunks) if chunks else np.zeros(0, np.complex64)
        if iq.size < 4 * config.nfft:
            raise ValueError(_("only {n} samples from {source}; need at least {need}").format(
                n=iq.size, source=args.source, need=4 * config.nfft))
        offset_db, calibrated = _dbm_offset(source)
        result = detect(iq, rate, source.center_freq_hz, config, dbm_offset_db=offset_db)
    if args.json:
        doc = {
            "source": args.source,
            "center_freq_hz": result.center_freq_hz,
            "sample_rate_hz": result.sample_rate_hz,
            "duration_s": round(result.duration_s, 6),
            "calibrated": calibrated,
            "noise_floor_dbm_per_hz": round(result.floor_dbm_per_hz, 2),
            "emissions": [e.to_dict() for e in result.emissions],
        }
        sys.stdout.write(json.dumps(doc, indent=1) + "\n")
        return 0
    unit = "dBm" if calibrated else _("dBm (nominal, uncalibrated)")
    sys.stdout.write(_("{n} emission(s) in {s:.3f} s around {mhz:.6f} MHz; power in {unit}").format(
        n=len(result.emissions), s=result.duration_s, mhz=result.center_freq_hz / 1e6, unit=unit) + "\n")
    header = (f"{'centre MHz':>12} {'peak MHz':>12} {'BWx kHz':>8} {'OBW kHz':>8} {'power':>7} {'SNR':>5} "
              f"{'class':>16}  bursts")
    sys.stdout.write(header + "\n")
    for det in result.emissions:
        e = det.emission
        if det.continuous:
            when = "continuous"
        else:
            when = ", ".join(f"{b.start_s:.4f}s+{b.duration_s * 1e3:.1f}ms" for b in det.bursts[:8])
            if len(det.bursts) > 8:
                when += f", ... ({len(det.bursts)} bursts)"
            if det.carrier:
                when += "; " + _("carrier {spans}").format(spans=", ".join(
                    f"{c.start_s:.4f}s+{c.duration_s * 1e3:.1f}ms" for c in det.carrier))
        kind = f"{det.emission_class} {det.class_confidence:.2f}"
        xdb = f"{e.bandwidth_xdb_hz / 1e3:8.1f}" if det.xdb_measurable else f"{'n/m':>8}"  # under the noise
        sys.stdout.write(f"{e.center_hz / 1e6:12.6f} {e.peak_hz / 1e6:12.6f} {xdb} "
                         f"{e.obw_hz / 1e3:8.1f} {e.power_dbm:7.1f} {e.snr_db:5.1f} {kind:>16}  {when}\n")
    return 0


def run_rtltcp_serve(args: Any) -> int:
    """Handler of ``borderwatch rtltcp-serve``: serve until Ctrl-C or --duration."""
    if args.speed <= 0:
        raise ValueError(_("--speed must be > 0, got {x}").format(x=args.speed))
    with open_source(args.source) as source, RtlTcpServer(source, args.host, args.port, speed=args.speed) as server:
        sys.stderr.write("rtltcp-serve: " + _("{source} on {host}:{port} (Ctrl-C stops)").format(
            source=args.source, host=server.host, port=server.port) + "\n")
        deadline = None if args.duration is None else time.monotonic() + args.duration
        while deadline is None or time.monotonic() < deadline:
            time.sleep(0.2 if deadline is None else max(0.0, min(0.2, deadline - time.monotonic())))
        sys.stderr.write("rtltcp-serve: " + _("{clients} client(s), {samples} samples sent").format(
            clients=server.clients_served, samples=server.samples_sent) + "\n")
    return 0
