"""``borderwatch server``: run the coordination server in the foreground until Ctrl-C / SIGTERM.

Settings come from ``--config server.toml`` (see :mod:`coordination.config`); every flag given on
the command line wins over the file.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from typing import Any

from borderwatch.i18n import _
from coordination.config import ConfigError, load_config
from coordination.server import Server


def register(subparsers: Any) -> None:
    """Add ``server`` to the top-level parser."""
    p = subparsers.add_parser("server", help=_("run the coordination server (ingest, rules, alerts, API)"),
                              description=_("Run the coordination server. Flags win over --config."))
    p.add_argument("--config", type=Path, default=None, help=_("server.toml"))
    p.add_argument("--data", type=Path, default=None, help=_("data directory (SQLite, HDF5 spectra, evidence)"))
    p.add_argument("--sensors-addr", default=None, help=_("sensor ROUTER bind address (tcp://127.0.0.1:5560)"))
    p.add_argument("--api-addr", default=None, help=_("API ROUTER bind address (tcp://127.0.0.1:5561)"))
    p.add_argument("--pub-addr", default=None, help=_("PUB bind address for alerts and live data (tcp://127.0.0.1:5562)"))
    p.add_argument("--stations", type=Path, default=None,
                   help=_("station database (SQLite), or a CSV/JSON file imported into <data>/stations.db at start"))
    p.add_argument("--rules", type=Path, default=None, help=_("coordination rules TOML (default: the shipped rules)"))
    p.add_argument("--keys", type=Path, default=None,
                   help=_("CurveZMQ keys directory: server key + allow-list (make it with 'borderwatch keys')"))
    p.add_argument("--insecure", action="store_true", default=None,
                   help=_("plain TCP without authentication or encryption (loopback/testing only)"))
    fed = p.add_argument_group(_("federation (one centre per province, docs/deployment.md)"))
    fed.add_argument("--province", default=None, metavar="CODE",
                     help=_("run as this province's monitoring centre (JS, ZJ, SH, AH): owns its sensors, "
                            "shares the store and border emissions with the peer centres"))
    fed.add_argument("--database", default=None, metavar="URL",
                     help=_("shared store of the centres: postgresql://user@host:port/db (station data too, "
                            "unless --stations)"))
    fed.add_argument("--federation-addr", default="tcp://127.0.0.1:5563", metavar="ADDR",
                     help=_("bind address for the peer centres' border emissions (tcp://127.0.0.1:5563)"))
    fed.add_argument("--peer", action="append", default=[], metavar="CODE=ADDR",
                     help=_("a peer centre's federation address, e.g. ZJ=tcp://10.0.0.2:5563 (repeat per peer)"))
    fed.add_argument("--border-zone-km", type=float, default=80.0, metavar="KM",
                     help=_("share the emissions of sensors within this distance of another province (80)"))
    p.set_defaults(handler=cmd_server)


def _federation(args: argparse.Namespace, cfg: Any) -> Any:
    """The Federation for ``--province`` (None without it); ValueError with a one-line reason."""
    if args.province is None:
        if args.database or args.peer:
            raise ValueError(_("--database and --peer need --province (the centre this server is)"))
        return None
    from coordination.federation import Federation, FederationConfig

    if not args.database:
        raise ValueError(_("--province needs --database (the store the centres share)"))
    peers = {}
    for item in args.peer:
        code, sep, addr = item.partition("=")
        if not sep or not code.strip() or not addr.strip():
            raise ValueError(_("--peer {item!r}: expected CODE=ADDR, e.g. ZJ=tcp://10.0.0.2:5563").format(item=item))
        peers[code.strip().upper()] = addr.strip()
    return Federation(FederationConfig(
        centre=args.province.strip().upper(), database=args.database, bind_addr=args.federation_addr, peers=peers,
        keys_dir=cfg.keys_dir, insecure=bool(cfg.insecure), border_zone_km=args.border_zone_km))


def cmd_server(args: argparse.Namespace) -> int:
    try:
        cfg = load_config(args.config, data_dir=args.data, sensors_addr=args.sensors_addr, api_addr=args.api_addr,
                          pub_addr=args.pub_addr, stations=args.stations, rules=args.rules, insecure=args.insecure,
                          keys_dir=getattr(args, "keys", None))
    except ConfigError as exc:
        sys.stderr.write(f"borderwatch server: {exc}\n")
        return 2
    if cfg.stations is not None and not Path(cfg.stations).exists():
        sys.stderr.write("borderwatch server: " + _("station file {path} not found").format(path=cfg.stations) + "\n")
        return 2
    try:
        federation = _federation(args, cfg)
    except ValueError as exc:
        sys.stderr.write(f"borderwatch server: {exc}\n")
        return 2
    extra: dict[str, Any] = {}
    if federation is not None:
        extra["federation"] = federation
        if cfg.stations is None:  # the station data the centres share
            from station_db.repository import StationRepository

            extra["stations"] = StationRepository(federation.stations_database)
    if not cfg.insecure:
        from coordination.security import SecurityError, make_policy

        try:  # check the keys now, for a one-line error instead of a failed start
            policy = make_policy(False, cfg.keys_dir)
        except SecurityError as exc:
            sys.stderr.write(f"borderwatch server: {exc}\n")
            return 2
        server = Server(cfg, policy=policy, **extra)
    else:
        server = Server(cfg, **extra)

    def on_signal(signum: int, frame: object) -> None:
        server.stop()

    old = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}

    def ready(srv: Server) -> None:
        e = srv.endpoints
        sys.stderr.write("borderwatch server: " + _("data {data}; sensors {sensors}, api {api}, pub {pub}; "
                                                    "{n} sensors known; Ctrl-C to stop").format(
            data=cfg.data_dir, sensors=e["sensors"], api=e["api"], pub=e["pub"], n=len(srv.sensors)) + "\n")
        if cfg.insecure:
            sys.stderr.write("borderwatch server: " + _("WARNING: plain TCP, no authentication or encryption "
                                                        "(INSECURE): anyone who reaches these ports can inject "
                                                        "measurements and read alerts") + "\n")
        else:
            sys.stderr.write("borderwatch server: " + _("CurveZMQ on, keys {path}").format(path=cfg.keys_dir) + "\n")
        sys.stderr.flush()

    try:
        server.run(on_ready=ready)
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
    return 0
