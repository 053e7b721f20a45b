"""Cross-province tasking: a province asks a neighbour's sensor for a measurement or a snapshot.

The owner of the sensor decides by its policy: ``auto`` grants a requesting province up to
``daily_quota`` requests per UTC day without anyone in the loop, and passes the ones over quota to
an operator; ``operator`` passes every request to an operator. A province asking its own sensor
needs nobody's leave. Every request, decision and result is an :class:`AuditEntry` (who, when,
what), kept by the caller's audit port, and the result is shared with the requester.

No sockets, clocks or SQL here: the server passes the time, turns a granted request into a sensor
command (``capture_iq`` for a snapshot, ``switch_profile`` for a measurement) and stores the audit.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol

from coordination.protocol import format_utc

REQUEST_KINDS: tuple[str, ...] = ("measurement", "iq_snapshot", "tdoa_snapshot")
POLICY_MODES: tuple[str, ...] = ("auto", "operator")
STATES: tuple[str, ...] = ("pending", "granted", "refused", "done")
_PROVINCE_RE = re.compile(r"^[A-Z][A-Z0-9]{0,7}$")


class TaskingError(ValueError):
    """A request or decision that is not allowed; says why."""


@dataclass(frozen=True)
class TaskingPolicy:
    """How a province answers other provinces' requests for its sensors."""

    owner: str
    mode: str = "auto"
    daily_quota: int = 10

    def __post_init__(self) -> None:
        if self.mode not in POLICY_MODES:
            raise TaskingError(f"tasking policy of {self.owner}: mode {self.mode!r} not one of {POLICY_MODES}")
        if isinstance(self.daily_quota, bool) or not isinstance(self.daily_quota, int) or self.daily_quota < 0:
            raise TaskingError(f"tasking policy of {self.owner}: daily_quota must be a non-negative integer")


@dataclass(frozen=True)
class TaskingRequest:
    id: str
    from_province: str
    sensor_id: str
    owner: str
    kind: str
    params: Mapping[str, Any]
    reason: str
    requested_by: str
    requested_at: datetime
    state: str = "pending"
    decided_by: str = ""
    decision_reason: str = ""
    result: str = ""

    @property
    def auto_granted(self) -> bool:
        """Granted by the owner's policy within the quota (what the quota counts)."""
        return self.state in ("granted", "done") and self.decided_by == "policy" and self.owner != self.from_province

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "from_province": self.from_province, "sensor_id": self.sensor_id, "owner": self.owner,
                "kind": self.kind, "params": dict(self.params), "reason": self.reason,
                "requested_by": self.requested_by, "requested_at": format_utc(self.requested_at),
                "state": self.state, "decided_by": self.decided_by, "decision_reason": self.decision_reason,
                "result": self.result}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> TaskingRequest:
        """A stored request back (the store wrote it with :meth:`to_json`)."""
        try:
            t = datetime.fromisoformat(str(d["requested_at"]).replace("Z", "+00:00"))
            if d["kind"] not in REQUEST_KINDS or d["state"] not in STATES or t.tzinfo is None:
                raise ValueError(f"kind {d['kind']!r}, state {d['state']!r}")
            return cls(str(d["id"]), str(d["from_province"]), str(d["sensor_id"]), str(d["owner"]), str(d["kind"]),
                       dict(d.get("params") or {}), str(d["reason"]), str(d["requested_by"]), t, str(d["state"]),
                       str(d.get("decided_by", "")), str(d.get("decision_reason", "")), str(d.get("result", "")))
        except (KeyError, TypeError, ValueError) as exc:
            raise TaskingError(f"stored tasking request {d.get('id')!r} is not readable: {exc}") from exc


@dataclass(frozen=True)
class AuditEntry:
    t: datetime
    request_id: str
    what: str  # requested | granted | queued | refused | done
    by: str
    detail: str = ""


class AuditSink(Protocol):
    def record(self, entry: AuditEntry) -> None: ...


class RequestSink(Protocol):
    def save_request(self, request: TaskingRequest) -> None:
        """Keep the request as it now stands (so a restart finds it, its decision and the quota used)."""


@dataclass
class ListAudit:
    """An audit kept in a list (tests, tools); the server's store keeps its own."""

    entries: list[AuditEntry] = field(default_factory=list)

    def record(self, entry: AuditEntry) -> None:
        self.entries.append(entry)


class TaskingDesk:
    """Requests by id, the policies of the owners, the quota used per (owner, requester, UTC day)."""

    def __init__(self, policies: Mapping[str, TaskingPolicy], sensor_owner: Callable[[str], str | None],
                 audit: AuditSink, *, saved: Iterable[TaskingRequest] = (), sink: RequestSink | None = None) -> None:
        """``saved``: the requests a store kept (pending ones wait on; the quota used today counts);
        ``sink``: where each request is kept as it changes."""
        self.policies = dict(policies)
        self.sensor_owner = sensor_owner
        self.audit = audit
        self.sink = sink
        self.requests: dict[str, TaskingRequest] = {}
        self._granted: dict[tuple[str, str, str], int] = {}
        for r in saved:
            self.requests[r.id] = r
            if r.auto_granted:
                key = (r.owner, r.from_province, r.requested_at.strftime("%Y-%m-%d"))
                self._granted[key] = self._granted.get(key, 0) + 1
        self._n = len(self.requests)

    def policy(self, owner: str) -> TaskingPolicy:
        return self.policies.get(owner) or TaskingPolicy(owner, "operator", 0)

    def used(self, owner: str, from_province: str, day: str) -> int:
        """Requests of ``from_province`` granted automatically on ``owner``'s sensors on UTC day ``day``."""
        return self._granted.get((owner, from_province, day), 0)

    def request(self, from_province: str, sensor_id: str, kind: str, params: Mapping[str, Any], reason: str,
                by: str, now: datetime) -> TaskingRequest:
        """File a request; the owner's policy grants it at once or queues it for an operator."""
        if not isinstance(from_province, str) or not _PROVINCE_RE.match(from_province):
            raise TaskingError(f"requesting province {from_province!r} is not a code like JS")
        if kind not in REQUEST_KINDS:
            raise TaskingError(f"request kind {kind!r}: choose one of {', '.join(REQUEST_KINDS)}")
        if not isinstance(reason, str) or not reason.strip() or len(reason) > 2000:
            raise TaskingError("a request needs a reason (1 to 2000 characters)")
        owner = self.sensor_owner(sensor_id)
        if owner is None:
            raise TaskingError(f"unknown sensor {sensor_id!r}")
        self._n += 1
        req = TaskingRequest(f"TQ{now:%Y%m%d}-{owner}-{self._n:04d}", from_province, sensor_id, owner, kind,
                             dict(params), reason.strip(), by, now)
        self._audit(now, req, "requested", by, f"{from_province} asks {owner}'s {sensor_id} for {kind}: {reason}")
        if owner == from_province:
            return self._decide(req, "granted", "own sensor", "policy", now)
        pol = self.policy(owner)
        day = now.strftime("%Y-%m-%d")
        if pol.mode == "auto" and self.used(owner, from_province, day) < pol.daily_quota:
            self._granted[(owner, from_province, day)] = self.used(owner, from_province, day) + 1
            return self._decide(req, "granted", f"automatic ({self.used(owner, from_province, day)} of "
                                                f"{pol.daily_quota} today)", "policy", now)
        why = (f"over {from_province}'s daily quota of {pol.daily_quota} on {owner}'s sensors"
               if pol.mode == "auto" else f"{owner} decides every request by an operator")
        req = replace(req, decision_reason=why)  # pending: why it waits for an operator
        self._keep(req)
        self._audit(now, req, "queued", "policy", why)
        return req

    def decide(self, request_id: str, grant: bool, by: str, acting_for: str | None, now: datetime,
               reason: str = "") -> TaskingRequest:
        """An operator of the owner (``acting_for`` its province; None = a centre operator) decides."""
        req = self._get(request_id)
        if req.state != "pending":
            raise TaskingError(f"request {request_id} is {req.state} already")
        if acting_for is not None and acting_for != req.owner:
            raise TaskingError(f"only {req.owner} (the sensor's owner) decides request {request_id}")
        if not grant and not reason.strip():
            raise TaskingError("a refusal needs a reason")
        return self._decide(req, "granted" if grant else "refused", reason.strip() or "granted by an operator", by,
                            now)

    def complete(self, request_id: str, result: str, now: datetime) -> TaskingRequest:
        """The sensor delivered (``result``: a capture id or measurement reference), shared with the requester."""
        req = self._get(request_id)
        if req.state != "granted":
            raise TaskingError(f"request {request_id} is {req.state}; only a granted request completes")
        done = replace(req, state="done", result=result)
        self._keep(done)
        self._audit(now, done, "done", "sensor", f"result {result} shared with {req.from_province}")
        return done

    def pending_for(self, owner: str) -> list[TaskingRequest]:
        return [r for r in self.requests.values() if r.owner == owner and r.state == "pending"]

    def _get(self, request_id: str) -> TaskingRequest:
        req = self.requests.get(request_id)
        if req is None:
            raise TaskingError(f"no tasking request {request_id!r}")
        return req

    def _decide(self, req: TaskingRequest, state: str, why: str, by: str, now: datetime) -> TaskingRequest:
        out = replace(req, state=state, decided_by=by, decision_reason=why)
        self._keep(out)
        self._audit(now, out, state, by, why)
        return out

    def _keep(self, req: TaskingRequest) -> None:
        self.requests[req.id] = req
        if self.sink is not None:
            self.sink.save_request(req)

    def _audit(self, now: datetime, req: TaskingRequest, what: str, by: str, detail: str) -> None:
        self.audit.record(AuditEntry(now, req.id, what, by, detail))
