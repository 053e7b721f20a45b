"""The server store's idempotence ledger: sequence ranges in memory and in SQLite."""

from __future__ import annotations

import numpy as np

from coordination.store import SeqRanges, Store


def test_seq_ranges_match_a_plain_set_under_random_inserts():
    rng = np.random.default_rng(3)
    r, ref = SeqRanges(), set()
    for s in rng.integers(0, 400, 3000).tolist():
        assert r.add(s) == (s not in ref)
        ref.add(s)
        assert all((x in r) == (x in ref) for x in range(-2, 402, 37))
    assert all((x in r) == (x in ref) for x in range(-1, 401))
    # disjoint, sorted, never adjacent
    assert all(hi + 1 < lo for (_, hi), (lo, _) in zip(r.ranges(), r.ranges()[1:]))
    assert sum(hi - lo + 1 for lo, hi in r.ranges()) == len(ref)


def test_ledger_stays_small_for_consecutive_seqs_and_survives_reopen(tmp_path):
    store = Store(tmp_path / "s.db")
    for start in range(0, 10_000, 500):  # 20 batches, delivered in order
        store.ledger.mark_received([("js-01", q, "spectrum", "") for q in range(start, start + 500)])
        store.commit()
    store.ledger.mark_received([("js-01", q, "emissions", "") for q in (20_005, 20_007)])  # gaps (spool drops)
    store.commit()
    assert store.ledger.received_ranges("js-01") == [(0, 9999), (20_005, 20_005), (20_007, 20_007)]
    store.close()
    store = Store(tmp_path / "s.db")
    assert store.ledger.known_seqs("js-01", [0, 9999, 10_000, 20_005, 20_006]) == {0, 9999, 20_005}
    assert store.ledger.count_received("js-01", "spectrum") == 10_000
    assert store.ledger.count_received("js-01") == 10_002


def test_a_rolled_back_batch_leaves_the_ledger_unchanged(tmp_path):
    store = Store(tmp_path / "s.db")
    store.ledger.mark_received([("js-01", 1, "spectrum", "")])
    store.commit()
    store.ledger.mark_received([("js-01", 2, "spectrum", "")])
    assert store.ledger.known_seqs("js-01", [1, 2]) == {1, 2}  # inside the open batch: 2 is taken
    store.rollback()
    assert store.ledger.known_seqs("js-01", [1, 2]) == {1}
    assert store.ledger.received_ranges("js-01") == [(1, 1)]
    assert store.ledger.count_received("js-01") == 1
