"""Enforcement cases: what the provinces did about an alert, as a state machine of events.

An alert says *what* is wrong; a case records *who acts and what they did*: which province holds
it (from the alert's ``resolution``, the agreed order of who must act), hand-overs between
provinces (asked, then accepted or refused with a reason), tasks (field search, on-site
measurement, notice to a licensee), notes, attachments, the team's position on site, and the
outcome on closure. Nothing in a case is ever overwritten: every change is a :class:`CaseEvent`
(who, when, what), and the :class:`Case` value is the fold of its events (:func:`replay`). The
events are chained by SHA-256 (:mod:`coordination.caselog`), so the history can be checked.

This module has no sockets, threads, clocks or SQL: callers pass the time and the actor, and get
back the next event (or a :class:`CaseError` that says why the step is not allowed). The same
code therefore runs in the server, in a federated peer replaying the shared log, and in tests.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from coordination.protocol import format_utc, utc_from_text

#: Severities from which the server opens a case by itself (an operator may open one for any alert).
AUTO_OPEN_SEVERITIES: tuple[str, ...] = ("critical", "major")
OUTCOMES: tuple[str, ...] = ("stopped", "licence_amended", "penalised", "referred", "not_found")
TASK_KINDS: tuple[str, ...] = ("field_search", "onsite_measurement", "licensee_notice")
#: ``merged``: the alert turned out to be another centre's alert for the same emitter (federation);
#: the case continues as that alert's case, this one keeps its history and points there.
STATES: tuple[str, ...] = ("open", "closed", "merged")
EVENT_KINDS: tuple[str, ...] = (
    "opened", "assigned", "handover_asked", "handover_accepted", "handover_refused", "task_added", "task_done",
    "note", "attachment", "on_site", "closed", "merged", "reassigned",
)
MAX_TEXT = 4000
MAX_NAME = 128
_PROVINCE_RE = re.compile(r"^[A-Z][A-Z0-9]{0,7}$")
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_MEDIA_RE = re.compile(r"^[a-z]+/[a-z0-9.+\-]{1,64}$")
_FILE_RE = re.compile(r"^[^/\\\x00-\x1f]{1,128}$")


class CaseError(ValueError):
    """A case step that is not allowed now, or an event that breaks the schema; says why."""


def format_time(t: datetime) -> str:
    """:func:`~coordination.protocol.format_utc` (the alerts' and the protocol's format), refusing a naive time."""
    try:
        return format_utc(t)
    except ValueError as exc:
        raise CaseError(f"case time: {exc}") from None


def parse_time(text: Any, where: str) -> datetime:
    """An ISO-8601 UTC time of ``where`` (an event's field); CaseError naming it otherwise."""
    try:
        return utc_from_text(text, where)
    except ValueError as exc:
        raise CaseError(str(exc)) from None


# ---------------------------------------------------------------- field checks


def _text(v: Any, where: str, max_len: int) -> str:
    if not isinstance(v, str) or not v.strip():
        raise CaseError(f"{where} must be non-empty text")
    if len(v) > max_len:
        raise CaseError(f"{where} is longer than {max_len} characters ({len(v)})")
    return v


def _province(v: Any, where: str) -> str:
    if not isinstance(v, str) or not _PROVINCE_RE.match(v):
        raise CaseError(f"{where}={v!r} is not a province code like JS")
    return v


def _number(v: Any, where: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise CaseError(f"{where} must be a finite number, got {v!r}")
    return float(v)


# ---------------------------------------------------------------- who acts


@dataclass(frozen=True)
class Actor:
    """Who makes a change: a name (key or team name) and the provinces it may act for.

    ``provinces=None`` is a centre operator or the server itself (may act for any province); a
    team's actor carries the provinces its key or token is bound to.
    """

    name: str
    provinces: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        _text(self.name, "actor.name", MAX_NAME)
        if self.provinces is not None:
            for p in self.provinces:
                _province(p, "actor.provinces")

    @property
    def unrestricted(self) -> bool:
        return self.provinces is None

    def may_act_for(self, province: str) -> bool:
        return self.provinces is None or province in self.provinces

    def acting_province(self, preferred: Sequence[str]) -> str:
        """The province this actor acts for in an event ('' for an operator acting as the centre)."""
        if self.provinces is None:
            return ""
        for p in preferred:
            if p in self.provinces:
                return p
        return self.provinces[0] if self.provinces else ""



SYSTEM = Actor("server")
"""The server itself (automatic openings)."""


# ---------------------------------------------------------------- events


@dataclass(frozen=True)
class CaseEvent:
    """One change of one case: ``seq`` counts from 1 within the case; ``data`` depends on ``kind``.

    ``prev_hash``/``hash`` are filled in by the log (:mod:`coordination.caselog`) when the event is
    appended; an event built by a command has them empty.
    """

    case_id: str
    seq: int
    kind: str
    t_utc: datetime
    actor: str
    province: str
    data: Mapping[str, Any]
    prev_hash: str = ""
    hash: str = ""

    def body_json(self) -> dict[str, Any]:
        """What the hash covers: everything but the chain fields."""
        return {"case_id": self.case_id, "seq": self.seq, "kind": self.kind, "t_utc": format_time(self.t_utc),
                "actor": self.actor, "province": self.province, "data": dict(self.data)}

    def to_json(self) -> dict[str, Any]:
        return self.body_json() | {"prev_hash": self.prev_hash, "hash": self.hash}

    @classmethod
    def from_json(cls, d: Any, where: str = "event") -> CaseEvent:
        """Validate an event from the store, the API or an export (every field, the data per kind)."""
        if not isinstance(d, Mapping):
            raise CaseError(f"{where} must be a JSON object")
        kind = d.get("kind")
        if kind not in EVENT_KINDS:
            raise CaseError(f"{where}.kind={kind!r} not one of {EVENT_KINDS}")
        seq = d.get("seq")
        if isinstance(seq, bool) or not isinstance(seq, int) or seq < 1:
            raise CaseError(f"{where}.seq must be a positive integer, got {seq!r}")
        data = d.get("data")
        if not isinstance(data, Mapping):
            raise CaseError(f"{where}.data must be a JSON object")
        province = d.get("province", "")
        if province != "":
            _province(province, f"{where}.province")
        ev = cls(case_id=_text(d.get("case_id"), f"{where}.case_id", 64), seq=seq, kind=kind,
                 t_utc=parse_time(d.get("t_utc"), f"{where}.t_utc"), actor=_text(d.get("actor"), f"{where}.actor",
                                                                                   MAX_NAME),
                 province=province, data=dict(data), prev_hash=str(d.get("prev_hash", "")),
                 hash=str(d.get("hash", "")))
        validate_data(ev.kind, ev.data, f"{where}.data")
        return ev


def validate_data(kind: str, data: Mapping[str, Any], where: str) -> None:
    """Each kind's data keys and their types (the schema of the log); CaseError naming the key."""
    def need(key: str) -> Any:
        if key not in data:
            raise CaseError(f"{where}.{key} missing for a {kind!r} event")
        return data[key]

    if kind == "opened":
        _text(need("alert_id"), f"{where}.alert_id", 128)
        for p in (*need("provinces"), need("holder")):
            _province(p, f"{where}.provinces")
        _number(need("f_center_hz"), f"{where}.f_center_hz")
        _text(need("severity"), f"{where}.severity", 16)
        if not isinstance(need("auto"), bool):
            raise CaseError(f"{where}.auto must be true or false")
    elif kind == "assigned":
        _text(need("assignee"), f"{where}.assignee", MAX_NAME)
    elif kind == "handover_asked":
        _province(need("to"), f"{where}.to")
        _text(need("reason"), f"{where}.reason", MAX_TEXT)
    elif kind == "handover_accepted":
        _province(need("to"), f"{where}.to")
    elif kind == "handover_refused":
        _text(need("reason"), f"{where}.reason", MAX_TEXT)
    elif kind == "task_added":
        _text(need("task_id"), f"{where}.task_id", 16)
        if need("task_kind") not in TASK_KINDS:
            raise CaseError(f"{where}.task_kind={data['task_kind']!r} not one of {TASK_KINDS}")
        _text(need("description"), f"{where}.description", MAX_TEXT)
        _province(need("for_province"), f"{where}.for_province")
    elif kind == "task_done":
        _text(need("task_id"), f"{where}.task_id", 16)
        _text(need("result"), f"{where}.result", MAX_TEXT)
    elif kind == "note":
        _text(need("text"), f"{where}.text", MAX_TEXT)
    elif kind == "attachment":
        name = need("name")
        if not isinstance(name, str) or not _FILE_RE.match(name):
            raise CaseError(f"{where}.name={name!r}: a file name of 1-128 characters without '/' or control codes")
        if not isinstance(need("sha256"), str) or not _SHA256_RE.match(data["sha256"]):
            raise CaseError(f"{where}.sha256 must be 64 lower-case hex digits")
        size = need("size_bytes")
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise CaseError(f"{where}.size_bytes must be a non-negative integer")
        if not isinstance(need("media_type"), str) or not _MEDIA_RE.match(data["media_type"]):
            raise CaseError(f"{where}.media_type={data['media_type']!r} is not a media type like image/jpeg")
    elif kind == "on_site":
        lat, lon = _number(need("lat"), f"{where}.lat"), _number(need("lon"), f"{where}.lon")
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise CaseError(f"{where}: position {lat}, {lon} is not on Earth")
        if _number(need("accuracy_m"), f"{where}.accuracy_m") < 0:
            raise CaseError(f"{where}.accuracy_m must not be negative")
    elif kind == "reassigned":
        for p in (*need("provinces"), need("holder")):
            _province(p, f"{where}.provinces")
        _text(need("reason"), f"{where}.reason", MAX_TEXT)
    elif kind == "merged":
        _text(need("into_case"), f"{where}.into_case", 64)
        _text(need("into_alert"), f"{where}.into_alert", 128)
    elif kind == "closed":
        if need("outcome") not in OUTCOMES:
            raise CaseError(f"{where}.outcome={data['outcome']!r} not one of {OUTCOMES}")
        if not isinstance(data.get("summary", ""), str) or len(data.get("summary", "")) > MAX_TEXT:
            raise CaseError(f"{where}.summary must be text of at most {MAX_TEXT} characters")


# ---------------------------------------------------------------- the case value


@dataclass(frozen=True)
class Task:
    task_id: str
    kind: str
    description: str
    for_province: str
    added_by: str
    added_at: datetime
    done: bool = False
    result: str = ""
    done_by: str = ""
    done_at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        return {"task_id": self.task_id, "kind": self.kind, "description": self.description,
                "for_province": self.for_province, "added_by": self.added_by,
                "added_at": format_time(self.added_at), "done": self.done, "result": self.result,
                "done_by": self.done_by, "done_at": None if self.done_at is None else format_time(self.done_at)}


@dataclass(frozen=True)
class Handover:
    """A pending hand-over: the holder asked ``to`` to take the case over."""

    to: str
    reason: str
    asked_by: str
    asked_at: datetime


@dataclass(frozen=True)
class Case:
    """A case at one point of its history (the fold of events ``1..n_events``); immutable."""

    id: str
    alert_id: str
    severity: str
    band: str
    f_center_hz: float
    provinces: tuple[str, ...]
    holder: str
    resolution: str
    opened_at: datetime
    opened_by: str
    auto: bool
    state: str = "open"
    assignee: str = ""
    handover: Handover | None = None
    tasks: tuple[Task, ...] = ()
    events: tuple[CaseEvent, ...] = field(default=(), repr=False)
    outcome: str = ""
    summary: str = ""
    closed_at: datetime | None = None
    closed_by: str = ""
    merged_into: str = ""

    @property
    def n_events(self) -> int:
        return len(self.events)

    @property
    def head_hash(self) -> str:
        return self.events[-1].hash if self.events else ""

    @property
    def updated_at(self) -> datetime:
        return self.events[-1].t_utc if self.events else self.opened_at

    def of_kind(self, *kinds: str) -> list[CaseEvent]:
        return [e for e in self.events if e.kind in kinds]

    def task(self, task_id: str) -> Task:
        for t in self.tasks:
            if t.task_id == task_id:
                return t
        raise CaseError(f"case {self.id} has no task {task_id!r} (tasks: {[t.task_id for t in self.tasks]})")

    def involves(self, provinces: Iterable[str]) -> bool:
        """Does any of ``provinces`` see this case (involved, holder, asked to take it, tasked)?"""
        mine = set(provinces)
        seen = {*self.provinces, self.holder, *(t.for_province for t in self.tasks)}
        if self.handover is not None:
            seen.add(self.handover.to)
        return bool(mine & seen)

    def to_json(self, with_events: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id, "alert_id": self.alert_id, "state": self.state, "severity": self.severity,
            "band": self.band, "f_center_hz": float(self.f_center_hz), "provinces": list(self.provinces),
            "holder": self.holder, "assignee": self.assignee, "resolution": self.resolution,
            "opened_at": format_time(self.opened_at), "opened_by": self.opened_by, "auto": self.auto,
            "updated_at": format_time(self.updated_at),
            "handover": None if self.handover is None else {
                "to": self.handover.to, "reason": self.handover.reason, "asked_by": self.handover.asked_by,
                "asked_at": format_time(self.handover.asked_at)},
            "tasks": [t.to_json() for t in self.tasks],
            "notes": [{"t_utc": format_time(e.t_utc), "actor": e.actor, "province": e.province,
                       "text": e.data["text"]} for e in self.of_kind("note")],
            "attachments": [dict(e.data) | {"t_utc": format_time(e.t_utc), "actor": e.actor}
                            for e in self.of_kind("attachment")],
            "on_site": [dict(e.data) | {"t_utc": format_time(e.t_utc), "actor": e.actor, "province": e.province}
                        for e in self.of_kind("on_site")],
            "outcome": self.outcome or None, "summary": self.summary,
            "closed_at": None if self.closed_at is None else format_time(self.closed_at),
            "closed_by": self.closed_by or None, "merged_into": self.merged_into or None,
            "n_events": self.n_events, "head_hash": self.head_hash,
        }
        if with_events:
            out["events"] = [e.to_json() for e in self.events]
        return out


# ---------------------------------------------------------------- folding events


def apply(case: Case | None, ev: CaseEvent) -> Case:
    """The case after ``ev`` (``case`` None for the opening event); CaseError for an impossible step.

    This is the one definition of the life cycle: commands check their preconditions by building
    the event and applying it, and a replayed log goes through the same checks.
    """
    if case is None:
        if ev.kind != "opened" or ev.seq != 1:
            raise CaseError(f"case {ev.case_id}: the first event must be 'opened' with seq 1, got {ev.kind!r} "
                            f"seq {ev.seq}")
        d = ev.data
        return Case(id=ev.case_id, alert_id=d["alert_id"], severity=d["severity"], band=str(d.get("band", "")),
                    f_center_hz=float(d["f_center_hz"]), provinces=tuple(d["provinces"]), holder=d["holder"],
                    resolution=str(d.get("resolution", "")), opened_at=ev.t_utc, opened_by=ev.actor,
                    auto=bool(d["auto"]), events=(ev,))
    if ev.case_id != case.id:
        raise CaseError(f"event of case {ev.case_id} applied to case {case.id}")
    if ev.seq != case.n_events + 1:
        raise CaseError(f"case {case.id}: event seq {ev.seq} does not follow {case.n_events}")
    if ev.t_utc < case.updated_at:
        raise CaseError(f"case {case.id}: event time {format_time(ev.t_utc)} is before the previous event's")
    if case.state != "open":
        raise CaseError(f"case {case.id} is {case.state} ({case.outcome or case.merged_into}); it takes no more "
                        "changes")
    d = ev.data
    nxt = replace(case, events=(*case.events, ev))
    if ev.kind == "opened":
        raise CaseError(f"case {case.id} is open already")
    if ev.kind == "assigned":
        return replace(nxt, assignee=d["assignee"])
    if ev.kind == "handover_asked":
        if case.handover is not None:
            raise CaseError(f"case {case.id}: a hand-over to {case.handover.to} is pending; it must be answered "
                            "first")
        if d["to"] == case.holder:
            raise CaseError(f"case {case.id} is held by {case.holder} already")
        return replace(nxt, handover=Handover(d["to"], d["reason"], ev.actor, ev.t_utc))
    if ev.kind in ("handover_accepted", "handover_refused"):
        if case.handover is None:
            raise CaseError(f"case {case.id}: no hand-over is pending")
        if ev.kind == "handover_refused":
            return replace(nxt, handover=None)
        if d["to"] != case.handover.to:
            raise CaseError(f"case {case.id}: the pending hand-over is to {case.handover.to}, not {d['to']}")
        return replace(nxt, handover=None, holder=case.handover.to, assignee="")
    if ev.kind == "task_added":
        if any(t.task_id == d["task_id"] for t in case.tasks):
            raise CaseError(f"case {case.id} has a task {d['task_id']} already")
        task = Task(d["task_id"], d["task_kind"], d["description"], d["for_province"], ev.actor, ev.t_utc)
        return replace(nxt, tasks=(*case.tasks, task))
    if ev.kind == "task_done":
        task = case.task(d["task_id"])
        if task.done:
            raise CaseError(f"case {case.id}: task {task.task_id} is done already")
        done = replace(task, done=True, result=d["result"], done_by=ev.actor, done_at=ev.t_utc)
        return replace(nxt, tasks=tuple(done if t.task_id == task.task_id else t for t in case.tasks))
    if ev.kind in ("note", "attachment", "on_site"):
        return nxt
    if ev.kind == "reassigned":
        if case.handover is not None:
            raise CaseError(f"case {case.id}: a hand-over to {case.handover.to} is pending")
        return replace(nxt, holder=d["holder"], provinces=tuple(d["provinces"]), assignee="")
    if ev.kind == "merged":
        if d["into_case"] == case.id:
            raise CaseError(f"case {case.id} cannot be merged into itself")
        return replace(nxt, state="merged", handover=None, merged_into=d["into_case"], closed_at=ev.t_utc,
                       closed_by=ev.actor)
    if ev.kind == "closed":
        if case.handover is not None:
            raise CaseError(f"case {case.id}: the hand-over to {case.handover.to} must be answered before closing")
        return replace(nxt, state="closed", outcome=d["outcome"], summary=str(d.get("summary", "")),
                       closed_at=ev.t_utc, closed_by=ev.actor)
    raise CaseError(f"unknown event kind {ev.kind!r}")


def replay(events: Iterable[CaseEvent]) -> Case:
    """Fold a case's events (in seq order) into its current value; CaseError at the first bad one."""
    case: Case | None = None
    for ev in events:
        case = apply(case, ev)
    if case is None:
        raise CaseError("a case needs at least its 'opened' event")
    return case


# ---------------------------------------------------------------- who must act


_LATER_YIELDS = re.compile(r"later yields to earlier: ([A-Z][A-Z0-9]{0,7}) station \S+ \(licensed [^)]*\) "
                           r"(yields to|is the later assignment)")
_NO_VICTIM = re.compile(r": ([A-Z][A-Z0-9]{0,7}) to bring the field at the border")


def holder_for(alert: Mapping[str, Any]) -> str:
    """The province that must act on an alert (alert JSON, docs/alert-schema.md).

    Follows the rules engine's resolution order: an unlicensed or out-of-band emitter is the
    source province's to find and stop; a licence violation is the licensee's province's; a
    cross-border case between licensed stations goes to the station that yields (the later
    assignment), as the ``resolution`` text names it. Falls back to the most likely source province
    of the position, then to the first affected province.
    """
    verdicts = list(alert.get("verdicts") or ())
    resolution = str(alert.get("resolution") or "")
    if "licence_violation" in verdicts and alert.get("matched_station"):
        for c in alert.get("candidate_stations") or ():
            if c.get("station_id") == alert["matched_station"] and c.get("province"):
                return str(c["province"])
    m = _LATER_YIELDS.search(resolution) or _NO_VICTIM.search(resolution)
    if m and "unlicensed" not in verdicts:
        return m.group(1)
    source = list(alert.get("provinces_source") or ())
    if source:
        return str(source[0])
    pos = alert.get("position") or {}
    probs = pos.get("provinces") or {}
    if probs:
        return str(max(probs.items(), key=lambda kv: kv[1])[0])
    affected = list(alert.get("provinces_affected") or ())
    if affected:
        return str(affected[0])
    raise CaseError(f"alert {alert.get('id')!r} names no province to hold its case")


def should_open_automatically(alert: Mapping[str, Any]) -> bool:
    """The server opens a case by itself for an active alert from ``major`` up."""
    return alert.get("severity") in AUTO_OPEN_SEVERITIES and alert.get("state") != "resolved"


def case_id_for(alert_id: str) -> str:
    """A case id derived from its alert's id: two federated centres opening it agree on the id."""
    return "C-" + hashlib.sha256(alert_id.encode()).hexdigest()[:12]


# ---------------------------------------------------------------- commands (build the next event)


def _event(case: Case | None, case_id: str, kind: str, t: datetime, actor: Actor, province: str,
           data: Mapping[str, Any]) -> CaseEvent:
    validate_data(kind, data, kind)
    ev = CaseEvent(case_id, 1 if case is None else case.n_events + 1, kind, t, actor.name, province, dict(data))
    apply(case, ev)  # the life cycle's checks: raises CaseError if the step is not allowed now
    return ev


def _require(ok: bool, why: str) -> None:
    if not ok:
        raise CaseError(why)


def open_case(alert: Mapping[str, Any], t: datetime, actor: Actor = SYSTEM, *, auto: bool = False) -> CaseEvent:
    """The opening event of a case for ``alert`` (alert JSON), held by :func:`holder_for`."""
    alert_id = _text(alert.get("id"), "alert.id", 128)
    involved: list[str] = []
    for p in (*(alert.get("provinces_source") or ()), *(alert.get("provinces_affected") or ())):
        if p not in involved:
            involved.append(str(p))
    holder = holder_for(alert)
    if holder not in involved:
        involved.insert(0, holder)
    _require(actor.unrestricted or any(actor.may_act_for(p) for p in involved),
             f"{actor.name} acts for {actor.provinces} and alert {alert_id} involves {involved} only")
    data = {"alert_id": alert_id, "severity": str(alert.get("severity", "")), "band": str(alert.get("band", "")),
            "f_center_hz": float(alert.get("f_center_hz", 0.0)), "provinces": involved, "holder": holder,
            "resolution": str(alert.get("resolution") or ""), "auto": auto}
    return _event(None, case_id_for(alert_id), "opened", t, actor, actor.acting_province([holder]), data)


def _holder_only(case: Case, actor: Actor, what: str) -> None:
    _require(actor.may_act_for(case.holder), f"only the holder ({case.holder}) or an operator may {what}; "
                                              f"{actor.name} acts for {','.join(actor.provinces or ())}")


def _involved_only(case: Case, actor: Actor, what: str) -> None:
    _require(actor.unrestricted or case.involves(actor.provinces or ()),
             f"{actor.name} is not involved in case {case.id} and may not {what}")


def assign(case: Case, assignee: str, t: datetime, actor: Actor) -> CaseEvent:
    _holder_only(case, actor, "assign the case")
    return _event(case, case.id, "assigned", t, actor, actor.acting_province([case.holder]),
                  {"assignee": _text(assignee, "assignee", MAX_NAME)})


def ask_handover(case: Case, to: str, reason: str, t: datetime, actor: Actor) -> CaseEvent:
    _holder_only(case, actor, "hand the case over")
    return _event(case, case.id, "handover_asked", t, actor, actor.acting_province([case.holder]),
                  {"to": _province(to, "to"), "reason": _text(reason, "reason", MAX_TEXT)})


def answer_handover(case: Case, accept: bool, t: datetime, actor: Actor, reason: str = "") -> CaseEvent:
    """Accept or refuse (with a reason) a pending hand-over; only the asked province or an operator."""
    _require(case.handover is not None, f"case {case.id}: no hand-over is pending")
    assert case.handover is not None
    to = case.handover.to
    _require(actor.may_act_for(to), f"only {to} (asked to take case {case.id}) or an operator may answer")
    if accept:
        return _event(case, case.id, "handover_accepted", t, actor, actor.acting_province([to]), {"to": to})
    return _event(case, case.id, "handover_refused", t, actor, actor.acting_province([to]),
                  {"reason": _text(reason, "reason (why the hand-over is refused)", MAX_TEXT)})


def add_task(case: Case, kind: str, description: str, t: datetime, actor: Actor,
             for_province: str | None = None) -> CaseEvent:
    _holder_only(case, actor, "add tasks")
    _require(kind in TASK_KINDS, f"task kind {kind!r}: choose one of {', '.join(TASK_KINDS)}")
    task_id = f"T{len(case.tasks) + 1}"
    return _event(case, case.id, "task_added", t, actor, actor.acting_province([case.holder]),
                  {"task_id": task_id, "task_kind": kind, "description": _text(description, "description", MAX_TEXT),
                   "for_province": _province(for_province or case.holder, "for_province")})


def complete_task(case: Case, task_id: str, result: str, t: datetime, actor: Actor) -> CaseEvent:
    task = case.task(task_id)
    _require(actor.may_act_for(task.for_province) or actor.may_act_for(case.holder),
             f"task {task_id} is {task.for_province}'s; {actor.name} may not mark it done")
    return _event(case, case.id, "task_done", t, actor, actor.acting_province([task.for_province, case.holder]),
                  {"task_id": task_id, "result": _text(result, "result", MAX_TEXT)})


def add_note(case: Case, text: str, t: datetime, actor: Actor) -> CaseEvent:
    _involved_only(case, actor, "add notes")
    return _event(case, case.id, "note", t, actor, actor.acting_province([case.holder, *case.provinces]),
                  {"text": _text(text, "note", MAX_TEXT)})


def attach(case: Case, name: str, sha256: str, size_bytes: int, media_type: str, t: datetime,
           actor: Actor) -> CaseEvent:
    """Record an attachment (photo, measurement file) already stored by its SHA-256."""
    _involved_only(case, actor, "attach files")
    return _event(case, case.id, "attachment", t, actor, actor.acting_province([case.holder, *case.provinces]),
                  {"name": name, "sha256": sha256, "size_bytes": size_bytes, "media_type": media_type})


def on_site(case: Case, lat: float, lon: float, accuracy_m: float, t: datetime, actor: Actor) -> CaseEvent:
    """A team reports being on site at a position (the browser's geolocation, WGS-84 degrees)."""
    _involved_only(case, actor, "report on site")
    return _event(case, case.id, "on_site", t, actor, actor.acting_province([case.holder, *case.provinces]),
                  {"lat": _number(lat, "lat"), "lon": _number(lon, "lon"), "accuracy_m": _number(accuracy_m,
                                                                                                 "accuracy_m")})


def close(case: Case, outcome: str, summary: str, t: datetime, actor: Actor) -> CaseEvent:
    _holder_only(case, actor, "close the case")
    _require(outcome in OUTCOMES, f"outcome {outcome!r}: choose one of {', '.join(OUTCOMES)}")
    if summary and len(summary) > MAX_TEXT:
        raise CaseError(f"summary is longer than {MAX_TEXT} characters")
    return _event(case, case.id, "closed", t, actor, actor.acting_province([case.holder]),
                  {"outcome": outcome, "summary": summary or ""})


def merge(case: Case, into: Case, t: datetime, actor: Actor = SYSTEM) -> CaseEvent:
    """``case`` continues as ``into`` (its alert is linked to ``into``'s alert): only the server or an operator."""
    _require(actor.unrestricted, "only the server or a centre operator merges cases")
    return _event(case, case.id, "merged", t, actor, "", {"into_case": into.id, "into_alert": into.alert_id})


def follow_alert(case: Case, alert: Mapping[str, Any], t: datetime) -> CaseEvent | None:
    """The server's ``reassigned`` step when an untouched case's alert now names another province to act
    (the engine's first estimate refined by more sensors), or involves more provinces; None if nothing
    changed or a team has already acted on the case (from then on only a hand-over moves it)."""
    if case.state != "open" or case.handover is not None or any(e.actor != SYSTEM.name for e in case.events):
        return None
    holder = holder_for(alert)
    involved = list(dict.fromkeys([holder, *(alert.get("provinces_source") or ()),
                                   *(alert.get("provinces_affected") or ())]))
    if holder == case.holder and set(involved) <= set(case.provinces):
        return None
    provinces = list(dict.fromkeys([*case.provinces, *involved]))
    reason = f"who must act: {alert.get('resolution') or holder}"
    return _event(case, case.id, "reassigned", t, SYSTEM, "", {"holder": holder, "provinces": provinces,
                                                              "reason": reason})
