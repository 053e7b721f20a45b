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
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from station_db.models import SERVICES
from tomlconf import TomlError, TomlTable, parse_toml, read_toml

DEFAULT_RULES_RESOURCE = "rules.toml"
"""The shipped defaults, in the package's ``data`` folder."""

_FREQ_UNITS_HZ = {"hz": 1.0, "khz": 1e3, "mhz": 1e6, "ghz": 1e9}
_FREQ_KEYS = ("f_lo", "f_hi", "raster", "channel_width")
_OTHER_KEYS = {"name", "service", "border_limit_dbuv_m", "time_pct", "margin_db", "priority", "safety"}
_REQUIRED_OTHER = ("name", "service", "border_limit_dbuv_m", "time_pct", "margin_db", "priority")


class RulesError(TomlError):
    """A rules file is unreadable or a value breaks a rule; names the file, key and value."""

    @property
    def file(self) -> str:
        return self.path

    @property
    def message(self) -> str:
        return self.problem


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
    return _rules(read_toml(path, RulesError))


def parse_rules(text: str, source: str = "<string>") -> RuleSet:
    """Validate TOML text into a :class:`RuleSet`; raise :class:`RulesError` on the first problem."""
    return _rules(parse_toml(text, source, RulesError))


def _rules(doc: TomlTable) -> RuleSet:
    doc.check_unknown({"version", "band"}, hint="unknown top-level key (expected version, band)")
    version = doc.raw("version", None)
    if not isinstance(version, str) or not version.strip():
        raise doc.fail("version", version, "a non-empty version string is required")
    bands = [_parse_band(t) for t in doc.tables("band", required=True)]
    _check_unique_names(str(doc.path), bands)
    ordered = sorted(enumerate(bands), key=lambda ib: ib[1].f_lo_hz)
    for (_, a), (j, b) in itertools.pairwise(ordered):
        if b.f_lo_hz < a.f_hi_hz:
            raise doc.fail(
                f"band[{j}].f_lo", b.f_lo_hz / 1e6,
                f"band {b.name!r} ({b.f_lo_hz / 1e6:g}-{b.f_hi_hz / 1e6:g} MHz) overlaps band {a.name!r} "
                f"({a.f_lo_hz / 1e6:g}-{a.f_hi_hz / 1e6:g} MHz)",
            )
    return RuleSet(version=version.strip(), bands=tuple(b for _, b in ordered), source=str(doc.path))


def _check_unique_names(source: str, bands: list[BandRule]) -> None:
    seen: set[str] = set()
    for i, band in enumerate(bands):
        if band.name in seen:
            raise RulesError(source, f"band[{i}].name", band.name, "duplicate band name")
        seen.add(band.name)


def _parse_band(t: TomlTable) -> BandRule:
    for key in t.keys():
        base, _, unit = key.rpartition("_")
        if key in _OTHER_KEYS or (base in _FREQ_KEYS and unit in _FREQ_UNITS_HZ):
            continue
        hint = ""
        if key in _FREQ_KEYS:
            hint = f"; a frequency needs its unit in the key, e.g. {key}_mhz or {key}_khz"
        raise t.fail(key, t.data[key], f"unknown key{hint}")
    freqs = {base: _frequency_hz(t, base) for base in _FREQ_KEYS}
    for key in _REQUIRED_OTHER:
        t.raw(key)
    name = t.str_("name").strip()
    if not name:
        raise t.fail("name", t.data["name"], "must be a non-empty string")
    service = t.str_("service").strip()
    if service not in SERVICES:
        raise t.fail("service", service, f"unknown service; use one of {', '.join(SERVICES)}")
    f_lo, f_hi = freqs["f_lo"], freqs["f_hi"]
    if not 9e3 <= f_lo < f_hi <= 3e12:
        raise t.fail("f_hi", f_hi / 1e6, "need 9 kHz <= f_lo < f_hi <= 3000 GHz")
    raster, width = freqs["raster"], freqs["channel_width"]
    if not 0.0 < raster <= f_hi - f_lo:
        raise t.fail("raster", raster / 1e3, "raster must be > 0 and fit in the band (kHz)")
    if not 0.0 < width <= f_hi - f_lo:
        raise t.fail("channel_width", width / 1e3, "channel width must be > 0 and fit the band")
    limit = t.num("border_limit_dbuv_m", -40.0, 120.0)
    time_pct = t.num("time_pct", 1.0, 50.0)  # P.1546 covers 1-50 % of time
    margin = t.num("margin_db", 0.0, 60.0)
    priority = t.raw("priority")
    if isinstance(priority, bool) or not isinstance(priority, int) or not 1 <= priority <= 9:
        raise t.fail("priority", priority, "must be an integer 1 (highest) .. 9")
    safety = t.bool_("safety", default=False)
    return BandRule(name, service, f_lo, f_hi, raster, width, limit, time_pct, margin, priority, safety)


def _frequency_hz(t: TomlTable, base: str) -> float:
    given = [(f"{base}_{unit}", scale) for unit, scale in _FREQ_UNITS_HZ.items() if f"{base}_{unit}" in t]
    if not given:
        raise t.fail(f"{base}_mhz", None, f"missing (give {base} with a unit: _hz/_khz/_mhz/_ghz)")
    if len(given) > 1:
        key = given[1][0]
        raise t.fail(key, t.data[key], f"{base} given twice with different units")
    key, scale = given[0]
    value = t.data[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise t.fail(key, value, "must be a number (the unit is in the key name)")
    return float(value) * scale
