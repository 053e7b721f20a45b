"""The TDOA snapshot's SigMF layout, parsed: which samples are the reference and target segments.

Why here: the sensor writes the snapshot (:mod:`sdr.snapshot`) and the server reads it (the TDOA
orders part); neither may import the other, both may import ``dsp``. This is the one parser of that
layout, pure (a metadata document and the samples in, the chain's windows out; the callers do the
file I/O). The layout: a SigMF document whose ``global`` ``core:comment`` holds a JSON object under
the key ``borderwatch`` with ``kind = "tdoa_snapshot"``, the reference and target frequencies, the
PPS flag and one entry per segment (``label``, ``sample_start``, ``samples``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np

from dsp.tdoa_pair import SnapshotWindows

#: Our key in the SigMF global comment.
NS = "borderwatch"


class SnapshotFormatError(ValueError):
    """A document that is not a borderwatch TDOA snapshot, or segments that do not fit its samples."""


def snapshot_info(meta: Mapping[str, Any]) -> dict[str, Any]:
    """The borderwatch part of a snapshot's SigMF metadata (raises when it is no snapshot)."""
    glob = meta.get("global") if isinstance(meta.get("global"), Mapping) else None
    if glob is None:
        raise SnapshotFormatError("no SigMF 'global' object")
    try:
        info = json.loads(str(glob.get("core:comment") or "{}")).get(NS, {})
    except (ValueError, AttributeError) as exc:
        raise SnapshotFormatError(f"core:comment is not the borderwatch JSON: {exc}") from exc
    if not isinstance(info, dict) or info.get("kind") != "tdoa_snapshot":
        raise SnapshotFormatError(f"not a borderwatch TDOA snapshot (no {NS}.kind = tdoa_snapshot)")
    return info


def snapshot_windows(meta: Mapping[str, Any], iq: np.ndarray) -> tuple[SnapshotWindows, dict[str, Any]]:
    """The chain's windows from a snapshot's metadata and its samples, and its borderwatch metadata."""
    info = snapshot_info(meta)
    try:
        rate = float(meta["global"]["core:sample_rate"])
        segs = {str(s["label"]): (int(s["sample_start"]), int(s["sample_start"]) + int(s["samples"]))
                for s in info.get("segments", [])}
        target_hz = float(info["target_hz"])
        ref_hz = float(info.get("ref_hz") or 0.0)
    except (KeyError, TypeError, ValueError) as exc:
        raise SnapshotFormatError(f"snapshot metadata incomplete: {exc}") from exc
    if "target" not in segs or any(b > iq.size or a < 0 or b < a for a, b in segs.values()):
        raise SnapshotFormatError(f"segments {segs} do not fit {iq.size} samples")
    empty = (0, 0)
    win = SnapshotWindows(iq=np.asarray(iq, dtype=np.complex64), sample_rate_hz=rate,
                          ref_before=segs.get("ref_before", empty), target=segs["target"],
                          ref_after=segs.get("ref_after", empty), ref_freq_hz=ref_hz, target_freq_hz=target_hz,
                          pps_locked=bool(info.get("pps_locked")))
    return win, info
