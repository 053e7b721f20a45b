"""What the web view reads and writes, through the server's API (the console's API, over ZeroMQ).

The web server is one API client speaking for many teams: every call names the team (``by``)
and, for case operations, the team's provinces (``as_provinces``), and the web view itself never
shows or touches an alert or a case that involves none of the team's provinces (:func:`sees_alert`,
:func:`sees_case`). With a province-limited team key the server refuses the rest as well.

``ApiBackend`` serialises calls on its one DEALER socket (the web server runs page handlers on a
thread pool).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from coordination.client import ApiClient, ApiError

UPLOAD_CHUNK_BYTES = 32 * 1024


class BackendError(RuntimeError):
    """The server refused or could not answer; the message is the server's sentence."""


def alert_provinces(alert: Mapping[str, Any]) -> set[str]:
    return {*(alert.get("provinces_source") or ()), *(alert.get("provinces_affected") or ()),
            *(alert.get("notify_provinces") or ())}


def sees_alert(provinces: Iterable[str], alert: Mapping[str, Any]) -> bool:
    return bool(set(provinces) & alert_provinces(alert))


def sees_case(provinces: Iterable[str], case: Mapping[str, Any]) -> bool:
    seen = {*(case.get("provinces") or ()), case.get("holder"), *(t.get("for_province") for t in case.get("tasks")
                                                                  or ())}
    if case.get("handover"):
        seen.add(case["handover"].get("to"))
    return bool(set(provinces) & seen)


class Backend(Protocol):
    def call(self, op: str, args: Mapping[str, Any]) -> Any:
        """The result of API op ``op``; BackendError with the server's message otherwise."""


class ApiBackend:
    """Backend over :class:`coordination.client.ApiClient` (thread-safe: one call at a time)."""

    def __init__(self, client: ApiClient) -> None:
        self.client = client
        self._lock = threading.Lock()

    def call(self, op: str, args: Mapping[str, Any]) -> Any:
        with self._lock:
            try:
                return self.client.result(op, args)
            except ApiError as exc:
                raise BackendError(str(exc)) from exc
            except TimeoutError as exc:
                raise BackendError(f"the monitoring centre does not answer ({exc})") from exc

    def close(self) -> None:
        with self._lock:
            self.client.close()


class TeamView:
    """The operations of one logged-in team, scoped to its provinces."""

    def __init__(self, backend: Backend, team_name: str, provinces: tuple[str, ...]) -> None:
        self.backend = backend
        self.team = team_name
        self.provinces = provinces

    def _who(self) -> dict[str, Any]:
        return {"by": self.team} | self._scope()

    def _scope(self) -> dict[str, Any]:
        return {"as_provinces": list(self.provinces)}

    def open_alerts(self) -> list[dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for p in self.provinces:
            for state in ("open", "acknowledged"):
                for a in self.backend.call("alerts", {"state": state, "province": p, "limit": 200}):
                    if sees_alert(self.provinces, a):
                        out[a["id"]] = a
        return sorted(out.values(), key=lambda a: a.get("updated_at", ""), reverse=True)

    def alert(self, alert_id: str) -> dict[str, Any] | None:
        """The alert, or None if it does not exist or is not this team's to see."""
        try:
            a = self.backend.call("alert", {"id": alert_id})
        except BackendError:
            return None
        return a if sees_alert(self.provinces, a) else None

    def ack(self, alert_id: str, note: str | None) -> dict[str, Any]:
        args: dict[str, Any] = {"id": alert_id, "by": self.team}
        if note:
            args["note"] = note
        return self.backend.call("ack", args)

    def open_cases(self) -> list[dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for p in self.provinces:
            for c in self.backend.call("cases", {"state": "open", "province": p} | self._scope()):
                if sees_case(self.provinces, c):
                    out[c["id"]] = c
        return sorted(out.values(), key=lambda c: c.get("updated_at", ""), reverse=True)

    def case(self, case_id: str) -> dict[str, Any] | None:
        try:
            c = self.backend.call("case", {"id": case_id} | self._scope())
        except BackendError:
            return None
        return c if sees_case(self.provinces, c) else None

    def case_of_alert(self, alert_id: str) -> dict[str, Any] | None:
        try:
            c = self.backend.call("case", {"id": alert_id, "by_alert": True} | self._scope())
        except BackendError:
            return None
        return c if sees_case(self.provinces, c) else None

    def open_case(self, alert_id: str) -> dict[str, Any]:
        return self.backend.call("case_open", {"alert_id": alert_id} | self._who())

    def act(self, case_id: str, action: str, **fields: Any) -> dict[str, Any]:
        return self.backend.call("case_act", {"id": case_id, "action": action} | fields | self._who())

    def attach(self, case_id: str, name: str, media_type: str, data: bytes) -> dict[str, Any]:
        """Upload ``data`` in chunks, then record it on the case by its SHA-256."""
        upload_id = secrets.token_hex(16)
        for off in range(0, max(len(data), 1), UPLOAD_CHUNK_BYTES):
            chunk = data[off:off + UPLOAD_CHUNK_BYTES]
            self.backend.call("case_upload", {"upload_id": upload_id, "offset": off,
                                              "data_b64": base64.b64encode(chunk).decode()} | self._who())
        return self.act(case_id, "attach", name=name, media_type=media_type, upload_id=upload_id,
                        sha256=hashlib.sha256(data).hexdigest())

    def attachment_bytes(self, case_id: str, sha256: str, max_bytes: int) -> bytes:
        out = bytearray()
        while True:
            r = self.backend.call("case_attachment", {"id": case_id, "sha256": sha256, "offset": len(out)}
                                  | self._scope())
            chunk = base64.b64decode(r["data_b64"])
            out += chunk
            if not chunk or len(out) >= r["size_bytes"] or len(out) > max_bytes:
                return bytes(out)

    def sensors(self) -> list[dict[str, Any]]:
        try:
            return [s for s in self.backend.call("sensors", {}) if s.get("province") in self.provinces]
        except BackendError:
            return []  # a province-limited team key may not list sensors: the map shows the alerts' readings
