"""The case history's SHA-256 chain and the case file export (HTML + ZIP with a SHA-256 manifest)."""

from __future__ import annotations

import dataclasses
import hashlib
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from case_testkit import T0, alert_doc

from coordination import cases
from coordination.attachments import AttachmentError, AttachmentStore
from coordination.casebook import CaseDesk, InMemoryCaseRepository
from coordination.casefile import EvidenceFile, check_zip, export_case_file
from coordination.caselog import genesis_hash, verify
from coordination.cases import Actor

JS = Actor("team-js", ("JS",))


def _case(n_notes: int = 4) -> cases.Case:
    desk = CaseDesk(InMemoryCaseRepository())
    c = desk.open(alert_doc(), T0)
    for i in range(n_notes):
        c = desk.act(c.id, lambda c, i=i: cases.add_note(c, f"note {i}", T0 + timedelta(minutes=i + 1), JS))
    return c


def test_intact_chain_verifies_and_links_from_the_genesis() -> None:
    c = _case()
    r = verify(c.id, c.events)
    assert (r.ok, r.bad_seq, r.n_events, r.head_hash) == (True, None, 5, c.head_hash)
    assert c.events[0].prev_hash == genesis_hash(c.id)
    assert all(b.prev_hash == a.hash for a, b in zip(c.events, c.events[1:], strict=False))


def test_an_edited_event_is_the_first_bad_link() -> None:
    c = _case()
    evs = list(c.events)
    evs[2] = dataclasses.replace(evs[2], data={"text": "note 1, edited later"})
    r = verify(c.id, evs)
    assert (r.ok, r.bad_seq) == (False, 3)
    assert "changed after it was written" in r.reason


def test_an_edit_that_rehashes_its_own_event_breaks_the_next_link() -> None:
    from coordination.caselog import event_hash

    c = _case()
    evs = list(c.events)
    forged = dataclasses.replace(evs[1], actor="someone-else")
    evs[1] = dataclasses.replace(forged, hash=event_hash(forged.prev_hash, forged))
    r = verify(c.id, evs)
    assert (r.ok, r.bad_seq) == (False, 3)
    assert "links to" in r.reason


def test_removed_reordered_and_truncated_events_are_found() -> None:
    c = _case()
    evs = list(c.events)
    assert verify(c.id, evs[:2] + evs[3:]).bad_seq == 3
    assert verify(c.id, [evs[0], evs[2], evs[1], *evs[3:]]).bad_seq == 2
    assert verify(c.id, evs[:3]).ok  # a chain alone cannot see a lost tail ...
    r = verify(c.id, evs[:3], expect_head=c.head_hash, expect_n=5)  # ... an exported head can
    assert (r.ok, r.bad_seq) == (False, 4)


def test_an_event_moved_to_another_case_breaks_the_chain() -> None:
    c = _case(1)
    other = dataclasses.replace(c.events[1], case_id="C-000000000000")
    assert not verify("C-000000000000", [other]).ok


def test_case_file_zip_manifest_matches_every_member(tmp_path: Path) -> None:
    store = AttachmentStore(tmp_path / "att")
    photo = bytes(range(256)) * 40
    sha, size = store.put(photo)
    desk = CaseDesk(InMemoryCaseRepository())
    doc = alert_doc()
    c = desk.open(doc, T0)
    c = desk.act(c.id, lambda c: cases.attach(c, "roof.jpg", sha, size, "image/jpeg", T0 + timedelta(minutes=1),
                                             JS))
    capture = tmp_path / "cap.sigmf-meta"
    capture.write_text('{"global": {}}')
    out = export_case_file(c, doc, [EvidenceFile("photos/roof.jpg", store.path(sha), "photo"),
                                    EvidenceFile("captures/cap.sigmf-meta", capture, "SigMF capture")], tmp_path / "x")
    assert out.chain_ok and out.html_path.exists()
    assert check_zip(out.zip_path) == []
    with zipfile.ZipFile(out.zip_path) as z:
        names = set(z.namelist())
        assert {"case.html", "case.json", "alert.json", "MANIFEST.sha256", "evidence/photos/roof.jpg",
                "evidence/captures/cap.sigmf-meta"} == names
        assert hashlib.sha256(z.read("evidence/photos/roof.jpg")).hexdigest() == sha
    assert c.id in out.html_path.read_text() and "verified" in out.html_path.read_text()


def test_check_zip_names_a_changed_member(tmp_path: Path) -> None:
    c = _case(1)
    out = export_case_file(c, alert_doc(), [], tmp_path)
    with zipfile.ZipFile(out.zip_path) as z:
        members = {n: z.read(n) for n in z.namelist()}
    members["case.json"] = members["case.json"].replace(b"note 0", b"note X")
    with zipfile.ZipFile(tmp_path / "edited.zip", "w") as z:
        for n, b in members.items():
            z.writestr(n, b)
    assert check_zip(tmp_path / "edited.zip") == ["case.json"]


def test_evidence_names_cannot_escape_the_evidence_folder(tmp_path: Path) -> None:
    f = tmp_path / "a"
    f.write_bytes(b"x")
    with pytest.raises(ValueError, match="relative path"):
        export_case_file(_case(0), None, [EvidenceFile("../a", f)], tmp_path / "o")


def test_chunked_upload_checks_offsets_and_the_hash(tmp_path: Path) -> None:
    store = AttachmentStore(tmp_path, max_bytes=1000)
    data = bytes(range(200)) * 3
    up = "ab" * 8
    assert store.put_chunk(up, 0, data[:256]) == 256
    with pytest.raises(AttachmentError, match="expected 256"):
        store.put_chunk(up, 0, data[:256])  # a repeated chunk is not glued in twice
    store.put_chunk(up, 256, data[256:])
    with pytest.raises(AttachmentError, match="hash to"):
        store.commit(up, "0" * 64)
    store.put_chunk(up, 0, data)
    sha, size = store.commit(up, hashlib.sha256(data).hexdigest())
    assert (size, store.path(sha).read_bytes()) == (600, data)
    with pytest.raises(AttachmentError, match="larger than"):
        store.put_chunk("cd" * 8, 0, b"x" * 1001)
