"""Coordination requests in the database the centres share (SQLite file or PostgreSQL).

In the server it lives in the server's store (same database and transaction boundary, like the case
tables of :mod:`coordination.store_cases`); tools and tests may open it on any target.

A :class:`coordination.coordination_requests.RequestRepository` over :mod:`station_db.backend`: the
request as its JSON document plus a few indexed columns, and an append-only audit table. Its own
versioned migration component (``coord_requests``), so it sits in the server's store database (or any
other) without touching the other tables.

Concurrency: an update first bumps the request row's revision (``UPDATE ... SET rev = rev + 1``),
which takes the row lock in PostgreSQL (SQLite's ``BEGIN IMMEDIATE`` already takes the file's write
lock), then reads, changes and writes inside the same transaction. Two centres answering one request at
the same moment therefore apply one after the other, the second seeing the first's answer: no answer is
lost and a request is concluded exactly once.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from coordination.coordination_requests import (
    AuditEntry,
    Change,
    CoordinationRequest,
    RequestError,
    UnknownRequestError,
)
from coordination.protocol import format_utc
from coordination.store import Store
from station_db.backend import Database, Migration, migrate, open_database

log = logging.getLogger(__name__)

MIGRATIONS: tuple[Migration, ...] = (
    Migration((
        """CREATE TABLE coord_requests (
        id TEXT PRIMARY KEY, province TEXT NOT NULL, station_id TEXT NOT NULL, state TEXT NOT NULL,
        submitted_at TEXT NOT NULL, rev INTEGER NOT NULL DEFAULT 0, json TEXT NOT NULL)""",
        "CREATE INDEX coord_requests_by_state ON coord_requests (state, submitted_at)",
        """CREATE TABLE coord_audit (
        entry_id INTEGER PRIMARY KEY, request_id TEXT NOT NULL, t_utc TEXT NOT NULL, actor TEXT NOT NULL,
        province TEXT NOT NULL, action TEXT NOT NULL, detail TEXT NOT NULL)""",
        "CREATE INDEX coord_audit_by_request ON coord_audit (request_id, entry_id)",
    ), "coordination requests and their audit log"),
)
SCHEMA_VERSION = len(MIGRATIONS)


class SqlRequestRepository:
    """Requests and audit in ``target`` (a SQLite path or a ``postgresql://`` URL).

    Several instances (one per centre) may share one database. Thread-safe within a process (one
    connection behind a lock).
    """

    def __init__(self, target: str | Path | Store, *, schema: str | None = "coordination") -> None:
        self._lock = threading.RLock()
        if isinstance(target, Store):  # the server's store: its connection and transaction boundary
            self._db: Database = target.db
            self._begin, self._commit, self._rollback = target.begin, target.commit, target.rollback
            self._owned = False
        else:
            self._db = open_database(str(target), schema=schema)
            self._begin, self._commit, self._rollback = self._db.begin, self._db.commit, self._db.rollback
            self._owned = True
        migrate(self._db, "coord_requests", MIGRATIONS)

    def close(self) -> None:
        """Close the connection this repository opened (the server's store closes its own)."""
        if self._owned:
            with self._lock:
                self._db.close()

    def __enter__(self) -> SqlRequestRepository:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def _insert_audit(self, entries: Sequence[AuditEntry]) -> None:
        for e in entries:
            self._db.execute(
                "INSERT INTO coord_audit (request_id, t_utc, actor, province, action, detail) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (e.request_id, format_utc(e.t), e.actor, e.province, e.action,
                 json.dumps(dict(e.detail), ensure_ascii=False, sort_keys=True)),
            )

    def create(self, request: CoordinationRequest, audit: Sequence[AuditEntry]) -> None:
        with self._lock:
            self._begin()
            try:
                self._db.execute(
                    "INSERT INTO coord_requests (id, province, station_id, state, submitted_at, json) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (request.id, request.province, request.station.station_id, request.state,
                     format_utc(request.submitted_at), json.dumps(request.to_dict(), ensure_ascii=False)),
                )
                self._insert_audit(audit)
            except self._db.integrity_errors as exc:
                self._rollback()
                raise RequestError(f"request {request.id} exists already") from exc
            except BaseException:
                self._rollback()
                raise
            self._commit()

    def get(self, request_id: str) -> CoordinationRequest | None:
        with self._lock:
            row = self._db.fetchone("SELECT json FROM coord_requests WHERE id = ?", (request_id,))
        return None if row is None else CoordinationRequest.from_dict(json.loads(row[0]))

    def all(self) -> list[CoordinationRequest]:
        with self._lock:
            rows = self._db.fetchall("SELECT json FROM coord_requests ORDER BY submitted_at, id")
        return [CoordinationRequest.from_dict(json.loads(r[0])) for r in rows]

    def update(self, request_id: str, change: Change) -> CoordinationRequest:
        with self._lock:
            self._begin()
            try:
                bumped = self._db.execute("UPDATE coord_requests SET rev = rev + 1 WHERE id = ?", (request_id,))
                if bumped.rowcount == 0:
                    raise UnknownRequestError(f"no coordination request {request_id!r}")
                row = self._db.fetchone("SELECT json FROM coord_requests WHERE id = ?", (request_id,))
                assert row is not None
                new, entries = change(CoordinationRequest.from_dict(json.loads(row[0])))
                self._db.execute("UPDATE coord_requests SET state = ?, json = ? WHERE id = ?",
                                 (new.state, json.dumps(new.to_dict(), ensure_ascii=False), request_id))
                self._insert_audit(entries)
            except BaseException:
                self._rollback()
                raise
            self._commit()
            return new

    def audit(self, request_id: str) -> list[AuditEntry]:
        from datetime import datetime

        with self._lock:
            rows = self._db.fetchall(
                "SELECT request_id, t_utc, actor, province, action, detail FROM coord_audit WHERE request_id = ? "
                "ORDER BY entry_id", (request_id,))
        return [AuditEntry(r[0], datetime.fromisoformat(r[1]), r[2], r[3], r[4], json.loads(r[5])) for r in rows]
