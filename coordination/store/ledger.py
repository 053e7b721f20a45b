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
from collections.abc import Iterable, Mapping, Sequence

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
    """Stored seqs per sensor and spool epoch, and how many messages of each type were stored.

    The key is (sensor, epoch, seq): a sensor's seqs count from 0 in each spool incarnation
    (:attr:`coordination.protocol.Hello.epoch`), so a sensor whose spool was lost starts a new
    epoch and its data is stored, not taken for duplicates of the old one. Rows from before epochs
    (and sensors that send none) have epoch ``""``.
    """

    def __init__(self, unit: UnitOfWork) -> None:
        self.unit = unit
        self.db = unit.db
        self._ranges: dict[tuple[str, str], SeqRanges] = {}
        self._pending_ranges: dict[tuple[str, str], SeqRanges] = {}
        unit.on_commit(self._committed)
        unit.on_rollback(self._pending_ranges.clear)

    def _committed(self) -> None:
        self._ranges.update(self._pending_ranges)  # the ledger in memory follows only what is committed
        self._pending_ranges.clear()

    def _committed_ranges(self, key: tuple[str, str]) -> SeqRanges:
        r = self._ranges.get(key)
        if r is None:
            rows = self.db.fetchall("SELECT lo, hi FROM received_ranges WHERE sensor_id=? AND epoch=?", key)
            r = self._ranges[key] = SeqRanges((int(a), int(b)) for a, b in rows)
        return r

    def _ledger(self, key: tuple[str, str]) -> SeqRanges:
        r = self._pending_ranges.get(key)
        return r if r is not None else self._committed_ranges(key)

    def known_seqs(self, sensor_id: str, seqs: Sequence[int], epoch: str = "") -> set[int]:
        """The subset of ``seqs`` already stored for ``sensor_id`` in ``epoch`` (this transaction included)."""
        r = self._ledger((sensor_id, epoch))
        return {s for s in seqs if s in r}

    def mark_received(self, rows: Iterable[tuple[str, int, str, str]],
                      epochs: Mapping[str, str] | None = None) -> None:
        """Record (sensor_id, seq, type, t_utc) as stored in the sensor's epoch (``epochs[sensor_id]``,
        default ``""``), in the open transaction."""
        self.unit.begin()
        epochs = epochs or {}
        by_key: dict[tuple[str, str], list[int]] = {}
        counts: dict[tuple[str, str], int] = {}
        for sensor_id, seq, mtype, _t in rows:
            by_key.setdefault((sensor_id, epochs.get(sensor_id, "")), []).append(seq)
            counts[(sensor_id, mtype)] = counts.get((sensor_id, mtype), 0) + 1
        for key, seqs in by_key.items():
            r = self._pending_ranges.get(key)
            if r is None:
                r = self._pending_ranges[key] = self._committed_ranges(key).copy()
            for q in seqs:
                r.add(q)
            a, b = min(seqs) - 1, max(seqs) + 1  # only ranges touching [a, b] can have changed
            self.db.execute("DELETE FROM received_ranges WHERE sensor_id=? AND epoch=? AND hi>=? AND lo<=?",
                            (*key, a, b))
            self.db.executemany("INSERT INTO received_ranges (sensor_id, epoch, lo, hi) VALUES (?, ?, ?, ?)",
                                [(*key, lo, hi) for lo, hi in r.overlapping(a, b)])
        self.db.executemany(
            "INSERT INTO received_counts VALUES (?, ?, ?) ON CONFLICT(sensor_id, type) "
            "DO UPDATE SET n=received_counts.n+excluded.n",
            sorted((sid, t, n) for (sid, t), n in counts.items()))

    def adopt_epoch(self, sensor_id: str, epoch: str) -> None:
        """A sensor that sent no epoch before names one now (upgraded, same spool): its ledger so far
        becomes that epoch's, so what its spool resends is still recognised (in the open transaction)."""
        self.unit.begin()
        self.db.execute("UPDATE received_ranges SET epoch=? WHERE sensor_id=? AND epoch=''", (epoch, sensor_id))
        for key in [(sensor_id, ""), (sensor_id, epoch)]:
            self._ranges.pop(key, None)
            self._pending_ranges.pop(key, None)

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

    def counts_by_type(self, sensor_ids: Sequence[str] | None = None) -> dict[str, int]:
        """Messages stored per type (of ``sensor_ids``, or every sensor), as committed with the data."""
        q, args = "SELECT type, SUM(n) FROM received_counts", list(sensor_ids or ())
        if sensor_ids is not None:
            if not sensor_ids:
                return {}
            q += f" WHERE sensor_id IN ({','.join('?' * len(args))})"
        return {str(t): int(n) for t, n in self.db.fetchall(q + " GROUP BY type", args)}

    def received_ranges(self, sensor_id: str, epoch: str | None = None) -> list[tuple[int, int]]:
        """The committed ledger of a sensor's ``epoch`` (default: its current one) as (lo, hi) ranges."""
        if epoch is None:
            row = self.db.fetchone("SELECT epoch FROM sensors WHERE sensor_id=?", (sensor_id,))
            epoch = str(row[0]) if row else ""
        return [(int(a), int(b)) for a, b in self.db.fetchall(
            "SELECT lo, hi FROM received_ranges WHERE sensor_id=? AND epoch=? ORDER BY lo", (sensor_id, epoch))]
