"""The synchronised TDOA snapshot on the sensor: reference, target, reference, on one sample clock, as SigMF.

Why: a time difference between two cheap sensors is only measurable if each sensor's recording of the
target is framed by recordings of a common broadcaster on the *same running sample counter* (the
server aligns the dongles' clocks on it, :mod:`dsp.clock_align`). The sensor therefore never restarts
its stream: at the stated UTC time it reads ``ref_samples`` at the reference frequency, retunes, reads
``settle_samples`` (the tuner's PLL and filters settling; kept in the file, marked, dropped by the
server) and ``target_samples`` at the target, retunes back, settles, reads the reference again. The
sample index of each retune is what the SigMF captures say (``core:sample_start``, ``core:frequency``);
the global metadata says the reference station, the settling, the time quality (``ntp`` with its
stated uncertainty, or ``gps_pps``: a disciplined sensor says so and the reference segments may be
empty) and where the antenna is. ``read_snapshot`` turns the file back into the windows the chain uses.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from coordination.protocol import Command, format_utc
from dsp.tdoa_pair import SnapshotWindows
from dsp.tdoa_sigmf import NS, SnapshotFormatError, snapshot_windows
from sdr.evidence import EvidenceCapture, SensorPlace
from sdr.sources.base import Source, StreamingSource

log = logging.getLogger(__name__)

#: Output samples of filter margin read beyond each end when decimating (the FIR's half length).
_DECIMATION_PAD = 16


class SnapshotError(Exception):
    """A snapshot that cannot be taken or read (bad order, source ended, file not a snapshot)."""


@dataclass(frozen=True)
class SnapshotOrder:
    """What the server ordered (a validated ``tdoa_snapshot`` Command)."""

    snapshot_id: str
    t_utc: str
    target_hz: float
    ref_hz: float | None
    sample_rate_hz: float
    ref_samples: int
    target_samples: int
    settle_samples: int
    reference_station: str = ""
    alert_id: str = ""

    @classmethod
    def from_command(cls, cmd: Command) -> SnapshotOrder:
        p = cmd.params
        ref = p.get("ref_hz")
        return cls(snapshot_id=cmd.command_id, t_utc=str(p["t_utc"]), target_hz=float(p["target_hz"]),
                   ref_hz=float(ref) if ref is not None else None, sample_rate_hz=float(p["sample_rate_hz"]),
                   ref_samples=int(p["ref_samples"]), target_samples=int(p["target_samples"]),
                   settle_samples=int(p["settle_samples"]), reference_station=str(p.get("reference_station", ""))[:64],
                   alert_id=str(p.get("alert_id", ""))[:128])


def _read_exactly(source: Source, n: int, what: str) -> np.ndarray:
    parts, got = [], 0
    while got < n:
        block = source.read(min(1 << 17, n - got))
        if block.size == 0:
            raise SnapshotError(f"source ended during the {what} segment ({got} of {n} samples)")
        parts.append(np.asarray(block, dtype=np.complex64))
        got += block.size
    return np.concatenate(parts) if parts else np.zeros(0, np.complex64)


def _first_read_time(source: Source, fallback: datetime) -> datetime:
    """The date of the first sample of the last read, from a live receiver (it dates its buffer by the host
    clock); a recording's or the simulator's dates are their own time line, not the sensor's clock."""
    ts = source.timestamp_utc if isinstance(source, StreamingSource) else None
    return ts if isinstance(ts, datetime) else fallback


def parse_order_time(order: SnapshotOrder) -> datetime:
    """The ordered UTC instant as an aware datetime (the protocol validated only its length)."""
    try:
        t = datetime.fromisoformat(order.t_utc.replace("Z", "+00:00"))
    except ValueError as exc:
        raise SnapshotError(f"snapshot {order.snapshot_id}: t_utc {order.t_utc!r} is not an ISO-8601 time") from exc
    if t.tzinfo is None:
        raise SnapshotError(f"snapshot {order.snapshot_id}: t_utc {order.t_utc!r} has no time zone (use Z)")
    return t.astimezone(UTC)


def decimation_factor(source_rate_hz: float, order: SnapshotOrder) -> int:
    """How many source samples make one snapshot sample (the order's rate must divide the source's)."""
    factor = max(1, round(source_rate_hz / order.sample_rate_hz))
    if abs(source_rate_hz / factor - order.sample_rate_hz) > 1e-6 * order.sample_rate_hz:
        raise SnapshotError(f"snapshot {order.snapshot_id}: source runs at {source_rate_hz:.0f} S/s, the ordered "
                            f"{order.sample_rate_hz:.0f} S/s is not an integer fraction of it")
    return factor


def _retune(source: Source, freq_hz: float) -> None:
    """Retune without losing the sample count: a live receiver keeps its buffered samples (they are
    counted as settling), a recording or the simulator shifts digitally and never loses any."""
    if isinstance(source, StreamingSource):
        source.tune_continuous(freq_hz)
    else:
        source.tune(freq_hz)


def capture_snapshot(source: Source, order: SnapshotOrder, place: SensorPlace, out_dir: str | Path, *,
                     t_start: datetime, time_quality: str = "ntp", time_sigma_s: float = 0.01,
                     pps_locked: bool = False) -> Path:
    """Take the snapshot from ``source`` (already streaming) and write SigMF at the ordered rate.

    ``t_start``: the UTC time of the first sample as the sensor's clock says it (a live receiver, which
    dates its reads by the host clock, overrides it with the date of the first sample kept); a PPS-locked
    sensor with no reference frequency in the order records the target alone. The order's sample rate
    must be the source's or an integer fraction of it (the stream is then low-passed and decimated as
    a whole, so one sample counter still spans the three segments; the filter's retune transients fall
    in the settling samples).
    """
    from sigmf import SigMFFile

    rate_in = float(source.sample_rate_hz)
    factor = decimation_factor(rate_in, order)
    rate = rate_in / factor
    with_ref = order.ref_hz is not None and order.ref_samples > 0
    if order.ref_hz is None and not pps_locked:
        raise SnapshotError(f"snapshot {order.snapshot_id}: no reference frequency and no PPS-disciplined clock")
    plan: list[tuple[str, float, int]] = []
    if with_ref:
        plan.append(("ref_before", float(order.ref_hz or 0.0), order.ref_samples))
    plan.append(("target", order.target_hz, order.target_samples))
    if with_ref:
        plan.append(("ref_after", float(order.ref_hz or 0.0), order.ref_samples))
    previous_hz = float(source.center_freq_hz)
    chunks: list[np.ndarray] = []
    captures: list[dict[str, Any]] = []
    index = 0
    # the decimating filter needs a few samples beyond both ends (dropped after filtering)
    pad = _DECIMATION_PAD * factor if factor > 1 else 0
    dropped_before = int(source.dropped_samples)
    try:
        source.tune(plan[0][1])  # the first tune may flush a live receiver's backlog: the count starts after it
        if isinstance(source, StreamingSource) and order.settle_samples:
            _read_exactly(source, order.settle_samples * factor, "initial settling")
        if pad:
            chunks.append(_read_exactly(source, pad, "filter lead-in"))
            t_start = _first_read_time(source, t_start - timedelta(seconds=pad / rate_in))
            t_start += timedelta(seconds=pad / rate_in)  # sample 0 of the file follows the lead-in
        for k, (label, freq, n) in enumerate(plan):
            settle = order.settle_samples if k > 0 else 0
            if k > 0:
                _retune(source, freq)
            if settle:
                chunks.append(_read_exactly(source, settle * factor, f"{label} settling"))
            captures.append({"label": label, "retune_index": index, "sample_start": index + settle,
                             "frequency": freq, "samples": n, "settle": settle})
            if k == 0 and not pad:  # date the first kept sample by the source's own first block
                head = _read_exactly(source, min(n * factor, 1 << 17), label)
                t_start = _first_read_time(source, t_start)
                rest = n * factor - head.size
                chunks.extend([head, _read_exactly(source, rest, label)] if rest else [head])
            else:
                chunks.append(_read_exactly(source, n * factor, label))
            index += settle + n
        if pad:
            chunks.append(_read_exactly(source, pad, "filter lead-out"))
    finally:
        source.tune(previous_hz)
    lost = int(source.dropped_samples) - dropped_before
    if lost:
        raise SnapshotError(f"snapshot {order.snapshot_id}: the receiver dropped {lost} samples during the "
                            "snapshot (the sample count no longer spans the segments); the host is too busy")
    iq = np.concatenate(chunks)
    if factor > 1:
        import scipy.signal

        # zero-phase polyphase FIR: no group delay, so sample k of the output is input sample k * factor
        iq = scipy.signal.resample_poly(iq, 1, factor)[_DECIMATION_PAD:-_DECIMATION_PAD].astype(np.complex64)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data_path = out / f"{order.snapshot_id}.sigmf-data"
    meta_path = out / f"{order.snapshot_id}.sigmf-meta"
    np.ascontiguousarray(iq, dtype="<c8").tofile(data_path)
    global_info = {
        "core:datatype": "cf32_le",
        "core:sample_rate": rate,
        "core:description": f"borderwatch TDOA snapshot {order.snapshot_id} from sensor {place.sensor_id}",
        "core:recorder": "borderwatch",
        "core:author": place.sensor_id,
        "core:geolocation": {"type": "Point", "coordinates": [place.lon, place.lat, place.height_m]},
        # the TDOA-specific facts travel in core:extensions-free form under our namespace's comment key
        "core:comment": json.dumps({NS: {
            "kind": "tdoa_snapshot", "snapshot_id": order.snapshot_id, "ordered_t_utc": order.t_utc,
            "reference_station": order.reference_station, "ref_hz": order.ref_hz, "target_hz": order.target_hz,
            "settle_samples": order.settle_samples, "time_quality": time_quality, "time_sigma_s": time_sigma_s,
            "pps_locked": bool(pps_locked), "alert_id": order.alert_id, "decimation": factor,
            "source_rate_hz": rate_in,
            "segments": [{k: c[k] for k in ("label", "retune_index", "sample_start", "samples")} for c in captures],
        }}, separators=(",", ":")),
    }
    sf = SigMFFile(data_file=str(data_path), global_info=global_info)
    for c in captures:
        # the settling samples belong to the capture of the frequency being settled to (its retune index)
        meta: dict[str, Any] = {"core:frequency": c["frequency"]}
        if c["retune_index"] == 0:
            meta["core:datetime"] = format_utc(t_start)
        # a capture starts at the retune: its settling samples belong to the frequency being settled to
        sf.add_capture(c["retune_index"], metadata=meta)
        sf.add_annotation(c["sample_start"], c["samples"], metadata={"core:label": c["label"]})
    sf.tofile(str(meta_path), skip_validate=False, overwrite=True)
    log.info("tdoa snapshot %s: %d samples, segments %s", order.snapshot_id, iq.size,
             [(c["label"], c["sample_start"]) for c in captures])
    return meta_path


def read_snapshot(meta_path: str | Path) -> tuple[SnapshotWindows, dict[str, Any]]:
    """A snapshot file back as the chain's windows, and its borderwatch metadata (station, time quality)."""
    from sigmf import sigmffile

    try:
        sf = sigmffile.fromfile(str(meta_path))
        doc = json.loads(Path(meta_path).read_text())
        return snapshot_windows(doc, np.asarray(sf.read_samples(), dtype=np.complex64))
    except SnapshotFormatError as exc:
        raise SnapshotError(f"{meta_path}: {exc}") from exc
    except (OSError, ValueError) as exc:
        raise SnapshotError(f"{meta_path}: not a readable SigMF snapshot: {exc}") from exc


def snapshot_evidence(meta_path: str | Path) -> EvidenceCapture:
    """A written snapshot as an evidence recording, so it travels the evidence path (chunks through the
    spool, reassembled by the server under its order id, which is the snapshot id)."""
    meta_path = Path(meta_path)
    try:
        metadata = json.loads(meta_path.read_text())
        glob, caps = metadata["global"], metadata["captures"]
        rate = float(glob["core:sample_rate"])
        stamp = str(caps[0].get("core:datetime", ""))
        t0 = datetime.fromisoformat(stamp.replace("Z", "+00:00")) if stamp else datetime.now(UTC)
    except (OSError, ValueError, KeyError, IndexError, TypeError) as exc:
        raise SnapshotError(f"{meta_path}: not a readable SigMF snapshot: {exc}") from exc
    data_path = meta_path.with_suffix(".sigmf-data")
    n = data_path.stat().st_size // 8
    target = [c for c in caps if c.get("core:frequency") is not None]
    center = float(target[min(1, len(target) - 1)]["core:frequency"]) if target else 0.0
    return EvidenceCapture(capture_id=meta_path.name.removesuffix(".sigmf-meta"), meta_path=meta_path,
                           data_path=data_path, metadata=metadata, n_samples=int(n), sample_rate_hz=rate,
                           center_hz=center, t_utc=t0)
