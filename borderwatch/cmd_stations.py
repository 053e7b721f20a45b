"""``borderwatch stations``: import, export, query and border-check the shared station data.

Thin shell over :mod:`station_db`: argument parsing, printing, exit codes. The border check
plugs the P.1546 model from :mod:`coordination.propagation` into :mod:`station_db.border_check`.
Exit codes: 0 success (check: no coordination required), 1 error, 3 check: coordination required.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

from borderwatch.i18n import _
from station_db.border_check import BorderCheck, check_station
from station_db.exchange import (
    ENCODING_NAMES,
    StationFileError,
    file_sha256,
    load_station_file,
    read_stations,
    write_stations,
)
from station_db.models import MEMBER_PROVINCES, SERVICES, Station
from station_db.repository import StationRepository
from station_db.rules import load_rules

EXIT_COORDINATION_REQUIRED = 3
_FREQ_RE = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([kKmMgG]?)(?:[hH][zZ])?\s*$")
_SCALE = {"": 1.0, "k": 1e3, "m": 1e6, "g": 1e9}


def default_db_path() -> Path:
    """``$XDG_DATA_HOME/borderwatch/stations.sqlite`` (``~/.local/share/...`` when unset)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "borderwatch" / "stations.sqlite"


def parse_freq_hz(text: str) -> float:
    """A frequency in Hz from ``"410212500"``, ``"410.2125M"``, ``"12.5k"`` or ``"97.5 MHz"``."""
    m = _FREQ_RE.match(text)
    if m is None:
        raise argparse.ArgumentTypeError(
            _("{text!r} is not a frequency (Hz, or with k/M/G: 410.2125M)").format(text=text))
    return float(m[1]) * _SCALE[m[2].lower()]


def parse_lat_lon(text: str) -> tuple[float, float]:
    """``"31.70,118.60"`` -> (31.7, 118.6)."""
    try:
        lat_s, lon_s = text.split(",")
        lat, lon = float(lat_s), float(lon_s)
    except ValueError:
        raise argparse.ArgumentTypeError(
            _("{text!r}: give LAT,LON in degrees, e.g. 31.70,118.60").format(text=text)) from None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise argparse.ArgumentTypeError(_("{text!r}: latitude or longitude out of range").format(text=text))
    return lat, lon


def _db_target(text: str) -> Path | str:
    """A SQLite path, or the shared store's ``postgresql://`` URL kept as given (a Path would fold ``//``)."""
    return text if text.startswith(("postgresql://", "postgres://")) else Path(text)


def register(subparsers: Any) -> None:
    """Add ``stations`` and its subcommands to the top-level parser."""
    top = subparsers.add_parser("stations", help=_("shared station database: import, export, query, border check"))
    sub = top.add_subparsers(dest="stations_command", metavar="SUBCOMMAND", required=True)

    def with_db(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--db", type=_db_target, default=None,
                       help=_("station database (default: {path})").format(path=default_db_path()))
        return p

    p = with_db(sub.add_parser("import", help=_("validate and import a province's CSV/JSON station file")))
    p.add_argument("file", type=Path)
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--province", choices=MEMBER_PROVINCES, help=_("the province whose stations the file holds"))
    who.add_argument("--all-provinces", action="store_true",
                     help=_("platform administrator: load a file holding several provinces' stations"))
    p.add_argument("--replace", action="store_true",
                   help=_("the file is the province's complete list: delete its stations missing from the file"))
    p.add_argument("--no-geo-check", action="store_true", help=_("skip the position-in-province check"))
    p.set_defaults(handler=cmd_import)

    p = with_db(sub.add_parser("export", help=_("write stations to CSV, JSON or GeoJSON (by extension)")))
    p.add_argument("-o", "--output", type=Path, required=True)
    p.add_argument("--province", choices=MEMBER_PROVINCES)
    p.add_argument("--border-km", type=float, default=None, help=_("only stations within this distance of a border"))
    p.add_argument("--bom", action="store_true", help=_("UTF-8 byte-order mark (CSV for spreadsheet programs)"))
    p.set_defaults(handler=cmd_export)

    p = with_db(sub.add_parser("query", help=_("find stations by frequency, place, province, service")))
    p.add_argument("--freq", type=parse_freq_hz, default=None, help=_("Hz, or with unit: 410.2125M"))
    p.add_argument("--bandwidth", type=parse_freq_hz, default=0.0, help=_("band around --freq (Hz or 25k)"))
    p.add_argument("--near", type=parse_lat_lon, default=None, metavar="LAT,LON")
    p.add_argument("--radius-km", type=float, default=None)
    p.add_argument("--province", choices=MEMBER_PROVINCES)
    p.add_argument("--service", choices=SERVICES)
    p.add_argument("--json", action="store_true", help=_("JSON output"))
    p.set_defaults(handler=cmd_query)

    p = with_db(sub.add_parser("check", help=_("border assignment check (P.1546 field strength at the borders)")))
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--station", help=_("id of a stored station"))
    src.add_argument("--csv", type=Path, help=_("exchange-format CSV/JSON with the proposed station(s)"))
    p.add_argument("--province", choices=MEMBER_PROVINCES, help=_("disambiguate --station"))
    p.add_argument("--rules", type=Path, default=None, help=_("rules TOML (default: the shipped rules)"))
    p.add_argument("--step-km", type=float, default=1.0, help=_("border sampling step"))
    p.add_argument("--json", action="store_true", help=_("JSON output"))
    p.set_defaults(handler=cmd_check)


def _open(args: argparse.Namespace) -> StationRepository:
    return StationRepository(args.db or default_db_path())


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")


def cmd_import(args: argparse.Namespace) -> int:
    """Validate the whole file first; print every error; import atomically only when clean."""
    path: Path = args.file
    province = None if args.all_provinces else args.province
    try:
        loaded = load_station_file(path, province=province, check_geography=not args.no_geo_check)
    except StationFileError as exc:
        for error in exc.errors:
            sys.stderr.write(f"{error}\n")
        read_as = _(" (read as {encoding})").format(encoding=ENCODING_NAMES[exc.encoding]) if exc.encoding else ""
        sys.stderr.write(_("{path}{read_as}: {n} error(s); nothing imported").format(
            path=path, read_as=read_as, n=len(exc.errors)) + "\n")
        if province is not None and path.is_file():
            with _open(args) as repo:
                repo.record_rejected_import(province, str(path), file_sha256(path), len({e.line for e in exc.errors}),
                                            str(exc), imported_by=_user(), encoding=exc.encoding or "")
        return 1
    digest = file_sha256(path)
    stations = loaded.stations
    with _open(args) as repo:
        if province is None:
            reports = repo.import_all_provinces(stations, str(path), digest, replace=args.replace,
                                                imported_by=_user(), encoding=loaded.encoding,
                                                coordination_given=loaded.coordination_given)
        else:
            reports = [repo.import_stations(stations, province, str(path), digest, replace=args.replace,
                                            imported_by=_user(), encoding=loaded.encoding,
                                            coordination_given=loaded.coordination_given)]
    _out(_("{path}: read as {encoding}").format(path=path, encoding=loaded.encoding_name))
    for r in reports:
        _out(_("{province}: {accepted} station(s) from {path}: {inserted} inserted, {updated} updated, "
               "{unchanged} unchanged, {removed} removed (import #{import_id})").format(
            province=r.province, accepted=r.accepted, path=path, inserted=r.inserted, updated=r.updated,
            unchanged=r.unchanged, removed=r.removed, import_id=r.import_id))
    return 0


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""


def cmd_export(args: argparse.Namespace) -> int:
    with _open(args) as repo:
        if args.border_km is None:
            stations = repo.all_stations(args.province)
        else:
            stations = repo.stations_near_border(args.border_km, args.province)
    write_stations(args.output, stations, bom=args.bom)
    where = "" if args.border_km is None else _(" within {km:g} km of a border").format(km=args.border_km)
    _out(_("exported {n} station(s){where} to {path}").format(n=len(stations), where=where, path=args.output))
    return 0


def cmd_query(args: argparse.Namespace) -> int:
    if (args.near is None) != (args.radius_km is None):
        raise ValueError(_("--near and --radius-km go together"))
    with _open(args) as repo:
        found = repo.query(freq_hz=args.freq, bandwidth_hz=args.bandwidth, near=args.near,
                           radius_km=args.radius_km, province=args.province, service=args.service)
    distances = None
    if args.near is not None:
        from station_db.geo import haversine_km

        distances = [float(haversine_km(args.near[0], args.near[1], s.lat, s.lon)) for s in found]
    if args.json:
        rows = [s.to_dict() for s in found]
        if distances is not None:
            for row, d in zip(rows, distances):
                row["distance_km"] = round(d, 3)
        _out(json.dumps(rows, ensure_ascii=False, indent=1))
        return 0
    _out(_station_table(found, distances))
    _out(_("{n} station(s)").format(n=len(found)))
    return 0


def _station_table(stations: list[Station], distances: list[float] | None) -> str:
    header = f"{'station':<13} {'prov':<4} {'service':<13} {'tx_MHz':>11} {'bw_kHz':>7} {'erp_dBW':>7} " \
             f"{'lat':>9} {'lon':>10}" + (f" {'dist_km':>7}" if distances is not None else "") + "  licensee"
    lines = [header]
    for i, s in enumerate(stations):
        dist = f" {distances[i]:7.2f}" if distances is not None else ""
        lines.append(f"{s.station_id:<13} {s.province:<4} {s.service:<13} {s.tx_freq_hz / 1e6:11.5f} "
                     f"{s.necessary_bw_hz / 1e3:7.2f} {s.erp_dbw:7.1f} {s.lat:9.5f} {s.lon:10.5f}{dist}  {s.licensee}")
    return "\n".join(lines)


def cmd_check(args: argparse.Namespace) -> int:
    from coordination.propagation.p1546 import field_strength_many  # heavy tables: load only here

    if args.step_km <= 0:
        raise ValueError(_("--step-km must be positive"))
    rules = load_rules(args.rules)
    if args.csv is not None:
        try:
            stations = read_stations(args.csv)
        except StationFileError as exc:
            for error in exc.errors:
                sys.stderr.write(f"{error}\n")
            return 1
    else:
        with _open(args) as repo:
            stations = [s for s in repo.find(args.station) if args.province in (None, s.province)]
        if not stations:
            raise ValueError(_("no station {id!r} in the database; import it or use --csv").format(id=args.station))
        if len(stations) > 1:
            provinces = ", ".join(s.province for s in stations)
            raise ValueError(_("station id {id!r} exists in {provinces}: add --province").format(id=args.station,
                                                                                        provinces=provinces))
    checks = [check_station(s, rules, field_strength_many, step_km=args.step_km) for s in stations]
    if args.json:
        _out(json.dumps([c.to_dict() for c in checks], ensure_ascii=False, indent=1))
    else:
        for c in checks:
            _out(_format_check(c))
    return EXIT_COORDINATION_REQUIRED if any(c.coordination_required for c in checks) else 0


def _format_check(c: BorderCheck) -> str:
    s = c.station
    head = (f"{s.station_id} ({s.province}) {s.tx_freq_hz / 1e6:.4f} MHz {s.emission_designator}, "
            f"ERP {s.erp_dbw:g} dBW, antenna {s.antenna_height_m:g} m, at {s.lat:.5f}, {s.lon:.5f}")
    if c.band is None:
        return f"{head}\n  no agreed band covers this frequency (rules {c.rules_version}): nothing to check"
    b = c.band
    lines = [head,
             f"  band {b.name!r} (rules {c.rules_version}): limit {b.border_limit_dbuv_m:g} dBuV/m at 10 m, "
             f"P.1546 {b.time_pct:g} % time, 50 % locations",
             f"  {'border':<8}{'points':>7}{'nearest_km':>12}{'worst_dBuV/m':>14}{'at_km':>8}  {'worst point':<22}"
             f"{'margin_dB':>10}"]
    for r in c.results:
        pair = f"{s.province}-{r.neighbour}"
        point = f"{r.worst_point[0]:.5f}, {r.worst_point[1]:.5f}"
        flag = "  EXCEEDS" if r.exceeds else ""
        lines.append(f"  {pair:<8}{r.n_points:>7}{r.nearest_km:>12.1f}{r.worst_field_dbuv_m:>14.1f}"
                     f"{r.worst_distance_km:>8.1f}  {point:<22}{r.margin_db:>10.1f}{flag}")
    w = c.worst
    if w is None:
        lines.append("  no neighbouring province: nothing to check")
    elif c.coordination_required:
        lines.append(f"  COORDINATION REQUIRED: {w.worst_field_dbuv_m:.1f} dBuV/m on the {s.province}-{w.neighbour} "
                     f"border, {-w.margin_db:.1f} dB over the limit")
    else:
        lines.append(f"  no coordination required: worst {w.worst_field_dbuv_m:.1f} dBuV/m "
                     f"({s.province}-{w.neighbour}), {w.margin_db:.1f} dB below the limit")
    return "\n".join(lines)
