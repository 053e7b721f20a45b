"""Reading TOML files (configs, rules, scenarios) into validated values, with errors that name the
file, the table and the key. Imports nothing of ours: every package may use it."""

from tomlconf.tables import MISSING, TomlError, TomlTable, parse_toml, read_toml

__all__ = ["MISSING", "TomlError", "TomlTable", "parse_toml", "read_toml"]
