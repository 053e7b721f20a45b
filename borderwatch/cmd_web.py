"""``borderwatch web``: serve the field teams' web view, and issue/list/revoke their login tokens.

``web serve`` reads the ``[web]`` table of a config file (see :mod:`web.config`); options override
it. ``--self-signed`` makes a certificate for a demo or a test bench when the configured files do
not exist. ``web token new NAME --province JS`` prints the token once (only its hash is kept);
``web token revoke NAME`` shuts that team out at its next request.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path
from typing import Any

from borderwatch.i18n import _

DEFAULT_TOKENS_DIR = Path(os.environ.get("BORDERWATCH_WEB_TOKENS", "web-tokens"))


def register(subparsers: Any) -> None:
    top = subparsers.add_parser("web", help=_("the field teams' web view (HTTPS) and its login tokens"))
    sub = top.add_subparsers(dest="web_command", metavar="SUBCOMMAND", required=True)

    p = sub.add_parser("serve", help=_("serve the web view over HTTPS"))
    p.add_argument("--config", type=Path, help=_("TOML file with a [web] table"))
    p.add_argument("--listen", help=_("address to serve on (default 127.0.0.1)"))
    p.add_argument("--port", type=int, help=_("port (default 8443)"))
    p.add_argument("--api", help=_("the server's API address, e.g. tcp://127.0.0.1:5561"))
    p.add_argument("--pub", help=_("the server's PUB address (live updates), e.g. tcp://127.0.0.1:5562"))
    p.add_argument("--keys", type=Path, help=_("CurveZMQ client keys directory or bundle for the API/PUB"))
    p.add_argument("--key-name", help=_("which client key in --keys"))
    p.add_argument("--cert", type=Path, help=_("PEM certificate file"))
    p.add_argument("--key", type=Path, help=_("PEM private key file"))
    p.add_argument("--tokens", type=Path, help=_("team tokens directory"))
    p.add_argument("--self-signed", action="store_true",
                   help=_("make a self-signed certificate (openssl) if the certificate files do not exist"))
    p.set_defaults(handler=cmd_serve)

    tok = sub.add_parser("token", help=_("issue, list and revoke team login tokens"))
    tsub = tok.add_subparsers(dest="token_command", metavar="ACTION", required=True)

    def dir_arg(q: argparse.ArgumentParser) -> None:
        q.add_argument("--dir", type=Path, default=DEFAULT_TOKENS_DIR,
                       help=_("tokens directory (default {path}, or $BORDERWATCH_WEB_TOKENS)").format(
                           path=DEFAULT_TOKENS_DIR))

    q = tsub.add_parser("new", help=_("issue a token for a team, bound to its provinces"))
    q.add_argument("name")
    q.add_argument("--province", required=True, help=_("the team's provinces, comma-separated (e.g. JS)"))
    dir_arg(q)
    q.set_defaults(handler=cmd_token_new)
    q = tsub.add_parser("list", help=_("list tokens (names, provinces, status; never the tokens)"))
    dir_arg(q)
    q.set_defaults(handler=cmd_token_list)
    q = tsub.add_parser("revoke", help=_("revoke a team's token (refused at its next request)"))
    q.add_argument("name")
    dir_arg(q)
    q.set_defaults(handler=cmd_token_revoke)


def cmd_serve(args: argparse.Namespace) -> int:
    from web.config import WebConfig, WebConfigError, load_web_config
    from web.serve import WebServer
    from web.tls import CertificateError, ensure_self_signed

    try:
        cfg = load_web_config(args.config) if args.config else WebConfig()
    except WebConfigError as exc:
        sys.stderr.write(f"borderwatch web serve: {exc}\n")
        return 2
    over = {k: v for k, v in (("listen", args.listen), ("port", args.port), ("api", args.api), ("pub", args.pub),
                              ("keys_dir", args.keys), ("key_name", args.key_name), ("cert_file", args.cert),
                              ("key_file", args.key), ("tokens_dir", args.tokens)) if v is not None}
    cfg = dataclasses.replace(cfg, **over)
    try:
        if args.self_signed and ensure_self_signed(cfg.cert_file, cfg.key_file, [cfg.listen]):
            print(_("made a self-signed certificate {path}").format(path=cfg.cert_file))
        server = WebServer(cfg)
    except (CertificateError, OSError, ValueError) as exc:
        sys.stderr.write(f"borderwatch web serve: {exc}\n")
        return 2
    print(_("web view on https://{host}:{port}/ (API {api})").format(host=cfg.listen, port=cfg.port, api=cfg.api))
    try:
        server.run()
    except KeyboardInterrupt:
        return 130
    return 0


def cmd_token_new(args: argparse.Namespace) -> int:
    from web.tokens import TokenError, TokenStore, parse_provinces

    try:
        token, info = TokenStore(args.dir).new(args.name, parse_provinces(args.province))
    except TokenError as exc:
        sys.stderr.write(f"borderwatch web token new: {exc}\n")
        return 2
    print(_("token for team {name!r} ({provinces}); shown once, only its hash is kept:").format(
        name=info.name, provinces=",".join(info.provinces)))
    print(token)
    return 0


def cmd_token_list(args: argparse.Namespace) -> int:
    from web.tokens import TokenError, TokenStore

    try:
        entries = TokenStore(args.dir).entries()
    except TokenError as exc:
        sys.stderr.write(f"borderwatch web token list: {exc}\n")
        return 2
    print(f"{'NAME':<24} {'PROVINCES':<12} {'STATUS':<8} CREATED")
    for e in entries:
        print(f"{e.name:<24} {','.join(e.provinces):<12} {e.status:<8} {e.created_utc}")
    return 0


def cmd_token_revoke(args: argparse.Namespace) -> int:
    from web.tokens import TokenError, TokenStore

    try:
        info = TokenStore(args.dir).revoke(args.name)
    except TokenError as exc:
        sys.stderr.write(f"borderwatch web token revoke: {exc}\n")
        return 2
    print(_("revoked the token of team {name!r}; it is refused from its next request").format(name=info.name))
    return 0
