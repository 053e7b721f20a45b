"""``borderwatch tasking`` and ``borderwatch campaign``: joint enforcement between provinces, over the API.

``tasking request`` asks another province's sensor for a measurement or an IQ/TDOA snapshot (the
owner's policy grants it within its daily quota, or queues it for the owner's operator);
``tasking decide`` is that operator's answer; ``tasking list`` shows the requests. ``campaign
add`` plans a joint campaign (sensors, profiles, from/to, lead); ``campaign list`` shows the plans,
their state and report.
"""

from __future__ import annotations

import argparse
from typing import Any

from borderwatch.cli_api import add_actor_arguments, add_api_arguments, call, show, show_rows, team_scope
from borderwatch.i18n import _

KINDS = ("measurement", "iq_snapshot", "tdoa_snapshot")


def register(subparsers: Any) -> None:
    tasking = subparsers.add_parser("tasking", help=_("ask another province's sensor for a measurement or snapshot"))
    tsub = tasking.add_subparsers(dest="tasking_command", metavar="SUBCOMMAND", required=True)
    p = tsub.add_parser("request", help=_("ask a sensor of another province"))
    p.add_argument("sensor_id")
    p.add_argument("--kind", choices=KINDS, required=True)
    p.add_argument("--reason", required=True)
    p.add_argument("--center-hz", type=float, default=None, help=_("centre frequency of a snapshot (Hz)"))
    p.add_argument("--duration-s", type=float, default=None, help=_("length of a snapshot (s)"))
    p.add_argument("--profile", default=None, help=_("the profile of a measurement"))
    add_actor_arguments(p)
    p.set_defaults(handler=cmd_request)
    p = tsub.add_parser("decide", help=_("grant or refuse a request waiting for your province"))
    p.add_argument("id")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--grant", action="store_true")
    g.add_argument("--refuse", action="store_true")
    p.add_argument("--reason", default="")
    add_actor_arguments(p)
    p.set_defaults(handler=cmd_decide)
    p = tsub.add_parser("list", help=_("the requests (yours, or all for an operator)"))
    add_actor_arguments(p, by_required=False)
    p.set_defaults(handler=cmd_list_requests)

    campaign = subparsers.add_parser("campaign", help=_("plan and list joint campaigns"))
    csub = campaign.add_subparsers(dest="campaign_command", metavar="SUBCOMMAND", required=True)
    p = csub.add_parser("add", help=_("plan a campaign: sensors switch to its profiles for its duration"))
    p.add_argument("id")
    p.add_argument("--lead", required=True, help=_("the leading province"))
    p.add_argument("--provinces", required=True, help=_("provinces taking part, comma-separated"))
    p.add_argument("--sensors", required=True, help=_("sensor ids, comma-separated"))
    p.add_argument("--profiles", required=True, help=_("profile names the server serves, comma-separated"))
    p.add_argument("--start", required=True, help=_("UTC start, ISO-8601 (2026-12-05T08:00:00Z)"))
    p.add_argument("--end", required=True, help=_("UTC end, ISO-8601"))
    p.add_argument("--title", default="")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_campaign_add)
    p = csub.add_parser("list", help=_("campaigns with their state and report"))
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_campaign_list)

    for parent in (tsub, csub):
        for q in parent.choices.values():
            add_api_arguments(q)


def _call(args: argparse.Namespace, op: str, a: dict[str, Any]) -> Any:
    return call(args, "joint-cli", op, a)


def _who(args: argparse.Namespace) -> dict[str, Any]:
    """Who acts (when given) and for which provinces."""
    return ({"by": args.by} if args.by else {}) | team_scope(args)


def _request_line(r: dict[str, Any]) -> str:
    return (f"{r['id']}  {r['state']:<8} {r['from_province']} -> {r['owner']} {r['sensor_id']} {r['kind']}  "
            f"{r.get('decision_reason') or ''}{'  result: ' + r['result'] if r.get('result') else ''}")


def cmd_request(args: argparse.Namespace) -> int:
    params = {k: v for k, v in (("center_hz", args.center_hz), ("duration_s", args.duration_s),
                                ("profile", args.profile)) if v is not None}
    if args.kind != "measurement" and "center_hz" not in params:
        raise ValueError(_("a snapshot needs --center-hz"))
    r = _call(args, "tasking_request", {"sensor_id": args.sensor_id, "kind": args.kind, "reason": args.reason,
                                        "params": params} | _who(args))
    return show(args, r, lambda x: print(_request_line(x)))


def cmd_decide(args: argparse.Namespace) -> int:
    r = _call(args, "tasking_decide", {"id": args.id, "grant": bool(args.grant), "reason": args.reason}
              | _who(args))
    return show(args, r, lambda x: print(_request_line(x)))


def cmd_list_requests(args: argparse.Namespace) -> int:
    rows = _call(args, "tasking_requests", _who(args))
    return show_rows(args, rows, _request_line, _("no requests"))


def _campaign_line(c: dict[str, Any]) -> str:
    return (f"{c['id']}  {c['state']:<8} lead {c['lead']}  {c['start']} .. {c['end']}  sensors "
            f"{','.join(c['sensors'])}  profiles {','.join(c['profiles'])}"
            f"{'  report: ' + c['report'] if c.get('report') else ''}")


def _split(text: str) -> list[str]:
    return [x.strip() for x in text.split(",") if x.strip()]


def cmd_campaign_add(args: argparse.Namespace) -> int:
    c = _call(args, "campaign_add", {
        "id": args.id, "lead": args.lead.upper(), "provinces": [p.upper() for p in _split(args.provinces)],
        "sensors": _split(args.sensors), "profiles": _split(args.profiles), "start": args.start,
        "end": args.end, "title": args.title})
    return show(args, c, lambda x: print(_campaign_line(x)))


def cmd_campaign_list(args: argparse.Namespace) -> int:
    rows = _call(args, "campaigns", {})
    return show_rows(args, rows, _campaign_line, _("no campaigns"))
