"""The store's coordination request tables: each request as its JSON document, and an append-only audit log.

One concern of the server's store (tables made by schema migration 7 in :mod:`coordination.store.schema`),
writing through the store's :class:`~coordination.store.unit.UnitOfWork` in the portable SQL of
:mod:`station_db.backend`. It is the :class:`~coordination.coordination_requests.RequestRepository`
of the server's coordination desk; tools and tests reach it as ``Store(target).requests`` on any
target (a SQLite file or the ``postgresql://`` database the federated centres share).

Concurrency: an update first bumps the request row's revision (``UPDATE ... SET rev = rev + 1``),
which takes the row lock in PostgreSQL (SQLite's ``BEGIN IMMEDIATE`` already takes the file's write
lock), then reads, changes and writes inside the same transaction. Two centres answering one request
at the same moment therefore apply one after the other, the second seeing the first's answer: no
answer is lost and a request is concluded exactly once.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from datetime import datetime

from coordination.coordination_requests import (
    AuditEntry,
    Change,
    CoordinationRequest,
    RequestError,
    UnknownRequestError,
)
from coordination.protocol import format_utc
from coordination.store.unit import UnitOfWork


class RequestTables:
    """Coordination requests and their audit log in the store's database.

    Several stores (one per centre) may share one database. The lock keeps one request operation at
    a time on this store's connection when a tool calls from more than one thread.
    """

    def __init__(self, unit: UnitOfWork) -> None:
        self.unit = unit
        self.db = unit.db
        self._lock = threading.RLock()

    def _insert_audit(self, entries: Sequence[AuditEntry]) -> None:
        for e in entries:
            self.db.execute(
                "INSERT INTO coord_audit (request_id, t_utc, actor, province, action, detail) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (e.request_id, format_utc(e.t), e.actor, e.province, e.action,
                 json.dumps(dict(e.detail), ensure_ascii=False, sort_keys=True)),
            )

    def create(self, request: CoordinationRequest, audit: Sequence[AuditEntry]) -> None:
        """Store a new request with its first audit entries in one transaction; RequestError if its id exists."""
        with self._lock:
            self.unit.begin()
            try:
                self.db.execute(
                    "INSERT INTO coord_requests (id, province, station_id, state, submitted_at, json) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (request.id, request.province, request.station.station_id, request.state,
                     format_utc(request.submitted_at), json.dumps(request.to_dict(), ensure_ascii=False)),
                )
                self._insert_audit(audit)
            except self.db.integrity_errors as exc:
                self.unit.rollback()
                raise RequestError(f"request {request.id} exists already") from exc
            except BaseException:
                self.unit.rollback()
                raise
            self.unit.commit()

    def get(self, request_id: str) -> CoordinationRequest | None:
        with self._lock:
            row = self.db.fetchone("SELECT json FROM coord_requests WHERE id = ?", (request_id,))
        return None if row is None else CoordinationRequest.from_dict(json.loads(row[0]))

    def all(self) -> list[CoordinationRequest]:
        """Every request, oldest first."""
        with self._lock:
            rows = self.db.fetchall("SELECT json FROM coord_requests ORDER BY submitted_at, id")
        return [CoordinationRequest.from_dict(json.loads(r[0])) for r in rows]

    def update(self, request_id: str, change: Change) -> CoordinationRequest:
        """Apply ``change`` under the request's row lock and store its result and audit entries atomically."""
        with self._lock:
            self.unit.begin()
            try:
                bumped = self.db.execute("UPDATE coord_requests SET rev = rev + 1 WHERE id = ?", (request_id,))
                if bumped.rowcount == 0:
                    raise UnknownRequestError(f"no coordination request {request_id!r}")
                row = self.db.fetchone("SELECT json FROM coord_requests WHERE id = ?", (request_id,))
                if row is None:  # the bump just found it, inside this transaction
                    raise UnknownRequestError(f"no coordination request {request_id!r}")
                new, entries = change(CoordinationRequest.from_dict(json.loads(row[0])))
                self.db.execute("UPDATE coord_requests SET state = ?, json = ? WHERE id = ?",
                                (new.state, json.dumps(new.to_dict(), ensure_ascii=False), request_id))
                self._insert_audit(entries)
            except BaseException:
                self.unit.rollback()
                raise
            self.unit.commit()
            return new

    def audit(self, request_id: str) -> list[AuditEntry]:
        """The request's audit entries in the order they were written."""
        with self._lock:
            rows = self.db.fetchall(
                "SELECT request_id, t_utc, actor, province, action, detail FROM coord_audit WHERE request_id = ? "
                "ORDER BY entry_id", (request_id,))
        return [AuditEntry(r[0], datetime.fromisoformat(r[1]), r[2], r[3], r[4], json.loads(r[5])) for r in rows]
