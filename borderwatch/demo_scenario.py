"""The demo scenario file: a simulator scenario plus a ``[demo]`` table saying how to play it.

A demo scenario is an ordinary ``sdr.scenario`` TOML (``[world]``, sensors, transmitters) with
one extra table, so one file says everything about a run and stays editable by people who are
not programmers (docs/scenario.md):

```toml
[world]                    # the simulated world (sdr.scenario): "realistic", "p1546" (ideal) or "free_space"
model = "realistic"
shadowing_db = 6

[demo]
duration_s = 90            # one play of the scenario (wall-clock seconds)

[demo.engine]              # rules-engine thresholds (coordination.engine.EngineConfig fields)
auto_resolve_after_s = 20

[[demo.profiles]]          # monitoring profiles the server hands every sensor at Hello
name = "pmr_400"
f_start_hz = 409.3e6
...

[[demo.expect]]            # what the rules must conclude about one transmitter
transmitter = "PIRATE-FM"
verdicts = ["unlicensed", "cross_border"]   # [] = licensed traffic: must raise nothing
provinces_source = ["ZJ"]
provinces_affected = ["JS"]
max_position_error_km = 5
```

The ``[demo]`` table is split off here and the rest goes to :func:`sdr.scenario.parse_scenario`,
so the simulator's scenario format stays exactly what the sensor docs say. Older files said the
world in ``[demo]`` (``propagation = "p1546" | "free_space"``, ``shadowing_db``); they still play,
as the ideal world they meant (``[world] model = "p1546"``); a file without either plays the ideal
world without shadowing, as before.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from importlib.resources import files
from pathlib import Path
from typing import Any

from coordination.protocol import MonitoringProfile, ProtocolError
from sdr.scenario import Scenario, ScenarioError, WorldSettings, parse_scenario, read_scenario_toml

VERDICTS = ("unlicensed", "cross_border", "licence_violation")
PROPAGATION_MODELS = ("p1546", "free_space")
"""The legacy ``[demo] propagation`` values (the world is now ``[world]``, see :mod:`sdr.scenario`)."""


class DemoScenarioError(ValueError):
    """The demo scenario file is invalid; the message names file, table and key."""


@dataclass(frozen=True)
class Expectation:
    """What the rules engine must conclude about one transmitter of the scenario."""

    transmitter: str
    verdicts: tuple[str, ...]
    provinces_source: tuple[str, ...] = ()
    provinces_affected: tuple[str, ...] = ()
    max_position_error_km: float | None = None
    note: str = ""
    #: provinces whose ``alert.<P>`` topic must carry the alert; None = source + affected
    provinces_notified: tuple[str, ...] | None = None
    #: expected verdicts that the engine may instead report as "... not established" findings: an excess
    #: the draw's levels cannot prove at the accusation level (0.1 %) is an honest outcome, not a miss
    may_be_unproven: tuple[str, ...] = ()

    @property
    def notified(self) -> tuple[str, ...]:
        """Who must receive the alert (safety bands go to every province)."""
        if self.provinces_notified is not None:
            return self.provinces_notified
        return tuple(sorted(set(self.provinces_source) | set(self.provinces_affected)))

    @property
    def is_traffic(self) -> bool:
        """Licensed traffic within its licence: must raise no alert at all."""
        return not self.verdicts


@dataclass(frozen=True)
class DemoSettings:
    """How the demo plays the scenario (the ``[demo]`` table)."""

    duration_s: float = 90.0
    engine: Mapping[str, Any] = field(default_factory=dict)
    profiles: tuple[MonitoringProfile, ...] = ()
    expectations: tuple[Expectation, ...] = ()


@dataclass(frozen=True)
class DemoScenario:
    """A scenario and its demo settings, loaded from one file."""

    scenario: Scenario
    settings: DemoSettings
    path: Path | None = None

    def expectation_for(self, transmitter_id: str) -> Expectation | None:
        return next((e for e in self.settings.expectations if e.transmitter == transmitter_id), None)


def default_scenario_path() -> Path:
    """The shipped demo scenario (package data): the realistic world (6 dB shadowing, model and calibration
    error, the localiser at its defaults)."""
    return Path(str(files("borderwatch") / "data" / "demo_scenario.toml"))


def realistic_scenario_path() -> Path:
    """The shipped scenario in the realistic world: the shipped scenario itself."""
    return default_scenario_path()


def ideal_scenario_path() -> Path:
    """The shipped scenario's network in the ideal world (the engine's own P.1546 law, 1 dB shadowing)."""
    return Path(str(files("borderwatch") / "data" / "demo_scenario_ideal.toml"))


def _num(where: str, table: Mapping[str, Any], key: str, default: float | None, lo: float, hi: float) -> float | None:
    v = table.get(key, default)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise DemoScenarioError(f"{where}: key {key!r} must be a number, got {v!r}")
    if not lo <= v <= hi:
        raise DemoScenarioError(f"{where}: key {key!r} must be within [{lo:g}, {hi:g}], got {v!r}")
    return float(v)


def _str_list(where: str, table: Mapping[str, Any], key: str,
              allowed: tuple[str, ...] | None = None) -> tuple[str, ...]:
    v = table.get(key, [])
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise DemoScenarioError(f"{where}: key {key!r} must be a list of strings, got {v!r}")
    if allowed is not None:
        bad = [x for x in v if x not in allowed]
        if bad:
            raise DemoScenarioError(f"{where}: key {key!r}: {bad[0]!r} is not one of {', '.join(allowed)}")
    return tuple(v)


def _check_keys(where: str, table: Mapping[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise DemoScenarioError(f"{where}: unknown key {unknown[0]!r}; allowed: {', '.join(sorted(allowed))}")


def parse_demo_settings(table: Mapping[str, Any], origin: str, scenario: Scenario) -> DemoSettings:
    """Validate the ``[demo]`` table against the scenario it plays."""
    where = f"{origin} [demo]"
    if not isinstance(table, Mapping):
        raise DemoScenarioError(f"{where} must be a table")
    _check_keys(where, table, {"duration_s", "propagation", "shadowing_db", "engine", "profiles", "expect"})
    # propagation / shadowing_db are the legacy way to say the world: read by legacy_world()
    duration = _num(where, table, "duration_s", 90.0, 1.0, 86400.0)
    engine = table.get("engine", {})
    if not isinstance(engine, Mapping):
        raise DemoScenarioError(f"{where}: 'engine' must be a table ([demo.engine])")
    _check_engine(f"{origin} [demo.engine]", engine)

    profiles = []
    raw_profiles = table.get("profiles", [])
    if not isinstance(raw_profiles, list):
        raise DemoScenarioError(f"{where}: 'profiles' must be an array of tables ([[demo.profiles]])")
    defaults = MonitoringProfile(name="x", f_start_hz=1e8, f_stop_hz=1.01e8, bin_hz=1e3).to_dict()
    for i, p in enumerate(raw_profiles):
        pw = f"{origin} [[demo.profiles]] #{i + 1}"
        if not isinstance(p, Mapping):
            raise DemoScenarioError(f"{pw} must be a table")
        _check_keys(pw, p, set(defaults))
        for k in ("name", "f_start_hz", "f_stop_hz", "bin_hz"):
            if k not in p:
                raise DemoScenarioError(f"{pw}: missing required key {k!r}")
        try:
            profiles.append(MonitoringProfile.from_dict(defaults | dict(p)))
        except ProtocolError as exc:
            raise DemoScenarioError(f"{pw}: {exc}") from exc
    names = [p.name for p in profiles]
    dup = next((n for n in names if names.count(n) > 1), None)
    if dup:
        raise DemoScenarioError(f"{where}: duplicate profile name {dup!r}")

    tx_ids = {t.id for t in scenario.transmitters}
    expectations = []
    raw_expect = table.get("expect", [])
    if not isinstance(raw_expect, list):
        raise DemoScenarioError(f"{where}: 'expect' must be an array of tables ([[demo.expect]])")
    for i, e in enumerate(raw_expect):
        ew = f"{origin} [[demo.expect]] #{i + 1}"
        if not isinstance(e, Mapping):
            raise DemoScenarioError(f"{ew} must be a table")
        _check_keys(ew, e, {"transmitter", "verdicts", "provinces_source", "provinces_affected",
                            "max_position_error_km", "note", "provinces_notified", "may_be_unproven"})
        tx = e.get("transmitter")
        if not isinstance(tx, str) or tx not in tx_ids:
            raise DemoScenarioError(f"{ew}: key 'transmitter' must name a transmitter of the scenario "
                                    f"({', '.join(sorted(tx_ids))}), got {tx!r}")
        note = e.get("note", "")
        if not isinstance(note, str):
            raise DemoScenarioError(f"{ew}: key 'note' must be a string")
        expectations.append(Expectation(
            transmitter=tx, verdicts=_str_list(ew, e, "verdicts", VERDICTS),
            provinces_source=_str_list(ew, e, "provinces_source"),
            provinces_affected=_str_list(ew, e, "provinces_affected"),
            max_position_error_km=_num(ew, e, "max_position_error_km", None, 0.0, 1000.0), note=note,
            provinces_notified=_str_list(ew, e, "provinces_notified") if "provinces_notified" in e else None,
            may_be_unproven=_str_list(ew, e, "may_be_unproven", ("licence_violation",)),
        ))
    seen = [x.transmitter for x in expectations]
    dup = next((t for t in seen if seen.count(t) > 1), None)
    if dup:
        raise DemoScenarioError(f"{where}: two [[demo.expect]] tables for transmitter {dup!r}")
    return DemoSettings(duration_s=float(duration or 90.0), engine=dict(engine), profiles=tuple(profiles),
                        expectations=tuple(expectations))


def legacy_world(doc: Mapping[str, Any], origin: str) -> WorldSettings | None:
    """The world an older file states in ``[demo]`` (``propagation``, ``shadowing_db``), or the default.

    None when the file has a ``[world]`` table (it says the world itself); a file that says it in
    both places is refused, since one of the two would silently lose.
    """
    demo = doc.get("demo", {})
    legacy = sorted({"propagation", "shadowing_db"} & set(demo)) if isinstance(demo, Mapping) else []
    if "world" in doc:
        if legacy:
            raise DemoScenarioError(f"{origin} [demo]: key {legacy[0]!r} conflicts with the [world] table; "
                                    "say the simulated world only in [world]")
        return None
    where = f"{origin} [demo]"
    propagation = demo.get("propagation", "p1546") if isinstance(demo, Mapping) else "p1546"
    if propagation not in PROPAGATION_MODELS:
        raise DemoScenarioError(f"{where}: key 'propagation' must be one of {', '.join(PROPAGATION_MODELS)}, "
                                f"got {propagation!r} (or say the world in a [world] table)")
    shadowing = _num(where, demo, "shadowing_db", 0.0, 0.0, 20.0) if isinstance(demo, Mapping) else 0.0
    if propagation == "free_space":
        if shadowing:
            raise DemoScenarioError(f"{where}: key 'shadowing_db' needs propagation = \"p1546\"")
        return WorldSettings.for_model("free_space")
    return WorldSettings.for_model("p1546", shadowing_db=float(shadowing or 0.0))


def _check_engine(where: str, engine: Mapping[str, Any]) -> None:
    from coordination.engine import EngineConfig

    try:
        EngineConfig(**dict(engine))
    except (TypeError, ValueError) as exc:
        raise DemoScenarioError(f"{where}: {exc}") from exc


def parse_demo_scenario(doc: Mapping[str, Any], origin: str = "<demo scenario>",
                        path: Path | None = None) -> DemoScenario:
    """Build a :class:`DemoScenario` from a parsed TOML document."""
    rest = {k: v for k, v in doc.items() if k != "demo"}
    try:
        scenario = parse_scenario(rest, origin, path)
    except ScenarioError as exc:
        raise DemoScenarioError(str(exc)) from exc
    world = legacy_world(doc, origin)
    if world is not None:
        scenario = replace(scenario, world=world)
    if len(scenario.sensors) == 0:
        raise DemoScenarioError(f"{origin}: the scenario has no [[sensors]]")
    settings = parse_demo_settings(doc.get("demo", {}), origin, scenario)
    return DemoScenario(scenario, settings, path)


def load_demo_scenario(path: str | Path | None = None) -> DemoScenario:
    """Read a demo scenario file (default: the shipped one); errors name the file and key."""
    path = Path(path) if path is not None else default_scenario_path()
    return parse_demo_scenario(read_scenario_toml(path, DemoScenarioError), str(path), path)
