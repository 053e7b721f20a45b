"""The realistic demo scenario concludes its expectations on several seeds of its world.

The scenario file is the shipped realistic one (borderwatch/data/demo_scenario_realistic.toml: 6 dB
shadowing, per-link model error, per-sensor calibration error, sea paths), its sensors, transmitters,
schedules, monitoring profiles, engine settings and expectations unchanged; only the world's seed
differs, so each seed is another draw of paths and receivers. The network is played without IQ:
every sensor sweeps every profile each revisit and reports what sdr.sources.sim_reports says it
would (the realistic world's field, its noise figure, the profile's margin and bin width, its LO
error), with the sweep it covered, to the real rules engine with the real sample station database.
The judging is the demo's own (borderwatch.demo.judge). The full IQ demo is test_demo_e2e.py.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import numpy as np
import pytest

from borderwatch.demo import judge, sample_stations_path
from borderwatch.demo_propagation import demo_world
from borderwatch.demo_scenario import load_demo_scenario, realistic_scenario_path
from coordination.alerts import InMemoryAlertStore
from coordination.engine import EngineConfig, RulesEngine
from coordination.sensors import SensorInfo, SweepCoverage
from sdr.sources.sim_reports import sweep_report
from sdr.sources.sim_world import RealisticWorld
from station_db.exchange import load_station_file
from station_db.repository import StationRepository
from station_db.rules import load_rules


def _repo(path) -> StationRepository:
    repo = StationRepository(path)
    by_prov: dict[str, list] = {}
    for s in load_station_file(sample_stations_path()).stations:
        by_prov.setdefault(s.province, []).append(s)
    for prov, sts in by_prov.items():
        repo.import_stations(sts, prov, f"sample-{prov}.csv", f"demo-{prov}")
    return repo


def _on(tx, t_s: float) -> bool:
    return not tx.schedule or any(a <= t_s < b for a, b in tx.schedule)


def play(seed: int, tmp_path) -> tuple[list, list]:
    demo = load_demo_scenario(realistic_scenario_path())
    scenario = dataclasses.replace(demo.scenario, seed=seed)
    world = demo_world(scenario)
    assert isinstance(world, RealisticWorld) and world.shadowing_db >= 6.0
    engine = RulesEngine(_repo(tmp_path / f"stations-{seed}.db"), load_rules(), InMemoryAlertStore(),
                         config=EngineConfig(**demo.settings.engine))
    sites = list(scenario.sensors)
    infos = [SensorInfo(s.id, s.province, s.lat, s.lon, s.height_m, s.antenna_factor_db_m) for s in sites]
    rng = np.random.default_rng(seed)
    t0 = scenario.start_utc
    events: list = []
    profiles = demo.settings.profiles
    step_s = min(p.revisit_s for p in profiles) / 4.0
    phase = {(s.id, p.name): float(rng.uniform(0.0, p.revisit_s)) for s in sites for p in profiles}
    t_s = 0.0
    while t_s < demo.settings.duration_s:
        for p in profiles:
            cover = SweepCoverage(p.f_start_hz, p.f_stop_hz, p.bin_hz)
            for site, info in zip(sites, infos, strict=True):
                k = (site.id, p.name)
                if t_s < phase[k]:
                    continue
                phase[k] += p.revisit_s
                ems = []
                for tx in scenario.transmitters:
                    if _on(tx, t_s) and p.f_start_hz <= tx.emitted_freq_hz <= p.f_stop_hz:
                        rep = sweep_report(world, tx, site, obw_hz=min(tx.bandwidth_hz, 0.9 * p.channel_width_hz),
                                           bin_hz=p.bin_hz, margin_db=p.margin_db, rng=rng)
                        if rep.emission is not None:
                            ems.append(rep.emission)
                floor = -174.0 + site.noise_figure_db + 10.0 * np.log10(p.bin_hz)
                events += engine.observe(info, t0 + timedelta(seconds=t_s), ems, floor, site.antenna_factor_db_m,
                                         coverage=cover)
        t_s += step_s
        events += engine.tick(t0 + timedelta(seconds=t_s))
    alerts = {}
    topics: dict[str, set[str]] = {}
    for ev in events:
        alerts[ev.alert.id] = ev.alert
        topics.setdefault(ev.alert.id, set()).update(tp.split(".", 1)[1] for tp in ev.topics())
    docs = {i: a.to_json() for i, a in alerts.items() if a.resolved_by != "engine"}  # withdrawn provisional
    return judge(demo, docs, topics)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [101, 202, 303])
def test_realistic_demo_gets_one_alert_per_incident_the_right_verdicts_and_none_on_traffic(tmp_path, seed) -> None:
    outcomes, stray = play(seed, tmp_path)
    reachable = ("no alert", "alerts instead of one", "licensed traffic raised", "verdicts ")
    problems = [f"{o.transmitter}: {p}" for o in outcomes for p in o.problems if p.startswith(reachable)]
    assert not problems, "\n".join(problems)
    assert stray == []
    for o in outcomes:  # every incident that should alert did, and was routed to its source province
        if o.expectation.verdicts:
            assert set(o.expectation.provinces_source) <= set(o.routed_to), o


@pytest.mark.slow
@pytest.mark.xfail(strict=False, reason="received levels alone place the pirate and the ch 16 interferer 10-40 km "
                   "off at 6 dB (the scenario expects 5 km), and the provinces then follow the measured "
                   "exceedances and the ambiguity rule; docs/rules-engine.md section 10; time difference of "
                   "arrival is the way to 5 km")
@pytest.mark.parametrize("seed", [101, 202, 303])
def test_realistic_demo_concludes_all_its_expectations(tmp_path, seed) -> None:
    outcomes, stray = play(seed, tmp_path)
    problems = [f"{o.transmitter}: {'; '.join(o.problems)}" for o in outcomes if not o.passed]
    assert not problems, "\n".join(problems)
    assert stray == []
