"""The rules engine's learnt state, kept across restarts: one JSON document per centre (table ``learnt_state``).

The store keeps the text and when it was written; what the document means, and whether a stored one can
be used, is :mod:`coordination.spread`'s to say. Writing replaces the centre's row inside the batch
transaction, so a reader sees the old document or the new one, never a mix.
"""

from __future__ import annotations

from coordination.store.unit import UnitOfWork


class LearntStateRepository:
    """(centre, doc, saved_utc) rows; one server (no federation) keeps its row under the centre ``''``."""

    def __init__(self, unit: UnitOfWork, centre: str | None = None) -> None:
        self.unit = unit
        self.db = unit.db
        self.key = centre or ""

    def save(self, doc_json: str, saved_utc: str) -> None:
        """Stage the centre's document (committed with the batch, :meth:`Store.commit`)."""
        self.unit.begin()
        self.db.execute("INSERT INTO learnt_state (centre, doc, saved_utc) VALUES (?, ?, ?) ON CONFLICT (centre) "
                        "DO UPDATE SET doc = excluded.doc, saved_utc = excluded.saved_utc",
                        (self.key, doc_json, saved_utc))

    def load(self) -> tuple[str, str] | None:
        """The centre's stored (doc, saved_utc), or None when nothing was saved yet."""
        row = self.db.fetchone("SELECT doc, saved_utc FROM learnt_state WHERE centre = ?", (self.key,))
        return None if row is None else (str(row[0]), str(row[1]))
