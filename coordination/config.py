"""Server configuration: ``server.toml`` parsed once into a typed, validated :class:`ServerConfig`.

Command-line flags win over the file; the file wins over the defaults. Errors name the file, the
key and the value so a regulator editing the file by hand knows what to fix.

Example ``server.toml``::

    [server]
    data_dir = "data"                      # relative paths are relative to this file
    sensors_addr = "tcp://127.0.0.1:5560"
    api_addr = "tcp://127.0.0.1:5561"
    pub_addr = "tcp://127.0.0.1:5562"
    stations = "stations.db"               # SQLite station DB, or a CSV imported at start
    rules = "rules.toml"                   # coordination rules (default: the shipped rules)
    keys_dir = "keys"                      # CurveZMQ: server key + allow-list (borderwatch keys)
    # insecure = true                      # plain TCP, no authentication: loopback tests only

    [ingest]
    batch_max_messages = 1024              # bounded work per loop iteration
    tick_interval_s = 0.25                 # engine tick: closes grouping windows when traffic stops
    max_past_s = 2592000.0                 # refuse timestamps older than this (30 days: the longest spool outage)
    max_future_s = 300.0                   # ...or further ahead of server time than this (clock skew)
    max_per_sensor = 256                   # messages of one sensor handled per loop turn (the rest: resent)

    [storage]
    compression = "lzf"                    # lzf | gzip | none
    chunk_rows = 64                        # at most; about 16 KiB per chunk
    fsync = false                          # true: fsync SQLite and HDF5 before acking (power-loss safe)
    max_rows = 32                          # write a sensor's day file when this many spectra wait...
    max_delay_s = 2.0                      # ...or the oldest has waited this long (acks follow the write)
    max_layouts_per_day = 64               # distinct spectrum axes (HDF5 groups) per sensor and day
    learnt_save_s = 30.0                   # what the rules engine learnt is saved at most this often (when changed)

    [status]
    late_factor = 3.0                      # late after 3 revisit times without news
    down_factor = 10.0

    [evidence]
    capture = true
    duration_s = 0.5
    sample_rate_hz = 2.4e6
    max_pending_mb = 256.0                 # incomplete captures per sensor (parts waiting for the rest)
    max_unsolicited_mb = 1024.0            # captures not ordered for an alert (tasking ones too), per sensor
    max_age_s = 86400.0                    # incomplete captures are deleted after this long without a chunk

    [engine]                               # optional: rules engine thresholds (EngineConfig)
    group_window_s = 2.0

    [coordination]                         # optional: coordination requests (HCM-style deadlines)
    answer_days = 30.0                     # the asked provinces answer within this; then one reminder
    reminder_days = 15.0                   # after the reminder, silence counts as ...
    silence_means = "agreed"               # ... agreed (HCM) or "objected"
    step_km = 1.0                          # border sampling of the P.1546 computation

    [tasking.JS]                           # optional: how JS answers other provinces' requests for its sensors
    mode = "auto"                          # auto: granted within the daily quota; operator: every one decided
    daily_quota = 10                       # per requesting province and UTC day (default for every province)

    [[profile]]                            # optional; default: one profile per rules band
    name = "pmr446"
    f_start_hz = 446.0e6
    f_stop_hz = 446.2e6
    bin_hz = 3125.0
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from coordination.protocol import MonitoringProfile, ProtocolError
from tomlconf import TomlError, TomlTable, read_toml


class ConfigError(TomlError):
    """The server configuration is wrong; the message names file, key and value."""


@dataclass(frozen=True)
class ServerConfig:
    """Everything the server needs to start; immutable once built."""

    data_dir: Path = Path("borderwatch-data")
    sensors_addr: str = "tcp://127.0.0.1:5560"
    api_addr: str = "tcp://127.0.0.1:5561"
    pub_addr: str = "tcp://127.0.0.1:5562"
    stations: Path | None = None
    rules: Path | None = None
    # Built in code (tests, embedding) the default stays plain TCP; server.toml and the CLI default
    # to CURVE (see load_config): plain TCP there only with ``insecure = true`` / ``--insecure``.
    insecure: bool = True
    # CurveZMQ keys directory (coordination.keys layout); required unless insecure.
    keys_dir: Path | None = None
    # ingest loop
    batch_max_messages: int = 1024
    api_max_requests: int = 64
    poll_timeout_ms: int = 20
    tick_interval_s: float = 0.25
    counters_flush_s: float = 5.0
    publish_spectra: bool = True
    # timestamps a sensor may send, around server time (older: longer than a spool rides out)
    max_past_s: float = 30 * 86400.0
    max_future_s: float = 300.0
    # messages of one sensor handled per loop turn: one flooding key cannot take a whole batch (a
    # well-behaved sensor has at most its uplink windows in flight, 2 x 64 + 8)
    max_per_sensor: int = 256
    # storage
    compression: str = "lzf"
    chunk_rows: int = 64
    max_open_files: int = 1024
    fsync: bool = False
    # a sensor's day file is written when this many spectra wait, or the oldest waited this long
    archive_max_rows: int = 32
    archive_max_delay_s: float = 2.0
    # distinct spectrum layouts (axis/calibration = HDF5 groups) a sensor may create per day file
    archive_max_layouts: int = 64
    # what the rules engine learnt (level spread, e.r.p. fit bias) is saved at most this often, when it changed
    learnt_save_s: float = 30.0
    # sensor status
    late_factor: float = 3.0
    down_factor: float = 10.0
    # evidence
    evidence_capture: bool = True
    evidence_duration_s: float = 0.5
    evidence_sample_rate_hz: float = 2.4e6
    # quotas: incomplete and unsolicited captures per sensor, and how long they are kept
    evidence_max_pending_mb: float = 256.0
    evidence_max_unsolicited_mb: float = 1024.0
    evidence_max_age_s: float = 86400.0
    # TDOA rounds ([tdoa]): ordered when an alert opens heard by >= 3 capable sensors (else only through the
    # API op tdoa_locate), to check an identification the engine asks about (identity_checks: licensed traffic
    # taken for its station more on the prior than on the levels), the order's lead time and the target
    # segment's length
    tdoa_on_open: bool = False
    tdoa_identity_checks: bool = False
    tdoa_lead_s: float = 3.0
    tdoa_target_s: float = 1.0
    # rules engine thresholds (EngineConfig field -> value), from the [engine] table
    engine: Mapping[str, float | bool | int] = field(default_factory=dict)
    # cross-province tasking policy per owner province (province -> {"mode", "daily_quota"}), [tasking.<PROV>]
    tasking: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    # coordination request policy ([coordination]: answer_days, reminder_days, silence_means, step_km)
    coordination: Mapping[str, Any] = field(default_factory=dict)
    # monitoring profiles served at Hello (empty: built from the rules bands)
    profiles: tuple[MonitoringProfile, ...] = field(default_factory=tuple)

    def with_overrides(self, **overrides: Any) -> ServerConfig:
        """A copy where every non-None override replaces the field (flags win over the file)."""
        clean = {k: v for k, v in overrides.items() if v is not None}
        unknown = set(clean) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise ConfigError("(flags)", ", ".join(sorted(unknown)), None, "unknown server setting")
        for k in ("data_dir", "stations", "rules", "keys_dir"):
            if k in clean:
                clean[k] = Path(clean[k])
        return dataclasses.replace(self, **clean)


# section -> {toml key: (field name, type)}
_KEYS: dict[str, dict[str, tuple[str, type]]] = {
    "server": {"data_dir": ("data_dir", Path), "sensors_addr": ("sensors_addr", str),
               "api_addr": ("api_addr", str), "pub_addr": ("pub_addr", str),
               "stations": ("stations", Path), "rules": ("rules", Path), "insecure": ("insecure", bool),
               "keys_dir": ("keys_dir", Path)},
    "ingest": {"batch_max_messages": ("batch_max_messages", int), "api_max_requests": ("api_max_requests", int),
               "poll_timeout_ms": ("poll_timeout_ms", int), "tick_interval_s": ("tick_interval_s", float),
               "counters_flush_s": ("counters_flush_s", float), "publish_spectra": ("publish_spectra", bool),
               "max_past_s": ("max_past_s", float), "max_future_s": ("max_future_s", float),
               "max_per_sensor": ("max_per_sensor", int)},
    "storage": {"compression": ("compression", str), "chunk_rows": ("chunk_rows", int),
                "max_open_files": ("max_open_files", int), "fsync": ("fsync", bool),
                "max_rows": ("archive_max_rows", int), "max_delay_s": ("archive_max_delay_s", float),
                "max_layouts_per_day": ("archive_max_layouts", int), "learnt_save_s": ("learnt_save_s", float)},
    "status": {"late_factor": ("late_factor", float), "down_factor": ("down_factor", float)},
    "evidence": {"capture": ("evidence_capture", bool), "duration_s": ("evidence_duration_s", float),
                 "sample_rate_hz": ("evidence_sample_rate_hz", float),
                 "max_pending_mb": ("evidence_max_pending_mb", float),
                 "max_unsolicited_mb": ("evidence_max_unsolicited_mb", float),
                 "max_age_s": ("evidence_max_age_s", float)},
    "tdoa": {"on_open": ("tdoa_on_open", bool), "identity_checks": ("tdoa_identity_checks", bool),
             "lead_s": ("tdoa_lead_s", float),
             "target_s": ("tdoa_target_s", float)},
}

_RANGES: dict[str, tuple[float, float]] = {
    "batch_max_messages": (1, 100_000), "api_max_requests": (1, 10_000), "poll_timeout_ms": (1, 10_000),
    "tick_interval_s": (0.01, 3600), "counters_flush_s": (0.1, 86400), "chunk_rows": (1, 100_000),
    "max_open_files": (1, 100_000), "archive_max_rows": (1, 100_000), "archive_max_delay_s": (0.0, 60.0),
    "late_factor": (1.0, 1e6), "down_factor": (1.0, 1e6),
    "evidence_duration_s": (0.001, 60.0), "evidence_sample_rate_hz": (1e3, 1e8),
    "max_per_sensor": (1, 100_000), "max_past_s": (60.0, 10 * 366 * 86400.0), "max_future_s": (1.0, 86400.0),
    "archive_max_layouts": (1, 100_000), "learnt_save_s": (0.1, 86400.0),
    "evidence_max_pending_mb": (1.0, 1e6), "evidence_max_unsolicited_mb": (0.0, 1e6),
    "evidence_max_age_s": (60.0, 366 * 86400.0),
    "tdoa_lead_s": (0.5, 600.0), "tdoa_target_s": (0.01, 10.0),
}

COMPRESSIONS = ("lzf", "gzip", "none")


#: ServerConfig field -> its place in server.toml (errors name what the user wrote)
_TOML_KEY = {fname: f"{section}.{key}" for section, keys in _KEYS.items() for key, (fname, _) in keys.items()}


def _read(t: TomlTable, key: str, typ: type, base: Path) -> Any:
    if typ is bool:
        return t.bool_(key)
    if typ is int:
        return t.int_(key)
    if typ is float:
        return t.num(key)
    if typ is Path:
        return t.path_(key, base)
    return t.str_(key)


def validate(cfg: ServerConfig, source: str = "server config") -> ServerConfig:
    """Check ranges and choices; return the config unchanged or raise ConfigError naming the field."""

    def fail(name: str, value: Any, problem: str) -> ConfigError:
        return ConfigError(source, _TOML_KEY.get(name, name), value, problem)

    for name, (lo, hi) in _RANGES.items():
        v = getattr(cfg, name)
        if not lo <= v <= hi:
            raise fail(name, v, f"must be within [{lo:g}, {hi:g}]")
    if cfg.compression not in COMPRESSIONS:
        raise fail("compression", cfg.compression, f"must be one of {', '.join(COMPRESSIONS)}")
    if cfg.down_factor < cfg.late_factor:
        raise fail("down_factor", cfg.down_factor, f"must be >= late_factor ({cfg.late_factor:g})")
    for name in ("sensors_addr", "api_addr", "pub_addr"):
        addr = getattr(cfg, name)
        if not addr.startswith(("tcp://", "ipc://", "inproc://")):
            raise fail(name, addr, "must start with tcp://, ipc:// or inproc://")
    names = [p.name for p in cfg.profiles]
    if len(set(names)) != len(names):
        raise ConfigError(source, "profile", None, f"duplicate profile names in {names}")
    return cfg


def parse_config(data: Mapping[str, Any], path: Path) -> ServerConfig:
    """Build a ServerConfig from an already-parsed TOML mapping (``path`` names it in errors)."""
    base = path.parent
    doc = TomlTable(data, path, error=ConfigError)
    known = [*_KEYS, "engine", "profile", "tasking", "coordination"]
    doc.check_unknown(known, hint=f"unknown section (known: {', '.join(sorted(known))})")
    values: dict[str, Any] = {}
    for section, keys in _KEYS.items():
        t = doc.table(section, required=False)
        t.check_unknown(keys)
        for key in t.keys():
            fname, typ = keys[key]
            values[fname] = _read(t, key, typ, base)
    engine = doc.table("engine", required=False)
    for key in engine.keys():
        v = engine.data[key]
        if not isinstance(v, int | float | bool):
            raise engine.fail(key, v, "must be a number or true/false (a rules engine setting)")
    values["engine"] = dict(engine.data)
    values["tasking"] = _tasking_policies(doc.table("tasking", required=False))
    values["coordination"] = _request_policy(doc.table("coordination", required=False))
    profiles = []
    defaults = MonitoringProfile(name="x", f_start_hz=1e8, f_stop_hz=1.1e8, bin_hz=1e3).to_dict()
    for i, t in enumerate(doc.tables("profile")):
        try:
            profiles.append(MonitoringProfile.from_dict(defaults | dict(t.data)))
        except (ProtocolError, TypeError) as exc:
            raise doc.fail(f"profile[{i}]", None, str(exc)) from exc
    values["profiles"] = tuple(profiles)
    values.setdefault("insecure", False)  # a config file means CURVE unless it says insecure = true
    return validate(ServerConfig(**values), str(path))


def load_config(path: Path | None = None, **overrides: Any) -> ServerConfig:
    """Read ``server.toml`` (or use defaults when ``path`` is None) and apply flag overrides."""
    if path is None:
        cfg = ServerConfig(insecure=False)  # the command line is secure unless --insecure
        source = "defaults"
    else:
        path = Path(path)
        cfg = parse_config(read_toml(path, ConfigError).data, path)
        source = str(path)
    return validate(cfg.with_overrides(**overrides), source)


def _request_policy(table: TomlTable) -> dict[str, Any]:
    """``[coordination]``: the request policy's keys, checked as RequestPolicy does."""
    from coordination.coordination_requests import RequestError, RequestPolicy

    table.check_unknown(("answer_days", "reminder_days", "silence_means", "step_km"))
    values = dict(table.data)
    try:
        RequestPolicy(**values)
    except (RequestError, TypeError) as exc:
        raise table.fail(next(iter(values), "coordination"), values, str(exc)) from exc
    return values


def _tasking_policies(table: TomlTable) -> dict[str, dict[str, Any]]:
    """``[tasking.<PROV>]`` tables: mode (auto | operator) and daily_quota, checked as TaskingPolicy does."""
    from coordination.tasking import TaskingError, TaskingPolicy

    out: dict[str, dict[str, Any]] = {}
    for prov in table.keys():
        pol = table.data[prov]
        if not isinstance(pol, dict) or set(pol) - {"mode", "daily_quota"}:
            raise table.fail(prov, pol, "a province's tasking policy takes mode and daily_quota only")
        try:
            TaskingPolicy(str(prov), **pol)
        except (TaskingError, TypeError) as exc:
            raise table.fail(prov, pol, str(exc)) from exc
        out[str(prov)] = dict(pol)
    return out
