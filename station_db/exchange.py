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
from station_db.models import (
    ALLOCATIONS,
    COORDINATION_STATUSES,
    MEMBER_PROVINCES,
    OCCUPATIONS,
    SERVICES,
    STATUSES,
    Coordination,
    Station,
)

COLUMNS: tuple[str, ...] = (
    "station_id", "province", "licensee", "service", "tx_freq_hz", "rx_freq_hz", "emission_designator",
    "erp_dbw", "antenna_height_m", "azimuth_deg", "pattern", "ground_height_m", "lat_deg", "lon_deg",
    "valid_from", "valid_to", "status", "occupation", "station_name", "allocation", "coordination",
)
"""Exchange columns in file order (CSV header; JSON keys)."""

COLUMNS_V1: tuple[str, ...] = COLUMNS[:-2]
"""Columns of format version 1 (before allocation status and coordination): such files still import."""

OPTIONAL_DEFAULTS: dict[str, str] = {
    "rx_freq_hz": "", "azimuth_deg": "", "pattern": "omni", "ground_height_m": "0", "status": "active",
    "occupation": "continuous", "station_name": "", "allocation": "primary", "coordination": "",
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
JSON_VERSION = 2
"""Version written; 2 added ``allocation`` and ``coordination`` (version 1 files are still read)."""
JSON_VERSIONS_READ: tuple[int, ...] = (1, 2)

AGREED_FIELD_RANGE_DBUV_M = (-40.0, 120.0)
"""Plausible agreed field strengths at a border (the rules file's trigger values use the same range)."""
_REF_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,59}$")
_RANGES: dict[str, tuple[float, float, str]] = {
    "erp_dbw": (-40.0, 70.0, "dBW"),
    "antenna_height_m": (0.0, 1000.0, "m"),
    "ground_height_m": (-100.0, 5000.0, "m"),
    "lat_deg": (-90.0, 90.0, "degrees"),
    "lon_deg": (-180.0, 180.0, "degrees"),
}
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$")
#: Characters no field may hold: C0/C1 controls (NUL, ESC, DEL ...; tab and line breaks stay, a quoted
#: CSV cell may carry them) and the Unicode bidirectional overrides, which make a name display
#: differently from what it is.
_CONTROL_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def normalise_station_id(station_id: str) -> str:
    """The canonical form of a station id: upper case.

    Ids are compared without regard to case: ``js-air-0001`` typed into a spreadsheet is the
    licence ``JS-AIR-0001``, not a second station beside it. We normalise rather than refuse because
    the regulators' licence registers write ids in upper case and a lower-case id is a typing
    variant, not a conflict; two rows of one file whose ids differ only in case are still refused
    as duplicates (naming both lines).
    """
    return station_id.upper()
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
    :data:`ENCODING_NAMES`), so an import can tell the user how it understood the bytes.

    ``coordination_given``: the file carries the coordination column (CSV header, or a key of any
    JSON station); when it does not (a version-1 file, a licensing system's export), an import
    keeps the coordination already recorded instead of clearing it.
    """

    stations: list[Station]
    encoding: str
    coordination_given: bool = True

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
    fmt = "json" if suffix == ".json" else "csv"
    try:
        stations, given = _parse(text, name, fmt, province=province, check_geography=check_geography)
    except StationFileError as exc:
        raise StationFileError(exc.errors, encoding=codec) from None
    return StationFile(stations, codec, given)


def parse_stations(
    text: str, name: str, fmt: str, *, province: str | None = None, check_geography: bool = True
) -> list[Station]:
    """Validate exchange-format ``text`` (``fmt`` "csv" or "json"); see :func:`read_stations`."""
    return _parse(text, name, fmt, province=province, check_geography=check_geography)[0]


def _parse(
    text: str, name: str, fmt: str, *, province: str | None, check_geography: bool
) -> tuple[list[Station], bool]:
    """(stations, whether the file carries the coordination column)."""
    errors: list[FieldError] = []
    records = _csv_records(text, name, errors) if fmt == "csv" else _json_records(text, name, errors)
    coordination_given = any("coordination" in record for _, record in records)
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
        position_errors = _position_errors(positions, name) + _neighbour_errors(stations, first_line, name)
        bad_lines = {e.line for e in position_errors}
        errors += position_errors
        stations = [s for s in stations if first_line[s.key] not in bad_lines]
    if not records and not errors:
        errors.append(FieldError(name, 1, "(file)", "no stations in the file"))
    if errors:
        raise StationFileError(sorted(errors, key=lambda e: e.line))
    return stations, coordination_given


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
    columns = COLUMNS
    if isinstance(doc, dict):
        fmt, version = doc.get("format"), doc.get("version")
        if fmt != JSON_FORMAT or isinstance(version, bool) or version not in JSON_VERSIONS_READ:
            shown = " or ".join(str(v) for v in JSON_VERSIONS_READ)
            expected = f"expected format {JSON_FORMAT!r} version {shown}"
            errors.append(FieldError(name, 1, "format", f"{expected}, got {fmt!r} {version!r}"))
            return []
        if version == 1:
            columns = COLUMNS_V1
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
        bad = [k for k in item if k not in columns]
        for key in bad:
            hint = " (a version 2 field: write version 2)" if key in COLUMNS else ""
            errors.append(FieldError(name, line, key, f"unknown field{hint} (expected: {', '.join(columns)})"))
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
        bad = _CONTROL_RE.search(str(value))
        if bad is not None:
            self.error(field, f"contains the control character U+{ord(bad.group()):04X} at position "
                              f"{bad.start() + 1}: remove it (NUL, other control characters and direction overrides "
                              "are not allowed in a field)")
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
    elif station_id is not None:
        station_id = normalise_station_id(station_id)
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
    allocation = row.choice("allocation", ALLOCATIONS)
    coordination = _coordination_field(row, province)
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
        allocation=allocation, coordination=coordination,  # type: ignore[arg-type]
    )


def parse_coordination(text: str, province: str | None) -> tuple[Coordination, ...]:
    """Parse the CSV form of the coordination column; raises ValueError naming the bad entry.

    Entries are separated by ``;``, each ``NEIGHBOUR:STATUS`` with, for ``agreed``,
    ``:FIELD_DBUV_M:REFERENCE:VALID_FROM:VALID_TO`` and, for the other statuses, an optional
    ``:REFERENCE``; e.g. ``JS:agreed:52:SH-JS-2024-017:2024-03-01:2034-02-28;ZJ:not_required``.
    """
    items: list[Coordination] = []
    for entry in (e.strip() for e in text.split(";")):
        if entry:
            parts = [p.strip() for p in entry.split(":")]
            try:
                items.append(_coordination_item(parts, province))
            except ValueError as exc:
                raise ValueError(f"entry {entry!r}: {exc}") from None
    return _checked_entries(items)


def _coordination_item(parts: list[str], province: str | None) -> Coordination:
    """One entry given as its parts (CSV) or as the values of a JSON object, in the same order."""
    neighbour, status = parts[0], parts[1] if len(parts) > 1 else ""
    if neighbour not in MEMBER_PROVINCES:
        raise ValueError(f"neighbour {neighbour!r} is not one of {', '.join(MEMBER_PROVINCES)}")
    if neighbour == province:
        raise ValueError("a station is not coordinated with its own province")
    if status not in COORDINATION_STATUSES:
        raise ValueError(f"status {status!r} is not one of {', '.join(COORDINATION_STATUSES)}")
    if status != "agreed":
        if len(parts) > 3 or any(parts[3:]):
            raise ValueError(f"{status} takes at most a reference (NEIGHBOUR:{status}[:REFERENCE])")
        reference = parts[2] if len(parts) > 2 else ""
        if reference and not _REF_RE.match(reference):
            raise ValueError(f"reference {reference!r}: use 1-60 letters, digits, '.', '_', '/' or '-'")
        return Coordination(neighbour, status, reference=reference)
    if len(parts) != 6:
        raise ValueError("agreed needs NEIGHBOUR:agreed:FIELD_DBUV_M:REFERENCE:VALID_FROM:VALID_TO")
    try:
        field = float(parts[2])
    except ValueError:
        raise ValueError(f"agreed field {parts[2]!r} is not a number (dBuV/m)") from None
    lo, hi = AGREED_FIELD_RANGE_DBUV_M
    if not math.isfinite(field) or not lo <= field <= hi:
        raise ValueError(f"agreed field {parts[2]} dBuV/m is outside {lo:g}..{hi:g}")
    if not _REF_RE.match(parts[3]):
        raise ValueError(f"reference {parts[3]!r}: an agreement needs one of 1-60 letters, digits, '.', '_', "
                         "'/' or '-'")
    days = []
    for text in parts[4:6]:
        try:
            if not _DATE_RE.match(text):
                raise ValueError
            days.append(date.fromisoformat(text))
        except ValueError:
            raise ValueError(f"validity {text!r} is not a date YYYY-MM-DD") from None
    if days[0] > days[1]:
        raise ValueError(f"agreement ends ({days[1]}) before it starts ({days[0]})")
    return Coordination(neighbour, "agreed", field, parts[3], days[0], days[1])


def _checked_entries(items: list[Coordination]) -> tuple[Coordination, ...]:
    seen: set[str] = set()
    for c in items:
        if c.neighbour in seen:
            raise ValueError(f"neighbour {c.neighbour} appears twice")
        seen.add(c.neighbour)
    return tuple(sorted(items, key=lambda c: c.neighbour))


_JSON_ENTRY_KEYS = ("neighbour", "status", "agreed_field_dbuv_m", "reference", "valid_from", "valid_to")


def _coordination_field(row: _Row, province: str | None) -> tuple[Coordination, ...] | None:
    """The coordination column of a record: CSV text, or (JSON) a list of objects; None on error."""
    raw = row.record.get("coordination")
    try:
        if isinstance(raw, list):
            items = []
            for i, obj in enumerate(raw):
                if not isinstance(obj, dict) or set(obj) - set(_JSON_ENTRY_KEYS):
                    raise ValueError(f"entry {i}: expected an object with keys {', '.join(_JSON_ENTRY_KEYS)}")
                parts = ["" if obj.get(k) is None else str(obj[k]) for k in _JSON_ENTRY_KEYS]
                if obj.get("status") != "agreed":
                    extra = [k for k in ("agreed_field_dbuv_m", "valid_from", "valid_to") if obj.get(k) is not None]
                    if extra:
                        raise ValueError(f"entry {i}: {', '.join(extra)} only go with status agreed")
                    parts = parts[:2] + parts[3:4]
                try:
                    items.append(_coordination_item(parts, province))
                except ValueError as exc:
                    raise ValueError(f"entry {i}: {exc}") from None
            return _checked_entries(items)
        return parse_coordination(row.text("coordination"), province)
    except ValueError as exc:
        row.error("coordination", str(exc))
        return None


def format_coordination(entries: Iterable[Coordination]) -> str:
    """The CSV form of a station's coordination (what :func:`parse_coordination` reads)."""
    out = []
    for c in entries:
        if c.status == "agreed":
            out.append(f"{c.neighbour}:agreed:{_fmt_number(c.agreed_field_dbuv_m)}:{c.reference}:"
                       f"{c.valid_from}:{c.valid_to}")
        else:
            out.append(f"{c.neighbour}:{c.status}" + (f":{c.reference}" if c.reference else ""))
    return ";".join(out)


def _neighbour_errors(stations: list[Station], first_line: dict[tuple[str, str], int], name: str) -> list[FieldError]:
    """Coordination entries naming a province that shares no border with the station's."""
    from station_db import geo

    errors = []
    for s in stations:
        if not s.coordination:
            continue
        try:
            near = set(geo.neighbours(s.province))
        except Exception:  # boundaries without this province: nothing to check against
            continue
        for c in s.coordination:
            if c.neighbour not in near:
                errors.append(FieldError(name, first_line[s.key], "coordination",
                                         f"{c.neighbour} shares no border with {s.province}"))
    return errors


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


def _csv_cell(record: Mapping[str, Any], column: str, station: Station) -> Any:
    value = record[column]
    if column == "coordination":
        return format_coordination(station.coordination)
    return _fmt_number(value) if isinstance(value, float) or value is None else value


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
    stations = list(stations)
    records = [station_record(s) for s in stations]
    if suffix == ".csv":
        buf = io.StringIO(newline="")
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(COLUMNS)
        for r, s in zip(records, stations):
            writer.writerow([_csv_cell(r, c, s) for c in COLUMNS])
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
