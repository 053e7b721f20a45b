"""``sensor.toml`` -> a typed, validated :class:`SensorConfig`, parsed once at the edge.

Every error names the file, the key and the offending value (STYLE.md: errors for people), so a
station engineer can fix the file without reading code. Relative paths (spool directory, key
file, scenario) are resolved against the config file's folder, so a config works from any
working directory.

Example::

    [sensor]
    id = "ZJ-JX-01"
    province = "ZJ"
    lat = 30.75
    lon = 120.75
    height_m = 15.0

    [antenna]
    factor_db_m = 12.0          # field strength dBuV/m = dBm + 107 + factor
    full_scale_dbm = -10.0      # calibration (hardware): antenna-port dBm reading 0 dBFS at 0 dB gain

    [source]
    uri = "sim:scenario.toml?sensor=ZJ-JX-01"

    [server]
    address = "tcp://127.0.0.1:5560"
    # server_public_key = "keys/server.key"   # CurveZMQ: Z85 key or the server certificate file
    # secret_key_file = "keys/ZJ-JX-01.key_secret"

    [spool]
    dir = "spool"
    quota_mb = 512

    [[profiles]]                # optional local fallback; default: sdr.profiles.DEFAULT_PROFILES
    name = "uhf_pmr446"
    f_start_hz = 446.0e6
    ...
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from coordination.protocol import MonitoringProfile, ProtocolError
from sdr.profiles import DEFAULT_PROFILES
from tomlconf import MISSING, TomlError, TomlTable, read_toml

_SENSOR_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
_PROVINCE_RE = re.compile(r"^[A-Z]{2,8}$")
_ENDPOINT_RE = re.compile(r"^(tcp|ipc|inproc)://\S+$")
_Z85_KEY_RE = re.compile(r"^[0-9A-Za-z.\-:+=^!/*?&<>()\[\]{}@%$#]{40}$")


class ConfigError(TomlError):
    """A sensor config problem; the message names file, key and value."""


@dataclass(frozen=True)
class SensorConfig:
    """Everything a sensor daemon needs, validated."""

    sensor_id: str
    province: str
    lat: float
    lon: float
    height_m: float
    antenna_factor_db_m: float
    #: Hardware calibration: antenna-port dBm that reads 0 dBFS at 0 dB RF gain (None: nominal, or the
    #: source knows its level, as the simulator does).
    full_scale_dbm: float | None
    source_uri: str
    server_address: str
    server_public_key: str | None
    secret_key_file: Path | None
    spool_dir: Path
    spool_quota_bytes: int
    spool_synchronous: str
    heartbeat_interval_s: float
    resend_timeout_s: float
    inflight_window: int
    profiles: tuple[MonitoringProfile, ...]
    config_path: Path | None = None
    #: How the host's clock is disciplined: "ntp" (a TDOA snapshot needs the reference broadcaster) or
    #: "gps_pps" (a PPS-disciplined receiver clock: it may skip the reference), and its 1-sigma error (s).
    time_discipline: str = "ntp"
    time_sigma_s: float = 0.01

    @property
    def spool_path(self) -> Path:
        """The spool database file."""
        return self.spool_dir / f"{self.sensor_id}.spool.sqlite"


def _resolve(base: Path, p: str) -> Path:
    path = Path(p).expanduser()
    return path if path.is_absolute() else (base / path)


def _server_key_from_file(r: TomlTable, value: str, path: Path) -> str:
    """The server's public key from its certificate file (``KEYS/server.key``, as ``borderwatch keys`` writes)."""
    import zmq.auth

    try:
        public, _ = zmq.auth.load_certificate(str(path))
    except (OSError, ValueError) as exc:
        raise r.fail("server_public_key", value, "must be a 40-character Z85 CurveZMQ public key or the path of "
                     f"the server's certificate file (server.key): {exc}") from exc
    return public.decode() if isinstance(public, bytes) else str(public)


def _parse_profiles(path: Path, raw: Any) -> tuple[MonitoringProfile, ...]:
    if raw is None:
        return DEFAULT_PROFILES
    if not isinstance(raw, list) or not raw:
        raise ConfigError(path, "profiles", raw, "must be a non-empty array of tables ([[profiles]])")
    out = []
    names = set()
    for i, entry in enumerate(raw):
        if not isinstance(entry, dict):
            raise ConfigError(path, f"profiles[{i}]", entry, "must be a table")
        merged = MonitoringProfile(name="x", f_start_hz=1e6, f_stop_hz=2e6, bin_hz=1e3).to_dict()
        unknown = set(entry) - set(merged)
        if unknown:
            k = sorted(unknown)[0]
            raise ConfigError(path, f"profiles[{i}].{k}", entry[k], "unknown profile key")
        for k in ("name", "f_start_hz", "f_stop_hz", "bin_hz"):
            if k not in entry:
                raise ConfigError(path, f"profiles[{i}].{k}", MISSING, "required key is missing")
        merged.update(entry)
        try:
            prof = MonitoringProfile.from_dict(merged)
        except ProtocolError as exc:
            m = re.search(r"(\w+_hz|\w+_s|\w+_db|name|detector|window|overlap|crop)\b", exc.detail)
            key = m.group(1) if m else "?"
            raise ConfigError(path, f"profiles[{i}].{key}", merged.get(key), exc.detail) from exc
        if prof.name in names:
            raise ConfigError(path, f"profiles[{i}].name", prof.name, "duplicate profile name")
        names.add(prof.name)
        out.append(prof)
    return tuple(out)


def parse_config(data: Mapping[str, Any], path: str | Path = "<config>", base_dir: Path | None = None) -> SensorConfig:
    """Validate an already-parsed TOML mapping (``path`` only labels errors)."""
    path = Path(path)
    base = base_dir if base_dir is not None else (path.parent if path.name else Path.cwd())
    top = TomlTable(data, path, error=ConfigError)
    top.check_unknown({"sensor", "antenna", "source", "server", "spool", "daemon", "profiles", "clock"})

    s = top.table("sensor")
    s.check_unknown({"id", "province", "lat", "lon", "height_m"})
    sensor_id = s.str_("id", _SENSOR_ID_RE, "must be 1-64 characters of letters, digits, '_', '.', '-'")
    province = s.str_("province", _PROVINCE_RE, "must be an upper-case province code such as SH, JS, ZJ, AH")
    lat = s.num("lat", -90.0, 90.0)
    lon = s.num("lon", -180.0, 180.0)
    height_m = s.num("height_m", -100.0, 2000.0, default=10.0)

    a = top.table("antenna", required=False)
    a.check_unknown({"factor_db_m", "full_scale_dbm"})
    factor = a.num("factor_db_m", -60.0, 80.0, default=0.0)
    full_scale = a.num_or_none("full_scale_dbm", -200.0, 100.0)

    src = top.table("source")
    src.check_unknown({"uri"})
    uri = src.str_("uri", re.compile(r"^(rtlsdr|rtltcp|file|sim):"),
                   "must start with rtlsdr:, rtltcp:, file: or sim:")
    if uri.startswith(("file:", "sim:")):  # make relative file paths relative to the config file
        scheme, rest = uri.split(":", 1)
        file_part, sep, query = rest.partition("?")
        if file_part and not file_part.startswith("/"):
            uri = f"{scheme}:{_resolve(base, file_part)}{sep}{query}"

    srv = top.table("server")
    srv.check_unknown({"address", "server_public_key", "secret_key_file"})
    address = srv.str_("address", _ENDPOINT_RE, "must be a ZeroMQ endpoint such as tcp://127.0.0.1:5560")
    spk = srv.str_or_none("server_public_key")
    if spk is not None and not _Z85_KEY_RE.match(spk):
        spk = _server_key_from_file(srv, spk, _resolve(base, spk))
    skf = srv.str_or_none("secret_key_file")
    secret_key_file = _resolve(base, skf) if skf else None
    if secret_key_file is not None and not secret_key_file.is_file():
        raise srv.fail("secret_key_file", skf, f"no such file ({secret_key_file}); make keys with "
                       "'borderwatch keys new SENSOR_ID --role sensor'")
    if (spk is None) != (secret_key_file is None):
        raise srv.fail("secret_key_file" if spk else "server_public_key", skf if spk else spk,
                       "server_public_key and secret_key_file go together (CurveZMQ needs both)")

    sp = top.table("spool", required=False)
    sp.check_unknown({"dir", "quota_mb", "synchronous"})
    spool_dir = _resolve(base, sp.str_("dir", default="spool"))
    quota_mb = sp.num("quota_mb", 0.01, 10_000_000.0, default=512.0)
    sync = sp.str_("synchronous", default="full")
    if sync.upper() not in ("FULL", "NORMAL"):
        raise sp.fail("synchronous", sync, "must be 'full' or 'normal'")

    d = top.table("daemon", required=False)
    d.check_unknown({"heartbeat_s", "resend_timeout_s", "window"})
    heartbeat = d.num("heartbeat_s", 0.1, 86400.0, default=10.0)
    resend = d.num("resend_timeout_s", 0.05, 3600.0, default=5.0)
    window = d.int_("window", 1, 100_000, default=64)

    ck = top.table("clock", required=False)
    ck.check_unknown({"discipline", "sigma_s"})
    discipline = ck.str_("discipline", default="ntp")
    if discipline not in ("ntp", "gps_pps"):
        raise ck.fail("discipline", discipline, "must be 'ntp' or 'gps_pps'")
    time_sigma = ck.num("sigma_s", 1e-10, 10.0, default=0.01 if discipline == "ntp" else 5e-8)

    return SensorConfig(
        sensor_id=sensor_id, province=province, lat=lat, lon=lon, height_m=height_m,
        antenna_factor_db_m=factor, full_scale_dbm=full_scale, source_uri=uri, server_address=address,
        server_public_key=spk, secret_key_file=secret_key_file, spool_dir=spool_dir,
        spool_quota_bytes=int(quota_mb * 1024 * 1024), spool_synchronous=sync.upper(),
        heartbeat_interval_s=heartbeat, resend_timeout_s=resend, inflight_window=window,
        profiles=_parse_profiles(path, data.get("profiles")), config_path=path if path.name else None,
        time_discipline=discipline, time_sigma_s=time_sigma,
    )


def load_config(path: str | Path) -> SensorConfig:
    """Read and validate ``sensor.toml``; raises ConfigError naming file, key and value."""
    path = Path(path)
    return parse_config(read_toml(path, ConfigError).data, path, base_dir=path.resolve().parent)
