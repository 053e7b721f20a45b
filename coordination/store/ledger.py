"""The idempotence ledger: which ``(sensor_id, seq)`` the server has stored.

Per sensor, the set of stored sequence numbers is kept as disjoint ranges (:class:`SeqRanges`,
table ``received_ranges``): a sensor's seqs are mostly consecutive, so the ledger stays a handful
of rows per sensor however long the server runs, instead of one row per message (2,000
messages/s would be 170 million rows a day). A message whose seq is in the ledger is a duplicate
(acked again, not stored again). The ranges are cached in memory; the cache follows only what is
committed (a rolled-back batch's seqs are not "known").
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence

from coordination.store.unit import UnitOfWork


class SeqRanges:
    """A set of non-negative integers kept as sorted, disjoint, non-adjacent inclusive ranges."""

    def __init__(self, ranges: Iterable[tuple[int, int]] = ()) -> None:
        self.lo: list[int] = []
        self.hi: list[int] = []
        for lo, hi in sorted(ranges):
            if self.lo and lo <= self.hi[-1] + 1:
                self.hi[-1] = max(self.hi[-1], hi)
            else:
                self.lo.append(lo)
                self.hi.append(hi)

    def __contains__(self, s: int) -> bool:
        i = bisect.bisect_right(self.lo, s) - 1
        return i >= 0 and s <= self.hi[i]

    def __len__(self) -> int:
        return len(self.lo)

    def copy(self) -> SeqRanges:
        out = SeqRanges()
        out.lo, out.hi = list(self.lo), list(self.hi)
        return out

    def add(self, s: int) -> bool:
        """Add ``s``; False when it was already there."""
        i = bisect.bisect_right(self.lo, s) - 1
        if i >= 0 and s <= self.hi[i]:
            return False
        left = i >= 0 and self.hi[i] == s - 1
        right = i + 1 < len(self.lo) and self.lo[i + 1] == s + 1
        if left and right:
            self.hi[i] = self.hi[i + 1]
            del self.lo[i + 1], self.hi[i + 1]
        elif left:
            self.hi[i] = s
        elif right:
            self.lo[i + 1] = s
        else:
            self.lo.insert(i + 1, s)
            self.hi.insert(i + 1, s)
        return True

    def overlapping(self, a: int, b: int) -> list[tuple[int, int]]:
        """The ranges that intersect [a, b]."""
        out = []
        i = bisect.bisect_left(self.hi, a)
        while i < len(self.lo) and self.lo[i] <= b:
            out.append((self.lo[i], self.hi[i]))
            i += 1
        return out

    def ranges(self) -> list[tuple[int, int]]:
        return list(zip(self.lo, self.hi))


class SeqLedger:
    """Stored seqs per sensor, and how many messages of each type were stored."""

    def __init__(self, unit: UnitOfWork) -> None:
        self.unit = unit
        self.db = unit.db
        self._ranges: dict[str, SeqRanges] = {}
        self._pending_ranges: dict[str, SeqRanges] = {}
        unit.on_commit(self._committed)
        unit.on_rollback(self._pending_ranges.clear)

    def _committed(self) -> None:
        self._ranges.update(self._pending_ranges)  # the ledger in memory follows only what is committed
        self._pending_ranges.clear()

    def _committed_ranges(self, sensor_id: str) -> SeqRanges:
        r = self._ranges.get(sensor_id)
        if r is None:
            rows = self.db.fetchall("SELECT lo, hi FROM received_ranges WHERE sensor_id=?", (sensor_id,))
            r = self._ranges[sensor_id] = SeqRanges((int(a), int(b)) for a, b in rows)
        return r

    def _ledger(self, sensor_id: str) -> SeqRanges:
        r = self._pending_ranges.get(sensor_id)
        return r if r is not None else self._committed_ranges(sensor_id)

    def known_seqs(self, sensor_id: str, seqs: Sequence[int]) -> set[int]:
        """The subset of ``seqs`` already stored for ``sensor_id`` (in this transaction included)."""
        r = self._ledger(sensor_id)
        return {s for s in seqs if s in r}

    def mark_received(self, rows: Iterable[tuple[str, int, str, str]]) -> None:
        """Record (sensor_id, seq, type, t_utc) as stored, in the open transaction."""
        self.unit.begin()
        by_sensor: dict[str, list[int]] = {}
        counts: dict[tuple[str, str], int] = {}
        for sensor_id, seq, mtype, _t in rows:
            by_sensor.setdefault(sensor_id, []).append(seq)
            counts[(sensor_id, mtype)] = counts.get((sensor_id, mtype), 0) + 1
        for sensor_id, seqs in by_sensor.items():
            r = self._pending_ranges.get(sensor_id)
            if r is None:
                r = self._pending_ranges[sensor_id] = self._committed_ranges(sensor_id).copy()
            for q in seqs:
                r.add(q)
            a, b = min(seqs) - 1, max(seqs) + 1  # only ranges touching [a, b] can have changed
            self.db.execute("DELETE FROM received_ranges WHERE sensor_id=? AND hi>=? AND lo<=?", (sensor_id, a, b))
            self.db.executemany("INSERT INTO received_ranges VALUES (?, ?, ?)",
                                [(sensor_id, lo, hi) for lo, hi in r.overlapping(a, b)])
        self.db.executemany(
            "INSERT INTO received_counts VALUES (?, ?, ?) ON CONFLICT(sensor_id, type) "
            "DO UPDATE SET n=received_counts.n+excluded.n",
            sorted((sid, t, n) for (sid, t), n in counts.items()))

    def count_received(self, sensor_id: str | None = None, mtype: str | None = None) -> int:
        """How many messages were stored (per sensor and/or type)."""
        q = "SELECT COALESCE(SUM(n), 0) FROM received_counts WHERE 1=1"
        args: list[str] = []
        if sensor_id is not None:
            q, args = q + " AND sensor_id=?", [*args, sensor_id]
        if mtype is not None:
            q, args = q + " AND type=?", [*args, mtype]
        row = self.db.fetchone(q, args)
        return int(row[0]) if row else 0

    def received_ranges(self, sensor_id: str) -> list[tuple[int, int]]:
        """The committed ledger of a sensor as (lo, hi) ranges, read from the database."""
        return [(int(a), int(b)) for a, b in self.db.fetchall(
            "SELECT lo, hi FROM received_ranges WHERE sensor_id=? ORDER BY lo", (sensor_id,))]
