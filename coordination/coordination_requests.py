"""Coordination requests: a province asks its neighbours before it assigns a frequency near a border.

The HCM Agreement and ITU SMS4DC way round: the owner submits a new or modified assignment; the field
it would put along every neighbour's border is computed (:mod:`coordination.border_field`); the
neighbours whose border sees more than the band's trigger value are asked; each asked province
agrees (optionally with a lower agreed field), objects with a reason, or lets the deadline pass
(a reminder at the deadline, then its silence counts as the policy says: HCM treats it as consent);
the owner may withdraw the request while it is open. Every outcome is written to the station record
(``pending`` at submission, then ``agreed`` / ``objected``; ``not_required`` for neighbours below the
trigger), and every step is an :class:`AuditEntry` (who, when, what, with the computation's inputs and
rules version).

No sockets, clocks or SQL here: the caller passes the time; a :class:`RequestRepository` keeps the
requests (in memory here; :mod:`coordination.store.requests` in the shared database, where an answer
is one transaction on the request's row, so two centres answering at the same moment cannot lose
each other's answer); a ``notify`` port publishes on ``coord.<P>``; the station records are written
through :class:`StationRecords` (:class:`station_db.repository.StationRepository` is one).
"""

from __future__ import annotations

import math
import re
import threading
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Protocol

from coordination.border_field import BorderComputation, BorderPieces, compute_border_fields
from coordination.protocol import format_utc
from station_db.models import MEMBER_PROVINCES, Coordination, Station
from station_db.rules import RuleSet

REQUEST_KINDS: tuple[str, ...] = ("new", "modified")
STATES: tuple[str, ...] = ("open", "concluded", "withdrawn")
ANSWER_STATES: tuple[str, ...] = ("waiting", "agreed", "objected", "lapsed")
DECISIONS: tuple[str, ...] = ("agree", "object")
SILENCE_MEANS: tuple[str, ...] = ("agreed", "objected")
MAX_REASON_CHARS = 2000
_ID_RE = re.compile(r"^CR-[A-Z]{2}-\d{14}-[0-9a-f]{6}$")


class RequestError(ValueError):
    """A step that is not allowed (wrong province, request closed, missing reason); says why."""


class UnknownRequestError(RequestError):
    """No request with that id."""


@dataclass(frozen=True)
class RequestPolicy:
    """Deadlines and what silence means (HCM: 30 days, a reminder, then silence is consent)."""

    answer_days: float = 30.0
    reminder_days: float = 15.0
    silence_means: str = "agreed"
    step_km: float = 1.0

    def __post_init__(self) -> None:
        if self.silence_means not in SILENCE_MEANS:
            raise RequestError(f"policy silence_means={self.silence_means!r}: use one of {', '.join(SILENCE_MEANS)}")
        for name in ("answer_days", "reminder_days", "step_km"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
                raise RequestError(f"policy {name}={value!r} must be a positive number")


@dataclass(frozen=True)
class Answer:
    """One asked province's answer (``waiting`` until it agrees, objects or lets the deadline pass)."""

    province: str
    state: str = "waiting"
    agreed_field_dbuv_m: float | None = None
    reason: str = ""
    by: str = ""
    at: datetime | None = None
    reminded_at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"province": self.province, "state": self.state, "agreed_field_dbuv_m": self.agreed_field_dbuv_m,
                "reason": self.reason, "by": self.by, "at": _iso(self.at), "reminded_at": _iso(self.reminded_at)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Answer:
        f = d.get("agreed_field_dbuv_m")
        return cls(str(d["province"]), str(d["state"]), None if f is None else float(f), str(d.get("reason", "")),
                   str(d.get("by", "")), _dt(d.get("at")), _dt(d.get("reminded_at")))


@dataclass(frozen=True)
class CoordinationRequest:
    """A submitted assignment, the computation behind it and where its answers stand."""

    id: str
    kind: str
    station: Station
    submitted_by: str
    submitted_at: datetime
    computation: BorderComputation
    answers: tuple[Answer, ...]
    deadline: datetime
    final_deadline: datetime
    state: str = "open"
    closed_at: datetime | None = None
    note: str = ""
    previous: tuple[Coordination, ...] = field(default=())
    """The station's coordination before this request (restored if it is withdrawn)."""

    @property
    def province(self) -> str:
        return self.station.province

    @property
    def asked(self) -> tuple[str, ...]:
        return tuple(a.province for a in self.answers)

    @property
    def waiting_for(self) -> tuple[str, ...]:
        return tuple(a.province for a in self.answers if a.state == "waiting")

    def answer_of(self, province: str) -> Answer | None:
        for a in self.answers:
            if a.province == province:
                return a
        return None

    def with_answer(self, answer: Answer) -> CoordinationRequest:
        return replace(self, answers=tuple(answer if a.province == answer.province else a for a in self.answers))

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "kind": self.kind, "province": self.province, "station": self.station.to_dict(),
            "submitted_by": self.submitted_by, "submitted_at": _iso(self.submitted_at),
            "computation": self.computation.to_dict(), "answers": [a.to_dict() for a in self.answers],
            "deadline": _iso(self.deadline), "final_deadline": _iso(self.final_deadline), "state": self.state,
            "closed_at": _iso(self.closed_at), "note": self.note, "previous": [c.to_dict() for c in self.previous],
        }

    def summary(self) -> dict[str, Any]:
        """What lists show: no border profiles."""
        return {
            "id": self.id, "kind": self.kind, "province": self.province, "station_id": self.station.station_id,
            "tx_freq_hz": self.station.tx_freq_hz, "state": self.state, "submitted_by": self.submitted_by,
            "submitted_at": _iso(self.submitted_at), "deadline": _iso(self.deadline),
            "final_deadline": _iso(self.final_deadline), "closed_at": _iso(self.closed_at),
            "answers": [a.to_dict() for a in self.answers], "waiting_for": list(self.waiting_for),
            "borders": [p.summary() for p in self.computation.profiles],
            "rules_version": self.computation.inputs.get("rules_version"),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CoordinationRequest:
        return cls(
            id=str(d["id"]), kind=str(d["kind"]), station=Station.from_dict(d["station"]),
            submitted_by=str(d["submitted_by"]), submitted_at=_req_dt(d["submitted_at"]),
            computation=BorderComputation.from_dict(d["computation"]),
            answers=tuple(Answer.from_dict(a) for a in d["answers"]), deadline=_req_dt(d["deadline"]),
            final_deadline=_req_dt(d["final_deadline"]), state=str(d["state"]), closed_at=_dt(d.get("closed_at")),
            note=str(d.get("note", "")), previous=tuple(Coordination.from_dict(c) for c in d.get("previous", ())),
        )


@dataclass(frozen=True)
class AuditEntry:
    """One step of a request: who did what, when, with the figures it rested on."""

    request_id: str
    t: datetime
    actor: str
    province: str
    action: str  # submitted | asked | agreed | objected | reminded | lapsed | concluded | withdrawn
    detail: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"request_id": self.request_id, "t": _iso(self.t), "actor": self.actor, "province": self.province,
                "action": self.action, "detail": dict(self.detail)}


Change = Callable[[CoordinationRequest], tuple[CoordinationRequest, list[AuditEntry]]]


class RequestRepository(Protocol):
    """Where requests and their audit log are kept."""

    def create(self, request: CoordinationRequest, audit: Sequence[AuditEntry]) -> None:
        """Store a new request with its first audit entries (one transaction)."""

    def get(self, request_id: str) -> CoordinationRequest | None: ...

    def all(self) -> list[CoordinationRequest]:
        """Every request, oldest first."""

    def update(self, request_id: str, change: Change) -> CoordinationRequest:
        """Apply ``change`` to the current request and store its result and audit entries atomically:
        the request is read under a lock (a row lock in the shared database) so concurrent changes
        from two centres apply one after the other. ``change`` may raise; nothing is stored then."""

    def audit(self, request_id: str) -> list[AuditEntry]:
        """The request's audit entries in order."""


class StationRecords(Protocol):
    """The station records a request writes its outcome to (a StationRepository)."""

    def set_coordination(self, province: str, station_id: str, entries: Sequence[Coordination]) -> None: ...

    def clear_coordination(self, province: str, station_id: str, neighbour: str) -> None: ...

    def coordination_of(self, province: str, station_id: str) -> tuple[Coordination, ...]: ...


Notify = Callable[[str, Mapping[str, Any]], None]
"""``notify(topic, document)``: publish on ``coord.<P>`` (the server's PUB and the API's event list)."""


class InMemoryRequestRepository:
    """Requests in a dict behind a lock: for tests, tools and a single process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: dict[str, CoordinationRequest] = {}
        self._audit: dict[str, list[AuditEntry]] = {}

    def create(self, request: CoordinationRequest, audit: Sequence[AuditEntry]) -> None:
        with self._lock:
            if request.id in self._requests:
                raise RequestError(f"request {request.id} exists already")
            self._requests[request.id] = request
            self._audit[request.id] = list(audit)

    def get(self, request_id: str) -> CoordinationRequest | None:
        with self._lock:
            return self._requests.get(request_id)

    def all(self) -> list[CoordinationRequest]:
        with self._lock:
            return sorted(self._requests.values(), key=lambda r: (r.submitted_at, r.id))

    def update(self, request_id: str, change: Change) -> CoordinationRequest:
        with self._lock:
            current = self._requests.get(request_id)
            if current is None:
                raise UnknownRequestError(f"no coordination request {request_id!r}")
            new, entries = change(current)
            self._requests[request_id] = new
            self._audit[request_id].extend(entries)
            return new

    def audit(self, request_id: str) -> list[AuditEntry]:
        with self._lock:
            return list(self._audit.get(request_id, ()))


def topic_for(province: str) -> str:
    """The PUB topic a province's centre and consoles subscribe to for coordination traffic."""
    return f"coord.{province}"


class CoordinationDesk:
    """Submit, answer, withdraw and age coordination requests (see the module docstring).

    ``answers_for``: the provinces this centre may answer for (a federated centre answers only for
    its own province; None = any, e.g. the platform administrator or a single-server deployment).
    """

    def __init__(
        self,
        repo: RequestRepository,
        stations: StationRecords,
        rules: RuleSet,
        *,
        policy: RequestPolicy | None = None,
        notify: Notify | None = None,
        border_pieces: BorderPieces | None = None,
        neighbours_of: Callable[[str], Sequence[str]] | None = None,
        answers_for: Collection[str] | None = None,
    ) -> None:
        self.repo = repo
        self.stations = stations
        self.rules = rules
        self.policy = policy or RequestPolicy()
        self._notify = notify
        self._border_pieces = border_pieces
        self._neighbours_of = neighbours_of
        self.answers_for = None if answers_for is None else frozenset(answers_for)

    # -------------------------------------------------------------- queries

    def get(self, request_id: str) -> CoordinationRequest:
        req = self.repo.get(request_id)
        if req is None:
            raise UnknownRequestError(f"no coordination request {request_id!r}")
        return req

    def find(self, *, province: str | None = None, waiting_for: str | None = None,
             state: str | None = None) -> list[CoordinationRequest]:
        """Requests by owner ``province``, those still ``waiting_for`` a province's answer, or in ``state``."""
        out = []
        for r in self.repo.all():
            if province is not None and r.province != province:
                continue
            if waiting_for is not None and (r.state != "open" or waiting_for not in r.waiting_for):
                continue
            if state is not None and r.state != state:
                continue
            out.append(r)
        return out

    def audit(self, request_id: str) -> list[AuditEntry]:
        self.get(request_id)
        return self.repo.audit(request_id)

    # -------------------------------------------------------------- steps

    def submit(self, station: Station, *, by: str, now: datetime, kind: str = "new", note: str = "",
               request_id: str | None = None) -> CoordinationRequest:
        """Compute the border fields, ask the neighbours over the trigger value, record and notify."""
        _check_time(now)
        if kind not in REQUEST_KINDS:
            raise RequestError(f"kind {kind!r}: use one of {', '.join(REQUEST_KINDS)}")
        if station.province not in MEMBER_PROVINCES:
            raise RequestError(f"province {station.province!r} is not a member ({', '.join(MEMBER_PROVINCES)})")
        comp = compute_border_fields(
            station, self.rules, step_km=self.policy.step_km, border_pieces=self._border_pieces,
            neighbours=None if self._neighbours_of is None else self._neighbours_of(station.province),
        )
        rid = request_id or f"CR-{station.province}-{now.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:6]}"
        deadline = now + timedelta(days=self.policy.answer_days)
        asked = comp.must_ask
        req = CoordinationRequest(
            id=rid, kind=kind, station=station, submitted_by=by, submitted_at=now, computation=comp,
            answers=tuple(Answer(p) for p in asked), deadline=deadline,
            final_deadline=deadline + timedelta(days=self.policy.reminder_days),
            state="open" if asked else "concluded", closed_at=None if asked else now, note=note[:MAX_REASON_CHARS],
            previous=self.stations.coordination_of(station.province, station.station_id),
        )
        audit = [AuditEntry(rid, now, by, station.province, "submitted", {
            "kind": kind, "inputs": dict(comp.inputs), "borders": [p.summary() for p in comp.profiles],
            "asked": list(asked), "deadline": _iso(deadline), "final_deadline": _iso(req.final_deadline),
            "policy": {"answer_days": self.policy.answer_days, "reminder_days": self.policy.reminder_days,
                       "silence_means": self.policy.silence_means},
        })]
        if not asked:
            audit.append(AuditEntry(rid, now, "system", station.province, "concluded",
                                    {"outcome": "not_required for every neighbour"}))
        self.repo.create(req, audit)
        self._write_outcome(req)
        for p in asked:
            self._publish(p, "asked", req)
        self._publish(station.province, "submitted", req)
        return req

    def respond(self, request_id: str, province: str, decision: str, *, by: str, now: datetime,
                agreed_field_dbuv_m: float | None = None, reason: str = "") -> CoordinationRequest:
        """``province`` agrees (optionally with a lower agreed field) or objects (with a reason)."""
        _check_time(now)
        if decision not in DECISIONS:
            raise RequestError(f"decision {decision!r}: use one of {', '.join(DECISIONS)}")
        if self.answers_for is not None and province not in self.answers_for:
            raise RequestError(f"this centre answers only for {', '.join(sorted(self.answers_for))}, not {province}")
        reason = reason.strip()[:MAX_REASON_CHARS]
        if decision == "object" and not reason:
            raise RequestError("an objection needs a reason")

        def change(req: CoordinationRequest) -> tuple[CoordinationRequest, list[AuditEntry]]:
            ans = self._waiting_answer(req, province)
            asked_for = req.computation.profile(province)
            assert asked_for is not None
            field = agreed_field_dbuv_m
            if decision == "agree" and field is not None:
                if not math.isfinite(field) or field > asked_for.worst_field_dbuv_m + 1e-6:
                    raise RequestError(f"agreed field {field:g} dBuV/m: at most the {asked_for.worst_field_dbuv_m:.1f} "
                                       f"dBuV/m the request asks for (agree with a lower value or object)")
                if field < -40.0:
                    raise RequestError(f"agreed field {field:g} dBuV/m is below -40 dBuV/m")
            new_ans = replace(ans, state="agreed" if decision == "agree" else "objected", by=by, at=now,
                              agreed_field_dbuv_m=(agreed_field_for(asked_for.worst_field_dbuv_m) if field is None
                                                   else field) if decision == "agree" else None,
                              reason=reason)
            new = req.with_answer(new_ans)
            entries = [AuditEntry(req.id, now, by, province, new_ans.state, {
                "agreed_field_dbuv_m": new_ans.agreed_field_dbuv_m, "reason": reason,
                "asked_field_dbuv_m": asked_for.worst_field_dbuv_m,
                "rules_version": req.computation.inputs.get("rules_version")})]
            return _conclude_if_done(new, now, entries)

        req = self.repo.update(request_id, change)
        self._write_outcome(req, only=(province,))
        self._publish(req.province, "answered", req, answering=province)
        if req.state == "concluded":
            self._publish_all(req, "concluded")
        return req

    def withdraw(self, request_id: str, province: str, *, by: str, now: datetime,
                 reason: str = "") -> CoordinationRequest:
        """The owner province takes back an open request; the station's earlier coordination returns."""
        _check_time(now)

        def change(req: CoordinationRequest) -> tuple[CoordinationRequest, list[AuditEntry]]:
            if province != req.province:
                raise RequestError(f"only {req.province}, the owner, can withdraw {req.id}")
            if req.state != "open":
                raise RequestError(f"request {req.id} is {req.state}; only an open request can be withdrawn")
            new = replace(req, state="withdrawn", closed_at=now)
            why = reason.strip()[:MAX_REASON_CHARS]
            return new, [AuditEntry(req.id, now, by, province, "withdrawn", {"reason": why})]

        req = self.repo.update(request_id, change)
        st = req.station
        for p in req.computation.profiles:
            self.stations.clear_coordination(st.province, st.station_id, p.neighbour)
        if req.previous:
            self.stations.set_coordination(st.province, st.station_id, req.previous)
        self._publish_all(req, "withdrawn")
        return req

    def tick(self, now: datetime) -> list[CoordinationRequest]:
        """Send reminders at the deadline and let silence count after the reminder period; returns the
        requests that changed."""
        _check_time(now)
        changed = []
        for r in self.find(state="open"):
            due = [a for a in r.answers if a.state == "waiting" and (
                (a.reminded_at is None and now >= r.deadline) or now >= r.final_deadline)]
            if not due:
                continue
            before: list[CoordinationRequest] = []  # the stored state the change starts from (another centre
            req = self.repo.update(r.id, partial(self._age, now=now, seen=before))  # may have aged it first)
            old_req = before[-1]
            if req == old_req:
                continue  # nothing due any more, or another centre did it first: it has notified
            changed.append(req)
            lapsed = [a.province for a in req.answers if a.state == "lapsed"
                      and getattr(old_req.answer_of(a.province), "state", None) == "waiting"]
            if lapsed:
                self._write_outcome(req, only=tuple(lapsed))
            for a in req.answers:
                old = old_req.answer_of(a.province)
                if old is not None and old.reminded_at is None and a.reminded_at is not None and a.state == "waiting":
                    self._publish(a.province, "reminder", req)
            if req.state == "concluded":
                self._publish_all(req, "concluded")
        return changed

    # -------------------------------------------------------------- pieces

    def _age(self, req: CoordinationRequest, now: datetime,
             seen: list[CoordinationRequest] | None = None) -> tuple[CoordinationRequest, list[AuditEntry]]:
        if seen is not None:
            seen.append(req)
        entries: list[AuditEntry] = []
        if req.state != "open":
            return req, entries
        for a in req.answers:
            if a.state != "waiting":
                continue
            if now >= req.final_deadline:
                silence = self.policy.silence_means
                asked_for = req.computation.profile(a.province)
                assert asked_for is not None
                new_a = replace(a, state="lapsed", at=now, by="system",
                                agreed_field_dbuv_m=agreed_field_for(asked_for.worst_field_dbuv_m)
                                if silence == "agreed" else None,
                                reason=f"no answer by {_iso(req.final_deadline)}: silence counts as {silence}")
                req = req.with_answer(new_a)
                entries.append(AuditEntry(req.id, now, "system", a.province, "lapsed",
                                          {"silence_means": silence, "reason": new_a.reason}))
            elif a.reminded_at is None and now >= req.deadline:
                req = req.with_answer(replace(a, reminded_at=now))
                entries.append(AuditEntry(req.id, now, "system", a.province, "reminded",
                                          {"deadline": _iso(req.deadline), "final_deadline": _iso(req.final_deadline)}))
        return _conclude_if_done(req, now, entries)

    def _waiting_answer(self, req: CoordinationRequest, province: str) -> Answer:
        if req.state != "open":
            raise RequestError(f"request {req.id} is {req.state}; it takes no more answers")
        ans = req.answer_of(province)
        if ans is None:
            asked = ", ".join(req.asked) or "nobody"
            raise RequestError(f"{province} was not asked in {req.id} (asked: {asked})")
        if ans.state != "waiting":
            raise RequestError(f"{province} already answered {req.id} ({ans.state} by {ans.by or 'system'})")
        return ans

    def outcome(self, req: CoordinationRequest) -> tuple[Coordination, ...]:
        """The coordination entries the request stands for now (one per neighbour of the computation)."""
        out = []
        for p in req.computation.profiles:
            a = req.answer_of(p.neighbour)
            if a is None:
                out.append(Coordination(p.neighbour, "not_required", reference=req.id))
            elif a.state == "waiting":
                out.append(Coordination(p.neighbour, "pending", reference=req.id))
            elif a.state == "objected" or (a.state == "lapsed" and a.agreed_field_dbuv_m is None):
                out.append(Coordination(p.neighbour, "objected", reference=req.id))
            else:
                assert a.at is not None and a.agreed_field_dbuv_m is not None
                out.append(Coordination(p.neighbour, "agreed", a.agreed_field_dbuv_m, req.id, a.at.date(),
                                        req.station.valid_to))
        return tuple(out)

    def _write_outcome(self, req: CoordinationRequest, only: Sequence[str] | None = None) -> None:
        entries = [c for c in self.outcome(req) if only is None or c.neighbour in only]
        if entries:
            self.stations.set_coordination(req.province, req.station.station_id, entries)

    def _publish(self, province: str, event: str, req: CoordinationRequest, **extra: Any) -> None:
        if self._notify is not None:
            self._notify(topic_for(province), {"event": event, "request": req.summary(), **extra})

    def _publish_all(self, req: CoordinationRequest, event: str) -> None:
        for p in dict.fromkeys([req.province, *req.asked]):
            self._publish(p, event, req)


def _conclude_if_done(req: CoordinationRequest, now: datetime,
                      entries: list[AuditEntry]) -> tuple[CoordinationRequest, list[AuditEntry]]:
    if req.state == "open" and not req.waiting_for:
        req = replace(req, state="concluded", closed_at=now)
        entries.append(AuditEntry(req.id, now, "system", req.province, "concluded",
                                  {"answers": {a.province: a.state for a in req.answers}}))
    return req, entries


def agreed_field_for(worst_dbuv_m: float) -> float:
    """The agreed field when a province agrees to what was asked: the worst border field, rounded up
    to 0.1 dB (what the agreement records must cover the prediction it was asked about)."""
    return math.ceil(round(worst_dbuv_m * 10.0, 6)) / 10.0


def _check_time(now: datetime) -> None:
    if now.tzinfo is None:
        raise RequestError(f"time {now!r} must be timezone-aware UTC")


def _iso(t: datetime | None) -> str | None:
    return None if t is None else format_utc(t)


def _dt(v: Any) -> datetime | None:
    return None if v is None else datetime.fromisoformat(str(v))


def _req_dt(v: Any) -> datetime:
    return datetime.fromisoformat(str(v))


def is_request_id(text: str) -> bool:
    """Whether ``text`` looks like an id this module makes (the CLI checks before asking the server)."""
    return bool(_ID_RE.match(text))
