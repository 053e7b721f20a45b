"""``borderwatch report``: the shared occupancy and interference report of a period (issue 10).

Reads the coordination server's data directory (read-only) and writes a self-contained HTML report
and, on request, the machine-readable exports (occupancy CSV, alerts GeoJSON, SM.1809-style files).
"""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="occupancy and interference report of a period (HTML + exports)",
                       description="Build the shared electromagnetic-environment report of a period from the "
                                   "coordination server's data directory.")
    p.add_argument("--archive", required=True, type=Path, metavar="DIR",
                   help="the server's data directory (server.db and spectra/)")
    p.add_argument("--period", required=True, metavar="FIRST..LAST",
                   help="UTC days, both included, e.g. 2026-11-01..2026-11-07")
    p.add_argument("--province", metavar="CODE", help="only sensors of this province and alerts involving it")
    p.add_argument("--band", metavar="NAME", help="only this band (rules band name or profile name)")
    p.add_argument("--lang", default="en", metavar="LANG", help="report language: en (default) or zh_CN")
    p.add_argument("--stations", type=Path, metavar="FILE",
                   help="station database (.db, .csv, .json); default: stations.db in the archive")
    p.add_argument("--rules", type=Path, metavar="FILE", help="coordination rules TOML (default: shipped rules)")
    p.add_argument("-o", "--output", type=Path, metavar="FILE", help="HTML report to write")
    p.add_argument("--occupancy-csv", type=Path, metavar="FILE", help="write FCO per channel and interval (CSV)")
    p.add_argument("--alerts-geojson", type=Path, metavar="FILE", help="write the period's alerts (GeoJSON)")
    p.add_argument("--sm1809", type=Path, metavar="DIR",
                   help="write ITU-R SM.1809-style measurement files (one per sensor and band) into DIR")
    p.set_defaults(handler=cmd_report)


def cmd_report(args: argparse.Namespace) -> int:
    from coordination.report import (
        ArchiveReader,
        Period,
        ReportOptions,
        build_report,
        occupancy_csv,
        render_html,
        translator,
        write_alerts_geojson,
        write_all_sm1809,
    )

    if not any((args.output, args.occupancy_csv, args.alerts_geojson, args.sm1809)):
        sys.stderr.write("borderwatch report: nothing to write: give -o report.html and/or --occupancy-csv, "
                         "--alerts-geojson, --sm1809\n")
        return 2
    translator(args.lang)  # unknown language: fail before the work
    province = args.province.upper() if args.province else None
    options = ReportOptions(period=Period.parse(args.period), province=province, band=args.band,
                            stations=args.stations, rules=args.rules, now=datetime.now(UTC))
    report = build_report(args.archive, options)
    if not report.site_bands and args.band:
        sys.stderr.write(f"borderwatch report: warning: no measurements of band {args.band!r} in the period\n")
    if args.output:
        args.output.write_text(render_html(report, args.lang), encoding="utf-8")
        print(f"report: {args.output} ({len(report.site_bands)} sensor-bands, {len(report.alerts.rows)} alerts)")
    if args.occupancy_csv:
        with open(args.occupancy_csv, "w", encoding="utf-8", newline="") as f:
            n = occupancy_csv(report, f)
        print(f"occupancy CSV: {args.occupancy_csv} ({n} rows)")
    if args.alerts_geojson:
        n = write_alerts_geojson(report, args.alerts_geojson)
        print(f"alerts GeoJSON: {args.alerts_geojson} ({n} alerts)")
    if args.sm1809:
        with ArchiveReader(args.archive) as reader:
            files = write_all_sm1809(reader, report, args.sm1809)
        for path, n in files:
            print(f"SM.1809: {path} ({n} sweeps)")
        if not files:
            print(f"SM.1809: no archived spectra in the period: nothing written to {args.sm1809}")
    return 0
