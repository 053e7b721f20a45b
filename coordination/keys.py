"""CurveZMQ key files: create, list, revoke and read the server's allow-list.

Why a directory of certificate files: it is what ZeroMQ's own tools (czmq ``zcert``, pyzmq
``zmq.auth``) read and write, an operator can inspect it with ``cat``, copy a public key by mail,
and revoke by moving one file. The layout of a keys directory::

    KEYS/server.key                   the server's public certificate (give it to every client)
    KEYS/allowed/NAME.key             public certificates the server lets in (the allow-list)
    KEYS/revoked/NAME.key             revoked certificates (kept so rejections say "revoked")
    KEYS/private/NAME.key_secret      secret certificates, mode 0600 in a 0700 directory

Each certificate carries metadata: ``name``, ``role`` (sensor | console | team | server | centre) and,
for a province-limited team key, ``provinces`` (comma-separated codes). A secret key is never
logged, never printed, and never written with a mode other than 0600.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import zmq

from coordination.protocol import utc_now_iso

ROLES = ("sensor", "console", "team", "server", "centre")  # centre: a peer centre (federation)
SERVER_CERT = "server.key"
ALLOWED_DIR = "allowed"
REVOKED_DIR = "revoked"
PRIVATE_DIR = "private"

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
_PROVINCE_RE = re.compile(r"^[A-Z][A-Z0-9]{0,7}$")
_Z85_KEY_RE = re.compile(r"^[0-9A-Za-z.\-:+=^!/*?&<>()\[\]{}@%$#]{40}$")


class KeyFileError(Exception):
    """A key file or key operation is wrong; the message names the file and what to do."""


@dataclass(frozen=True)
class KeyInfo:
    """One certificate's public part and metadata (never the secret)."""

    name: str
    role: str
    public_key: str  # z85, 40 characters
    provinces: tuple[str, ...] = ()
    created_utc: str = ""
    status: str = "allowed"  # allowed | revoked | server
    path: Path | None = None

    @property
    def fingerprint(self) -> str:
        """A short id safe to print and log (first 8 characters of the public key)."""
        return self.public_key[:8]


@dataclass(frozen=True)
class KeyPair:
    """A client's or the server's own keys, loaded for a socket (z85 bytes)."""

    name: str
    public_key: bytes
    secret_key: bytes

    def __repr__(self) -> str:  # never show the secret, not even in a traceback
        return f"KeyPair(name={self.name!r}, public_key={self.public_key[:8]!r}...)"


@dataclass(frozen=True)
class ClientKeys:
    """What a client socket needs: its own pair and the server's public key."""

    pair: KeyPair
    server_public_key: bytes

    def apply(self, sock: zmq.Socket) -> None:
        """Make ``sock`` a CURVE client of the server (before connect)."""
        sock.curve_secretkey = self.pair.secret_key
        sock.curve_publickey = self.pair.public_key
        sock.curve_serverkey = self.server_public_key


def validate_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise KeyFileError(f"key name {name!r}: use 1-64 letters, digits, '_', '.', '-' (e.g. the sensor id)")
    return name


def parse_provinces(text: str | None) -> tuple[str, ...]:
    """``"JS,ZJ"`` -> ("JS", "ZJ"); codes are upper-case letters/digits."""
    if not text:
        return ()
    out = []
    for part in text.split(","):
        code = part.strip().upper()
        if not _PROVINCE_RE.match(code):
            raise KeyFileError(f"province {part.strip()!r}: expected a code like JS or ZJ")
        out.append(code)
    return tuple(dict.fromkeys(out))


def is_z85_key(text: str) -> bool:
    return isinstance(text, str) and bool(_Z85_KEY_RE.match(text))


# ---------------------------------------------------------------- certificate files


def _write_cert(path: Path, info: KeyInfo, secret_key: str | None) -> None:
    """Write a ZPL certificate readable by ``zmq.auth.load_certificate``; secret files are 0600."""
    kind = "Secret" if secret_key else "Public"
    lines = [f"#   ****  Generated on {info.created_utc} by borderwatch keys  ****",
             f"#   ZeroMQ CURVE **{kind}** Certificate"]
    if secret_key:
        lines.append("#   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions.")
    lines += ["", "metadata", f'    name = "{info.name}"', f'    role = "{info.role}"',
              f'    created = "{info.created_utc}"']
    if info.provinces:
        lines.append(f'    provinces = "{",".join(info.provinces)}"')
    lines += ["curve", f'    public-key = "{info.public_key}"']
    if secret_key:
        lines.append(f'    secret-key = "{secret_key}"')
    data = ("\n".join(lines) + "\n").encode()
    tmp = path.with_name(path.name + ".tmp")
    mode = 0o600 if secret_key else 0o644
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.fchmod(fd, mode)  # whatever the umask says
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def read_cert(path: Path, status: str = "allowed") -> KeyInfo:
    """Read a certificate's public key and metadata (a secret key in the file is not returned)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise KeyFileError(f"{path}: cannot read certificate ({exc})") from exc
    meta: dict[str, str] = {}
    public = None
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#") or line in ("metadata", "curve"):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise KeyFileError(f"{path}:{lineno}: expected 'key = \"value\"', got {line[:60]!r}")
        key, value = key.strip(), value.strip().strip("'\"")
        if key == "public-key":
            public = value
        elif key != "secret-key":
            meta[key] = value
    if public is None or not is_z85_key(public):
        raise KeyFileError(f"{path}: no valid public-key (40 Z85 characters)")
    role = meta.get("role", "console")
    if role not in ROLES:
        raise KeyFileError(f"{path}: role={role!r} not one of {ROLES}")
    try:
        provinces = parse_provinces(meta.get("provinces"))
    except KeyFileError as exc:
        raise KeyFileError(f"{path}: {exc}") from exc
    return KeyInfo(meta.get("name", path.stem), role, public, provinces, meta.get("created", ""), status, path)


def load_pair(path: Path) -> KeyPair:
    """Read a secret certificate (``*.key_secret``) into a :class:`KeyPair`."""
    import zmq.auth

    try:
        public, secret = zmq.auth.load_certificate(str(path))
    except (OSError, ValueError) as exc:
        raise KeyFileError(f"cannot read secret key file {path}: {exc}") from exc
    if secret is None:
        raise KeyFileError(f"{path} holds no secret key (it is a public certificate)")
    return KeyPair(path.name.removesuffix(".key_secret"), public, secret)


# ---------------------------------------------------------------- the keys directory


class KeyStore:
    """A keys directory (see module docstring)."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    @property
    def allowed_dir(self) -> Path:
        return self.root / ALLOWED_DIR

    @property
    def revoked_dir(self) -> Path:
        return self.root / REVOKED_DIR

    @property
    def private_dir(self) -> Path:
        return self.root / PRIVATE_DIR

    def secret_path(self, name: str) -> Path:
        return self.private_dir / f"{name}.key_secret"

    def _ensure_dirs(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        for d in (self.allowed_dir, self.revoked_dir):
            d.mkdir(exist_ok=True)
        self.private_dir.mkdir(mode=0o700, exist_ok=True)
        os.chmod(self.private_dir, 0o700)

    def new(self, name: str, role: str = "console", provinces: tuple[str, ...] = (), *,
            overwrite: bool = False) -> KeyInfo:
        """Make a key pair: public cert in the allow-list (or ``server.key``), secret in ``private/``."""
        validate_name(name)
        if role not in ROLES:
            raise KeyFileError(f"role {role!r}: choose one of {', '.join(ROLES)}")
        if provinces and role != "team":
            raise KeyFileError("--province limits a team key; give it with --role team")
        self._ensure_dirs()
        pub_path = self.root / SERVER_CERT if role == "server" else self.allowed_dir / f"{name}.key"
        sec_path = self.secret_path(name)
        existing = [p for p in (pub_path, sec_path, self.revoked_dir / f"{name}.key") if p.exists()]
        if role != "server" and (self.root / SERVER_CERT).exists() and self.server().name == name:
            existing.append(self.root / SERVER_CERT)
        if existing and not overwrite:
            raise KeyFileError(f"a key named {name!r} exists already ({existing[0]}); choose another name")
        public, secret = zmq.curve_keypair()
        created = utc_now_iso()
        info = KeyInfo(name, role, public.decode(), tuple(provinces), created,
                       "server" if role == "server" else "allowed", pub_path)
        _write_cert(sec_path, info, secret.decode())
        _write_cert(pub_path, info, None)
        return info

    def server(self) -> KeyInfo:
        path = self.root / SERVER_CERT
        if not path.exists():
            raise KeyFileError(f"no server key in {self.root}: run 'borderwatch keys new server --role server "
                               f"--dir {self.root}'")
        return read_cert(path, "server")

    def server_pair(self) -> KeyPair:
        """The server's own key pair (secret included) for its sockets."""
        info = self.server()
        pair = load_pair(self.secret_path(info.name))
        if pair.public_key.decode() != info.public_key:
            raise KeyFileError(f"{self.secret_path(info.name)} does not match {self.root / SERVER_CERT}")
        return pair

    def client(self, name: str | None = None) -> ClientKeys:
        """A client's keys from a keys directory or an exported bundle (server.key + private/NAME.key_secret)."""
        server = self.server()
        if name is None:
            names = sorted(p.name.removesuffix(".key_secret") for p in self.private_dir.glob("*.key_secret")
                           if p.name != f"{server.name}.key_secret")
            if len(names) != 1:
                raise KeyFileError(f"{self.private_dir}: {'no' if not names else 'several'} client secret keys "
                                   f"({', '.join(names) or 'none'}); name the one to use")
            name = names[0]
        path = self.secret_path(validate_name(name))
        if not path.exists():
            raise KeyFileError(f"no secret key {path}: make one with 'borderwatch keys new {name}'")
        return ClientKeys(load_pair(path), server.public_key.encode())

    def entries(self) -> list[KeyInfo]:
        """Every certificate: the server's, the allowed and the revoked ones (sorted by name)."""
        out: list[KeyInfo] = []
        if (self.root / SERVER_CERT).exists():
            out.append(self.server())
        for d, status in ((self.allowed_dir, "allowed"), (self.revoked_dir, "revoked")):
            if d.is_dir():
                out.extend(read_cert(p, status) for p in sorted(d.glob("*.key")))
        return out

    def revoke(self, name: str) -> KeyInfo:
        """Move ``allowed/NAME.key`` to ``revoked/`` (a running server notices within a second)."""
        validate_name(name)
        src = self.allowed_dir / f"{name}.key"
        if not src.exists():
            if (self.revoked_dir / f"{name}.key").exists():
                raise KeyFileError(f"key {name!r} is revoked already")
            raise KeyFileError(f"no allowed key named {name!r} in {self.allowed_dir} (see 'borderwatch keys list')")
        self._ensure_dirs()
        dst = self.revoked_dir / f"{name}.key"
        os.replace(src, dst)
        _touch_dir(self.allowed_dir)
        return read_cert(dst, "revoked")

    def export(self, name: str, out_dir: Path) -> Path:
        """A bundle for one client: ``OUT/server.key`` and ``OUT/private/NAME.key_secret`` (0600)."""
        validate_name(name)
        sec = self.secret_path(name)
        if not sec.exists():
            raise KeyFileError(f"no secret key for {name!r} in {self.private_dir}")
        out = KeyStore(out_dir)
        out.root.mkdir(parents=True, exist_ok=True)
        out.private_dir.mkdir(mode=0o700, exist_ok=True)
        shutil.copyfile(self.root / SERVER_CERT, out.root / SERVER_CERT)
        dst = out.secret_path(name)
        fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, sec.read_bytes())
        finally:
            os.close(fd)
        return out.root

    def snapshot_stamp(self) -> tuple[tuple[str, int, int], ...]:
        """A cheap fingerprint of the allow-list files: changes whenever one is added, removed or edited."""
        stamp = []
        for d in (self.allowed_dir, self.revoked_dir):
            try:
                with os.scandir(d) as it:
                    for e in it:
                        if e.name.endswith(".key"):
                            st = e.stat()
                            stamp.append((f"{d.name}/{e.name}", st.st_mtime_ns, st.st_size))
            except FileNotFoundError:
                continue
        return tuple(sorted(stamp))


def _touch_dir(d: Path) -> None:
    try:
        os.utime(d)
    except OSError:
        pass


def load_client_keys(keys_dir: Path | str, name: str | None = None) -> ClientKeys:
    """Client keys for ``--keys DIR [--key-name NAME]`` (a keys directory or an exported bundle)."""
    return KeyStore(keys_dir).client(name)


@dataclass(frozen=True)
class KeySet:
    """Keys for a self-contained network (the demo): where they are and what each party loads."""

    root: Path
    server_public_key: str
    sensor_secret_files: dict[str, Path]
    console: ClientKeys

    def sensor_server_section(self, sensor_id: str) -> dict[str, str]:
        """The ``[server]`` keys of a sensor config (add ``address`` to it)."""
        return {"server_public_key": self.server_public_key,
                "secret_key_file": str(self.sensor_secret_files[sensor_id])}


def ensure_demo_keys(out_dir: Path | str, sensor_ids: tuple[str, ...] | list[str] = (),
                     console_name: str = "demo-console") -> KeySet:
    """Make (once) a server key, one sensor key per id and a console key under ``OUT/keys``.

    Idempotent: existing keys are reused, missing ones are added, so a demo can be re-run in the
    same output directory. The server then runs with ``keys_dir = KeySet.root``.
    """
    store = KeyStore(Path(out_dir) / "keys")
    if not (store.root / SERVER_CERT).exists():
        store.new("server", "server")
    names = {e.name for e in store.entries()}
    for sid in sensor_ids:
        if sid not in names:
            store.new(sid, "sensor")
    if console_name not in names:
        store.new(console_name, "console")
    return KeySet(store.root, store.server().public_key, {sid: store.secret_path(sid) for sid in sensor_ids},
                  store.client(console_name))
