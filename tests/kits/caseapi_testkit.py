"""A stand-in of the server's API for the web view's tests: a real ROUTER + PUB on 127.0.0.1.

It answers the alert ops the web uses (``alerts``, ``alert``, ``ack``, ``sensors``) from alert
documents it is given, and the case ops with the real :class:`coordination.case_ops.CaseOps`
(in-memory repository, attachments in a tmp dir), on the real wire protocol. ``publish`` sends an
alert event on ``alert.<PROV>`` topics like the server's PUB. It lets the web view's tests run
without a whole server (no store, archive or engine to set up).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import zmq

from coordination.alerts import format_time
from coordination.api import ApiError, error_reply
from coordination.attachments import AttachmentStore
from coordination.case_ops import CaseOps
from coordination.casebook import CaseDesk, InMemoryCaseRepository
from coordination.protocol import AlertMsg, ProtocolError, Reply, Request, decode, format_utc


class CaseApiStandIn:
    def __init__(self, alerts: list[dict[str, Any]], attachments_dir: Path,
                 sensors: list[dict[str, Any]] | None = None) -> None:
        self.alerts = {a["id"]: dict(a) for a in alerts}
        self.sensors = sensors or []
        self.desk = CaseDesk(InMemoryCaseRepository())
        self.case_ops = CaseOps(self.desk, AttachmentStore(attachments_dir), self.alerts.get,
                                lambda: datetime.now(UTC))
        self.requests: list[Request] = []
        self._ctx = zmq.Context()
        self._router = self._ctx.socket(zmq.ROUTER)
        self._router.setsockopt(zmq.LINGER, 0)
        port = self._router.bind_to_random_port("tcp://127.0.0.1")
        self.api_addr = f"tcp://127.0.0.1:{port}"
        self._pub = self._ctx.socket(zmq.PUB)
        self._pub.setsockopt(zmq.LINGER, 0)
        pport = self._pub.bind_to_random_port("tcp://127.0.0.1")
        self.pub_addr = f"tcp://127.0.0.1:{pport}"
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="caseapi-standin", daemon=True)
        self._seq = 0

    def __enter__(self) -> CaseApiStandIn:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self._router.close(0)
        self._pub.close(0)
        self._ctx.term()

    def publish(self, alert: Mapping[str, Any]) -> None:
        """Send an alert event on the PUB socket (as the server does when an alert changes)."""
        with self._lock:
            self.alerts[alert["id"]] = dict(alert)
            self._publish_locked(alert)

    def _run(self) -> None:
        while not self._stop.is_set():
            if not self._router.poll(100):
                continue
            ident, *frames = self._router.recv_multipart()
            try:
                req = decode(frames, allowed=(b"request",))
            except ProtocolError:
                continue
            assert isinstance(req, Request)
            self.requests.append(req)
            with self._lock:
                reply = self._handle(req)
            self._router.send_multipart([ident, *reply.to_frames()])

    def _handle(self, req: Request) -> Reply:
        try:
            result = self._op(req.op, req.args)
        except ApiError as exc:
            return error_reply(req, str(exc))
        return Reply("server", req.seq, format_utc(datetime.now(UTC)), ok=True, result=result, error=None)

    def _op(self, op: str, args: Mapping[str, Any]) -> Any:
        if op in self.case_ops.ops:
            return self.case_ops.ops[op](args)[0]
        if op == "alerts":
            states = None if args.get("state", "all") == "all" else {args["state"]}
            prov = args.get("province")
            return [a for a in self.alerts.values() if (states is None or a["state"] in states)
                    and (prov is None or prov in (*a["provinces_source"], *a["provinces_affected"]))]
        if op == "alert":
            a = self.alerts.get(str(args.get("id")))
            if a is None:
                raise ApiError(f"no alert with id {args.get('id')!r}")
            return a | {"evidence_captures": []}
        if op == "ack":
            a = self.alerts.get(str(args.get("id")))
            if a is None:
                raise ApiError(f"no alert with id {args.get('id')!r}")
            if a["state"] != "open":
                raise ApiError(f"alert {a['id']} is {a['state']}")
            a.update(state="acknowledged", event="acknowledged", acknowledged_by=args["by"],
                     note=args.get("note"), updated_at=format_time(datetime.now(UTC)))
            self._publish_locked(a)
            return a
        if op == "sensors":
            return self.sensors
        raise ApiError(f"unknown op {op!r}")

    def _publish_locked(self, alert: Mapping[str, Any]) -> None:
        self._seq += 1
        frames = AlertMsg("server", self._seq, format_utc(datetime.now(UTC)), alert=dict(alert)).to_frames()
        for p in dict.fromkeys([*alert["provinces_source"], *alert["provinces_affected"]]):
            self._pub.send_multipart([f"alert.{p}".encode(), *frames])
