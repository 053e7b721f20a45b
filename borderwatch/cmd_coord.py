"""``borderwatch coord``: submit, list, show, answer and withdraw coordination requests.

Everything goes through the server's API (:mod:`coordination.coord_ops`), as a centre operator
(``--by``) or for a team (``--as-province JS``). ``submit`` reads the proposed station from an
exchange file (CSV or JSON, validated like an import, every problem as FILE:LINE: FIELD). ``--json``
prints the server's documents (codes, not words); the human output follows ``--lang``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from borderwatch.cli_api import add_actor_arguments, add_api_arguments, call, show, show_rows, team_scope
from borderwatch.i18n import _
from station_db.exchange import StationFileError, load_station_file, station_record


def register(subparsers: Any) -> None:
    top = subparsers.add_parser("coord", help=_("coordination requests: ask the neighbours before assigning near a "
                                                "border, answer their requests"))
    sub = top.add_subparsers(dest="coord_command", metavar="SUBCOMMAND", required=True)

    p = sub.add_parser("submit", help=_("submit a new or modified assignment for coordination"))
    p.add_argument("file", type=Path, help=_("station exchange file (CSV or JSON) holding the proposed station"))
    p.add_argument("--station", default=None, help=_("station id in the file (needed when it holds several)"))
    p.add_argument("--kind", choices=("new", "modified"), default="new")
    p.add_argument("--note", default="")
    add_actor_arguments(p)
    p.set_defaults(handler=cmd_submit)

    p = sub.add_parser("list", help=_("list coordination requests"))
    p.add_argument("--waiting-for", default=None, help=_("only requests waiting for this province's answer"))
    p.add_argument("--province", default=None, help=_("only requests of this (owner) province"))
    p.add_argument("--state", choices=("open", "concluded", "withdrawn", "all"), default="all")
    p.add_argument("--as-province", default=None, help=_("as a team of these provinces (comma-separated)"))
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_list)

    p = sub.add_parser("show", help=_("a request with its border figures, answers and audit log"))
    p.add_argument("id")
    p.add_argument("--as-province", default=None, help=_("as a team of these provinces (comma-separated)"))
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_show)

    p = sub.add_parser("respond", help=_("answer a request for your province: agree or object"))
    p.add_argument("id")
    p.add_argument("decision", choices=("agree", "object"))
    p.add_argument("--province", required=True, help=_("the province answering"))
    p.add_argument("--field", type=float, default=None,
                   help=_("agree with a lower maximum field at the border (dBuV/m)"))
    p.add_argument("--reason", default="", help=_("why (required to object)"))
    add_actor_arguments(p)
    p.set_defaults(handler=cmd_respond)

    p = sub.add_parser("withdraw", help=_("withdraw your province's open request"))
    p.add_argument("id")
    p.add_argument("--reason", default="")
    add_actor_arguments(p)
    p.set_defaults(handler=cmd_withdraw)

    for q in sub.choices.values():
        add_api_arguments(q)



def _call(args: argparse.Namespace, op: str, a: dict[str, Any]) -> Any:
    return call(args, "coord-cli", op, a)


def format_request_line(r: dict[str, Any]) -> str:
    waiting = ",".join(r.get("waiting_for") or []) or "-"
    asked = ",".join(a["province"] for a in r.get("answers", ())) or "-"
    return _("{id}  {state:<9} {province}/{station}  {freq:.4f} MHz  asked {asked}, waiting for {waiting}; "
             "deadline {deadline}").format(id=r["id"], state=r["state"], province=r["province"],
                                           station=r["station_id"], freq=float(r["tx_freq_hz"]) / 1e6, asked=asked,
                                           waiting=waiting, deadline=str(r["deadline"])[:10])


def print_request(r: dict[str, Any]) -> None:
    print(format_request_line(r))
    for b in r.get("borders", ()):
        verdict = _("over the trigger value") if b["exceeds"] else _("below the trigger value")
        print("  " + _("{neighbour} border: worst {field:.1f} dBuV/m at {distance:.1f} km (limit {limit:g}, margin "
                       "{margin:+.1f} dB), {length:.1f} km over the limit: {verdict}").format(
            neighbour=b["neighbour"], field=b["worst_field_dbuv_m"], distance=b["worst_distance_km"],
            limit=b["limit_dbuv_m"], margin=b["margin_db"], length=b["length_over_km"], verdict=verdict))
    for a in r.get("answers", ()):
        field = "" if a.get("agreed_field_dbuv_m") is None else f" {a['agreed_field_dbuv_m']:g} dBuV/m"
        reason = f" ({a['reason']})" if a.get("reason") else ""
        print("  " + _("answer of {province}: {state}{field}{reason}").format(
            province=a["province"], state=a["state"], field=field, reason=reason))
    inputs = r.get("inputs")
    if inputs:
        print("  " + _("computed with {model}, {time:g} % of time, rules {rules}, every {step:g} km").format(
            model=inputs.get("model"), time=inputs.get("time_pct"), rules=inputs.get("rules_version"),
            step=inputs.get("step_km")))
    for e in r.get("audit", ()):
        print(f"  {e['t'][:19]} {e['actor']:<16} {e['province']:<3} {e['action']}")


def _print(args: argparse.Namespace, r: dict[str, Any]) -> int:
    return show(args, r, print_request)


def cmd_submit(args: argparse.Namespace) -> int:
    try:
        loaded = load_station_file(args.file)
    except StationFileError as exc:
        for e in exc.errors:
            sys.stderr.write(f"{e}\n")
        return 1
    found = [s for s in loaded.stations if args.station in (None, s.station_id)]
    if len(found) != 1:
        if found:
            text = _("{file}: give --station: one of {ids}").format(
                file=args.file, ids=", ".join(s.station_id for s in loaded.stations))
        else:
            text = _("{file}: no station {id}").format(file=args.file, id=args.station)
        sys.stderr.write(text + "\n")
        return 1
    a = {"station": station_record(found[0]), "by": args.by, "kind": args.kind, **team_scope(args)}
    if args.note:
        a["note"] = args.note
    return _print(args, _call(args, "coord_submit", a))


def cmd_list(args: argparse.Namespace) -> int:
    a: dict[str, Any] = {"state": args.state, **team_scope(args)}
    if args.waiting_for:
        a["waiting_for"] = args.waiting_for.upper()
    if args.province:
        a["province"] = args.province.upper()
    rows = _call(args, "coord_requests", a)
    return show_rows(args, rows, format_request_line, _("no coordination requests"))


def cmd_show(args: argparse.Namespace) -> int:
    return _print(args, _call(args, "coord_request", {"id": args.id, **team_scope(args)}))


def cmd_respond(args: argparse.Namespace) -> int:
    a: dict[str, Any] = {"id": args.id, "province": args.province.upper(), "decision": args.decision, "by": args.by,
                         **team_scope(args)}
    if args.field is not None:
        a["agreed_field_dbuv_m"] = args.field
    if args.reason:
        a["reason"] = args.reason
    return _print(args, _call(args, "coord_respond", a))


def cmd_withdraw(args: argparse.Namespace) -> int:
    a: dict[str, Any] = {"id": args.id, "by": args.by, **team_scope(args)}
    if args.reason:
        a["reason"] = args.reason
    return _print(args, _call(args, "coord_withdraw", a))
