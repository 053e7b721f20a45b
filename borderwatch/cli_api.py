"""What the CLI's server commands share: the client's CURVE keys, one API call, the acting team's provinces.

``borderwatch alerts``, ``cases`` and ``coord`` all take ``--server``, ``--keys``/``--key-name`` and
(for the team-facing ones) ``--as-province``; reading them here keeps the commands' behaviour the same.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from borderwatch.i18n import _
from coordination.client import ApiClient
from coordination.keys import ClientKeys, load_client_keys

DEFAULT_API = "tcp://127.0.0.1:5561"


def add_key_arguments(p: argparse.ArgumentParser) -> None:
    """``--keys``/``--key-name``: a secured server admits only known CurveZMQ client keys."""
    p.add_argument("--keys", metavar="DIR", type=Path, default=None,
                   help=_("CurveZMQ client keys (a keys directory or an exported bundle) for a secured server"))
    p.add_argument("--key-name", metavar="NAME", default=None, help=_("which client key in --keys to use"))


def add_api_arguments(p: argparse.ArgumentParser) -> None:
    """``--server`` (the API address) and the client keys."""
    p.add_argument("--server", default=DEFAULT_API,
                   help=_("the server's API address (default {address})").format(address=DEFAULT_API))
    add_key_arguments(p)


def add_actor_arguments(p: argparse.ArgumentParser, *, by_required: bool = True) -> None:
    """Who acts (recorded in the audit trail), for which team's provinces, and JSON output: every
    command that changes a case, a coordination request or a tasking request takes these (a listing
    takes them with ``by_required=False``: it changes nothing)."""
    p.add_argument("--by", required=by_required, default=None, help=_("who (team or person)"))
    p.add_argument("--as-province", default=None,
                   help=_("act for this team's provinces (comma-separated); default: as a centre operator"))
    p.add_argument("--json", action="store_true")


def client_keys(args: argparse.Namespace) -> ClientKeys | None:
    """The client's CURVE keys from ``--keys``/``--key-name`` (None: plain TCP)."""
    if getattr(args, "keys", None) is None:
        return None
    return load_client_keys(args.keys, args.key_name)


def api_client(args: argparse.Namespace, client_id: str) -> ApiClient:
    """A client of ``--server``'s API, with the keys of ``--keys`` when given."""
    return ApiClient(args.server, client_id=client_id, keys=client_keys(args))


def call(args: argparse.Namespace, client_id: str, op: str, a: dict[str, Any]) -> Any:
    """One API call's result (ApiError with the server's message, TimeoutError without an answer)."""
    with api_client(args, client_id) as c:
        return c.result(op, a)


def show(args: argparse.Namespace, result: Any, render: Callable[[Any], None]) -> int:
    """Print a result as JSON with ``--json``, else as ``render`` writes it; exit status 0."""
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=1))
    else:
        render(result)
    return 0


def show_rows(args: argparse.Namespace, rows: list[Any], line: Callable[[Any], str], none_text: str) -> int:
    """Print a listing as JSON with ``--json``, else one ``line`` a row (``none_text`` when empty); status 0."""
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=1))
        return 0
    for r in rows:
        print(line(r))
    if not rows:
        print(none_text)
    return 0


def team_scope(args: argparse.Namespace) -> dict[str, Any]:
    """``{"as_provinces": [...]}`` from ``--as-province A,B`` (upper case), or nothing for a centre operator."""
    if not getattr(args, "as_province", None):
        return {}
    return {"as_provinces": [p.strip().upper() for p in args.as_province.split(",") if p.strip()]}
