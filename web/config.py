"""The ``[web]`` table of a TOML config file, parsed once into a typed value.

    [web]
    listen = "0.0.0.0"          # address to serve on
    port = 8443
    cert_file = "tls/web.crt"     # PEM certificate (the centre's own, or made by --self-signed)
    key_file = "tls/web.key"
    tokens_dir = "web-tokens"     # team tokens (borderwatch web token new ...)
    api = "tcp://127.0.0.1:5561"  # the server's API socket
    pub = "tcp://127.0.0.1:5562"  # the server's PUB socket (live updates)
    keys_dir = "keys"             # CurveZMQ client keys for the API/PUB (omit for plain TCP)
    key_name = "web"              # which client key in keys_dir
    provinces = ["SH", "JS", "ZJ", "AH"]   # whose live alerts this web server subscribes to

Relative paths are relative to the config file. Errors name the file, the key and the value.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class WebConfigError(ValueError):
    """A bad ``[web]`` value; the message names file, key and value."""


@dataclass(frozen=True)
class WebConfig:
    listen: str = "127.0.0.1"
    port: int = 8443
    cert_file: Path = Path("tls/web.crt")
    key_file: Path = Path("tls/web.key")
    tokens_dir: Path = Path("web-tokens")
    api: str = "tcp://127.0.0.1:5561"
    pub: str = "tcp://127.0.0.1:5562"
    keys_dir: Path | None = None
    key_name: str | None = None
    provinces: tuple[str, ...] = ("SH", "JS", "ZJ", "AH")


def load_web_config(path: Path | str) -> WebConfig:
    p = Path(path)
    try:
        doc = tomllib.loads(p.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise WebConfigError(f"{p}: cannot read ({exc})") from exc
    table = doc.get("web", {})
    if not isinstance(table, dict):
        raise WebConfigError(f"{p}: [web] must be a table")
    return parse_web_table(table, p)


def parse_web_table(table: dict[str, Any], source: Path) -> WebConfig:
    base = source.parent
    known = set(WebConfig.__dataclass_fields__)
    for key in table:
        if key not in known:
            raise WebConfigError(f"{source}: [web] {key} is not a known key (known: {', '.join(sorted(known))})")

    def s(key: str, default: str | None) -> str | None:
        v = table.get(key, default)
        if v is not None and (not isinstance(v, str) or not v):
            raise WebConfigError(f"{source}: [web] {key} = {v!r} must be a non-empty string")
        return v

    def path(key: str, default: Path | None) -> Path | None:
        v = s(key, None)
        if v is None:
            return default
        q = Path(v)
        return q if q.is_absolute() else base / q

    port = table.get("port", 8443)
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise WebConfigError(f"{source}: [web] port = {port!r} must be an integer 1..65535")
    provinces = table.get("provinces", list(WebConfig.provinces))
    if not isinstance(provinces, list) or not all(isinstance(x, str) and x.isalnum() and x.isupper()
                                                  for x in provinces):
        raise WebConfigError(f"{source}: [web] provinces = {provinces!r} must be a list of codes like \"JS\"")
    d = WebConfig()
    return WebConfig(listen=s("listen", d.listen) or d.listen, port=port,
                     cert_file=path("cert_file", d.cert_file) or d.cert_file,
                     key_file=path("key_file", d.key_file) or d.key_file,
                     tokens_dir=path("tokens_dir", d.tokens_dir) or d.tokens_dir,
                     api=s("api", d.api) or d.api, pub=s("pub", d.pub) or d.pub,
                     keys_dir=path("keys_dir", None), key_name=s("key_name", None), provinces=tuple(provinces))
