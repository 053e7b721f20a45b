"""Every form of the web view, validated before anything is sent to the server.

Each function takes the posted fields and returns the clean values, or raises :class:`FormError`
with one sentence per bad field (in English; the page shows them translated). The server checks
everything again: this layer is for a clear message on the phone, not for trust.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from coordination.cases import MAX_TEXT, OUTCOMES, TASK_KINDS

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_ACK_NOTE = 2000
_PROVINCE_RE = re.compile(r"^[A-Z][A-Z0-9]{0,7}$")
_TASK_RE = re.compile(r"^T[0-9]{1,4}$")
_NAME_BAD = re.compile(r"[/\\\x00-\x1f]")

#: Accepted uploads: media type -> (file suffixes, magic bytes at the start or None for text files).
UPLOAD_TYPES: dict[str, tuple[tuple[str, ...], tuple[bytes, ...] | None]] = {
    "image/jpeg": ((".jpg", ".jpeg"), (b"\xff\xd8\xff",)),
    "image/png": ((".png",), (b"\x89PNG\r\n\x1a\n",)),
    "image/webp": ((".webp",), (b"RIFF",)),
    "text/csv": ((".csv",), None),
    "application/json": ((".json", ".sigmf-meta"), None),
    "application/octet-stream": ((".sigmf-data",), ()),
}


class FormError(ValueError):
    """The form's problems, one English sentence each (keys of :mod:`web.i18n`)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def _text(fields: Mapping[str, Any], name: str, max_len: int, problem: str, required: bool = True) -> str:
    v = fields.get(name)
    v = v.strip() if isinstance(v, str) else ""
    if (required and not v) or len(v) > max_len:
        raise FormError([problem])
    return v


def _field(fields: Mapping[str, Any], name: str) -> str:
    v = fields.get(name)
    return v.strip() if isinstance(v, str) else ""


def note(fields: Mapping[str, Any]) -> str:
    return _text(fields, "text", MAX_TEXT, "Write a note (1 to 4000 characters).")


def ack(fields: Mapping[str, Any]) -> str:
    return _text(fields, "note", MAX_ACK_NOTE, "The note is longer than 2000 characters.", required=False)


def close(fields: Mapping[str, Any]) -> tuple[str, str]:
    problems = []
    outcome = fields.get("outcome")
    if outcome not in OUTCOMES:
        problems.append("Choose an outcome.")
    summary = fields.get("summary") if isinstance(fields.get("summary"), str) else ""
    if len(summary or "") > MAX_TEXT:
        problems.append("The summary is longer than 4000 characters.")
    if problems:
        raise FormError(problems)
    return str(outcome), (summary or "").strip()


def task_done(fields: Mapping[str, Any]) -> tuple[str, str]:
    problems = []
    task_id = fields.get("task_id")
    if not isinstance(task_id, str) or not _TASK_RE.match(task_id):
        problems.append("Choose a task.")
    result = _field(fields, "result")
    if not result or len(result) > MAX_TEXT:
        problems.append("Write what was done (1 to 4000 characters).")
    if problems:
        raise FormError(problems)
    return str(task_id), result


def task(fields: Mapping[str, Any]) -> tuple[str, str]:
    problems = []
    kind = fields.get("kind")
    if kind not in TASK_KINDS:
        problems.append("Choose a task kind.")
    desc = _field(fields, "description")
    if not desc or len(desc) > MAX_TEXT:
        problems.append("Describe the task (1 to 4000 characters).")
    if problems:
        raise FormError(problems)
    return str(kind), desc


def handover(fields: Mapping[str, Any]) -> tuple[str, str]:
    problems = []
    to = fields.get("to")
    if not isinstance(to, str) or not _PROVINCE_RE.match(to):
        problems.append("Choose a province code.")
    reason = _field(fields, "reason")
    if not reason or len(reason) > MAX_TEXT:
        problems.append("Give a reason (1 to 4000 characters).")
    if problems:
        raise FormError(problems)
    return str(to), reason


def handover_answer(fields: Mapping[str, Any]) -> tuple[bool, str]:
    accept = fields.get("answer") == "accept"
    if fields.get("answer") not in ("accept", "refuse"):
        raise FormError(["Give a reason (1 to 4000 characters)."])
    reason = _field(fields, "reason")
    if (not accept and not reason) or len(reason) > MAX_TEXT:
        raise FormError(["Give a reason (1 to 4000 characters)."])
    return accept, reason


def on_site(fields: Mapping[str, Any]) -> tuple[float, float, float]:
    try:
        lat, lon, acc = (float(str(fields.get(k, "")).strip()) for k in ("lat", "lon", "accuracy_m"))
    except ValueError:
        raise FormError(["Position: latitude -90..90, longitude -180..180, accuracy 0..100000 m."]) from None
    if not all(math.isfinite(x) for x in (lat, lon, acc)) or not (-90 <= lat <= 90 and -180 <= lon <= 180
                                                                  and 0 <= acc <= 100_000):
        raise FormError(["Position: latitude -90..90, longitude -180..180, accuracy 0..100000 m."])
    return lat, lon, acc


@dataclass(frozen=True)
class Upload:
    name: str
    media_type: str
    data: bytes


def upload(filename: str | None, data: bytes | None) -> Upload:
    """A photo or measurement file: type from its suffix, checked against its first bytes."""
    if not filename or data is None or len(data) == 0:
        raise FormError(["Choose a file to upload."])
    if len(data) > MAX_UPLOAD_BYTES:
        raise FormError(["The file is larger than 10 MiB."])
    name = _NAME_BAD.sub("_", filename.rsplit("/", 1)[-1].rsplit("\\", 1)[-1])[-128:].lstrip(".") or "upload"
    lower = name.lower()
    for media, (suffixes, magic) in UPLOAD_TYPES.items():
        if lower.endswith(suffixes):
            if magic and not any(data.startswith(m) for m in magic):
                raise FormError(["The file's content does not match its type."])
            if media == "image/webp" and data[8:12] != b"WEBP":
                raise FormError(["The file's content does not match its type."])
            if magic is None:
                try:
                    data.decode("utf-8")
                except UnicodeDecodeError:
                    raise FormError(["The file's content does not match its type."]) from None
            return Upload(name, media, data)
    raise FormError(["Only JPEG, PNG or WebP photos, or CSV/JSON/SigMF measurement files."])
