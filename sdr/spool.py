"""The sensor's on-disk outbox: every message is stored here before it is sent, deleted only on ack.

Why SQLite in WAL mode: a committed row survives ``kill -9`` of the daemon (and, with
``synchronous=FULL``, a power cut), readers never block the writer, and one file is easy to
inspect and back up. The spool is the only path to the network (write, then send), so a server
or link outage of days only costs disk space, bounded by a quota.

The per-sensor ``seq`` is allocated here, in the same transaction that stores the row, and the
next value is persisted in a ``meta`` table: a restarted daemon continues the sequence and never
reuses a number, even after every row has been acked and deleted. The server stores idempotently
by ``(sensor_id, seq)``, so resending after a restart can double nothing.

Each spool file has an *epoch*, a random id made when the file is created: the seqs of one file
count from 0, so a sensor whose spool was lost (disk replaced, reinstall) starts again at 0 in a new
epoch. The sensor says its epoch in every Hello and the server keys its idempotence ledger by
(sensor, epoch, seq): the new incarnation's data is stored, not mistaken for old duplicates.

When the quota is reached, rows are dropped by class and then age: spectra (the bulk, and the
least valuable once old) go first, then occupancy and heartbeats, and emissions and evidence
last. Every drop is counted per message type (persisted), so the heartbeat can report it.

Frames are stored as one blob, ``uint32 count`` then per frame ``uint32 length`` + bytes (all
little-endian): a plain, language-neutral layout; never Python object serialisation.
"""

from __future__ import annotations

import dataclasses
import heapq
import logging
import secrets
import sqlite3
import struct
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from coordination.protocol import Message

log = logging.getLogger(__name__)

#: Drop class per message type: lower classes are dropped first when the quota is full.
DROP_CLASS: dict[bytes, int] = {
    b"spectrum": 0,
    b"occupancy": 1,
    b"heartbeat": 1,
    b"hello": 1,
    b"emissions": 2,
    b"evidence": 2,
}
#: Bytes charged per row on top of its frames (SQLite row and index overhead, roughly).
ROW_OVERHEAD_BYTES = 64

_SCHEMA = """
CREATE TABLE IF NOT EXISTS frames (
    seq INTEGER PRIMARY KEY,
    mtype TEXT NOT NULL,
    drop_class INTEGER NOT NULL,
    nbytes INTEGER NOT NULL,
    blob BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS frames_by_class ON frames (drop_class, seq);
CREATE INDEX IF NOT EXISTS frames_by_type ON frames (mtype, seq);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


class SpoolError(Exception):
    """The spool file cannot be opened or is not a borderwatch spool."""


@dataclass(frozen=True)
class SpoolRow:
    """One stored message: its seq, type tag and the exact frames to send."""

    seq: int
    mtype: str
    frames: tuple[bytes, ...]


@dataclass(frozen=True)
class SpoolStats:
    """What the heartbeat reports: rows and bytes waiting, and rows dropped for the quota."""

    depth: int
    bytes: int
    quota_bytes: int
    dropped: dict[str, int]
    next_seq: int

    @property
    def dropped_total(self) -> int:
        return sum(self.dropped.values())


def pack_frames(frames: Sequence[bytes]) -> bytes:
    """Multipart frames to one blob: count, then length-prefixed frames (uint32 little-endian)."""
    parts = [struct.pack("<I", len(frames))]
    for f in frames:
        parts.append(struct.pack("<I", len(f)))
        parts.append(bytes(f))
    return b"".join(parts)


def unpack_frames(blob: bytes) -> tuple[bytes, ...]:
    """Inverse of :func:`pack_frames`; raises SpoolError on a truncated or inconsistent blob."""
    mv = memoryview(blob)
    if len(mv) < 4:
        raise SpoolError("spool row blob shorter than its header")
    (count,) = struct.unpack_from("<I", mv, 0)
    pos, out = 4, []
    for i in range(count):
        if pos + 4 > len(mv):
            raise SpoolError(f"spool row blob truncated at frame {i}")
        (n,) = struct.unpack_from("<I", mv, pos)
        pos += 4
        if pos + n > len(mv):
            raise SpoolError(f"spool row blob frame {i} needs {n} bytes, {len(mv) - pos} left")
        out.append(bytes(mv[pos : pos + n]))
        pos += n
    if pos != len(mv):
        raise SpoolError(f"spool row blob has {len(mv) - pos} trailing bytes")
    return tuple(out)


class Spool:
    """SQLite-WAL outbox with persistent seq allocation, ack deletion and a byte quota.

    Thread-safe (one connection behind a lock): the daemon writes from its measurement loop and
    the uplink reads and deletes from the same or another thread.
    """

    def __init__(self, path: str | Path, *, quota_bytes: int = 512 * 1024 * 1024, synchronous: str = "FULL",
                 on_put: Callable[[Message], None] | None = None) -> None:
        """Open (or create) the spool at ``path``.

        synchronous: ``FULL`` makes every stored row survive a power cut too; ``NORMAL`` survives
        a process kill (enough for tests and the simulator demo) and is cheaper per row.
        on_put: called with every message :meth:`put` returns (with its seq), once its row is written
        (inside a :meth:`batch`, before the batch commits); an observer such as the demo's delivery
        check, which must not call back into the spool.
        """
        if quota_bytes <= 0:
            raise SpoolError(f"spool quota must be positive, got {quota_bytes} bytes")
        if synchronous.upper() not in ("FULL", "NORMAL"):
            raise SpoolError(f"spool synchronous must be FULL or NORMAL, got {synchronous!r}")
        self.path = Path(path)
        self.quota_bytes = int(quota_bytes)
        self.on_put = on_put
        self._db_lock = threading.RLock()
        self._in_batch = False
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={synchronous.upper()}")
            self._db.executescript(_SCHEMA)
            row = self._db.execute("SELECT COALESCE(SUM(nbytes), 0), COUNT(*) FROM frames").fetchone()
        except sqlite3.DatabaseError as exc:
            raise SpoolError(f"cannot open spool {self.path}: {exc}") from exc
        self._bytes = int(row[0]) + ROW_OVERHEAD_BYTES * int(row[1])
        self._depth = int(row[1])
        # next_seq is the max of the persisted counter and the stored rows (belt and braces).
        max_row = self._db.execute("SELECT COALESCE(MAX(seq), -1) FROM frames").fetchone()[0]
        self._next_seq = max(self._meta("next_seq", 0), int(max_row) + 1)
        self._dropped = {
            k.removeprefix("dropped."): v
            for k, v in self._db.execute("SELECT key, value FROM meta WHERE key LIKE 'dropped.%'")
        }
        self._epoch = self._meta("epoch", -1)
        if self._epoch < 0:  # a new spool (or one made before epochs): a new incarnation
            self._epoch = secrets.randbits(63)
            self._set_meta("epoch", self._epoch)
            log.info("spool %s: new incarnation, epoch %s (seqs start at %d)", self.path, self.epoch,
                     self._next_seq)
        if self._depth:
            log.info("spool %s reopened: %d rows, %d bytes waiting, next seq %d",
                     self.path, self._depth, self._bytes, self._next_seq)

    # ------------------------------------------------------------ internals

    def _meta(self, key: str, default: int) -> int:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return int(row[0]) if row else default

    def _set_meta(self, key: str, value: int) -> None:
        self._db.execute("INSERT INTO meta (key, value) VALUES (?, ?) "
                         "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, value))

    def _count_drop(self, mtype: str, n: int = 1) -> None:
        self._dropped[mtype] = self._dropped.get(mtype, 0) + n
        self._set_meta(f"dropped.{mtype}", self._dropped[mtype])

    def _make_room(self, needed: int, drop_class: int) -> bool:
        """Drop rows (class ascending, oldest first, never above ``drop_class``) until ``needed`` fits.

        Returns False when even dropping every eligible row leaves too little room: the new
        message then loses (it is no more valuable than what remains).
        """
        while self._bytes + needed > self.quota_bytes:
            row = self._db.execute(
                "SELECT seq, mtype, nbytes FROM frames WHERE drop_class <= ? ORDER BY drop_class, seq LIMIT 1",
                (drop_class,),
            ).fetchone()
            if row is None:
                return False
            seq, mtype, nbytes = row
            self._db.execute("DELETE FROM frames WHERE seq = ?", (seq,))
            self._bytes -= int(nbytes) + ROW_OVERHEAD_BYTES
            self._depth -= 1
            self._count_drop(mtype)
        return True

    # ------------------------------------------------------------ public API

    def put(self, msg: Message) -> Message:
        """Store ``msg`` under the next seq (its own seq is replaced) and return the stored message.

        The seq is consumed even when the quota forces the message itself to be dropped, so a
        seq is never reused. Returns the message as stored (with its seq); check
        :meth:`contains` if you need to know it was not dropped.
        """
        mtype = msg.TYPE
        drop_class = DROP_CLASS.get(mtype, 2)
        with self._db_lock:
            seq = self._next_seq
            stored = dataclasses.replace(msg, seq=seq)
            blob = pack_frames(stored.to_frames())
            needed = len(blob) + ROW_OVERHEAD_BYTES
            own_txn = not self._in_batch
            if own_txn:
                self._db.execute("BEGIN IMMEDIATE")
            try:
                self._next_seq = seq + 1
                self._set_meta("next_seq", self._next_seq)
                if needed > self.quota_bytes or not self._make_room(needed, drop_class):
                    self._count_drop(mtype.decode())
                    log.warning("spool full (%d of %d bytes): dropped new %s seq %d",
                                self._bytes, self.quota_bytes, mtype.decode(), seq)
                else:
                    self._db.execute(
                        "INSERT INTO frames (seq, mtype, drop_class, nbytes, blob) VALUES (?, ?, ?, ?, ?)",
                        (seq, mtype.decode(), drop_class, len(blob), blob),
                    )
                    self._bytes += needed
                    self._depth += 1
                if own_txn:
                    self._db.execute("COMMIT")
            except BaseException:
                if own_txn:
                    self._db.execute("ROLLBACK")
                    self._reload_counters()
                raise
        if self.on_put is not None:
            self.on_put(stored)
        return stored

    def use_seq_if(self, send: Callable[[int], bool]) -> int | None:
        """Offer the next seq to ``send`` (for messages that are not spooled, e.g. Hello); consume it only
        when ``send`` returns True, so a message that never left leaves no gap. Returns the seq used."""
        with self._db_lock:
            seq = self._next_seq
            if not send(seq):
                return None
            self._next_seq = seq + 1
            self._set_meta("next_seq", self._next_seq)
            return seq

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Commit several :meth:`put` calls as one transaction (one disk sync instead of one per row).

        All or nothing: if the block raises, none of its rows (nor their seqs) are stored.
        """
        with self._db_lock:
            if self._in_batch:  # nested: the outer batch commits
                yield
                return
            self._db.execute("BEGIN IMMEDIATE")
            self._in_batch = True
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                self._dropped = {
                    k.removeprefix("dropped."): v
                    for k, v in self._db.execute("SELECT key, value FROM meta WHERE key LIKE 'dropped.%'")
                }
                self._next_seq = self._meta("next_seq", 0)
                self._reload_counters()
                raise
            else:
                self._db.execute("COMMIT")
            finally:
                self._in_batch = False

    def allocate_seq(self) -> int:
        """Consume one seq without storing a row (for messages that are not spooled, e.g. Hello)."""
        with self._db_lock:
            seq = self._next_seq
            self._next_seq += 1
            self._set_meta("next_seq", self._next_seq)
            return seq

    def _reload_counters(self) -> None:
        row = self._db.execute("SELECT COALESCE(SUM(nbytes), 0), COUNT(*) FROM frames").fetchone()
        self._bytes = int(row[0]) + ROW_OVERHEAD_BYTES * int(row[1])
        self._depth = int(row[1])
        self._next_seq = max(self._meta("next_seq", 0), self._next_seq)

    def pending(self, limit: int, *, exclude: Iterable[int] = (), after_seq: int = -1,
                mtypes: Sequence[str] | None = None) -> list[SpoolRow]:
        """Up to ``limit`` stored rows in seq order, skipping seqs in ``exclude`` (in flight); with
        ``mtypes`` only rows of those message types (an uplink lane), each read through its index."""
        if limit <= 0:
            return []
        skip = set(exclude)
        with self._db_lock:
            if mtypes is None:
                cursors = [self._db.execute("SELECT seq, mtype, blob FROM frames WHERE seq > ? ORDER BY seq",
                                            (after_seq,))]
            else:
                cursors = [self._db.execute("SELECT seq, mtype, blob FROM frames WHERE mtype = ? AND seq > ? "
                                            "ORDER BY seq", (t, after_seq)) for t in mtypes]
            out: list[SpoolRow] = []
            try:
                for seq, mtype, blob in heapq.merge(*cursors, key=lambda r: int(r[0])):
                    if seq in skip:
                        continue
                    out.append(SpoolRow(int(seq), mtype, unpack_frames(blob)))
                    if len(out) >= limit:
                        break
            finally:
                for cur in cursors:
                    cur.close()
        return out

    def ack(self, seqs: Sequence[int]) -> int:
        """Delete acked rows; returns how many were present (acks of unknown seqs are harmless)."""
        if not seqs:
            return 0
        removed = 0
        with self._db_lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for i in range(0, len(seqs), 500):
                    chunk = [int(s) for s in seqs[i : i + 500]]
                    marks = ",".join("?" * len(chunk))
                    row = self._db.execute(
                        f"SELECT COUNT(*), COALESCE(SUM(nbytes), 0) FROM frames WHERE seq IN ({marks})", chunk
                    ).fetchone()
                    self._db.execute(f"DELETE FROM frames WHERE seq IN ({marks})", chunk)
                    removed += int(row[0])
                    self._bytes -= int(row[1]) + ROW_OVERHEAD_BYTES * int(row[0])
                    self._depth -= int(row[0])
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                self._reload_counters()
                raise
        return removed

    def contains(self, seq: int) -> bool:
        """Whether ``seq`` is still stored (not acked and not dropped)."""
        with self._db_lock:
            return self._db.execute("SELECT 1 FROM frames WHERE seq = ?", (int(seq),)).fetchone() is not None

    def stats(self) -> SpoolStats:
        """Depth, bytes, quota, drop counts per type and the next seq."""
        with self._db_lock:
            return SpoolStats(self._depth, self._bytes, self.quota_bytes, dict(self._dropped), self._next_seq)

    @property
    def depth(self) -> int:
        return self._depth

    @property
    def next_seq(self) -> int:
        return self._next_seq

    @property
    def epoch(self) -> str:
        """This spool file's incarnation id (16 hex digits), sent in the sensor's Hello."""
        return f"{self._epoch:016x}"

    def close(self) -> None:
        """Checkpoint and close the database (safe to call twice)."""
        with self._db_lock:
            if self._db is None:
                return
            try:
                self._db.execute("PRAGMA wal_checkpoint(PASSIVE)")
            except sqlite3.DatabaseError:  # pragma: no cover - best effort on shutdown
                log.debug("wal checkpoint failed", exc_info=True)
            self._db.close()
            self._db = None  # type: ignore[assignment]

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
