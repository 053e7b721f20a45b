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
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from collections.abc import Mapping
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


class EvidenceAssembler:
    """Writes evidence chunks to disk and assembles complete SigMF recordings."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def dir_for(self, alert_id: str | None, sensor_id: str) -> Path:
        if alert_id is None:
            return self.root / "unsolicited" / safe_name(sensor_id)
        return self.root / safe_name(alert_id)

    def add_chunk(self, ev: Evidence, alert_id: str | None, extra: Mapping[str, Any] | None = None) -> Path | None:
        """Store one chunk durably; return the .sigmf-meta path when the recording became complete.

        Raises OSError when the chunk cannot be written (the caller must not ack it).
        """
        out_dir = self.dir_for(alert_id, ev.sensor_id)
        parts = out_dir / f"{ev.capture_id}.parts"
        meta_path = out_dir / f"{ev.capture_id}.sigmf-meta"
        if meta_path.exists():
            return None  # already assembled: a resent chunk
        parts.mkdir(parents=True, exist_ok=True)
        tmp = parts / f"{ev.chunk_index:06d}.tmp"
        tmp.write_bytes(ev.data)
        os.replace(tmp, parts / f"{ev.chunk_index:06d}.bin")
        if ev.chunk_index == 0:
            info = {"meta": dict(ev.meta), "t_utc": ev.t_utc, "sensor_id": ev.sensor_id, "seq": ev.seq}
            (parts / "meta.json").write_text(json.dumps(info), encoding="utf-8")
        present = {p.stem for p in parts.glob("*.bin")}
        if len(present) < ev.chunk_count or not (parts / "meta.json").exists():
            return None
        return self._assemble(ev, parts, out_dir, dict(extra or {}, alert_id=alert_id or ""))

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
