"""The station exchange format: CSV and JSON files every province reads and writes.

Untrusted files are checked row by row and *every* problem is reported with file, line and
field, so a province can fix its export in one round instead of one error per attempt. Nothing
reaches the database unless the whole file is clean (see :mod:`station_db.repository`).
The column list and units are documented in ``docs/station-exchange.md``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import os
import re
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from station_db.designator import DesignatorError, parse_designator
from station_db.models import MEMBER_PROVINCES, OCCUPATIONS, SERVICES, STATUSES, Station

COLUMNS: tuple[str, ...] = (
    "station_id", "province", "licensee", "service", "tx_freq_hz", "rx_freq_hz", "emission_designator",
    "erp_dbw", "antenna_height_m", "azimuth_deg", "pattern", "ground_height_m", "lat_deg", "lon_deg",
    "valid_from", "valid_to", "status", "occupation", "station_name",
)
"""Exchange columns in file order (CSV header; JSON keys)."""

OPTIONAL_DEFAULTS: dict[str, str] = {
    "rx_freq_hz": "", "azimuth_deg": "", "pattern": "omni", "ground_height_m": "0", "status": "active",
    "occupation": "continuous", "station_name": "",
}
"""Columns a file may leave out (or leave empty), with the value they then take."""

FREQ_MIN_HZ = 30e6
FREQ_MAX_HZ = 6e9
PROVINCE_TOLERANCE_KM = 5.0
"""How far outside its claimed province a station may sit (the shipped boundaries are ~1-6 km off)."""

ENCODING_NAMES: dict[str, str] = {"utf-8-sig": "UTF-8 with BOM", "utf-8": "UTF-8", "gb18030": "GB18030"}
"""Text encodings a station file may use (Python codec -> name shown to people). Licensing systems
and spreadsheet tools in China often save CSV as GB18030/GBK; UTF-8 is tried first because valid
UTF-8 Chinese text is practically never also valid GB18030 of the same meaning."""
_GB18030_BOM = b"\x84\x31\x95\x33"

JSON_FORMAT = "borderwatch-stations"
JSON_VERSION = 1

_RANGES: dict[str, tuple[float, float, str]] = {
    "erp_dbw": (-40.0, 70.0, "dBW"),
    "antenna_height_m": (0.0, 1000.0, "m"),
    "ground_height_m": (-100.0, 5000.0, "m"),
    "lat_deg": (-90.0, 90.0, "degrees"),
    "lon_deg": (-180.0, 180.0, "degrees"),
}
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DIR_RE = re.compile(r"^dir:(\d+(?:\.\d+)?)$")


@dataclass(frozen=True)
class FieldError:
    """One problem in a station file: where it is and what is wrong."""

    file: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.field}: {self.message}"


class StationFileError(ValueError):
    """A station file has problems; ``errors`` lists every one found (not just the first).

    ``encoding`` names the text encoding the file was read as (None when it could not be decoded).
    """

    def __init__(self, errors: list[FieldError], encoding: str | None = None) -> None:
        self.errors = list(errors)
        self.encoding = encoding
        first = str(self.errors[0]) if self.errors else "invalid station file"
        more = f" (and {len(self.errors) - 1} more)" if len(self.errors) > 1 else ""
        super().__init__(first + more)


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes (the provenance key of an import)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def parse_pattern(pattern: str) -> float | None:
    """Half-power beamwidth in degrees of a pattern (``"dir:65"`` -> 65.0); None for ``"omni"``."""
    if pattern == "omni":
        return None
    m = _DIR_RE.match(pattern)
    if m is None or not 0.0 < float(m[1]) < 360.0:
        raise ValueError(f"pattern {pattern!r}: use 'omni' or 'dir:BEAMWIDTH_DEG' (e.g. dir:65)")
    return float(m[1])


# -- reading ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StationFile:
    """The validated stations of a file and the text encoding it was read as (a codec of
    :data:`ENCODING_NAMES`), so an import can tell the user how it understood the bytes."""

    stations: list[Station]
    encoding: str

    @property
    def encoding_name(self) -> str:
        return ENCODING_NAMES[self.encoding]


def decode_station_text(data: bytes, name: str) -> tuple[str, str]:
    """``(text, codec)`` of a station file's bytes: UTF-8 (with or without BOM) or GB18030.

    Raises :class:`StationFileError` naming the first undecodable byte otherwise.
    """
    if data.startswith(b"\xef\xbb\xbf"):
        codecs: tuple[str, ...] = ("utf-8-sig",)
    elif data.startswith(_GB18030_BOM):
        data, codecs = data[len(_GB18030_BOM):], ("gb18030",)
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise StationFileError([FieldError(name, 0, "(file)", "UTF-16 text is not accepted; save the file as "
                                                              "UTF-8 (or GB18030)")])
    else:
        codecs = ("utf-8", "gb18030")
    first_error: UnicodeDecodeError | None = None
    for codec in codecs:
        try:
            return data.decode(codec), codec
        except UnicodeDecodeError as exc:
            first_error = first_error or exc
    assert first_error is not None
    line = data.count(b"\n", 0, first_error.start) + 1
    raise StationFileError([FieldError(
        name, line, "(file)",
        f"neither UTF-8 nor GB18030 text (byte {first_error.start}, 0x{data[first_error.start]:02x}); "
        "save the file as UTF-8",
    )])


def read_stations(
    path: str | Path, *, province: str | None = None, check_geography: bool = True
) -> list[Station]:
    """Read and validate a CSV or JSON station file (chosen by extension); see :func:`load_station_file`."""
    return load_station_file(path, province=province, check_geography=check_geography).stations


def load_station_file(
    path: str | Path, *, province: str | None = None, check_geography: bool = True
) -> StationFile:
    """Read and validate a CSV or JSON station file (chosen by extension), UTF-8 or GB18030.

    ``province``: the importing province; rows of another province are errors (a province can
    only send its own stations). ``check_geography``: verify each position lies in (or within
    :data:`PROVINCE_TOLERANCE_KM` of) the claimed province. Raises :class:`StationFileError`
    listing every problem.
    """
    p = Path(path)
    name = str(path)
    suffix = p.suffix.lower()
    if suffix == ".geojson":
        raise StationFileError([FieldError(name, 0, "(file)", "GeoJSON is export-only (for maps): import CSV or JSON")])
    if suffix not in (".csv", ".json"):
        raise StationFileError([FieldError(name, 0, "(file)", "unknown format: the name must end in .csv or .json")])
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise StationFileError([FieldError(name, 0, "(file)", f"cannot read: {exc.strerror or exc}")]) from exc
    text, codec = decode_station_text(data, name)
    try:
        stations = parse_stations(text, name, "json" if suffix == ".json" else "csv",
                                  province=province, check_geography=check_geography)
    except StationFileError as exc:
        raise StationFileError(exc.errors, encoding=codec) from None
    return StationFile(stations, codec)


def parse_stations(
    text: str, name: str, fmt: str, *, province: str | None = None, check_geography: bool = True
) -> list[Station]:
    """Validate exchange-format ``text`` (``fmt`` "csv" or "json"); see :func:`read_stations`."""
    errors: list[FieldError] = []
    records = _csv_records(text, name, errors) if fmt == "csv" else _json_records(text, name, errors)
    stations: list[Station] = []
    positions: list[tuple[int, str, float, float]] = []
    first_line: dict[tuple[str, str], int] = {}
    for line, record in records:
        station = _station_from_record(record, name, line, province, positions, errors)
        if station is None:
            continue
        if station.key in first_line:
            errors.append(FieldError(name, line, "station_id",
                                     f"duplicate id {station.station_id!r} (first on line {first_line[station.key]})"))
            continue
        first_line[station.key] = line
        stations.append(station)
    if check_geography:
        position_errors = _position_errors(positions, name)
        bad_lines = {e.line for e in position_errors}
        errors += position_errors
        stations = [s for s in stations if first_line[s.key] not in bad_lines]
    if not records and not errors:
        errors.append(FieldError(name, 1, "(file)", "no stations in the file"))
    if errors:
        raise StationFileError(sorted(errors, key=lambda e: e.line))
    return stations


def _csv_records(text: str, name: str, errors: list[FieldError]) -> list[tuple[int, dict[str, Any]]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] | None = None
    records: list[tuple[int, dict[str, Any]]] = []
    try:
        for row in reader:
            line = reader.line_num
            if not row or all(not cell.strip() for cell in row):
                continue
            if header is None:
                header = [h.strip() for h in row]
                if not _header_ok(header, name, line, errors):
                    return []
                continue
            if len(row) != len(header):
                errors.append(FieldError(name, line, "(row)", f"expected {len(header)} fields, found {len(row)}"))
                continue
            records.append((line, dict(zip(header, row))))
    except csv.Error as exc:
        errors.append(FieldError(name, reader.line_num, "(row)", f"malformed CSV: {exc}"))
    if header is None:
        errors.append(FieldError(name, 1, "(header)", "empty file: a header row is required"))
    return records


def _header_ok(header: list[str], name: str, line: int, errors: list[FieldError]) -> bool:
    ok = True
    seen: set[str] = set()
    for col in header:
        if col in seen:
            errors.append(FieldError(name, line, col, "column appears twice in the header"))
            ok = False
        seen.add(col)
        if col not in COLUMNS:
            errors.append(FieldError(name, line, col or "(empty)", f"unknown column (expected: {', '.join(COLUMNS)})"))
            ok = False
    for col in COLUMNS:
        if col not in seen and col not in OPTIONAL_DEFAULTS:
            errors.append(FieldError(name, line, col, "required column missing from the header"))
            ok = False
    return ok


def _json_records(text: str, name: str, errors: list[FieldError]) -> list[tuple[int, dict[str, Any]]]:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        errors.append(FieldError(name, exc.lineno, "(json)", f"not valid JSON: {exc.msg} (column {exc.colno})"))
        return []
    if isinstance(doc, dict):
        fmt, version = doc.get("format"), doc.get("version")
        if fmt != JSON_FORMAT or version != JSON_VERSION:
            expected = f"expected format {JSON_FORMAT!r} version {JSON_VERSION}"
            errors.append(FieldError(name, 1, "format", f"{expected}, got {fmt!r} {version!r}"))
            return []
        items = doc.get("stations")
    else:
        items = doc
    if not isinstance(items, list):
        errors.append(FieldError(name, 1, "stations", "expected a list of station objects"))
        return []
    lines = _json_item_lines(text)
    records: list[tuple[int, dict[str, Any]]] = []
    for line, item in zip(lines, items):
        if not isinstance(item, dict):
            errors.append(FieldError(name, line, "(station)", "each station must be a JSON object"))
            continue
        bad = [k for k in item if k not in COLUMNS]
        for key in bad:
            errors.append(FieldError(name, line, key, f"unknown field (expected: {', '.join(COLUMNS)})"))
        if bad:
            continue
        records.append((line, item))
    return records


def _json_item_lines(text: str) -> list[int]:
    """Line number of each element of the station list in already-validated JSON ``text``."""
    dec = json.JSONDecoder()
    ws = re.compile(r"[ \t\n\r]*")

    def skip(i: int) -> int:
        return ws.match(text, i).end()  # type: ignore[union-attr]

    i = skip(0)
    start = i
    if text[i] == "{":
        i = skip(i + 1)
        while text[i] != "}":
            key, i = dec.raw_decode(text, i)
            i = skip(skip(i) + 1)  # past ':'
            if key == "stations":
                start = i
            _, i = dec.raw_decode(text, i)
            i = skip(i)
            if text[i] == ",":
                i = skip(i + 1)
    lines: list[int] = []
    i = skip(start + 1)
    while i < len(text) and text[i] != "]":
        lines.append(text.count("\n", 0, i) + 1)
        _, i = dec.raw_decode(text, i)
        i = skip(i)
        if text[i] == ",":
            i = skip(i + 1)
    return lines


class _Row:
    """Field access for one record that collects errors instead of stopping at the first."""

    def __init__(self, record: Mapping[str, Any], name: str, line: int, errors: list[FieldError]) -> None:
        self.record = record
        self.name = name
        self.line = line
        self.errors = errors
        self.ok = True

    def error(self, field: str, message: str) -> None:
        self.errors.append(FieldError(self.name, self.line, field, message))
        self.ok = False

    def text(self, field: str) -> str:
        value = self.record.get(field)
        if value is None:
            value = OPTIONAL_DEFAULTS.get(field, "")
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            self.error(field, f"expected text, got {value!r}")
            return ""
        value = str(value).strip()
        if not value and field in OPTIONAL_DEFAULTS:
            value = OPTIONAL_DEFAULTS[field]
        return value

    def required(self, field: str) -> str | None:
        value = self.text(field)
        if not value:
            self.error(field, "required value is empty")
            return None
        return value

    def number(self, field: str, *, optional: bool = False) -> float | None:
        raw = self.record.get(field)
        if isinstance(raw, bool):
            self.error(field, f"expected a number, got {raw!r}")
            return None
        if isinstance(raw, int | float):
            value = float(raw)
        else:
            text = self.text(field)
            if not text:
                if not optional:
                    self.error(field, "required number is empty")
                return None
            try:
                value = float(text)
            except ValueError:
                self.error(field, f"{text!r} is not a number")
                return None
        if not math.isfinite(value):
            self.error(field, f"{value} is not a finite number")
            return None
        if field in _RANGES:
            lo, hi, unit = _RANGES[field]
            if not lo <= value <= hi:
                self.error(field, f"{value:g} {unit} is outside {lo:g}..{hi:g} {unit}")
                return None
        return value

    def choice(self, field: str, allowed: Iterable[str]) -> str | None:
        value = self.required(field)
        allowed = tuple(allowed)
        if value is not None and value not in allowed:
            self.error(field, f"{value!r} is not one of {', '.join(allowed)}")
            return None
        return value

    def day(self, field: str) -> date | None:
        value = self.required(field)
        if value is None:
            return None
        try:
            if not _DATE_RE.match(value):
                raise ValueError
            return date.fromisoformat(value)
        except ValueError:
            self.error(field, f"{value!r} is not a date YYYY-MM-DD")
            return None


def _station_from_record(
    record: Mapping[str, Any], name: str, line: int, importing: str | None,
    positions: list[tuple[int, str, float, float]], errors: list[FieldError],
) -> Station | None:
    """Validate one record; append its errors, and its position for the (vectorised) geography check."""
    row = _Row(record, name, line, errors)
    station_id = row.required("station_id")
    if station_id is not None and not _ID_RE.match(station_id):
        row.error("station_id", f"{station_id!r}: use 1-40 letters, digits, '.', '_' or '-' (starting alphanumeric)")
    province = row.choice("province", MEMBER_PROVINCES)
    if province is not None and importing is not None and province != importing:
        row.error("province", f"station belongs to {province}, but the file is imported for {importing}; "
                              "a province can only import its own stations")
    licensee = row.required("licensee")
    service = row.choice("service", SERVICES)
    tx = row.number("tx_freq_hz")
    rx = row.number("rx_freq_hz", optional=True)
    for field, f in (("tx_freq_hz", tx), ("rx_freq_hz", rx)):
        if f is not None and not FREQ_MIN_HZ <= f <= FREQ_MAX_HZ:
            row.error(field, f"{f:.0f} Hz is outside 30 MHz..6 GHz")
    designator = row.required("emission_designator")
    bw_hz = None
    if designator is not None:
        try:
            parsed = parse_designator(designator)
            designator, bw_hz = parsed.text, parsed.necessary_bw_hz
        except DesignatorError as exc:
            row.error("emission_designator", str(exc))
    erp = row.number("erp_dbw")
    height = row.number("antenna_height_m")
    azimuth = row.number("azimuth_deg", optional=True)
    if azimuth is not None and not 0.0 <= azimuth < 360.0:
        row.error("azimuth_deg", f"{azimuth:g} is outside 0..360 degrees (0 = north, clockwise)")
    pattern = row.text("pattern")
    try:
        if parse_pattern(pattern) is not None and azimuth is None:
            row.error("azimuth_deg", f"pattern {pattern!r} is directional: an azimuth is required")
    except ValueError as exc:
        row.error("pattern", str(exc))
    ground = row.number("ground_height_m")
    lat = row.number("lat_deg")
    lon = row.number("lon_deg")
    valid_from = row.day("valid_from")
    valid_to = row.day("valid_to")
    if valid_from is not None and valid_to is not None and valid_from > valid_to:
        row.error("valid_to", f"licence ends ({valid_to}) before it starts ({valid_from})")
    status = row.choice("status", STATUSES)
    occupation = row.choice("occupation", OCCUPATIONS)
    station_name = row.text("station_name")
    if province is not None and lat is not None and lon is not None:
        positions.append((line, province, lat, lon))
    if not row.ok:
        return None
    return Station(
        station_id=station_id, province=province, licensee=licensee, service=service,  # type: ignore[arg-type]
        tx_freq_hz=tx, rx_freq_hz=rx, emission_designator=designator, necessary_bw_hz=bw_hz,  # type: ignore[arg-type]
        erp_dbw=erp, antenna_height_m=height, azimuth_deg=azimuth, pattern=pattern,  # type: ignore[arg-type]
        ground_height_m=ground, lat=lat, lon=lon, valid_from=valid_from, valid_to=valid_to,  # type: ignore[arg-type]
        status=status, occupation=occupation, station_name=station_name,  # type: ignore[arg-type]
    )


def _position_errors(positions: list[tuple[int, str, float, float]], name: str) -> list[FieldError]:
    """Errors for positions farther than :data:`PROVINCE_TOLERANCE_KM` from their claimed province."""
    from station_db import geo

    errors: list[FieldError] = []
    for province in sorted({p for _, p, _, _ in positions}):
        rows = [(line, lat, lon) for line, p, lat, lon in positions if p == province]
        lats = np.array([r[1] for r in rows])
        lons = np.array([r[2] for r in rows])
        d_km = np.asarray(geo.distances_to_province_km(lats, lons, province), dtype=float)
        for (line, lat, lon), km in zip(rows, d_km):
            if not km <= PROVINCE_TOLERANCE_KM:
                actual = geo.province_of(lat, lon)
                where = f"in {actual}" if actual else "outside every province"
                errors.append(FieldError(
                    name, line, "lat_deg,lon_deg",
                    f"({lat:.5f}, {lon:.5f}) is {where}, {km:.1f} km from {province} "
                    f"(allowed: {PROVINCE_TOLERANCE_KM:g} km)",
                ))
    return errors


# -- writing ------------------------------------------------------------------------------------


def _fmt_number(value: float | None) -> str:
    """Shortest text that reads back to the same float (integers without '.0')."""
    if value is None:
        return ""
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def station_record(s: Station) -> dict[str, Any]:
    """The exchange-format record of a station (JSON types; CSV writes them as text).

    The necessary bandwidth is left out: it is derived from the designator on reading.
    """
    d = s.to_dict()
    d["lat_deg"], d["lon_deg"] = d.pop("lat"), d.pop("lon")
    return {c: d[c] for c in COLUMNS}


def write_stations(path: str | Path, stations: Iterable[Station], bom: bool = False) -> None:
    """Write stations as CSV, JSON or GeoJSON (by extension), atomically (temporary file, then rename).

    GeoJSON (RFC 7946, lon/lat points, the exchange record as properties) is for map tools and
    is not read back.

    Always UTF-8, whatever the imported file's encoding. ``bom`` prefixes the CSV with a UTF-8
    byte-order mark, which spreadsheet programs need to show Chinese names correctly; JSON never
    carries one (RFC 8259).
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if bom and suffix != ".csv":
        raise ValueError("a byte-order mark is only for CSV files (JSON must not carry one)")
    records = [station_record(s) for s in stations]
    if suffix == ".csv":
        buf = io.StringIO(newline="")
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(COLUMNS)
        for r in records:
            writer.writerow([_fmt_number(r[c]) if isinstance(r[c], float) or r[c] is None else r[c] for c in COLUMNS])
        data = (("\ufeff" if bom else "") + buf.getvalue()).encode("utf-8")
    elif suffix == ".json":
        rows = ",\n".join("    " + json.dumps(r, ensure_ascii=False) for r in records)
        body = f'{{"format": "{JSON_FORMAT}", "version": {JSON_VERSION}, "stations": [\n{rows}\n]}}\n'
        data = body.encode("utf-8")
    elif suffix == ".geojson":
        features = [
            {"type": "Feature", "geometry": {"type": "Point", "coordinates": [r["lon_deg"], r["lat_deg"]]},
             "properties": r}
            for r in records
        ]
        data = json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False).encode("utf-8")
    else:
        raise ValueError(f"{path}: unknown format: the name must end in .csv, .json or .geojson")
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=p.name + ".", suffix=".tmp", dir=p.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
