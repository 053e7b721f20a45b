"""``borderwatch sensor --config sensor.toml``: run one monitoring station's sensor daemon.

Thin shell over :class:`sdr.daemon.SensorDaemon`: parse the config, open the source, install
SIGINT/SIGTERM handlers (clean shutdown: the spool keeps whatever is not yet acked), run, and
give the uplink a moment to get the last results acked. ``--log-json`` writes one JSON object per
log line (structured logs for journald/Loki); the default is readable text.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

from borderwatch.i18n import _
from coordination.protocol import format_epoch_utc
from sdr.config import load_config
from sdr.daemon import SensorDaemon, install_signal_handlers
from sdr.sources import open_source


class JsonLogFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message (and the exception, if any)."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "t": format_epoch_utc(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, separators=(",", ":"))


def register(subparsers: Any) -> None:
    """Add the ``sensor`` subcommand."""
    p = subparsers.add_parser("sensor", help=_("run a sensor daemon (profiles -> spool -> server)"),
                              description=_("Measure the agreed monitoring profiles and stream the results "
                                          "to the coordination server, spooling them on disk until acked."))
    p.add_argument("--config", required=True, help=_("sensor.toml"))
    p.add_argument("--once", action="store_true", help=_("one sweep of every profile, then exit"))
    p.add_argument("--duration", type=float, metavar="S", help=_("stop after S seconds"))
    p.add_argument("--source", metavar="URI", help=_("override the config's source URI"))
    p.add_argument("--offline", action="store_true", help=_("do not connect to the server (spool only)"))
    p.add_argument("--drain", type=float, default=2.0, metavar="S",
                   help=_("at exit, wait up to S seconds for the server to ack the spool (default 2)"))
    p.add_argument("--log-json", action="store_true", help=_("structured JSON log lines"))
    p.set_defaults(handler=run)


def run(args: Any) -> int:
    """Handler of ``borderwatch sensor``."""
    if args.log_json:
        for h in logging.getLogger().handlers:
            h.setFormatter(JsonLogFormatter())
    if logging.getLogger().level > logging.INFO and not getattr(args, "verbose", 0):
        logging.getLogger("sdr").setLevel(logging.INFO)
        logging.getLogger("borderwatch").setLevel(logging.INFO)
    cfg = load_config(args.config)
    stop = threading.Event()
    restore = install_signal_handlers(stop)
    try:
        with open_source(args.source or cfg.source_uri) as source:
            with SensorDaemon(cfg, source, stop_event=stop, connect=not args.offline) as daemon:
                daemon.run(args.duration, once=args.once)
                if not args.offline:
                    stop.clear()
                    daemon.drain(args.drain)
                left = daemon.spool.depth
        logging.getLogger("borderwatch").info("sensor %s exited; %d rows kept in the spool", cfg.sensor_id, left)
    finally:
        restore()
    return 0
