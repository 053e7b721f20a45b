"""``borderwatch alerts``: the enforcement team's tools (tail, list, ack, resolve, export-geojson).

``tail`` subscribes to the server's PUB socket on ``alert.<PROV>`` and prints each alert event as
it arrives: one readable line, or with ``--json`` one JSON object per line (the documented alert
JSON, for other programs). The other subcommands talk to the API socket.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import zmq

from borderwatch.i18n import N_, _
from coordination.api import ApiClient, ApiError
from coordination.protocol import AlertMsg, ProtocolError, decode_as

DEFAULT_PUB = "tcp://127.0.0.1:5562"
DEFAULT_API = "tcp://127.0.0.1:5561"
KM_PER_DEG_LAT = 111.32


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

    for p in sub.choices.values():  # a secured server admits only known CurveZMQ client keys
        p.add_argument("--keys", metavar="DIR", type=Path, default=None,
                       help=_("CurveZMQ client keys (a keys directory or an exported bundle) for a secured server"))
        p.add_argument("--key-name", metavar="NAME", default=None, help=_("which client key in --keys to use"))


def _client_keys(args: argparse.Namespace) -> Any:
    """The client's CURVE keys from ``--keys``/``--key-name`` (None: plain TCP)."""
    if getattr(args, "keys", None) is None:
        return None
    from coordination.keys import load_client_keys

    return load_client_keys(args.keys, args.key_name)


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


def ellipse_ring(lat: float, lon: float, semi_major_km: float, semi_minor_km: float, orientation_deg: float,
                 n: int = 64) -> list[list[float]]:
    """A closed [lon, lat] ring of the uncertainty ellipse; orientation = major axis, degrees from north."""
    th = math.radians(orientation_deg)
    coslat = max(math.cos(math.radians(lat)), 1e-6)
    ring = []
    for k in range(n + 1):
        a = 2 * math.pi * k / n
        u, v = semi_major_km * math.cos(a), semi_minor_km * math.sin(a)
        north = u * math.cos(th) - v * math.sin(th)
        east = u * math.sin(th) + v * math.cos(th)
        ring.append([round(lon + east / (KM_PER_DEG_LAT * coslat), 6), round(lat + north / KM_PER_DEG_LAT, 6)])
    ring[-1] = ring[0]
    return ring


def alerts_to_geojson(docs: Iterable[Mapping[str, Any]]) -> tuple[dict[str, Any], int]:
    """A FeatureCollection (estimated position Point + uncertainty Polygon per alert); returns it and
    how many alerts were left out because they have no position."""
    features: list[dict[str, Any]] = []
    skipped = 0
    for d in docs:
        pos = d.get("position")
        if not pos:
            skipped += 1
            continue
        props = {k: d.get(k) for k in ("id", "state", "verdicts", "severity", "band", "service", "f_center_hz",
                                       "bandwidth_hz", "provinces_source", "provinces_affected", "first_seen",
                                       "last_seen")}
        props |= {"error_km": pos.get("error_km"), "province_probabilities": pos.get("provinces"),
                  "sensors": [s.get("sensor_id") for s in d.get("sensors") or []]}
        features.append({"type": "Feature", "id": f"{d['id']}#position",
                         "geometry": {"type": "Point", "coordinates": [pos["lon"], pos["lat"]]},
                         "properties": props | {"feature": "position"}})
        if pos.get("semi_major_km"):
            ring = ellipse_ring(pos["lat"], pos["lon"], pos["semi_major_km"], pos.get("semi_minor_km") or
                                pos["semi_major_km"], pos.get("orientation_deg") or 0.0)
            features.append({"type": "Feature", "id": f"{d['id']}#region",
                             "geometry": {"type": "Polygon", "coordinates": [ring]},
                             "properties": props | {"feature": "uncertainty_region"}})
    return {"type": "FeatureCollection", "features": features}, skipped


# ---------------------------------------------------------------- commands


def tail(addr: str, provinces: Sequence[str] | None, *, count: int | None = None, timeout_s: float | None = None,
         out: Any = None, as_json: bool = False, keys: Any = None) -> int:
    """Subscribe and print alert events; returns how many were printed. ``keys``: CURVE ClientKeys."""
    out = out or sys.stdout
    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    if keys is not None:
        keys.apply(sub)
    for topic in ([f"alert.{p}" for p in provinces] if provinces else ["alert."]):
        sub.setsockopt(zmq.SUBSCRIBE, topic.encode())
    sub.connect(addr)
    seen = 0
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    try:
        while count is None or seen < count:
            wait_ms = 500 if deadline is None else int(max(0.0, deadline - time.monotonic()) * 1000)
            if deadline is not None and wait_ms <= 0:
                break
            if not sub.poll(min(wait_ms, 500)):
                continue
            frames = sub.recv_multipart()
            try:
                msg = decode_as(frames[1:], AlertMsg)
            except ProtocolError as exc:
                sys.stderr.write("borderwatch alerts tail: " + _("ignored a bad message: {error}").format(error=exc)
                                 + "\n")
                continue
            doc = dict(msg.alert)
            out.write((json.dumps(doc, ensure_ascii=False) if as_json else format_alert_line(doc)) + "\n")
            out.flush()
            seen += 1
    finally:
        sub.close(0)
        ctx.term()
    return seen


def cmd_tail(args: argparse.Namespace) -> int:
    tail(args.server, args.province, count=args.count, timeout_s=args.timeout, as_json=args.json,
         keys=_client_keys(args))
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
    with ApiClient(args.server, keys=_client_keys(args)) as api:
        docs = _fetch_all(api, args.state, args.province)
    if args.json:
        sys.stdout.write(json.dumps(docs, ensure_ascii=False, indent=1) + "\n")
    else:
        for d in docs:
            sys.stdout.write(f"{d.get('state', '?'):<13}" + format_alert_line(d) + "\n")
        sys.stderr.write(_("{n} alert(s)").format(n=len(docs)) + "\n")
    return 0


def cmd_transition(args: argparse.Namespace) -> int:
    with ApiClient(args.server, keys=_client_keys(args)) as api:
        doc = api.result(args.op, {"id": args.id, "by": args.by} | ({"note": args.note} if args.note else {}))
    sys.stdout.write((json.dumps(doc, ensure_ascii=False) if args.json else format_alert_line(doc)) + "\n")
    return 0


def cmd_export_geojson(args: argparse.Namespace) -> int:
    with ApiClient(args.server, keys=_client_keys(args)) as api:
        if args.state is None:
            docs = _fetch_all(api, "open", args.province) + _fetch_all(api, "acknowledged", args.province)
        else:
            docs = _fetch_all(api, args.state, args.province)
    fc, skipped = alerts_to_geojson(docs)
    args.output.write_text(json.dumps(fc, ensure_ascii=False, indent=1), encoding="utf-8")
    sys.stderr.write(_("wrote {n} alert(s) to {path}").format(n=len(docs) - skipped, path=args.output)
                     + (_("; {n} without an estimated position left out").format(n=skipped) if skipped else "")
                     + "\n")
    return 0
