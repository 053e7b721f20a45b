"""The API operations on cases (SERVER_CONTRACT: ``cases``, ``case``, ``case_open``, ``case_act``,
``case_upload``, ``case_attachment``, ``case_verify``).

One handler class, given the case desk, the attachment store, a way to read an alert and the
clock: the server's API dispatch stays a table of ops and the case rules live in one place. Every
op takes ``by`` (who acts: the operator's or team's name) and, for a client acting on a team's behalf (the
web view), ``as_provinces`` (the team's provinces; absent = an operator of the centre). The
server's key policy checks ``as_provinces`` against a province-limited key; here they become the
:class:`~coordination.cases.Actor` whose rights the case life cycle checks.

Attachments travel in chunks (``case_upload``: base64 of at most :data:`MAX_CHUNK_BYTES`, at an
offset), then ``case_act action=attach`` names the upload and its SHA-256. A caller's mistake is an
:class:`~coordination.api.ApiError` with a sentence that names the argument.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import numpy as np

from coordination import cases
from coordination.api import ApiError, team_scope
from coordination.attachments import AttachmentError, AttachmentStore
from coordination.casebook import CaseDesk
from coordination.caselog import verify
from coordination.cases import Actor, CaseError

#: Raw bytes per upload chunk: base64 of it (4/3) stays well inside the 64 KiB request header.
MAX_CHUNK_BYTES = 36 * 1024
ACTIONS = ("assign", "handover", "handover_answer", "task", "task_done", "note", "attach", "on_site", "close")
CASE_STATES = ("open", "closed", "merged", "all")

Handler = Callable[[Mapping[str, Any]], tuple[Any, tuple[np.ndarray, ...]]]


def _s(args: Mapping[str, Any], name: str, max_len: int = 128, required: bool = True) -> str | None:
    v = args.get(name)
    if v is None or (isinstance(v, str) and not v.strip() and not required):
        if required:
            raise ApiError(f"missing argument {name!r}")
        return None
    if not isinstance(v, str) or not v.strip() or len(v) > max_len:
        raise ApiError(f"argument {name!r} must be non-empty text of at most {max_len} characters")
    return v


def _n(args: Mapping[str, Any], name: str) -> float:
    v = args.get(name)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise ApiError(f"argument {name!r} must be a finite number")
    return float(v)


def actor_of(args: Mapping[str, Any]) -> Actor:
    """The actor a request speaks for: ``by`` and, for a team, ``as_provinces``."""
    by = _s(args, "by")
    provs = args.get("as_provinces")
    try:
        if provs is None:
            return Actor(str(by))
        if not isinstance(provs, list) or not provs or not all(isinstance(p, str) for p in provs):
            raise ApiError("argument 'as_provinces' must be a non-empty list of province codes")
        return Actor(str(by), tuple(provs))
    except CaseError as exc:
        raise ApiError(str(exc)) from exc


class CaseOps:
    """API handlers on cases; ``ops`` maps op names to them."""

    def __init__(self, desk: CaseDesk, attachments: AttachmentStore,
                 alert_json: Callable[[str], Mapping[str, Any] | None], clock: Callable[[], datetime]) -> None:
        self.desk = desk
        self.attachments = attachments
        self.alert_json = alert_json
        self.clock = clock
        self.ops: dict[str, Handler] = {
            "cases": self.list_cases, "case": self.case, "case_open": self.open, "case_act": self.act,
            "case_upload": self.upload, "case_attachment": self.attachment, "case_verify": self.verify,
        }

    def list_cases(self, args: Mapping[str, Any]) -> tuple[Any, tuple[np.ndarray, ...]]:
        state = _s(args, "state", 8, required=False) or "all"
        if state not in CASE_STATES:
            raise ApiError(f"state {state!r} not one of {CASE_STATES}")
        province = _s(args, "province", 8, required=False)
        found = self.desk.visible_to(None if province is None else (province,), None if state == "all" else state)
        scope = team_scope(args)
        if scope is not None:
            found = [c for c in found if c.involves(scope)]
        found.sort(key=lambda c: c.updated_at, reverse=True)
        return [c.to_json(with_events=False) for c in found], ()

    def case(self, args: Mapping[str, Any]) -> tuple[Any, tuple[np.ndarray, ...]]:
        cid = _s(args, "id", 64)
        by_alert = args.get("by_alert") is True
        try:
            c = self.desk.find_for_alert(str(cid)) if by_alert else self.desk.get(str(cid))
        except CaseError as exc:
            raise ApiError(str(exc)) from exc
        if c is None or (team_scope(args) is not None and not c.involves(team_scope(args) or ())):
            raise ApiError(f"no case {'for alert ' if by_alert else 'with id '}{cid!r}")
        return c.to_json(), ()

    def open(self, args: Mapping[str, Any]) -> tuple[Any, tuple[np.ndarray, ...]]:
        actor = actor_of(args)
        alert_id = _s(args, "alert_id")
        doc = self.alert_json(str(alert_id))
        if doc is None:
            raise ApiError(f"no alert with id {alert_id!r}")
        try:
            return self.desk.open(doc, self.clock(), actor, auto=False).to_json(), ()
        except CaseError as exc:
            raise ApiError(str(exc)) from exc

    def act(self, args: Mapping[str, Any]) -> tuple[Any, tuple[np.ndarray, ...]]:
        actor = actor_of(args)
        cid = str(_s(args, "id", 64))
        action = _s(args, "action", 32)
        if action not in ACTIONS:
            raise ApiError(f"action {action!r} not one of {ACTIONS}")
        t = self.clock()
        try:
            command = self._command(action, args, actor, t)
            return self.desk.act(cid, command).to_json(), ()
        except (CaseError, AttachmentError) as exc:
            raise ApiError(str(exc)) from exc

    def _command(self, action: str, args: Mapping[str, Any], actor: Actor, t: datetime) -> Callable[[cases.Case],
                                                                                                   cases.CaseEvent]:
        if action == "assign":
            assignee = str(_s(args, "assignee"))
            return lambda c: cases.assign(c, assignee, t, actor)
        if action == "handover":
            to, reason = str(_s(args, "to", 8)), str(_s(args, "reason", cases.MAX_TEXT))
            return lambda c: cases.ask_handover(c, to, reason, t, actor)
        if action == "handover_answer":
            accept = args.get("accept")
            if not isinstance(accept, bool):
                raise ApiError("argument 'accept' must be true or false")
            reason = _s(args, "reason", cases.MAX_TEXT, required=not accept) or ""
            return lambda c: cases.answer_handover(c, accept, t, actor, reason)
        if action == "task":
            kind, desc = str(_s(args, "kind", 32)), str(_s(args, "description", cases.MAX_TEXT))
            for_province = _s(args, "for_province", 8, required=False)
            return lambda c: cases.add_task(c, kind, desc, t, actor, for_province)
        if action == "task_done":
            task_id, result = str(_s(args, "task_id", 16)), str(_s(args, "result", cases.MAX_TEXT))
            return lambda c: cases.complete_task(c, task_id, result, t, actor)
        if action == "note":
            text = str(_s(args, "text", cases.MAX_TEXT))
            return lambda c: cases.add_note(c, text, t, actor)
        if action == "on_site":
            lat, lon, acc = _n(args, "lat"), _n(args, "lon"), _n(args, "accuracy_m")
            return lambda c: cases.on_site(c, lat, lon, acc, t, actor)
        if action == "close":
            outcome = str(_s(args, "outcome", 32))
            summary = _s(args, "summary", cases.MAX_TEXT, required=False) or ""
            return lambda c: cases.close(c, outcome, summary, t, actor)
        # attach: the staged upload becomes an attachment once its hash checks out
        name, media = str(_s(args, "name")), str(_s(args, "media_type", 80))
        upload_id, sha = str(_s(args, "upload_id", 64)), str(_s(args, "sha256", 64))

        def attach(c: cases.Case) -> cases.CaseEvent:
            cases.validate_data("attachment", {"name": name, "sha256": sha, "size_bytes": 0, "media_type": media},
                                "attachment")
            cases.attach(c, name, sha, 0, media, t, actor)  # rights and state before the file is kept
            digest, size = self.attachments.commit(upload_id, sha)
            return cases.attach(c, name, digest, size, media, t, actor)
        return attach

    def upload(self, args: Mapping[str, Any]) -> tuple[Any, tuple[np.ndarray, ...]]:
        actor_of(args)
        upload_id = str(_s(args, "upload_id", 64))
        offset = args.get("offset")
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
            raise ApiError("argument 'offset' must be a non-negative integer")
        try:
            data = base64.b64decode(str(_s(args, "data_b64", MAX_CHUNK_BYTES * 2)), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ApiError("argument 'data_b64' is not base64") from exc
        if len(data) > MAX_CHUNK_BYTES:
            raise ApiError(f"a chunk carries at most {MAX_CHUNK_BYTES} bytes")
        try:
            return {"upload_id": upload_id, "received": self.attachments.put_chunk(upload_id, offset, data)}, ()
        except AttachmentError as exc:
            raise ApiError(str(exc)) from exc

    def attachment(self, args: Mapping[str, Any]) -> tuple[Any, tuple[np.ndarray, ...]]:
        """A chunk of a case's attachment (only an attachment the case records)."""
        c = self.case(args)[0]
        sha = _s(args, "sha256", 64)
        offset = args.get("offset", 0)
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
            raise ApiError("argument 'offset' must be a non-negative integer")
        if not any(a["sha256"] == sha for a in c["attachments"]):
            raise ApiError(f"case {c['id']} has no attachment {str(sha)[:12]}...")
        try:
            path = self.attachments.path(str(sha))
        except AttachmentError as exc:
            raise ApiError(str(exc)) from exc
        size = path.stat().st_size
        with open(path, "rb") as f:
            f.seek(offset)
            data = f.read(MAX_CHUNK_BYTES)
        return {"sha256": sha, "offset": offset, "size_bytes": size,
                "data_b64": base64.b64encode(data).decode()}, ()

    def verify(self, args: Mapping[str, Any]) -> tuple[Any, tuple[np.ndarray, ...]]:
        cid = str(_s(args, "id", 64))
        events = self.desk.repo.case_events(cid)
        scope = team_scope(args)
        if not events or (scope is not None and not self.desk.get(cid).involves(scope)):
            raise ApiError(f"no case with id {cid!r}")
        return verify(cid, events).to_json(), ()
