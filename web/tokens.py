"""Login tokens of the field teams: one per team, bound to its provinces, revocable.

Kept like the CurveZMQ team keys (:mod:`coordination.keys`): a directory an operator can read,
with ``allowed/NAME.token`` and ``revoked/NAME.token`` files (JSON: name, provinces, created, and
the SHA-256 of the token, never the token itself). ``new`` prints the token once; whoever reads
the directory later cannot log in with what is in it. Revoking moves the file; the web server
re-reads the directory when it changes, so a revoked token is refused at its next request.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from coordination.protocol import utc_now_iso

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
_PROVINCE_RE = re.compile(r"^[A-Z][A-Z0-9]{0,7}$")
TOKEN_BYTES = 24  # 192 bits, url-safe base64: 32 characters


class TokenError(ValueError):
    """A token operation that cannot be done as asked; says what and where."""


@dataclass(frozen=True)
class Team:
    """Who a valid token belongs to."""

    name: str
    provinces: tuple[str, ...]


@dataclass(frozen=True)
class TokenInfo:
    name: str
    provinces: tuple[str, ...]
    created_utc: str
    status: str  # allowed | revoked
    sha256: str


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def parse_provinces(text: str) -> tuple[str, ...]:
    codes = tuple(dict.fromkeys(p.strip().upper() for p in text.split(",") if p.strip()))
    if not codes:
        raise TokenError("a team token needs its provinces (e.g. --province JS)")
    for c in codes:
        if not _PROVINCE_RE.match(c):
            raise TokenError(f"province {c!r}: expected a code like JS or ZJ")
    return codes


class TokenStore:
    """A tokens directory: ``allowed/`` and ``revoked/`` token records."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        self._stamp: tuple[tuple[str, int], ...] | None = None
        self._by_hash: dict[str, Team] = {}

    def _dir(self, status: str) -> Path:
        return self.root / status

    def new(self, name: str, provinces: tuple[str, ...]) -> tuple[str, TokenInfo]:
        """Make a token for team ``name``; returns (the token, to show once; its record)."""
        if not isinstance(name, str) or not _NAME_RE.match(name):
            raise TokenError(f"team name {name!r}: use 1-64 letters, digits, '_', '.', '-'")
        if not provinces:
            raise TokenError("a team token needs its provinces (e.g. --province JS)")
        for d in ("allowed", "revoked"):
            if (self._dir(d) / f"{name}.token").exists():
                raise TokenError(f"a token named {name!r} exists already ({d}); choose another name")
        self._dir("allowed").mkdir(parents=True, exist_ok=True)
        self._dir("revoked").mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o700)
        token = secrets.token_urlsafe(TOKEN_BYTES)
        info = TokenInfo(name, tuple(provinces), utc_now_iso(), "allowed",
                         _hash(token))
        path = self._dir("allowed") / f"{name}.token"
        fd = os.open(path.with_suffix(".tmp"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, json.dumps({"name": name, "provinces": list(provinces), "created": info.created_utc,
                                     "sha256": info.sha256}).encode())
        finally:
            os.close(fd)
        os.replace(path.with_suffix(".tmp"), path)
        return token, info

    def revoke(self, name: str) -> TokenInfo:
        src = self._dir("allowed") / f"{name}.token"
        if not src.exists():
            if (self._dir("revoked") / f"{name}.token").exists():
                raise TokenError(f"token {name!r} is revoked already")
            raise TokenError(f"no allowed token named {name!r} in {self._dir('allowed')}")
        dst = self._dir("revoked") / f"{name}.token"
        os.replace(src, dst)
        return self._read(dst, "revoked")

    def entries(self) -> list[TokenInfo]:
        out = []
        for status in ("allowed", "revoked"):
            d = self._dir(status)
            if d.is_dir():
                out += [self._read(p, status) for p in sorted(d.glob("*.token"))]
        return out

    def _read(self, path: Path, status: str) -> TokenInfo:
        try:
            d = json.loads(path.read_text(encoding="utf-8"))
            provinces = tuple(d["provinces"])
            if not all(isinstance(p, str) and _PROVINCE_RE.match(p) for p in provinces) or not provinces:
                raise ValueError("bad provinces")
            if not isinstance(d["sha256"], str) or len(d["sha256"]) != 64:
                raise ValueError("bad sha256")
            return TokenInfo(str(d["name"]), provinces, str(d.get("created", "")), status, d["sha256"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise TokenError(f"{path}: not a token record ({exc})") from exc

    def _reload_if_changed(self) -> None:
        d = self._dir("allowed")
        try:
            stamp = tuple(sorted((e.name, e.stat().st_mtime_ns) for e in os.scandir(d) if e.name.endswith(".token")))
        except FileNotFoundError:
            stamp = ()
        if stamp != self._stamp:
            by_hash = {}
            for name, _ in stamp:
                try:
                    info = self._read(d / name, "allowed")
                except TokenError:
                    continue  # an unreadable record lets nobody in
                by_hash[info.sha256] = Team(info.name, info.provinces)
            self._by_hash, self._stamp = by_hash, stamp

    def team_for(self, token: str | None) -> Team | None:
        """The team whose allowed token this is, or None (unknown, revoked, malformed)."""
        if not token or not isinstance(token, str) or len(token) > 128:
            return None
        self._reload_if_changed()
        h = _hash(token)
        for known, team in self._by_hash.items():
            if hmac.compare_digest(known, h):
                return team
        return None
