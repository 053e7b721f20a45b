"""``borderwatch keys``: make, list, revoke and export CurveZMQ keys (see :mod:`coordination.keys`).

The server's keys directory holds its own key pair and the allow-list. ``keys new`` prints the new
public key and where the secret went, never the secret itself. ``keys revoke`` takes effect on a
running server within a second: the revoked client is cut off, not merely refused next time.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from borderwatch.i18n import _
from coordination.keys import ROLES, KeyFileError, KeyStore, parse_provinces

DEFAULT_KEYS_DIR = Path(os.environ.get("BORDERWATCH_KEYS", "keys"))


def register(subparsers: Any) -> None:
    """Add ``keys`` and its subcommands."""
    top = subparsers.add_parser("keys", help=_("make, list, revoke and export CurveZMQ keys (server allow-list)"))
    sub = top.add_subparsers(dest="keys_command", metavar="SUBCOMMAND", required=True)

    def dir_arg(p: argparse.ArgumentParser) -> None:
        p.add_argument("--dir", type=Path, default=DEFAULT_KEYS_DIR,
                       help=_("keys directory (default {path}, or $BORDERWATCH_KEYS)").format(path=DEFAULT_KEYS_DIR))

    p = sub.add_parser("new", help=_("make a key pair: allow-listed public key, 0600 secret key"))
    p.add_argument("name", help=_("key name (for a sensor: its sensor id; for the server: 'server')"))
    p.add_argument("--role", choices=ROLES, default="console",
                   help=_("sensor: sensors socket only; console: API + every topic; team: API + alert topics; "
                        "server: the server's own key"))
    p.add_argument("--province", default=None,
                   help=_("limit a team key to these provinces' alert topics (comma-separated, e.g. JS)"))
    dir_arg(p)
    p.set_defaults(handler=cmd_new)

    p = sub.add_parser("list", help=_("list the server key, allowed and revoked keys"))
    dir_arg(p)
    p.set_defaults(handler=cmd_list)

    p = sub.add_parser("revoke", help=_("revoke a key (a running server cuts it off within a second)"))
    p.add_argument("name")
    dir_arg(p)
    p.set_defaults(handler=cmd_revoke)

    p = sub.add_parser("export", help=_("write a client bundle: server.key + private/NAME.key_secret"))
    p.add_argument("name")
    p.add_argument("-o", "--output", type=Path, required=True, help=_("bundle directory to create"))
    dir_arg(p)
    p.set_defaults(handler=cmd_export)


def _fail(what: str, exc: Exception) -> int:
    sys.stderr.write(f"borderwatch keys {what}: {exc}\n")
    return 2


def cmd_new(args: argparse.Namespace) -> int:
    store = KeyStore(args.dir)
    try:
        info = store.new(args.name, args.role, parse_provinces(args.province))
    except KeyFileError as exc:
        return _fail("new", exc)
    scope = _(", alert topics of {provinces} only").format(provinces=",".join(info.provinces)) if info.provinces else ""
    print(_("{role} key {name!r}{scope}").format(role=info.role, name=info.name, scope=scope))
    print("  " + _("public key: {key}").format(key=info.public_key))
    print("  " + _("public certificate: {path}").format(path=info.path))
    print("  " + _("secret key file (mode 0600, give it only to {name}): {path}").format(
        name=info.name, path=store.secret_path(info.name)))
    if info.role == "sensor":
        try:
            server_key = store.server().public_key
        except KeyFileError:
            server_key = _("<the server's public key: borderwatch keys list>")
        print("  " + _("sensor config") + f" [server]: server_public_key = \"{server_key}\", "
              f"secret_key_file = \"{store.secret_path(info.name)}\"")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    store = KeyStore(args.dir)
    try:
        entries = store.entries()
    except KeyFileError as exc:
        return _fail("list", exc)
    if not entries:
        print(_("no keys in {path} (make the server's first: borderwatch keys new server --role server)").format(
            path=args.dir))
        return 0
    print(f"{'NAME':<24} {'ROLE':<8} {'STATUS':<8} {'PROVINCES':<10} {'CREATED':<21} PUBLIC KEY")
    for e in entries:
        print(f"{e.name:<24} {e.role:<8} {e.status:<8} {','.join(e.provinces) or '-':<10} {e.created_utc or '-':<21} "
              f"{e.public_key}")
    return 0


def cmd_revoke(args: argparse.Namespace) -> int:
    try:
        info = KeyStore(args.dir).revoke(args.name)
    except KeyFileError as exc:
        return _fail("revoke", exc)
    print(_("revoked {role} key {name!r} ({fingerprint}...); running servers cut it off within a second").format(
        role=info.role, name=info.name, fingerprint=info.fingerprint))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    try:
        out = KeyStore(args.dir).export(args.name, args.output)
    except (KeyFileError, OSError) as exc:
        return _fail("export", exc)
    print(_("bundle for {name!r} in {path} (use it with --keys {path})").format(name=args.name, path=out))
    return 0
