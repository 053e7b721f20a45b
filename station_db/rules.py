"""Coordination rules: the per-band principles the provinces agreed on, from a versioned TOML file.

Parsed once at the edge into typed, validated :class:`BandRule` values so the rules engine,
the border check and the console never read raw TOML. Frequencies carry their unit in the key
(``f_lo_mhz``, ``raster_khz``); a bare number with no unit is refused, because a rules file with
a frequency off by a factor of 1000 would silently disable monitoring of a band.
"""

from __future__ import annotations

import bisect
import itertools
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from station_db.models import SERVICES

DEFAULT_RULES_RESOURCE = "rules.toml"
"""The shipped defaults, in the package's ``data`` folder."""

_FREQ_UNITS_HZ = {"hz": 1.0, "khz": 1e3, "mhz": 1e6, "ghz": 1e9}
_FREQ_KEYS = ("f_lo", "f_hi", "raster", "channel_width")
_OTHER_KEYS = {"name", "service", "border_limit_dbuv_m", "time_pct", "margin_db", "priority", "safety"}
_REQUIRED_OTHER = ("name", "service", "border_limit_dbuv_m", "time_pct", "margin_db", "priority")


class RulesError(ValueError):
    """A rules file is unreadable or a value breaks a rule; names the file, key and value."""

    def __init__(self, file: str, key: str, value: Any, message: str) -> None:
        self.file = file
        self.key = key
        self.value = value
        self.message = message
        shown = "" if value is None else f" = {value!r}"
        super().__init__(f"{file}: {key}{shown}: {message}")


@dataclass(frozen=True)
class BandRule:
    """The agreed coordination parameters of one band.

    Channel centres sit on the raster counted from ``f_lo_hz`` and lie in ``[f_lo_hz, f_hi_hz)``.
    """

    name: str
    service: str
    f_lo_hz: float
    f_hi_hz: float
    raster_hz: float
    channel_width_hz: float
    border_limit_dbuv_m: float
    time_pct: float
    margin_db: float
    priority: int
    safety: bool = False

    @property
    def n_channels(self) -> int:
        """Number of raster positions in the band."""
        return max(1, math.ceil((self.f_hi_hz - self.f_lo_hz) / self.raster_hz - 1e-9))

    def contains(self, freq_hz: float) -> bool:
        """True when ``freq_hz`` lies in ``[f_lo_hz, f_hi_hz)``."""
        return self.f_lo_hz <= freq_hz < self.f_hi_hz

    def channel_centers_hz(self) -> np.ndarray:
        """Every channel centre of the band (float64, Hz, ascending)."""
        return self.f_lo_hz + self.raster_hz * np.arange(self.n_channels, dtype=np.float64)

    def channel_of(self, freq_hz: float) -> int | None:
        """Index (into :meth:`channel_centers_hz`) of the channel nearest ``freq_hz``; None outside."""
        if not self.contains(freq_hz):
            return None
        k = round((freq_hz - self.f_lo_hz) / self.raster_hz)
        return min(max(k, 0), self.n_channels - 1)

    def channel_center_hz(self, freq_hz: float) -> float | None:
        """Centre frequency of the channel nearest ``freq_hz``; None outside the band."""
        k = self.channel_of(freq_hz)
        return None if k is None else self.f_lo_hz + k * self.raster_hz


@dataclass(frozen=True)
class RuleSet:
    """All bands of one rules file, sorted by frequency, with the file's version and origin."""

    version: str
    bands: tuple[BandRule, ...]
    source: str = DEFAULT_RULES_RESOURCE

    def band_for(self, freq_hz: float) -> BandRule | None:
        """The band containing ``freq_hz`` (bands never overlap), or None."""
        i = bisect.bisect_right([b.f_lo_hz for b in self.bands], freq_hz) - 1
        if i >= 0 and self.bands[i].contains(freq_hz):
            return self.bands[i]
        return None

    def by_name(self, name: str) -> BandRule:
        """The band called ``name``; KeyError when there is none."""
        for band in self.bands:
            if band.name == name:
                return band
        raise KeyError(name)


def load_rules(path: str | Path | None = None) -> RuleSet:
    """Load and validate a rules file; ``None`` loads the shipped defaults."""
    if path is None:
        ref = resources.files("station_db").joinpath("data", DEFAULT_RULES_RESOURCE)
        return parse_rules(ref.read_text(encoding="utf-8"), source=f"<defaults>/{DEFAULT_RULES_RESOURCE}")
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise RulesError(str(p), "(file)", None, f"cannot read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise RulesError(str(p), "(file)", None, f"not UTF-8 text: {exc}") from exc
    return parse_rules(text, source=str(p))


def parse_rules(text: str, source: str = "<string>") -> RuleSet:
    """Validate TOML text into a :class:`RuleSet`; raise :class:`RulesError` on the first problem."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RulesError(source, "(syntax)", None, f"not valid TOML: {exc}") from exc
    unknown = sorted(set(doc) - {"version", "band"})
    if unknown:
        raise RulesError(source, unknown[0], doc[unknown[0]], "unknown top-level key (expected version, band)")
    version = doc.get("version")
    if not isinstance(version, str) or not version.strip():
        raise RulesError(source, "version", version, "a non-empty version string is required")
    tables = doc.get("band")
    if not isinstance(tables, list) or not tables:
        raise RulesError(source, "band", None, "at least one [[band]] table is required")
    bands = [_parse_band(source, i, t) for i, t in enumerate(tables)]
    _check_unique_names(source, bands)
    ordered = sorted(enumerate(bands), key=lambda ib: ib[1].f_lo_hz)
    for (_, a), (j, b) in itertools.pairwise(ordered):
        if b.f_lo_hz < a.f_hi_hz:
            raise RulesError(
                source, f"band[{j}].f_lo", b.f_lo_hz / 1e6,
                f"band {b.name!r} ({b.f_lo_hz / 1e6:g}-{b.f_hi_hz / 1e6:g} MHz) overlaps band {a.name!r} "
                f"({a.f_lo_hz / 1e6:g}-{a.f_hi_hz / 1e6:g} MHz)",
            )
    return RuleSet(version=version.strip(), bands=tuple(b for _, b in ordered), source=source)


def _check_unique_names(source: str, bands: list[BandRule]) -> None:
    seen: set[str] = set()
    for i, band in enumerate(bands):
        if band.name in seen:
            raise RulesError(source, f"band[{i}].name", band.name, "duplicate band name")
        seen.add(band.name)


def _parse_band(source: str, index: int, table: Any) -> BandRule:
    where = f"band[{index}]"
    if not isinstance(table, Mapping):
        raise RulesError(source, where, None, "each band must be a [[band]] table")
    for key in table:
        base, _, unit = key.rpartition("_")
        if key in _OTHER_KEYS or (base in _FREQ_KEYS and unit in _FREQ_UNITS_HZ):
            continue
        hint = ""
        if key in _FREQ_KEYS:
            hint = f"; a frequency needs its unit in the key, e.g. {key}_mhz or {key}_khz"
        raise RulesError(source, f"{where}.{key}", table[key], f"unknown key{hint}")
    freqs = {base: _frequency_hz(source, where, table, base) for base in _FREQ_KEYS}
    for key in _REQUIRED_OTHER:
        if key not in table:
            raise RulesError(source, f"{where}.{key}", None, "missing")
    name = _string(source, where, table, "name")
    service = _string(source, where, table, "service")
    if service not in SERVICES:
        raise RulesError(source, f"{where}.service", service, f"unknown service; use one of {', '.join(SERVICES)}")
    f_lo, f_hi = freqs["f_lo"], freqs["f_hi"]
    if not 9e3 <= f_lo < f_hi <= 3e12:
        raise RulesError(source, f"{where}.f_hi", f_hi / 1e6, "need 9 kHz <= f_lo < f_hi <= 3000 GHz")
    raster, width = freqs["raster"], freqs["channel_width"]
    if not 0.0 < raster <= f_hi - f_lo:
        raise RulesError(source, f"{where}.raster", raster / 1e3, "raster must be > 0 and fit in the band (kHz)")
    if not 0.0 < width <= f_hi - f_lo:
        raise RulesError(source, f"{where}.channel_width", width / 1e3, "channel width must be > 0 and fit the band")
    limit = _number(source, where, table, "border_limit_dbuv_m", -40.0, 120.0)
    time_pct = _number(source, where, table, "time_pct", 1.0, 50.0)  # P.1546 covers 1-50 % of time
    margin = _number(source, where, table, "margin_db", 0.0, 60.0)
    priority = table["priority"]
    if isinstance(priority, bool) or not isinstance(priority, int) or not 1 <= priority <= 9:
        raise RulesError(source, f"{where}.priority", priority, "must be an integer 1 (highest) .. 9")
    safety = table.get("safety", False)
    if not isinstance(safety, bool):
        raise RulesError(source, f"{where}.safety", safety, "must be true or false")
    return BandRule(name, service, f_lo, f_hi, raster, width, limit, time_pct, margin, priority, safety)


def _frequency_hz(source: str, where: str, table: Mapping[str, Any], base: str) -> float:
    given = [(f"{base}_{unit}", scale) for unit, scale in _FREQ_UNITS_HZ.items() if f"{base}_{unit}" in table]
    if not given:
        raise RulesError(source, f"{where}.{base}_mhz", None, f"missing (give {base} with a unit: _hz/_khz/_mhz/_ghz)")
    if len(given) > 1:
        key = given[1][0]
        raise RulesError(source, f"{where}.{key}", table[key], f"{base} given twice with different units")
    key, scale = given[0]
    value = table[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise RulesError(source, f"{where}.{key}", value, "must be a number (the unit is in the key name)")
    return float(value) * scale


def _number(source: str, where: str, table: Mapping[str, Any], key: str, lo: float, hi: float) -> float:
    value = table[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise RulesError(source, f"{where}.{key}", value, "must be a number")
    if not lo <= value <= hi:
        raise RulesError(source, f"{where}.{key}", value, f"out of range {lo:g}..{hi:g}")
    return float(value)


def _string(source: str, where: str, table: Mapping[str, Any], key: str) -> str:
    value = table[key]
    if not isinstance(value, str) or not value.strip():
        raise RulesError(source, f"{where}.{key}", value, "must be a non-empty string")
    return value.strip()
