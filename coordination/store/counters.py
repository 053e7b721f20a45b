"""The server's counters, persisted so a restart keeps counting; per centre in a shared database."""

from __future__ import annotations

from collections.abc import Iterable

from coordination.store.unit import UnitOfWork


class CounterRepository:
    """(kind, key, n) rows (table ``counters``); a federated centre's kinds are prefixed ``<CODE>/``."""

    def __init__(self, unit: UnitOfWork, centre: str | None = None) -> None:
        self.unit = unit
        self.db = unit.db
        self.centre = centre

    def _counter_kind(self, kind: str) -> str:
        return kind if self.centre is None else f"{self.centre}/{kind}"

    def save(self, rows: Iterable[tuple[str, str, int]]) -> None:
        self.unit.begin()
        self.db.executemany("INSERT INTO counters VALUES (?, ?, ?) ON CONFLICT (kind, key) "
                            "DO UPDATE SET n = excluded.n",
                            sorted((self._counter_kind(k), key, n) for k, key, n in rows))

    def load(self) -> list[tuple[str, str, int]]:
        prefix = "" if self.centre is None else f"{self.centre}/"
        out = []
        for kind, key, n in self.db.fetchall("SELECT kind, key, n FROM counters"):
            if prefix and not kind.startswith(prefix):
                continue
            if not prefix and "/" in kind:
                continue
            out.append((kind[len(prefix):], key, int(n)))
        return out
