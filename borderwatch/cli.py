"""The single ``borderwatch`` command: argparse with one subcommand per job.

Each area registers its subcommands from its own module (``borderwatch/cmd_<area>.py`` exposing
``register(subparsers)``), so this file stays a thin switchboard. A handler returns an exit code;
user-facing errors are one line on stderr, the traceback goes to the debug log.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

log = logging.getLogger("borderwatch")

# Modules that contribute subcommands; each exposes register(subparsers).
COMMAND_MODULES: list[str] = ["cmd_stations", "cmd_sensor", "cmd_server", "cmd_alerts", "cmd_scan", "cmd_console",
                              "cmd_report", "cmd_keys"]


class UserError(Exception):
    """A failure the user can fix; shown as one line without a traceback."""


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with every registered subcommand."""
    parser = argparse.ArgumentParser(
        prog="borderwatch",
        description="Cross-border radio spectrum monitoring and frequency coordination.",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv for debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        module = importlib.import_module(f"borderwatch.{name}")
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``borderwatch`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        return int(handler(args) or 0)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # the boundary: one line for people, traceback for the debug log
        log.debug("command failed", exc_info=True)
        sys.stderr.write(f"borderwatch {args.command}: {exc}\n")
        return 1


if __name__ == "__main__":
    sys.exit(main())
