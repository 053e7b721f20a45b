"""Play the demo once: pick the network (one server, or four federated centres), run it, judge it.

Its own module because it is the one place that knows both networks: :mod:`borderwatch.demo` (the
single-server network, judging, results) and :mod:`borderwatch.demo_federated` (which builds on it)
then import nothing of each other's in the other direction.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from borderwatch.demo import SETTLE_S, DemoNetwork, DemoOptions, DemoResult, judge
from borderwatch.demo_scenario import ideal_scenario_path, load_demo_scenario

log = logging.getLogger(__name__)


class DemoView(Protocol):
    """What shows a play (the terminal's live or log view, the console); told, never asked."""

    def started(self, net: DemoNetwork) -> None: ...

    def tick(self, net: DemoNetwork) -> None: ...

    def event(self, doc: dict[str, Any], provinces: set[str]) -> None: ...

    def finished(self, result: DemoResult) -> None: ...


def run_demo(options: DemoOptions, *, view: DemoView | None = None,
             should_stop: Callable[[], bool] = lambda: False) -> DemoResult:
    """Play the scenario once (or until ``should_stop`` with ``forever``) and judge the outcome.

    ``view`` (optional) gets ``started(network)``, ``tick(network)`` about once a second,
    ``event(doc, provinces)`` per alert event and ``finished(result)``.
    """
    # Four centres order TDOA snapshots from their own sensors only (a border alert rarely has three of one
    # centre's), so the federated play has received levels alone: it plays the ideal world unless told
    # otherwise, where levels place the emitters within the expectations; the realistic one needs TDOA.
    scenario = options.scenario if options.scenario is not None or not options.federated else ideal_scenario_path()
    demo = load_demo_scenario(scenario)
    duration = options.duration_s if options.duration_s is not None else demo.settings.duration_s
    tmp: str | None = None
    if options.out_dir is not None:
        data_dir = Path(options.out_dir)
    else:
        tmp = tempfile.mkdtemp(prefix="borderwatch-demo-")
        data_dir = Path(tmp)
    jsonl = None
    if options.alerts_jsonl is not None:
        Path(options.alerts_jsonl).parent.mkdir(parents=True, exist_ok=True)
        jsonl = Path(options.alerts_jsonl).open("w", encoding="utf-8")
    on_event = view.event if view is not None else None
    if options.federated:
        from borderwatch.demo_federated import FederatedDemoNetwork  # lazy: PostgreSQL tooling only when asked

        net: DemoNetwork = FederatedDemoNetwork(demo, data_dir, jsonl=jsonl, on_event=on_event)
    else:
        net = DemoNetwork(demo, data_dir, jsonl=jsonl, on_event=on_event)
    cpu0 = time.process_time()
    cases: list[dict[str, Any]] = []
    try:
        net.start()
        if not options.federated:
            net.web = _start_web(net, data_dir)
        if view is not None:
            view.started(net)
        while not should_stop():
            if not options.forever and net.elapsed_s() >= duration:
                break
            time.sleep(min(1.0, max(0.05, duration - net.elapsed_s())) if not options.forever else 1.0)
            if view is not None:
                view.tick(net)
        played = net.elapsed_s()
        net.stop_sensors()
        time.sleep(SETTLE_S if not should_stop() else 0.5)  # the engine's last window closes, evidence lands
        counters = net.counters()
        alerts = net.final_alerts()
        cases = _cases(net)
        net.close()
        delivery = net.delivery(counters)
        outcomes, stray = judge(demo, alerts, net.alerts.topics, played_s=played, require_tdoa=not options.federated)
        result = DemoResult(scenario=demo.scenario.name, duration_s=played, data_dir=None if tmp else data_dir,
                            outcomes=outcomes, stray_alerts=stray, delivery=delivery,
                            alert_events=len(net.alerts.events), cpu_s=time.process_time() - cpu0,
                            sensors=len(demo.scenario.sensors), cases=cases,
                            web_url=net.web.url if net.web is not None else None)
    finally:
        if net.web is not None:
            net.web.close()
        net.close()
        if jsonl is not None:
            jsonl.close()
    if tmp is None:
        (data_dir / "summary.json").write_text(json.dumps(result.to_dict(), indent=2, ensure_ascii=False) + "\n",
                                               encoding="utf-8")
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    if view is not None:
        view.finished(result)
    return result


def _start_web(net: DemoNetwork, data_dir: Path) -> Any:
    """The field teams' web view on the demo's server (None, with a log line, if it cannot start)."""
    from borderwatch.demo_web import start_demo_web

    assert net.server is not None
    try:
        return start_demo_web(data_dir, net.server.endpoints["api"], net.server.endpoints["pub"],
                              net.keys.console if net.keys is not None else None)
    except Exception as exc:  # the demo plays on without its web view
        log.warning("the web view did not start: %s", exc)
        return None


def _cases(net: DemoNetwork) -> list[dict[str, Any]]:
    """Every case the server opened during the play (API ``cases``)."""
    try:
        with net.api() as api:
            return list(api.result("cases", {"state": "all"}))
    except Exception as exc:
        log.warning("cases could not be listed: %s", exc)
        return []
