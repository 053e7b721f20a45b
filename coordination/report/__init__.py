"""Occupancy and interference reports from the coordination server's archive, shared by the four provinces.

``build_report`` reads a data directory into a typed :class:`Report`; ``render_html`` and the
functions of :mod:`coordination.report.exports` turn it into the HTML report and the exports.
"""

from coordination.report.build import ReportOptions, build_report
from coordination.report.data import ArchiveReader, Period, ReportDataError
from coordination.report.exports import (
    ExportIntegrityError,
    alerts_geojson,
    occupancy_csv,
    read_sm1809,
    verify_sm1809,
    write_alerts_geojson,
    write_all_sm1809,
)
from coordination.report.html import render_html
from coordination.report.i18n import LANGUAGES, UnknownLanguageError, translator
from coordination.report.model import Report

__all__ = [
    "LANGUAGES",
    "ArchiveReader",
    "ExportIntegrityError",
    "Period",
    "Report",
    "ReportDataError",
    "ReportOptions",
    "UnknownLanguageError",
    "alerts_geojson",
    "build_report",
    "occupancy_csv",
    "read_sm1809",
    "render_html",
    "translator",
    "verify_sm1809",
    "write_alerts_geojson",
    "write_all_sm1809",
]
