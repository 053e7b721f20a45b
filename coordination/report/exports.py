"""Machine-readable exports of a report: occupancy CSV, alerts GeoJSON, ITU-R SM.1809-style spectra.

Exports are language-neutral (codes, SI units in the column names, UTC ISO-8601 times), whatever
language the HTML report is in.

SM.1809-style file (one per sensor and profile; ``;``-separated text, UTF-8)::

    # ITU-R SM.1809-style measurement data exchange (borderwatch)
    FileType;Frequency band registrations         <- header: one "Key;Value" per line
    ...
    DataPoints;64
    [Data]
    Time;Level(dBm) at FreqStart + k*FreqStep, k = 0..DataPoints-1
    2026-11-01T00:00:00.000000Z;-110.1;-109.8;...  <- one sweep per line, levels to 0.1 dB
    [End]
    SHA256;<hex digest of every byte above this line>

:func:`verify_sm1809` recomputes the digest; any change of header or data makes it fail.
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from coordination.alert_geojson import alerts_feature_collection, located_count
from coordination.protocol import format_utc
from coordination.report.data import ArchiveReader, Period, from_epoch_s
from coordination.report.model import Report, SiteBand

OCCUPANCY_COLUMNS = ("sensor_id", "province", "band", "profile", "t_start_utc", "t_end_utc", "channel_hz",
                     "revisits", "occupied", "fco", "fco_ci_low", "fco_ci_high", "threshold_dbm", "source")

SM1809_FORMAT = "borderwatch-sm1809-1"


class ExportIntegrityError(ValueError):
    """An SM.1809 export whose checksum does not match its content (or has none)."""


# ---------------------------------------------------------------------- occupancy CSV


def occupancy_csv(report: Report, out: io.TextIOBase | Any) -> int:
    """FCO per channel per measurement interval; returns the number of data rows written."""
    from dsp import wilson_interval

    w = csv.writer(out, lineterminator="\n")
    w.writerow(OCCUPANCY_COLUMNS)
    n = 0
    for sb in report.site_bands:
        source = sb.occupancy.source if sb.occupancy is not None else ""
        for iv in sb.intervals:
            lo, hi = wilson_interval(iv.occupied, iv.revisits)
            for k, ch in enumerate(iv.channel_centers_hz):
                w.writerow([sb.site.sensor_id, sb.site.province, sb.band.name, sb.band.profile,
                            format_utc(iv.t_start_utc), format_utc(iv.t_end_utc), f"{ch:.1f}", iv.revisits,
                            int(iv.occupied[k]), f"{iv.occupied[k] / iv.revisits:.6f}", f"{float(lo[k]):.6f}",
                            f"{float(hi[k]):.6f}", f"{iv.threshold_dbm:.2f}", source])
                n += 1
    return n


# ---------------------------------------------------------------------- alerts GeoJSON


def alerts_geojson(report: Report) -> dict[str, Any]:
    """Alerts of the period (:mod:`coordination.alert_geojson`'s shape) with their response times."""
    extra = {r.id: {"time_to_ack_s": r.time_to_ack_s, "time_to_ack_exact": r.ack_exact,
                    "time_to_resolve_s": r.time_to_resolve_s} for r in report.alerts.rows}
    return alerts_feature_collection([r.doc for r in report.alerts.rows],
                                     name=f"borderwatch alerts {report.period.label()}", extra=extra)


def write_alerts_geojson(report: Report, path: Path) -> int:
    """Write the period's alerts GeoJSON; returns how many alerts it holds."""
    doc = alerts_geojson(report)
    Path(path).write_text(json.dumps(doc, ensure_ascii=False, indent=1), encoding="utf-8")
    return located_count(doc)[0]


# ---------------------------------------------------------------------- SM.1809


def _sm1809_header(sb: SiteBand, period: Period, axis: tuple[float, float, int], detector: str) -> list[str]:
    f_start, f_step, n = axis
    s = sb.site
    rows = [
        ("FileType", "Frequency band registrations"),
        ("Format", SM1809_FORMAT),
        ("Standard", "ITU-R SM.1809 (style)"),
        ("LocationName", s.sensor_id),
        ("Province", s.province),
        ("Latitude", f"{s.lat:.6f}"), ("Longitude", f"{s.lon:.6f}"), ("AntennaHeight_m", f"{s.height_m:g}"),
        ("AntennaFactor_dB_per_m", f"{s.antenna_factor_db_m:g}"),
        ("Band", sb.band.name), ("Profile", sb.band.profile),
        ("FreqStart_Hz", f"{f_start:.1f}"), ("FreqStop_Hz", f"{f_start + f_step * (n - 1):.1f}"),
        ("FreqStep_Hz", f"{f_step:.3f}"), ("DataPoints", str(n)),
        ("FilterBandwidth_Hz", f"{f_step:.3f}"), ("Detector", detector), ("LevelUnits", "dBm"),
        ("LevelReference", "antenna port; field dBuV/m = dBm + 107 + antenna factor"),
        ("PeriodStart", format_utc(period.start)), ("PeriodEnd", format_utc(period.end)),
        ("TimeReference", "UTC"),
    ]
    return [f"{k};{v}" for k, v in rows]


def write_sm1809(reader: ArchiveReader, sb: SiteBand, period: Period, path: Path) -> int:
    """Every archived sweep of one sensor/profile in the period (main axis); returns the sweeps written."""
    main = reader.main_axis(sb.site.sensor_id, sb.band.profile, period)
    if main is None:
        return 0
    axis = (main.f_start_hz, main.f_step_hz, main.n_bins)
    digest = hashlib.sha256()
    n_rows = 0
    tmp = Path(path).with_suffix(Path(path).suffix + ".part")
    with open(tmp, "wb") as f:
        def put(line: str) -> None:
            b = (line + "\n").encode("utf-8")
            digest.update(b)
            f.write(b)

        chunks = reader.iter_spectra(sb.site.sensor_id, sb.band.profile, period, axis=main)
        first = next(chunks, None)
        detector = first.detector if first is not None else ""
        put("# ITU-R SM.1809-style measurement data exchange (borderwatch)")
        for line in _sm1809_header(sb, period, axis, detector):
            put(line)
        put(f"Sweeps;{main.rows}")
        put("[Data]")
        put("Time;Level(dBm) at FreqStart + k*FreqStep, k = 0..DataPoints-1")
        for c in itertools.chain([first] if first is not None else [], chunks):
            for t_s, row in zip(c.t_utc_s, np.round(c.power_dbm.astype(np.float64), 1)):
                put(format_utc(from_epoch_s(t_s)) + ";" + ";".join(f"{v:.1f}" for v in row))
                n_rows += 1
        put("[End]")
        f.write(f"SHA256;{digest.hexdigest()}\n".encode())
    tmp.replace(path)
    return n_rows


def sm1809_filename(sb: SiteBand, period: Period) -> str:
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{sb.site.sensor_id}_{sb.band.profile}_{period.label()}")
    return f"{safe}.sm1809.txt"


def verify_sm1809(path: Path) -> str:
    """Check the trailer digest; return it, or raise :class:`ExportIntegrityError` naming the file."""
    data = Path(path).read_bytes()
    body, sep, last = data.rstrip(b"\n").rpartition(b"\n")
    if not sep or not last.startswith(b"SHA256;"):
        raise ExportIntegrityError(f"{path}: no SHA256 trailer line")
    want = last[len(b"SHA256;"):].decode("ascii", "replace").strip()
    got = hashlib.sha256(body + b"\n").hexdigest()
    if got != want:
        raise ExportIntegrityError(f"{path}: checksum mismatch (file says {want[:12]}..., content is {got[:12]}...)")
    return got


def read_sm1809(path: Path) -> tuple[dict[str, str], np.ndarray, list[str]]:
    """(header, levels (sweeps, points), times) of a verified SM.1809-style file."""
    verify_sm1809(path)
    header: dict[str, str] = {}
    times: list[str] = []
    rows: list[list[float]] = []
    section = "header"
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or line.startswith("SHA256;"):
            continue
        if line == "[Data]":
            section = "data"
            continue
        if line == "[End]":
            break
        if section == "header":
            k, _, v = line.partition(";")
            header[k] = v
        elif line.startswith("Time;"):
            continue
        else:
            parts = line.split(";")
            times.append(parts[0])
            rows.append([float(x) for x in parts[1:]])
    n = int(header.get("DataPoints", "0"))
    return header, np.array(rows, dtype=np.float64).reshape(len(rows), n), times


def write_all_sm1809(reader: ArchiveReader, report: Report, out_dir: Path) -> list[tuple[Path, int]]:
    """One SM.1809-style file per sensor and profile of the report into ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for sb in report.site_bands:
        p = out_dir / sm1809_filename(sb, report.period)
        n = write_sm1809(reader, sb, report.period, p)
        if n:
            written.append((p, n))
    return written


