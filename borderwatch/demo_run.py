"""Play the demo once: pick the network (one server, or four federated centres), run it, judge it.

Its own module because it is the one place that knows both networks: :mod:`borderwatch.demo` (the
single-server network, judging, results) and :mod:`borderwatch.demo_federated` (which builds on it)
then import nothing of each other's in the other direction.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from borderwatch.demo import SETTLE_S, DemoNetwork, DemoOptions, DemoResult, judge
from borderwatch.demo_scenario import load_demo_scenario


def run_demo(options: DemoOptions, *, view: Any = None,
             should_stop: Callable[[], bool] = lambda: False) -> DemoResult:
    """Play the scenario once (or until ``should_stop`` with ``forever``) and judge the outcome.

    ``view`` (optional) gets ``started(network)``, ``tick(network)`` about once a second,
    ``event(doc, provinces)`` per alert event and ``finished(result)``.
    """
    demo = load_demo_scenario(options.scenario)
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
    on_event = getattr(view, "event", None)
    if options.federated:
        from borderwatch.demo_federated import FederatedDemoNetwork  # lazy: PostgreSQL tooling only when asked

        net: DemoNetwork = FederatedDemoNetwork(demo, data_dir, jsonl=jsonl, on_event=on_event)
    else:
        net = DemoNetwork(demo, data_dir, jsonl=jsonl, on_event=on_event)
    cpu0 = time.process_time()
    try:
        net.start()
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
        net.close()
        delivery = net.delivery(counters)
        outcomes, stray = judge(demo, alerts, net.alerts.topics, played_s=played)
        result = DemoResult(scenario=demo.scenario.name, duration_s=played, data_dir=None if tmp else data_dir,
                            outcomes=outcomes, stray_alerts=stray, delivery=delivery,
                            alert_events=len(net.alerts.events), cpu_s=time.process_time() - cpu0,
                            sensors=len(demo.scenario.sensors))
    finally:
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
