"""The single ``borderwatch`` command: argparse with one subcommand per job.

Each area registers its subcommands from its own module (``borderwatch/cmd_<area>.py`` exposing
``register(subparsers)``), so this file stays a thin switchboard. A handler returns an exit code;
user-facing errors are one line on stderr, the traceback goes to the debug log.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from borderwatch.i18n import LANGUAGES, UnknownLanguageError, _, lang_argument, set_language

log = logging.getLogger("borderwatch")

# Modules that contribute subcommands; each exposes register(subparsers).
COMMAND_MODULES: list[str] = ["cmd_stations", "cmd_sensor", "cmd_server", "cmd_alerts", "cmd_scan", "cmd_console",
                              "cmd_report", "cmd_keys", "cmd_demo", "cmd_web", "cmd_cases", "cmd_coord",
                              "cmd_joint"]


class UserError(Exception):
    """A failure the user can fix; shown as one line without a traceback."""


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with every registered subcommand."""
    made: list[argparse.ArgumentParser] = []

    class CommandParser(argparse.ArgumentParser):
        """Remembers every parser of this build: ``add_subparsers`` makes subcommand parsers of the
        class of the parser it is called on, so the subcommands of subcommands are recorded too."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            made.append(self)

    parser = CommandParser(
        prog="borderwatch",
        description=_("Cross-border radio spectrum monitoring and frequency coordination."),
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help=_("more logging (-vv for debug)"))
    parser.add_argument("--lang", type=lang_argument, default=None, metavar="|".join(LANGUAGES),
                        help=_("language of messages and help (default: from the locale, LANG / LC_ALL)"))
    sub = parser.add_subparsers(dest="command", metavar=_("COMMAND"))
    for name in COMMAND_MODULES:
        module = importlib.import_module(f"borderwatch.{name}")
        module.register(sub)
    _accept_lang_everywhere(made)
    for p in made:  # the deepest subcommand's default wins: main's errors name the whole command
        p.set_defaults(command_name=p.prog)
    return parser


def _accept_lang_everywhere(parsers: Iterable[argparse.ArgumentParser]) -> None:
    """Let ``--lang`` follow any subcommand too (``borderwatch demo --lang zh_CN``, ``make demo ARGS=...``).

    :func:`main` reads the value before parsing; a parser that has its own ``--lang`` (the top level,
    report, console) keeps it: argparse refuses a second one with ArgumentError. The default is
    suppressed so a subcommand never resets the top-level value.
    """
    for p in parsers:
        with contextlib.suppress(argparse.ArgumentError):
            p.add_argument("--lang", type=lang_argument, default=argparse.SUPPRESS, metavar="|".join(LANGUAGES),
                           help=_("language of messages and help"))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``borderwatch`` console script.

    The one boundary for errors: a handler raises (the API's refusal, a bad file, a wrong argument
    value) and the user reads one line naming the whole command, ``borderwatch cases close: why``.
    """
    set_language(_language_option(sys.argv[1:] if argv is None else list(argv)))
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
        sys.stderr.write(f"{args.command_name}: {_error_text(exc)}\n")
        return 1


def _language_option(argv: list[str]) -> str | None:
    """The ``--lang`` value, read before the parser is built (its help texts are translated)."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--lang", default=None)
    try:
        lang = pre.parse_known_args(argv)[0].lang
        set_language(lang)  # validate here; an unknown value is reported by the full parser
        return lang
    except (UnknownLanguageError, SystemExit):
        return None


def _error_text(exc: Exception) -> str:
    """One line for people: common system errors in the user's language, others as raised."""
    if isinstance(exc, FileNotFoundError) and exc.filename:
        return _("file not found: {path}").format(path=exc.filename)
    if isinstance(exc, PermissionError) and exc.filename:
        return _("permission denied: {path}").format(path=exc.filename)
    if isinstance(exc, IsADirectoryError) and exc.filename:
        return _("is a directory, not a file: {path}").format(path=exc.filename)
    return str(exc)


if __name__ == "__main__":
    sys.exit(main())
