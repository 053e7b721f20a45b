"""IQ evidence: capture N seconds of raw samples as a SigMF recording and cut it into Evidence messages.

Why: an alert is argued over by two provinces; the spectrum summary is not enough, the raw IQ of
the emission is. SigMF (``.sigmf-meta`` JSON + ``.sigmf-data``) is the open format the `sigmf`
library and every SDR tool read, and its metadata travels with the data (STYLE.md): sample rate,
centre frequency, UTC time (``core:datetime``), the sensor's position (``core:geolocation``, a
GeoJSON point) and an annotation of the emission that triggered the capture (its band edges and
measured figures). Samples are ``cf32_le`` (what the DSP sees, no re-quantisation).

Upload: the recording is written locally first (the sensor keeps its own copy), then its data file
is cut into chunks of at most ``chunk_bytes`` that go through the spool like every other message;
chunk 0 carries the SigMF metadata. The server reassembles by ``capture_id`` and ``chunk_index``.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from coordination.protocol import EMISSION_FIELDS, MAX_EVIDENCE_CHUNK_BYTES, Command, Evidence, format_utc

log = logging.getLogger(__name__)

#: Default upload chunk (well under the protocol's 4 MiB limit, small enough to interleave with spectra).
CHUNK_BYTES = 1 << 20
#: Samples read from the source per call during a capture.
READ_BLOCK = 1 << 17


class EvidenceError(Exception):
    """A capture cannot be made (bad parameters, source cannot tune there, source ended)."""


@dataclass(frozen=True)
class CaptureRequest:
    """What to capture: centre, duration, optional lower rate, and the emission that triggered it."""

    capture_id: str
    center_hz: float
    duration_s: float
    sample_rate_hz: float | None = None
    emission: Mapping[str, float] | None = None
    reason: str = ""

    @classmethod
    def from_command(cls, cmd: Command) -> CaptureRequest:
        """Build from a validated ``capture_iq`` Command (params: duration_s, center_hz, sample_rate_hz?,
        emission? (a dict with protocol.EMISSION_FIELDS or at least f_lo_hz/f_hi_hz), alert_id?)."""
        p = cmd.params
        em = p.get("emission")
        emission = None
        if isinstance(em, Mapping):
            emission = {k: float(v) for k, v in em.items()
                        if k in EMISSION_FIELDS and isinstance(v, int | float) and not isinstance(v, bool)
                        and math.isfinite(v)}
        reason = str(p.get("alert_id") or p.get("reason") or "")[:128]
        rate = p.get("sample_rate_hz")
        return cls(capture_id=cmd.command_id, center_hz=float(p["center_hz"]), duration_s=float(p["duration_s"]),
                   sample_rate_hz=float(rate) if rate is not None else None, emission=emission, reason=reason)


@dataclass(frozen=True)
class SensorPlace:
    """Who and where the sensor is (goes into the SigMF global metadata)."""

    sensor_id: str
    lat: float
    lon: float
    height_m: float
    province: str = ""


@dataclass(frozen=True)
class EvidenceCapture:
    """A written SigMF recording."""

    capture_id: str
    meta_path: Path
    data_path: Path
    metadata: dict[str, Any]
    n_samples: int
    sample_rate_hz: float
    center_hz: float
    t_utc: datetime

    @property
    def nbytes(self) -> int:
        return self.n_samples * 8


def _decimate(iq: np.ndarray, factor: int) -> np.ndarray:
    if factor <= 1:
        return iq
    import scipy.signal

    return scipy.signal.resample_poly(iq, 1, factor).astype(np.complex64)


def _read(source: object, req: CaptureRequest, rate_in: float, t_utc: datetime | None) -> tuple[np.ndarray, datetime]:
    n_in = round(req.duration_s * rate_in)
    t0 = t_utc or datetime.now(UTC)
    parts, got = [], 0
    while got < n_in:
        block = source.read(min(READ_BLOCK, n_in - got))  # type: ignore[attr-defined]
        if block.size == 0:
            break
        parts.append(np.asarray(block, dtype=np.complex64))
        got += block.size
    if got == 0:
        raise EvidenceError(f"capture {req.capture_id}: the source delivered no samples")
    ts = getattr(source, "timestamp_utc", None)
    if t_utc is None and isinstance(ts, datetime):
        t0 = ts
    return np.concatenate(parts), t0


def capture_iq(source: object, req: CaptureRequest, place: SensorPlace, out_dir: str | Path, *,
               t_utc: datetime | None = None, software: str = "borderwatch") -> EvidenceCapture:
    """Tune, read ``duration_s`` of IQ, and write ``out_dir/<capture_id>.sigmf-meta|-data``."""
    from sigmf import SigMFFile

    if not 0 < req.duration_s <= 60:
        raise EvidenceError(f"capture {req.capture_id}: duration_s must be in (0, 60], got {req.duration_s}")
    rate_in = float(source.sample_rate_hz)  # type: ignore[attr-defined]
    previous_hz = float(source.center_freq_hz)  # type: ignore[attr-defined]
    try:
        source.tune(req.center_hz)  # type: ignore[attr-defined]
    except Exception as exc:
        raise EvidenceError(f"capture {req.capture_id}: cannot tune to {req.center_hz / 1e6:.6f} MHz: {exc}") from exc
    try:
        iq, t0 = _read(source, req, rate_in, t_utc)
    finally:
        # A recording is never retuned by the sweeps: put its digital shift back where it was.
        source.tune(previous_hz)  # type: ignore[attr-defined]
    factor = 1
    if req.sample_rate_hz is not None and req.sample_rate_hz < rate_in:
        factor = max(1, int(rate_in // req.sample_rate_hz))
    iq = _decimate(iq, factor)
    rate = rate_in / factor
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data_path = out / f"{req.capture_id}.sigmf-data"
    meta_path = out / f"{req.capture_id}.sigmf-meta"
    np.ascontiguousarray(iq, dtype="<c8").tofile(data_path)

    global_info = {
        "core:datatype": "cf32_le",
        "core:sample_rate": rate,
        "core:description": (f"borderwatch IQ evidence {req.capture_id} from sensor {place.sensor_id}"
                                    + (f" ({place.province})" if place.province else "")
                                    + (f" for {req.reason}" if req.reason else "")),
        "core:recorder": software,
        "core:author": place.sensor_id,
        "core:geolocation": {"type": "Point", "coordinates": [place.lon, place.lat, place.height_m]},
    }
    sf = SigMFFile(data_file=str(data_path), global_info=global_info)
    sf.add_capture(0, metadata={"core:frequency": req.center_hz, "core:datetime": format_utc(t0)})
    em = req.emission or {}
    if "f_lo_hz" in em and "f_hi_hz" in em:
        lo, hi = float(em["f_lo_hz"]), float(em["f_hi_hz"])
        label = "emission"
    else:
        lo, hi = req.center_hz - rate / 2, req.center_hz + rate / 2
        label = "capture"
    comment = {"capture_id": req.capture_id, "reason": req.reason,
               "emission": {k: em[k] for k in EMISSION_FIELDS if k in em}}
    sf.add_annotation(0, iq.size, metadata={
        "core:freq_lower_edge": lo, "core:freq_upper_edge": hi, "core:label": label,
        "core:comment": json.dumps(comment, separators=(",", ":")),
    })
    sf.tofile(str(meta_path), skip_validate=False, overwrite=True)  # a repeated order re-records
    metadata = json.loads(meta_path.read_text())
    log.info("evidence %s: %d samples at %.0f Hz around %.6f MHz -> %s", req.capture_id, iq.size, rate,
             req.center_hz / 1e6, meta_path)
    return EvidenceCapture(req.capture_id, meta_path, data_path, metadata, int(iq.size), rate, req.center_hz, t0)


def evidence_messages(cap: EvidenceCapture, sensor_id: str, *, chunk_bytes: int = CHUNK_BYTES,
                      t_utc: str | None = None) -> Iterator[Evidence]:
    """The recording as Evidence chunks (seq 0: the spool assigns real seqs); chunk 0 carries the metadata."""
    if not 0 < chunk_bytes <= MAX_EVIDENCE_CHUNK_BYTES:
        raise EvidenceError(f"chunk_bytes must be in (0, {MAX_EVIDENCE_CHUNK_BYTES}], got {chunk_bytes}")
    size = cap.data_path.stat().st_size
    count = max(1, math.ceil(size / chunk_bytes))
    stamp = t_utc or format_utc(cap.t_utc)
    with cap.data_path.open("rb") as fh:
        for i in range(count):
            data = fh.read(chunk_bytes)
            meta = cap.metadata if i == 0 else {}
            yield Evidence(sensor_id, 0, stamp, capture_id=cap.capture_id, chunk_index=i, chunk_count=count,
                           meta=meta, data=data)


def reassemble(chunks: list[Evidence], out_dir: str | Path) -> Path:
    """Write received chunks back to a SigMF pair (used by tests; the server has its own)."""
    chunks = sorted(chunks, key=lambda c: c.chunk_index)
    if not chunks or [c.chunk_index for c in chunks] != list(range(chunks[0].chunk_count)):
        raise EvidenceError("evidence chunks incomplete")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    base = out / chunks[0].capture_id
    with open(f"{base}.sigmf-data", "wb") as fh:
        for c in chunks:
            fh.write(c.data)
    Path(f"{base}.sigmf-meta").write_text(json.dumps(dict(chunks[0].meta), indent=2))
    return Path(f"{base}.sigmf-meta")
