"""Case attachments on disk, addressed by their SHA-256, and chunked uploads into them.

A photo from a phone is several megabytes and an API request is capped (a JSON header of
64 KiB), so an upload arrives in chunks: each chunk is appended to a staging file named by the
client's upload id at the offset the client says (a repeated or out-of-order chunk is refused,
never silently glued in), and :meth:`AttachmentStore.commit` checks the whole file's SHA-256
before it moves it to ``ROOT/<sha256>``. The case log records the hash, so the evidence in a
case file is the very bytes the team sent.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

MAX_ATTACHMENT_BYTES = 32 * 1024 * 1024
_UPLOAD_RE = re.compile(r"^[0-9a-f]{16,64}$")
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


class AttachmentError(ValueError):
    """An upload that cannot be taken as sent; says why."""


class AttachmentStore:
    """``ROOT/<sha256>`` files and ``ROOT/staging/<upload id>`` partial uploads."""

    def __init__(self, root: Path | str, max_bytes: int = MAX_ATTACHMENT_BYTES) -> None:
        self.root = Path(root)
        self.max_bytes = max_bytes

    def _staging(self, upload_id: str) -> Path:
        if not isinstance(upload_id, str) or not _UPLOAD_RE.match(upload_id):
            raise AttachmentError(f"upload id {upload_id!r}: 16-64 lower-case hex digits")
        d = self.root / "staging"
        d.mkdir(parents=True, exist_ok=True)
        return d / upload_id

    def put_chunk(self, upload_id: str, offset: int, data: bytes) -> int:
        """Append ``data`` at ``offset`` of upload ``upload_id``; returns the bytes received so far."""
        path = self._staging(upload_id)
        have = path.stat().st_size if path.exists() else 0
        if offset != have:
            raise AttachmentError(f"upload {upload_id}: chunk at offset {offset}, expected {have}")
        if have + len(data) > self.max_bytes:
            path.unlink(missing_ok=True)
            raise AttachmentError(f"upload {upload_id}: larger than {self.max_bytes // (1024 * 1024)} MiB")
        with open(path, "ab") as f:
            f.write(data)
        return have + len(data)

    def commit(self, upload_id: str, sha256: str) -> tuple[str, int]:
        """Check the staged upload against ``sha256`` and keep it; returns (sha256, size)."""
        path = self._staging(upload_id)
        if not path.exists():
            raise AttachmentError(f"upload {upload_id}: nothing received")
        if not isinstance(sha256, str) or not _SHA256_RE.match(sha256):
            raise AttachmentError("sha256 must be 64 lower-case hex digits")
        got = file_sha256(path)
        if got != sha256:
            path.unlink(missing_ok=True)
            raise AttachmentError(f"upload {upload_id}: received bytes hash to {got[:12]}..., not {sha256[:12]}... "
                                  "(upload again)")
        size = path.stat().st_size
        os.replace(path, self.root / sha256)
        return sha256, size

    def put(self, data: bytes) -> tuple[str, int]:
        """Keep ``data`` in one go (server-side files, tests); returns (sha256, size)."""
        if len(data) > self.max_bytes:
            raise AttachmentError(f"attachment larger than {self.max_bytes // (1024 * 1024)} MiB")
        digest = hashlib.sha256(data).hexdigest()
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / f".{digest}.tmp"
        tmp.write_bytes(data)
        os.replace(tmp, self.root / digest)
        return digest, len(data)

    def path(self, sha256: str) -> Path:
        if not isinstance(sha256, str) or not _SHA256_RE.match(sha256):
            raise AttachmentError("sha256 must be 64 lower-case hex digits")
        p = self.root / sha256
        if not p.exists():
            raise AttachmentError(f"no attachment {sha256[:12]}... in {self.root}")
        return p


def file_sha256(path: Path | str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
