"""The scenario a simulated network lives in: sensor sites and transmitters, loaded from TOML.

A scenario is plain data (frozen dataclasses), parsed once at the edge with errors that name the
file, the table and the key. Incidents (an unlicensed carrier appearing at 14:00, a licensed
station running 10 dB hot) are just transmitters with a schedule or ``erp_boost_db``.

```toml
[scenario]
name = "demo"
seed = 7
start_utc = "2026-01-01T08:00:00Z"

[world]                         # optional: how propagation and receivers differ from the engine's models
model = "realistic"             # "realistic" (default), "p1546" (the engine's law) or "free_space"
shadowing_db = 6

[sensor_defaults]               # optional: any [[sensors]] key but id/province/lat/lon, for every sensor
noise_figure_db = 8

[[sensors]]
id = "SH-01"
province = "Shanghai"
lat = 31.23
lon = 121.47
height_m = 30
noise_figure_db = 6             # a sensor's own key wins over [sensor_defaults]
ppm_error = 1.5
calibration_error_db = -1.2     # stated; omitted = drawn from [world] calibration_sigma_db

[[transmitters]]
id = "FM-1"
lat = 31.3
lon = 121.2
freq_hz = 98.1e6
erp_dbw = 40
antenna_height_m = 150
modulation = "fm_broadcast"
schedule = [[0, 3600]]          # scenario seconds, on intervals; omitted = always on
```
"""

from __future__ import annotations

import math
from dataclasses import MISSING, dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tomlconf import read_toml

MODULATIONS = ("fm_broadcast", "nfm", "cw", "gmsk_burst", "qpsk_burst", "ook")
CONTINUOUS_MODULATIONS = ("fm_broadcast", "nfm", "cw")

#: per modulation: (occupied bandwidth guide Hz, default symbol rate Hz, default burst/over length s)
MODULATION_DEFAULTS: dict[str, tuple[float, float, float]] = {
    "fm_broadcast": (180e3, 0.0, 600.0),
    "nfm": (11e3, 0.0, 8.0),
    "cw": (10.0, 0.0, 600.0),
    "gmsk_burst": (12e3, 9600.0, 0.05),
    "qpsk_burst": (30e3, 24e3, 0.02),
    "ook": (6e3, 2000.0, 0.1),
}


class ScenarioError(ValueError):
    """A scenario file is invalid; the message names file, table, entry and key."""


WORLD_MODELS = ("realistic", "p1546", "free_space")
#: per model: the [world] keys it accepts and their defaults (docs/scenario.md, "The simulated world")
WORLD_DEFAULTS: dict[str, dict[str, Any]] = {
    "realistic": {"shadowing_db": 6.0, "heff_sigma_m": 25.0, "tca_sigma_deg": 0.5, "rx_clutter_m": (5.0, 15.0),
                  "calibration_sigma_db": 2.0, "water_paths": True},
    "p1546": {"shadowing_db": 0.0, "calibration_sigma_db": 0.0},
    "free_space": {},
}


@dataclass(frozen=True)
class WorldSettings:
    """The ``[world]`` table: propagation and receiver truth of the simulated world.

    ``realistic`` = P.1546 with per-link model error, shadowing and calibration error
    (:class:`sdr.sources.sim_world.RealisticWorld`); ``p1546`` = the engine's own law plus
    optional shadowing (the ideal world); ``free_space``. ``seed`` None = the scenario's seed.
    """

    model: str = "realistic"
    shadowing_db: float = 6.0
    heff_sigma_m: float = 0.0
    tca_sigma_deg: float = 0.0
    rx_clutter_m: tuple[float, float] | None = None
    calibration_sigma_db: float = 0.0
    water_paths: bool = False
    seed: int | None = None

    @classmethod
    def for_model(cls, model: str, **overrides: Any) -> WorldSettings:
        """The model's defaults with ``overrides``; ValueError names a key the model does not take."""
        if model not in WORLD_MODELS:
            raise ValueError(f"key 'model' must be one of {', '.join(WORLD_MODELS)}, got {model!r}")
        allowed = WORLD_DEFAULTS[model]
        bad = sorted(set(overrides) - set(allowed) - {"seed"})
        if bad:
            takes = ", ".join(sorted(allowed)) or "no other key"
            raise ValueError(f"key {bad[0]!r} does not apply to model {model!r} (it takes {takes})")
        kw = {"shadowing_db": 0.0} | dict(allowed) | overrides
        return cls(model=model, **kw)


@dataclass(frozen=True)
class SensorSite:
    """Where a sensor stands and what its front end adds (noise figure, LO error)."""

    id: str
    province: str
    lat: float
    lon: float
    height_m: float = 10.0
    antenna_factor_db_m: float = 20.0
    noise_figure_db: float = 6.0
    ppm_error: float = 0.0
    #: reported minus true field (dB): the true antenna factor and gain differ from the configured ones.
    #: None = drawn by the world (``[world] calibration_sigma_db``); 0 in a world without one.
    calibration_error_db: float | None = None
    #: representative clutter height around the antenna (m, P.1546 section 9); None = drawn by the world
    clutter_height_m: float | None = None


@dataclass(frozen=True)
class Transmitter:
    """One emitter. ``schedule`` is a tuple of (on_s, off_s) scenario-second intervals; empty = always.

    ``duty_cycle`` < 1 splits on-time into transmissions of ``burst_duration_s`` placed at random
    (seeded) within each period ``burst_duration_s / duty_cycle``; for the burst modulations that
    is the packet length, for NFM the length of a voice over.
    """

    id: str
    lat: float
    lon: float
    freq_hz: float
    erp_dbw: float
    modulation: str
    antenna_height_m: float = 10.0
    duty_cycle: float = 1.0
    schedule: tuple[tuple[float, float], ...] = ()
    freq_offset_hz: float = 0.0
    erp_boost_db: float = 0.0
    burst_duration_s: float | None = None
    symbol_rate_hz: float | None = None
    province: str = ""
    label: str = ""
    #: a directional antenna (a public-mobile sector): main-beam bearing (deg from north), its 3 dB width and how
    #: far the back lobe is down; none = omnidirectional. ``erp_dbw`` is the main beam's.
    azimuth_deg: float | None = None
    beamwidth_deg: float | None = None
    front_to_back_db: float = 20.0

    def antenna_gain_db(self, bearing_deg: float) -> float:
        """Gain towards ``bearing_deg`` relative to the main beam (<= 0 dB): the parabolic main lobe
        -12 (off / beamwidth)^2 dB down to the back-lobe floor; 0 for an omnidirectional antenna."""
        if self.azimuth_deg is None or self.beamwidth_deg is None:
            return 0.0
        off = (bearing_deg - self.azimuth_deg + 180.0) % 360.0 - 180.0
        return -min(12.0 * (off / self.beamwidth_deg) ** 2, self.front_to_back_db)

    @property
    def emitted_freq_hz(self) -> float:
        """The frequency actually radiated (licensed frequency plus any offset fault)."""
        return self.freq_hz + self.freq_offset_hz

    @property
    def effective_erp_dbw(self) -> float:
        """ERP actually radiated (licensed ERP plus any over-power fault)."""
        return self.erp_dbw + self.erp_boost_db

    @property
    def bandwidth_hz(self) -> float:
        """A guide to the occupied bandwidth, used to decide whether a tuned band sees it."""
        guide, rate, _ = MODULATION_DEFAULTS[self.modulation]
        if self.symbol_rate_hz and rate:
            return guide * self.symbol_rate_hz / rate
        return guide

    @property
    def burst_s(self) -> float:
        """Length of one transmission (packet or over)."""
        return self.burst_duration_s if self.burst_duration_s else MODULATION_DEFAULTS[self.modulation][2]

    @property
    def symbol_rate(self) -> float:
        return self.symbol_rate_hz if self.symbol_rate_hz else MODULATION_DEFAULTS[self.modulation][1]

    def scheduled_on(self, t_s: float) -> bool:
        """Whether the schedule (not the duty cycle) has the transmitter on at scenario time t_s."""
        return not self.schedule or any(a <= t_s < b for a, b in self.schedule)


@dataclass(frozen=True)
class Scenario:
    """Sensors and transmitters of one simulated world, with its seed and start time."""

    name: str
    sensors: tuple[SensorSite, ...]
    transmitters: tuple[Transmitter, ...]
    seed: int = 0
    start_utc: datetime = field(default_factory=lambda: datetime(2026, 1, 1, tzinfo=UTC))
    source_path: Path | None = None
    #: the ``[world]`` table; None = no world stated (simulated sources fall back to free space)
    world: WorldSettings | None = None

    def sensor(self, sensor_id: str) -> SensorSite:
        """The sensor site with that id; KeyError lists the ids there are."""
        for s in self.sensors:
            if s.id == sensor_id:
                return s
        where = f" in {self.source_path}" if self.source_path else ""
        raise KeyError(f"no sensor {sensor_id!r}{where}; sensors: {', '.join(s.id for s in self.sensors) or 'none'}")


# -- loading -------------------------------------------------------------------------------
def _check_value(where: str, name: str, value: Any, kind: type | tuple[type, ...]) -> Any:
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise ScenarioError(f"{where}: key {name!r} must be {getattr(kind, '__name__', kind)}, got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ScenarioError(f"{where}: key {name!r} must be finite, got {value!r}")
    return value


_FLOAT_KEYS = {
    "lat", "lon", "height_m", "antenna_factor_db_m", "noise_figure_db", "ppm_error", "calibration_error_db",
    "clutter_height_m", "freq_hz", "erp_dbw",
    "antenna_height_m", "duty_cycle", "freq_offset_hz", "erp_boost_db", "burst_duration_s", "symbol_rate_hz",
    "azimuth_deg", "beamwidth_deg", "front_to_back_db",
}


def _build(cls: type, table: dict[str, Any], where: str) -> Any:
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(table) - set(known))
    if unknown:
        raise ScenarioError(f"{where}: unknown key {unknown[0]!r}; allowed: {', '.join(sorted(known))}")
    kwargs: dict[str, Any] = {}
    for name, f in known.items():
        if name not in table:
            if f.default is MISSING and f.default_factory is MISSING:
                raise ScenarioError(f"{where}: missing required key {name!r}")
            continue
        value = table[name]
        if name == "schedule":
            kwargs[name] = _schedule(value, where)
        elif name in _FLOAT_KEYS:
            kwargs[name] = _check_value(where, name, value, float)
        else:
            kwargs[name] = _check_value(where, name, value, str)
    return cls(**kwargs)


def _schedule(value: Any, where: str) -> tuple[tuple[float, float], ...]:
    if not isinstance(value, list):
        raise ScenarioError(f"{where}: key 'schedule' must be a list of [on_s, off_s] pairs, got {value!r}")
    out = []
    for i, pair in enumerate(value):
        ok = isinstance(pair, list) and len(pair) == 2 and all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in pair
        )
        if not ok or pair[1] <= pair[0]:
            raise ScenarioError(f"{where}: schedule[{i}] must be [on_s, off_s] with off_s > on_s, got {pair!r}")
        out.append((float(pair[0]), float(pair[1])))
    return tuple(out)


def _validate_transmitter(tx: Transmitter, where: str) -> None:
    if tx.modulation not in MODULATIONS:
        raise ScenarioError(f"{where}: key 'modulation' must be one of {', '.join(MODULATIONS)}, got {tx.modulation!r}")
    if tx.freq_hz <= 0:
        raise ScenarioError(f"{where}: key 'freq_hz' must be > 0, got {tx.freq_hz}")
    if not 0 < tx.duty_cycle <= 1:
        raise ScenarioError(f"{where}: key 'duty_cycle' must be in (0, 1], got {tx.duty_cycle}")
    for key in ("burst_duration_s", "symbol_rate_hz"):
        v = getattr(tx, key)
        if v is not None and v <= 0:
            raise ScenarioError(f"{where}: key {key!r} must be > 0, got {v}")
    if (tx.azimuth_deg is None) != (tx.beamwidth_deg is None):
        raise ScenarioError(f"{where}: keys 'azimuth_deg' and 'beamwidth_deg' go together (a directional antenna)")
    if tx.beamwidth_deg is not None and not 1.0 <= tx.beamwidth_deg <= 360.0:
        raise ScenarioError(f"{where}: key 'beamwidth_deg' must be within 1..360, got {tx.beamwidth_deg}")
    if not 0.0 <= tx.front_to_back_db <= 60.0:
        raise ScenarioError(f"{where}: key 'front_to_back_db' must be within 0..60, got {tx.front_to_back_db}")
    _validate_position(tx.lat, tx.lon, where)


def _validate_position(lat: float, lon: float, where: str) -> None:
    if not -90 <= lat <= 90:
        raise ScenarioError(f"{where}: key 'lat' must be within -90..90, got {lat}")
    if not -180 <= lon <= 180:
        raise ScenarioError(f"{where}: key 'lon' must be within -180..180, got {lon}")


def parse_scenario(doc: dict[str, Any], origin: str = "<scenario>", source_path: Path | None = None) -> Scenario:
    """Build a :class:`Scenario` from an already-parsed TOML document."""
    # [demo] says how `borderwatch demo` plays the file (docs/scenario.md); the simulated world ignores it,
    # so `sim:demo_scenario.toml?sensor=ID` renders the demo's world.
    tables = ("scenario", "world", "sensor_defaults", "sensors", "transmitters", "demo")
    unknown = sorted(set(doc) - set(tables))
    if unknown:
        raise ScenarioError(f"{origin}: unknown table {unknown[0]!r}; allowed: {', '.join(tables)}")
    head = doc.get("scenario", {})
    if not isinstance(head, dict):
        raise ScenarioError(f"{origin}: [scenario] must be a table")
    bad = sorted(set(head) - {"name", "seed", "start_utc"})
    if bad:
        raise ScenarioError(f"{origin}: [scenario] unknown key {bad[0]!r}; allowed: name, seed, start_utc")
    name = _check_value(f"{origin} [scenario]", "name", head.get("name", Path(origin).stem), str)
    seed = head.get("seed", 0)
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ScenarioError(f"{origin} [scenario]: key 'seed' must be a non-negative integer, got {seed!r}")
    start = head.get("start_utc", datetime(2026, 1, 1, tzinfo=UTC))
    if isinstance(start, str):
        try:
            start = datetime.fromisoformat(start.replace("Z", "+00:00"))
        except ValueError as exc:
            raise ScenarioError(f"{origin} [scenario]: key 'start_utc' is not ISO-8601: {start!r}") from exc
    if not isinstance(start, datetime):
        raise ScenarioError(f"{origin} [scenario]: key 'start_utc' must be a date-time, got {start!r}")
    start = start.replace(tzinfo=UTC) if start.tzinfo is None else start.astimezone(UTC)

    world = _world(doc["world"], f"{origin} [world]") if "world" in doc else None
    defaults = _sensor_defaults(doc.get("sensor_defaults", {}), f"{origin} [sensor_defaults]")
    sensors = []
    for i, table in enumerate(_array_of_tables(doc, "sensors", origin)):
        where = f"{origin} [[sensors]] #{i + 1}" + (f" ({table['id']})" if isinstance(table.get("id"), str) else "")
        site = _build(SensorSite, defaults | table, where)
        _validate_sensor(site, where)
        sensors.append(site)
    transmitters = []
    for i, table in enumerate(_array_of_tables(doc, "transmitters", origin)):
        named = f" ({table['id']})" if isinstance(table.get("id"), str) else ""
        where = f"{origin} [[transmitters]] #{i + 1}{named}"
        tx = _build(Transmitter, table, where)
        _validate_transmitter(tx, where)
        transmitters.append(tx)
    for kind, items in (("sensors", sensors), ("transmitters", transmitters)):
        ids = [x.id for x in items]
        dup = next((x for x in ids if ids.count(x) > 1), None)
        if dup is not None:
            raise ScenarioError(f"{origin}: duplicate {kind} id {dup!r}")
    return Scenario(name, tuple(sensors), tuple(transmitters), seed, start, source_path, world)


#: (lo, hi) of the receiver keys: beyond them a value is a typo, not a receiver
_SENSOR_RANGES = {
    "height_m": (0.5, 3000.0), "antenna_factor_db_m": (-40.0, 80.0), "noise_figure_db": (0.0, 60.0),
    "ppm_error": (-500.0, 500.0), "calibration_error_db": (-30.0, 30.0), "clutter_height_m": (0.5, 100.0),
}
_SITE_KEYS = ("id", "province", "lat", "lon")


def _validate_sensor(site: SensorSite, where: str) -> None:
    _validate_position(site.lat, site.lon, where)
    for key, (lo, hi) in _SENSOR_RANGES.items():
        v = getattr(site, key)
        if v is not None and not lo <= v <= hi:
            raise ScenarioError(f"{where}: key {key!r} must be within {lo:g}..{hi:g}, got {v}")


def _sensor_defaults(table: Any, where: str) -> dict[str, Any]:
    """``[sensor_defaults]``: receiver keys every sensor starts from (its own keys win)."""
    if not isinstance(table, dict):
        raise ScenarioError(f"{where} must be a table")
    allowed = sorted(f.name for f in fields(SensorSite) if f.name not in _SITE_KEYS)
    bad = sorted(set(table) - set(allowed))
    if bad:
        raise ScenarioError(f"{where}: unknown key {bad[0]!r}; allowed: {', '.join(allowed)}")
    for key, value in table.items():
        v = _check_value(where, key, value, float)
        lo, hi = _SENSOR_RANGES[key]
        if not lo <= v <= hi:
            raise ScenarioError(f"{where}: key {key!r} must be within {lo:g}..{hi:g}, got {v}")
    return dict(table)


#: (lo, hi) of the [world] spreads
_WORLD_RANGES = {"shadowing_db": (0.0, 20.0), "heff_sigma_m": (0.0, 500.0), "tca_sigma_deg": (0.0, 10.0),
                 "calibration_sigma_db": (0.0, 10.0)}


def _world(table: Any, where: str) -> WorldSettings:
    """``[world]``: which world the simulated sensors live in (docs/scenario.md)."""
    if not isinstance(table, dict):
        raise ScenarioError(f"{where} must be a table")
    model = table.get("model", "realistic")
    if model not in WORLD_MODELS:
        raise ScenarioError(f"{where}: key 'model' must be one of {', '.join(WORLD_MODELS)}, got {model!r}")
    allowed = {"model", "seed", *WORLD_DEFAULTS[model]}
    bad = sorted(set(table) - allowed)
    if bad:
        known = {"model", "seed", *WORLD_DEFAULTS["realistic"]}
        if bad[0] in known:
            raise ScenarioError(f"{where}: key {bad[0]!r} applies only to model = \"realistic\"; "
                                f"model {model!r} takes: {', '.join(sorted(allowed))}")
        raise ScenarioError(f"{where}: unknown key {bad[0]!r}; allowed: {', '.join(sorted(allowed))}")
    kw: dict[str, Any] = {}
    for key, value in table.items():
        if key == "model":
            continue
        if key == "seed":
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ScenarioError(f"{where}: key 'seed' must be a non-negative integer, got {value!r}")
            kw[key] = value
        elif key == "water_paths":
            kw[key] = _check_value(where, key, value, bool)
        elif key == "rx_clutter_m":
            ok = isinstance(value, list) and len(value) == 2 and all(
                isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in value)
            if not ok or not 0 < value[0] <= value[1] <= 100:
                raise ScenarioError(f"{where}: key 'rx_clutter_m' must be [min_m, max_m] with 0 < min <= max <= 100, "
                                    f"got {value!r}")
            kw[key] = (float(value[0]), float(value[1]))
        else:
            v = _check_value(where, key, value, float)
            lo, hi = _WORLD_RANGES[key]
            if not lo <= v <= hi:
                raise ScenarioError(f"{where}: key {key!r} must be within {lo:g}..{hi:g}, got {v}")
            kw[key] = v
    return WorldSettings.for_model(model, **kw)


def _array_of_tables(doc: dict[str, Any], key: str, origin: str) -> list[dict[str, Any]]:
    value = doc.get(key, [])
    if not isinstance(value, list) or not all(isinstance(t, dict) for t in value):
        raise ScenarioError(f"{origin}: {key!r} must be an array of tables ([[{key}]])")
    return value


def read_scenario_toml(path: Path, error: type[Exception] = ScenarioError) -> dict[str, Any]:
    """The parsed TOML of a scenario file; a missing or malformed file raises ``error`` naming it."""

    def fail(file: str, key: str, value: Any, problem: str) -> Exception:
        return error(f"{file}: {problem}")

    return dict(read_toml(path, fail).data)


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario TOML file; errors name the file and the offending key."""
    path = Path(path)
    return parse_scenario(read_scenario_toml(path), str(path), path)
