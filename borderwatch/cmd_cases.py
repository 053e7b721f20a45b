"""``borderwatch cases``: list, show, assign, hand over, annotate, close, export and verify cases.

Everything goes through the server's API (the case ops of :mod:`coordination.case_ops`), as an
operator (``--by``) or for a team (``--as-province JS``). ``export`` fetches the case with its
history, its alert and its attachments, and writes the case file (one HTML page + a ZIP of the
evidence with a SHA-256 manifest); ``verify ID`` asks the server to walk the case's hash chain,
``verify --zip FILE`` checks an exported case file offline (manifest and chain).
"""

from __future__ import annotations

import argparse
import base64
import json
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from borderwatch.cli_api import (
    add_actor_arguments,
    add_api_arguments,
    api_client,
    call,
    show,
    show_rows,
    team_scope,
)
from borderwatch.i18n import _
from coordination.cases import OUTCOMES, CaseEvent, replay
from coordination.client import ApiError


def register(subparsers: Any) -> None:
    top = subparsers.add_parser("cases", help=_("enforcement cases: list, show, assign, hand over, close, export"))
    sub = top.add_subparsers(dest="cases_command", metavar="SUBCOMMAND", required=True)

    p = sub.add_parser("list", help=_("list cases"))
    p.add_argument("--state", choices=("open", "closed", "all"), default="open")
    p.add_argument("--province", default=None, help=_("only cases this province sees"))
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_list)

    p = sub.add_parser("show", help=_("a case with its tasks, notes and history"))
    p.add_argument("id", help=_("case id (or an alert id with --alert)"))
    p.add_argument("--alert", action="store_true", help=_("the id is an alert's: show its case"))
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_show)

    p = sub.add_parser("open", help=_("open a case for an alert"))
    p.add_argument("alert_id")
    add_actor_arguments(p)
    p.set_defaults(handler=cmd_open)

    p = sub.add_parser("assign", help=_("assign the case to a team or person of the holding province"))
    p.add_argument("id")
    p.add_argument("assignee")
    add_actor_arguments(p)
    p.set_defaults(handler=cmd_act, action="assign")

    p = sub.add_parser("handover", help=_("ask another province to take the case over, or answer such a request"))
    p.add_argument("id")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--to", help=_("province asked to take the case"))
    g.add_argument("--accept", action="store_true", help=_("accept the pending hand-over"))
    g.add_argument("--refuse", action="store_true", help=_("refuse the pending hand-over (give --reason)"))
    p.add_argument("--reason", default=None)
    add_actor_arguments(p)
    p.set_defaults(handler=cmd_handover)

    p = sub.add_parser("note", help=_("add a note to a case"))
    p.add_argument("id")
    p.add_argument("text")
    add_actor_arguments(p)
    p.set_defaults(handler=cmd_act, action="note")

    p = sub.add_parser("close", help=_("close a case with its outcome"))
    p.add_argument("id")
    p.add_argument("outcome", choices=OUTCOMES)
    p.add_argument("--summary", default="")
    add_actor_arguments(p)
    p.set_defaults(handler=cmd_act, action="close")

    p = sub.add_parser("export", help=_("write the case file: HTML page + ZIP of the evidence with SHA-256 manifest"))
    p.add_argument("id")
    p.add_argument("-o", "--output", type=Path, required=True, help=_("directory to write into"))
    p.set_defaults(handler=cmd_export)

    p = sub.add_parser("verify", help=_("check a case's hash chain on the server, or an exported case file"))
    p.add_argument("id", nargs="?", help=_("case id (on the server)"))
    p.add_argument("--zip", type=Path, default=None, help=_("an exported case file to check offline"))
    p.set_defaults(handler=cmd_verify)

    for q in sub.choices.values():
        add_api_arguments(q)



CLIENT_ID = "cases-cli"


def _call(args: argparse.Namespace, op: str, a: dict[str, Any]) -> Any:
    return call(args, CLIENT_ID, op, a)


def _actor(args: argparse.Namespace) -> dict[str, Any]:
    return {"by": args.by, **team_scope(args)}


def format_case_line(c: dict[str, Any]) -> str:
    ho = f" handover->{c['handover']['to']}" if c.get("handover") else ""
    out = f" outcome={c['outcome']}" if c.get("outcome") else ""
    return (f"{c['id']}  {c['state']:<6} {c['severity']:<8} held by {c['holder']}{ho}{out}  "
            f"{c.get('band', '')} {float(c.get('f_center_hz', 0)) / 1e6:.5f} MHz  alert={c['alert_id']}  "
            f"updated {c['updated_at']}")


def print_case(c: dict[str, Any]) -> None:
    print(format_case_line(c))
    print("  " + _("who must act: {text}").format(text=c.get("resolution") or "-"))
    if c.get("assignee"):
        print("  " + _("assigned to: {who}").format(who=c["assignee"]))
    for t in c.get("tasks", ()):
        print(f"  task {t['task_id']} [{'done' if t['done'] else 'open'}] {t['kind']} ({t['for_province']}): "
              f"{t['description']}{' -> ' + t['result'] if t['done'] else ''}")
    for e in c.get("events", ()):
        data = json.dumps(e["data"], ensure_ascii=False)
        print(f"  #{e['seq']:<3} {e['t_utc']} {e['actor']:<16} {e['province'] or '-':<3} {e['kind']:<18} "
              f"{data[:100]}")


def cmd_list(args: argparse.Namespace) -> int:
    a: dict[str, Any] = {"state": args.state}
    if args.province:
        a["province"] = args.province
    rows = _call(args, "cases", a)
    return show_rows(args, rows, format_case_line, _("no cases"))


def cmd_show(args: argparse.Namespace) -> int:
    c = _call(args, "case", {"id": args.id, "by_alert": bool(args.alert)})
    return show(args, c, print_case)


def _done(args: argparse.Namespace, c: dict[str, Any]) -> int:
    return show(args, c, lambda doc: print(format_case_line(doc)))


def cmd_open(args: argparse.Namespace) -> int:
    return _done(args, _call(args, "case_open", {"alert_id": args.alert_id} | _actor(args)))


def cmd_act(args: argparse.Namespace) -> int:
    fields: dict[str, Any] = {}
    if args.action == "assign":
        fields = {"assignee": args.assignee}
    elif args.action == "note":
        fields = {"text": args.text}
    elif args.action == "close":
        fields = {"outcome": args.outcome, "summary": args.summary}
    return _done(args, _call(args, "case_act", {"id": args.id, "action": args.action} | fields | _actor(args)))


def cmd_handover(args: argparse.Namespace) -> int:
    if args.to:
        if not args.reason:
            raise ValueError(_("give --reason for the hand-over"))
        fields: dict[str, Any] = {"action": "handover", "to": args.to.upper(), "reason": args.reason}
    else:
        fields = {"action": "handover_answer", "accept": bool(args.accept)}
        if args.reason:
            fields["reason"] = args.reason
    return _done(args, _call(args, "case_act", {"id": args.id} | fields | _actor(args)))


def cmd_export(args: argparse.Namespace) -> int:
    from coordination.casefile import EvidenceFile, export_case_file

    with api_client(args, CLIENT_ID) as client:
        c = client.result("case", {"id": args.id})
        try:
            alert = client.result("alert", {"id": c["alert_id"]})
        except ApiError:
            alert = None
        case = replay(CaseEvent.from_json(e, f"event {e.get('seq')}") for e in c["events"])
        with tempfile.TemporaryDirectory() as tmp:
            evidence = []
            for i, a in enumerate(c["attachments"], 1):
                data = bytearray()
                while True:
                    r = client.result("case_attachment", {"id": case.id, "sha256": a["sha256"],
                                                          "offset": len(data)})
                    chunk = base64.b64decode(r["data_b64"])
                    data += chunk
                    if not chunk or len(data) >= r["size_bytes"]:
                        break
                path = Path(tmp) / f"{i:03d}"
                path.write_bytes(bytes(data))
                evidence.append(EvidenceFile(f"attachments/{i:03d}-{a['name']}", path,
                                             f"{a['media_type']} from {a['actor']}"))
            out = export_case_file(case, alert, evidence, args.output)
    print(_("case file: {html} and {zip} ({n} evidence files; history chain {state})").format(
        html=out.html_path, zip=out.zip_path, n=len(out.manifest) - 3,
        state=_("verified") if out.chain_ok else _("BROKEN")))
    return 0 if out.chain_ok else 3


def cmd_verify(args: argparse.Namespace) -> int:
    if args.zip is not None:
        return _verify_zip(args.zip)
    if not args.id:
        raise ValueError(_("give a case id, or --zip FILE"))
    r = _call(args, "case_verify", {"id": args.id})
    if r["ok"]:
        print(_("case {id}: {n} events, chain intact, head {head}").format(id=r["case_id"], n=r["n_events"],
                                                                         head=r["head_hash"][:16]))
        return 0
    print(_("case {id}: chain BROKEN at event {seq}: {reason}").format(id=r["case_id"], seq=r["bad_seq"],
                                                                     reason=r["reason"]))
    return 3


def _verify_zip(path: Path) -> int:
    from coordination.casefile import check_zip
    from coordination.caselog import verify

    bad = check_zip(path)
    with zipfile.ZipFile(path) as z:
        doc = json.loads(z.read("case.json"))
    events = [CaseEvent.from_json(e, f"event {e.get('seq')}") for e in doc["events"]]
    r = verify(doc["id"], events, expect_head=doc.get("head_hash") or None, expect_n=doc.get("n_events"))
    if bad:
        print(_("{path}: files that do not match the manifest: {files}").format(path=path, files=", ".join(bad)))
    if not r.ok:
        print(_("case {id}: chain BROKEN at event {seq}: {reason}").format(id=r.case_id, seq=r.bad_seq,
                                                                         reason=r.reason))
    if bad or not r.ok:
        return 3
    print(_("{path}: manifest and history chain intact ({n} events)").format(path=path, n=r.n_events))
    return 0
