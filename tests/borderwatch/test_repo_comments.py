"""Comments and docs say why, not which ticket: an issue number means nothing to the next reader."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = ("tomlconf", "dsp", "sdr", "coordination", "station_db", "gui", "web", "borderwatch", "tests", "docs",
           "benchmarks", "tools")
#: "issue 9", "issues 2", "issue #12", "(#12)"; a file name such as ``..._issue48.cu8`` is not a citation.
CITATION = re.compile(r"\bissues? #?\d+\b|\(#\d+\)", re.IGNORECASE)


def _texts() -> list[Path]:
    files = [ROOT / "README.md", ROOT / "README.zh-CN.md"]
    for folder in FOLDERS:
        for ext in ("*.py", "*.md", "*.toml"):
            files += (ROOT / folder).rglob(ext)
    here = Path(__file__).resolve()  # its examples are the pattern's own test data
    return sorted(p for p in files if p.is_file() and "__pycache__" not in p.parts and p.resolve() != here)


def test_the_pattern_finds_citations_and_spares_file_names():
    assert CITATION.search("CURVE keys (issue 9)") and CITATION.search("see Issue #12") and CITATION.search("(#7)")
    assert not CITATION.search("wmbus_rtlsdr_868.625M_2M4_issue48.cu8") and not CITATION.search("#2 (PIRATE)")


def test_no_comment_or_doc_cites_an_issue_number():
    found = []
    for path in _texts():
        for n, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if CITATION.search(line):
                found.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()[:100]}")
    assert len(_texts()) > 200
    assert found == [], "say the reason instead of the issue number:\n" + "\n".join(found)
