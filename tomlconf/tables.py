"""One way to read a TOML file and check its tables: typed getters whose errors name file, table, key.

Every file the programs read is TOML (``sensor.toml``, ``server.toml``, the coordination rules, the
scenarios, ``web.toml``), written by people. A mistake must come back as one line that says where
and what: ``sensor.toml: spool.quota_mb = -1: must be within [0.01, 1e+07]``. :class:`TomlTable`
wraps one table of the parsed document and knows its dotted name, so its getters (``num``,
``int_``, ``str_``, ``bool_``, ``table``, ``tables``...) build that message the same way in every
reader, and :meth:`TomlTable.check_unknown` turns a mistyped key into an error instead of a silently
ignored setting.

Each reader keeps its own error class (``sdr.config.ConfigError``, ``station_db.rules.RulesError``
...) as a subclass of :class:`TomlError`, so callers catch what they caught before and the message
format is the same everywhere.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import Any

#: Default of a getter: the key is required.
MISSING: Any = object()


class TomlError(ValueError):
    """A TOML file that cannot be used: ``file: table.key = value: problem``.

    ``key`` is the dotted place in the document (``spool.quota_mb``, ``band[2].f_lo_mhz``) or
    ``(file)`` / ``(syntax)`` for the file as a whole; ``value`` is :data:`MISSING` when the key is absent.
    """

    def __init__(self, path: str | Path, key: str, value: Any, problem: str) -> None:
        self.path = str(path)
        self.key = key
        self.value = value
        self.problem = problem
        if value is MISSING:
            shown = " = (missing)"
        elif value is None:
            shown = ""
        else:
            shown = f" = {value!r}"
        super().__init__(f"{path}: {key}{shown}: {problem}")


#: Builds a reader's error from (file, dotted key, value, problem): a TomlError subclass, or a
#: factory that keeps an older error class of a reader (its message still names file and key).
ErrorFactory = Callable[[str, str, Any, str], Exception]


def parse_toml(text: str, source: str | Path, error: ErrorFactory = TomlError) -> TomlTable:
    """The root table of TOML ``text``; a syntax error names ``source`` (a file name, or ``<defaults>``)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error(str(source), "(syntax)", None, f"not valid TOML: {exc}") from exc
    return TomlTable(data, source, error=error)


def read_toml(path: str | Path, error: ErrorFactory = TomlError) -> TomlTable:
    """The root table of the TOML file ``path``; a missing, unreadable or non-UTF-8 file names itself."""
    p = Path(path)
    try:
        text = p.read_bytes().decode("utf-8")
    except OSError as exc:
        raise error(str(p), "(file)", None, f"cannot read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise error(str(p), "(file)", None, f"not UTF-8 text: {exc}") from exc
    return parse_toml(text, p, error)


class TomlTable:
    """One table of a parsed TOML document, with validating getters; errors name file, table and key."""

    def __init__(self, data: Mapping[str, Any], path: str | Path, name: str = "",
                 error: ErrorFactory = TomlError) -> None:
        self.data = data
        self.path = path
        self.name = name
        self.error = error

    def __contains__(self, key: str) -> bool:
        return key in self.data

    def keys(self) -> Collection[str]:
        return self.data.keys()

    def key(self, name: str) -> str:
        """The dotted place of ``name`` in the document."""
        return f"{self.name}.{name}" if self.name else name

    def fail(self, name: str, value: Any, problem: str) -> Exception:
        """The error for key ``name`` of this table (to raise)."""
        return self.error(str(self.path), self.key(name), value, problem)

    def raw(self, name: str, default: Any = MISSING) -> Any:
        """The value as TOML gave it; the default when absent, an error when required."""
        if name in self.data:
            return self.data[name]
        if default is MISSING:
            raise self.fail(name, MISSING, "required key is missing")
        return default

    def num(self, name: str, lo: float = -math.inf, hi: float = math.inf, default: Any = MISSING) -> float:
        """A finite number (int or float) within [lo, hi]."""
        v = self.raw(name, default)
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            raise self.fail(name, v, "must be a finite number")
        if not lo <= v <= hi:
            raise self.fail(name, v, f"must be within [{lo:g}, {hi:g}]")
        return float(v)

    def num_or_none(self, name: str, lo: float = -math.inf, hi: float = math.inf) -> float | None:
        """An optional number: None when the key is absent."""
        return None if self.data.get(name) is None else self.num(name, lo, hi)

    def int_(self, name: str, lo: int = -(2**63), hi: int = 2**63 - 1, default: Any = MISSING) -> int:
        """An integer within [lo, hi] (a float such as 5.0 is refused: the file should say 5)."""
        v = self.raw(name, default)
        if isinstance(v, bool) or not isinstance(v, int):
            raise self.fail(name, v, "must be an integer")
        if not lo <= v <= hi:
            raise self.fail(name, v, f"must be within [{lo}, {hi}]")
        return v

    def bool_(self, name: str, default: Any = MISSING) -> bool:
        """true or false."""
        v = self.raw(name, default)
        if not isinstance(v, bool):
            raise self.fail(name, v, "must be true or false")
        return v

    def str_(self, name: str, pattern: re.Pattern[str] | None = None, hint: str = "", default: Any = MISSING,
             choices: Collection[str] | None = None) -> str:
        """A non-empty string, matching ``pattern`` (``hint`` says how) or one of ``choices``."""
        v = self.raw(name, default)
        if not isinstance(v, str) or not v:
            raise self.fail(name, v, "must be a non-empty string")
        if pattern is not None and not pattern.match(v):
            raise self.fail(name, v, hint or f"must match {pattern.pattern}")
        if choices is not None and v not in choices:
            raise self.fail(name, v, f"must be one of {', '.join(choices)}")
        return v

    def str_or_none(self, name: str) -> str | None:
        """An optional non-empty string: None when the key is absent."""
        return None if self.data.get(name) is None else self.str_(name)

    def path_(self, name: str, base: Path, default: Any = MISSING) -> Path:
        """A path; a relative one is taken from ``base`` (the file's folder, so a config works anywhere)."""
        p = Path(self.str_(name, default=default)).expanduser()
        return p if p.is_absolute() else base / p

    def table(self, name: str, required: bool = True) -> TomlTable:
        """The sub-table ``[name]``; an empty one when optional and absent."""
        v = self.data.get(name, MISSING)
        if v is MISSING:
            if required:
                raise self.fail(name, MISSING, "required table is missing")
            v = {}
        if not isinstance(v, dict):
            raise self.fail(name, v, "must be a table")
        return TomlTable(v, self.path, self.key(name), self.error)

    def tables(self, name: str, required: bool = False) -> list[TomlTable]:
        """The array of tables ``[[name]]``, each named ``name[i]``; empty when optional and absent."""
        v = self.data.get(name, MISSING)
        if v is MISSING:
            if required:
                raise self.fail(name, MISSING, f"at least one [[{name}]] table is required")
            return []
        if not isinstance(v, list) or (required and not v):
            raise self.fail(name, None, f"must be an array of tables ([[{name}]])")
        out = []
        for i, entry in enumerate(v):
            if not isinstance(entry, dict):
                raise self.fail(f"{name}[{i}]", None, f"each entry must be a [[{name}]] table")
            out.append(TomlTable(entry, self.path, self.key(f"{name}[{i}]"), self.error))
        return out

    def check_unknown(self, allowed: Collection[str], hint: str = "") -> None:
        """An error for the first key not in ``allowed`` (a typo must not be silently ignored)."""
        for k in self.data:
            if k not in allowed:
                raise self.fail(k, self.data[k], hint or f"unknown key (known: {', '.join(sorted(allowed))})")
