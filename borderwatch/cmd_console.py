"""``borderwatch console``: the regulator's desktop console (live from a server, or an archive replay).

``--server ADDR`` is the server host or its API address (``127.0.0.1``, ``host:5561``,
``tcp://host:5561``); the PUB address is the API port + 1 unless ``--pub`` says otherwise.
``--archive DIR`` replays a server data directory with no server. ``--screenshot out.png`` waits
for data, renders the window offscreen to a PNG and exits (used for the README and by tests).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from borderwatch.i18n import _, current_language, lang_argument

log = logging.getLogger("borderwatch.console")


def register(subparsers: Any) -> None:
    """Add ``console`` to the top-level parser."""
    p = subparsers.add_parser("console", help=_("open the monitoring console (live server or archive replay)"),
                              description=_("The regulator's console: sensors, live spectrum and waterfall, "
                                          "occupancy, map, alerts, station browser."))
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--server", metavar="ADDR", help=_("server host or API address (HOST[:PORT], tcp://HOST:PORT)"))
    src.add_argument("--archive", metavar="DIR", type=Path, help=_("replay a server data directory, no server needed"))
    p.add_argument("--pub", metavar="ADDR", default=None, help=_("PUB address (default: API port + 1)"))
    p.add_argument("--keys", metavar="DIR", type=Path, default=None,
                   help=_("CurveZMQ client keys (a keys directory or an exported bundle) for a secured server"))
    p.add_argument("--key-name", metavar="NAME", default=None, help=_("which client key in --keys to use"))
    p.add_argument("--stations", metavar="DB", type=Path, default=None,
                   help=_("local station database (SQLite; only queried) for the map, spectrum spans and browser "
                        "when no server answers, or with --archive"))
    p.add_argument("--screenshot", metavar="PNG", type=Path, default=None,
                   help=_("wait for data, save the window as PNG and exit"))
    p.add_argument("--wait", metavar="S", type=float, default=20.0,
                   help=_("with --screenshot: longest wait for data in seconds (default 20)"))
    p.add_argument("--size", metavar="WxH", default="1600x1000", help=_("window size with --screenshot"))
    p.add_argument("--lang", type=lang_argument, default=None, metavar="zh_CN|en",
                   help=_("interface language (default: the command line's, from --lang or the locale)"))
    p.set_defaults(handler=cmd_console)


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ValueError(_("--size {text!r}: expected WIDTHxHEIGHT, e.g. 1600x1000").format(text=text)) from None
    if not (200 <= w <= 10000 and 200 <= h <= 10000):
        raise ValueError(_("--size {text!r}: each side must be 200..10000 pixels").format(text=text))
    return w, h


def cmd_console(args: argparse.Namespace) -> int:
    if args.screenshot is not None and not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from coordination.keys import KeyFileError, load_client_keys
    from gui.app import MainWindow
    from gui.archive import ArchiveError, ArchiveReader
    from gui.client import AddressError, ServerClient, resolve_addresses
    from gui.i18n import install_translator

    try:
        size = _size(args.size)
        if args.archive is not None:
            archive, client = ArchiveReader(args.archive), None
        else:
            api_addr, pub_addr = resolve_addresses(args.server, args.pub)
            keys = load_client_keys(args.keys, args.key_name) if args.keys is not None else None
            archive, client = None, ServerClient(api_addr, pub_addr, client_id="console", keys=keys)
    except (AddressError, ArchiveError, ValueError, KeyFileError) as exc:
        sys.stderr.write(f"borderwatch console: {exc}\n")
        return 2
    repo = None
    if args.stations is not None:
        if not args.stations.exists():
            sys.stderr.write("borderwatch console: " + _("station database {path} not found").format(path=args.stations)
                             + "\n")
            return 2
        from station_db import StationRepository

        repo = StationRepository(args.stations)

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setOrganizationName("borderwatch")
    app.setApplicationName("console")
    translator = install_translator(app, args.lang or current_language())  # noqa: F841 - must outlive the window
    tmp = None
    settings = None
    if args.screenshot is not None:  # a fresh default layout, and the user's saved one left alone
        tmp = tempfile.TemporaryDirectory(prefix="borderwatch-console-")
        settings = QSettings(str(Path(tmp.name) / "console.ini"), QSettings.Format.IniFormat)
    window = MainWindow(client=client, archive=archive, station_repo=repo, settings=settings)
    try:
        if args.screenshot is None:
            window.show()
            return int(app.exec())
        window.resize(*size)
        window.show()
        ok = _wait_for_data(app, window, args.wait)
        _settle(app, 0.5)
        args.screenshot.parent.mkdir(parents=True, exist_ok=True)
        if not window.grab().save(str(args.screenshot)):
            sys.stderr.write("borderwatch console: " + _("cannot write {path}").format(path=args.screenshot) + "\n")
            return 1
        if not ok:
            sys.stderr.write("borderwatch console: " + _("no data within {s:g} s; screenshot saved anyway to {path}")
                             .format(s=args.wait, path=args.screenshot) + "\n")
            return 1
        sys.stderr.write("borderwatch console: " + _("screenshot saved to {path}").format(path=args.screenshot) + "\n")
        return 0
    finally:
        if client is not None:
            client.stop()
        window.frame_timer.stop()
        window.refresh_timer.stop()
        window.hide()
        if repo is not None:
            repo.close()
        if tmp is not None:
            tmp.cleanup()


def _wait_for_data(app: Any, window: Any, wait_s: float) -> bool:
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        app.processEvents()
        if window.has_data():
            return True
        time.sleep(0.02)
    return False


def _settle(app: Any, seconds: float) -> None:
    """Let a few more frames arrive (holds, waterfall rows) before the picture is taken."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.02)
