"""The case history's SHA-256 chain: append events, and find the first link that does not hold.

Each event's ``hash`` is SHA-256 over the previous event's hash and the canonical JSON of the
event's body (sorted keys, no spaces, UTF-8, no NaN). A case's chain starts from a genesis value
derived from the case id, so an event moved from one case to another breaks its link too. Editing
any stored field of an event, deleting or reordering events changes a hash that a later link
covers: :func:`verify` names the first event where the chain breaks and why.

What a chain cannot show by itself is the loss of the *last* events (the head): an exported case
file records the head hash and the number of events, so a later export can be checked against it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from coordination.cases import CaseError, CaseEvent, apply


def canonical_json(obj: Any) -> bytes:
    """The one byte form that is hashed: sorted keys, compact separators, UTF-8, NaN refused."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def genesis_hash(case_id: str) -> str:
    """The value the first event of case ``case_id`` links to."""
    return hashlib.sha256(b"borderwatch-case\n" + case_id.encode()).hexdigest()


def event_hash(prev_hash: str, ev: CaseEvent) -> str:
    return hashlib.sha256(prev_hash.encode() + b"\n" + canonical_json(ev.body_json())).hexdigest()


def seal(prev: CaseEvent | None, ev: CaseEvent) -> CaseEvent:
    """``ev`` with its chain fields set, linked after ``prev`` (None: the case's first event)."""
    prev_hash = genesis_hash(ev.case_id) if prev is None else prev.hash
    if prev is not None and (prev.case_id != ev.case_id or ev.seq != prev.seq + 1):
        raise CaseError(f"event {ev.case_id}#{ev.seq} cannot follow {prev.case_id}#{prev.seq}")
    return replace(ev, prev_hash=prev_hash, hash=event_hash(prev_hash, ev))


@dataclass(frozen=True)
class ChainReport:
    """The result of :func:`verify`: ``ok``, or the first bad event's seq and what is wrong with it."""

    case_id: str
    n_events: int
    ok: bool
    bad_seq: int | None = None
    reason: str = ""
    head_hash: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"case_id": self.case_id, "n_events": self.n_events, "ok": self.ok, "bad_seq": self.bad_seq,
                "reason": self.reason, "head_hash": self.head_hash}


def verify(case_id: str, events: Sequence[CaseEvent], *, expect_head: str | None = None,
           expect_n: int | None = None) -> ChainReport:
    """Walk a case's events in order: links, hashes, sequence and the life cycle itself.

    ``expect_head``/``expect_n`` (from an earlier export) also catch a truncated tail.
    """
    prev_hash = genesis_hash(case_id)
    case = None
    for i, ev in enumerate(events, 1):
        why = _link_fault(case_id, i, prev_hash, ev)
        if not why:
            try:
                case = apply(case, ev)
            except CaseError as exc:
                why = f"event {i} breaks the case life cycle: {exc}"
        if why:
            return ChainReport(case_id, len(events), False, i, why, prev_hash)
        prev_hash = ev.hash
    if expect_n is not None and len(events) < expect_n:
        return ChainReport(case_id, len(events), False, len(events) + 1,
                           f"{expect_n - len(events)} event(s) after {len(events)} are missing", prev_hash)
    if expect_head is not None and expect_n is not None and len(events) >= expect_n >= 1 \
            and events[expect_n - 1].hash != expect_head:
        return ChainReport(case_id, len(events), False, expect_n, "the recorded head hash does not match",
                           prev_hash)
    return ChainReport(case_id, len(events), True, None, "", prev_hash)


def _link_fault(case_id: str, i: int, prev_hash: str, ev: CaseEvent) -> str:
    """Why event ``i`` is not a sound link after ``prev_hash`` ('' if it is)."""
    if ev.case_id != case_id:
        return f"event {i} belongs to case {ev.case_id}"
    if ev.seq != i:
        return f"event {i} has seq {ev.seq} (events missing or reordered)"
    if ev.prev_hash != prev_hash:
        return (f"event {i} links to {ev.prev_hash[:12] or 'nothing'}..., the previous hash is {prev_hash[:12]}... "
                "(an earlier event was edited, removed or inserted)")
    want = event_hash(prev_hash, ev)
    if ev.hash != want:
        return (f"event {i} ({ev.kind}) was changed after it was written: its content hashes to {want[:12]}..., "
                f"the log says {ev.hash[:12]}...")
    return ""
