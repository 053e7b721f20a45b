"""The store's one transaction boundary: one connection, one open transaction at a time.

Every repository of the store (ledger, sensors, summaries, alerts, evidence orders, counters)
writes through the same :class:`UnitOfWork`, so a drained batch's summaries, their ledger entries
and the sensors' last contact commit together or not at all, and an ack never precedes the commit
of what it acknowledges. A repository that keeps state in memory (the ledger's ranges) registers
hooks to follow only what is committed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from station_db.backend import Database

log = logging.getLogger(__name__)


class StorageError(OSError):
    """Something could not be written (disk full, read-only, corrupt); nothing of it is acked."""


class UnitOfWork:
    """Begin (idempotent), savepoints per message, commit or roll back the batch; loop thread only."""

    def __init__(self, db: Database) -> None:
        self.db = db
        #: What the driver raises (sqlite3.Error or psycopg.Error), for callers that catch storage failures.
        self.errors: tuple[type[BaseException], ...] = db.errors
        self._in_tx = False
        self._on_commit: list[Callable[[], None]] = []
        self._on_rollback: list[Callable[[], None]] = []

    def on_commit(self, fn: Callable[[], None]) -> None:
        """Call ``fn`` after every successful commit (a repository's memory follows the database)."""
        self._on_commit.append(fn)

    def on_rollback(self, fn: Callable[[], None]) -> None:
        """Call ``fn`` after every rollback, and after a failed commit."""
        self._on_rollback.append(fn)

    @property
    def in_transaction(self) -> bool:
        return self._in_tx

    def begin(self) -> None:
        """Start the batch transaction (idempotent)."""
        if not self._in_tx:
            self.db.begin()
            self._in_tx = True

    def commit(self) -> None:
        """Commit the open transaction (nothing to do without one); StorageError when it fails."""
        if not self._in_tx:
            return
        try:
            self.db.commit()
        except self.errors as exc:
            self.rollback()
            raise StorageError(f"commit to {self.db.describe()} failed: {exc}") from exc
        finally:
            self._in_tx = False
        for fn in self._on_commit:
            fn()

    def savepoint(self) -> None:
        """Mark a point inside the batch so one message's writes can be undone alone."""
        self.begin()
        self.db.execute("SAVEPOINT msg")

    def release_savepoint(self) -> None:
        self.db.execute("RELEASE SAVEPOINT msg")

    def rollback_savepoint(self) -> None:
        try:
            self.db.execute("ROLLBACK TO SAVEPOINT msg")
            self.db.execute("RELEASE SAVEPOINT msg")
        except self.errors:
            log.debug("rollback to savepoint failed", exc_info=True)

    def rollback(self) -> None:
        self.db.rollback()
        self._in_tx = False
        for fn in self._on_rollback:
            fn()

    def close(self) -> None:
        if self._in_tx:
            self.commit()
        self.db.close()
