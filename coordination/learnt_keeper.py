"""What the rules engine learnt from its own judgements, kept in the server's store across restarts.

Why: the network's level spread and the common bias of its e.r.p. fits (:mod:`coordination.spread`) are
learnt from hundreds of matched-station judgements; a server that forgot them at every restart would
judge with its wide 3-10 dB prior (other regions, another power margin) until it had learnt them again.
The keeper restores them at start and saves them when they have moved, at most every ``interval_s``
(one JSON document of a few tens of kB, written with the batch's commit, so the row is the old document
or the new one, never half of each). A stored document that cannot be used (corrupt, foreign, a newer
layout) is an error that names what and where in the log, is counted, and the engine learns afresh: it
never stops the server.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from typing import Protocol

from coordination.spread import ErpBias, LearntStateError, NetworkSpread, learnt_doc, restore_learnt

log = logging.getLogger(__name__)


class LearntStatePort(Protocol):
    """Where the document lives (:class:`coordination.store.LearntStateRepository`)."""

    def save(self, doc_json: str, saved_utc: str) -> None: ...

    def load(self) -> tuple[str, str] | None: ...


class LearntKeeper:
    """Restore at start, save when changed (rate-bounded by the caller's ``due``); counts in :attr:`counts`:
    ``restored``, ``refused`` (a stored document that could not be used), ``saved``."""

    def __init__(self, spread: NetworkSpread, bias: ErpBias, repo: LearntStatePort, *, interval_s: float,
                 where: str = "learnt_state") -> None:
        if not interval_s > 0.0:
            raise ValueError(f"LearntKeeper: interval_s={interval_s!r} must be > 0")
        self.spread = spread
        self.bias = bias
        self.repo = repo
        self.interval_s = interval_s
        self.where = where
        self.counts: Counter[str] = Counter()
        self._saved_revision: tuple[int, int] | None = None
        self._next_save_mono = 0.0

    def _revision(self) -> tuple[int, int]:
        return (self.spread.revision, self.bias.revision)

    def restore(self) -> bool:
        """Load the stored document; False (logged and counted as ``refused``) when there is none usable."""
        row = self.repo.load()
        if row is None:
            return False
        text, saved_utc = row
        where = f"{self.where} (saved {saved_utc})"
        try:
            doc = json.loads(text)
        except (ValueError, RecursionError) as exc:
            return self._refuse(LearntStateError(f"{where}: not JSON: {exc}"))
        try:
            restore_learnt(doc, self.spread, self.bias, where)
        except LearntStateError as exc:
            return self._refuse(exc)
        self.counts["restored"] += 1
        self._saved_revision = self._revision()
        prior = self.spread.prior()
        est = self.bias.estimate()
        log.info("learnt state restored from %s: level spread %s over %d dof (%d stations), e.r.p. fit bias %s "
                 "(%d stations)", where, "none yet" if prior is None else f"{prior.sigma_db:.2f} dB",
                 self.spread.dof, self.spread.n_stations,
                 "none yet" if est is None else f"{est.median_db:+.2f} dB", self.bias.n_stations)
        return True

    def _refuse(self, exc: LearntStateError) -> bool:
        self.counts["refused"] += 1
        log.error("stored learnt state not used, learning afresh: %s", exc)
        return False

    def due(self, now_mono: float) -> bool:
        """Whether a save is worth doing now: something changed and ``interval_s`` passed since the last."""
        return now_mono >= self._next_save_mono and self._revision() != self._saved_revision

    def save(self, saved_utc: str, now_mono: float) -> bool:
        """Stage the document when it changed since the last save (the caller commits); True when staged."""
        rev = self._revision()
        if rev == self._saved_revision:
            return False
        self.repo.save(json.dumps(learnt_doc(self.spread, self.bias), separators=(",", ":")), saved_utc)
        self._saved_revision = rev
        self._next_save_mono = now_mono + self.interval_s
        self.counts["saved"] += 1
        return True

    def save_failed(self) -> None:
        """The staged document was not committed: the next :meth:`save` writes it again."""
        self._saved_revision = None
        self._next_save_mono = 0.0
