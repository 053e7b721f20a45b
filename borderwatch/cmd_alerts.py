"""``borderwatch alerts``: the enforcement team's tools (tail, list, ack, resolve, export-geojson).

``tail`` subscribes to the server's PUB socket on ``alert.<PROV>`` and prints each alert event as
it arrives: one readable line, or with ``--json`` one JSON object per line (the documented alert
JSON, for other programs). The other subcommands talk to the API socket.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from borderwatch.cli_api import DEFAULT_API, add_key_arguments, client_keys
from borderwatch.i18n import N_, _
from coordination.alert_geojson import alerts_feature_collection, located_count
from coordination.client import ApiClient, ApiError, SocketKeys, Subscription
from coordination.protocol import AlertMsg

DEFAULT_PUB = "tcp://127.0.0.1:5562"


def register(subparsers: Any) -> None:
    """Add ``alerts`` and its subcommands."""
    top = subparsers.add_parser("alerts", help=_("receive, list, acknowledge and resolve alerts; export GeoJSON"))
    sub = top.add_subparsers(dest="alerts_command", metavar="SUBCOMMAND", required=True)

    p = sub.add_parser("tail", help=_("print alert events for a province as they are published"))
    p.add_argument("--server", default=DEFAULT_PUB,
                   help=_("the server's PUB address (default {address})").format(address=DEFAULT_PUB))
    p.add_argument("--province", action="append", default=None,
                   help=_("province code to follow (repeatable; default: every province)"))
    p.add_argument("--json", action="store_true", help=_("one alert JSON object per line"))
    p.add_argument("--count", type=int, default=None, help=_("stop after this many events"))
    p.add_argument("--timeout", type=float, default=None, help=_("stop after this many seconds"))
    p.set_defaults(handler=cmd_tail)

    p = sub.add_parser("list", help=_("list alerts from the API"))
    p.add_argument("--server", default=DEFAULT_API,
                   help=_("the server's API address (default {address})").format(address=DEFAULT_API))
    p.add_argument("--state", choices=("open", "acknowledged", "resolved", "all"), default="all")
    p.add_argument("--province", default=None)
    p.add_argument("--json", action="store_true", help=_("a JSON array of alert objects"))
    p.set_defaults(handler=cmd_list)

    for name, what in (("ack", N_("acknowledge: your team takes the alert on")), ("resolve", N_("close the alert"))):
        p = sub.add_parser(name, help=_(what))
        p.add_argument("id", help=_("alert id"))
        p.add_argument("--by", required=True, help=_("who (team or person)"))
        p.add_argument("--note", default=None)
        p.add_argument("--server", default=DEFAULT_API,
                       help=_("the server's API address (default {address})").format(address=DEFAULT_API))
        p.add_argument("--json", action="store_true")
        p.set_defaults(handler=cmd_transition, op=name)

    p = sub.add_parser("export-geojson", help=_("write active alerts with positions and regions as GeoJSON"))
    p.add_argument("-o", "--output", type=Path, required=True)
    p.add_argument("--server", default=DEFAULT_API,
                   help=_("the server's API address (default {address})").format(address=DEFAULT_API))
    p.add_argument("--province", default=None)
    p.add_argument("--state", choices=("open", "acknowledged", "resolved", "all"), default=None,
                   help=_("default: open and acknowledged"))
    p.set_defaults(handler=cmd_export_geojson)

    for p in sub.choices.values():
        add_key_arguments(p)


# ---------------------------------------------------------------- formatting


def format_alert_line(doc: Mapping[str, Any]) -> str:
    """One readable line per alert event."""
    pos = doc.get("position")
    where = (f"pos {pos['lat']:.4f},{pos['lon']:.4f} ±{pos['error_km']:.1f} km" if pos else "pos unknown")
    src = ",".join(doc.get("provinces_source") or []) or "?"
    aff = ",".join(doc.get("provinces_affected") or []) or "?"
    sensors = ", ".join(f"{s['sensor_id']} {s['measured_dbuv_m']:.1f} dBuV/m" for s in doc.get("sensors") or [])
    return (f"{doc.get('last_seen', '?')} {str(doc.get('event', '?')).upper():<12} {doc.get('severity', '?'):<8} "
            f"[{','.join(doc.get('verdicts') or [])}] {doc.get('band', '?')} "
            f"{float(doc.get('f_center_hz', 0)) / 1e6:.5f} MHz {src}->{aff} {where} ({sensors}) id={doc.get('id')}")


# ---------------------------------------------------------------- commands


def tail(addr: str, provinces: Sequence[str] | None, *, count: int | None = None, timeout_s: float | None = None,
         out: Any = None, as_json: bool = False, keys: SocketKeys | None = None) -> int:
    """Subscribe and print alert events; returns how many were printed. ``keys``: CURVE ClientKeys."""
    out = out or sys.stdout

    def bad(error: str) -> None:
        sys.stderr.write("borderwatch alerts tail: " + _("ignored a bad message: {error}").format(error=error) + "\n")

    topics = [f"alert.{p}" for p in provinces] if provinces else ["alert."]
    seen = 0
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    with Subscription(addr, topics, keys=keys, on_reject=bad) as sub:
        while count is None or seen < count:
            wait_ms = 500 if deadline is None else int(max(0.0, deadline - time.monotonic()) * 1000)
            if deadline is not None and wait_ms <= 0:
                break
            if not sub.wait(min(wait_ms, 500)):
                continue
            for pub in sub.read() if count is None else sub.read(count - seen):
                assert isinstance(pub.msg, AlertMsg)  # the only type the subscription takes
                doc = dict(pub.msg.alert)
                out.write((json.dumps(doc, ensure_ascii=False) if as_json else format_alert_line(doc)) + "\n")
                out.flush()
                seen += 1
    return seen


def cmd_tail(args: argparse.Namespace) -> int:
    tail(args.server, args.province, count=args.count, timeout_s=args.timeout, as_json=args.json,
         keys=client_keys(args))
    return 0


def _fetch_all(api: ApiClient, state: str, province: str | None) -> list[dict[str, Any]]:
    """Every matching alert, paging when the server truncates a reply."""
    out: list[dict[str, Any]] = []
    while True:
        args = {"state": state, "offset": len(out)} | ({"province": province} if province else {})
        reply = api.call("alerts", args)
        if not reply.ok:
            raise ApiError(reply.error or "alerts failed")
        out += reply.result
        if not reply.error or not reply.result:
            return out


def cmd_list(args: argparse.Namespace) -> int:
    with ApiClient(args.server, keys=client_keys(args)) as api:
        docs = _fetch_all(api, args.state, args.province)
    if args.json:
        sys.stdout.write(json.dumps(docs, ensure_ascii=False, indent=1) + "\n")
    else:
        for d in docs:
            sys.stdout.write(f"{d.get('state', '?'):<13}" + format_alert_line(d) + "\n")
        sys.stderr.write(_("{n} alert(s)").format(n=len(docs)) + "\n")
    return 0


def cmd_transition(args: argparse.Namespace) -> int:
    with ApiClient(args.server, keys=client_keys(args)) as api:
        doc = api.result(args.op, {"id": args.id, "by": args.by} | ({"note": args.note} if args.note else {}))
    sys.stdout.write((json.dumps(doc, ensure_ascii=False) if args.json else format_alert_line(doc)) + "\n")
    return 0


def cmd_export_geojson(args: argparse.Namespace) -> int:
    with ApiClient(args.server, keys=client_keys(args)) as api:
        if args.state is None:
            docs = _fetch_all(api, "open", args.province) + _fetch_all(api, "acknowledged", args.province)
        else:
            docs = _fetch_all(api, args.state, args.province)
    fc = alerts_feature_collection(docs)
    args.output.write_text(json.dumps(fc, ensure_ascii=False, indent=1), encoding="utf-8")
    n, located = located_count(fc)
    sys.stderr.write(_("wrote {n} alert(s) to {path}").format(n=n, path=args.output)
                     + (_("; {n} without an estimated position (null geometry)").format(n=n - located)
                        if n > located else "")
                     + "\n")
    return 0
