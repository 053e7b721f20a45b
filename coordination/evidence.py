"""IQ evidence: order captures for an alert and assemble the sensor's chunks into SigMF files.

A capture is ordered with a ``capture_iq`` Command whose ``command_id`` is also the capture id the
sensor uses for its Evidence chunks. Chunks may arrive in any order and more than once (spool
resends); each is written to ``<capture_id>.parts/<index>`` and the recording is assembled when all
``chunk_count`` parts are present:

    <data>/evidence/<alert_id>/<capture_id>.sigmf-meta
    <data>/evidence/<alert_id>/<capture_id>.sigmf-data

Chunk 0 carries the SigMF metadata (a ``global``/``captures``/``annotations`` document); when a
sensor sends only a few plain keys instead, a minimal valid SigMF document is built from them.
Unsolicited captures (no order known) go to ``<data>/evidence/unsolicited/<sensor_id>/``.

Quotas, because a chunk is acked once it is on disk and any sensor key can send chunks nobody
ordered (50 chunks of 4 MiB claiming ``chunk_count=100000`` were once acked, written and never
cleaned): per sensor, the parts of incomplete captures may hold at most ``max_pending_bytes``, and
unsolicited captures (parts and recordings) at most ``max_unsolicited_bytes``; a capture whose
declared size exceeds the pending quota is refused from its first chunk. A refused chunk raises
:class:`EvidenceQuotaError` (the server counts it, does not ack it). Incomplete captures
older than ``max_age_s`` (no chunk for that long) are deleted (:meth:`EvidenceAssembler.sweep`, run
at start and then at most every ``sweep_interval_s`` as chunks arrive), each deletion logged.
Complete unsolicited recordings are kept (captures ordered through tasking land there too): when
their quota is full, further unsolicited chunks are refused until an operator moves them away.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from coordination.protocol import Evidence

log = logging.getLogger(__name__)

SIGMF_VERSION = "1.2.0"
_SAFE = re.compile(r"[^A-Za-z0-9_.\-]")


def safe_name(text: str, max_len: int = 64) -> str:
    """A file-system-safe name (protocol ids already are; alert ids come from the engine)."""
    return _SAFE.sub("_", text)[:max_len] or "_"


def capture_id_for(alert_id: str, sensor_id: str, n: int) -> str:
    """A protocol-valid capture/command id for the n-th capture ordered for an alert."""
    return safe_name(f"cap-{alert_id}-{sensor_id}-{n}", 64).lstrip("_.-") or f"cap-{n}"


def build_sigmf_meta(meta: Mapping[str, Any], ev: Evidence, extra: Mapping[str, Any]) -> dict[str, Any]:
    """The SigMF metadata document: the sensor's own if it sent one, else one built from plain keys."""
    doc: dict[str, Any]
    if isinstance(meta.get("global"), dict):
        doc = {"global": dict(meta["global"]), "captures": list(meta.get("captures") or []),
               "annotations": list(meta.get("annotations") or [])}
    else:
        glob: dict[str, Any] = {"core:datatype": str(meta.get("datatype", "cf32_le")),
                                "core:version": SIGMF_VERSION}
        if "sample_rate_hz" in meta:
            glob["core:sample_rate"] = float(meta["sample_rate_hz"])
        cap: dict[str, Any] = {"core:sample_start": 0, "core:datetime": str(meta.get("t_utc", ev.t_utc))}
        if "center_hz" in meta:
            cap["core:frequency"] = float(meta["center_hz"])
        doc = {"global": glob, "captures": [cap], "annotations": []}
    doc["global"].setdefault("core:version", SIGMF_VERSION)
    doc["global"].setdefault("core:datatype", "cf32_le")
    if not doc["captures"]:
        doc["captures"] = [{"core:sample_start": 0, "core:datetime": ev.t_utc}]
    desc = doc["global"].get("core:description") or ""
    doc["global"]["core:description"] = (desc + " " if desc else "") + "; ".join(
        f"{k}={v}" for k, v in extra.items())
    doc["global"].setdefault("core:recorder", f"borderwatch sensor {ev.sensor_id}")
    return doc


class EvidenceQuotaError(ValueError):
    """A chunk over a quota (``reason`` ``evidence_quota``) or of a capture declared too large
    (``evidence_too_large``): not written, not to be acked."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


#: The file in a ``.parts`` folder naming the sensor that sends it (quota accounting after a restart).
_OWNER = "sensor_id"


@dataclass
class _Pending:
    """One incomplete capture on disk: whose, how many bytes, unsolicited or not."""

    sensor_id: str
    nbytes: int
    unsolicited: bool


def _tree_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


class EvidenceAssembler:
    """Writes evidence chunks to disk and assembles complete SigMF recordings, within quotas."""

    def __init__(self, root: Path, *, max_pending_bytes: int = 256 << 20, max_unsolicited_bytes: int = 1024 << 20,
                 max_age_s: float = 86400.0, sweep_interval_s: float = 60.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.root = Path(root)
        self.max_pending_bytes = int(max_pending_bytes)
        self.max_unsolicited_bytes = int(max_unsolicited_bytes)
        self.max_age_s = float(max_age_s)
        self.sweep_interval_s = float(sweep_interval_s)
        self.clock = clock
        #: what the quotas and the age limit removed or refused (for the logs and the counters)
        self.refused: dict[str, int] = {}
        self.swept_captures = 0
        self.swept_bytes = 0
        self._pending: dict[Path, _Pending] = {}  # parts folder -> owner and bytes
        self._unsolicited_done: dict[str, int] = {}  # sensor -> bytes of assembled unsolicited recordings
        self._next_sweep = 0.0
        self._scan()
        self.sweep()

    # ------------------------------------------------------------ accounting

    def _scan(self) -> None:
        """Rebuild the accounting from disk (a restarted server keeps its quotas)."""
        if not self.root.is_dir():
            return
        for parts in self.root.glob("**/*.parts"):
            owner = parts / _OWNER
            sid = owner.read_text(encoding="utf-8").strip() if owner.exists() else "(unknown)"
            self._pending[parts] = _Pending(sid, _tree_bytes(parts), parts.parent.parent.name == "unsolicited")
        unsolicited = self.root / "unsolicited"
        if unsolicited.is_dir():
            for d in unsolicited.iterdir():
                if d.is_dir():
                    self._unsolicited_done[d.name] = sum(p.stat().st_size for p in d.glob("*.sigmf-*"))

    def pending_bytes(self, sensor_id: str, *, unsolicited_only: bool = False) -> int:
        """Bytes of incomplete captures a sensor holds on disk (only unsolicited ones, if asked)."""
        return sum(p.nbytes for p in self._pending.values()
                   if p.sensor_id == sensor_id and (p.unsolicited or not unsolicited_only))

    def unsolicited_bytes(self, sensor_id: str) -> int:
        """Bytes of a sensor's unsolicited captures: incomplete parts and assembled recordings."""
        return self.pending_bytes(sensor_id, unsolicited_only=True) + self._unsolicited_done.get(
            safe_name(sensor_id), 0)

    def _refuse(self, reason: str, detail: str) -> EvidenceQuotaError:
        self.refused[reason] = self.refused.get(reason, 0) + 1
        return EvidenceQuotaError(reason, detail)

    def _check_quota(self, ev: Evidence, parts: Path, unsolicited: bool) -> None:
        chunk = parts / f"{ev.chunk_index:06d}.bin"
        if chunk.exists():
            return  # a resent chunk adds nothing
        declared = ev.chunk_count * len(ev.data)
        if declared > self.max_pending_bytes:
            raise self._refuse("evidence_too_large",
                               f"capture {ev.capture_id} of {ev.sensor_id} declares {ev.chunk_count} chunks of "
                               f"{len(ev.data)} bytes, more than the {self.max_pending_bytes} bytes a sensor "
                               f"may hold incomplete")
        if self.pending_bytes(ev.sensor_id) + len(ev.data) > self.max_pending_bytes:
            raise self._refuse("evidence_quota", f"{ev.sensor_id} already holds {self.pending_bytes(ev.sensor_id)} "
                                                 f"bytes of incomplete captures (quota {self.max_pending_bytes})")
        if unsolicited and self.unsolicited_bytes(ev.sensor_id) + len(ev.data) > self.max_unsolicited_bytes:
            raise self._refuse("evidence_quota",
                               f"{ev.sensor_id} already holds {self.unsolicited_bytes(ev.sensor_id)} bytes of "
                               f"captures nobody ordered (quota {self.max_unsolicited_bytes})")

    # ------------------------------------------------------------ age limit

    def sweep(self, now_s: float | None = None) -> int:
        """Delete incomplete captures that got no chunk for ``max_age_s``; return how many (each logged)."""
        now_s = self.clock() if now_s is None else now_s
        self._next_sweep = now_s + self.sweep_interval_s
        removed = 0
        for parts, p in list(self._pending.items()):
            try:
                age = now_s - parts.stat().st_mtime
            except FileNotFoundError:
                self._pending.pop(parts, None)
                continue
            if age > self.max_age_s:
                shutil.rmtree(parts, ignore_errors=True)
                self._pending.pop(parts, None)
                removed += 1
                self.swept_bytes += p.nbytes
                log.warning("evidence: removed incomplete capture %s of %s (%d bytes, %.0f s without its "
                            "last chunks)", parts.name.removesuffix(".parts"), p.sensor_id, p.nbytes, age)
        self.swept_captures += removed
        return removed

    def dir_for(self, alert_id: str | None, sensor_id: str) -> Path:
        if alert_id is None:
            return self.root / "unsolicited" / safe_name(sensor_id)
        return self.root / safe_name(alert_id)

    def add_chunk(self, ev: Evidence, alert_id: str | None, extra: Mapping[str, Any] | None = None) -> Path | None:
        """Store one chunk durably; return the .sigmf-meta path when the recording became complete.

        Raises OSError when the chunk cannot be written (the caller must not ack it).
        """
        if self.clock() >= self._next_sweep:
            self.sweep()
        out_dir = self.dir_for(alert_id, ev.sensor_id)
        parts = out_dir / f"{ev.capture_id}.parts"
        meta_path = out_dir / f"{ev.capture_id}.sigmf-meta"
        if meta_path.exists():
            return None  # already assembled: a resent chunk
        self._check_quota(ev, parts, alert_id is None)
        if not parts.is_dir():
            parts.mkdir(parents=True, exist_ok=True)
            (parts / _OWNER).write_text(ev.sensor_id, encoding="utf-8")
        pending = self._pending.setdefault(parts, _Pending(ev.sensor_id, 0, alert_id is None))
        chunk = parts / f"{ev.chunk_index:06d}.bin"
        if not chunk.exists():
            pending.nbytes += len(ev.data)
        tmp = parts / f"{ev.chunk_index:06d}.tmp"
        tmp.write_bytes(ev.data)
        os.replace(tmp, chunk)
        if ev.chunk_index == 0:
            info = {"meta": dict(ev.meta), "t_utc": ev.t_utc, "sensor_id": ev.sensor_id, "seq": ev.seq}
            (parts / "meta.json").write_text(json.dumps(info), encoding="utf-8")
        present = {p.stem for p in parts.glob("*.bin")}
        if len(present) < ev.chunk_count or not (parts / "meta.json").exists():
            return None
        path = self._assemble(ev, parts, out_dir, dict(extra or {}, alert_id=alert_id or ""))
        done = self._pending.pop(parts, None)
        if alert_id is None and done is not None:
            key = safe_name(ev.sensor_id)
            self._unsolicited_done[key] = self._unsolicited_done.get(key, 0) + done.nbytes
        return path

    def _assemble(self, ev: Evidence, parts: Path, out_dir: Path, extra: dict[str, Any]) -> Path:
        info = json.loads((parts / "meta.json").read_text(encoding="utf-8"))
        data_path = out_dir / f"{ev.capture_id}.sigmf-data"
        meta_path = out_dir / f"{ev.capture_id}.sigmf-meta"
        tmp_data = data_path.with_suffix(".sigmf-data.tmp")
        with tmp_data.open("wb") as out:
            for i in range(ev.chunk_count):
                out.write((parts / f"{i:06d}.bin").read_bytes())
        os.replace(tmp_data, data_path)
        extra = dict(extra, sensor_id=ev.sensor_id, capture_id=ev.capture_id)
        doc = build_sigmf_meta(info["meta"], ev, extra)
        tmp_meta = meta_path.with_suffix(".sigmf-meta.tmp")
        tmp_meta.write_text(json.dumps(doc, indent=2), encoding="utf-8")
        os.replace(tmp_meta, meta_path)  # the meta file appears last: it marks the recording complete
        shutil.rmtree(parts, ignore_errors=True)
        log.info("evidence %s assembled: %s", ev.capture_id, meta_path)
        return meta_path
