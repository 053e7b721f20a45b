"""What the server counted, and the one place unexpected failures are counted and logged.

Every part of the server (intake, registry, outbox, API, federation) reports its failures here
instead of raising them into the loop: a failure is counted per place, logged a bounded number of
times (a storm of the same error cannot flood the log), and the work of the failed step is rolled
back so nothing of it is acked.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable
from typing import ParamSpec, TypeVar

log = logging.getLogger(__name__)

#: Log lines per storage/internal error kind before going quiet (counters keep counting).
MAX_ERROR_LOGS = 20

P = ParamSpec("P")
R = TypeVar("R")


class Counters:
    """What the server counted (rejections live in :class:`coordination.ingest.RejectionCounter`)."""

    def __init__(self) -> None:
        self.stored: Counter[str] = Counter()
        self.duplicates = 0
        self.storage_errors: Counter[str] = Counter()
        self.internal_errors: Counter[str] = Counter()
        self.published: Counter[str] = Counter()
        self.alert_events: Counter[str] = Counter()
        #: sensors that started a new spool epoch (spool lost or replaced), by sensor id
        self.new_epochs: Counter[str] = Counter()

    def rows(self) -> Iterable[tuple[str, str, int]]:
        """(kind, key, n) rows to persist (``published`` is per run and not kept)."""
        yield from (("stored", k, v) for k, v in self.stored.items())
        yield ("duplicates", "", self.duplicates)
        yield from (("storage_errors", k, v) for k, v in self.storage_errors.items())
        yield from (("internal_errors", k, v) for k, v in self.internal_errors.items())
        yield from (("alert_events", k, v) for k, v in self.alert_events.items())
        yield from (("new_epochs", k, v) for k, v in self.new_epochs.items())

    def load(self, rows: Iterable[tuple[str, str, int]]) -> None:
        """Continue from persisted rows (a restart keeps counting where it stopped)."""
        for kind, key, n in rows:
            if kind == "duplicates":
                self.duplicates = n
            elif kind == "stored":
                self.stored[key] = n
            elif kind == "storage_errors":
                self.storage_errors[key] = n
            elif kind == "internal_errors":
                self.internal_errors[key] = n
            elif kind == "alert_events":
                self.alert_events[key] = n
            elif kind == "new_epochs":
                self.new_epochs[key] = n


class Faults:
    """Counts and logs (rate-limited) internal and storage errors; never raises.

    ``rollback``: undoes the open storage transaction after a failed step (nothing of a failed
    step is acked, so nothing of it may stay).
    """

    def __init__(self, counters: Counters, rollback: Callable[[], None] | None = None) -> None:
        self.counters = counters
        self.rollback = rollback
        self._logged: Counter[str] = Counter()

    def internal(self, where: str) -> None:
        """Count an unexpected exception at ``where`` (call from an ``except`` block: it logs the traceback)."""
        self.counters.internal_errors[where] += 1
        if self._logged[f"internal:{where}"] < MAX_ERROR_LOGS:
            self._logged[f"internal:{where}"] += 1
            log.exception("internal error in %s (counted; the server carries on)", where)

    def storage(self, kind: str, text: str, n: int = 1) -> None:
        """Count ``n`` messages of ``kind`` that could not be stored (and so are not acked)."""
        self.counters.storage_errors[kind] += n
        if self._logged[f"storage:{kind}"] < MAX_ERROR_LOGS:
            self._logged[f"storage:{kind}"] += 1
            log.error("STORAGE FAILURE (%s, %d message(s) not stored and not acked): %s", kind, n, text)

    def guard(self, where: str, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R | None:
        """Run ``fn``; an unexpected exception is counted, logged and rolled back, never fatal."""
        try:
            return fn(*args, **kwargs)
        except Exception:
            self.internal(where)
            if self.rollback is not None:
                self.rollback()
            return None
