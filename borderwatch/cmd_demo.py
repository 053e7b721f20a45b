"""``borderwatch demo``: play the demo scenario on a whole simulated network (see borderwatch/demo.py).

``borderwatch demo`` with no arguments plays the shipped scenario once (about 90 s) and exits with
its summary; the exit code is 0 when every incident raised the expected alerts and nothing was
lost, 1 otherwise. ``--forever`` keeps the network up until Ctrl-C; ``--gui`` opens the console on
it (and keeps the network up while the console window is open).
"""

from __future__ import annotations

import argparse
import logging
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from borderwatch.demo import DemoNetwork, DemoOptions, DemoResult
from borderwatch.demo_run import DemoView, run_demo
from borderwatch.demo_scenario import DemoScenarioError, load_demo_scenario
from borderwatch.demo_view import make_view
from borderwatch.i18n import _, current_language

log = logging.getLogger(__name__)


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "demo", help=_("run a simulated four-province monitoring network with incidents (no hardware)"),
        description=_("Start a coordination server and simulated sensors on 127.0.0.1, play a scenario of "
                    "licensed traffic and incidents, show the alerts live and end with a summary."))
    p.add_argument("--duration", metavar="S", type=float, default=None,
                   help=_("seconds to play (default: the scenario's [demo] duration_s, 90 s for the shipped one)"))
    p.add_argument("--scenario", metavar="FILE", type=Path, default=None,
                   help=_("demo scenario TOML (default: the shipped one; format in docs/scenario.md)"))
    p.add_argument("--gui", action="store_true", help=_("open the monitoring console on the demo network"))
    p.add_argument("--out", metavar="DIR", type=Path, default=None,
                   help=_("keep the archive here (SQLite alerts, HDF5 spectra, SigMF evidence, summary.json); "
                        "default: a temporary directory, deleted at the end"))
    p.add_argument("--alerts-jsonl", metavar="FILE", type=Path, default=None,
                   help=_("write every alert event as one JSON object per line (docs/alert-schema.md)"))
    p.add_argument("--forever", action="store_true", help=_("keep the network running until Ctrl-C"))
    p.add_argument("--plain", action="store_true", help=_("line-oriented output even on a terminal"))
    p.add_argument("--federated", action="store_true",
                   help=_("four monitoring centres (one server per province) sharing PostgreSQL (started by "
                          "the demo when installed, else one SQLite file), federated over ZeroMQ"))
    p.set_defaults(handler=cmd_demo)


class _Console:
    """The console (gui) in its own process, pointed at the demo server."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen[bytes] | None = None

    def open(self, net: DemoNetwork) -> None:
        assert net.server is not None
        cmd = [sys.executable, "-m", "borderwatch.cli", "--lang", current_language(), "console",
               "--server", net.server.endpoints["api"],
               "--pub", net.server.endpoints["pub"]]
        if net.keys is not None:  # the secured demo server: the console uses the demo's console key
            cmd += ["--keys", str(net.keys.root), "--key-name", net.keys.console.pair.name]
        try:
            self.proc = subprocess.Popen(cmd)
        except OSError as exc:
            log.warning("could not open the console: %s", exc)

    @property
    def open_now(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def close(self) -> None:
        if self.open_now:
            assert self.proc is not None
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()


class _ViewWithConsole:
    """Wraps the terminal view: opens the console once the network is up."""

    def __init__(self, view: DemoView, console: _Console | None) -> None:
        self.view, self.console = view, console

    def started(self, net: DemoNetwork) -> None:
        self.view.started(net)
        if self.console is not None:
            self.console.open(net)

    def tick(self, net: DemoNetwork) -> None:
        self.view.tick(net)

    def event(self, doc: dict[str, Any], provinces: set[str]) -> None:
        self.view.event(doc, provinces)

    def finished(self, result: DemoResult) -> None:
        self.view.finished(result)


def cmd_demo(args: argparse.Namespace) -> int:
    if args.duration is not None and args.duration <= 0:
        raise ValueError(_("--duration must be > 0 seconds, got {s:g}").format(s=args.duration))
    try:
        demo = load_demo_scenario(args.scenario)
    except DemoScenarioError as exc:
        raise ValueError(str(exc)) from exc
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        stop.set()

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    console = _Console() if args.gui else None
    view = make_view(sys.stdout, live=False if args.plain else None)
    view.duration_s = None if args.forever else (args.duration or demo.settings.duration_s)

    def should_stop() -> bool:
        if stop.is_set():
            return True
        return False

    options = DemoOptions(scenario=args.scenario, duration_s=args.duration, out_dir=args.out,
                          alerts_jsonl=args.alerts_jsonl, forever=args.forever or bool(args.gui),
                          federated=bool(getattr(args, "federated", False)))
    if args.gui and not args.forever:
        # with the console open the network stays up while its window is; the play still ends the
        # scenario's incidents on schedule
        def should_stop_gui() -> bool:
            if stop.is_set():
                return True
            net_time_up = view.net is not None and view.net.elapsed_s() >= (args.duration or demo.settings.duration_s)
            return net_time_up and not (console is not None and console.open_now)

        stopper = should_stop_gui
    else:
        stopper = should_stop
    try:
        result = run_demo(options, view=_ViewWithConsole(view, console), should_stop=stopper)
    finally:
        if console is not None:
            console.close()
        for s, h in old.items():
            signal.signal(s, h)
    return 0 if result.passed else 1
