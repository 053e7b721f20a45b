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

from dataclasses import dataclass
from pathlib import Path

from tomlconf import TomlError, TomlTable, read_toml


class WebConfigError(TomlError):
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
    """The ``[web]`` table of the TOML file ``path`` (defaults for what it does not say)."""
    return parse_web_table(read_toml(path, WebConfigError).table("web", required=False))


def parse_web_table(t: TomlTable) -> WebConfig:
    """A WebConfig from the ``[web]`` table (relative paths from the file's folder)."""
    base = Path(t.path).parent
    t.check_unknown(WebConfig.__dataclass_fields__)
    d = WebConfig()
    provinces = t.raw("provinces", list(d.provinces))
    if not isinstance(provinces, list) or not all(isinstance(x, str) and x.isalnum() and x.isupper()
                                                  for x in provinces):
        raise t.fail("provinces", provinces, 'must be a list of codes like "JS"')

    def path(key: str, default: Path | None) -> Path | None:
        return t.path_(key, base) if key in t else default

    return WebConfig(listen=t.str_("listen", default=d.listen), port=t.int_("port", 1, 65535, default=d.port),
                     cert_file=path("cert_file", d.cert_file) or d.cert_file,
                     key_file=path("key_file", d.key_file) or d.key_file,
                     tokens_dir=path("tokens_dir", d.tokens_dir) or d.tokens_dir,
                     api=t.str_("api", default=d.api), pub=t.str_("pub", default=d.pub),
                     keys_dir=path("keys_dir", None), key_name=t.str_or_none("key_name"), provinces=tuple(provinces))
