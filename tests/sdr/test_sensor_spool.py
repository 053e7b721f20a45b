"""Spool: store before send, delete on ack, persistent seq, quota drop order."""

from __future__ import annotations

import numpy as np
import pytest

from coordination.protocol import Emissions, Heartbeat, Spectrum, decode
from sdr.spool import Spool, SpoolError, pack_frames, unpack_frames

T = "2026-11-25T12:00:00.000000Z"


def spectrum(n_bins: int = 256) -> Spectrum:
    return Spectrum("S1", 0, T, profile="p", f_start_hz=100e6, f_step_hz=1e3,
                    power_dbm=np.full(n_bins, -100.0, np.float32))


def emissions() -> Emissions:
    return Emissions("S1", 0, T, profile="p", emissions=())


def test_frames_blob_roundtrip_and_truncation_is_an_error() -> None:
    frames = [b"spectrum", b'{"a":1}', b"", bytes(range(256))]
    assert unpack_frames(pack_frames(frames)) == tuple(frames)
    with pytest.raises(SpoolError, match=r"truncated|needs"):
        unpack_frames(pack_frames(frames)[:-3])


def test_put_assigns_consecutive_seqs_and_rows_decode(tmp_path) -> None:
    with Spool(tmp_path / "s.sqlite") as sp:
        seqs = [sp.put(spectrum()).seq for _ in range(5)]
        assert seqs == [0, 1, 2, 3, 4]
        rows = sp.pending(10)
        assert [r.seq for r in rows] == seqs
        msg = decode(rows[2].frames)
        assert isinstance(msg, Spectrum) and msg.seq == 2 and msg.power_dbm.size == 256


def test_on_put_sees_every_put_with_its_seq_but_not_seqs_used_for_hellos(tmp_path) -> None:
    seen: list[tuple[int, bytes]] = []
    with Spool(tmp_path / "s.sqlite", on_put=lambda m: seen.append((m.seq, m.TYPE))) as sp:
        sp.put(spectrum())
        assert sp.use_seq_if(lambda seq: True) == 1  # a Hello's seq: not spooled, not observed
        with sp.batch():
            sp.put(emissions())
            sp.put(spectrum())
    assert seen == [(0, b"spectrum"), (2, b"emissions"), (3, b"spectrum")]


def test_ack_deletes_and_seq_continues_after_reopen(tmp_path) -> None:
    path = tmp_path / "s.sqlite"
    with Spool(path) as sp:
        for _ in range(10):
            sp.put(heartbeat())
        assert sp.ack([0, 1, 2, 99]) == 3
        assert sp.depth == 7
    with Spool(path) as sp:
        assert sp.depth == 7
        assert [r.seq for r in sp.pending(3)] == [3, 4, 5]
        sp.ack(list(range(10)))
        assert sp.depth == 0 and sp.stats().bytes == 0
    with Spool(path) as sp:  # every row acked and deleted: seq still never reused
        assert sp.put(heartbeat()).seq == 10
        assert sp.allocate_seq() == 11
        assert sp.put(heartbeat()).seq == 12


def heartbeat() -> Heartbeat:
    return Heartbeat("S1", 0, T, health={"cpu": 1.0})


def test_pending_skips_in_flight(tmp_path) -> None:
    with Spool(tmp_path / "s.sqlite") as sp:
        for _ in range(6):
            sp.put(heartbeat())
        assert [r.seq for r in sp.pending(3, exclude={0, 2})] == [1, 3, 4]


def test_quota_drops_oldest_spectra_first_then_heartbeats_emissions_last(tmp_path) -> None:
    def size(m) -> int:
        return len(pack_frames(m.to_frames())) + 64

    quota = 10 * size(spectrum()) + 2 * size(emissions()) + 2 * size(heartbeat()) + 40  # seq digits vary
    with Spool(tmp_path / "s.sqlite", quota_bytes=quota) as sp:
        e = [sp.put(emissions()).seq for _ in range(2)]        # class 2
        h = [sp.put(heartbeat()).seq for _ in range(2)]        # class 1
        s = [sp.put(spectrum()).seq for _ in range(10)]        # class 0, fills the quota
        assert sp.stats().bytes <= sp.quota_bytes and not sp.stats().dropped
        # Three more spectra: the three oldest spectra go, nothing else.
        s2 = [sp.put(spectrum()).seq for _ in range(3)]
        st = sp.stats()
        assert st.dropped == {"spectrum": 3}
        assert not any(sp.contains(q) for q in s[:3]) and all(sp.contains(q) for q in s[3:] + s2)
        assert all(sp.contains(q) for q in e + h)
        # Large emissions now force rows out; record the order in which stored seqs disappear.
        big = Emissions("S1", 0, T, profile="p" * 60, emissions=tuple(
            {k: 1.0 for k in ("center_hz", "peak_hz", "peak_dbm", "power_dbm", "bandwidth_xdb_hz", "obw_hz",
                              "snr_db", "f_lo_hz", "f_hi_hz")} for _ in range(12)))
        alive = s[3:] + s2 + h + e  # the expected drop order (ties within one put resolved by it)
        gone: list[int] = []
        for _ in range(12):
            sp.put(big)
            gone += [q for q in alive if not sp.contains(q) and q not in gone]
            assert sp.stats().bytes <= sp.quota_bytes
        spectra = s[3:] + s2
        assert gone[: len(spectra)] == spectra, "every spectrum goes first, oldest first"
        assert gone[len(spectra) : len(spectra) + 2] == h, "then heartbeats"
        assert gone[len(spectra) + 2 :] == e[: len(gone) - len(spectra) - 2], "emissions last, oldest first"
        assert len(gone) == len(alive)
        assert sp.stats().dropped["spectrum"] == 13 and sp.stats().dropped["heartbeat"] == 2


def test_new_spectrum_is_dropped_when_only_emissions_remain(tmp_path) -> None:
    one = len(pack_frames(spectrum().to_frames())) + 64
    with Spool(tmp_path / "s.sqlite", quota_bytes=one) as sp:
        big = Emissions("S1", 0, T, profile="p", emissions=tuple(
            {k: 1.0 for k in ("center_hz", "peak_hz", "peak_dbm", "power_dbm", "bandwidth_xdb_hz", "obw_hz",
                              "snr_db", "f_lo_hz", "f_hi_hz")} for _ in range(3)))
        q = sp.put(big).seq
        s = sp.put(spectrum()).seq
        assert sp.contains(q) and not sp.contains(s)
        assert sp.stats().dropped == {"spectrum": 1}
        assert sp.put(heartbeat()).seq == s + 1  # the dropped message still consumed its seq


def test_drop_counts_persist(tmp_path) -> None:
    path = tmp_path / "s.sqlite"
    one = len(pack_frames(spectrum().to_frames())) + 64
    with Spool(path, quota_bytes=2 * one) as sp:
        for _ in range(5):
            sp.put(spectrum())
        assert sp.stats().dropped == {"spectrum": 3}
    with Spool(path, quota_bytes=2 * one) as sp:
        assert sp.stats().dropped == {"spectrum": 3} and sp.depth == 2


def test_not_a_database_is_a_spool_error(tmp_path) -> None:
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(SpoolError, match=r"bad\.sqlite"):
        Spool(bad)


def test_batch_commits_together_and_rolls_back_as_a_whole(tmp_path) -> None:
    path = tmp_path / "s.sqlite"
    with Spool(path) as sp:
        with sp.batch():
            a = sp.put(spectrum()).seq
            b = sp.put(emissions()).seq
        assert (a, b) == (0, 1) and sp.depth == 2
        with pytest.raises(RuntimeError), sp.batch():
            sp.put(spectrum())
            raise RuntimeError("sweep failed half way")
        assert sp.depth == 2 and sp.stats().bytes == sum(
            len(pack_frames(r.frames)) + 64 for r in sp.pending(10))
    with Spool(path) as sp:
        assert sp.depth == 2 and sp.put(heartbeat()).seq == 2
