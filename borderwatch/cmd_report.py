"""``borderwatch report``: the shared occupancy and interference report of a period.

Reads the coordination server's data directory (read-only) and writes a self-contained HTML report
and, on request, the machine-readable exports (occupancy CSV, alerts GeoJSON, SM.1809-style files).
"""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path

from borderwatch.i18n import _, current_language

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help=_("occupancy and interference report of a period (HTML + exports)"),
                       description=_("Build the shared electromagnetic-environment report of a period from the "
                                   "coordination server's data directory."))
    p.add_argument("--archive", required=True, type=Path, metavar="DIR",
                   help=_("the server's data directory (server.db and spectra/)"))
    p.add_argument("--period", required=True, metavar="FIRST..LAST",
                   help=_("UTC days, both included, e.g. 2026-11-01..2026-11-07"))
    p.add_argument("--province", metavar="CODE", help=_("only sensors of this province and alerts involving it"))
    p.add_argument("--band", metavar="NAME", help=_("only this band (rules band name or profile name)"))
    p.add_argument("--lang", default=None, metavar="LANG",
                   help=_("report language: en or zh_CN (default: the language of the command line)"))
    p.add_argument("--stations", type=Path, metavar="FILE",
                   help=_("station database (.db, .csv, .json); default: stations.db in the archive"))
    p.add_argument("--rules", type=Path, metavar="FILE", help=_("coordination rules TOML (default: shipped rules)"))
    p.add_argument("-o", "--output", type=Path, metavar="FILE", help=_("HTML report to write"))
    p.add_argument("--occupancy-csv", type=Path, metavar="FILE", help=_("write FCO per channel and interval (CSV)"))
    p.add_argument("--alerts-geojson", type=Path, metavar="FILE", help=_("write the period's alerts (GeoJSON)"))
    p.add_argument("--sm1809", type=Path, metavar="DIR",
                   help=_("write ITU-R SM.1809-style measurement files (one per sensor and band) into DIR"))
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
        sys.stderr.write("borderwatch report: " + _("nothing to write: give -o report.html and/or --occupancy-csv, "
                                                    "--alerts-geojson, --sm1809") + "\n")
        return 2
    lang = args.lang or current_language()
    translator(lang)  # unknown language: fail before the work
    province = args.province.upper() if args.province else None
    options = ReportOptions(period=Period.parse(args.period), province=province, band=args.band,
                            stations=args.stations, rules=args.rules, now=datetime.now(UTC))
    report = build_report(args.archive, options)
    if not report.site_bands and args.band:
        sys.stderr.write("borderwatch report: " + _("warning: no measurements of band {band!r} in the period").format(
            band=args.band) + "\n")
    if args.output:
        args.output.write_text(render_html(report, lang), encoding="utf-8")
        print(_("report: {path} ({n_bands} sensor-bands, {n_alerts} alerts)").format(
            path=args.output, n_bands=len(report.site_bands), n_alerts=len(report.alerts.rows)))
    if args.occupancy_csv:
        with open(args.occupancy_csv, "w", encoding="utf-8", newline="") as f:
            n = occupancy_csv(report, f)
        print(_("occupancy CSV: {path} ({n} rows)").format(path=args.occupancy_csv, n=n))
    if args.alerts_geojson:
        n = write_alerts_geojson(report, args.alerts_geojson)
        print(_("alerts GeoJSON: {path} ({n} alerts)").format(path=args.alerts_geojson, n=n))
    if args.sm1809:
        with ArchiveReader(args.archive) as reader:
            files = write_all_sm1809(reader, report, args.sm1809)
        for path, n in files:
            print(_("SM.1809: {path} ({n} sweeps)").format(path=path, n=n))
        if not files:
            print(_("SM.1809: no archived spectra in the period: nothing written to {path}").format(path=args.sm1809))
    return 0
